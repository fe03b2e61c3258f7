//! The decision log's own state: which connections have it on (an admin's change, audited in
//! its transaction), who listens to each and until when the stream was known whole, the gaps,
//! the captures made through a connection, and the connection's live scriptlet kept as
//! revisions of a scriptlet of its own (each new text with its audit entry, by Berth).

use super::audit::{append_in, NewAuditEntry};
use super::scriptlets::insert_revision_in;
use super::{Store, StoreError};

/// Who listens to a connection, in which state.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ListenerRow {
    pub connection: String,
    pub holder: String,
    /// `listening`, `stopped` (Berth shut down with the log on), `disabled`.
    pub state: String,
    pub since: i64,
    /// Until when the stream was known whole.
    pub alive_at: i64,
    pub scriptlet_id: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewGap {
    pub connection: String,
    pub member: Option<String>,
    /// `disconnect`, `handover`, `restart`.
    pub reason: String,
    pub detail: String,
    pub started_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct GapRow {
    pub id: i64,
    pub connection: String,
    pub member: Option<String>,
    pub reason: String,
    pub detail: String,
    pub started_at: i64,
    pub ended_at: Option<i64>,
    pub reconciled_at: Option<i64>,
    pub seen_later: Option<i64>,
}

/// A capture made through a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct CaptureRow {
    pub snapshot_id: i64,
    pub started_at: i64,
    pub finished_at: i64,
}

/// The revision of a connection's live scriptlet a text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveRevision {
    pub scriptlet_id: i64,
    pub number: i64,
    /// Whether this text was new (a revision was added).
    pub new: bool,
}

const GAP_COLUMNS: &str =
    "id, connection, member, reason, detail, started_at, ended_at, reconciled_at, seen_later";

impl Store {
    /// Turns the log of connection `name` on or off with its audit entry; `false` (and no
    /// entry) when there is no such connection.
    pub async fn set_decision_log(
        &self,
        name: &str,
        on: bool,
        audit: &NewAuditEntry,
    ) -> Result<bool, StoreError> {
        let mut transaction = self.pool().begin().await?;
        let done = sqlx::query("UPDATE connections SET decision_log = $1 WHERE name = $2")
            .bind(i64::from(on))
            .bind(name)
            .execute(&mut *transaction)
            .await?;
        if done.rows_affected() != 1 {
            transaction.rollback().await?;
            return Ok(false);
        }
        append_in(&mut transaction, audit).await?;
        transaction.commit().await?;
        Ok(true)
    }

    /// The connections whose log is on, by name.
    pub async fn decision_log_connections(&self) -> Result<Vec<String>, StoreError> {
        let names: Vec<(String,)> =
            sqlx::query_as("SELECT name FROM connections WHERE decision_log = 1 ORDER BY name")
                .fetch_all(self.pool())
                .await?;
        Ok(names.into_iter().map(|(name,)| name).collect())
    }

    pub async fn listener(&self, connection: &str) -> Result<Option<ListenerRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT connection, holder, state, since, alive_at, scriptlet_id
             FROM decision_listeners WHERE connection = $1",
        )
        .bind(connection)
        .fetch_optional(self.pool())
        .await?)
    }

    /// `holder` starts listening to `connection` (it holds the lease): the row as it was
    /// before, to tell whether a gap was left.
    pub async fn start_listening(
        &self,
        connection: &str,
        holder: &str,
        now: i64,
    ) -> Result<Option<ListenerRow>, StoreError> {
        let before = self.listener(connection).await?;
        sqlx::query(
            "INSERT INTO decision_listeners (connection, holder, state, since, alive_at)
             VALUES ($1, $2, 'listening', $3, $3)
             ON CONFLICT (connection) DO UPDATE SET holder = $2, state = 'listening', since = $3, alive_at = $3",
        )
        .bind(connection)
        .bind(holder)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(before)
    }

    /// The stream of `holder` was whole until `now`; `false` when the row is another holder's.
    pub async fn listener_alive(&self, connection: &str, holder: &str, now: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE decision_listeners SET alive_at = $1
             WHERE connection = $2 AND holder = $3 AND state = 'listening'",
        )
        .bind(now)
        .bind(connection)
        .bind(holder)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// `holder` stops listening (`stopped` or `disabled`); its stream was whole until
    /// `alive_at`.
    pub async fn stop_listening(
        &self,
        connection: &str,
        holder: &str,
        state: &str,
        alive_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE decision_listeners SET state = $1, alive_at = $2
             WHERE connection = $3 AND holder = $4",
        )
        .bind(state)
        .bind(alive_at)
        .bind(connection)
        .bind(holder)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn open_gap(&self, gap: &NewGap) -> Result<i64, StoreError> {
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO decision_gaps (connection, member, reason, detail, started_at)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(&gap.connection)
        .bind(&gap.member)
        .bind(&gap.reason)
        .bind(&gap.detail)
        .bind(gap.started_at)
        .fetch_one(self.pool())
        .await?;
        Ok(id)
    }

    /// Closes a gap: the stream is held again since `ended_at`, and a capture reconciled it.
    pub async fn close_gap(
        &self,
        id: i64,
        ended_at: i64,
        reconciled_at: Option<i64>,
        seen_later: Option<i64>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE decision_gaps SET ended_at = $1, reconciled_at = $2, seen_later = $3 WHERE id = $4",
        )
        .bind(ended_at)
        .bind(reconciled_at)
        .bind(seen_later)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Gaps of `connection` (every connection: `None`) that overlap `[since, until)`, newest
    /// first.
    pub async fn gaps(
        &self,
        connection: Option<&str>,
        since: Option<i64>,
        until: Option<i64>,
        limit: u32,
    ) -> Result<Vec<GapRow>, StoreError> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {GAP_COLUMNS} FROM decision_gaps
             WHERE ($1 IS NULL OR connection = $2)
               AND ($3 IS NULL OR ended_at IS NULL OR ended_at >= $4)
               AND ($5 IS NULL OR started_at < $6)
             ORDER BY started_at DESC, id DESC LIMIT $7"
        )))
        .bind(connection)
        .bind(connection)
        .bind(since)
        .bind(since)
        .bind(until)
        .bind(until)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?)
    }

    /// Records that `snapshot_id` was captured through `connection` between the two times.
    pub async fn record_capture(
        &self,
        connection: &str,
        snapshot_id: i64,
        started_at: i64,
        finished_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO connection_captures (connection, snapshot_id, started_at, finished_at)
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        )
        .bind(connection)
        .bind(snapshot_id)
        .bind(started_at)
        .bind(finished_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The newest capture through `connection` finished at or before `at` (every one: `None`).
    pub async fn capture_before(
        &self,
        connection: &str,
        at: Option<i64>,
    ) -> Result<Option<CaptureRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT snapshot_id, started_at, finished_at FROM connection_captures
             WHERE connection = $1 AND ($2 IS NULL OR finished_at <= $3)
             ORDER BY finished_at DESC LIMIT 1",
        )
        .bind(connection)
        .bind(at)
        .bind(at)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Keeps `text` as the newest revision of the scriptlet `name` of `connection`'s live
    /// texts (created with it as its first revision when missing), with its audit entry
    /// (`created` or `revised`, made for the scriptlet's id and number), unless the newest
    /// revision is this text already.
    pub async fn keep_live_revision(
        &self,
        connection: &str,
        name: &str,
        text: &str,
        now: i64,
        audit: impl FnOnce(bool, i64, i64) -> NewAuditEntry,
    ) -> Result<LiveRevision, StoreError> {
        let mut transaction = self.pool().begin().await?;
        // Writes first (SQLite takes the write lock at once): the scriptlet, if missing.
        let created: Option<(i64,)> = sqlx::query_as(
            "INSERT INTO scriptlets (name, created_by, created_at) VALUES ($1, 'berth', $2)
             ON CONFLICT (name) DO NOTHING RETURNING id",
        )
        .bind(name)
        .bind(now)
        .fetch_optional(&mut *transaction)
        .await?;
        let scriptlet_id = match created {
            Some((id,)) => id,
            None => {
                // Only Berth's own: a scriptlet an author named so is left alone.
                let (id,): (i64,) = sqlx::query_as("SELECT id FROM scriptlets WHERE name = $1 AND created_by = 'berth'")
                    .bind(name)
                    .fetch_optional(&mut *transaction)
                    .await?
                    .ok_or_else(|| {
                        StoreError::Corrupt(format!(
                            "the scriptlet {name:?} was made by someone else: the decision log cannot keep the cluster's scriptlet in it"
                        ))
                    })?;
                let newest: Option<(i64, String)> = sqlx::query_as(
                    "SELECT number, source FROM scriptlet_revisions WHERE scriptlet_id = $1
                     ORDER BY number DESC LIMIT 1",
                )
                .bind(id)
                .fetch_optional(&mut *transaction)
                .await?;
                if let Some((number, source)) = newest {
                    if source == text {
                        transaction.rollback().await?;
                        self.set_listener_scriptlet(connection, id).await?;
                        return Ok(LiveRevision {
                            scriptlet_id: id,
                            number,
                            new: false,
                        });
                    }
                }
                id
            }
        };
        let number = insert_revision_in(
            &mut transaction,
            scriptlet_id,
            text,
            "the cluster's scriptlet, as the decision log read it",
            "berth",
            now,
        )
        .await?
        .ok_or_else(|| StoreError::Corrupt(format!("scriptlet {scriptlet_id} vanished")))?;
        append_in(&mut transaction, &audit(created.is_some(), scriptlet_id, number)).await?;
        transaction.commit().await?;
        self.set_listener_scriptlet(connection, scriptlet_id).await?;
        Ok(LiveRevision {
            scriptlet_id,
            number,
            new: true,
        })
    }

    async fn set_listener_scriptlet(&self, connection: &str, scriptlet_id: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE decision_listeners SET scriptlet_id = $1 WHERE connection = $2")
            .bind(scriptlet_id)
            .bind(connection)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// The number of the newest revision of `scriptlet_id` whose text is `text`.
    pub async fn revision_with_text(&self, scriptlet_id: i64, text: &str) -> Result<Option<i64>, StoreError> {
        let found: Option<(i64,)> = sqlx::query_as(
            "SELECT number FROM scriptlet_revisions WHERE scriptlet_id = $1 AND source = $2
             ORDER BY number DESC LIMIT 1",
        )
        .bind(scriptlet_id)
        .bind(text)
        .fetch_optional(self.pool())
        .await?;
        Ok(found.map(|(number,)| number))
    }
}
