//! The matrix on the demo cluster, planned, run and merged as the sandbox does it (each
//! simulation on the same prepared cluster, as a worker keeps it), with scriptlets written to
//! show each outcome and each lint.

use super::*;
use crate::demo::demo_snapshot;
use crate::engine::{Limits, PreparedCluster};
use crate::simulate::NoDeadlines;

/// Places on the first candidate, whatever the call.
const FIRST: &str = "def instance_placement(request, candidate_members):\n    \
                     set_target(candidate_members[0].server_name)\n";

fn matrix_with(source: &str, versions: &str, picks: &Picks, limits: &Limits) -> Matrix {
    let mut snapshot = demo_snapshot();
    let versions = parse_versions(versions).unwrap();
    let plan = plan(&snapshot, &versions, picks).unwrap();
    let mut cluster = PreparedCluster::new(&snapshot);
    let runs = plan
        .simulations
        .iter()
        .map(|planned| run_simulation(planned, source, limits, &NoDeadlines, &mut snapshot, &mut cluster))
        .collect();
    merge(&plan, runs)
}

fn matrix_of(source: &str, versions: &str) -> Matrix {
    matrix_with(source, versions, &Picks::new(), &Limits::default())
}

/// One line per cell: `situation version: reason@project[candidates] outcome, …`, with `*`
/// for a cell that differs and `!` for one that fails.
fn render(matrix: &Matrix) -> String {
    matrix
        .cells
        .iter()
        .map(|cell| {
            let calls = cell
                .calls
                .iter()
                .map(|call| {
                    format!(
                        "{}@{}[{}] {}",
                        call.reason,
                        call.project,
                        call.candidates,
                        call.outcome.as_str()
                    )
                })
                .collect::<Vec<_>>()
                .join(", ");
            let marks = format!(
                "{}{}",
                if cell.differs { "*" } else { "" },
                if cell.fails() { "!" } else { "" }
            );
            format!("{} {}{marks}: {calls}", cell.situation, cell.version)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn cell<'m>(matrix: &'m Matrix, situation: Situation, version: &str) -> &'m Cell {
    matrix
        .cells
        .iter()
        .find(|cell| cell.situation == situation && cell.version == version)
        .unwrap_or_else(|| panic!("no cell {situation} {version}"))
}

#[test]
fn each_situation_makes_the_calls_of_each_behaviour_profile() {
    let matrix = matrix_of(FIRST, "6.0.2,6.6,6.7,6.0.4,7.0");
    assert_eq!(
        render(&matrix),
        "\
create 6.0.2: new@default[9] member
create 6.6: new@default[9] member
create 6.7: new@default[9] member
create 6.0.4: new@default[9] member
create 7.0: new@default[9] member
create-member 6.0.2*: 
create-member 6.6: new@default[1] member
create-member 6.7: new@default[1] member
create-member 6.0.4: new@default[1] member
create-member 7.0: new@default[1] member
create-group 6.0.2: new@default[4] member
create-group 6.6: new@default[4] member
create-group 6.7: new@default[4] member
create-group 6.0.4: new@default[4] member
create-group 7.0: new@default[4] member
move-member 6.0.2*: 
move-member 6.6: relocation@default[1] member
move-member 6.7: relocation@default[1] member
move-member 6.0.4: relocation@default[1] member
move-member 7.0: relocation@default[1] member
move-project 6.0.2*: 
move-project 6.6*: relocation@default[1] member, new@web[1] member
move-project 6.7: relocation@web[1] member
move-project 6.0.4: relocation@web[1] member
move-project 7.0: relocation@web[1] member
move-project-member 6.0.2*: 
move-project-member 6.6*: relocation@default[1] member, new@web[1] member
move-project-member 6.7: relocation@web[1] member
move-project-member 6.0.4: relocation@web[1] member
move-project-member 7.0: relocation@web[1] member
evacuate 6.0.2: evacuation@default[8] member
evacuate 6.6: evacuation@default[8] member
evacuate 6.7: evacuation@default[8] member
evacuate 6.0.4: evacuation@default[8] member
evacuate 7.0: evacuation@default[8] member
rebalance 7.0: rebalance@default[2] member"
    );
    assert!(!matrix.fails());
    assert!(matrix.lints.is_empty(), "{:?}", matrix.lints);
    // The cells of one situation share their instance, and its calls are that instance's.
    let evacuate = cell(&matrix, Situation::Evacuate, "6.0.4");
    assert!(evacuate.calls.iter().all(|call| call.instance.is_none()));
    assert_eq!(
        evacuate.operations,
        vec![Operation::Evacuate {
            member: evacuate.location_in(&demo_snapshot())
        }]
    );
    let creation = cell(&matrix, Situation::CreateMember, "6.0.4");
    let Operation::Create(created) = &creation.operations[0] else {
        panic!("a create: {:?}", creation.operations);
    };
    assert_eq!(
        created.name,
        format!("{}-new", creation.instance.split_once('/').unwrap().1)
    );
    assert_eq!(created.target, creation.location_in(&demo_snapshot()));
    assert!(creation.calls[0].instance.is_none());
}

impl Cell {
    /// The member the cell's instance is on in `snapshot`.
    fn location_in(&self, snapshot: &crate::Snapshot) -> String {
        let (project, name) = self.instance.split_once('/').unwrap();
        snapshot
            .instances
            .iter()
            .find(|i| i.project == project && i.name == name)
            .unwrap()
            .location
            .clone()
    }
}

#[test]
fn each_call_is_classified_by_what_the_scriptlet_did() {
    let outcome_of = |body: &str, version: &str| {
        let source = format!("def instance_placement(request, candidate_members):\n{body}");
        let limits = Limits {
            max_steps: 100_000,
            ..Limits::default()
        };
        let picks = Picks::new();
        let matrix = matrix_with(&source, version, &picks, &limits);
        cell(&matrix, Situation::Create, version).calls[0].clone()
    };
    let chosen = outcome_of("    set_target(candidate_members[-1].server_name)\n", "6.0.4");
    assert_eq!(chosen.outcome, CallOutcome::Member);
    assert!(chosen.member.is_some());
    assert_eq!(outcome_of("    pass\n", "6.0.4").outcome, CallOutcome::NoTarget);
    let raised = outcome_of("    fail(\"no room\")\n", "6.0.4");
    assert_eq!(raised.outcome, CallOutcome::Error);
    assert!(raised
        .error
        .as_deref()
        .is_some_and(|error| error.contains("no room")));
    assert_eq!(raised.line, Some(2));
    // hv-b04 is offline: never a candidate. Before 6.7 Incus ignores it, from 6.7 it raises.
    let ignored = outcome_of("    set_target(\"hv-b04\")\n", "6.6");
    assert_eq!(ignored.outcome, CallOutcome::NonCandidate);
    assert_eq!(ignored.member.as_deref(), Some("hv-b04"));
    assert!(ignored.error.is_none());
    assert!(ignored
        .note
        .as_deref()
        .is_some_and(|note| note.contains("ignores")));
    let refused = outcome_of("    set_target(\"hv-b04\")\n", "6.0.4");
    assert_eq!(refused.outcome, CallOutcome::NonCandidate);
    assert_eq!(refused.member.as_deref(), Some("hv-b04"));
    assert!(refused
        .error
        .as_deref()
        .is_some_and(|error| error.contains("hv-b04")));
    // A name of no member is said in the note (free text, redacted), not as a member.
    let nonsense = outcome_of("    set_target(request.name)\n", "6.0.4");
    assert_eq!(nonsense.outcome, CallOutcome::NonCandidate);
    assert_eq!(nonsense.member, None);
    assert!(nonsense
        .note
        .as_deref()
        .is_some_and(|note| note.contains("names no member")));
    let looping = outcome_of("    for i in range(1000000):\n        pass\n", "6.0.4");
    assert_eq!(looping.outcome, CallOutcome::Limit);
}

#[test]
fn a_scriptlet_that_fails_only_on_the_second_call_of_6_6_is_flagged_in_the_6_6_column_only() {
    // 6.6 calls again for the copy a cross-project move makes: `new`, with a copy source.
    let source = "def instance_placement(request, candidate_members):\n    \
                  if request.reason == \"new\" and request.source.type == \"copy\":\n        \
                  fail(\"copies are not placed here\")\n    \
                  set_target(candidate_members[0].server_name)\n";
    let matrix = matrix_of(source, "6.0.4,6.6,7.0");
    let failing: Vec<(Situation, &str)> = matrix
        .cells
        .iter()
        .filter(|cell| cell.fails())
        .map(|cell| (cell.situation, cell.version.as_str()))
        .collect();
    assert_eq!(
        failing,
        [
            (Situation::MoveProject, "6.6"),
            (Situation::MoveProjectMember, "6.6")
        ]
    );
    for situation in [Situation::MoveProject, Situation::MoveProjectMember] {
        let cell = cell(&matrix, situation, "6.6");
        assert!(cell.differs);
        let outcomes: Vec<CallOutcome> = cell.calls.iter().map(|call| call.outcome).collect();
        assert_eq!(outcomes, [CallOutcome::Member, CallOutcome::Error]);
        assert!(cell.failed.is_some());
        assert!(!self::cell(&matrix, situation, "6.0.4").differs);
    }
    assert!(matrix.fails());
}

#[test]
fn a_scriptlet_that_ignores_rebalance_is_flagged_for_7_x_only() {
    let source = "def instance_placement(request, candidate_members):\n    \
                  if request.reason in [\"new\", \"relocation\", \"evacuation\"]:\n        \
                  set_target(candidate_members[0].server_name)\n";
    let matrix = matrix_of(source, "6.0.4,6.6,7.0,7.1");
    assert_eq!(
        matrix.lints,
        [Lint {
            code: "unhandled-reason".into(),
            message: "the scriptlet branches on request.reason (it names \"evacuation\", \"new\", \
                      \"relocation\") but never handles \"rebalance\", which Incus 7.0, 7.1 sends \
                      (rebalance): such calls fall through to its last branch"
                .into(),
            versions: vec!["7.0".into(), "7.1".into()],
            situations: vec![Situation::Rebalance],
        }]
    );
    assert!(!matrix.fails(), "ignoring is no failure: {}", render(&matrix));
    assert_eq!(
        cell(&matrix, Situation::Rebalance, "7.0").calls[0].outcome,
        CallOutcome::NoTarget
    );
    // One that names every reason, or never tells them apart, gets no such lint.
    let all = source.replace("\"evacuation\"]", "\"evacuation\", \"rebalance\"]");
    assert!(matrix_of(&all, "6.0.4,7.0").lints.is_empty());
    assert!(matrix_of(FIRST, "6.0.4,7.0").lints.is_empty());
    // On 6.6 a moved instance's copy is a `new` call: handling only relocations misses it.
    let relocations_only = "def instance_placement(request, candidate_members):\n    \
                            if request.reason != \"relocation\":\n        return\n";
    let lints = matrix_of(relocations_only, "6.0.4,6.6").lints;
    let codes: Vec<(&str, &[String])> = lints
        .iter()
        .map(|lint| (lint.code.as_str(), lint.versions.as_slice()))
        .collect();
    assert_eq!(codes.len(), 2, "{lints:?}");
    assert_eq!(lints[0].situations[0], Situation::Create);
    assert!(lints[0].message.contains("never handles \"new\""));
    assert!(lints[1].message.contains("never handles \"evacuation\""));
}

#[test]
fn a_scriptlet_that_raises_on_a_single_candidate_is_linted() {
    let source = "def instance_placement(request, candidate_members):\n    \
                  if len(candidate_members) < 2:\n        \
                  fail(\"need a choice\")\n    \
                  set_target(candidate_members[0].server_name)\n";
    let matrix = matrix_of(source, "6.0.2,6.0.4");
    let lint = matrix
        .lints
        .iter()
        .find(|lint| lint.code == "raises-on-single-candidate")
        .expect("the lint");
    assert_eq!(lint.versions, ["6.0.4"]);
    assert_eq!(
        lint.situations,
        [
            Situation::CreateMember,
            Situation::MoveMember,
            Situation::MoveProject,
            Situation::MoveProjectMember
        ]
    );
    assert!(
        lint.message.contains("create-member on 6.0.4"),
        "{}",
        lint.message
    );
    // Raising everywhere is no lint of this kind: the red cells say it all.
    let always = "def instance_placement(request, candidate_members):\n    fail(\"no\")\n";
    assert!(matrix_of(always, "6.0.4").lints.is_empty());
}

#[test]
fn the_user_picks_an_instance_per_situation() {
    let snapshot = demo_snapshot();
    let versions = parse_versions("6.0.4").unwrap();
    let running = snapshot
        .instances
        .iter()
        .find(|i| i.is_running() && i.project == "default" && i.profiles == ["default"])
        .unwrap();
    let key = format!("{}/{}", running.project, running.name);
    let picks = Picks::from([
        (Situation::Evacuate, key.clone()),
        (Situation::MoveProject, key.clone()),
    ]);
    let planned = plan(&snapshot, &versions, &picks).unwrap();
    let evacuate = planned
        .simulations
        .iter()
        .find(|s| s.situation == Situation::Evacuate)
        .unwrap();
    assert_eq!(evacuate.instance, key);
    assert_eq!(
        evacuate.operations,
        [Operation::Evacuate {
            member: running.location.clone()
        }]
    );
    // A running instance cannot change project: Incus refuses before any call.
    let matrix = matrix_with(FIRST, "6.0.4", &picks, &Limits::default());
    let moved = cell(&matrix, Situation::MoveProject, "6.0.4");
    assert!(moved.calls.is_empty());
    assert!(moved
        .failed
        .as_deref()
        .is_some_and(|error| error.contains("must be stopped")));
    // The calls of an evacuation up to the picked instance's own are shown.
    let evacuated = cell(&matrix, Situation::Evacuate, "6.0.4");
    assert!(!evacuated.calls.is_empty());
    assert!(evacuated.calls.last().unwrap().instance.is_none());
    assert!(evacuated.calls[..evacuated.calls.len() - 1]
        .iter()
        .all(|call| call.instance.is_some()));

    let unknown = Picks::from([(Situation::Create, "default/nope".to_owned())]);
    assert_eq!(
        plan(&snapshot, &versions, &unknown),
        Err(PlanError::UnknownInstance {
            situation: Situation::Create,
            instance: "default/nope".into()
        })
    );
    // `large` is a profile of the default project alone: no project to move such an instance to.
    let large = snapshot
        .instances
        .iter()
        .find(|i| i.profiles.iter().any(|p| p == "large"))
        .unwrap();
    let nowhere = Picks::from([(
        Situation::MoveProject,
        format!("{}/{}", large.project, large.name),
    )]);
    assert_eq!(
        plan(&snapshot, &versions, &nowhere),
        Err(PlanError::Unfit {
            situation: Situation::MoveProject,
            instance: format!("{}/{}", large.project, large.name),
            reason: "no other project has its profiles".into()
        })
    );
}

#[test]
fn versions_default_to_the_snapshots_own_6_6_and_7_0() {
    let snapshot = demo_snapshot();
    let given: Vec<String> = default_versions(&snapshot)
        .unwrap()
        .into_iter()
        .map(|version| version.given)
        .collect();
    assert_eq!(given, ["6.0.4", "6.6", "7.0"]);
    let mut newer = snapshot.clone();
    newer.server.environment.server_version = "7.0".into();
    let given: Vec<String> = default_versions(&newer)
        .unwrap()
        .into_iter()
        .map(|v| v.given)
        .collect();
    assert_eq!(given, ["7.0", "6.6"]);
    let mut odd = snapshot;
    odd.server.environment.server_version = "6.0.4-debian".into();
    assert!(matches!(
        default_versions(&odd),
        Err(VersionsError::UnreadableSnapshotVersion(_))
    ));
    assert!(matches!(
        parse_versions("6.6,6.6.0"),
        Err(VersionsError::Twice { .. })
    ));
    assert!(matches!(parse_versions(""), Err(VersionsError::None)));
    assert!(matches!(parse_versions("six"), Err(VersionsError::Bad(_))));
    assert!(matches!(
        parse_versions("6.0.1,6.0.2,6.0.3,6.0.4,6.0.5,6.6,6.7,6.8,7.0"),
        Err(VersionsError::TooMany { count: 9 })
    ));
}

#[test]
fn rebalance_is_left_out_when_no_version_asked_for_sends_it() {
    let snapshot = demo_snapshot();
    let planned = plan(&snapshot, &parse_versions("6.0.4,6.6").unwrap(), &Picks::new()).unwrap();
    assert!(planned
        .simulations
        .iter()
        .all(|simulation| simulation.situation != Situation::Rebalance));
    assert_eq!(planned.skipped.len(), 1);
    assert_eq!(planned.skipped[0].situation, Situation::Rebalance);
    assert_eq!(planned.simulations.len(), 2 * 7);
}

#[test]
fn a_version_that_refuses_the_scriptlet_refuses_every_cell_of_its_column() {
    // `set()` came with 6.0.5 (6.14 on the feature branch).
    let source = "def instance_placement(request, candidate_members):\n    \
                  seen = set([1])\n";
    let matrix = matrix_of(source, "6.0.5,6.0.4");
    for cell in &matrix.cells {
        assert_eq!(cell.refused.is_some(), cell.version == "6.0.4", "{cell:?}");
    }
    assert!(cell(&matrix, Situation::Create, "6.0.4")
        .refused
        .as_deref()
        .is_some_and(|refusal| refusal.starts_with("2:")));
    assert!(matrix.fails());
}

#[test]
fn runs_merge_alike_in_any_order() {
    let mut snapshot = demo_snapshot();
    let versions = parse_versions("6.0.4,6.6,7.0").unwrap();
    let planned = plan(&snapshot, &versions, &Picks::new()).unwrap();
    let mut cluster = PreparedCluster::new(&snapshot);
    let runs: Vec<SimulationRun> = planned
        .simulations
        .iter()
        .map(|simulation| {
            run_simulation(
                simulation,
                FIRST,
                &Limits::default(),
                &NoDeadlines,
                &mut snapshot,
                &mut cluster,
            )
        })
        .collect();
    let mut reversed = runs.clone();
    reversed.reverse();
    assert_eq!(merge(&planned, runs), merge(&planned, reversed));
}

#[test]
fn the_matrix_serializes_as_the_contract_says() {
    let matrix = matrix_of(
        "def instance_placement(request, candidate_members):\n    fail(\"no\")\n",
        "6.0.4",
    );
    let json = serde_json::to_value(&matrix).unwrap();
    let first = &json["cells"][0];
    assert_eq!(first["version"], "6.0.4");
    assert_eq!(first["situation"], "create");
    assert!(first["instance"].as_str().unwrap().contains('/'));
    let call = &first["calls"][0];
    assert_eq!(call["reason"], "new");
    assert_eq!(call["project"], "default");
    assert!(call["candidates"].is_u64());
    assert_eq!(call["outcome"], "error");
    assert!(call["error"].as_str().unwrap().contains("no"));
    assert!(call.get("member").is_none());
    let back: Matrix = serde_json::from_value(json).unwrap();
    assert_eq!(back, matrix);
}
