//! The call table of `incus-placement.md` §3.2, profile by profile, on the demo cluster.

use super::*;
use crate::demo::demo_snapshot;
use crate::engine::compile;

/// Logs nothing, chooses nothing: the calls themselves are what is tested.
const QUIET: &str = "def instance_placement(request, candidate_members):\n    pass\n";

fn scriptlet() -> Scriptlet {
    compile(QUIET, IncusVersion::DEFAULT, &Limits::default(), &|| false)
        .unwrap()
        .unwrap()
}

/// A stopped instance of `project` with only the default profile, on a member for which
/// `on_member` holds.
fn stopped(snapshot: &Snapshot, project: &str, on_member: impl Fn(&str) -> bool) -> Instance {
    snapshot
        .instances
        .iter()
        .find(|i| {
            i.project == project
                && i.status == "Stopped"
                && i.profiles == ["default"]
                && on_member(&i.location)
        })
        .cloned()
        .expect("the demo has such an instance")
}

fn run(version: &str, mode: Mode, snapshot: &Snapshot, operation: Operation) -> Simulation {
    let scriptlet = scriptlet();
    let simulator = Simulator::new(Some(&scriptlet), version.parse().unwrap(), mode);
    simulator.run(snapshot, &[operation])
}

fn move_op(instance: &Instance, target_project: &str, target: &str) -> Operation {
    Operation::Move {
        project: instance.project.clone(),
        name: instance.name.clone(),
        target_project: Some(target_project.to_owned()),
        target: target.to_owned(),
    }
}

/// `incus create --empty NAME --project PROJECT [--target TARGET]`.
fn create_empty(project: &str, name: &str, target: &str) -> Operation {
    Operation::Create {
        project: project.into(),
        name: name.into(),
        target: target.into(),
        instance_type: None,
        profiles: None,
        config: Config::new(),
        source: CreateSource {
            kind: "none".into(),
            ..CreateSource::default()
        },
        via: None,
    }
}

/// (reason, project, candidates) of each call.
fn calls(simulation: &Simulation) -> Vec<(String, String, Vec<String>)> {
    simulation
        .calls
        .iter()
        .map(|c| (c.reason.clone(), c.project.clone(), c.candidates.clone()))
        .collect()
}

fn call(reason: &str, project: &str, candidates: &[&str]) -> (String, String, Vec<String>) {
    (
        reason.to_owned(),
        project.to_owned(),
        candidates.iter().map(|c| c.to_string()).collect(),
    )
}

#[test]
fn cross_project_move_to_an_acceptable_member_per_profile() {
    let snapshot = demo_snapshot();
    let instance = stopped(&snapshot, "web", |_| true);
    let m1 = instance.location.as_str();
    let op = || move_op(&instance, "data", "");
    assert_eq!(calls(&run("6.0.2", Mode::Upstream, &snapshot, op())), vec![]);
    assert_eq!(
        calls(&run("6.6.0", Mode::Upstream, &snapshot, op())),
        vec![call("relocation", "web", &[m1]), call("new", "data", &[m1])]
    );
    let p2 = run("6.7.0", Mode::Upstream, &snapshot, op());
    assert_eq!(calls(&p2), vec![call("relocation", "data", &[m1])]);
    assert!(
        p2.calls[0].request.profiles.is_empty(),
        "6.7 sent no profiles (#1388)"
    );
    let p3 = run("6.0.4", Mode::Upstream, &snapshot, op());
    assert_eq!(calls(&p3), vec![call("relocation", "data", &[m1])]);
    assert_eq!(p3.calls[0].request.profiles, vec!["default"]);
    assert!(p3.calls[0].validation_only);
    assert_eq!(
        p3.calls[0].request.instance_type, "",
        "relocation requests have no type"
    );
    assert_eq!(
        p3.outcomes,
        vec![Outcome::Placed {
            instance: format!("web/{}", instance.name),
            member: m1.to_owned(),
            project: "data".into()
        }]
    );
}

#[test]
fn cross_project_move_away_from_a_refused_member_per_profile() {
    let snapshot = demo_snapshot();
    let instance = stopped(&snapshot, "default", |m| !m.starts_with("hv-b") && m != "hv-e04");
    let ci_members = ["hv-b01", "hv-b02", "hv-b03"];
    let mut expected: Vec<&str> = ci_members.to_vec();
    let list = |simulation: &Simulation, index: usize| {
        let mut members = simulation.calls[index].candidates.clone();
        members.sort();
        members
    };
    expected.sort();
    let p0 = run("6.0.2", Mode::Upstream, &snapshot, move_op(&instance, "ci", ""));
    assert_eq!(
        (p0.calls.len(), p0.calls[0].project.as_str()),
        (1, "default"),
        "the wrong project (P0)"
    );
    assert_eq!(list(&p0, 0), expected);
    let p1 = run("6.6.0", Mode::Upstream, &snapshot, move_op(&instance, "ci", ""));
    assert_eq!(p1.calls.len(), 2);
    assert_eq!(
        (p1.calls[1].reason.as_str(), p1.calls[1].candidates.len()),
        ("new", 1)
    );
    let p3 = run("6.0.4", Mode::Upstream, &snapshot, move_op(&instance, "ci", ""));
    assert_eq!((p3.calls.len(), p3.calls[0].project.as_str()), (1, "ci"));
    assert_eq!(list(&p3, 0), expected);
    assert!(!p3.calls[0].validation_only);
    let excluded: Vec<_> = p3.calls[0]
        .excluded
        .iter()
        .map(|e| (e.member.as_str(), e.reason.as_str()))
        .collect();
    assert!(
        excluded.contains(&("hv-a01", "not in project ci's restricted.cluster.groups (rack-b)")),
        "{excluded:?}"
    );
}

#[test]
fn a_member_move_calls_with_that_member_from_6_6() {
    let snapshot = demo_snapshot();
    let instance = stopped(&snapshot, "web", |m| m != "hv-a02");
    assert_eq!(
        calls(&run(
            "6.0.2",
            Mode::Upstream,
            &snapshot,
            move_op(&instance, "web", "hv-a02")
        )),
        vec![]
    );
    for version in ["6.6.0", "6.7.0", "6.0.4", "7.0.0"] {
        let simulation = run(
            version,
            Mode::Upstream,
            &snapshot,
            move_op(&instance, "web", "hv-a02"),
        );
        assert_eq!(
            calls(&simulation),
            vec![call("relocation", "web", &["hv-a02"])],
            "{version}"
        );
        assert!(matches!(&simulation.outcomes[0], Outcome::Placed { member, .. } if member == "hv-a02"));
    }
}

#[test]
fn a_combined_member_and_project_move_per_profile() {
    let snapshot = demo_snapshot();
    let instance = stopped(&snapshot, "web", |m| m != "hv-a02");
    let op = || move_op(&instance, "data", "hv-a02");
    assert_eq!(
        calls(&run("6.6.0", Mode::Upstream, &snapshot, op())),
        vec![
            call("relocation", "web", &["hv-a02"]),
            call("new", "data", &["hv-a02"])
        ]
    );
    assert_eq!(
        calls(&run("6.0.4", Mode::Upstream, &snapshot, op())),
        vec![call("relocation", "data", &["hv-a02"])]
    );
    let p4 = run("7.0.0", Mode::Upstream, &snapshot, op());
    assert!(
        matches!(&p4.outcomes[0], Outcome::Placed { project, .. } if project == "web"),
        "7.x keeps the source project on a combined move (UNVERIFIED upstream)"
    );
}

#[test]
fn restricted_targets_are_refused_before_any_call() {
    let snapshot = demo_snapshot();
    let instance = stopped(&snapshot, "default", |m| !m.starts_with("hv-b"));
    let simulation = run(
        "6.0.4",
        Mode::Upstream,
        &snapshot,
        move_op(&instance, "ci", "hv-a01"),
    );
    assert!(simulation.calls.is_empty());
    assert!(
        matches!(&simulation.outcomes[0], Outcome::Failed { error, .. } if error == "Project isn't allowed to use this cluster member: \"hv-a01\"")
    );
    let legacy = run(
        "6.0.4",
        Mode::Upstream,
        &snapshot,
        move_op(&instance, "legacy", ""),
    );
    assert!(
        matches!(&legacy.outcomes[0], Outcome::Failed { error, .. } if error == "Requested profile \"default\" doesn't exist")
    );
}

#[test]
fn the_corrected_move_offers_every_eligible_member_then_validates() {
    let snapshot = demo_snapshot();
    let instance = stopped(&snapshot, "web", |_| true);
    let corrected = run(
        "6.0.4",
        Mode::Corrected,
        &snapshot,
        move_op(&instance, "data", ""),
    );
    assert_eq!(corrected.calls.len(), 2);
    let decision = &corrected.calls[0];
    assert_eq!(
        (
            decision.reason.as_str(),
            decision.project.as_str(),
            decision.validation_only
        ),
        ("relocation", "data", false)
    );
    assert!(
        decision.candidates.len() > 1,
        "every member eligible for data, not only the current one"
    );
    assert!(corrected.calls[1].validation_only);
    assert_eq!(
        corrected.calls[1].candidates,
        vec![instance.location.clone()],
        "kept on its member when eligible"
    );
}

#[test]
fn create_calls_per_target_kind() {
    let snapshot = demo_snapshot();
    let create = |target: &str, project: &str| create_empty(project, "new-1", target);
    let any = run("6.0.4", Mode::Upstream, &snapshot, create("", "ci"));
    assert!(any.calls[0].candidates.iter().all(|m| m.starts_with("hv-b")));
    assert_eq!(
        (any.calls[0].reason.as_str(), any.calls[0].runs_on.as_str()),
        ("new", "hv-a01")
    );
    let fixed = run("6.0.4", Mode::Upstream, &snapshot, create("hv-e01", "web"));
    assert_eq!(fixed.calls[0].candidates, vec!["hv-e01"]);
    assert!(run("6.0.2", Mode::Upstream, &snapshot, create("hv-e01", "web"))
        .calls
        .is_empty());
    let group = run("6.0.4", Mode::Upstream, &snapshot, create("@edge", "web"));
    let mut members = group.calls[0].candidates.clone();
    members.sort();
    assert_eq!(members, vec!["hv-e01", "hv-e02", "hv-e03", "hv-e04"]);
    let refused = run("6.0.4", Mode::Upstream, &snapshot, create("@edge", "ci"));
    assert!(refused.calls.is_empty());
    assert!(
        matches!(&refused.outcomes[0], Outcome::Failed { error, .. } if error == "Project isn't allowed to use this cluster group: \"edge\"")
    );
}

#[test]
fn sequences_are_cumulative() {
    let snapshot = demo_snapshot();
    let scriptlet = scriptlet();
    let simulator = Simulator::new(Some(&scriptlet), IncusVersion::DEFAULT, Mode::Upstream);
    let create = |name: &str| create_empty("web", name, "");
    let simulation = simulator.run(&snapshot, &[create("n-1"), create("n-2"), create("n-1")]);
    let placed: Vec<_> = simulation
        .outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::Placed { member, .. } => Some(member.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(placed.len(), 2);
    assert!(
        matches!(&simulation.outcomes[2], Outcome::Failed { error, .. } if error == "Instance name already in use")
    );
    // The first creation counts against its member: the least loaded one changes or stays
    // with one more instance.
    assert_eq!(simulation.calls.len(), 2);
}

#[test]
fn evacuation_then_restore() {
    let snapshot = demo_snapshot();
    let scriptlet = scriptlet();
    let simulator = Simulator::new(Some(&scriptlet), IncusVersion::DEFAULT, Mode::Upstream);
    let on_e02 = snapshot
        .instances
        .iter()
        .filter(|i| i.location == "hv-e02")
        .count();
    let simulation = simulator.run(
        &snapshot,
        &[
            Operation::Evacuate {
                member: "hv-e02".into(),
            },
            Operation::Restore {
                member: "hv-e02".into(),
            },
        ],
    );
    let evacuations: Vec<_> = simulation
        .calls
        .iter()
        .filter(|c| c.reason == "evacuation")
        .collect();
    assert_eq!(evacuations.len(), on_e02);
    assert!(evacuations
        .iter()
        .all(|c| c.runs_on == "hv-e02" && !c.candidates.contains(&"hv-e02".to_owned())));
    let restores: Vec<_> = simulation
        .calls
        .iter()
        .filter(|c| c.reason == "relocation")
        .collect();
    // A restore's relocation request expands the instance's profiles looked up in its own
    // project literally, as `instance_post.go` does: in a project without `features.profiles`
    // they are not found, and that restore fails before any scriptlet call.
    let restorable = snapshot
        .instances
        .iter()
        .filter(|i| i.location == "hv-e02")
        .filter(|i| snapshot.project(&i.project).unwrap().restrictions().own_profiles)
        .count();
    assert_eq!(restores.len(), restorable);
    assert!(restores
        .iter()
        .all(|c| c.candidates == ["hv-e02"] && c.validation_only));
}

#[test]
fn rebalancing_exists_from_7_and_only_offers_less_loaded_members() {
    let snapshot = demo_snapshot();
    let counts = snapshot.instance_counts();
    let busiest = snapshot
        .instances
        .iter()
        .filter(|i| i.project == "web" && i.location.starts_with("hv-a"))
        .max_by_key(|i| counts[i.location.as_str()])
        .unwrap()
        .clone();
    let op = || Operation::Rebalance {
        project: busiest.project.clone(),
        name: busiest.name.clone(),
    };
    let old = run("6.0.4", Mode::Upstream, &snapshot, op());
    assert!(old.calls.is_empty());
    assert!(matches!(&old.outcomes[0], Outcome::Failed { error, .. } if error.contains("7.0+")));
    let new = run("7.0.0", Mode::Upstream, &snapshot, op());
    let call = &new.calls[0];
    assert_eq!(
        (call.reason.as_str(), call.runs_on.as_str()),
        ("rebalance", "hv-a01")
    );
    let own = counts[busiest.location.as_str()];
    assert!(call
        .candidates
        .iter()
        .all(|m| counts.get(m.as_str()).copied().unwrap_or(0) < own && *m != busiest.location));
    assert!(!call.candidates.is_empty());
}
