//! Connections to Incus clusters. The client key is read here only to connect; listings leave
//! it out.

use super::{Store, StoreError};

/// A stored connection with its credentials (server-side only).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ConnectionRecord {
    pub name: String,
    /// `unix:///path/to/unix.socket` or `https://HOST:PORT`.
    pub remote: String,
    pub client_cert: Option<String>,
    pub client_key: Option<String>,
    pub server_cert: Option<String>,
    pub server_ca: Option<String>,
    pub server_fingerprint: Option<String>,
    pub created_by: String,
    pub created_at: i64,
}

impl Store {
    /// Adds a connection; `false` when the name is taken.
    pub async fn insert_connection(&self, connection: &ConnectionRecord) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO connections (name, remote, client_cert, client_key, server_cert, server_ca,
                                      server_fingerprint, created_by, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
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
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn connection(&self, name: &str) -> Result<Option<ConnectionRecord>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT name, remote, client_cert, client_key, server_cert, server_ca, server_fingerprint,
                    created_by, created_at
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
                    created_by, created_at
             FROM connections ORDER BY name",
        )
        .fetch_all(self.pool())
        .await?)
    }

    pub async fn delete_connection(&self, name: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM connections WHERE name = $1")
            .bind(name)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }
}
