//! The router through its public routes: pages rendered on the server, server functions,
//! health and static files, over a real SQLite store.

use crate::support;

use axum::http::StatusCode;
use support::TestApp;

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

#[tokio::test]
async fn healthz_answers_when_the_database_does() {
    let app = TestApp::empty().await;
    let response = app.get("/healthz").await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.body, "ok\n");
}

#[tokio::test]
async fn the_cluster_page_renders_every_member_of_the_demo() {
    let app = TestApp::with_demo().await;
    let response = app.get("/").await;
    assert_eq!(response.status, StatusCode::OK);
    let snapshot = berth_core::demo::demo_snapshot();
    for member in &snapshot.members {
        assert!(
            response
                .body
                .contains(&format!("data-member=\"{}\"", member.server_name)),
            "{}",
            member.server_name
        );
    }
    assert!(response.body.contains("<title>Cluster · Berth</title>"));
    assert!(
        response.body.contains("/pkg/berth.js"),
        "the hydration script is linked"
    );
    assert!(response.body.contains("data-status=\"Offline\""));
    assert_eq!(response.headers["x-frame-options"], "DENY");
    assert_eq!(response.headers["x-content-type-options"], "nosniff");
}

#[tokio::test]
async fn a_group_in_the_url_renders_only_that_group() {
    let app = TestApp::with_demo().await;
    let response = app.get("/?group=edge").await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(count(&response.body, "data-test=\"group-section\""), 1);
    let section = response
        .body
        .split('<')
        .find(|tag| tag.contains("data-test=\"group-section\""))
        .unwrap();
    assert!(section.contains("data-group=\"edge\""), "{section}");
    assert_eq!(count(&response.body, "data-test=\"member\""), 4);
}

#[tokio::test]
async fn a_missing_snapshot_is_a_404_with_the_reason() {
    let app = TestApp::with_demo().await;
    let response = app.get("/?snapshot=999").await;
    assert_eq!(response.status, StatusCode::NOT_FOUND);
    assert!(response.body.contains("there is no snapshot 999"));
}

#[tokio::test]
async fn an_empty_store_says_how_to_load_the_demo() {
    let app = TestApp::empty().await;
    let response = app.get("/").await;
    assert_eq!(response.status, StatusCode::NOT_FOUND);
    assert!(
        response.body.contains("start berth with --demo"),
        "{}",
        response.body
    );
}

#[tokio::test]
async fn the_server_function_returns_the_cluster_view_as_json() {
    let app = TestApp::with_demo().await;
    let response = app.get("/api/cluster_view?snapshot_id=1").await;
    assert_eq!(response.status, StatusCode::OK);
    let view: berth_app::types::ClusterView = serde_json::from_str(&response.body).unwrap();
    assert_eq!(view.members.len(), 14);
    assert_eq!(view.snapshot.instance_count, 320);
    let ci = view.projects.iter().find(|p| p.name == "ci").unwrap();
    assert!(ci.restricted);
    assert_eq!(ci.cluster_groups, vec!["rack-b"]);
    let offline = view.members.iter().find(|m| m.status == "Offline").unwrap();
    assert_eq!(
        offline.memory, None,
        "no figures for a member that did not answer"
    );
    assert!(offline.instances > 0);
}

#[tokio::test]
async fn unknown_pages_are_404_and_static_files_are_served() {
    let app = TestApp::with_demo().await;
    let missing = app.get("/no-such-page").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.body.contains("Not found"));
    let css = app.get("/pkg/berth.css").await;
    assert_eq!(css.status, StatusCode::OK);
    assert_eq!(css.body, "body {}");
}

/// `/api/v1` answers every rejection as `{"error": "…"}`; returns the message.
fn api_error(response: &support::TestResponse, status: StatusCode) -> String {
    assert_eq!(response.status, status, "{}", response.body);
    assert_eq!(response.headers["content-type"], "application/json");
    let body: serde_json::Value = serde_json::from_str(&response.body).expect("a JSON error");
    body["error"].as_str().expect("an error message").to_owned()
}

#[tokio::test]
async fn every_api_rejection_has_the_same_shape_and_its_own_status() {
    let app = TestApp::with_demo().await;
    let check = "/api/v1/scriptlets/check";
    let json = Some("application/json");
    let malformed = app.post_bytes(check, json, b"{\"source\": ".to_vec()).await;
    assert!(api_error(&malformed, StatusCode::BAD_REQUEST).contains("EOF"));
    let wrong_type = app.post_bytes(check, json, b"{\"source\": 1}".to_vec()).await;
    assert!(api_error(&wrong_type, StatusCode::UNPROCESSABLE_ENTITY).contains("invalid type"));
    let missing = app.post_bytes(check, json, b"{}".to_vec()).await;
    assert!(api_error(&missing, StatusCode::UNPROCESSABLE_ENTITY).contains("missing field `source`"));
    let not_json = app.post_bytes(check, None, b"{\"source\": \"\"}".to_vec()).await;
    api_error(&not_json, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let mut large = b"{\"source\": \"".to_vec();
    large.resize(3 << 20, b'x');
    large.extend_from_slice(b"\"}");
    let too_large = app.post_bytes(check, json, large).await;
    assert_eq!(
        api_error(&too_large, StatusCode::PAYLOAD_TOO_LARGE),
        "the request body is over the limit of 2 MiB"
    );
    let bad_query = app.get("/api/v1/scriptlets/schema?incus_version=seven").await;
    assert!(api_error(&bad_query, StatusCode::BAD_REQUEST).contains("is not an Incus version"));
    let wrong_operation = app
        .post_json(
            "/api/v1/simulations",
            &serde_json::json!({"snapshot_id": 1, "source": "", "operations": [{"kind": "teleport"}]}),
        )
        .await;
    assert!(api_error(&wrong_operation, StatusCode::UNPROCESSABLE_ENTITY).contains("teleport"));
}

#[tokio::test]
async fn an_unreadable_incus_version_is_a_400_everywhere() {
    let app = TestApp::with_demo().await;
    let source = "def instance_placement(request, candidate_members):\n    pass\n";
    let evaluate = serde_json::json!({
        "snapshot_id": 1, "source": source, "incus_version": "six",
        "request": {"reason": "new", "project": "web", "name": "x"}, "candidates": ["hv-a01"],
    });
    let simulate = serde_json::json!({
        "snapshot_id": 1, "source": source, "incus_version": "6.x",
        "operations": [{"kind": "create", "project": "web", "name": "x"}],
    });
    for (uri, body) in [
        (
            "/api/v1/scriptlets/check",
            serde_json::json!({"source": source, "incus_version": "latest"}),
        ),
        ("/api/v1/scriptlets/evaluate", evaluate),
        ("/api/v1/simulations", simulate),
    ] {
        let response = app.post_json(uri, &body).await;
        assert!(
            api_error(&response, StatusCode::BAD_REQUEST).contains("is not an Incus version"),
            "{uri}"
        );
    }
}

#[tokio::test]
async fn an_empty_incus_version_or_local_member_means_the_default() {
    let app = TestApp::with_demo().await;
    let source = "def instance_placement(request, candidate_members):\n    log_info(request.name)\n";
    let evaluate = serde_json::json!({
        "snapshot_id": 1, "source": source, "incus_version": "", "local_member": "",
        "request": {"reason": "new", "project": "web", "name": "x"}, "candidates": ["hv-a01"],
    });
    let response = app.post_json("/api/v1/scriptlets/evaluate", &evaluate).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    let simulate = serde_json::json!({
        "snapshot_id": 1, "source": source, "incus_version": "",
        "operations": [{"kind": "create", "project": "web", "name": "x"}],
    });
    let response = app.post_json("/api/v1/simulations", &simulate).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    let simulation: serde_json::Value = serde_json::from_str(&response.body).unwrap();
    assert_eq!(simulation["incus_version"], "6.0.4", "the snapshot's version");
    let check = serde_json::json!({"source": source, "incus_version": ""});
    let response = app.post_json("/api/v1/scriptlets/check", &check).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
}

#[tokio::test]
async fn a_snapshot_whose_version_berth_cannot_read_needs_an_explicit_one() {
    let app = TestApp::empty().await;
    let mut snapshot = berth_core::demo::demo_snapshot();
    snapshot.server.environment.server_version = "6.0.4-1ubuntu2".into();
    let id = app.insert_snapshot(&snapshot).await;
    let mut body = serde_json::json!({
        "snapshot_id": id,
        "source": "def instance_placement(request, candidate_members):\n    set_target(\"hv-a02\")\n",
        "request": {"reason": "new", "project": "web", "name": "x"}, "candidates": ["hv-a02"],
    });
    let response = app.post_json("/api/v1/scriptlets/evaluate", &body).await;
    assert_eq!(
        api_error(&response, StatusCode::BAD_REQUEST),
        format!("snapshot {id} reports Incus version \"6.0.4-1ubuntu2\", which Berth cannot read; pass incus_version")
    );
    body["incus_version"] = "6.0.4".into();
    let response = app.post_json("/api/v1/scriptlets/evaluate", &body).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
}

#[tokio::test]
async fn a_body_over_the_limit_is_answered_413_on_a_real_connection() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let app = TestApp::empty().await;
    let support::Client::Token(token) = app.token_for(&app.admin, "socket").await else {
        unreachable!()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let router = app.router();
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    // Far more than the socket buffers hold: the server must read it for the send to finish.
    let body = vec![b' '; 24 << 20];
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let head = format!(
        "POST /api/v1/scriptlets/check HTTP/1.1\r\nhost: berth\r\nauthorization: Bearer {token}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream
        .write_all(&body)
        .await
        .expect("the whole body is accepted, not reset");
    let mut answer = vec![0; 4096];
    let read = stream.read(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer[..read]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        answer.contains("\"error\":\"the request body is over the limit of 2 MiB\""),
        "{answer}"
    );
    server.abort();
}
