//! Impact replays over HTTP: `POST /api/v1/impact` for scripts, answered whole, and the Impact
//! page's event stream `GET /api/v1/impact/events`, with saved revisions and the live
//! scriptlet, against the demo snapshot in a real store, the work in real sandbox workers.

use crate::support;

use axum::http::{Method, StatusCode};
use berth_core::access::Role;
use serde_json::json;
use support::TestApp;

/// The first candidate outside `nvme`.
const BEFORE: &str = "def instance_placement(request, candidate_members):\n    others = [m.server_name for m in candidate_members if \"nvme\" not in m.groups]\n    if others:\n        set_target(others[0])\n";
/// The same, but `user.app=api` refused.
const AFTER: &str = "def instance_placement(request, candidate_members):\n    if request.config.get(\"user.app\", \"\") == \"api\":\n        fail(\"api is frozen\")\n    others = [m.server_name for m in candidate_members if \"nvme\" not in m.groups]\n    if others:\n        set_target(others[0])\n";

fn api_instances() -> Vec<String> {
    let mut names: Vec<String> = berth_core::demo::demo_snapshot()
        .instances
        .iter()
        .filter(|i| i.expanded_config.get("user.app").map(String::as_str) == Some("api"))
        .map(|i| format!("{}/{}", i.project, i.name))
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn a_script_posts_two_revisions_and_gets_every_changed_decision() {
    let app = TestApp::with_demo().await;
    let response = app
        .post_json(
            "/api/v1/impact",
            &json!({"snapshot_id": 1, "from": {"source": BEFORE}, "to": {"source": AFTER}}),
        )
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    let impact = response.json();
    let changed: Vec<String> = impact["changed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["instance"].as_str().unwrap().to_owned())
        .collect();
    let api = api_instances();
    assert_eq!(changed, api);
    assert_eq!(impact["new_errors"], api.len());
    assert_eq!(
        impact["summary"],
        format!("320 instances, {} changed, {} new errors", api.len(), api.len())
    );
    assert!(impact["changed"][0]["to"]["error"]
        .as_str()
        .unwrap()
        .contains("api is frozen"));
    assert!(!impact["changed"][0]["from"]["candidates"]
        .as_array()
        .unwrap()
        .is_empty());

    // Against itself: nothing changes.
    let same = app
        .post_json(
            "/api/v1/impact",
            &json!({"snapshot_id": 1, "from": {"source": AFTER}, "to": {"source": AFTER}, "scenario": "evacuation", "scope": "project=web"}),
        )
        .await;
    assert_eq!(same.status, StatusCode::OK, "{}", same.body);
    assert_eq!(same.json()["changed"], json!([]));
    assert_eq!(same.json()["scope"], "project=web");

    // A revision that does not compile: 422 with the diagnostic, naming which revision.
    let broken = app
        .post_json(
            "/api/v1/impact",
            &json!({"snapshot_id": 1, "from": {"source": BEFORE}, "to": {"source": "def instance_placement(:\n"}}),
        )
        .await;
    assert_eq!(broken.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", broken.body);
    assert!(
        broken.json()["error"]
            .as_str()
            .unwrap()
            .contains("the to revision"),
        "{}",
        broken.body
    );
    assert_eq!(broken.json()["diagnostic"]["line"], 1);

    // A scope that is not one, and a snapshot that does not exist.
    let scope = app
        .post_json(
            "/api/v1/impact",
            &json!({"snapshot_id": 1, "from": {"live": true}, "to": {"source": AFTER}, "scope": "rack=a"}),
        )
        .await;
    assert_eq!(scope.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", scope.body);
    let missing = app
        .post_json(
            "/api/v1/impact",
            &json!({"snapshot_id": 9, "from": {"live": true}, "to": {"source": AFTER}}),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    // Viewers may look, not run replays.
    let viewer = app.user("vic", Role::Viewer).await;
    let refused = app
        .send_as(
            &viewer,
            Method::POST,
            "/api/v1/impact",
            Some(json!({"snapshot_id": 1, "from": {"live": true}, "to": {"source": AFTER}})),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_page_stream_reports_progress_then_the_replay_of_saved_revisions() {
    let app = TestApp::with_demo().await;
    let created = app
        .post_json("/api/v1/scriptlets", &json!({"name": "spread", "source": BEFORE}))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.json()["id"].as_i64().unwrap();
    let saved = app
        .post_json(
            &format!("/api/v1/scriptlets/{id}/revisions"),
            &json!({"source": AFTER, "message": "freeze api"}),
        )
        .await;
    assert_eq!(saved.status, StatusCode::CREATED, "{}", saved.body);

    let stream = app
        .get(&format!(
            "/api/v1/impact/events?snapshot=1&scriptlet={id}&from=1&to=2&scope=label%3Dapp%3Dapi"
        ))
        .await;
    assert_eq!(stream.status, StatusCode::OK, "{}", stream.body);
    assert_eq!(stream.headers["content-type"], "text/event-stream");
    let events: Vec<(&str, serde_json::Value)> = stream
        .body
        .split("\n\n")
        .filter_map(|block| {
            let name = block.lines().find_map(|l| l.strip_prefix("event: "))?;
            let data = block.lines().find_map(|l| l.strip_prefix("data: "))?;
            Some((name, serde_json::from_str(data).unwrap()))
        })
        .collect();
    let (last, result) = events.last().unwrap();
    assert_eq!(*last, "result", "{}", stream.body);
    let progress: Vec<&serde_json::Value> = events
        .iter()
        .filter(|(n, _)| *n == "progress")
        .map(|(_, d)| d)
        .collect();
    assert!(
        progress.len() >= 2,
        "a start and at least one shard: {progress:?}"
    );
    let final_progress = progress.last().unwrap();
    assert_eq!(final_progress["instances_done"], final_progress["instances"]);
    assert_eq!(final_progress["instances"], api_instances().len());
    assert_eq!(result["instances"], api_instances().len());
    assert_eq!(result["new_errors"], api_instances().len());

    // A revision that is not there is the stream's own status.
    let missing = app
        .get(&format!(
            "/api/v1/impact/events?snapshot=1&scriptlet={id}&from=1&to=7"
        ))
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "{}", missing.body);
    assert!(missing.body.contains("has no revision 7"));
}

/// The sandbox's workers compile scriptlets for replays: decisions only, pure helpers
/// memoized per cluster state (`engine::memo`). Their replay must decide exactly as the
/// scriptlet compiled for authors does, in process, in both scenarios (an evacuation changes
/// the cluster between calls, so its helpers are recomputed).
#[tokio::test]
async fn a_sandbox_replay_decides_as_the_authors_scriptlet_does_in_process() {
    use berth_core::engine::{compile, IncusVersion, Limits};
    use berth_core::impact::{replay_shard, shards, Impact, Scenario, Scope};
    use berth_core::simulate::{Mode, Simulator};
    use berth_server::impact::Replay;
    use berth_server::sandbox::{JobSnapshot, Sandbox, SandboxConfig};

    let snapshot = berth_core::demo::scale::scaled(12, 400, 7);
    let from = include_str!("../../core/benches/fixtures/spread_by_free_memory.star");
    let to = from.replace("* 8 * GIB", "* 1 * GIB");
    let version = IncusVersion::DEFAULT;
    let compiled = |source: &str| {
        compile(source, version, &Limits::default(), &|| false)
            .expect("compiles")
            .expect("not empty")
    };
    let (from_scriptlet, to_scriptlet) = (compiled(from), compiled(&to));
    let sandbox = Sandbox::new(SandboxConfig::new(env!("CARGO_BIN_EXE_berth").into()));
    let (json, hash) = (snapshot.to_json(), snapshot.content_hash());

    for scenario in [Scenario::New, Scenario::Evacuation] {
        let mut expected = Impact::new(&snapshot, scenario, Scope::All);
        let (mut working, mut cluster) = (
            snapshot.clone(),
            berth_core::engine::PreparedCluster::new(&snapshot),
        );
        for shard in shards(&snapshot, &Scope::All, scenario, 50) {
            expected.add(replay_shard(
                &Simulator::new(Some(&from_scriptlet), version, Mode::Upstream),
                &Simulator::new(Some(&to_scriptlet), version, Mode::Upstream),
                &mut working,
                &mut cluster,
                scenario,
                &shard,
            ));
        }
        let replay = Replay {
            snapshot: &snapshot,
            job_snapshot: JobSnapshot::new(&hash, &json),
            version,
            from,
            to: &to,
            scenario,
            scope: Scope::All,
            coverage: false,
        };
        let replayed = replay.run(&sandbox, |_| {}).await.expect("the replay runs");
        assert!(
            !expected.changed.is_empty(),
            "{scenario:?}: the revisions differ somewhere"
        );
        assert_eq!(replayed, expected, "{scenario:?}");
    }
}
