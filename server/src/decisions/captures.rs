//! Captures through a connection for the decision log: the cluster read now, stored (as
//! Berth's, with its audit entry, once per content), the capture recorded with its times
//! (predictions start from the newest capture finished before a placement), and the cluster's
//! live scriptlet kept as a revision of the connection's own scriptlet when it is new.

use berth_core::Snapshot;
use serde_json::json;

use crate::audit::{Actor, AuditKind};
use crate::auth::Auth;
use crate::capture::capture;
use crate::clock::rfc3339;
use crate::db::{LiveRevision, SnapshotBody};
use crate::error::AppError;
use crate::incus::IncusClient;

/// A capture the log made.
pub(super) struct Captured {
    pub snapshot: Snapshot,
    pub snapshot_id: i64,
    pub finished_at: i64,
    pub revision: Option<LiveRevision>,
}

/// The scriptlet whose revisions are `connection`'s live texts.
pub fn live_scriptlet_name(connection: &str) -> String {
    format!("{connection} (live, decision log)")
}

/// Captures the cluster behind `connection` now and keeps it.
pub(super) async fn capture_through(
    auth: &Auth,
    connection: &str,
    client: &IncusClient,
) -> Result<Captured, AppError> {
    let started_at = auth.clock().now_ms();
    let snapshot = capture(client, client.remote(), rfc3339(started_at))
        .await
        .map_err(|error| AppError::Upstream(format!("capture from {connection} failed: {error}")))?;
    let finished_at = auth.clock().now_ms();
    let body = {
        let snapshot = snapshot.clone();
        crate::cpu::run(move || SnapshotBody::of(&snapshot)).await
    };
    let entry = auth
        .audit()
        .snapshot_added_as(&Actor::berth(), &snapshot, &body.hash);
    let (snapshot_id, _new) = auth
        .store()
        .insert_snapshot_body(&snapshot, &body, &entry)
        .await?;
    let revision = keep_capture(auth, connection, &snapshot, snapshot_id, started_at, finished_at).await?;
    Ok(Captured {
        snapshot,
        snapshot_id,
        finished_at,
        revision,
    })
}

/// Records a capture made through `connection` (the log's, or one an author asked for) and,
/// when the log is on, keeps the cluster's scriptlet as a revision.
pub async fn keep_capture(
    auth: &Auth,
    connection: &str,
    snapshot: &Snapshot,
    snapshot_id: i64,
    started_at: i64,
    finished_at: i64,
) -> Result<Option<LiveRevision>, AppError> {
    let store = auth.store();
    store
        .record_capture(connection, snapshot_id, started_at, finished_at)
        .await?;
    let on = store
        .connection(connection)
        .await?
        .is_some_and(|record| record.decision_log == 1);
    if !on {
        return Ok(None);
    }
    let text = snapshot.server.placement_scriptlet().unwrap_or_default();
    Ok(Some(keep_scriptlet(auth, connection, text).await?))
}

/// Keeps `text` as the newest revision of `connection`'s live scriptlet (audited as Berth's
/// when it is new).
pub(super) async fn keep_scriptlet(
    auth: &Auth,
    connection: &str,
    text: &str,
) -> Result<LiveRevision, AppError> {
    let name = live_scriptlet_name(connection);
    let audit = auth.audit();
    let revision = auth
        .store()
        .keep_live_revision(
            connection,
            &name,
            text,
            auth.clock().now_ms(),
            |created, scriptlet_id, number| {
                let kind = if created {
                    AuditKind::ScriptletCreated
                } else {
                    AuditKind::ScriptletRevised
                };
                audit.entry(
                    &Actor::berth(),
                    kind,
                    Some(&name),
                    json!({
                        "scriptlet_id": scriptlet_id,
                        "revision": number,
                        "connection": connection,
                        "via": "decision log",
                        "bytes": text.len(),
                    }),
                )
            },
        )
        .await?;
    if revision.new {
        tracing::info!(
            connection,
            scriptlet.id = revision.scriptlet_id,
            revision = revision.number,
            "the cluster's scriptlet is a new revision"
        );
    }
    Ok(revision)
}
