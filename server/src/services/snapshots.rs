//! Stored snapshots: list, upload, export, delete. Shared by `/api/v1/snapshots` and the
//! Snapshots page; every write is audited here. An upload's parsing and an export's writing
//! (tens of MiB of JSON for a large cluster) run off the async runtime ([`crate::cpu`]).

use berth_app::types::SnapshotSummary;
use berth_core::Snapshot;
use serde_json::json;

use super::cluster::summary_of;
use crate::audit::{Actor, AuditKind};
use crate::auth::Auth;
use crate::db::{SnapshotBody, Store};
use crate::error::AppError;

/// A snapshot just stored, or found stored already (snapshots are identified by content).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Stored {
    #[serde(flatten)]
    pub snapshot: SnapshotSummary,
    pub new: bool,
}

pub async fn list(store: &Store) -> Result<Vec<SnapshotSummary>, AppError> {
    Ok(store.list_snapshots().await?.iter().map(summary_of).collect())
}

/// Validates an uploaded snapshot and stores it. A file that is not a usable snapshot is
/// refused with the reason (the line and column of a JSON error, or the object that does not
/// hold together), and nothing is stored.
pub async fn upload(auth: &Auth, actor: &Actor, text: &str) -> Result<Stored, AppError> {
    let text = text.to_owned();
    let (snapshot, body) = crate::cpu::run(move || {
        Snapshot::from_json(&text).map(|snapshot| {
            let body = SnapshotBody::of(&snapshot);
            (snapshot, body)
        })
    })
    .await
    .map_err(|error| AppError::Unprocessable(format!("not a usable snapshot: {error}")))?;
    store_body(auth, actor, &snapshot, &body).await
}

/// Stores a snapshot (audited when new).
pub async fn store(auth: &Auth, actor: &Actor, snapshot: &Snapshot) -> Result<Stored, AppError> {
    store_body(auth, actor, snapshot, &SnapshotBody::of(snapshot)).await
}

async fn store_body(
    auth: &Auth,
    actor: &Actor,
    snapshot: &Snapshot,
    body: &SnapshotBody,
) -> Result<Stored, AppError> {
    let store = auth.store();
    let (id, new) = store.insert_snapshot_body(snapshot, body).await?;
    if new {
        auth.audit().snapshot_added(actor, id, snapshot).await?;
    }
    let row = store
        .snapshot_row(id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("snapshot {id} vanished")))?;
    Ok(Stored {
        snapshot: summary_of(&row),
        new,
    })
}

/// The snapshot as a file: its canonical JSON, with secret-looking values replaced when
/// `redact` (for sharing).
pub async fn export(store: &Store, id: i64, redact: bool) -> Result<String, AppError> {
    let snapshot = store
        .load_snapshot(id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("there is no snapshot {id}")))?;
    Ok(crate::cpu::run(move || {
        if redact {
            snapshot.redacted().0.to_json()
        } else {
            snapshot.to_json()
        }
    })
    .await)
}

pub async fn delete(auth: &Auth, actor: &Actor, id: i64) -> Result<(), AppError> {
    let store = auth.store();
    let row = store
        .snapshot_row(id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("there is no snapshot {id}")))?;
    store.delete_snapshot(id).await?;
    auth.audit()
        .record(
            actor,
            AuditKind::SnapshotDeleted,
            Some(&row.name),
            json!({ "snapshot_id": id, "content_hash": row.content_hash }),
        )
        .await?;
    Ok(())
}
