//! The decision log without a cluster: its store on both databases (recording, paging through a
//! filter, predictions written once, corrections, agreement, gaps, listeners, the cluster's
//! scriptlet kept as revisions, pruning, the switch with its audit entry), the stream recorded on
//! the test bed ingested whole, and its API as scripts and pages use it (the contract's shape,
//! who may do what, the live tail, replays) on the database `BERTH_TEST_DATABASE` names.

use crate::support;

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Method, StatusCode};
use berth_core::access::Role;
use berth_core::decisions::{IncusEvent, Tracker, Whereabouts};
use berth_core::simulate::{CreateOperation, CreateSource};
use berth_server::db::{
    ConnectionRecord, DecisionCursor, DecisionFilter, NewAuditEntry, NewDecision, NewGap, Outcome,
    PredictionWrite, Store,
};
use berth_server::decisions::recorder::Recorder;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use support::database::{Backend, TestDatabase};
use support::{Client, TestApp};

/// Runs each named test (an `async fn(TestDatabase)`) once on SQLite and once on PostgreSQL.
macro_rules! on_both_databases {
    ($($test:ident),* $(,)?) => {
        $(
            mod $test {
                use super::*;

                #[tokio::test]
                async fn sqlite() {
                    super::$test(TestDatabase::fresh(Backend::Sqlite).await).await;
                }

                #[tokio::test]
                async fn postgres() {
                    super::$test(TestDatabase::fresh(Backend::Postgres).await).await;
                }
            }
        )*
    };
}

on_both_databases!(
    decisions_are_listed_newest_first_through_a_filter_and_a_cursor,
    a_prediction_is_written_once_and_a_correction_asks_for_another,
    the_agreement_counts_each_outcome_per_connection_and_reason,
    listeners_gaps_and_captures_say_where_the_stream_was_whole,
    the_clusters_scriptlet_is_a_revision_per_new_text_with_its_entry,
    pruning_removes_what_the_retention_no_longer_keeps,
    the_switch_is_audited_with_the_change_or_not_at_all,
    a_stream_recorded_on_the_test_bed_is_ingested_whole,
);

fn entry(kind: &str, subject: &str) -> NewAuditEntry {
    NewAuditEntry {
        at: 1,
        actor_id: None,
        actor: None,
        kind: kind.into(),
        subject: Some(subject.into()),
        detail: json!({}),
        address: None,
    }
}

fn placed(connection: &str, at: i64, project: &str, instance: &str, member: &str) -> NewDecision {
    NewDecision {
        connection: connection.into(),
        at,
        operation: "instance-created".into(),
        reason: "new".into(),
        project: project.into(),
        instance: instance.into(),
        member: Some(member.into()),
        from_project: None,
        from_member: None,
        runs_on: Some("m1".into()),
        logs: r#"[{"level":"info","message":"placing"}]"#.into(),
        seen_later: false,
        gap_id: None,
        revision: None,
        request: None,
        unpredictable: None,
    }
}

async fn connection(store: &Store, name: &str) {
    let record = ConnectionRecord {
        name: name.into(),
        remote: "unix:///var/lib/incus/unix.socket".into(),
        client_cert: None,
        client_key: None,
        server_cert: None,
        server_ca: None,
        server_fingerprint: None,
        created_by: "root".into(),
        created_at: 1,
        decision_log: 0,
    };
    assert!(store
        .insert_connection(&record, &entry("connection.added", name))
        .await
        .unwrap());
}

fn instances(rows: &[berth_server::db::DecisionRow]) -> Vec<&str> {
    rows.iter().map(|row| row.instance.as_str()).collect()
}

async fn decisions_are_listed_newest_first_through_a_filter_and_a_cursor(database: TestDatabase) {
    let store = database.open().await;
    let mut batch = Vec::new();
    for (at, project, instance, member) in [
        (1_000, "default", "a", "m1"),
        (2_000, "web", "b", "m2"),
        (3_000, "default", "c", "m2"),
        (3_000, "default", "d", "m3"),
        (4_000, "web", "e", "m1"),
    ] {
        batch.push(placed("lab", at, project, instance, member));
    }
    batch.push(placed("prod", 2_500, "default", "other", "m1"));
    let ids = store.insert_decisions(&batch, 5_000).await.unwrap();
    assert_eq!(ids.len(), 6);

    let lab = DecisionFilter {
        connection: Some("lab".into()),
        ..DecisionFilter::default()
    };
    let all = store.decisions(&lab, None, 100).await.unwrap();
    assert_eq!(
        instances(&all),
        ["e", "d", "c", "b", "a"],
        "newest first, ids breaking ties"
    );
    // Two by two, each page after the last one's (time, id): every decision once.
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = store.decisions(&lab, cursor, 2).await.unwrap();
        if page.is_empty() {
            break;
        }
        let last = page.last().unwrap();
        cursor = Some(DecisionCursor {
            at: last.at,
            id: last.id,
        });
        seen.extend(page.iter().map(|row| row.instance.clone()));
    }
    assert_eq!(seen, ["e", "d", "c", "b", "a"]);

    let narrowed = |filter: DecisionFilter| {
        let store = store.clone();
        async move { store.decisions(&filter, None, 100).await.unwrap() }
    };
    let by_project = narrowed(DecisionFilter {
        project: Some("web".into()),
        ..lab.clone()
    })
    .await;
    assert_eq!(instances(&by_project), ["e", "b"]);
    let by_member = narrowed(DecisionFilter {
        member: Some("m2".into()),
        ..DecisionFilter::default()
    })
    .await;
    assert_eq!(instances(&by_member), ["c", "b"]);
    let in_time = narrowed(DecisionFilter {
        since: Some(2_000),
        until: Some(3_000),
        ..DecisionFilter::default()
    })
    .await;
    assert_eq!(instances(&in_time), ["other", "b"], "since included, until not");
    let pending = narrowed(DecisionFilter {
        outcome: Some(Outcome::Pending),
        ..lab.clone()
    })
    .await;
    assert_eq!(pending.len(), 5, "nothing is predicted yet");
    let agreeing = narrowed(DecisionFilter {
        outcome: Some(Outcome::Agrees),
        ..lab.clone()
    })
    .await;
    assert!(agreeing.is_empty());
    let relocations = narrowed(DecisionFilter {
        reason: Some("relocation".into()),
        ..DecisionFilter::default()
    })
    .await;
    assert!(relocations.is_empty());
}

async fn a_prediction_is_written_once_and_a_correction_asks_for_another(database: TestDatabase) {
    let store = database.open().await;
    let id = store
        .insert_decisions(&[placed("lab", 1_000, "default", "a", "m1")], 2_000)
        .await
        .unwrap()[0];
    let read = store.decision(id).await.unwrap().unwrap();
    assert_eq!(Outcome::of(&read), Outcome::Pending);
    let prediction = PredictionWrite {
        snapshot_id: Some(7),
        member: Some("m1".into()),
        candidates: Some(r#"["m1","m2"]"#.into()),
        agrees: Some(true),
        ..PredictionWrite::default()
    };
    assert!(store
        .record_prediction(id, read.updated_at, &prediction, 3_000)
        .await
        .unwrap());
    assert!(
        !store
            .record_prediction(id, read.updated_at, &prediction, 3_001)
            .await
            .unwrap(),
        "once"
    );
    let predicted = store.decision(id).await.unwrap().unwrap();
    assert_eq!(Outcome::of(&predicted), Outcome::Agrees);
    assert_eq!(
        predicted.updated_at, 3_000,
        "a prediction is a change the tail sends"
    );

    // A later event says the create was the arrival of a move: predicted again.
    assert!(store
        .correct_decision(id, "relocation", Some("dev"), Some("m2"), 4_000)
        .await
        .unwrap());
    let corrected = store.decision(id).await.unwrap().unwrap();
    assert_eq!(Outcome::of(&corrected), Outcome::Pending);
    assert_eq!(
        (
            corrected.reason.as_str(),
            corrected.from_project.as_deref(),
            corrected.from_member.as_deref()
        ),
        ("relocation", Some("dev"), Some("m2"))
    );
    assert_eq!(corrected.snapshot_id, None);
    // A prediction made from what was read before the correction is not written.
    assert!(!store
        .record_prediction(id, predicted.updated_at, &prediction, 4_500)
        .await
        .unwrap());
    let to_predict = store.decisions_to_predict("lab", 10_000, 10).await.unwrap();
    assert_eq!(instances(&to_predict), ["a"]);
    assert!(
        store
            .decisions_to_predict("lab", 1_000, 10)
            .await
            .unwrap()
            .is_empty(),
        "not before it settled"
    );

    // A decision nothing can predict is settled when it is recorded.
    let mut seen_later = placed("lab", 5_000, "default", "b", "m2");
    seen_later.seen_later = true;
    seen_later.unpredictable = Some("seen later".into());
    let id = store.insert_decisions(&[seen_later], 6_000).await.unwrap()[0];
    let row = store.decision(id).await.unwrap().unwrap();
    assert_eq!(Outcome::of(&row), Outcome::Unpredicted);
    assert!(
        !store
            .correct_decision(id, "relocation", None, None, 7_000)
            .await
            .unwrap(),
        "a seen-later decision is not corrected"
    );
}

async fn the_agreement_counts_each_outcome_per_connection_and_reason(database: TestDatabase) {
    let store = database.open().await;
    let mut batch = Vec::new();
    for n in 0..6 {
        batch.push(placed("lab", 1_000 + n, "default", &format!("i{n}"), "m1"));
    }
    let mut moved = placed("lab", 2_000, "default", "moved", "m2");
    moved.reason = "relocation".into();
    batch.push(moved);
    let ids = store.insert_decisions(&batch, 3_000).await.unwrap();
    for (index, agrees) in [
        (0, Some(true)),
        (1, Some(true)),
        (2, Some(true)),
        (3, Some(false)),
        (4, None),
    ] {
        let row = store.decision(ids[index]).await.unwrap().unwrap();
        let write = PredictionWrite {
            agrees,
            unpredictable: agrees.is_none().then(|| "no capture".to_owned()),
            ..PredictionWrite::default()
        };
        assert!(store
            .record_prediction(row.id, row.updated_at, &write, 4_000)
            .await
            .unwrap());
    }
    let counts: Vec<(String, String, i64, i64, i64, i64)> = store
        .agreement(&DecisionFilter::default())
        .await
        .unwrap()
        .into_iter()
        .map(|row| {
            (
                row.connection,
                row.reason,
                row.agrees,
                row.differs,
                row.unpredicted,
                row.pending,
            )
        })
        .collect();
    assert_eq!(
        counts,
        [
            ("lab".into(), "new".into(), 3, 1, 1, 1),
            ("lab".into(), "relocation".into(), 0, 0, 0, 1)
        ]
    );
}

async fn listeners_gaps_and_captures_say_where_the_stream_was_whole(database: TestDatabase) {
    let store = database.open().await;
    assert_eq!(
        store.start_listening("lab", "replica-a", 1_000).await.unwrap(),
        None
    );
    assert!(store.listener_alive("lab", "replica-a", 6_000).await.unwrap());
    // Another holder took over: the first one's renewals of the row no longer count.
    let before = store
        .start_listening("lab", "replica-b", 30_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (before.holder.as_str(), before.state.as_str(), before.alive_at),
        ("replica-a", "listening", 6_000)
    );
    assert!(!store.listener_alive("lab", "replica-a", 31_000).await.unwrap());
    store
        .stop_listening("lab", "replica-b", "stopped", 40_000)
        .await
        .unwrap();
    let stopped = store.listener("lab").await.unwrap().unwrap();
    assert_eq!((stopped.state.as_str(), stopped.alive_at), ("stopped", 40_000));

    let gap = store
        .open_gap(&NewGap {
            connection: "lab".into(),
            member: Some("m2".into()),
            reason: "disconnect".into(),
            detail: "the stream was closed".into(),
            started_at: 50_000,
        })
        .await
        .unwrap();
    let open = store.gaps(Some("lab"), Some(60_000), None, 10).await.unwrap();
    assert_eq!(open.len(), 1, "an open gap overlaps every later range");
    store.close_gap(gap, 55_000, Some(56_000), Some(2)).await.unwrap();
    let closed = store.gaps(Some("lab"), None, None, 10).await.unwrap();
    assert_eq!(
        (
            closed[0].ended_at,
            closed[0].reconciled_at,
            closed[0].seen_later,
            closed[0].member.as_deref()
        ),
        (Some(55_000), Some(56_000), Some(2), Some("m2"))
    );
    assert!(store
        .gaps(Some("lab"), Some(60_000), None, 10)
        .await
        .unwrap()
        .is_empty());
    assert!(store.gaps(Some("prod"), None, None, 10).await.unwrap().is_empty());

    let demo = berth_core::demo::demo_snapshot();
    let (snapshot, _) = store
        .insert_snapshot(&demo, &entry("snapshot.added", "demo"))
        .await
        .unwrap();
    store.record_capture("lab", snapshot, 100, 200).await.unwrap();
    store.record_capture("lab", snapshot, 300, 400).await.unwrap();
    store.record_capture("lab", snapshot, 300, 400).await.unwrap();
    assert_eq!(
        store
            .capture_before("lab", Some(399))
            .await
            .unwrap()
            .unwrap()
            .finished_at,
        200
    );
    assert_eq!(
        store
            .capture_before("lab", Some(400))
            .await
            .unwrap()
            .unwrap()
            .started_at,
        300
    );
    assert_eq!(store.capture_before("lab", Some(199)).await.unwrap(), None);
    assert_eq!(
        store
            .capture_before("lab", None)
            .await
            .unwrap()
            .unwrap()
            .finished_at,
        400
    );
}

async fn the_clusters_scriptlet_is_a_revision_per_new_text_with_its_entry(database: TestDatabase) {
    let store = database.open().await;
    store.start_listening("lab", "replica-a", 1).await.unwrap();
    let name = "lab (live, decision log)";
    let keep = |text: &'static str, at: i64| {
        let store = store.clone();
        async move {
            store
                .keep_live_revision("lab", name, text, at, |created, scriptlet, number| {
                    let mut made = entry(
                        if created {
                            "scriptlet.created"
                        } else {
                            "scriptlet.revised"
                        },
                        name,
                    );
                    made.detail = json!({"scriptlet_id": scriptlet, "revision": number});
                    made
                })
                .await
        }
    };
    let first = keep("v1", 10).await.unwrap();
    assert_eq!((first.number, first.new), (1, true));
    let same = keep("v1", 20).await.unwrap();
    assert_eq!(
        (same.scriptlet_id, same.number, same.new),
        (first.scriptlet_id, 1, false)
    );
    let second = keep("v2", 30).await.unwrap();
    assert_eq!((second.number, second.new), (2, true));
    assert_eq!(
        store.revision_with_text(first.scriptlet_id, "v1").await.unwrap(),
        Some(1)
    );
    assert_eq!(
        store.revision_with_text(first.scriptlet_id, "v3").await.unwrap(),
        None
    );
    let entries = store.audit_of_subject(name).await.unwrap();
    assert_eq!(
        entries.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
        ["scriptlet.created", "scriptlet.revised"],
        "one entry per new text, in the revision's transaction"
    );
    assert_eq!(
        store.listener("lab").await.unwrap().unwrap().scriptlet_id,
        Some(first.scriptlet_id)
    );

    // A scriptlet an author named so is not written into.
    store
        .insert_scriptlet(
            "prod (live, decision log)",
            "mine",
            "",
            "alice",
            1,
            entry("scriptlet.created", "x"),
        )
        .await
        .unwrap();
    let taken = store
        .keep_live_revision("prod", "prod (live, decision log)", "v1", 40, |_, _, _| {
            entry("scriptlet.revised", "x")
        })
        .await;
    assert!(taken.unwrap_err().to_string().contains("someone else"));
}

async fn pruning_removes_what_the_retention_no_longer_keeps(database: TestDatabase) {
    let store = database.open().await;
    store
        .insert_decisions(
            &[
                placed("lab", 1_000, "default", "old", "m1"),
                placed("lab", 9_000, "default", "new", "m1"),
            ],
            9_500,
        )
        .await
        .unwrap();
    let old_gap = store
        .open_gap(&NewGap {
            connection: "lab".into(),
            member: None,
            reason: "restart".into(),
            detail: String::new(),
            started_at: 500,
        })
        .await
        .unwrap();
    store
        .close_gap(old_gap, 1_500, Some(1_600), Some(0))
        .await
        .unwrap();
    store
        .open_gap(&NewGap {
            connection: "lab".into(),
            member: None,
            reason: "disconnect".into(),
            detail: String::new(),
            started_at: 600,
        })
        .await
        .unwrap();
    assert_eq!(store.prune_decisions(5_000).await.unwrap(), (1, 1, 0));
    let left = store
        .decisions(&DecisionFilter::default(), None, 10)
        .await
        .unwrap();
    assert_eq!(instances(&left), ["new"]);
    assert_eq!(
        store.gaps(None, None, None, 10).await.unwrap().len(),
        1,
        "an open gap stays"
    );
}

async fn the_switch_is_audited_with_the_change_or_not_at_all(database: TestDatabase) {
    let store = database.open().await;
    connection(&store, "lab").await;
    assert!(store.decision_log_connections().await.unwrap().is_empty());
    assert!(store
        .set_decision_log("lab", true, &entry("connection.decision_log", "lab"))
        .await
        .unwrap());
    assert_eq!(store.decision_log_connections().await.unwrap(), ["lab"]);
    assert_eq!(store.connection("lab").await.unwrap().unwrap().decision_log, 1);
    assert!(!store
        .set_decision_log("nobody", true, &entry("connection.decision_log", "nobody"))
        .await
        .unwrap());
    assert_eq!(
        store.audit_of_subject("lab").await.unwrap().len(),
        2,
        "added, and the switch"
    );
    assert!(store.audit_of_subject("nobody").await.unwrap().is_empty());
}

/// The stream recorded on the test bed (`core/src/decisions/testdata/events.jsonl`) through the
/// listener's ingest path: every placement in the store with its scriptlet lines.
async fn a_stream_recorded_on_the_test_bed_is_ingested_whole(database: TestDatabase) {
    let store = database.open().await;
    let events: Vec<IncusEvent> = include_str!("../../core/src/decisions/testdata/events.jsonl")
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let mut tracker = Tracker::new(Whereabouts::default(), 1);
    let mut recorder = Recorder::new(store.clone(), "bed");
    recorder.revision_since(0, (1, 1));
    for event in &events {
        let now = event.at_ns().unwrap();
        let released = tracker.tick(now);
        recorder.take(released);
        let (outputs, _lookup) = tracker.push(event, now);
        recorder.take(outputs);
        recorder.flush(now / 1_000_000).await.unwrap();
    }
    recorder.take(tracker.flush());
    recorder.flush(0).await.unwrap();
    let rows = store
        .decisions(&DecisionFilter::default(), None, 100)
        .await
        .unwrap();
    let told: Vec<String> = rows
        .iter()
        .rev()
        .map(|row| {
            format!(
                "{}/{} {} {}",
                row.project,
                row.instance,
                row.reason,
                row.member.as_deref().unwrap_or("?")
            )
        })
        .collect();
    assert_eq!(
        told,
        [
            "default/dlx-a1 new m1",
            "proj-b/dlx-a22 new m2",
            "default/dlx-t1 new m3",
            "default/dlx-a1 relocation m2",
            "proj-b/dlx-t1 relocation m3",
            "default/dlx-a22 relocation m3",
            "default/dlx-e1 new m2",
            "default/dlx-a1 evacuation m1",
            "default/dlx-e1 evacuation m1",
            "default/dlx-a1 restore m2",
            "default/dlx-e1 restore m2",
        ]
    );
    for row in &rows {
        let logs: Vec<Value> = serde_json::from_str(&row.logs).unwrap();
        assert_eq!(logs.len(), 2, "{}: {}", row.instance, row.logs);
        assert_eq!(logs[1]["message"], format!("EXP warn {}", row.instance));
        assert_eq!((row.revision_scriptlet, row.revision), (Some(1), Some(1)));
    }
}

// The API, on the database the HTTP suites run on.

/// A connection `lab` with its log on, a capture of the demo before the decisions, and three
/// decisions: one predicted agreeing, one differing, one pending.
async fn logged_app() -> (TestApp, Vec<i64>) {
    let app = TestApp::with_demo().await;
    connection(&app.store, "lab").await;
    app.store.record_capture("lab", 1, 10, 20).await.unwrap();
    let demo = berth_core::demo::demo_snapshot();
    let project = demo.projects[0].name.clone();
    let create = |name: &str| CreateOperation {
        project: project.clone(),
        name: name.into(),
        architecture: "x86_64".into(),
        source: CreateSource::default(),
        ..CreateOperation::default()
    };
    let mut batch = Vec::new();
    for (at, name) in [(1_000, "dl-a"), (2_000, "dl-b"), (3_000, "dl-c")] {
        let mut decision = placed("lab", at, &project, name, &demo.members[0].server_name);
        decision.request = Some(serde_json::to_string(&create(name)).unwrap());
        batch.push(decision);
    }
    let ids = app.store.insert_decisions(&batch, 3_500).await.unwrap();
    for (id, agrees) in [(ids[0], true), (ids[1], false)] {
        let row = app.store.decision(id).await.unwrap().unwrap();
        let write = PredictionWrite {
            snapshot_id: Some(1),
            member: Some(if agrees {
                row.member.clone().unwrap()
            } else {
                "elsewhere".into()
            }),
            candidates: Some(r#"["a","b"]"#.into()),
            agrees: Some(agrees),
            ..PredictionWrite::default()
        };
        assert!(app
            .store
            .record_prediction(id, row.updated_at, &write, 4_000)
            .await
            .unwrap());
    }
    (app, ids)
}

#[tokio::test]
async fn the_list_answers_the_contracts_shape_newest_first_with_a_cursor() {
    let (app, ids) = logged_app().await;
    let page = app.get("/api/v1/decisions?connection=lab&limit=2").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let body = page.json();
    assert_eq!(
        body.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["decisions", "next"],
        "{body}"
    );
    let decisions = body["decisions"].as_array().unwrap();
    assert_eq!(decisions.len(), 2);
    assert_eq!(decisions[0]["id"], ids[2], "newest first");
    for key in [
        "id",
        "time",
        "connection",
        "project",
        "instance",
        "reason",
        "member",
        "logs",
        "revision",
        "predicted",
        "agrees",
    ] {
        assert!(decisions[0].get(key).is_some(), "{key} in {}", decisions[0]);
    }
    assert_eq!(decisions[0]["predicted"], Value::Null, "pending");
    assert_eq!(decisions[0]["agrees"], Value::Null);
    assert_eq!(decisions[1]["agrees"], false);
    assert_eq!(decisions[1]["predicted"]["member"], "elsewhere");
    assert_eq!(
        decisions[1]["logs"],
        json!([{"level": "info", "message": "placing"}])
    );
    assert_eq!(decisions[1]["time"], "1970-01-01T00:00:02.000Z");
    let next = body["next"].as_str().unwrap();
    let rest = app
        .get(&format!("/api/v1/decisions?connection=lab&cursor={next}"))
        .await
        .json();
    assert_eq!(rest["decisions"].as_array().unwrap().len(), 1);
    assert_eq!(rest["decisions"][0]["agrees"], true);
    assert_eq!(rest["next"], Value::Null);

    let differing = app.get("/api/v1/decisions?outcome=differs").await.json();
    assert_eq!(differing["decisions"].as_array().unwrap().len(), 1);
    for (query, words) in [
        ("reason=moved", "reason"),
        ("outcome=maybe", "outcome"),
        ("cursor=nowhere", "cursor"),
        ("since=yesterday", "time"),
    ] {
        let refused = app.get(&format!("/api/v1/decisions?{query}")).await;
        assert_eq!(
            refused.status,
            StatusCode::BAD_REQUEST,
            "{query}: {}",
            refused.body
        );
        assert!(
            refused.json()["error"].as_str().unwrap().contains(words),
            "{}",
            refused.body
        );
    }

    let agreement = app.get("/api/v1/decisions/agreement?connection=lab").await.json();
    assert_eq!(
        agreement["agreement"],
        json!([{"connection": "lab", "reason": "new", "agrees": 1, "differs": 1, "unpredicted": 0, "pending": 1, "rate": 0.5}])
    );
    // One click into the sandbox: the decision's snapshot and request.
    let sandbox = app.get(&format!("/api/v1/decisions/{}/sandbox", ids[0])).await;
    assert_eq!(sandbox.status, StatusCode::SEE_OTHER, "{}", sandbox.body);
    let location = sandbox.headers[header::LOCATION].to_str().unwrap();
    assert!(
        location.starts_with("/scriptlets/new?snapshot=1&ops="),
        "{location}"
    );
    assert!(location.contains("dl-a"), "{location}");
}

#[tokio::test]
async fn only_admins_turn_the_log_on_and_each_change_is_audited() {
    let app = TestApp::empty().await;
    connection(&app.store, "lab").await;
    let author = app.user("alice", Role::Author).await;
    let refused = app
        .send_as(
            &author,
            Method::PATCH,
            "/api/v1/connections/lab",
            Some(json!({"decision_log": true})),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let on = app
        .send_as(
            &app.admin,
            Method::PATCH,
            "/api/v1/connections/lab",
            Some(json!({"decision_log": true})),
        )
        .await;
    assert_eq!(on.status, StatusCode::OK, "{}", on.body);
    assert_eq!(on.json()["decision_log"], true);
    assert_eq!(app.store.decision_log_connections().await.unwrap(), ["lab"]);
    let missing = app
        .send_as(
            &app.admin,
            Method::PATCH,
            "/api/v1/connections/nobody",
            Some(json!({"decision_log": true})),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let unknown_field = app
        .send_as(
            &app.admin,
            Method::PATCH,
            "/api/v1/connections/lab",
            Some(json!({"remote": "x"})),
        )
        .await;
    assert_eq!(
        unknown_field.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        unknown_field.body
    );
    let entries = app.store.audit_of_subject("lab").await.unwrap();
    let switches: Vec<_> = entries
        .iter()
        .filter(|e| e.kind == "connection.decision_log")
        .collect();
    assert_eq!(
        switches.len(),
        1,
        "the refusals changed nothing and wrote nothing"
    );
    assert_eq!(switches[0].actor.as_deref(), Some("admin"));
    assert_eq!(
        serde_json::from_str::<Value>(&switches[0].detail).unwrap()["decision_log"],
        true
    );
    let listed = app.get("/api/v1/connections").await.json();
    assert_eq!(listed[0]["decision_log"], true);
}

#[tokio::test]
async fn authors_replay_recorded_decisions_against_a_revision() {
    let (app, _) = logged_app().await;
    // Every instance on the last candidate: a revision that changes where they go.
    let elsewhere = "def instance_placement(request, candidate_members):\n    set_target(candidate_members[-1].server_name)\n";
    let viewer = app.user("victor", Role::Viewer).await;
    let author = app.user("alice", Role::Author).await;
    let request = json!({"revision": {"source": elsewhere}, "filter": {"connection": "lab"}});
    let refused = app
        .send_as(
            &viewer,
            Method::POST,
            "/api/v1/decisions/replay",
            Some(request.clone()),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let replay = app
        .send_as(&author, Method::POST, "/api/v1/decisions/replay", Some(request))
        .await;
    assert_eq!(replay.status, StatusCode::OK, "{}", replay.body);
    let body = replay.json();
    assert_eq!(body["instances"], 3, "{body}");
    assert!(
        body["summary"].as_str().unwrap().starts_with("3 instances, "),
        "{body}"
    );
    let changed = body["changed"].as_array().unwrap();
    assert!(!changed.is_empty(), "{body}");
    assert!(
        changed[0]["from"]["candidates"].is_array() && changed[0]["to"]["member"].is_string(),
        "{body}"
    );

    let broken = app
        .send_as(
            &author,
            Method::POST,
            "/api/v1/decisions/replay",
            Some(json!({"revision": {"source": "def instance_placement(:"}})),
        )
        .await;
    assert_eq!(broken.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", broken.body);
    let live = app
        .send_as(
            &author,
            Method::POST,
            "/api/v1/decisions/replay",
            Some(json!({"revision": {"live": true}})),
        )
        .await;
    assert_eq!(live.status, StatusCode::BAD_REQUEST, "{}", live.body);
}

#[tokio::test]
async fn the_live_tail_sends_each_decision_as_it_is_recorded_and_again_when_predicted() {
    let (app, _) = logged_app().await;
    let viewer = app.user("victor", Role::Viewer).await;
    let request = app
        .request(&viewer, Method::GET, "/api/v1/decisions/events?connection=lab")
        .body(Body::empty())
        .unwrap();
    let response = app.open(request).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "text/event-stream");
    let mut body = response.into_body();
    // Recorded after the tail opened: sent; another connection's: not.
    app.store
        .insert_decisions(&[placed("prod", 9_000, "default", "elsewhere", "m1")], 9_000)
        .await
        .unwrap();
    let id = app
        .store
        .insert_decisions(&[placed("lab", 9_100, "default", "dl-new", "m2")], 9_100)
        .await
        .unwrap()[0];
    let first = next_event(&mut body).await;
    assert!(first.contains("event: decision"), "{first}");
    let data: Value =
        serde_json::from_str(first.lines().find_map(|l| l.strip_prefix("data: ")).unwrap()).unwrap();
    assert_eq!(
        (data["id"].as_i64(), data["instance"].as_str()),
        (Some(id), Some("dl-new"))
    );
    assert_eq!(data["outcome"], "pending");
    let row = app.store.decision(id).await.unwrap().unwrap();
    let write = PredictionWrite {
        member: Some("m2".into()),
        agrees: Some(true),
        ..PredictionWrite::default()
    };
    app.store
        .record_prediction(id, row.updated_at, &write, 9_200)
        .await
        .unwrap();
    let second = next_event(&mut body).await;
    let data: Value =
        serde_json::from_str(second.lines().find_map(|l| l.strip_prefix("data: ")).unwrap()).unwrap();
    assert_eq!(
        (data["id"].as_i64(), data["agrees"].as_bool()),
        (Some(id), Some(true))
    );

    let anonymous = app
        .send_as(&Client::Anonymous, Method::GET, "/api/v1/decisions/events", None)
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

/// The next server-sent event (its text), skipping keep-alive comments.
async fn next_event(body: &mut Body) -> String {
    let mut text = String::new();
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), body.frame())
            .await
            .expect("an event within 10 s")
            .expect("the stream goes on")
            .unwrap();
        if let Some(bytes) = frame.data_ref() {
            text.push_str(&String::from_utf8_lossy(bytes));
        }
        if let Some(end) = text.find("\n\n") {
            let event = text[..end].to_owned();
            if event.lines().all(|line| line.starts_with(':')) {
                text.drain(..end + 2);
                continue;
            }
            return event;
        }
    }
}

/// A form with empty fields sends `name=`: each is the same as absent, the limit included; a
/// limit that is not a number is refused with the reason.
#[tokio::test]
async fn empty_query_fields_are_the_same_as_absent_ones() {
    let (app, _ids) = logged_app().await;
    let absent = app.get("/api/v1/decisions?connection=lab").await;
    let empty = app
        .get("/api/v1/decisions?connection=lab&project=&member=&instance=&reason=&outcome=&since=&until=&limit=&cursor=")
        .await;
    assert_eq!(empty.status, StatusCode::OK, "{}", empty.body);
    assert_eq!(empty.json(), absent.json());
    assert_eq!(empty.json()["decisions"].as_array().unwrap().len(), 3);
    let bad = app.get("/api/v1/decisions?connection=lab&limit=many").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);
    assert!(bad.body.contains("limit"), "{}", bad.body);
}
