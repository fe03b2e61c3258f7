//! An input's bytes read as one placement call, with `arbitrary::Unstructured`: each choice
//! takes a byte or two, and bytes run out as the first choice (or nothing), so the empty input
//! is the simplest call: a `new` container in the first project, on every candidate.
//!
//! The choices, in the order read (structure first, details last, so that cutting bytes off
//! the end simplifies details first):
//!
//! 1. the Incus version and a reason it sends (`rebalance` on 7.x only);
//! 2. what the reason is about: for `new` a project, a name, a source (an image of the
//!    project, none, a copy of one of its instances, or on 6.6 the internal copy of a
//!    cross-project move), a type, profiles and a target (any, `@group`, a member); for the
//!    others an existing instance, and for `relocation` a target project and whether the
//!    member is fixed (validation) or chosen among every eligible one;
//! 3. up to two other members offline or evacuated (no longer candidates);
//! 4. up to four config edits of the request: a key the scriptlet names or the snapshot
//!    uses, set to one of the scriptlet's literals, a value the snapshot has, an odd value, or
//!    removed;
//! 5. the candidates passed: every eligible member, one of them, or a subset.
//!
//! The request is the one Incus builds for that reason and version (`simulate::request`
//! for existing instances; profiles expanded as `instances_post.go` does for `new`); a
//! choice Incus would refuse before calling the scriptlet (a missing profile, no eligible
//! member, a fixed member on a version that skips the call) decodes to no call at all.

use std::collections::BTreeMap;

use arbitrary::Unstructured;

use super::domain::{Domain, ProjectChoice};
use crate::cases::DirectCall;
use crate::engine::{InstanceSource, PlacementRequest};
use crate::model::{expand_profiles, Instance, MemberStatus};
use crate::placement::{candidates_by_load, CandidateQuery};
use crate::simulate::{existing_instance_request, relocation_request, BehaviourProfile};
use crate::Snapshot;

/// The call `genome` reads as on `snapshot` (the one `domain` was built from); `None` when
/// Incus would make no call for it.
pub fn decode(domain: &Domain, snapshot: &Snapshot, genome: &[u8]) -> Option<DirectCall> {
    let mut input = Unstructured::new(genome);
    let u = &mut input;
    let version_index = pick(u, domain.versions.len())?;
    let profile = BehaviourProfile::of(domain.versions[version_index]);
    let reasons = if profile.has_rebalance() { 4 } else { 3 };
    let mut draft = match pick(u, reasons)? {
        0 => new_instance(u, domain, snapshot, profile)?,
        1 => relocation(u, domain, snapshot, profile)?,
        2 => existing(u, domain, snapshot, "evacuation")?,
        _ => existing(u, domain, snapshot, "rebalance")?,
    };
    draft.call.incus_version = Some(domain.version_names[version_index].clone());

    for _ in 0..range(u, 2) {
        let member = &domain.members[pick(u, domain.members.len())?];
        let status = if flag(u) {
            MemberStatus::Evacuated
        } else {
            MemberStatus::Offline
        };
        if Some(member) != draft.call.runs_on.as_ref() && !draft.call.member_status.contains_key(member) {
            draft.call.member_status.insert(member.clone(), status);
        }
    }
    let away = &draft.call.member_status;
    draft
        .eligible
        .retain(|member| away.get(member).is_none_or(MemberStatus::takes_instances));

    for _ in 0..range(u, 4) {
        edit_config(u, domain, &mut draft.call.request);
    }

    let eligible = std::mem::take(&mut draft.eligible);
    draft.call.candidates = match range(u, 2) {
        0 => eligible,
        1 => {
            let one = pick(u, eligible.len())?;
            vec![eligible[one].clone()]
        }
        _ => {
            let chosen: Vec<String> = eligible.iter().filter(|_| flag(u)).cloned().collect();
            if chosen.is_empty() {
                eligible.into_iter().take(1).collect()
            } else {
                chosen
            }
        }
    };
    (!draft.call.candidates.is_empty()).then_some(draft.call)
}

/// A call being decoded: the members Incus would offer, before the subset is chosen.
struct Draft {
    call: DirectCall,
    eligible: Vec<String>,
}

fn draft(request: PlacementRequest, eligible: Vec<String>, runs_on: String) -> Draft {
    Draft {
        call: DirectCall {
            incus_version: None,
            request,
            candidates: Vec::new(),
            runs_on: Some(runs_on),
            member_status: BTreeMap::new(),
        },
        eligible,
    }
}

/// An index below `len` (`None` when there is nothing to pick from).
fn pick(u: &mut Unstructured, len: usize) -> Option<usize> {
    u.choose_index(len).ok()
}

/// A number from 0 to `max`.
fn range(u: &mut Unstructured, max: u32) -> u32 {
    u.int_in_range(0..=max).unwrap_or(0)
}

fn flag(u: &mut Unstructured) -> bool {
    u.arbitrary::<bool>().unwrap_or(false)
}

/// Eligible members, least loaded first (Incus's order), as `GetCandidateMembers` has them.
fn eligible(domain: &Domain, snapshot: &Snapshot, query: &CandidateQuery) -> Vec<String> {
    candidates_by_load(snapshot, query, |member| {
        domain.loads.get(member).copied().unwrap_or(0)
    })
    .members
}

fn new_instance(
    u: &mut Unstructured,
    domain: &Domain,
    snapshot: &Snapshot,
    profile: BehaviourProfile,
) -> Option<Draft> {
    let choice = &domain.projects[pick(u, domain.projects.len())?];
    let project = &choice.project;
    let name = instance_name(u, domain);
    let mut source = InstanceSource::default();
    let mut architecture = String::new();
    let mut instance_type = None;
    let mut image_profiles = None;
    let mut fixed_member = None;
    let mut own_config = BTreeMap::new();
    match range(u, 3) {
        0 if !choice.images.is_empty() => {
            let image = &choice.images[pick(u, choice.images.len())?];
            source.source_type = "image".into();
            match image.aliases.first() {
                Some(alias) if flag(u) => source.alias = alias.name.clone(),
                _ => source.fingerprint = image.fingerprint.clone(),
            }
            architecture = image.architecture.clone();
            if !image.profiles.is_empty() {
                image_profiles = Some(image.profiles.clone());
            }
        }
        2 if !choice.instances.is_empty() => {
            let copied = &snapshot.instances[choice.instances[pick(u, choice.instances.len())?]];
            copy_source(&mut source, copied, &mut own_config);
            instance_type = Some(copied.instance_type.clone());
            architecture = copied.architecture.clone();
        }
        // 6.6's second call of a cross-project move: the internal copy arrives as a `new`
        // call in the target project, for the instance's own member only.
        3 if profile.second_call_from_internal_copy() => {
            let copied = &snapshot.instances[*domain.instances.get(pick(u, domain.instances.len())?)?];
            copy_source(&mut source, copied, &mut own_config);
            instance_type = Some(copied.instance_type.clone());
            architecture = copied.architecture.clone();
            fixed_member = Some(copied.location.clone());
        }
        _ => source.source_type = "none".into(),
    }
    let instance_type = instance_type.unwrap_or_else(|| {
        if flag(u) {
            "virtual-machine".into()
        } else {
            "container".into()
        }
    });
    let profiles: Vec<String> = match range(u, 3) {
        0 => image_profiles.unwrap_or_else(|| vec!["default".into()]),
        1 => vec!["default".into()],
        2 => choice.profiles.iter().filter(|_| flag(u)).cloned().collect(),
        _ => Vec::new(),
    };
    let (config, devices) = expand_profiles(
        &snapshot.profiles,
        project.profile_project(),
        &profiles,
        &own_config,
        &BTreeMap::new(),
    )
    .ok()?;
    let mut group = None;
    match range(u, 2) {
        1 if !domain.groups.is_empty() => group = Some(domain.groups[pick(u, domain.groups.len())?].clone()),
        2 if fixed_member.is_none() => {
            fixed_member = Some(domain.members[pick(u, domain.members.len())?].clone())
        }
        _ => {}
    }
    let architectures = (!architecture.is_empty()).then(|| vec![architecture.clone()]);
    let eligible = match &fixed_member {
        // Before 6.6 a member target skips the scriptlet.
        Some(_) if !profile.calls_for_fixed_member() => return None,
        Some(member) => vec![member.clone()],
        None => eligible(
            domain,
            snapshot,
            &CandidateQuery {
                project: Some(project),
                group: group.as_deref(),
                architectures,
            },
        ),
    };
    let runs_on = runs_on(u, domain);
    let request = PlacementRequest {
        reason: "new".into(),
        project: project.name.clone(),
        name,
        instance_type,
        architecture,
        config,
        devices,
        profiles,
        ephemeral: flag(u),
        source,
        ..PlacementRequest::default()
    };
    Some(draft(request, eligible, runs_on))
}

fn copy_source(source: &mut InstanceSource, copied: &Instance, config: &mut BTreeMap<String, String>) {
    source.source_type = "copy".into();
    source.source = copied.name.clone();
    source.project = copied.project.clone();
    config.extend(
        copied
            .config
            .iter()
            .filter(|(key, _)| !key.starts_with("volatile."))
            .map(|(key, value)| (key.clone(), value.clone())),
    );
}

/// Creates arrive at the member the snapshot was taken from, or at any other.
fn runs_on(u: &mut Unstructured, domain: &Domain) -> String {
    if flag(u) {
        if let Some(index) = pick(u, domain.members.len()) {
            return domain.members[index].clone();
        }
    }
    domain.server_name.clone()
}

/// A valid instance name: a fresh one, one built on a literal of the scriptlet, one another
/// project uses, or an unusual one.
fn instance_name(u: &mut Unstructured, domain: &Domain) -> String {
    let number = u.arbitrary::<u8>().unwrap_or(0);
    match range(u, 3) {
        1 if !domain.literals.is_empty() => {
            let literal = &domain.literals[pick(u, domain.literals.len()).unwrap_or(0)];
            let prefix: String = literal
                .to_ascii_lowercase()
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
                .take(50)
                .collect();
            let prefix = prefix.trim_start_matches(|c: char| !c.is_ascii_alphabetic());
            if prefix.is_empty() {
                format!("x{number}")
            } else if prefix.ends_with('-') {
                format!("{prefix}{number}")
            } else {
                format!("{prefix}-{number}")
            }
        }
        2 => ["a", "x-1", "db-01-replica-000", &"x".repeat(63)][usize::from(number % 4)].to_owned(),
        _ => format!("fuzz-{number}"),
    }
}

fn instance<'s>(u: &mut Unstructured, domain: &Domain, snapshot: &'s Snapshot) -> Option<&'s Instance> {
    let index = *domain.instances.get(pick(u, domain.instances.len())?)?;
    snapshot.instances.get(index)
}

fn project_of<'d>(domain: &'d Domain, name: &str) -> Option<&'d ProjectChoice> {
    domain.projects.iter().find(|choice| choice.project.name == name)
}

fn relocation(
    u: &mut Unstructured,
    domain: &Domain,
    snapshot: &Snapshot,
    profile: BehaviourProfile,
) -> Option<Draft> {
    let instance = instance(u, domain, snapshot)?;
    let target_project = match range(u, 1) {
        0 => instance.project.clone(),
        _ => domain.projects[pick(u, domain.projects.len())?]
            .project
            .name
            .clone(),
    };
    let request_project = if profile.relocation_uses_target_project() {
        target_project.clone()
    } else {
        instance.project.clone()
    };
    let request = relocation_request(profile, snapshot, instance, &request_project, &target_project).ok()?;
    let target = &project_of(domain, &target_project)?.project;
    let architectures = (!instance.architecture.is_empty()).then(|| vec![instance.architecture.clone()]);
    let eligible = match range(u, 2) {
        // The member is fixed: the current one, or an explicit `--target`. Incus only
        // validates then (one candidate); before 6.6 it does not call at all.
        0 | 1 if !profile.calls_for_fixed_member() => return None,
        0 => vec![instance.location.clone()],
        1 => vec![domain.members[pick(u, domain.members.len())?].clone()],
        _ => {
            let group = match range(u, 1) {
                1 if !domain.groups.is_empty() => Some(domain.groups[pick(u, domain.groups.len())?].as_str()),
                _ => None,
            };
            eligible(
                domain,
                snapshot,
                &CandidateQuery {
                    project: Some(target),
                    group,
                    architectures,
                },
            )
        }
    };
    Some(draft(request, eligible, instance.location.clone()))
}

/// An evacuation (run on the evacuated member, which is no candidate) or a rebalance (run on
/// the leader, the source member no candidate).
fn existing(u: &mut Unstructured, domain: &Domain, snapshot: &Snapshot, reason: &str) -> Option<Draft> {
    let instance = instance(u, domain, snapshot)?;
    let project = &project_of(domain, &instance.project)?.project;
    let group = instance.config.get("volatile.cluster.group").cloned();
    let architectures = (!instance.architecture.is_empty()).then(|| vec![instance.architecture.clone()]);
    let mut eligible = eligible(
        domain,
        snapshot,
        &CandidateQuery {
            project: Some(project),
            group: group.as_deref(),
            architectures,
        },
    );
    eligible.retain(|member| *member != instance.location);
    let request = existing_instance_request(instance, reason);
    if reason == "evacuation" {
        let mut draft = draft(request, eligible, instance.location.clone());
        draft
            .call
            .member_status
            .insert(instance.location.clone(), MemberStatus::Evacuating);
        Some(draft)
    } else {
        Some(draft(request, eligible, domain.server_name.clone()))
    }
}

/// Sets or removes one config key of the request.
fn edit_config(u: &mut Unstructured, domain: &Domain, request: &mut PlacementRequest) {
    let Some(index) = pick(u, domain.keys.len()) else {
        return;
    };
    let key = &domain.keys[index];
    let value = match range(u, 9) {
        0..=3 if !domain.literals.is_empty() => {
            domain.literals[pick(u, domain.literals.len()).unwrap_or(0)].clone()
        }
        4..=6 if !key.values.is_empty() => key.values[pick(u, key.values.len()).unwrap_or(0)].clone(),
        9 => {
            request.config.remove(&key.key);
            return;
        }
        _ => domain.odd[pick(u, domain.odd.len()).unwrap_or(0)].clone(),
    };
    request.config.insert(key.key.clone(), value);
}
