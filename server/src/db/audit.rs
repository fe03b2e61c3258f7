//! The audit log: append-only (the schema's triggers refuse updates and deletions), written
//! for every action worth answering "who did this?", read by admins.
//!
//! An entry that records a change is written in the transaction of that change: the store's
//! write methods take the entry ([`NewAuditEntry`]) and append it with [`append_in`] before
//! they commit, so a change is never without its entry, and an entry never tells of a change
//! that was rolled back (a compare-and-set that lost writes neither). [`Store::append_audit`]
//! is for events that change nothing else (a refused sign-in, an export).

use super::{Store, StoreError};

/// One entry to append. `detail` is a JSON object and never holds a secret.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAuditEntry {
    pub at: i64,
    pub actor_id: Option<i64>,
    pub actor: Option<String>,
    pub kind: String,
    pub subject: Option<String>,
    pub detail: serde_json::Value,
    pub address: Option<String>,
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct AuditEntry {
    pub id: i64,
    pub at: i64,
    pub actor: Option<String>,
    pub kind: String,
    pub subject: Option<String>,
    pub detail: String,
    pub address: Option<String>,
}

/// Which entries to read; every field narrows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditFilter {
    pub actor: Option<String>,
    /// A kind (`login.failed`) or a kind's family (`login`: `login`, `login.failed`, …).
    pub kind: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    /// Entries older than this id (paging backwards).
    pub before_id: Option<i64>,
    pub limit: u32,
}

impl Store {
    /// Appends an entry that records no other change of the store.
    pub async fn append_audit(&self, entry: &NewAuditEntry) -> Result<i64, StoreError> {
        let mut connection = self.pool().acquire().await?;
        append_in(&mut connection, entry).await
    }

    /// Entries matching the filter, newest first.
    pub async fn audit_entries(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
        let family = filter.kind.as_ref().map(|kind| format!("{kind}.%"));
        Ok(sqlx::query_as(
            "SELECT id, at, actor, kind, subject, detail, address FROM audit_log
             WHERE ($1 IS NULL OR actor = $2)
               AND ($3 IS NULL OR kind = $4 OR kind LIKE $5)
               AND ($6 IS NULL OR at >= $7)
               AND ($8 IS NULL OR at < $9)
               AND ($10 IS NULL OR id < $11)
             ORDER BY at DESC, id DESC
             LIMIT $12",
        )
        .bind(&filter.actor)
        .bind(&filter.actor)
        .bind(&filter.kind)
        .bind(&filter.kind)
        .bind(&family)
        .bind(filter.since)
        .bind(filter.since)
        .bind(filter.until)
        .bind(filter.until)
        .bind(filter.before_id)
        .bind(filter.before_id)
        .bind(i64::from(filter.limit))
        .fetch_all(self.pool())
        .await?)
    }

    /// Every entry about `subject` (e.g. `plan:7`), oldest first.
    pub async fn audit_of_subject(&self, subject: &str) -> Result<Vec<AuditEntry>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT id, at, actor, kind, subject, detail, address FROM audit_log
             WHERE subject = $1 ORDER BY id",
        )
        .bind(subject)
        .fetch_all(self.pool())
        .await?)
    }

    /// The newest entry about `subject`.
    pub async fn latest_audit_of_subject(&self, subject: &str) -> Result<Option<AuditEntry>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT id, at, actor, kind, subject, detail, address FROM audit_log
             WHERE subject = $1 ORDER BY id DESC LIMIT 1",
        )
        .bind(subject)
        .fetch_optional(self.pool())
        .await?)
    }

    /// How many entries of `kind` about `subject`, and how many from `address`, after `since`
    /// (the login rate limit counts failures).
    pub async fn count_recent(
        &self,
        kind: &str,
        subject: &str,
        address: Option<&str>,
        since: i64,
    ) -> Result<(i64, i64), StoreError> {
        let (by_subject,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM audit_log WHERE kind = $1 AND subject = $2 AND at > $3")
                .bind(kind)
                .bind(subject)
                .bind(since)
                .fetch_one(self.pool())
                .await?;
        let by_address = match address {
            Some(address) => {
                let (count,): (i64,) = sqlx::query_as(
                    "SELECT COUNT(*) FROM audit_log WHERE kind = $1 AND address = $2 AND at > $3",
                )
                .bind(kind)
                .bind(address)
                .bind(since)
                .fetch_one(self.pool())
                .await?;
                count
            }
            None => 0,
        };
        Ok((by_subject, by_address))
    }
}

/// Appends `entry` on `connection`: inside the transaction of the change it records.
pub(super) async fn append_in(
    connection: &mut sqlx::AnyConnection,
    entry: &NewAuditEntry,
) -> Result<i64, StoreError> {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO audit_log (at, actor_id, actor, kind, subject, detail, address)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(entry.at)
    .bind(entry.actor_id)
    .bind(&entry.actor)
    .bind(&entry.kind)
    .bind(&entry.subject)
    .bind(entry.detail.to_string())
    .bind(&entry.address)
    .fetch_one(&mut *connection)
    .await?;
    Ok(id)
}
