//! The router through its public routes: pages rendered on the server, server functions,
//! health and static files, over a real SQLite store.

mod support;

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
    assert!(response
        .body
        .contains("data-test=\"group-section\" data-group=\"edge\""));
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
