//! Scriptlets and their revisions. A revision is written once and never changed; a scriptlet's
//! text is its newest revision. An author's new scriptlet or revision is written with its
//! audit entry, in one transaction.

use super::audit::append_in;
use super::{NewAuditEntry, Store, StoreError};

/// A scriptlet with its newest revision's summary.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ScriptletRow {
    pub id: i64,
    pub name: String,
    pub created_by: String,
    pub created_at: i64,
    /// The newest revision's number (every scriptlet has at least one).
    pub revisions: i64,
    pub updated_at: i64,
    pub updated_by: String,
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct RevisionRow {
    pub scriptlet_id: i64,
    pub number: i64,
    pub source: String,
    pub message: String,
    pub author: String,
    pub created_at: i64,
}

const SCRIPTLET_COLUMNS: &str = "s.id, s.name, s.created_by, s.created_at,
    r.number AS revisions, r.created_at AS updated_at, r.author AS updated_by
    FROM scriptlets s
    JOIN scriptlet_revisions r ON r.scriptlet_id = s.id
     AND r.number = (SELECT MAX(number) FROM scriptlet_revisions WHERE scriptlet_id = s.id)";

impl Store {
    /// Creates a scriptlet with its first revision and its audit entry (given the new
    /// `scriptlet_id` in its detail), in one transaction. `Ok(None)`: the name is taken, and
    /// nothing is written.
    pub async fn insert_scriptlet(
        &self,
        name: &str,
        source: &str,
        message: &str,
        author: &str,
        now: i64,
        mut audit: NewAuditEntry,
    ) -> Result<Option<i64>, StoreError> {
        let mut transaction = self.pool().begin().await?;
        let id: Option<(i64,)> = sqlx::query_as(
            "INSERT INTO scriptlets (name, created_by, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO NOTHING RETURNING id",
        )
        .bind(name)
        .bind(author)
        .bind(now)
        .fetch_optional(&mut *transaction)
        .await?;
        let Some((id,)) = id else {
            return Ok(None);
        };
        sqlx::query(
            "INSERT INTO scriptlet_revisions (scriptlet_id, number, source, message, author, created_at)
             VALUES ($1, 1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(source)
        .bind(message)
        .bind(author)
        .bind(now)
        .execute(&mut *transaction)
        .await?;
        audit.detail["scriptlet_id"] = id.into();
        append_in(&mut transaction, &audit).await?;
        transaction.commit().await?;
        Ok(Some(id))
    }

    /// Every scriptlet, most recently changed first.
    pub async fn list_scriptlets(&self) -> Result<Vec<ScriptletRow>, StoreError> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {SCRIPTLET_COLUMNS} ORDER BY r.created_at DESC, s.id DESC"
        )))
        .fetch_all(self.pool())
        .await?)
    }

    pub async fn scriptlet(&self, id: i64) -> Result<Option<ScriptletRow>, StoreError> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {SCRIPTLET_COLUMNS} WHERE s.id = $1"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Adds the next revision with its author's audit entry (given the new `revision`'s number
    /// in its detail), in one transaction; its number, or `None` when there is no such
    /// scriptlet. Two authors saving at once cannot both get the same number: the primary key
    /// refuses the second, which is retried with the next number.
    pub async fn save_revision(
        &self,
        scriptlet_id: i64,
        source: &str,
        message: &str,
        author: &str,
        now: i64,
        mut audit: NewAuditEntry,
    ) -> Result<Option<i64>, StoreError> {
        for _attempt in 0..5 {
            let mut transaction = self.pool().begin().await?;
            let inserted =
                insert_revision_in(&mut transaction, scriptlet_id, source, message, author, now).await;
            let number = match inserted {
                Ok(Some(number)) => number,
                Ok(None) => return Ok(None),
                // The transaction is rolled back when dropped; the next attempt starts anew.
                Err(sqlx::Error::Database(error)) if error.is_unique_violation() => continue,
                Err(error) => return Err(error.into()),
            };
            audit.detail["revision"] = number.into();
            append_in(&mut transaction, &audit).await?;
            transaction.commit().await?;
            return Ok(Some(number));
        }
        Err(StoreError::Corrupt(format!(
            "could not number a new revision of scriptlet {scriptlet_id}: too many concurrent saves"
        )))
    }

    /// Revisions of a scriptlet, newest first.
    pub async fn revisions(&self, scriptlet_id: i64) -> Result<Vec<RevisionRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT scriptlet_id, number, source, message, author, created_at
             FROM scriptlet_revisions WHERE scriptlet_id = $1 ORDER BY number DESC",
        )
        .bind(scriptlet_id)
        .fetch_all(self.pool())
        .await?)
    }

    pub async fn revision(&self, scriptlet_id: i64, number: i64) -> Result<Option<RevisionRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT scriptlet_id, number, source, message, author, created_at
             FROM scriptlet_revisions WHERE scriptlet_id = $1 AND number = $2",
        )
        .bind(scriptlet_id)
        .bind(number)
        .fetch_optional(self.pool())
        .await?)
    }
}

/// Inserts the next revision of a scriptlet on `connection` (inside the caller's transaction
/// where there is one); its number, or `None` without such a scriptlet. Two saves at once can
/// pick the same number: the loser gets a unique violation.
pub(super) async fn insert_revision_in(
    connection: &mut sqlx::AnyConnection,
    scriptlet_id: i64,
    source: &str,
    message: &str,
    author: &str,
    now: i64,
) -> Result<Option<i64>, sqlx::Error> {
    let number: Option<(i64,)> = sqlx::query_as(
        "INSERT INTO scriptlet_revisions (scriptlet_id, number, source, message, author, created_at)
         SELECT id, (SELECT COALESCE(MAX(number), 0) + 1 FROM scriptlet_revisions WHERE scriptlet_id = $1),
                $2, $3, $4, $5
         FROM scriptlets WHERE id = $1
         RETURNING number",
    )
    .bind(scriptlet_id)
    .bind(source)
    .bind(message)
    .bind(author)
    .bind(now)
    .fetch_optional(&mut *connection)
    .await?;
    Ok(number.map(|(number,)| number))
}
