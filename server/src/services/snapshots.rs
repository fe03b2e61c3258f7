//! Stored snapshots: list, upload, export, delete. Shared by `/api/v1/snapshots` and the
//! Snapshots page; every write is audited here, in the store's transaction that makes it. An
//! upload's parsing and an export's writing (tens of MiB of JSON for a large cluster) run off
//! the async runtime ([`crate::cpu`]).
//!
//! An export is redacted (secret-looking config values replaced, `berth_core::redact`) unless
//! an admin asks for the secrets: that export is audited (`snapshot.exported`), the redacted
//! one is not (it shows nothing a viewer cannot read on the pages, and auditing every
//! download would let any viewer fill the audit log).

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
    let entry = auth.audit().snapshot_added_as(actor, snapshot, &body.hash);
    let (id, new) = store.insert_snapshot_body(snapshot, body, &entry).await?;
    let row = store
        .snapshot_row(id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("snapshot {id} vanished")))?;
    Ok(Stored {
        snapshot: summary_of(&row),
        new,
    })
}

/// Which file an export writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportForm {
    /// Secret-looking config values replaced, keys and sizes kept: for anyone, for sharing.
    Redacted,
    /// Everything as captured: for admins, audited.
    WithSecrets,
}

/// The snapshot as a file (its canonical JSON) in `form`. The caller has checked that `actor`
/// may have it with its secrets; that export is recorded before it is answered.
pub async fn export(auth: &Auth, actor: &Actor, id: i64, form: ExportForm) -> Result<String, AppError> {
    let snapshot = auth
        .store()
        .load_snapshot(id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("there is no snapshot {id}")))?;
    if form == ExportForm::WithSecrets {
        // The stored row names it: no hashing of the whole snapshot again here.
        let row = auth
            .store()
            .snapshot_row(id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("there is no snapshot {id}")))?;
        auth.audit()
            .record(
                actor,
                AuditKind::SnapshotExported,
                Some(&row.name),
                json!({ "snapshot_id": id, "content_hash": row.content_hash, "redacted": false }),
            )
            .await?;
    }
    Ok(crate::cpu::run(move || match form {
        ExportForm::Redacted => snapshot.redacted().0.to_json(),
        ExportForm::WithSecrets => snapshot.to_json(),
    })
    .await)
}

pub async fn delete(auth: &Auth, actor: &Actor, id: i64) -> Result<(), AppError> {
    let store = auth.store();
    let row = store
        .snapshot_row(id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("there is no snapshot {id}")))?;
    let entry = auth.audit().entry(
        actor,
        AuditKind::SnapshotDeleted,
        Some(&row.name),
        json!({ "snapshot_id": id, "content_hash": row.content_hash }),
    );
    if !store.delete_snapshot(id, &entry).await? {
        return Err(AppError::NotFound(format!("there is no snapshot {id}")));
    }
    Ok(())
}
