//! Connections to Incus clusters. The client key column holds the key sealed with the secret
//! key file (`secrets/sealed.rs`; an older Berth's database may still hold one in the clear
//! until the next start seals it): the store neither seals nor opens it, and listings carry
//! it only to the service that may. Adding, removing and resealing append their audit entry
//! in the same transaction.

use std::fmt;

use super::audit::append_in;
use super::{DatabaseKind, NewAuditEntry, Store, StoreError};
use crate::secrets::StoredForm;

/// A stored connection with its credentials (server-side only). `Debug` shows no client key.
#[derive(Clone, PartialEq, sqlx::FromRow)]
pub struct ConnectionRecord {
    pub name: String,
    /// `unix:///path/to/unix.socket` or `https://HOST:PORT`.
    pub remote: String,
    pub client_cert: Option<String>,
    /// Sealed (`v1:KEY-ID:…`), or a PEM an older Berth stored in the clear.
    pub client_key: Option<String>,
    pub server_cert: Option<String>,
    pub server_ca: Option<String>,
    pub server_fingerprint: Option<String>,
    pub created_by: String,
    pub created_at: i64,
    /// 1 when the decision log listens to this connection's cluster.
    pub decision_log: i64,
}

impl fmt::Debug for ConnectionRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let client_key = self
            .client_key
            .as_deref()
            .map(|stored| match StoredForm::of(stored) {
                StoredForm::Sealed { key_id, .. } => format!("[sealed with key {key_id}]"),
                StoredForm::Clear => "[in the clear, redacted]".to_owned(),
                StoredForm::Unknown { version } => format!("[sealed, format {version}]"),
            });
        f.debug_struct("ConnectionRecord")
            .field("name", &self.name)
            .field("remote", &self.remote)
            .field("client_cert", &self.client_cert.as_ref().map(|_| "[certificate]"))
            .field("client_key", &client_key)
            .field("server_cert", &self.server_cert.as_ref().map(|_| "[certificate]"))
            .field("server_ca", &self.server_ca.as_ref().map(|_| "[certificate]"))
            .field("server_fingerprint", &self.server_fingerprint)
            .field("created_by", &self.created_by)
            .field("created_at", &self.created_at)
            .field("decision_log", &self.decision_log)
            .finish()
    }
}

/// One connection's client key replaced: by the stored value it replaces, so that a
/// connection changed meanwhile is not overwritten.
#[derive(Clone, PartialEq)]
pub struct ClientKeyChange {
    pub connection: String,
    pub from: String,
    pub to: String,
}

impl fmt::Debug for ClientKeyChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClientKeyChange({})", self.connection)
    }
}

impl Store {
    /// Adds a connection with its audit entry; `false` (and no entry) when the name is taken.
    pub async fn insert_connection(
        &self,
        connection: &ConnectionRecord,
        audit: &NewAuditEntry,
    ) -> Result<bool, StoreError> {
        let mut transaction = self.pool().begin().await?;
        let done = sqlx::query(
            "INSERT INTO connections (name, remote, client_cert, client_key, server_cert, server_ca,
                                      server_fingerprint, created_by, created_at, decision_log)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(&connection.name)
        .bind(&connection.remote)
        .bind(&connection.client_cert)
        .bind(&connection.client_key)
        .bind(&connection.server_cert)
        .bind(&connection.server_ca)
        .bind(&connection.server_fingerprint)
        .bind(&connection.created_by)
        .bind(connection.created_at)
        .bind(connection.decision_log)
        .execute(&mut *transaction)
        .await?;
        let inserted = done.rows_affected() == 1;
        if inserted {
            append_in(&mut transaction, audit).await?;
        }
        transaction.commit().await?;
        Ok(inserted)
    }

    pub async fn connection(&self, name: &str) -> Result<Option<ConnectionRecord>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT name, remote, client_cert, client_key, server_cert, server_ca, server_fingerprint,
                    created_by, created_at, decision_log
             FROM connections WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Every connection by name, credentials included: callers show only what they may.
    pub async fn list_connections(&self) -> Result<Vec<ConnectionRecord>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT name, remote, client_cert, client_key, server_cert, server_ca, server_fingerprint,
                    created_by, created_at, decision_log
             FROM connections ORDER BY name",
        )
        .fetch_all(self.pool())
        .await?)
    }

    /// The ids of the keys that sealed the stored client keys (none: nothing needs a key file).
    pub async fn client_key_sealers(&self) -> Result<Vec<String>, StoreError> {
        let mut ids: Vec<String> = self
            .list_connections()
            .await?
            .iter()
            .filter_map(|record| match StoredForm::of(record.client_key.as_deref()?) {
                StoredForm::Sealed { key_id, .. } => Some(key_id.to_owned()),
                StoredForm::Clear | StoredForm::Unknown { .. } => None,
            })
            .collect();
        ids.sort();
        ids.dedup();
        Ok(ids)
    }

    /// Removes a connection with its audit entry; `false` (and no entry) when there is none.
    pub async fn delete_connection(&self, name: &str, audit: &NewAuditEntry) -> Result<bool, StoreError> {
        let mut transaction = self.pool().begin().await?;
        let done = sqlx::query("DELETE FROM connections WHERE name = $1")
            .bind(name)
            .execute(&mut *transaction)
            .await?;
        let deleted = done.rows_affected() == 1;
        if deleted {
            append_in(&mut transaction, audit).await?;
        }
        transaction.commit().await?;
        Ok(deleted)
    }

    /// Replaces client keys, all or none, with the audit entry: `false` (nothing written) when
    /// one of them no longer holds the value it is replaced from (changed or removed meanwhile).
    pub async fn replace_client_keys(
        &self,
        changes: &[ClientKeyChange],
        audit: &NewAuditEntry,
    ) -> Result<bool, StoreError> {
        let mut transaction = self.pool().begin().await?;
        for change in changes {
            let done =
                sqlx::query("UPDATE connections SET client_key = $1 WHERE name = $2 AND client_key = $3")
                    .bind(&change.to)
                    .bind(&change.connection)
                    .bind(&change.from)
                    .execute(&mut *transaction)
                    .await?;
            if done.rows_affected() != 1 {
                transaction.rollback().await?;
                return Ok(false);
            }
        }
        append_in(&mut transaction, audit).await?;
        transaction.commit().await?;
        if self.kind == DatabaseKind::Sqlite {
            // The replaced values' pages are overwritten in the log (`secure_delete`); copying
            // the log into the database file now overwrites them there too. Best effort: a
            // busy reader postpones it to SQLite's next checkpoint.
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(self.pool())
                .await?;
        }
        Ok(true)
    }
}
