//! Stored snapshots: insert (deduplicated by content hash), list, load, delete. Inserting and
//! deleting append their audit entry in the same transaction.
//!
//! A large cluster's snapshot is tens of MiB of JSON: parsing a stored body happens off the
//! async runtime ([`crate::cpu`]), and so can writing one ([`SnapshotBody`], made by the caller
//! there before [`Store::insert_snapshot_body`]).

use std::sync::Arc;

use berth_core::Snapshot;
use sha2::{Digest, Sha256};

use super::audit::append_in;
use super::{NewAuditEntry, Store, StoreError, StoredSnapshot};

/// A snapshot's canonical JSON and its content hash, as stored: CPU-heavy to make for a large
/// cluster, so made apart from the insert.
#[derive(Debug, Clone)]
pub struct SnapshotBody {
    pub json: String,
    /// [`Snapshot::content_hash`], from the same JSON.
    pub hash: String,
}

impl SnapshotBody {
    pub fn of(snapshot: &Snapshot) -> SnapshotBody {
        let json = snapshot.to_json();
        let hash = hex::encode(Sha256::digest(json.as_bytes()));
        SnapshotBody { json, hash }
    }
}

/// A snapshot's summary columns, without its body.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct SnapshotRow {
    pub id: i64,
    pub content_hash: String,
    pub name: String,
    pub source_kind: String,
    pub captured_at: String,
    pub incus_version: String,
    pub member_count: i64,
    pub instance_count: i64,
}

impl Store {
    /// Stores a snapshot unless one with the same content is stored already, and with it
    /// `audit` (its detail gets the new `snapshot_id`). Returns its id and whether it was new;
    /// a snapshot stored already writes no entry.
    pub async fn insert_snapshot(
        &self,
        snapshot: &Snapshot,
        audit: &NewAuditEntry,
    ) -> Result<(i64, bool), StoreError> {
        self.insert_snapshot_body(snapshot, &SnapshotBody::of(snapshot), audit)
            .await
    }

    /// [`Store::insert_snapshot`] with the body made already (`SnapshotBody::of(snapshot)`).
    pub async fn insert_snapshot_body(
        &self,
        snapshot: &Snapshot,
        body: &SnapshotBody,
        audit: &NewAuditEntry,
    ) -> Result<(i64, bool), StoreError> {
        let (hash, body) = (&body.hash, &body.json);
        let mut transaction = self.pool().begin().await?;
        let inserted: Option<(i64,)> = sqlx::query_as(
            "INSERT INTO snapshots
                 (content_hash, name, source_kind, captured_at, incus_version, member_count, instance_count, body)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (content_hash) DO NOTHING
             RETURNING id",
        )
        .bind(hash)
        .bind(&snapshot.source.name)
        .bind(&snapshot.source.kind)
        .bind(&snapshot.captured_at)
        .bind(snapshot.incus_version())
        .bind(snapshot.members.len() as i64)
        .bind(snapshot.instances.len() as i64)
        .bind(body)
        .fetch_optional(&mut *transaction)
        .await?;
        if let Some((id,)) = inserted {
            let mut entry = audit.clone();
            entry.detail["snapshot_id"] = id.into();
            append_in(&mut transaction, &entry).await?;
            transaction.commit().await?;
            return Ok((id, true));
        }
        transaction.rollback().await?;
        let (id,): (i64,) = sqlx::query_as("SELECT id FROM snapshots WHERE content_hash = $1")
            .bind(hash)
            .fetch_one(self.pool())
            .await?;
        Ok((id, false))
    }

    /// Every stored snapshot, newest capture first.
    pub async fn list_snapshots(&self) -> Result<Vec<SnapshotRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT id, content_hash, name, source_kind, captured_at, incus_version, member_count, instance_count
             FROM snapshots ORDER BY captured_at DESC, id DESC",
        )
        .fetch_all(self.pool())
        .await?)
    }

    /// One stored snapshot as `/api/v1` uses it, read once and then kept in memory for the
    /// next requests; `None` when no such id is stored.
    pub async fn stored_snapshot(&self, id: i64) -> Result<Option<Arc<StoredSnapshot>>, StoreError> {
        if let Some(stored) = self.snapshots.get(id) {
            return Ok(Some(stored));
        }
        let row: Option<(String, String)> =
            sqlx::query_as("SELECT content_hash, body FROM snapshots WHERE id = $1")
                .bind(id)
                .fetch_optional(self.pool())
                .await?;
        let Some((content_hash, body)) = row else {
            return Ok(None);
        };
        // Reading a large cluster takes a while: not on a thread that serves requests.
        let stored = crate::cpu::run(move || StoredSnapshot::read(id, content_hash, body))
            .await
            .map_err(|error| StoreError::CorruptSnapshot {
                id,
                message: error.to_string(),
            })?;
        let stored = Arc::new(stored);
        self.snapshots.insert(stored.clone());
        Ok(Some(stored))
    }

    /// One snapshot with its body parsed and validated; `None` when no such id is stored.
    pub async fn load_snapshot(&self, id: i64) -> Result<Option<Snapshot>, StoreError> {
        let body: Option<(String,)> = sqlx::query_as("SELECT body FROM snapshots WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        let Some((body,)) = body else {
            return Ok(None);
        };
        let snapshot = crate::cpu::run(move || Snapshot::from_json(&body)).await;
        snapshot.map(Some).map_err(|error| StoreError::CorruptSnapshot {
            id,
            message: error.to_string(),
        })
    }

    /// Deletes a stored snapshot, and appends `audit` when it did; `false` when there is none
    /// with this id.
    pub async fn delete_snapshot(&self, id: i64, audit: &NewAuditEntry) -> Result<bool, StoreError> {
        let mut transaction = self.pool().begin().await?;
        let done = sqlx::query("DELETE FROM snapshots WHERE id = $1")
            .bind(id)
            .execute(&mut *transaction)
            .await?;
        let deleted = done.rows_affected() == 1;
        if deleted {
            append_in(&mut transaction, audit).await?;
        }
        transaction.commit().await?;
        self.snapshots.remove(id);
        Ok(deleted)
    }

    /// One snapshot's summary row; `None` when no such id is stored.
    pub async fn snapshot_row(&self, id: i64) -> Result<Option<SnapshotRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT id, content_hash, name, source_kind, captured_at, incus_version, member_count, instance_count
             FROM snapshots WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?)
    }
}
