//! A plan's rollout step: setting a scriptlet revision on its connection's cluster. Every
//! change of the step is a compare-and-set on its state, as for moves, with its audit entry in
//! the same transaction. What the review sees of it (the cluster's scriptlet at the preview and
//! the impact replay) is written with the plan's preview (`plans.rs`).

use super::audit::{append_in, NewAuditEntry};
use super::scriptlets::insert_revision_in;
use super::{NewPlanRow, Store, StoreError};

#[derive(Debug, Clone, PartialEq, Default, sqlx::FromRow)]
pub struct PlanRolloutRow {
    pub plan_id: i64,
    pub scriptlet_id: i64,
    pub revision: i64,
    pub source: String,
    pub live_at_preview: Option<String>,
    pub impact: Option<String>,
    pub previous: Option<String>,
    pub previous_revision: Option<i64>,
    pub state: String,
    pub detail: Option<String>,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
}

const ROLLOUT_COLUMNS: &str = "plan_id, scriptlet_id, revision, source, live_at_preview, impact, previous,
     previous_revision, state, detail, started_at, finished_at";

/// How the start of a rollout step went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RolloutStart {
    /// Running, the cluster's scriptlet kept as this revision.
    Started { previous_revision: i64 },
    /// The step was not pending, or the plan not executing, any more.
    Lost,
}

impl Store {
    /// Creates a draft plan whose one step sets `source` (revision `revision` of scriptlet
    /// `scriptlet_id`) on the cluster, with its contributors, in one transaction; `audit` makes
    /// the entries for the new id.
    pub async fn insert_rollout_plan(
        &self,
        plan: &NewPlanRow<'_>,
        (scriptlet_id, revision, source): (i64, i64, &str),
        contributors: &[(&str, &str)],
        audit: impl FnOnce(i64) -> Vec<NewAuditEntry>,
    ) -> Result<i64, StoreError> {
        let mut transaction = self.pool().begin().await?;
        let id = super::plans::insert_plan_row(&mut transaction, plan, contributors).await?;
        sqlx::query(
            "INSERT INTO plan_rollouts (plan_id, scriptlet_id, revision, source, state)
             VALUES ($1, $2, $3, $4, 'pending')",
        )
        .bind(id)
        .bind(scriptlet_id)
        .bind(revision)
        .bind(source)
        .execute(&mut *transaction)
        .await?;
        for entry in audit(id) {
            append_in(&mut transaction, &entry).await?;
        }
        transaction.commit().await?;
        Ok(id)
    }

    /// The rollout step of a plan, if it is a rollout.
    pub async fn plan_rollout(&self, plan_id: i64) -> Result<Option<PlanRolloutRow>, StoreError> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {ROLLOUT_COLUMNS} FROM plan_rollouts WHERE plan_id = $1"
        )))
        .bind(plan_id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Pending → running while the plan executes, with the cluster's scriptlet as it was kept
    /// as a new revision of the same scriptlet (`message`, by `author`), and the entry `audit`
    /// makes for that revision's number, all in one transaction.
    pub async fn start_rollout(
        &self,
        plan_id: i64,
        previous: &str,
        (message, author): (&str, &str),
        now: i64,
        audit: impl FnOnce(i64) -> NewAuditEntry,
    ) -> Result<RolloutStart, StoreError> {
        let mut transaction = self.pool().begin().await?;
        let executing = sqlx::query("UPDATE plans SET updated_at = $1 WHERE id = $2 AND state = 'executing'")
            .bind(now)
            .bind(plan_id)
            .execute(&mut *transaction)
            .await?;
        let started = sqlx::query(
            "UPDATE plan_rollouts SET state = 'running', previous = $1, started_at = $2
             WHERE plan_id = $3 AND state = 'pending'",
        )
        .bind(previous)
        .bind(now)
        .bind(plan_id)
        .execute(&mut *transaction)
        .await?;
        if executing.rows_affected() != 1 || started.rows_affected() != 1 {
            return Ok(RolloutStart::Lost);
        }
        let (scriptlet_id,): (i64,) =
            sqlx::query_as("SELECT scriptlet_id FROM plan_rollouts WHERE plan_id = $1")
                .bind(plan_id)
                .fetch_one(&mut *transaction)
                .await?;
        let kept = insert_revision_in(&mut transaction, scriptlet_id, previous, message, author, now)
            .await?
            .ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "plan {plan_id} rolls out scriptlet {scriptlet_id}, which is gone"
                ))
            })?;
        sqlx::query("UPDATE plan_rollouts SET previous_revision = $1 WHERE plan_id = $2")
            .bind(kept)
            .bind(plan_id)
            .execute(&mut *transaction)
            .await?;
        append_in(&mut transaction, &audit(kept)).await?;
        transaction.commit().await?;
        Ok(RolloutStart::Started {
            previous_revision: kept,
        })
    }

    /// Running → `to` (succeeded or failed, with Incus's error), with its audit entry. `false`
    /// when it was not running any more.
    pub async fn finish_rollout(
        &self,
        plan_id: i64,
        to: &str,
        detail: Option<&str>,
        now: i64,
        audit: &NewAuditEntry,
    ) -> Result<bool, StoreError> {
        let mut transaction = self.pool().begin().await?;
        let done = sqlx::query(
            "UPDATE plan_rollouts SET state = $1, detail = $2, finished_at = $3
             WHERE plan_id = $4 AND state = 'running'",
        )
        .bind(to)
        .bind(detail)
        .bind(now)
        .bind(plan_id)
        .execute(&mut *transaction)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        append_in(&mut transaction, audit).await?;
        transaction.commit().await?;
        Ok(true)
    }
}
