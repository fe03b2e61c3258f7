//! `POST /api/v1/scriptlets/cases` and `POST /api/v1/scriptlets/fuzz` through the router, with
//! real sandbox workers: verdicts and coverage, a fuzz campaign continued from the state it
//! handed out and as one run, who may, and what a request may cost; the matrix route's lines
//! when asked.

use crate::support;

use axum::http::{Method, StatusCode};
use berth_core::access::Role;
use serde_json::{json, Value};
use support::TestApp;

const SCRIPTLET: &str = r#"def instance_placement(request, candidate_members):
    if request.reason == "evacuation" and len(candidate_members) == 1:
        fail("no evacuation with one candidate")
    set_target(candidate_members[0].server_name)
"#;

const FIXED: &str = r#"def instance_placement(request, candidate_members):
    set_target(candidate_members[0].server_name)
"#;

fn cases() -> Value {
    json!([
        {"name": "create", "op": {"kind": "create", "project": "default", "name": "c1"}, "expect": {"placed": true}},
        {"name": "single", "call": {"request": {"reason": "evacuation", "project": "web", "name": "api-1"}, "candidates": ["hv-a02"]}, "expect": {"placed": true}},
    ])
}

async fn post(app: &TestApp, uri: &str, body: Value) -> (StatusCode, Value) {
    let response = app.post_json(uri, &body).await;
    let value = serde_json::from_str(&response.body).unwrap_or(Value::Null);
    (response.status, value)
}

#[tokio::test]
async fn cases_answer_each_verdict_and_the_lines_they_ran() {
    let app = TestApp::with_demo().await;
    let (status, answer) = post(
        &app,
        "/api/v1/scriptlets/cases",
        json!({"snapshot_id": 1, "source": SCRIPTLET, "cases": cases()}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["incus_version"], "6.0.4");
    assert_eq!((&answer["passed"], &answer["failed"]), (&json!(1), &json!(1)));
    assert_eq!(answer["cases"][0], json!({"name": "create", "passed": true}));
    assert_eq!(answer["cases"][1]["passed"], false);
    assert_eq!(
        answer["cases"][1]["message"],
        "the call failed: fail: no evacuation with one candidate"
    );
    let coverage = &answer["coverage"];
    assert_eq!(coverage["summary"], "coverage: 100.0% of lines (4 of 4)");
    assert_eq!(coverage["run"], json!([1, 2, 3, 4]));
    assert_eq!(coverage["unrun"], json!([]));

    let (status, fixed) = post(
        &app,
        "/api/v1/scriptlets/cases",
        json!({"snapshot_id": 1, "source": FIXED, "cases": cases(), "coverage": false}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{fixed}");
    assert_eq!((&fixed["passed"], &fixed["failed"]), (&json!(2), &json!(0)));
    assert!(fixed.get("coverage").is_none());
}

#[tokio::test]
async fn cases_are_bounded_and_checked() {
    let app = TestApp::with_demo().await;
    let one = cases()[0].clone();
    let too_many: Vec<Value> = (0..201).map(|_| one.clone()).collect();
    let (status, answer) = post(
        &app,
        "/api/v1/scriptlets/cases",
        json!({"snapshot_id": 1, "source": FIXED, "cases": too_many}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("at most 200"),
        "{answer}"
    );
    let (status, _) = post(
        &app,
        "/api/v1/scriptlets/cases",
        json!({"snapshot_id": 9, "source": FIXED, "cases": []}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, answer) = post(
        &app,
        "/api/v1/scriptlets/cases",
        json!({"snapshot_id": 1, "source": FIXED, "cases": [{"name": "both", "expect": {}}]}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
}

#[tokio::test]
async fn a_fuzz_campaign_finds_the_failure_and_continues_from_its_state() {
    let app = TestApp::with_demo().await;
    let (status, first) = post(
        &app,
        "/api/v1/scriptlets/fuzz",
        json!({"snapshot_id": 1, "source": SCRIPTLET, "seed": 3, "time_ms": 500}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["incus_versions"], json!(["6.0.4"]));
    assert_eq!(first["seed"], 3);
    let rounds = first["rounds"].as_u64().unwrap();
    assert!(rounds >= 1 && first["calls"].as_u64().unwrap() > 0, "{first}");
    let (status, second) = post(
        &app,
        "/api/v1/scriptlets/fuzz",
        json!({"snapshot_id": 1, "source": SCRIPTLET, "time_ms": 500, "state": first["state"]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(second["seed"], 3, "a continued campaign keeps its seed");
    assert!(second["rounds"].as_u64().unwrap() > rounds);
    let failures = second["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{second}");
    let failure = &failures[0];
    assert_eq!(failure["kind"], "error");
    assert_eq!(failure["message"], "fail: no evacuation with one candidate");
    assert_eq!(failure["line"], 3);
    assert_eq!(failure["case"]["name"], "fuzz-1-error");
    assert_eq!(failure["case"]["expect"], json!({"placed": true}));
    assert_eq!(
        second["coverage"]["summary"],
        "coverage: 100.0% of lines (4 of 4)"
    );

    // The found case fails on the scriptlet and passes on the fixed one.
    for (source, passed) in [(SCRIPTLET, 0), (FIXED, 1)] {
        let (_, verdict) = post(
            &app,
            "/api/v1/scriptlets/cases",
            json!({"snapshot_id": 1, "source": source, "cases": [failure["case"].clone()]}),
        )
        .await;
        assert_eq!(verdict["passed"], passed, "{verdict}");
    }
}

#[tokio::test]
async fn fuzzing_refuses_what_it_cannot_run() {
    let app = TestApp::with_demo().await;
    let (status, answer) = post(
        &app,
        "/api/v1/scriptlets/fuzz",
        json!({"snapshot_id": 1, "source": "def instance_placement(request, candidate_members):\n    log_info(nope)\n"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["diagnostic"]["line"], 2, "{answer}");
    let (status, _) = post(
        &app,
        "/api/v1/scriptlets/fuzz",
        json!({"snapshot_id": 1, "source": FIXED, "incus_versions": ["six"]}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // A state out of the bounds a campaign keeps to (a client that forged one).
    let huge: Vec<String> = (0..1_001).map(|_| "00".to_owned()).collect();
    let forged = json!({"seed": 1, "rounds": 0, "calls": 0, "corpus": huge, "features": [], "failures": [], "truncated": false, "coverage": null});
    let (status, answer) = post(
        &app,
        "/api/v1/scriptlets/fuzz",
        json!({"snapshot_id": 1, "source": FIXED, "state": forged}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("too large"),
        "{answer}"
    );
}

#[tokio::test]
async fn only_authors_and_above_run_cases_and_the_fuzzer() {
    let app = TestApp::with_demo().await;
    for (role, expected) in [
        (Role::Viewer, StatusCode::FORBIDDEN),
        (Role::Author, StatusCode::OK),
    ] {
        let client = app.user(&format!("someone-{}", role.as_str()), role).await;
        for (uri, body) in [
            (
                "/api/v1/scriptlets/cases",
                json!({"snapshot_id": 1, "source": FIXED, "cases": []}),
            ),
            (
                "/api/v1/scriptlets/fuzz",
                json!({"snapshot_id": 1, "source": FIXED, "time_ms": 100}),
            ),
        ] {
            let response = app.send_as(&client, Method::POST, uri, Some(body)).await;
            assert_eq!(response.status, expected, "{uri} as {role}: {}", response.body);
        }
    }
    let anonymous = app
        .send_as(
            &support::Client::Anonymous,
            Method::POST,
            "/api/v1/scriptlets/fuzz",
            Some(json!({"snapshot_id": 1, "source": FIXED})),
        )
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_matrix_answers_the_lines_it_ran_when_asked() {
    let app = TestApp::with_demo().await;
    let body = |coverage: bool| json!({"snapshot_id": 1, "source": FIXED, "versions": ["6.0.4", "7.0"], "coverage": coverage});
    let (status, answer) = post(&app, "/api/v1/scriptlets/matrix", body(true)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        answer["coverage"]["summary"],
        "coverage: 100.0% of lines (2 of 2)"
    );
    assert_eq!(answer["coverage"]["run"], json!([1, 2]));
    let (status, answer) = post(&app, "/api/v1/scriptlets/matrix", body(false)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(answer.get("coverage").is_none(), "{answer}");
}
