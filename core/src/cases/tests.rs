//! Cases as their JSON has them, and the judgement of simulations and direct calls.

use super::*;
use crate::demo::demo_snapshot;
use crate::engine::{compile, BuiltinCall, Diagnostic, ErrorKind};
use crate::simulate::{BehaviourProfile, NoDeadlines, SimulatedCall};

fn simulation(outcomes: Vec<Outcome>) -> Simulation {
    Simulation {
        incus_version: "6.0.4".into(),
        profile: BehaviourProfile::P3,
        mode: Mode::Upstream,
        calls: Vec::new(),
        outcomes,
        stopped: None,
    }
}

fn case(expect: &str) -> Case {
    serde_json::from_str(&format!(
        r#"{{"name":"c","op":{{"kind":"evacuate","member":"m1"}},"expect":{expect}}}"#
    ))
    .unwrap()
}

fn placed_on(member: &str) -> Outcome {
    Outcome::Placed {
        instance: "default/a".into(),
        member: member.into(),
        project: "default".into(),
    }
}

fn failed(error: &str) -> Outcome {
    Outcome::Failed {
        instance: "default/a".into(),
        error: error.into(),
    }
}

#[test]
fn each_expectation_holds_or_says_what_happened_instead() {
    assert_eq!(
        judge(&case(r#"{"member":"m2"}"#), &simulation(vec![placed_on("m2")])),
        Ok(())
    );
    assert_eq!(
        judge(
            &case(r#"{"member":"m2"}"#),
            &simulation(vec![placed_on("m2"), placed_on("m3")])
        ),
        Err("default/a was placed on m3, not on m2".into())
    );
    assert_eq!(
        judge(
            &case(r#"{"error":"no room"}"#),
            &simulation(vec![failed("fail: no room left")])
        ),
        Ok(())
    );
    assert_eq!(
        judge(
            &case(r#"{"error":"no room"}"#),
            &simulation(vec![placed_on("m1")])
        ),
        Err("default/a was placed on m1, not refused with an error containing \"no room\"".into())
    );
    assert_eq!(
        judge(&case(r#"{"member":"m1"}"#), &simulation(vec![failed("boom")])),
        Err("default/a failed: boom".into())
    );
    assert_eq!(judge(&case("{}"), &simulation(vec![placed_on("m1")])), Ok(()));
    assert_eq!(
        judge(&case("{}"), &simulation(vec![])),
        Err("nothing was placed".into())
    );
}

#[test]
fn a_case_with_an_unknown_field_is_refused() {
    let typo = r#"{"name":"c","op":{"kind":"evacuate","member":"m1"},"expect":{"membr":"m1"}}"#;
    assert!(serde_json::from_str::<Case>(typo).is_err());
}

fn call_case(json: &str) -> Case {
    serde_json::from_str(json).unwrap()
}

const CALL: &str = r#"{"name":"fuzz-1","call":{"incus_version":"6.6","request":{"reason":"relocation","project":"web","name":"api-1","config":{"user.tier":""}},"candidates":["hv-a02"],"runs_on":"hv-a01","member_status":{"hv-a03":"Evacuated"}},"expect":{"placed":true}}"#;

#[test]
fn a_call_case_reads_and_writes_the_same_json() {
    let case = call_case(CALL);
    let Subject::Call(call) = &case.subject else {
        panic!("a call")
    };
    assert_eq!(call.request.reason, "relocation");
    assert_eq!(call.member_status["hv-a03"], MemberStatus::Evacuated);
    assert_eq!(
        case.version(IncusVersion::DEFAULT),
        Ok(IncusVersion::new(6, 6, 0))
    );
    assert!(case.expect.placed);
    let again: Case = serde_json::from_str(&serde_json::to_string(&case).unwrap()).unwrap();
    assert_eq!(again, case);
    let written = serde_json::to_value(&case).unwrap();
    assert_eq!(written["expect"], serde_json::json!({"placed": true}));
    assert!(written.get("op").is_none());
    let text = serde_json::to_string(&case.compact()).unwrap();
    assert!(
        text.starts_with(r#"{"name":"fuzz-1","call":{"incus_version":"6.6","request":{"#),
        "{text}"
    );
    let compact: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        compact["call"]["request"],
        serde_json::json!({"reason": "relocation", "project": "web", "name": "api-1", "config": {"user.tier": ""}}),
        "empty fields left out, an empty config value kept"
    );
    let read_back: Case = serde_json::from_value(compact).unwrap();
    assert_eq!(read_back, case);
}

#[test]
fn a_case_runs_an_operation_or_a_call_and_expects_consistently() {
    let neither = r#"{"name":"c","expect":{}}"#;
    let both = r#"{"name":"c","op":{"kind":"evacuate","member":"m1"},"call":{"request":{},"candidates":[]}}"#;
    let contradiction =
        r#"{"name":"c","op":{"kind":"evacuate","member":"m1"},"expect":{"placed":true,"error":"x"}}"#;
    for json in [neither, both, contradiction] {
        assert!(serde_json::from_str::<Case>(json).is_err(), "{json}");
    }
    // A case file from before calls existed reads as it did.
    let old: Case = serde_json::from_str(
        r#"{"name":"c","op":{"kind":"evacuate","member":"m1"},"expect":{"member":"m2"}}"#,
    )
    .unwrap();
    assert!(matches!(
        old.subject,
        Subject::Operation(Operation::Evacuate { .. })
    ));
    assert_eq!(old.expect.member.as_deref(), Some("m2"));
}

fn call(error: Option<(ErrorKind, &str)>, target: Option<&str>) -> SimulatedCall {
    SimulatedCall {
        instance: "default/a".into(),
        reason: "new".into(),
        project: "default".into(),
        runs_on: "m1".into(),
        candidates: vec!["m1".into()],
        excluded: Vec::new(),
        validation_only: false,
        logs: Vec::new(),
        trace: target
            .map(|member| BuiltinCall {
                builtin: "set_target".into(),
                arguments: format!("{member:?}"),
                result: "ignored: not a candidate (Incus uses its built-in placement)".into(),
            })
            .into_iter()
            .collect(),
        target: None,
        error: error.map(|(kind, message)| Diagnostic::error(kind, message)),
        request: PlacementRequest::default(),
    }
}

#[test]
fn placed_holds_only_without_errors_and_targets_outside_the_candidates() {
    let placed = case(r#"{"placed":true}"#);
    let mut sim = simulation(vec![placed_on("m1")]);
    assert_eq!(judge(&placed, &sim), Ok(()));
    sim.calls = vec![call(None, Some("m9"))];
    assert_eq!(
        judge(&placed, &sim),
        Err("default/a: set_target(\"m9\") named a member that is not a candidate".into())
    );
    assert_eq!(
        judge(&case("{}"), &sim),
        Ok(()),
        "without placed, Incus placed it: fine"
    );
    sim.calls = vec![call(Some((ErrorKind::Fail, "no room")), None)];
    assert_eq!(
        judge(&placed, &sim),
        Err("default/a: the scriptlet failed: no room".into())
    );
}

fn evaluation(target: Option<&str>, error: Option<&str>, outside: Option<&str>) -> Evaluation {
    Evaluation {
        target: target.map(str::to_owned),
        logs: Vec::new(),
        trace: Vec::new(),
        error: error.map(|message| Diagnostic::error(ErrorKind::Runtime, message)),
        steps: 1,
        heap_peak_bytes: 0,
        non_candidate: outside.map(str::to_owned),
    }
}

#[test]
fn a_direct_call_is_judged_on_its_evaluation() {
    let with = |expect: &str| {
        call_case(&format!(
            r#"{{"name":"c","call":{{"request":{{}},"candidates":["m1"]}},"expect":{expect}}}"#
        ))
    };
    let placed = with(r#"{"placed":true}"#);
    assert_eq!(
        judge_call(&placed, Some(&evaluation(Some("m1"), None, None))),
        Ok(())
    );
    assert_eq!(judge_call(&placed, Some(&evaluation(None, None, None))), Ok(()));
    assert_eq!(judge_call(&placed, None), Ok(()));
    assert_eq!(
        judge_call(&placed, Some(&evaluation(None, Some("boom"), None))),
        Err("the call failed: boom".into())
    );
    assert_eq!(
        judge_call(&placed, Some(&evaluation(None, None, Some("m9")))),
        Err("set_target(\"m9\") named a member that is not a candidate".into())
    );
    let member = with(r#"{"member":"m1"}"#);
    assert_eq!(
        judge_call(&member, Some(&evaluation(None, None, None))),
        Err("the call chose none, not m1".into())
    );
    let error = with(r#"{"error":"boo"}"#);
    assert_eq!(
        judge_call(&error, Some(&evaluation(None, Some("boom"), None))),
        Ok(())
    );
    assert_eq!(
        judge_call(&error, Some(&evaluation(Some("m1"), None, None))),
        Err("the call did not fail (chose m1), not an error containing \"boo\"".into())
    );
}

#[test]
fn a_direct_call_fails_on_the_scriptlet_with_the_failure_and_passes_once_fixed() {
    let mut snapshot = demo_snapshot();
    let mut cluster = PreparedCluster::new(&snapshot);
    let case = |status: &str| {
        call_case(&format!(
            r#"{{"name":"offline","call":{{"request":{{"reason":"new","project":"web","name":"api-9"}},"candidates":["hv-a02"],"runs_on":"hv-a01","member_status":{status}}},"expect":{{"placed":true}}}}"#
        ))
    };
    let broken = "def instance_placement(request, candidate_members):\n    if \"hv-b01\" not in [m.server_name for m in get_cluster_members()]:\n        fail(\"hv-b01 is away\")\n";
    let fixed = "def instance_placement(request, candidate_members):\n    set_target(candidate_members[0].server_name)\n";
    let mut run = |source: &str, case: &Case| {
        let scriptlet = compile(source, IncusVersion::DEFAULT, &Limits::default(), &|| false)
            .unwrap()
            .unwrap();
        case.run(
            Some(&scriptlet),
            IncusVersion::DEFAULT,
            &Limits::default(),
            &NoDeadlines,
            &mut snapshot,
            &mut cluster,
        )
    };
    let offline = case(r#"{"hv-b01":"Offline"}"#);
    assert_eq!(
        run(broken, &offline),
        Err("the call failed: fail: hv-b01 is away".into())
    );
    assert_eq!(run(broken, &case("{}")), Ok(()), "only with the member offline");
    assert_eq!(run(fixed, &offline), Ok(()));
    assert_eq!(
        run(broken, &case("{}")),
        Ok(()),
        "the member's status is put back"
    );
    let unknown = call_case(r#"{"name":"c","call":{"request":{},"candidates":["hv-zz"]}}"#);
    assert_eq!(
        run(fixed, &unknown),
        Err("hv-zz is not a member of the snapshot".into())
    );
}
