//! A port of Incus's `GetCandidateMembers` that says why each other member is not a candidate.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::{ClusterMember, MemberStatus, Project, SchedulerMode};
use crate::Snapshot;

/// What the candidate list depends on.
#[derive(Debug, Clone, Default)]
pub struct CandidateQuery<'a> {
    /// The project the instance will belong to; its `restricted.cluster.groups` applies.
    pub project: Option<&'a Project>,
    /// A requested `@group` target, without the `@`.
    pub group: Option<&'a str>,
    /// Architectures the instance can run on; `None`: no architecture filter.
    pub architectures: Option<Vec<String>>,
}

/// Why a member is not a candidate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Exclusion {
    /// Not `Online` (or `Blocked`): offline, evacuated, evacuating, restoring.
    Status { status: MemberStatus },
    /// `scheduler.instance=manual`: only explicit targets.
    SchedulerManual,
    /// `scheduler.instance=group`: only targets naming one of its groups.
    SchedulerGroup,
    /// Outside the requested `@group`.
    NotInGroup { group: String },
    /// In none of the project's `restricted.cluster.groups`.
    NotInProjectGroups { project: String, groups: Vec<String> },
    /// Rebalancing only moves instances to members less loaded than their own.
    NotLessLoaded {
        instances: usize,
        source_instances: usize,
    },
    /// Cannot run any of the instance's architectures.
    Architecture {
        architecture: String,
        required: Vec<String>,
    },
}

impl fmt::Display for Exclusion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exclusion::Status { status } => write!(f, "status is {status}"),
            Exclusion::SchedulerManual => f.write_str("scheduler.instance=manual"),
            Exclusion::SchedulerGroup => {
                f.write_str("scheduler.instance=group and no group of it was targeted")
            }
            Exclusion::NotInGroup { group } => write!(f, "not in @{group}"),
            Exclusion::NotInProjectGroups { project, groups } => {
                write!(
                    f,
                    "not in project {project}'s restricted.cluster.groups ({})",
                    groups.join(", ")
                )
            }
            Exclusion::NotLessLoaded {
                instances,
                source_instances,
            } => {
                write!(
                    f,
                    "has {instances} instances, not fewer than the source's {source_instances}"
                )
            }
            Exclusion::Architecture {
                architecture,
                required,
            } => {
                write!(
                    f,
                    "architecture {architecture} cannot run {}",
                    required.join(" or ")
                )
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidates {
    /// Candidate names, fewest instances first (pending creations count), as Incus sorts them.
    pub members: Vec<String>,
    /// Every other member with the first rule that excluded it, in snapshot order.
    pub excluded: Vec<(String, Exclusion)>,
}

/// Architectures a member of `architecture` can also run (`shared/osarch` personalities).
fn personalities(architecture: &str) -> &'static [&'static str] {
    match architecture {
        "x86_64" => &["i686"],
        "aarch64" => &["armv6l", "armv7l", "armv8l"],
        "ppc64" => &["ppc"],
        "mips64" => &["mips"],
        _ => &[],
    }
}

/// `project_groups`: the query's project's `restricted.cluster.groups`, read once per query.
fn exclusion(member: &ClusterMember, query: &CandidateQuery, project_groups: &[String]) -> Option<Exclusion> {
    if !member.status.takes_instances() {
        return Some(Exclusion::Status {
            status: member.status.clone(),
        });
    }
    match member.scheduler() {
        SchedulerMode::Manual => return Some(Exclusion::SchedulerManual),
        SchedulerMode::Group if !query.group.is_some_and(|group| member.in_group(group)) => {
            return Some(Exclusion::SchedulerGroup)
        }
        _ => {}
    }
    if let Some(group) = query.group {
        if !member.in_group(group) {
            return Some(Exclusion::NotInGroup {
                group: group.to_owned(),
            });
        }
    }
    if let Some(project) = query.project {
        if !project_groups.is_empty() && !project_groups.iter().any(|group| member.in_group(group)) {
            return Some(Exclusion::NotInProjectGroups {
                project: project.name.clone(),
                groups: project_groups.to_vec(),
            });
        }
    }
    if let Some(required) = &query.architectures {
        let runs = std::iter::once(member.architecture.as_str())
            .chain(personalities(&member.architecture).iter().copied())
            .any(|architecture| required.iter().any(|r| r == architecture));
        if !runs {
            return Some(Exclusion::Architecture {
                architecture: member.architecture.clone(),
                required: required.clone(),
            });
        }
    }
    None
}

/// The members Incus would offer the scriptlet (and place on), and why the others are not.
pub fn candidates(snapshot: &Snapshot, query: &CandidateQuery) -> Candidates {
    let counts = snapshot.instance_counts();
    candidates_by_load(snapshot, query, |member| counts.get(member).copied().unwrap_or(0))
}

/// [`candidates`] with each member's instance count from the caller: a simulation keeps its
/// instances indexed by member, and counting 20,000 instances per call would cost more than
/// the scriptlet call itself.
pub fn candidates_by_load(
    snapshot: &Snapshot,
    query: &CandidateQuery,
    instances_on: impl Fn(&str) -> usize,
) -> Candidates {
    // Incus orders by `GetInstancesCount(member, pending)`: creations under way and those
    // finished within 5 s (`Operation::counts_as_pending_create`).
    let mut pending: BTreeMap<&str, usize> = BTreeMap::new();
    for operation in snapshot
        .operations
        .iter()
        .filter(|operation| operation.counts_as_pending_create())
    {
        *pending.entry(operation.location.as_str()).or_default() += 1;
    }
    let load = |member: &str| instances_on(member) + pending.get(member).copied().unwrap_or(0);
    let mut members = Vec::new();
    let mut excluded = Vec::new();
    let project_groups = query
        .project
        .map(|project| project.restrictions().cluster_groups)
        .unwrap_or_default();
    for member in &snapshot.members {
        match exclusion(member, query, &project_groups) {
            Some(reason) => excluded.push((member.server_name.clone(), reason)),
            None => members.push(member.server_name.clone()),
        }
    }
    // Incus sorts with sort.Slice, which does not keep ties in order; name order is Berth's
    // choice for ties, so the same snapshot always gives the same list.
    members.sort_by_cached_key(|name| (load(name), name.clone()));
    Candidates { members, excluded }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::demo_snapshot;
    use crate::model::Operation;

    fn reasons(candidates: &Candidates) -> BTreeMap<&str, String> {
        candidates
            .excluded
            .iter()
            .map(|(name, reason)| (name.as_str(), reason.to_string()))
            .collect()
    }

    #[test]
    fn every_rule_excludes_its_member_with_the_reason() {
        let snapshot = demo_snapshot();
        let x86 = Some(vec!["x86_64".to_owned()]);
        let result = candidates(
            &snapshot,
            &CandidateQuery {
                architectures: x86.clone(),
                ..Default::default()
            },
        );
        let reasons = reasons(&result);
        assert_eq!(reasons["hv-a03"], "status is Evacuated");
        assert_eq!(reasons["hv-b04"], "status is Offline");
        assert_eq!(reasons["hv-b05"], "scheduler.instance=manual");
        assert_eq!(
            reasons["hv-e03"],
            "scheduler.instance=group and no group of it was targeted"
        );
        assert_eq!(reasons["hv-e04"], "architecture aarch64 cannot run x86_64");
        assert_eq!(
            result.members.len() + result.excluded.len(),
            snapshot.members.len()
        );
    }

    #[test]
    fn project_groups_and_group_targets_narrow_the_list() {
        let snapshot = demo_snapshot();
        let ci = snapshot.project("ci").unwrap();
        let result = candidates(
            &snapshot,
            &CandidateQuery {
                project: Some(ci),
                ..Default::default()
            },
        );
        assert!(
            result.members.iter().all(|m| m.starts_with("hv-b")),
            "{:?}",
            result.members
        );
        assert_eq!(
            reasons(&result)["hv-a01"],
            "not in project ci's restricted.cluster.groups (rack-b)"
        );
        let edge = candidates(
            &snapshot,
            &CandidateQuery {
                group: Some("edge"),
                ..Default::default()
            },
        );
        assert_eq!(
            edge.members.len(),
            4,
            "group-scheduled hv-e03 is a candidate when edge is targeted"
        );
        assert_eq!(reasons(&edge)["hv-a01"], "not in @edge");
    }

    #[test]
    fn candidates_come_least_loaded_first_counting_pending_creations() {
        let snapshot = demo_snapshot();
        let result = candidates(&snapshot, &CandidateQuery::default());
        let mut load = snapshot.instance_counts();
        for operation in &snapshot.operations {
            *load.entry(operation.location.as_str()).or_default() += 1;
        }
        let counts: Vec<usize> = result
            .members
            .iter()
            .map(|m| load.get(m.as_str()).copied().unwrap_or(0))
            .collect();
        assert!(counts.windows(2).all(|pair| pair[0] <= pair[1]), "{counts:?}");
    }

    /// Incus orders by `GetInstancesCount(member, pending)`, which counts a create for 5 s after
    /// it finished (issue 20): the least loaded member falls behind the next once the creates
    /// it just finished are counted again.
    #[test]
    fn creates_that_just_finished_count_in_the_order() {
        let mut snapshot = demo_snapshot();
        let before = candidates(&snapshot, &CandidateQuery::default()).members;
        let (first, second) = (before[0].clone(), before[1].clone());
        let load = |snapshot: &Snapshot, member: &str| {
            snapshot.instance_counts().get(member).copied().unwrap_or(0)
                + snapshot
                    .operations
                    .iter()
                    .filter(|operation| operation.location == member)
                    .count()
        };
        let behind = load(&snapshot, &second) - load(&snapshot, &first) + 1;
        let finished = Operation {
            description: "Creating instance".into(),
            status: "Success".into(),
            location: first.clone(),
            ..Operation::default()
        };
        snapshot.operations.extend(std::iter::repeat_n(finished, behind));
        let after = candidates(&snapshot, &CandidateQuery::default()).members;
        assert_eq!(after[0], second);
        assert!(after.iter().position(|m| *m == first) > Some(0), "{after:?}");
    }

    #[test]
    fn personalities_let_64_bit_members_run_32_bit_instances() {
        let snapshot = demo_snapshot();
        let armv7 = candidates(
            &snapshot,
            &CandidateQuery {
                architectures: Some(vec!["armv7l".into()]),
                ..Default::default()
            },
        );
        assert_eq!(armv7.members, vec!["hv-e04"]);
    }
}
