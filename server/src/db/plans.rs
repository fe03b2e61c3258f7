//! Migration plans, their moves, approvals and comments. State changes are compare-and-set
//! (`WHERE state = $from`): two replicas, or a user and the executor, racing on one plan cannot
//! both move it on, and the loser learns it from the `false`.

use super::{Store, StoreError};

const PLAN_COLUMNS: &str = "id, name, connection, author, state, stop_on_failure, required_approvals,
    preview, preview_snapshot, previewed_at, superseded, reverse_of, created_at, updated_at";

const MOVE_COLUMNS: &str = "plan_id, position, project, name, target_project, target, from_member,
    state, detail, decision, operation, started_at, finished_at";

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct PlanRow {
    pub id: i64,
    pub name: String,
    pub connection: String,
    pub author: String,
    pub state: String,
    pub stop_on_failure: i64,
    pub required_approvals: i64,
    pub preview: Option<String>,
    pub preview_snapshot: Option<i64>,
    pub previewed_at: Option<i64>,
    pub superseded: Option<String>,
    pub reverse_of: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Default, sqlx::FromRow)]
pub struct PlanMoveRow {
    pub plan_id: i64,
    pub position: i64,
    pub project: String,
    pub name: String,
    pub target_project: String,
    pub target: String,
    pub from_member: Option<String>,
    pub state: String,
    pub detail: Option<String>,
    pub decision: Option<String>,
    pub operation: Option<String>,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct PlanCommentRow {
    pub position: Option<i64>,
    pub author: String,
    pub body: String,
    pub created_at: i64,
}

/// What a new plan is made of.
pub struct NewPlanRow<'a> {
    pub name: &'a str,
    pub connection: &'a str,
    pub author: &'a str,
    pub stop_on_failure: bool,
    pub required_approvals: i64,
    pub reverse_of: Option<i64>,
    pub now: i64,
}

impl Store {
    /// Creates a draft plan with its moves (their `plan_id` is ignored), in one transaction.
    pub async fn insert_plan(&self, plan: &NewPlanRow<'_>, moves: &[PlanMoveRow]) -> Result<i64, StoreError> {
        let mut transaction = self.pool().begin().await?;
        let id = insert_plan_row(&mut transaction, plan).await?;
        insert_moves(&mut transaction, id, moves).await?;
        transaction.commit().await?;
        Ok(id)
    }

    pub async fn plan(&self, id: i64) -> Result<Option<PlanRow>, StoreError> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {PLAN_COLUMNS} FROM plans WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Every plan, most recently changed first.
    pub async fn list_plans(&self) -> Result<Vec<PlanRow>, StoreError> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {PLAN_COLUMNS} FROM plans ORDER BY updated_at DESC, id DESC"
        )))
        .fetch_all(self.pool())
        .await?)
    }

    /// The ids of plans in `state`, oldest first.
    pub async fn plans_in_state(&self, state: &str) -> Result<Vec<i64>, StoreError> {
        let rows: Vec<(i64,)> = sqlx::query_as("SELECT id FROM plans WHERE state = $1 ORDER BY id")
            .bind(state)
            .fetch_all(self.pool())
            .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    pub async fn plan_moves(&self, plan_id: i64) -> Result<Vec<PlanMoveRow>, StoreError> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {MOVE_COLUMNS} FROM plan_moves WHERE plan_id = $1 ORDER BY position"
        )))
        .bind(plan_id)
        .fetch_all(self.pool())
        .await?)
    }

    /// Replaces a plan's moves and drops its approvals and preview (an edit), if the plan is
    /// still in `state`; `false` otherwise.
    pub async fn replace_plan_moves(
        &self,
        plan_id: i64,
        state: &str,
        next_state: &str,
        moves: &[PlanMoveRow],
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut transaction = self.pool().begin().await?;
        let done = sqlx::query(
            "UPDATE plans SET state = $1, preview = NULL, preview_snapshot = NULL, previewed_at = NULL,
                              superseded = NULL, updated_at = $2
             WHERE id = $3 AND state = $4",
        )
        .bind(next_state)
        .bind(now)
        .bind(plan_id)
        .bind(state)
        .execute(&mut *transaction)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        for table in ["plan_moves", "plan_approvals"] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE plan_id = $1"
            )))
            .bind(plan_id)
            .execute(&mut *transaction)
            .await?;
        }
        insert_moves(&mut transaction, plan_id, moves).await?;
        transaction.commit().await?;
        Ok(true)
    }

    /// Moves a plan from `from` to `to`; `false` when it was not in `from` any more. Leaving
    /// review for a draft drops the approvals; any change clears a superseded plan's reason.
    pub async fn set_plan_state(
        &self,
        plan_id: i64,
        from: &str,
        to: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut transaction = self.pool().begin().await?;
        // Leaving `superseded` drops its reason: it no longer describes the plan.
        let done = sqlx::query(
            "UPDATE plans SET state = $1, updated_at = $2, superseded = NULL WHERE id = $3 AND state = $4",
        )
        .bind(to)
        .bind(now)
        .bind(plan_id)
        .bind(from)
        .execute(&mut *transaction)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        if to == "draft" || to == "superseded" {
            sqlx::query("DELETE FROM plan_approvals WHERE plan_id = $1")
                .bind(plan_id)
                .execute(&mut *transaction)
                .await?;
        }
        transaction.commit().await?;
        Ok(true)
    }

    /// Marks a plan superseded (from `from`) with the reason, dropping its approvals, in one
    /// transaction.
    pub async fn supersede_plan(
        &self,
        plan_id: i64,
        from: &str,
        reason: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut transaction = self.pool().begin().await?;
        let done = sqlx::query(
            "UPDATE plans SET state = 'superseded', superseded = $1, updated_at = $2 WHERE id = $3 AND state = $4",
        )
        .bind(reason)
        .bind(now)
        .bind(plan_id)
        .bind(from)
        .execute(&mut *transaction)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query("DELETE FROM plan_approvals WHERE plan_id = $1")
            .bind(plan_id)
            .execute(&mut *transaction)
            .await?;
        transaction.commit().await?;
        Ok(true)
    }

    /// Stores a preview and where each move's instance was, while the plan is in `state`.
    pub async fn set_plan_preview(
        &self,
        plan_id: i64,
        state: &str,
        preview: &str,
        snapshot_id: i64,
        from_members: &[Option<String>],
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut transaction = self.pool().begin().await?;
        let done = sqlx::query(
            "UPDATE plans SET preview = $1, preview_snapshot = $2, previewed_at = $3, updated_at = $3
             WHERE id = $4 AND state = $5",
        )
        .bind(preview)
        .bind(snapshot_id)
        .bind(now)
        .bind(plan_id)
        .bind(state)
        .execute(&mut *transaction)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        for (index, from_member) in from_members.iter().enumerate() {
            sqlx::query("UPDATE plan_moves SET from_member = $1 WHERE plan_id = $2 AND position = $3")
                .bind(from_member)
                .bind(plan_id)
                .bind(index as i64 + 1)
                .execute(&mut *transaction)
                .await?;
        }
        transaction.commit().await?;
        Ok(true)
    }

    pub async fn plan_approvals(&self, plan_id: i64) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT username FROM plan_approvals WHERE plan_id = $1 ORDER BY approved_at, username",
        )
        .bind(plan_id)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(|(name,)| name).collect())
    }

    /// Records an approval while the plan is in review; `false` when it is not.
    pub async fn add_plan_approval(
        &self,
        plan_id: i64,
        username: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO plan_approvals (plan_id, username, approved_at)
             SELECT id, $1, $2 FROM plans WHERE id = $3 AND state = 'in_review'
             ON CONFLICT (plan_id, username) DO NOTHING",
        )
        .bind(username)
        .bind(now)
        .bind(plan_id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn add_plan_comment(
        &self,
        plan_id: i64,
        position: Option<i64>,
        author: &str,
        body: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO plan_comments (plan_id, position, author, body, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(plan_id)
        .bind(position)
        .bind(author)
        .bind(body)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn plan_comments(&self, plan_id: i64) -> Result<Vec<PlanCommentRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT position, author, body, created_at FROM plan_comments WHERE plan_id = $1 ORDER BY id",
        )
        .bind(plan_id)
        .fetch_all(self.pool())
        .await?)
    }

    /// Changes a move from state `from`: its new state, detail (skip reason or Incus's error),
    /// decision and times (`None` keeps what is there). `false` when it was not in `from`.
    #[allow(clippy::too_many_arguments)]
    pub async fn update_plan_move(
        &self,
        plan_id: i64,
        position: i64,
        from: &str,
        to: &str,
        detail: Option<&str>,
        decision: Option<&str>,
        started_at: Option<i64>,
        finished_at: Option<i64>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE plan_moves SET state = $1, detail = COALESCE($2, detail), decision = COALESCE($3, decision),
                                   started_at = COALESCE($4, started_at), finished_at = COALESCE($5, finished_at)
             WHERE plan_id = $6 AND position = $7 AND state = $8",
        )
        .bind(to)
        .bind(detail)
        .bind(decision)
        .bind(started_at)
        .bind(finished_at)
        .bind(plan_id)
        .bind(position)
        .bind(from)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records Incus's operation for a running move (before Berth waits on it).
    pub async fn set_plan_move_operation(
        &self,
        plan_id: i64,
        position: i64,
        operation: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE plan_moves SET operation = $1 WHERE plan_id = $2 AND position = $3")
            .bind(operation)
            .bind(plan_id)
            .bind(position)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}

/// The plan itself, a draft; its id.
pub(super) async fn insert_plan_row(
    transaction: &mut sqlx::Transaction<'_, sqlx::Any>,
    plan: &NewPlanRow<'_>,
) -> Result<i64, StoreError> {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO plans (name, connection, author, state, stop_on_failure, required_approvals,
                            reverse_of, created_at, updated_at)
         VALUES ($1, $2, $3, 'draft', $4, $5, $6, $7, $7) RETURNING id",
    )
    .bind(plan.name)
    .bind(plan.connection)
    .bind(plan.author)
    .bind(plan.stop_on_failure as i64)
    .bind(plan.required_approvals)
    .bind(plan.reverse_of)
    .bind(plan.now)
    .fetch_one(&mut **transaction)
    .await?;
    Ok(id)
}

async fn insert_moves(
    transaction: &mut sqlx::Transaction<'_, sqlx::Any>,
    plan_id: i64,
    moves: &[PlanMoveRow],
) -> Result<(), StoreError> {
    for (index, planned) in moves.iter().enumerate() {
        sqlx::query(
            "INSERT INTO plan_moves (plan_id, position, project, name, target_project, target, from_member, state)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending')",
        )
        .bind(plan_id)
        .bind(index as i64 + 1)
        .bind(&planned.project)
        .bind(&planned.name)
        .bind(&planned.target_project)
        .bind(&planned.target)
        .bind(&planned.from_member)
        .execute(&mut **transaction)
        .await?;
    }
    Ok(())
}
