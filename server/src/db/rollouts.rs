//! A plan's rollout step: setting a scriptlet revision on its connection's cluster. Every
//! change of the step is a compare-and-set on its state, as for moves.

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

impl Store {
    /// Creates a draft plan whose one step sets `source` (revision `revision` of scriptlet
    /// `scriptlet_id`) on the cluster, in one transaction.
    pub async fn insert_rollout_plan(
        &self,
        plan: &NewPlanRow<'_>,
        scriptlet_id: i64,
        revision: i64,
        source: &str,
    ) -> Result<i64, StoreError> {
        let mut transaction = self.pool().begin().await?;
        let id = super::plans::insert_plan_row(&mut transaction, plan).await?;
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

    /// What the review sees: the cluster's scriptlet when previewed and the impact replay.
    pub async fn set_rollout_preview(
        &self,
        plan_id: i64,
        live: &str,
        impact: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE plan_rollouts SET live_at_preview = $1, impact = $2 WHERE plan_id = $3")
            .bind(live)
            .bind(impact)
            .bind(plan_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Pending → running, with the cluster's scriptlet as it was and the revision it is kept
    /// as. `false` when the step was not pending any more.
    pub async fn start_rollout(
        &self,
        plan_id: i64,
        previous: &str,
        previous_revision: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE plan_rollouts SET state = 'running', previous = $1, previous_revision = $2, started_at = $3
             WHERE plan_id = $4 AND state = 'pending'",
        )
        .bind(previous)
        .bind(previous_revision)
        .bind(now)
        .bind(plan_id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Running → `to` (succeeded or failed, with Incus's error). `false` when it was not
    /// running any more.
    pub async fn finish_rollout(
        &self,
        plan_id: i64,
        to: &str,
        detail: Option<&str>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE plan_rollouts SET state = $1, detail = $2, finished_at = $3
             WHERE plan_id = $4 AND state = 'running'",
        )
        .bind(to)
        .bind(detail)
        .bind(now)
        .bind(plan_id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
