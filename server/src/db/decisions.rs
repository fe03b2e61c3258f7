//! The decision log's placements: recorded in batches as the listener reads them, corrected
//! when later events tell them better, predicted once, read newest first through a filter and
//! a cursor, followed by what changed since, counted for the agreement rate, pruned after the
//! retention. The listener's own state, its gaps and the captures it predicts on are in
//! `decision_listeners.rs`.

use super::{Store, StoreError};

/// A placement as the listener records it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDecision {
    pub connection: String,
    pub at: i64,
    pub operation: String,
    pub reason: String,
    pub project: String,
    pub instance: String,
    pub member: Option<String>,
    pub from_project: Option<String>,
    pub from_member: Option<String>,
    pub runs_on: Option<String>,
    /// JSON `[{"level","message"}]`.
    pub logs: String,
    pub seen_later: bool,
    pub gap_id: Option<i64>,
    /// The revision of the connection's live scriptlet that ran: (scriptlet, number).
    pub revision: Option<(i64, i64)>,
    /// JSON of the create a lookup read, for the prediction.
    pub request: Option<String>,
    /// Set for a decision nothing can predict (a seen-later one): why.
    pub unpredictable: Option<String>,
}

/// A stored decision.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct DecisionRow {
    pub id: i64,
    pub connection: String,
    pub at: i64,
    pub recorded_at: i64,
    pub updated_at: i64,
    pub operation: String,
    pub reason: String,
    pub project: String,
    pub instance: String,
    pub member: Option<String>,
    pub from_project: Option<String>,
    pub from_member: Option<String>,
    pub runs_on: Option<String>,
    pub logs: String,
    pub seen_later: i64,
    pub gap_id: Option<i64>,
    pub revision_scriptlet: Option<i64>,
    pub revision: Option<i64>,
    pub request: Option<String>,
    pub snapshot_id: Option<i64>,
    pub predicted_revision: Option<i64>,
    pub predicted_member: Option<String>,
    pub predicted_error: Option<String>,
    pub predicted_candidates: Option<String>,
    pub agrees: Option<i64>,
    pub unpredictable: Option<String>,
    pub predicted_at: Option<i64>,
}

const DECISION_COLUMNS: &str = "id, connection, at, recorded_at, updated_at, operation, reason, project,
    instance, member, from_project, from_member, runs_on, logs, seen_later, gap_id, revision_scriptlet,
    revision, request, snapshot_id, predicted_revision, predicted_member, predicted_error,
    predicted_candidates, agrees, unpredictable, predicted_at";

/// How a prediction came out, as the filter names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Agrees,
    Differs,
    /// Berth could not predict it (why is in the decision).
    Unpredicted,
    /// Not predicted yet.
    Pending,
}

impl Outcome {
    pub const ALL: [Outcome; 4] = [
        Outcome::Agrees,
        Outcome::Differs,
        Outcome::Unpredicted,
        Outcome::Pending,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Agrees => "agrees",
            Outcome::Differs => "differs",
            Outcome::Unpredicted => "unpredicted",
            Outcome::Pending => "pending",
        }
    }

    pub fn parse(text: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == text)
    }

    /// A stored decision's.
    pub fn of(row: &DecisionRow) -> Outcome {
        match (row.predicted_at, row.agrees) {
            (None, _) => Outcome::Pending,
            (Some(_), Some(1)) => Outcome::Agrees,
            (Some(_), Some(_)) => Outcome::Differs,
            (Some(_), None) => Outcome::Unpredicted,
        }
    }
}

/// Which decisions to read; every field narrows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DecisionFilter {
    pub connection: Option<String>,
    pub project: Option<String>,
    pub member: Option<String>,
    pub instance: Option<String>,
    pub reason: Option<String>,
    pub outcome: Option<Outcome>,
    /// `at` at or after (Unix ms).
    pub since: Option<i64>,
    /// `at` before.
    pub until: Option<i64>,
}

/// Where a page of decisions (newest first) continues: after `(at, id)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecisionCursor {
    pub at: i64,
    pub id: i64,
}

/// The prediction of one decision, written once.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PredictionWrite {
    pub snapshot_id: Option<i64>,
    pub predicted_revision: Option<i64>,
    pub member: Option<String>,
    pub error: Option<String>,
    /// JSON list.
    pub candidates: Option<String>,
    pub agrees: Option<bool>,
    pub unpredictable: Option<String>,
    /// The request asked (JSON), when it was made now.
    pub request: Option<String>,
    /// Where the instance landed, when the prediction's lookup found out.
    pub member_found: Option<String>,
}

/// Decisions per connection and reason, by outcome.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AgreementRow {
    pub connection: String,
    pub reason: String,
    pub agrees: i64,
    pub differs: i64,
    pub unpredicted: i64,
    pub pending: i64,
}

/// The filter's conditions; `$1`…`$16` bound by [`bind_filter`].
const FILTER: &str = "($1 IS NULL OR connection = $2)
    AND ($3 IS NULL OR project = $4)
    AND ($5 IS NULL OR member = $6)
    AND ($7 IS NULL OR instance = $8)
    AND ($9 IS NULL OR reason = $10)
    AND ($11 IS NULL OR ($12 = 'agrees' AND predicted_at IS NOT NULL AND agrees = 1)
                     OR ($12 = 'differs' AND predicted_at IS NOT NULL AND agrees = 0)
                     OR ($12 = 'unpredicted' AND predicted_at IS NOT NULL AND agrees IS NULL)
                     OR ($12 = 'pending' AND predicted_at IS NULL))
    AND ($13 IS NULL OR at >= $14)
    AND ($15 IS NULL OR at < $16)";

type AnyQueryAs<'q, T> = sqlx::query::QueryAs<'q, sqlx::Any, T, sqlx::any::AnyArguments>;

fn bind_filter<'q, T>(query: AnyQueryAs<'q, T>, filter: &'q DecisionFilter) -> AnyQueryAs<'q, T> {
    let outcome = filter.outcome.map(Outcome::as_str);
    query
        .bind(&filter.connection)
        .bind(&filter.connection)
        .bind(&filter.project)
        .bind(&filter.project)
        .bind(&filter.member)
        .bind(&filter.member)
        .bind(&filter.instance)
        .bind(&filter.instance)
        .bind(&filter.reason)
        .bind(&filter.reason)
        .bind(outcome)
        .bind(outcome)
        .bind(filter.since)
        .bind(filter.since)
        .bind(filter.until)
        .bind(filter.until)
}

impl Store {
    /// Records placements in one transaction, in order; their ids.
    pub async fn insert_decisions(
        &self,
        decisions: &[NewDecision],
        now: i64,
    ) -> Result<Vec<i64>, StoreError> {
        let mut transaction = self.pool().begin().await?;
        let mut ids = Vec::with_capacity(decisions.len());
        for decision in decisions {
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO decisions (connection, at, recorded_at, updated_at, operation, reason, project,
                     instance, member, from_project, from_member, runs_on, logs, seen_later, gap_id,
                     revision_scriptlet, revision, request, unpredictable, predicted_at)
                 VALUES ($1, $2, $3, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
                 RETURNING id",
            )
            .bind(&decision.connection)
            .bind(decision.at)
            .bind(now)
            .bind(&decision.operation)
            .bind(&decision.reason)
            .bind(&decision.project)
            .bind(&decision.instance)
            .bind(&decision.member)
            .bind(&decision.from_project)
            .bind(&decision.from_member)
            .bind(&decision.runs_on)
            .bind(&decision.logs)
            .bind(i64::from(decision.seen_later))
            .bind(decision.gap_id)
            .bind(decision.revision.map(|(scriptlet, _)| scriptlet))
            .bind(decision.revision.map(|(_, number)| number))
            .bind(&decision.request)
            .bind(&decision.unpredictable)
            // Nothing to predict: settled now.
            .bind(decision.unpredictable.as_ref().map(|_| now))
            .fetch_one(&mut *transaction)
            .await?;
            ids.push(id);
        }
        transaction.commit().await?;
        Ok(ids)
    }

    /// A later event told a decision better: its reason and where it came from change, and it
    /// is predicted again. `None` fields are left as they are.
    pub async fn correct_decision(
        &self,
        id: i64,
        reason: &str,
        from_project: Option<&str>,
        from_member: Option<&str>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE decisions SET reason = $1, from_project = COALESCE($2, from_project),
                 from_member = COALESCE($3, from_member), updated_at = $4,
                 snapshot_id = NULL, predicted_revision = NULL, predicted_member = NULL,
                 predicted_error = NULL, predicted_candidates = NULL, agrees = NULL,
                 unpredictable = NULL, predicted_at = NULL
             WHERE id = $5 AND seen_later = 0",
        )
        .bind(reason)
        .bind(from_project)
        .bind(from_member)
        .bind(now)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Decisions of `connection` not predicted yet, that happened before `before` (later ones
    /// may still be corrected), oldest first.
    pub async fn decisions_to_predict(
        &self,
        connection: &str,
        before: i64,
        limit: u32,
    ) -> Result<Vec<DecisionRow>, StoreError> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {DECISION_COLUMNS} FROM decisions
             WHERE connection = $1 AND predicted_at IS NULL AND at < $2
             ORDER BY at, id LIMIT $3"
        )))
        .bind(connection)
        .bind(before)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?)
    }

    /// Writes a decision's prediction, unless it changed since it was read (`updated_at`): a
    /// correction meanwhile asks for another. `false`: not written.
    pub async fn record_prediction(
        &self,
        id: i64,
        read_at: i64,
        prediction: &PredictionWrite,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE decisions SET snapshot_id = $1, predicted_revision = $2, predicted_member = $3,
                 predicted_error = $4, predicted_candidates = $5, agrees = $6, unpredictable = $7,
                 request = COALESCE($8, request), member = COALESCE(member, $9),
                 predicted_at = $10, updated_at = $10
             WHERE id = $11 AND updated_at = $12 AND predicted_at IS NULL",
        )
        .bind(prediction.snapshot_id)
        .bind(prediction.predicted_revision)
        .bind(&prediction.member)
        .bind(&prediction.error)
        .bind(&prediction.candidates)
        .bind(prediction.agrees.map(i64::from))
        .bind(&prediction.unpredictable)
        .bind(&prediction.request)
        .bind(&prediction.member_found)
        .bind(now)
        .bind(id)
        .bind(read_at)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn decision(&self, id: i64) -> Result<Option<DecisionRow>, StoreError> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {DECISION_COLUMNS} FROM decisions WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Decisions matching `filter`, newest first, after `cursor`.
    pub async fn decisions(
        &self,
        filter: &DecisionFilter,
        cursor: Option<DecisionCursor>,
        limit: u32,
    ) -> Result<Vec<DecisionRow>, StoreError> {
        let (at, id) = cursor.map_or((None, None), |c| (Some(c.at), Some(c.id)));
        let query = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {DECISION_COLUMNS} FROM decisions WHERE {FILTER}
               AND ($17 IS NULL OR at < $18 OR (at = $19 AND id < $20))
             ORDER BY at DESC, id DESC LIMIT $21"
        )));
        Ok(bind_filter(query, filter)
            .bind(at)
            .bind(at)
            .bind(at)
            .bind(id)
            .bind(i64::from(limit))
            .fetch_all(self.pool())
            .await?)
    }

    /// Decisions matching `filter` that changed after `(updated_at, id)`, in the order they
    /// changed: what a live tail sends next.
    pub async fn decisions_changed_after(
        &self,
        filter: &DecisionFilter,
        updated_at: i64,
        id: i64,
        limit: u32,
    ) -> Result<Vec<DecisionRow>, StoreError> {
        let query = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {DECISION_COLUMNS} FROM decisions WHERE {FILTER}
               AND (updated_at > $17 OR (updated_at = $18 AND id > $19))
             ORDER BY updated_at, id LIMIT $20"
        )));
        Ok(bind_filter(query, filter)
            .bind(updated_at)
            .bind(updated_at)
            .bind(id)
            .bind(i64::from(limit))
            .fetch_all(self.pool())
            .await?)
    }

    /// The newest change of any decision (where a tail starts): `(updated_at, id)`.
    pub async fn last_decision_change(&self) -> Result<(i64, i64), StoreError> {
        let row: Option<(i64, i64)> =
            sqlx::query_as("SELECT updated_at, id FROM decisions ORDER BY updated_at DESC, id DESC LIMIT 1")
                .fetch_optional(self.pool())
                .await?;
        Ok(row.unwrap_or((0, 0)))
    }

    /// How the decisions matching `filter` (the outcome aside) came out, per connection and
    /// reason.
    pub async fn agreement(&self, filter: &DecisionFilter) -> Result<Vec<AgreementRow>, StoreError> {
        let filter = DecisionFilter {
            outcome: None,
            ..filter.clone()
        };
        let query = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT connection, reason,
                    SUM(CASE WHEN predicted_at IS NOT NULL AND agrees = 1 THEN 1 ELSE 0 END) AS agrees,
                    SUM(CASE WHEN predicted_at IS NOT NULL AND agrees = 0 THEN 1 ELSE 0 END) AS differs,
                    SUM(CASE WHEN predicted_at IS NOT NULL AND agrees IS NULL THEN 1 ELSE 0 END) AS unpredicted,
                    SUM(CASE WHEN predicted_at IS NULL THEN 1 ELSE 0 END) AS pending
             FROM decisions WHERE {FILTER}
             GROUP BY connection, reason ORDER BY connection, reason"
        )));
        Ok(bind_filter(query, &filter).fetch_all(self.pool()).await?)
    }

    /// The placements of `connection` with `from <= at < until` that landed somewhere known,
    /// in order: what happened on the cluster after a snapshot and before a decision.
    pub async fn decisions_between(
        &self,
        connection: &str,
        from: i64,
        until: i64,
        limit: u32,
    ) -> Result<Vec<DecisionRow>, StoreError> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {DECISION_COLUMNS} FROM decisions
             WHERE connection = $1 AND at >= $2 AND at < $3 AND seen_later = 0 AND member IS NOT NULL
             ORDER BY at, id LIMIT $4"
        )))
        .bind(connection)
        .bind(from)
        .bind(until)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?)
    }

    /// Removes decisions, closed gaps and capture records older than `before`; how many of
    /// each.
    pub async fn prune_decisions(&self, before: i64) -> Result<(u64, u64, u64), StoreError> {
        let mut transaction = self.pool().begin().await?;
        let decisions = sqlx::query("DELETE FROM decisions WHERE at < $1")
            .bind(before)
            .execute(&mut *transaction)
            .await?
            .rows_affected();
        let gaps = sqlx::query("DELETE FROM decision_gaps WHERE ended_at IS NOT NULL AND ended_at < $1")
            .bind(before)
            .execute(&mut *transaction)
            .await?
            .rows_affected();
        let captures = sqlx::query("DELETE FROM connection_captures WHERE finished_at < $1")
            .bind(before)
            .execute(&mut *transaction)
            .await?
            .rows_affected();
        transaction.commit().await?;
        Ok((decisions, gaps, captures))
    }
}
