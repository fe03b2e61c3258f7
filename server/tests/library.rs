//! What authors keep in Berth, over `/api/v1`: scriptlets with their revisions, snapshots
//! (upload, export, delete), connections; and the editor's sandbox run (diagnostics, the
//! upstream and corrected timelines, the difference in words).

use crate::support;

use axum::http::{header, Method, StatusCode};
use berth_app::types::Scenario;
use berth_core::access::Role;
use berth_server::services::sandbox;
use serde_json::json;
use support::TestApp;

const SOURCE: &str =
    "def instance_placement(request, candidate_members):\n    set_target(candidate_members[0].server_name)\n";

async fn audit_kinds(app: &TestApp) -> Vec<String> {
    let response = app.send_as(&app.admin, Method::GET, "/api/v1/audit", None).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    response
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["kind"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn scriptlets_keep_revisions_that_authors_add_and_viewers_read() {
    let app = TestApp::empty().await;
    let author = app.user("ann", Role::Author).await;
    let viewer = app.user("vic", Role::Viewer).await;

    let created = app
        .send_as(
            &author,
            Method::POST,
            "/api/v1/scriptlets",
            Some(json!({"name": "spread", "source": SOURCE})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let scriptlet = created.json();
    let id = scriptlet["id"].as_i64().unwrap();
    assert_eq!(scriptlet["revision"], 1);
    assert_eq!(scriptlet["source"], SOURCE);
    assert_eq!(scriptlet["revisions"][0]["author"], "ann");

    let again = app
        .send_as(
            &author,
            Method::POST,
            "/api/v1/scriptlets",
            Some(json!({"name": "spread"})),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.body);
    assert!(again.json()["error"].as_str().unwrap().contains("spread"));

    let revised = app
        .send_as(
            &author,
            Method::POST,
            &format!("/api/v1/scriptlets/{id}/revisions"),
            Some(json!({"source": "# second\n", "message": "shorter"})),
        )
        .await;
    assert_eq!(revised.status, StatusCode::CREATED, "{}", revised.body);
    assert_eq!(revised.json()["number"], 2);
    assert_eq!(revised.json()["message"], "shorter");

    // Viewers read, never write.
    let refused = app
        .send_as(
            &viewer,
            Method::POST,
            &format!("/api/v1/scriptlets/{id}/revisions"),
            Some(json!({"source": "# mine"})),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    let listed = app
        .send_as(&viewer, Method::GET, "/api/v1/scriptlets", None)
        .await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(listed.json()[0]["revisions"], 2);
    let newest = app
        .send_as(&viewer, Method::GET, &format!("/api/v1/scriptlets/{id}"), None)
        .await;
    assert_eq!(newest.json()["source"], "# second\n");
    assert_eq!(newest.json()["revisions"].as_array().unwrap().len(), 2);
    let first = app
        .send_as(
            &viewer,
            Method::GET,
            &format!("/api/v1/scriptlets/{id}/revisions/1"),
            None,
        )
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(
        (first.json()["number"].as_i64(), first.json()["source"].as_str()),
        (Some(1), Some(SOURCE))
    );
    let download = app
        .send_as(
            &viewer,
            Method::GET,
            &format!("/api/v1/scriptlets/{id}/revisions/1?download=true"),
            None,
        )
        .await;
    assert_eq!(download.body, SOURCE);
    assert!(download.headers[header::CONTENT_DISPOSITION]
        .to_str()
        .unwrap()
        .contains("spread-r1.star"));
    let missing = app
        .send_as(
            &viewer,
            Method::GET,
            &format!("/api/v1/scriptlets/{id}/revisions/9"),
            None,
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let malformed = app
        .send_as(&viewer, Method::GET, "/api/v1/scriptlets/abc", None)
        .await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert!(malformed.json()["error"].is_string(), "{}", malformed.body);

    let kinds = audit_kinds(&app).await;
    assert!(
        kinds.contains(&"scriptlet.created".to_owned()) && kinds.contains(&"scriptlet.revised".to_owned())
    );
}

#[tokio::test]
async fn snapshot_uploads_are_checked_whole_and_deleting_is_for_admins() {
    let app = TestApp::with_demo().await;
    let author = app.user("ann", Role::Author).await;
    let upload = |body: String| {
        let request = app
            .request(&author, Method::POST, "/api/v1/snapshots")
            .header(header::CONTENT_TYPE, "application/json")
            .body(axum::body::Body::from(body))
            .unwrap();
        app.send(request)
    };

    let broken = upload("{\"format\": \"berth.snapshot/v1\", \"members\": [".into()).await;
    assert_eq!(broken.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", broken.body);
    assert!(
        broken.json()["error"]
            .as_str()
            .unwrap()
            .starts_with("not a usable snapshot"),
        "{}",
        broken.body
    );
    let mut dangling = berth_core::demo::demo_snapshot();
    dangling.instances[0].location = "hv-nowhere".into();
    let refused = upload(serde_json::to_string(&dangling).unwrap()).await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    assert!(
        refused.body.contains("hv-nowhere"),
        "the reason names the culprit: {}",
        refused.body
    );
    assert_eq!(
        app.store.list_snapshots().await.unwrap().len(),
        1,
        "nothing stored"
    );

    let scaled = berth_core::demo::scale::scaled(20, 400, 7).to_json();
    let stored = upload(scaled.clone()).await;
    assert_eq!(stored.status, StatusCode::CREATED, "{}", stored.body);
    let id = stored.json()["id"].as_i64().unwrap();
    assert_eq!(
        (
            stored.json()["member_count"].as_i64(),
            stored.json()["new"].as_bool()
        ),
        (Some(20), Some(true))
    );
    let twice = upload(scaled.clone()).await;
    assert_eq!(
        (twice.status, twice.json()["id"].as_i64()),
        (StatusCode::OK, Some(id))
    );

    // An export is redacted unless an admin asks for the secrets.
    let redacted = app
        .send_as(&author, Method::GET, &format!("/api/v1/snapshots/{id}"), None)
        .await;
    assert!(berth_core::Snapshot::from_json(&redacted.body).is_ok());
    assert_ne!(redacted.body, scaled, "the demo has values to redact");
    for spelling in ["redact=true", "redact=1", "redact=yes", "redact="] {
        let same = app
            .send_as(
                &author,
                Method::GET,
                &format!("/api/v1/snapshots/{id}?{spelling}"),
                None,
            )
            .await;
        assert_eq!(same.body, redacted.body, "{spelling}");
    }
    for spelling in ["redact=false", "redact=0"] {
        let refused = app
            .send_as(
                &author,
                Method::GET,
                &format!("/api/v1/snapshots/{id}?{spelling}"),
                None,
            )
            .await;
        assert_eq!(
            refused.status,
            StatusCode::FORBIDDEN,
            "{spelling}: {}",
            refused.body
        );
        let plain = app
            .send_as(
                &app.admin,
                Method::GET,
                &format!("/api/v1/snapshots/{id}?{spelling}"),
                None,
            )
            .await;
        assert_eq!(
            plain.body, scaled,
            "an admin's export with the secrets is the stored file"
        );
    }
    let unclear = app
        .send_as(
            &author,
            Method::GET,
            &format!("/api/v1/snapshots/{id}?redact=maybe"),
            None,
        )
        .await;
    assert_eq!(unclear.status, StatusCode::BAD_REQUEST, "{}", unclear.body);
    let listed = app.send_as(&author, Method::GET, "/api/v1/snapshots", None).await;
    assert_eq!(listed.json().as_array().unwrap().len(), 2);

    let forbidden = app
        .send_as(&author, Method::DELETE, &format!("/api/v1/snapshots/{id}"), None)
        .await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    let deleted = app
        .send_as(
            &app.admin,
            Method::DELETE,
            &format!("/api/v1/snapshots/{id}"),
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    let gone = app
        .send_as(&author, Method::GET, &format!("/api/v1/snapshots/{id}"), None)
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    let kinds = audit_kinds(&app).await;
    assert!(kinds.contains(&"snapshot.added".to_owned()) && kinds.contains(&"snapshot.deleted".to_owned()));
}

#[tokio::test]
async fn a_snapshot_upload_may_be_larger_than_other_bodies() {
    let app = TestApp::empty().await;
    let big = berth_core::demo::scale::scaled(100, 5000, 3).to_json();
    assert!(
        big.len() > 2 << 20,
        "bigger than the API's usual limit: {}",
        big.len()
    );
    let request = app
        .request(&app.admin, Method::POST, "/api/v1/snapshots")
        .header(header::CONTENT_TYPE, "application/json")
        .body(axum::body::Body::from(big))
        .unwrap();
    let response = app.send(request).await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.body);
    assert_eq!(response.json()["instance_count"], 5000);
}

#[tokio::test]
async fn connections_are_an_admins_and_never_show_their_key() {
    let app = TestApp::empty().await;
    let author = app.user("ann", Role::Author).await;
    let unix = json!({"name": "lab", "remote": "unix:///var/lib/incus/unix.socket"});
    let refused = app
        .send_as(&author, Method::POST, "/api/v1/connections", Some(unix.clone()))
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    let added = app
        .send_as(
            &app.admin,
            Method::POST,
            "/api/v1/connections",
            Some(unix.clone()),
        )
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
    assert_eq!(added.json()["credential"], "unix socket");
    let again = app
        .send_as(&app.admin, Method::POST, "/api/v1/connections", Some(unix))
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);

    for (body, says) in [
        (
            json!({"name": "x", "remote": "ftp://host"}),
            "unix:///PATH or https://HOST:PORT",
        ),
        (
            json!({"name": "x", "remote": "https://192.0.2.1:8443"}),
            "exactly one",
        ),
        (
            json!({"name": "bad name!", "remote": "unix:///s"}),
            "letters, digits",
        ),
        (
            json!({"name": "x", "remote": "https://192.0.2.1:8443", "server_fingerprint": "ab",
                   "client_cert": "not pem", "client_key": "not pem"}),
            "",
        ),
    ] {
        let response = app
            .send_as(
                &app.admin,
                Method::POST,
                "/api/v1/connections",
                Some(body.clone()),
            )
            .await;
        assert_eq!(
            response.status,
            StatusCode::BAD_REQUEST,
            "{body}: {}",
            response.body
        );
        assert!(
            response.json()["error"].as_str().unwrap().contains(says),
            "{}",
            response.body
        );
    }

    let listed = app
        .send_as(&author, Method::GET, "/api/v1/connections", None)
        .await;
    assert_eq!(listed.json().as_array().unwrap().len(), 1);
    let unreachable = app
        .send_as(&author, Method::POST, "/api/v1/connections/lab/capture", None)
        .await;
    assert_eq!(
        unreachable.status,
        StatusCode::BAD_GATEWAY,
        "{}",
        unreachable.body
    );
    assert!(unreachable.json()["error"]
        .as_str()
        .unwrap()
        .starts_with("capture from lab failed"));
    let deleted = app
        .send_as(&app.admin, Method::DELETE, "/api/v1/connections/lab", None)
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let missing = app
        .send_as(&author, Method::POST, "/api/v1/connections/lab/capture", None)
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn simulate_takes_the_contracts_ops_and_answers_as_simulations() {
    let app = TestApp::with_demo().await;
    let op = json!({"kind": "create", "project": "default", "name": "n1"});
    let contract = app
        .post_json(
            "/api/v1/simulate",
            &json!({"snapshot_id": 1, "source": SOURCE, "mode": "upstream", "ops": [op]}),
        )
        .await;
    assert_eq!(contract.status, StatusCode::OK, "{}", contract.body);
    let older = app
        .post_json(
            "/api/v1/simulations",
            &json!({"snapshot_id": 1, "source": SOURCE, "operations": [op]}),
        )
        .await;
    assert_eq!(contract.json(), older.json());
    assert_eq!(contract.json()["calls"][0]["reason"], "new");
}

fn scenario(kind: &str, fields: &[(&str, &str)]) -> Scenario {
    let field = |name: &str| {
        fields
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.to_string())
            .unwrap_or_default()
    };
    Scenario {
        snapshot_id: Some(1),
        kind: kind.into(),
        project: field("project"),
        name: field("name"),
        target_project: field("target_project"),
        target: field("target"),
        member: field("member"),
        incus_version: field("version"),
        ops: field("ops"),
        call: field("call"),
    }
}

#[tokio::test]
async fn the_sandbox_shows_upstream_and_corrected_moves_and_their_difference() {
    let app = TestApp::with_demo().await;
    let source = berth_app::NEW_SCRIPTLET;
    let run = sandbox::run(
        &app.store,
        &app.state.sandbox,
        source,
        &scenario(
            "move",
            &[
                ("project", "default"),
                ("name", "proxy-01"),
                ("target_project", "web"),
                ("version", "6.6.0"),
            ],
        ),
    )
    .await
    .unwrap();
    assert!(
        run.diagnostics.iter().all(|d| d.severity != "error"),
        "{:?}",
        run.diagnostics
    );
    let upstream = run.upstream.expect("upstream timeline");
    let calls: Vec<(&str, &str, usize)> = upstream
        .calls
        .iter()
        .map(|c| (c.reason.as_str(), c.project.as_str(), c.candidates.len()))
        .collect();
    assert_eq!(
        calls,
        vec![("relocation", "default", 1), ("new", "web", 1)],
        "Incus 6.6 calls twice"
    );
    let corrected = run
        .corrected
        .expect("a cross-project move has a corrected timeline");
    let decision = &corrected.calls[0];
    assert_eq!(
        (decision.reason.as_str(), decision.project.as_str()),
        ("relocation", "web")
    );
    assert!(
        decision.candidates.len() > 1,
        "every eligible member: {:?}",
        decision.candidates
    );
    assert!(
        decision.excluded.iter().any(|e| e.reason.contains("Evacuated")),
        "{:?}",
        decision.excluded
    );
    assert!(decision
        .request
        .iter()
        .any(|(field, value)| field == "request.project" && value == "\"web\""));
    let said = run.differences.join(" ");
    assert!(said.contains("calls this scriptlet twice"), "{said}");
    assert!(said.contains("relocation with project default and a single candidate (validation only), then new with project web"), "{said}");
    assert!(said.contains("Berth decides once"), "{said}");

    // A create is one timeline; nothing to correct.
    let create = sandbox::run(&app.store, &app.state.sandbox, source, &scenario("create", &[]))
        .await
        .unwrap();
    assert_eq!(
        create.upstream.unwrap().calls[0].request[0],
        ("request.name".into(), "\"sandbox-new\"".into())
    );
    assert!(create.corrected.is_none() && create.differences.is_empty());
}

#[tokio::test]
async fn a_broken_scriptlet_shows_where_and_runs_nothing() {
    let app = TestApp::with_demo().await;
    let run = sandbox::run(
        &app.store,
        &app.state.sandbox,
        "def instance_placement(request, candidate_members):\n    x = (1,\n",
        &scenario("create", &[]),
    )
    .await
    .unwrap();
    let error = run
        .diagnostics
        .iter()
        .find(|d| d.severity == "error")
        .expect("an error");
    assert!(error.line.is_some() && error.column.is_some(), "{error:?}");
    assert!(run.upstream.is_none());

    let unknown = sandbox::run(&app.store, &app.state.sandbox, SOURCE, &scenario("move", &[]))
        .await
        .unwrap();
    assert_eq!(unknown.error.as_deref(), Some("pick the instance to move"));
    let sequence = sandbox::run(
        &app.store,
        &app.state.sandbox,
        SOURCE,
        &scenario(
            "",
            &[(
                "ops",
                r#"[{"kind":"create","project":"default","name":"a"},{"kind":"create","project":"default","name":"b"}]"#,
            )],
        ),
    )
    .await
    .unwrap();
    assert_eq!(
        sequence.upstream.unwrap().outcomes.len(),
        2,
        "a cumulative sequence"
    );
    let rebalance = sandbox::run(
        &app.store,
        &app.state.sandbox,
        SOURCE,
        &scenario(
            "rebalance",
            &[
                ("project", "default"),
                ("name", "monitoring-01"),
                ("version", "7.0.0"),
            ],
        ),
    )
    .await
    .unwrap();
    let calls = rebalance.upstream.expect("7.0 rebalances").calls;
    assert!(
        !calls.is_empty() && calls.iter().all(|call| call.reason == "rebalance"),
        "{calls:?}"
    );
    let bad_ops = sandbox::run(
        &app.store,
        &app.state.sandbox,
        SOURCE,
        &scenario("", &[("ops", "[{")]),
    )
    .await
    .unwrap();
    assert!(bad_ops.error.unwrap().starts_with("the operations are not valid"));
}

/// A scriptlet `name` with revisions of these sources, through the API; its id.
async fn scriptlet_with_revisions(app: &TestApp, name: &str, sources: &[String]) -> i64 {
    let created = app
        .post_json("/api/v1/scriptlets", &json!({"name": name, "source": sources[0]}))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.json()["id"].as_i64().unwrap();
    for source in &sources[1..] {
        let saved = app
            .post_json(
                &format!("/api/v1/scriptlets/{id}/revisions"),
                &json!({ "source": source }),
            )
            .await;
        assert_eq!(saved.status, StatusCode::CREATED, "{}", saved.body);
    }
    id
}

fn numbered_lines(prefix: &str, count: usize) -> String {
    (0..count).map(|n| format!("{prefix}{n} = {n}\n")).collect()
}

/// Runs `heavy` while asking `/healthz` again and again; its output, and how many health checks
/// were answered before it ended. Work done on the async runtime's thread (these tests run on
/// one) would answer none while it computes.
async fn answered_meanwhile<T>(app: &TestApp, heavy: impl std::future::Future<Output = T>) -> (T, usize) {
    let mut heavy = std::pin::pin!(heavy);
    let mut answered = 0;
    loop {
        tokio::select! {
            biased;
            output = &mut heavy => return (output, answered),
            health = app.get("/healthz") => {
                assert_eq!(health.status, StatusCode::OK);
                answered += 1;
            }
        }
    }
}

/// The most health checks answered meanwhile in up to three runs of `heavy`, stopping at the
/// first that reaches `bound`. One run is enough on a quiet machine. On a busy one (`make test`
/// runs the suites on the test bed beside this one) a run of work done off the runtime fell
/// short once (16 for the Cluster view on PostgreSQL); work done inline stays under the bound
/// in every run, so trying again keeps the test as strict.
async fn most_answered_meanwhile<T, F: std::future::Future<Output = T>>(
    app: &TestApp,
    bound: usize,
    mut heavy: impl FnMut() -> F,
) -> (T, usize) {
    let mut most = 0;
    for run in 1..=3 {
        let (output, answered) = answered_meanwhile(app, heavy()).await;
        most = most.max(answered);
        if most >= bound || run == 3 {
            return (output, most);
        }
    }
    unreachable!("the third run returns")
}

/// More health checks than a request's own awaits (its session, its reads and writes) leave
/// room for. Measured on both databases with the work computed inline: a diff let none
/// through, a snapshot's upload, export or view 0 to 13; off the runtime, 60 to 330 and 140 to
/// 620 — and 33 and 16 for the Cluster view on PostgreSQL, on a machine busy with other tests
/// (hence `most_answered_meanwhile`), so the bound sits above what inline work allows, not near
/// what a quiet machine reaches.
const ANSWERED_DURING_A_DIFF: usize = 5;
const ANSWERED_DURING_A_SNAPSHOT: usize = 20;

#[tokio::test]
async fn a_diff_of_revisions_too_long_to_compare_is_refused_with_the_reason() {
    let app = TestApp::empty().await;
    let viewer = app.user("vic", Role::Viewer).await;
    let limit = berth_server::services::scriptlets::MAX_DIFF_LINES;
    let id = scriptlet_with_revisions(
        &app,
        "long",
        &[numbered_lines("a", 3), numbered_lines("b", limit + 1)],
    )
    .await;
    let refused = app
        .send_as(
            &viewer,
            Method::GET,
            &format!("/api/scriptlet_diff?id={id}&from=1&to=2"),
            None,
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert!(
        refused.body.contains(&format!(
            "revision 2 has {} lines: Berth compares revisions of up to {limit} lines",
            limit + 1
        )),
        "{}",
        refused.body
    );
}

/// Two unrelated revisions at the line limit: Myers' algorithm is quadratic on them. The diff
/// is computed off the runtime under its deadline, and is still a correct diff.
#[tokio::test]
async fn a_long_diff_leaves_the_server_answering() {
    let app = TestApp::empty().await;
    let limit = berth_server::services::scriptlets::MAX_DIFF_LINES;
    let id = scriptlet_with_revisions(
        &app,
        "unrelated",
        &[numbered_lines("a", limit), numbered_lines("b", limit)],
    )
    .await;
    let (diff, answered) =
        answered_meanwhile(&app, app.get(&format!("/api/scriptlet_diff?id={id}&from=1&to=2"))).await;
    assert_eq!(diff.status, StatusCode::OK, "{}", diff.body);
    let diff = diff.json();
    assert_eq!(
        (diff["added"].as_u64(), diff["removed"].as_u64()),
        (Some(limit as u64), Some(limit as u64))
    );
    assert!(
        answered >= ANSWERED_DURING_A_DIFF,
        "{answered} health checks answered meanwhile"
    );
}

/// A large cluster's snapshot (5,000 instances, 8 MiB of JSON) uploaded, exported and shown on
/// the Cluster page: each parses or writes all of it, off the runtime.
#[tokio::test]
async fn large_snapshots_are_read_and_written_while_the_server_answers() {
    let app = TestApp::empty().await;
    // Each run uploads another cluster (another seed): the same one again is not stored again.
    let mut seed = 2;
    let mut upload = || {
        seed += 1;
        let big = berth_core::demo::scale::scaled(100, 5000, seed).to_json();
        app.request(&app.admin, Method::POST, "/api/v1/snapshots")
            .header(header::CONTENT_TYPE, "application/json")
            .body(axum::body::Body::from(big))
            .unwrap()
    };
    let (uploaded, answered) =
        most_answered_meanwhile(&app, ANSWERED_DURING_A_SNAPSHOT, || app.send(upload())).await;
    assert_eq!(uploaded.status, StatusCode::CREATED, "{}", uploaded.body);
    assert!(
        answered >= ANSWERED_DURING_A_SNAPSHOT,
        "upload: {answered} answered meanwhile"
    );
    let id = uploaded.json()["id"].as_i64().unwrap();

    let export = format!("/api/v1/snapshots/{id}");
    let (exported, answered) =
        most_answered_meanwhile(&app, ANSWERED_DURING_A_SNAPSHOT, || app.get(&export)).await;
    assert_eq!(exported.status, StatusCode::OK);
    assert!(exported.body.len() > 2 << 20);
    assert!(
        answered >= ANSWERED_DURING_A_SNAPSHOT,
        "export: {answered} answered meanwhile"
    );

    let cluster_view = format!("/api/cluster_view?snapshot_id={id}");
    let (view, answered) =
        most_answered_meanwhile(&app, ANSWERED_DURING_A_SNAPSHOT, || app.get(&cluster_view)).await;
    assert_eq!(view.status, StatusCode::OK, "{}", view.body);
    assert_eq!(view.json()["members"].as_array().unwrap().len(), 100);
    assert!(
        answered >= ANSWERED_DURING_A_SNAPSHOT,
        "cluster view: {answered} answered meanwhile"
    );
}
