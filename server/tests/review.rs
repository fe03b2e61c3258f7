//! A plan's review through `/api/v1/plans`, on the demo snapshot (no cluster needed): four
//! eyes (no account that contributed to what a plan will run approves it), approvals bound to
//! the version reviewed (409 for any other, or none), approvals and edits racing, an approved
//! plan not previewed again in place, who may cancel, and what a plan's timeline shows whom.
//! Executing needs a connection: a plan drafted on a snapshot alone is reviewed, not run.
//! `scripts/test.sh` runs this suite on PostgreSQL too.

use crate::support;

use axum::http::{Method, StatusCode};
use berth_core::access::Role;
use serde_json::{json, Value};
use support::{Client, TestApp, TestResponse};

/// The demo, and one user per role besides the admin.
struct Team {
    app: TestApp,
    snapshot: i64,
    /// Author: drafts plans.
    ann: Client,
    /// Reviewers: approve (and may draft too).
    rita: Client,
    sam: Client,
    /// Operator: executes (and may approve and draft).
    otto: Client,
    vic: Client,
}

impl Team {
    async fn new() -> Team {
        let app = TestApp::with_demo().await;
        let snapshots = app.get("/api/v1/snapshots").await.json();
        let snapshot = snapshots[0]["id"].as_i64().expect("the demo is stored");
        Team {
            ann: app.user("ann", Role::Author).await,
            rita: app.user("rita", Role::Reviewer).await,
            sam: app.user("sam", Role::Reviewer).await,
            otto: app.user("otto", Role::Operator).await,
            vic: app.user("vic", Role::Viewer).await,
            snapshot,
            app,
        }
    }

    async fn send(&self, client: &Client, method: Method, path: &str, body: Option<Value>) -> TestResponse {
        self.app.send_as(client, method, path, body).await
    }

    /// A draft by `client` on the demo snapshot: the first `count` stopped instances of
    /// `legacy` into `default` (they share `default`'s profiles).
    async fn draft(&self, client: &Client, count: usize) -> i64 {
        let created = self
            .send(
                client,
                Method::POST,
                "/api/v1/plans",
                Some(
                    json!({ "name": "legacy home", "snapshot_id": self.snapshot, "moves": moves(0, count) }),
                ),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        let plan = created.json();
        assert_eq!(plan["version"], 1);
        assert_eq!(plan["connection"], "");
        assert_eq!(plan["snapshot_id"], self.snapshot);
        plan["id"].as_i64().unwrap()
    }

    /// Plan `id` sent to review by `client` (previewed on the demo); its version.
    async fn submitted(&self, client: &Client, id: i64) -> i64 {
        let submitted = self.action(client, id, "submit", None).await;
        assert_eq!(submitted.status, StatusCode::OK, "{}", submitted.body);
        assert_eq!(submitted.json()["state"], "in_review");
        submitted.json()["version"].as_i64().unwrap()
    }

    async fn action(&self, client: &Client, id: i64, action: &str, body: Option<Value>) -> TestResponse {
        self.send(
            client,
            Method::POST,
            &format!("/api/v1/plans/{id}/{action}"),
            body,
        )
        .await
    }

    async fn approve(&self, client: &Client, id: i64, version: i64) -> TestResponse {
        self.action(client, id, "approve", Some(json!({ "version": version })))
            .await
    }

    async fn plan(&self, id: i64) -> Value {
        let plan = self.app.get(&format!("/api/v1/plans/{id}")).await;
        assert_eq!(plan.status, StatusCode::OK, "{}", plan.body);
        plan.json()
    }

    async fn edit(&self, client: &Client, id: i64, moves: Value) -> TestResponse {
        self.send(
            client,
            Method::PUT,
            &format!("/api/v1/plans/{id}/moves"),
            Some(moves),
        )
        .await
    }
}

/// Moves of the demo's stopped `legacy` instances `from..from + count` into `default` (Incus
/// moves only stopped instances across projects).
fn moves(from: usize, count: usize) -> Value {
    let snapshot = berth_core::demo::demo_snapshot();
    let legacy: Vec<Value> = snapshot
        .instances
        .iter()
        .filter(|instance| instance.project == "legacy" && instance.status == "Stopped")
        .skip(from)
        .take(count)
        .map(|instance| json!({ "project": "legacy", "name": instance.name, "target_project": "default" }))
        .collect();
    assert_eq!(legacy.len(), count, "the demo has enough legacy instances");
    Value::Array(legacy)
}

fn error_of(response: &TestResponse) -> String {
    response.json()["error"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_plan_on_the_demo_snapshot_is_previewed_reviewed_and_approved_but_not_executed() {
    let team = Team::new().await;
    let id = team.draft(&team.ann, 2).await;
    let previewed = team.action(&team.ann, id, "preview", None).await;
    assert_eq!(previewed.status, StatusCode::OK, "{}", previewed.body);
    let plan = previewed.json();
    assert_eq!(plan["version"], 2, "a preview is a new version");
    assert_eq!(
        plan["preview"]["snapshot_id"], team.snapshot,
        "previewed on the snapshot itself"
    );
    for planned in plan["moves"].as_array().unwrap() {
        assert!(planned["verdict"].is_string(), "{planned}");
        assert!(planned["decision"].is_string(), "a placement decision: {planned}");
    }
    let version = team.submitted(&team.ann, id).await;
    assert_eq!(version, 3, "submitting previews once more");
    let approved = team.approve(&team.rita, id, version).await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.body);
    assert_eq!(approved.json()["state"], "approved");
    assert_eq!(approved.json()["approvals"], json!(["rita"]));
    assert_eq!(approved.json()["contributors"], json!(["ann"]));
    // Executing needs a connection, whose fresh capture would be checked against the review.
    let refused = team.action(&team.otto, id, "execute", None).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert!(
        error_of(&refused).contains("no connection to execute on"),
        "{}",
        refused.body
    );
    assert_eq!(team.plan(id).await["state"], "approved");
    // Plans on any snapshot need one that exists.
    let missing = team
        .send(
            &team.ann,
            Method::POST,
            "/api/v1/plans",
            Some(json!({ "name": "x", "snapshot_id": 999, "moves": moves(0, 1) })),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "{}", missing.body);
    let neither = team
        .send(
            &team.ann,
            Method::POST,
            "/api/v1/plans",
            Some(json!({ "name": "x", "moves": moves(0, 1) })),
        )
        .await;
    assert_eq!(neither.status, StatusCode::BAD_REQUEST, "{}", neither.body);
}

#[tokio::test]
async fn whoever_changed_what_a_plan_runs_may_not_approve_it() {
    let team = Team::new().await;
    let id = team.draft(&team.ann, 2).await;
    let version = team.submitted(&team.ann, id).await;
    // The author: 403, whatever version is named (or none).
    for body in [json!({ "version": version }), json!({})] {
        let own = team.action(&team.ann, id, "approve", Some(body)).await;
        assert_eq!(own.status, StatusCode::FORBIDDEN, "{}", own.body);
    }
    // A reviewer rewrites the moves (a reviewer may draft): a contributor from now on.
    let edited = team.edit(&team.rita, id, moves(2, 2)).await;
    assert_eq!(edited.status, StatusCode::OK, "{}", edited.body);
    let plan = edited.json();
    assert_eq!(plan["state"], "in_review");
    assert_eq!(plan["version"], version + 1);
    assert_eq!(plan["contributors"], json!(["ann", "rita"]));
    let rewritten = team.approve(&team.rita, id, version + 1).await;
    assert_eq!(rewritten.status, StatusCode::FORBIDDEN, "{}", rewritten.body);
    assert!(
        error_of(&rewritten).contains("rita contributed to plan"),
        "{}",
        rewritten.body
    );
    // So does skipping a move before approval: it changes what the plan runs.
    let skipped = team
        .send(
            &team.otto,
            Method::POST,
            &format!("/api/v1/plans/{id}/moves/1/skip"),
            Some(json!({ "reason": "not this one" })),
        )
        .await;
    assert_eq!(skipped.status, StatusCode::OK, "{}", skipped.body);
    assert_eq!(skipped.json()["version"], version + 2);
    let skipper = team.approve(&team.otto, id, version + 2).await;
    assert_eq!(skipper.status, StatusCode::FORBIDDEN, "{}", skipper.body);
    // Someone who only reviewed approves; the approval is for the version reviewed.
    let approved = team.approve(&team.sam, id, version + 2).await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.body);
    assert_eq!(approved.json()["state"], "approved");
    // An edit after approval sends the plan back to review, without its approval.
    let again = team.edit(&team.ann, id, moves(0, 1)).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(again.json()["state"], "in_review");
    assert_eq!(again.json()["approvals"], json!([]));
    // The history says who did what to which version.
    let timeline = team.app.get(&format!("/api/v1/plans/{id}/timeline")).await.json();
    let approvals: Vec<&Value> = timeline
        .as_array()
        .unwrap()
        .iter()
        .filter(|entry| entry["kind"] == "plan.approved")
        .collect();
    assert_eq!(approvals.len(), 1, "refused approvals write nothing");
    let detail: Value = serde_json::from_str(approvals[0]["detail"].as_str().unwrap()).unwrap();
    assert_eq!(detail["version"], version + 2);
}

#[tokio::test]
async fn rollout_plans_are_not_approved_by_whoever_wrote_the_revision() {
    let team = Team::new().await;
    let source = "def instance_placement(request, candidate_members):\n    pass\n";
    let created = team
        .send(
            &team.rita,
            Method::POST,
            "/api/v1/scriptlets",
            Some(json!({ "name": "spread", "source": source })),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let scriptlet = created.json()["id"].as_i64().unwrap();
    let plan = team
        .send(
            &team.ann,
            Method::POST,
            "/api/v1/plans",
            Some(json!({ "name": "roll out", "snapshot_id": team.snapshot,
                         "rollout": { "scriptlet": scriptlet, "revision": 1 } })),
        )
        .await;
    assert_eq!(plan.status, StatusCode::CREATED, "{}", plan.body);
    let id = plan.json()["id"].as_i64().unwrap();
    assert_eq!(plan.json()["contributors"], json!(["ann", "rita"]));
    let version = team.submitted(&team.ann, id).await;
    let own = team.approve(&team.rita, id, version).await;
    assert_eq!(own.status, StatusCode::FORBIDDEN, "{}", own.body);
    let approved = team.approve(&team.sam, id, version).await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.body);
    assert_eq!(approved.json()["state"], "approved");
}

#[tokio::test]
async fn an_approval_names_the_version_the_plan_has_now() {
    let team = Team::new().await;
    let id = team.draft(&team.ann, 2).await;
    let version = team.submitted(&team.ann, id).await;
    let path = format!("/api/v1/plans/{id}/approve");
    // None: no body, an empty object, a null version.
    let none = team.send(&team.rita, Method::POST, &path, None).await;
    assert_eq!(none.status, StatusCode::CONFLICT, "{}", none.body);
    assert!(
        error_of(&none).contains(&format!("{{\"version\": {version}}}")),
        "{}",
        none.body
    );
    for body in [json!({}), json!({ "version": null })] {
        let response = team.send(&team.rita, Method::POST, &path, Some(body)).await;
        assert_eq!(response.status, StatusCode::CONFLICT, "{}", response.body);
    }
    // Not JSON, not the shape.
    let garbled = team
        .app
        .send(
            team.app
                .request(&team.rita, Method::POST, &path)
                .header("content-type", "application/json")
                .body(axum::body::Body::from("{version"))
                .unwrap(),
        )
        .await;
    assert_eq!(garbled.status, StatusCode::BAD_REQUEST, "{}", garbled.body);
    let wrong = team
        .send(&team.rita, Method::POST, &path, Some(json!({ "version": "3" })))
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", wrong.body);
    // A version the plan no longer has (a preview made a new one meanwhile).
    let previewed = team.action(&team.ann, id, "preview", None).await;
    assert_eq!(previewed.json()["version"], version + 1);
    let stale = team.approve(&team.rita, id, version).await;
    assert_eq!(stale.status, StatusCode::CONFLICT, "{}", stale.body);
    assert!(
        error_of(&stale).contains(&format!("version {} now, not {version}", version + 1)),
        "{}",
        stale.body
    );
    let future = team.approve(&team.rita, id, version + 5).await;
    assert_eq!(future.status, StatusCode::CONFLICT, "{}", future.body);
    assert_eq!(team.plan(id).await["approvals"], json!([]));
    // The current one.
    let approved = team.approve(&team.rita, id, version + 1).await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.body);
    // Twice by the same reviewer: refused, and the plan stays as it is.
    let twice = team.approve(&team.rita, id, version + 1).await;
    assert_eq!(twice.status, StatusCode::CONFLICT, "{}", twice.body);
}

#[tokio::test]
async fn two_approvals_count_for_one_version_only() {
    let team = Team::new().await;
    // A plan that needs two approvals: one given, then a preview makes a new version.
    let mut context = team.app.state.plans.clone();
    context.review = berth_core::plan::Review { required: 2 };
    let acting = berth_server::services::plans::Acting::new(
        berth_server::audit::Actor::command_line(),
        "ann",
        Role::Author,
    );
    let new = berth_app::types::NewPlan {
        name: "two".into(),
        snapshot_id: Some(team.snapshot),
        moves: serde_json::from_value(moves(0, 1)).unwrap(),
        stop_on_failure: true,
        ..Default::default()
    };
    let id = berth_server::services::plans::create(&context, &acting, &new)
        .await
        .unwrap()
        .id;
    let version = team.submitted(&team.ann, id).await;
    let first = team.approve(&team.rita, id, version).await;
    assert_eq!(first.json()["state"], "in_review", "{}", first.body);
    assert_eq!(first.json()["approvals"], json!(["rita"]));
    let previewed = team.action(&team.ann, id, "preview", None).await;
    assert_eq!(
        previewed.json()["approvals"],
        json!([]),
        "the new version has none"
    );
    let version = previewed.json()["version"].as_i64().unwrap();
    team.app.time.advance(std::time::Duration::from_secs(1));
    let second = team.approve(&team.sam, id, version).await;
    assert_eq!(
        second.json()["state"],
        "in_review",
        "one approval of this version: {}",
        second.body
    );
    team.app.time.advance(std::time::Duration::from_secs(1));
    let third = team.approve(&team.rita, id, version).await;
    assert_eq!(third.json()["state"], "approved", "{}", third.body);
    assert_eq!(third.json()["approvals"], json!(["sam", "rita"]));
}

#[tokio::test]
async fn an_approved_plan_is_not_previewed_again_in_place() {
    let team = Team::new().await;
    let id = team.draft(&team.ann, 1).await;
    let version = team.submitted(&team.ann, id).await;
    assert_eq!(team.approve(&team.rita, id, version).await.status, StatusCode::OK);
    let again = team.action(&team.ann, id, "preview", None).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.body);
    assert!(
        error_of(&again).contains("cannot be previewed again"),
        "{}",
        again.body
    );
    let plan = team.plan(id).await;
    assert_eq!(
        (plan["state"].as_str(), plan["version"].as_i64()),
        (Some("approved"), Some(version))
    );
    assert_eq!(plan["approvals"], json!(["rita"]));
}

/// Approvals and edits sent at once, round after round: whichever lands first, an approved plan
/// always runs the moves its approver saw.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approvals_racing_with_edits_never_approve_moves_nobody_saw() {
    let team = std::sync::Arc::new(Team::new().await);
    let mut seen = std::collections::BTreeSet::new();
    for round in 0..12 {
        let id = team.draft(&team.ann, 1).await;
        let version = team.submitted(&team.ann, id).await;
        let reviewed = team.plan(id).await["moves"].clone();
        let approving = {
            let team = team.clone();
            tokio::spawn(async move { team.approve(&team.rita, id, version).await.status })
        };
        let editing = {
            let team = team.clone();
            tokio::spawn(async move { team.edit(&team.ann, id, moves(1 + round % 3, 1)).await.status })
        };
        let (approved, edited) = (approving.await.unwrap(), editing.await.unwrap());
        let plan = team.plan(id).await;
        match (approved, edited) {
            // The approval first: the plan is approved on what was reviewed, and the edit,
            // which came second, sent it back to review as a new version without approvals.
            (StatusCode::OK, StatusCode::OK) => {
                assert_eq!(plan["state"], "in_review", "round {round}: {plan}");
                assert_eq!(plan["approvals"], json!([]), "round {round}");
                assert_eq!(plan["version"], version + 1, "round {round}");
                seen.insert("approved, then edited");
            }
            // The approval first, and the edit read the plan while it was still in review:
            // the edit's compare-and-set lost, the plan is approved on what was reviewed.
            (StatusCode::OK, StatusCode::CONFLICT) => {
                assert_eq!(plan["state"], "approved", "round {round}: {plan}");
                assert_eq!(plan["moves"], reviewed, "round {round}");
                assert_eq!(plan["approvals"], json!(["rita"]), "round {round}");
                seen.insert("approved, edit refused");
            }
            // The edit first: the approval named a version the plan no longer has.
            (StatusCode::CONFLICT, StatusCode::OK) => {
                assert_eq!(plan["state"], "in_review", "round {round}: {plan}");
                assert_eq!(plan["approvals"], json!([]), "round {round}");
                assert_ne!(plan["moves"], reviewed, "round {round}");
                seen.insert("edited, then refused");
            }
            other => panic!("round {round}: {other:?}: {plan}"),
        }
        // Whatever happened, approvals name the version the plan has.
        let timeline = team.app.get(&format!("/api/v1/plans/{id}/timeline")).await.json();
        for entry in timeline
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "plan.approved")
        {
            let detail: Value = serde_json::from_str(entry["detail"].as_str().unwrap()).unwrap();
            assert_eq!(
                detail["version"], version,
                "round {round}: approved what was reviewed"
            );
        }
    }
    assert!(!seen.is_empty());
}

#[tokio::test]
async fn only_contributors_reviewers_and_operators_cancel_and_only_operators_stop_an_execution() {
    let team = Team::new().await;
    let other_author = team.app.user("abe", Role::Author).await;
    let id = team.draft(&team.ann, 1).await;
    let refused = team.action(&other_author, id, "cancel", None).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    let viewer = team.action(&team.vic, id, "cancel", None).await;
    assert_eq!(viewer.status, StatusCode::FORBIDDEN, "{}", viewer.body);
    assert_eq!(team.plan(id).await["state"], "draft");
    let withdrawn = team.action(&team.ann, id, "cancel", None).await;
    assert_eq!(withdrawn.status, StatusCode::OK, "{}", withdrawn.body);
    assert_eq!(withdrawn.json()["state"], "cancelled");
    let rejected = team.draft(&team.ann, 1).await;
    assert_eq!(
        team.action(&team.rita, rejected, "cancel", None).await.json()["state"],
        "cancelled",
        "a reviewer may reject a plan"
    );
    // An executing plan (made so in the store: executing needs a cluster) is an operator's.
    let running = team.draft(&team.ann, 1).await;
    let version = team.submitted(&team.ann, running).await;
    assert_eq!(
        team.approve(&team.rita, running, version).await.status,
        StatusCode::OK
    );
    let executing = berth_server::db::PlanWrite {
        plan_id: running,
        now: 1,
        state: Some(berth_server::db::StateChange {
            from: "approved",
            to: "executing",
            ..Default::default()
        }),
        ..Default::default()
    };
    let entry = team.app.auth.audit().entry(
        &berth_server::audit::Actor::berth(),
        berth_server::audit::AuditKind::PlanExecutionStarted,
        Some(&format!("plan:{running}")),
        json!({}),
    );
    team.app
        .store
        .write_plan(&executing, &entry)
        .await
        .unwrap()
        .unwrap();
    for client in [&team.ann, &team.rita] {
        let refused = team.action(client, running, "cancel", None).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    }
    let stopped = team.action(&team.otto, running, "cancel", None).await;
    assert_eq!(stopped.status, StatusCode::OK, "{}", stopped.body);
    assert_eq!(stopped.json()["state"], "cancelled");
}

#[tokio::test]
async fn a_plans_timeline_shows_client_addresses_to_admins_only() {
    let team = Team::new().await;
    let id = team.draft(&team.ann, 1).await;
    // The audit records the address the request came from (a trusted proxy's client here).
    let entry = team.app.auth.audit().entry(
        &berth_server::audit::Actor::user(1, "ann", Some("198.51.100.7".into())),
        berth_server::audit::AuditKind::PlanCommented,
        Some(&format!("plan:{id}")),
        json!({}),
    );
    team.app.store.append_audit(&entry).await.unwrap();
    let path = format!("/api/v1/plans/{id}/timeline");
    let as_admin = team.app.get(&path).await;
    assert!(as_admin.body.contains("198.51.100.7"), "{}", as_admin.body);
    for client in [&team.vic, &team.ann, &team.otto] {
        let response = team.send(client, Method::GET, &path, None).await;
        assert_eq!(response.status, StatusCode::OK);
        assert!(!response.body.contains("198.51.100.7"), "{}", response.body);
        assert!(response
            .json()
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["address"].is_null()));
    }
}
