//! The reason × version matrix through `POST /api/v1/scriptlets/matrix` and the editor's Matrix
//! tab, on the demo in a real store (SQLite, or PostgreSQL with `BERTH_TEST_DATABASE=postgres`)
//! with real sandbox workers: the same document as `berth check --matrix --json`, a saved
//! revision as well as a text, the statuses of what is asked wrongly, who may run it, what a
//! hostile scriptlet costs, and what it may leak.

use crate::support;

use std::process::Command;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use berth_core::access::Role;
use berth_core::matrix::{parse_versions, plan, CallOutcome, Picks};
use berth_server::sandbox::{JobSnapshot, Sandbox, SandboxConfig};
use serde_json::{json, Value};
use support::TestApp;

/// Fails on the second call Incus 6.6 makes for a cross-project move (a `new` call for the
/// copy), places everything else on the first candidate.
const COPIES_FAIL: &str = "def instance_placement(request, candidate_members):\n    \
                           if request.reason == \"new\" and request.source.type == \"copy\":\n        \
                           fail(\"copies are not placed here\")\n    \
                           if candidate_members:\n        \
                           set_target(candidate_members[0].server_name)\n";

const ROUTE: &str = "/api/v1/scriptlets/matrix";

async fn matrix(app: &TestApp, body: Value) -> Value {
    let response = app.post_json(ROUTE, &body).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    response.json()
}

fn failing_cells(matrix: &Value) -> Vec<(String, String)> {
    matrix["cells"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|cell| {
            cell["calls"]
                .as_array()
                .unwrap()
                .iter()
                .any(|call| ["error", "non_candidate", "limit"].contains(&call["outcome"].as_str().unwrap()))
        })
        .map(|cell| {
            (
                cell["situation"].as_str().unwrap().to_owned(),
                cell["version"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_route_answers_what_berth_check_matrix_prints() {
    let app = TestApp::with_demo().await;
    let versions = ["6.0.4", "6.6", "7.0"];
    let answer = matrix(
        &app,
        json!({"snapshot_id": 1, "source": COPIES_FAIL, "versions": versions}),
    )
    .await;
    assert_eq!(
        failing_cells(&answer),
        [
            ("move-project".to_owned(), "6.6".to_owned()),
            ("move-project-member".to_owned(), "6.6".to_owned())
        ]
    );

    let dir = tempfile::tempdir().unwrap();
    let snapshot = dir.path().join("demo.json");
    std::fs::write(&snapshot, berth_core::demo::demo_snapshot().to_json()).unwrap();
    let scriptlet = dir.path().join("placement.star");
    std::fs::write(&scriptlet, COPIES_FAIL).unwrap();
    let printed = Command::new(env!("CARGO_BIN_EXE_berth"))
        .arg("check")
        .arg(&scriptlet)
        .arg("--snapshot")
        .arg(&snapshot)
        .args(["--matrix", "--versions", &versions.join(","), "--json"])
        .output()
        .unwrap();
    assert_eq!(printed.status.code(), Some(1));
    let printed: Value = serde_json::from_slice(&printed.stdout).unwrap();
    assert_eq!(answer, printed);

    // Without versions: the snapshot's own, 6.6 and 7.0, as the command line's default.
    let default = matrix(&app, json!({"snapshot_id": 1, "source": COPIES_FAIL})).await;
    assert_eq!(default["versions"], json!(["6.0.4", "6.6", "7.0"]));
}

#[tokio::test]
async fn a_saved_revision_and_a_chosen_instance_are_run_too() {
    let app = TestApp::with_demo().await;
    let created = app
        .post_json(
            "/api/v1/scriptlets",
            &json!({"name": "copies", "source": COPIES_FAIL, "message": "first"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.json()["id"].as_i64().unwrap();
    let saved = matrix(
        &app,
        json!({"snapshot_id": 1, "scriptlet": id, "revision": 1, "versions": ["6.6"],
               "instances": {"evacuate": "web/api-01"}}),
    )
    .await;
    let newest = matrix(
        &app,
        json!({"snapshot_id": 1, "scriptlet": id, "versions": ["6.6"], "instances": {"evacuate": "web/api-01"}}),
    )
    .await;
    let given = matrix(
        &app,
        json!({"snapshot_id": 1, "source": COPIES_FAIL, "versions": ["6.6"], "instances": {"evacuate": "web/api-01"}}),
    )
    .await;
    assert_eq!(saved, given);
    assert_eq!(newest, given);
    let evacuate = given["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|cell| cell["situation"] == "evacuate")
        .unwrap();
    assert_eq!(evacuate["instance"], "web/api-01");
    assert_eq!(evacuate["operations"][0]["kind"], "evacuate");
}

#[tokio::test]
async fn what_is_asked_wrongly_is_refused_with_its_status() {
    let app = TestApp::with_demo().await;
    let source = COPIES_FAIL;
    for (body, status) in [
        (
            json!({"snapshot_id": 42, "source": source}),
            StatusCode::NOT_FOUND,
        ),
        (json!({"snapshot_id": 1, "scriptlet": 42}), StatusCode::NOT_FOUND),
        (
            json!({"snapshot_id": 1, "source": source, "versions": ["six"]}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"snapshot_id": 1, "source": source, "versions": ["6.6", "6.6.0"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"snapshot_id": 1, "source": source,
                   "versions": ["6.0.1", "6.0.2", "6.0.3", "6.0.4", "6.0.5", "6.6", "6.7", "6.8", "7.0"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"snapshot_id": 1, "source": source, "instances": {"evacuate": "web/nope"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"snapshot_id": 1, "source": source, "instances": {"teleport": "web/api-01"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (json!({"snapshot_id": 1}), StatusCode::UNPROCESSABLE_ENTITY),
        (
            json!({"snapshot_id": 1, "source": source, "scriptlet": 1}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"snapshot_id": 1, "source": source, "version": ["6.6"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        let response = app.post_json(ROUTE, &body).await;
        assert_eq!(response.status, status, "{body}: {}", response.body);
        assert!(response.json()["error"].is_string(), "{}", response.body);
    }
    // A snapshot whose version Berth cannot read needs the versions named.
    let mut odd = berth_core::demo::demo_snapshot();
    odd.server.environment.server_version = "6.0.4-debian".into();
    let odd_id = app.insert_snapshot(&odd).await;
    let response = app
        .post_json(ROUTE, &json!({"snapshot_id": odd_id, "source": source}))
        .await;
    assert_eq!(response.status, StatusCode::BAD_REQUEST, "{}", response.body);
    assert!(response.body.contains("name the versions"), "{}", response.body);
    let named = app
        .post_json(
            ROUTE,
            &json!({"snapshot_id": odd_id, "source": source, "versions": ["6.0.4"]}),
        )
        .await;
    assert_eq!(named.status, StatusCode::OK, "{}", named.body);
}

#[tokio::test]
async fn authors_run_the_matrix_and_viewers_may_not() {
    let app = TestApp::with_demo().await;
    let body = json!({"snapshot_id": 1, "source": COPIES_FAIL, "versions": ["6.0.4"]});
    let viewer = app.user("vera", Role::Viewer).await;
    let response = app
        .send_as(&viewer, Method::POST, ROUTE, Some(body.clone()))
        .await;
    assert_eq!(response.status, StatusCode::FORBIDDEN);
    let anonymous = app
        .send_as(
            &support::Client::Anonymous,
            Method::POST,
            ROUTE,
            Some(body.clone()),
        )
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let author = app.user("ada", Role::Author).await;
    let token = app.token_for(&author, "ci").await;
    let response = app.send_as(&token, Method::POST, ROUTE, Some(body)).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
}

/// A scriptlet that never returns costs the matrix's budget, not a budget per cell: once the
/// whole matrix's time is spent, the workers stop each remaining cell before its first call.
#[tokio::test]
async fn a_scriptlet_that_never_returns_costs_one_budget_for_the_whole_matrix() {
    let mut config = SandboxConfig::new(env!("CARGO_BIN_EXE_berth").into());
    config.workers = 2;
    config.time_limit = Duration::from_millis(500);
    config.simulation_budget = Duration::from_secs(2);
    config.limits.max_steps = u64::MAX;
    let sandbox = Sandbox::new(config);
    let snapshot = berth_core::demo::demo_snapshot();
    let text = snapshot.to_json();
    let planned = plan(
        &snapshot,
        &parse_versions("6.0.4,6.6,7.0").unwrap(),
        &Picks::new(),
    )
    .unwrap();
    let endless = "def instance_placement(request, candidate_members):\n    \
                   for i in range(1000000000):\n        pass\n";
    let answer = berth_server::matrix::run(
        &sandbox,
        JobSnapshot::new(&snapshot.content_hash(), &text),
        endless,
        &planned,
    )
    .await
    .unwrap();
    assert_eq!(answer.cells.len(), 22);
    // Each call that runs takes its whole time limit (0.5 s); a worker starts calls only while
    // the 2 s budget lasts: at most 5 each, 10 in all, whatever the machine's speed.
    let called = answer
        .cells
        .iter()
        .filter(|cell| cell.calls.iter().any(|call| call.outcome == CallOutcome::Limit))
        .count();
    let stopped = answer.cells.iter().filter(|cell| cell.stopped.is_some()).count();
    assert!(called <= 10, "{called} cells made their call");
    assert_eq!(called + stopped, 22, "{:?}", answer.cells);
    assert!(answer.cells.iter().all(|cell| cell.fails()));
    let stop = answer
        .cells
        .iter()
        .find_map(|cell| cell.stopped.as_deref())
        .unwrap();
    assert!(stop.contains("budget of 2 s"), "{stop}");
}

/// What a scriptlet raises, and a member name it makes up, can quote a snapshot's secrets: the
/// answer is redacted, as every answer built from a snapshot is.
#[tokio::test]
async fn secrets_a_scriptlet_quotes_are_redacted() {
    let app = TestApp::empty().await;
    let mut snapshot = berth_core::demo::demo_snapshot();
    let planted = "planted-matrix-secret-5e5e";
    let index = snapshot
        .instances
        .iter()
        .position(|i| i.project == "default" && i.profiles == ["default"] && i.status == "Stopped")
        .unwrap();
    let instance = &mut snapshot.instances[index];
    for config in [&mut instance.config, &mut instance.expanded_config] {
        config.insert("environment.DB_PASSWORD".into(), planted.into());
    }
    let key = format!("{}/{}", instance.project, instance.name);
    let id = app.insert_snapshot(&snapshot).await;
    let source = "def instance_placement(request, candidate_members):\n    \
                  secret = request.config.get(\"environment.DB_PASSWORD\", \"\")\n    \
                  if request.reason == \"relocation\":\n        \
                  set_target(secret)\n        \
                  return\n    \
                  fail(\"leaking \" + secret)\n";
    let instances: serde_json::Map<String, Value> = [
        "create",
        "create-member",
        "move-member",
        "move-project",
        "evacuate",
    ]
    .into_iter()
    .map(|situation| (situation.to_owned(), json!(key)))
    .collect();
    let response = app
        .post_json(
            ROUTE,
            &json!({"snapshot_id": id, "source": source, "versions": ["6.6", "6.0.4"], "instances": instances}),
        )
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    assert!(!response.body.contains(planted), "{}", response.body);
    assert!(response.body.contains("[redacted: "), "{}", response.body);
    // The made-up member is no member: the outcome says so without naming it.
    let answer = response.json();
    let relocations: Vec<&Value> = answer["cells"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|cell| cell["calls"].as_array().unwrap())
        .filter(|call| call["reason"] == "relocation")
        .collect();
    assert!(!relocations.is_empty());
    for call in relocations {
        assert_eq!(call["outcome"], "non_candidate", "{call}");
        assert!(call.get("member").is_none(), "{call}");
    }
}

/// The editor's Matrix tab: rendered on the server from the URL (so a link shows the same
/// matrix), a table of situations × versions whose failing cells say so in words.
#[tokio::test]
async fn the_matrix_tab_renders_the_table_from_the_url() {
    let app = TestApp::with_demo().await;
    let created = app
        .post_json(
            "/api/v1/scriptlets",
            &json!({"name": "copies", "source": COPIES_FAIL, "message": "first"}),
        )
        .await;
    let id = created.json()["id"].as_i64().unwrap();
    let page = app
        .get(&format!(
            "/scriptlets/{id}?tab=matrix&versions=6.0.4,6.6,7.0&pick-evacuate=web/api-01"
        ))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let body = &page.body;
    assert!(body.contains("data-test=\"matrix-table\""), "{body}");
    assert_eq!(body.matches("data-test=\"matrix-cell\"").count(), 22, "{body}");
    assert_eq!(body.matches("data-outcome=\"fails\"").count(), 2);
    assert!(
        body.contains("data-version=\"6.6\" data-situation=\"move-project\""),
        "{body}"
    );
    assert!(body.contains("copies are not placed here"));
    assert!(body.contains("value=\"web/api-01\""), "{body}");
}
