//! Impact replays on the demo snapshot: exactly the changed instances, no change between identical
//! revisions, new and vanished errors, scopes, evacuations, and the work split changing nothing.

use std::collections::BTreeSet;

use super::*;
use crate::demo::demo_snapshot;
use crate::engine::{compile, IncusVersion, Limits, Scriptlet};
use crate::simulate::Mode;

/// The first candidate outside the `nvme` group (else Incus's default).
const AVOID_NVME: &str = r#"
def instance_placement(request, candidate_members):
    others = [m.server_name for m in candidate_members if "nvme" not in m.groups]
    if others:
        set_target(others[0])
"#;

/// As [`AVOID_NVME`], except that `user.app=api` goes to the first `nvme` member.
const API_ON_NVME: &str = r#"
def instance_placement(request, candidate_members):
    nvme = [m.server_name for m in candidate_members if "nvme" in m.groups]
    others = [m.server_name for m in candidate_members if "nvme" not in m.groups]
    if request.config.get("user.app", "") == "api" and nvme:
        set_target(nvme[0])
    elif others:
        set_target(others[0])
"#;

/// As [`AVOID_NVME`], except that it refuses `user.app=cache`.
const NO_CACHE: &str = r#"
def instance_placement(request, candidate_members):
    if request.config.get("user.app", "") == "cache":
        fail("cache instances are frozen: " + request.name)
    others = [m.server_name for m in candidate_members if "nvme" not in m.groups]
    if others:
        set_target(others[0])
"#;

fn compiled(source: &str) -> Scriptlet {
    compile(source, IncusVersion::DEFAULT, &Limits::default(), &|| false)
        .unwrap()
        .unwrap()
}

/// The whole replay in one process: every shard of `size` instances, added up.
fn replay(from: &str, to: &str, scenario: Scenario, scope: Scope, size: usize) -> Impact {
    let mut snapshot = demo_snapshot();
    let mut cluster = PreparedCluster::new(&snapshot);
    let (from, to) = (compiled(from), compiled(to));
    let from = Simulator::new(Some(&from), IncusVersion::DEFAULT, Mode::Upstream);
    let to = Simulator::new(Some(&to), IncusVersion::DEFAULT, Mode::Upstream);
    let mut impact = Impact::new(&snapshot, scenario, scope.clone());
    for shard in shards(&snapshot, &scope, scenario, size) {
        impact.add(replay_shard(
            &from,
            &to,
            &mut snapshot,
            &mut cluster,
            scenario,
            &shard,
        ));
    }
    impact
}

fn labelled(app: &str) -> BTreeSet<String> {
    demo_snapshot()
        .instances
        .iter()
        .filter(|i| i.expanded_config.get("user.app").map(String::as_str) == Some(app))
        .map(|i| format!("{}/{}", i.project, i.name))
        .collect()
}

fn in_nvme(member: &str) -> bool {
    let snapshot = demo_snapshot();
    snapshot
        .member(member)
        .is_some_and(|m| m.groups.iter().any(|g| g == "nvme"))
}

#[test]
fn a_revision_that_sends_one_label_elsewhere_lists_exactly_those_instances() {
    let impact = replay(AVOID_NVME, API_ON_NVME, Scenario::New, Scope::All, 64);
    assert_eq!(impact.instances, demo_snapshot().instances.len());
    let changed: BTreeSet<String> = impact.changed.iter().map(|c| c.instance.clone()).collect();
    let api = labelled("api");
    assert!(!api.is_empty());
    assert_eq!(changed, api);
    for change in &impact.changed {
        let (from, to) = (
            change.from.member.as_deref().unwrap(),
            change.to.member.as_deref().unwrap(),
        );
        assert!(
            !in_nvme(from) && in_nvme(to),
            "{}: {from} → {to}",
            change.instance
        );
        assert!(change.from.candidates.contains(&to.to_owned()));
        assert_eq!(
            change.from.candidates, change.to.candidates,
            "one cluster, one candidate list"
        );
    }
    assert_eq!(impact.new_errors, 0);
    assert_eq!(
        impact.summary(),
        format!("320 instances, {} changed, 0 new errors", api.len())
    );

    // Load: the same instances counted, moved from non-nvme members onto nvme ones.
    let total = |pick: fn(&MemberLoad) -> usize| impact.load.iter().map(pick).sum::<usize>();
    assert_eq!(total(|l| l.current), 320);
    assert_eq!(total(|l| l.from), 320);
    assert_eq!(total(|l| l.to), 320);
    let nvme_gain: usize = impact
        .load
        .iter()
        .filter(|l| in_nvme(&l.member))
        .map(|l| l.to - l.from)
        .sum();
    assert_eq!(nvme_gain, api.len());
}

#[test]
fn the_shard_size_changes_nothing_but_the_work_split() {
    let whole = replay(AVOID_NVME, API_ON_NVME, Scenario::New, Scope::All, 1_000);
    let split = replay(AVOID_NVME, API_ON_NVME, Scenario::New, Scope::All, 7);
    assert_eq!(whole, split);
}

#[test]
fn identical_revisions_change_nothing() {
    for scenario in [Scenario::New, Scenario::Evacuation] {
        let impact = replay(API_ON_NVME, API_ON_NVME, scenario, Scope::All, 50);
        assert!(impact.instances > 300, "{scenario}: {}", impact.instances);
        assert!(
            impact.changed.is_empty(),
            "{scenario}: {:?}",
            impact.changed.first()
        );
        assert_eq!(impact.new_errors, 0);
        assert!(impact.load.iter().all(|l| l.from == l.to));
    }
}

#[test]
fn an_error_only_some_instances_meet_is_counted_as_new_errors() {
    let impact = replay(AVOID_NVME, NO_CACHE, Scenario::New, Scope::All, 64);
    let cache = labelled("cache");
    assert!(!cache.is_empty());
    assert_eq!(impact.new_errors, cache.len());
    assert_eq!(impact.vanished_errors, 0);
    let changed: BTreeSet<String> = impact.changed.iter().map(|c| c.instance.clone()).collect();
    assert_eq!(changed, cache);
    for change in &impact.changed {
        let error = change.to.error.as_deref().unwrap();
        assert!(error.contains("cache instances are frozen"), "{error}");
        assert!(change.error_appears());
    }
    // Backwards, the same errors vanish.
    let back = replay(NO_CACHE, AVOID_NVME, Scenario::New, Scope::All, 64);
    assert_eq!((back.new_errors, back.vanished_errors), (0, cache.len()));
}

#[test]
fn a_scope_replays_only_its_instances() {
    let snapshot = demo_snapshot();
    let label = Scope::Label {
        key: "app".into(),
        value: "api".into(),
    };
    let impact = replay(AVOID_NVME, API_ON_NVME, Scenario::New, label, 64);
    assert_eq!(impact.instances, labelled("api").len());
    assert_eq!(impact.changed.len(), labelled("api").len());

    let project = replay(
        AVOID_NVME,
        API_ON_NVME,
        Scenario::New,
        "project=ci".parse().unwrap(),
        64,
    );
    assert_eq!(
        project.instances,
        snapshot.instances.iter().filter(|i| i.project == "ci").count()
    );
    assert!(project.changed.is_empty(), "no api instance in ci");
}

#[test]
fn an_evacuation_replays_a_members_instances_as_incus_evacuates_them() {
    let snapshot = demo_snapshot();
    let member = snapshot
        .members
        .iter()
        .filter(|m| m.status == crate::model::MemberStatus::Online && m.groups.iter().all(|g| g != "nvme"))
        .max_by_key(|m| {
            snapshot
                .instances
                .iter()
                .filter(|i| i.location == m.server_name)
                .count()
        })
        .unwrap()
        .server_name
        .clone();
    let on_member = snapshot.instances.iter().filter(|i| i.location == member).count();
    let scope = Scope::Member(member.clone());
    let impact = replay(AVOID_NVME, API_ON_NVME, Scenario::Evacuation, scope, 64);
    assert_eq!(impact.instances, on_member);
    let evacuated = impact.load.iter().find(|l| l.member == member).unwrap();
    assert_eq!(evacuated.current, on_member);
    // Every instance leaves the member under both revisions (none fails here).
    assert_eq!((evacuated.from, evacuated.to), (0, 0));
    for change in &impact.changed {
        assert_ne!(
            change.from.candidates.iter().find(|c| **c == member),
            Some(&member)
        );
        assert!(in_nvme(change.to.member.as_deref().unwrap()), "{change:?}");
    }
}

#[test]
fn scopes_and_scenarios_read_and_print_alike() {
    for text in [
        "all",
        "project=web",
        "member=hv-a01",
        "label=user.app=api",
        "label=app=",
    ] {
        let scope: Scope = text.parse().unwrap();
        assert_eq!(scope.to_string(), text);
    }
    for wrong in ["project=", "rack=a", "label=app", "member"] {
        let error = wrong.parse::<Scope>().unwrap_err();
        assert!(error.contains("project=P, member=M, label=K=V"), "{error}");
    }
    assert_eq!("evacuation".parse::<Scenario>(), Ok(Scenario::Evacuation));
    assert_eq!(
        serde_json::from_str::<Scenario>("\"\"").unwrap(),
        Scenario::New,
        "empty is the default"
    );
    assert_eq!(
        serde_json::to_string(&Scenario::Evacuation).unwrap(),
        "\"evacuation\""
    );
    assert!("move".parse::<Scenario>().is_err());
    assert_eq!(
        serde_json::to_string(&Scope::Member("m1".into())).unwrap(),
        "\"member=m1\""
    );
}
