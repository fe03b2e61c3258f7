//! Migration plans, their moves, contributors, approvals and comments.
//!
//! Every change of a plan is one transaction that starts with a compare-and-set on what the
//! caller read ([`PlanWrite`]: the plan's state, and its version where it matters; a move's
//! state): two replicas, or a user and the executor, racing on one plan cannot both move it on,
//! and the loser learns it from the `None`. The audit entry of the change is appended in the
//! same transaction. A write that changes what the plan will run makes a new version, which
//! voids the approvals given so far; an approval is itself a compare-and-set on the version
//! the approver saw ([`Store::approve_plan`]).

use super::audit::{append_in, NewAuditEntry};
use super::{Store, StoreError};

const PLAN_COLUMNS: &str = "id, name, connection, author, state, stop_on_failure, required_approvals,
    preview, preview_snapshot, previewed_at, superseded, reverse_of, created_at, updated_at,
    version, snapshot_id";

const MOVE_COLUMNS: &str = "plan_id, position, project, name, target_project, target, from_member,
    state, detail, decision, operation, started_at, finished_at";

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct PlanRow {
    pub id: i64,
    pub name: String,
    /// The connection it executes on; `""` for a plan drafted on a snapshot alone.
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
    /// A new one with every change of what the plan will run; approvals are given to one.
    pub version: i64,
    /// The stored snapshot the plan is previewed on; `None`: fresh captures of its connection.
    pub snapshot_id: Option<i64>,
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

/// An account that contributed to what a plan will run, and how.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ContributorRow {
    pub username: String,
    /// `created`, `edited`, `skipped` (a move, before approval) or `wrote_revision`.
    pub contribution: String,
}

/// What a new plan is made of.
pub struct NewPlanRow<'a> {
    pub name: &'a str,
    pub connection: &'a str,
    pub snapshot_id: Option<i64>,
    pub author: &'a str,
    pub stop_on_failure: bool,
    pub required_approvals: i64,
    pub reverse_of: Option<i64>,
    pub now: i64,
}

/// One change of a plan, written in one transaction, or not at all.
#[derive(Debug, Clone, Default)]
pub struct PlanWrite<'a> {
    pub plan_id: i64,
    pub now: i64,
    /// The plan's state as read and after (a compare-and-set); `None`: the plan row is not
    /// a condition (a running move settles whatever became of the plan).
    pub state: Option<StateChange<'a>>,
    /// All moves replaced (an edit): the preview goes with them.
    pub moves: Option<&'a [PlanMoveRow]>,
    pub preview: Option<PreviewWrite<'a>>,
    /// One move's change, a compare-and-set on its state.
    pub step: Option<MoveChange<'a>>,
    /// Who changed what the plan will run: a contributor from now on.
    pub contributor: Option<(&'a str, &'a str)>,
}

/// A compare-and-set on the plan row.
#[derive(Debug, Clone, Copy, Default)]
pub struct StateChange<'a> {
    pub from: &'a str,
    pub to: &'a str,
    /// Only while the plan still has this version.
    pub version: Option<i64>,
    /// What the plan will run changed, or no longer holds: a new version, without approvals.
    pub new_version: bool,
    /// Why the plan is superseded (set when `to` is superseded, cleared otherwise).
    pub superseded: Option<&'a str>,
}

/// A new preview: what each move's instance was on, and for a rollout what the review sees.
#[derive(Debug, Clone, Default)]
pub struct PreviewWrite<'a> {
    pub preview: &'a str,
    pub snapshot_id: i64,
    pub from_members: &'a [Option<String>],
    /// A rollout's: the cluster's scriptlet at the preview and the impact replay (JSON).
    pub rollout: Option<(&'a str, &'a str)>,
}

/// A move's change of state: detail (skip reason or Incus's error), decision and times
/// (`None` keeps what is there).
#[derive(Debug, Clone, Copy, Default)]
pub struct MoveChange<'a> {
    pub position: i64,
    pub from: &'a str,
    pub to: &'a str,
    pub detail: Option<&'a str>,
    pub decision: Option<&'a str>,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
}

/// What an approval found, in the transaction that records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewFacts {
    pub contributors: Vec<String>,
    /// The approvals of the version being approved, before this one.
    pub approvals: Vec<String>,
}

/// Why an approval was not recorded.
#[derive(Debug)]
pub enum ApprovalLost<E> {
    /// The plan no longer has the version (or the state) the approver saw.
    Stale { version: i64, state: String },
    /// The caller's rules refused it (a contributor, twice).
    Refused(E),
}

impl Store {
    /// Creates a draft plan with its moves (their `plan_id` is ignored) and its contributors,
    /// in one transaction; `audit` makes the entries for the new id.
    pub async fn insert_plan(
        &self,
        plan: &NewPlanRow<'_>,
        moves: &[PlanMoveRow],
        contributors: &[(&str, &str)],
        audit: impl FnOnce(i64) -> Vec<NewAuditEntry>,
    ) -> Result<i64, StoreError> {
        let mut transaction = self.pool().begin().await?;
        let id = insert_plan_row(&mut transaction, plan, contributors).await?;
        insert_moves(&mut transaction, id, moves).await?;
        for entry in audit(id) {
            append_in(&mut transaction, &entry).await?;
        }
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

    /// Every contribution to the plan, first first.
    pub async fn plan_contributors(&self, plan_id: i64) -> Result<Vec<ContributorRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT username, contribution FROM plan_contributors WHERE plan_id = $1
             ORDER BY at, username, contribution",
        )
        .bind(plan_id)
        .fetch_all(self.pool())
        .await?)
    }

    /// Makes one change of a plan (see [`PlanWrite`]) with its audit entry, in one
    /// transaction; the plan's version after it, or `None` when a compare-and-set found the
    /// plan or the move no longer as read (nothing is written then).
    pub async fn write_plan(
        &self,
        write: &PlanWrite<'_>,
        audit: &NewAuditEntry,
    ) -> Result<Option<i64>, StoreError> {
        let mut transaction = self.pool().begin().await?;
        let id = write.plan_id;
        let new_version = write.state.is_some_and(|state| state.new_version)
            || write.moves.is_some()
            || write.preview.is_some();
        // The first statement writes: on SQLite it takes the write lock at once, on PostgreSQL
        // it locks the plan's row, so a racing writer waits here and then sees this change.
        let changed = match write.state {
            Some(state) => sqlx::query(
                "UPDATE plans SET state = $1, superseded = $2, version = version + $3, updated_at = $4
                 WHERE id = $5 AND state = $6 AND ($7 IS NULL OR version = $8)",
            )
            .bind(state.to)
            .bind(state.superseded)
            .bind(i64::from(new_version))
            .bind(write.now)
            .bind(id)
            .bind(state.from)
            .bind(state.version)
            .bind(state.version)
            .execute(&mut *transaction)
            .await?
            .rows_affected(),
            None => sqlx::query("UPDATE plans SET version = version + $1, updated_at = $2 WHERE id = $3")
                .bind(i64::from(new_version))
                .bind(write.now)
                .bind(id)
                .execute(&mut *transaction)
                .await?
                .rows_affected(),
        };
        if changed != 1 {
            return Ok(None);
        }
        if let Some(step) = &write.step {
            let done = sqlx::query(
                "UPDATE plan_moves SET state = $1, detail = COALESCE($2, detail), decision = COALESCE($3, decision),
                                       started_at = COALESCE($4, started_at), finished_at = COALESCE($5, finished_at)
                 WHERE plan_id = $6 AND position = $7 AND state = $8",
            )
            .bind(step.to)
            .bind(step.detail)
            .bind(step.decision)
            .bind(step.started_at)
            .bind(step.finished_at)
            .bind(id)
            .bind(step.position)
            .bind(step.from)
            .execute(&mut *transaction)
            .await?;
            if done.rows_affected() != 1 {
                return Ok(None);
            }
        }
        if let Some(moves) = write.moves {
            sqlx::query(
                "UPDATE plans SET preview = NULL, preview_snapshot = NULL, previewed_at = NULL WHERE id = $1",
            )
            .bind(id)
            .execute(&mut *transaction)
            .await?;
            sqlx::query("DELETE FROM plan_moves WHERE plan_id = $1")
                .bind(id)
                .execute(&mut *transaction)
                .await?;
            insert_moves(&mut transaction, id, moves).await?;
        }
        if let Some(preview) = &write.preview {
            write_preview(&mut transaction, id, preview, write.now).await?;
        }
        let leaves_review = write
            .state
            .is_some_and(|state| matches!(state.to, "draft" | "superseded"));
        if new_version || leaves_review {
            sqlx::query("DELETE FROM plan_approvals WHERE plan_id = $1")
                .bind(id)
                .execute(&mut *transaction)
                .await?;
        }
        if let Some(contributor) = write.contributor {
            add_contributor(&mut transaction, id, contributor, write.now).await?;
        }
        let (version,): (i64,) = sqlx::query_as("SELECT version FROM plans WHERE id = $1")
            .bind(id)
            .fetch_one(&mut *transaction)
            .await?;
        append_in(&mut transaction, audit).await?;
        transaction.commit().await?;
        Ok(Some(version))
    }

    /// Records `username`'s approval of version `version` of the plan, in one transaction that
    /// starts with a compare-and-set on that version and `from` state: `decide` sees the
    /// plan's contributors and the approvals of that version so far and answers the state after
    /// the approval with the audit entry that records it, or refuses it. An edit, preview or
    /// supersede racing with it either lands first (the approval is [`ApprovalLost::Stale`]) or
    /// waits for it (and voids it).
    pub async fn approve_plan<E>(
        &self,
        (plan_id, version, from): (i64, i64, &str),
        username: &str,
        now: i64,
        decide: impl FnOnce(&ReviewFacts) -> Result<(String, NewAuditEntry), E>,
    ) -> Result<Result<ReviewFacts, ApprovalLost<E>>, StoreError> {
        let mut transaction = self.pool().begin().await?;
        let locked =
            sqlx::query("UPDATE plans SET updated_at = $1 WHERE id = $2 AND version = $3 AND state = $4")
                .bind(now)
                .bind(plan_id)
                .bind(version)
                .bind(from)
                .execute(&mut *transaction)
                .await?;
        if locked.rows_affected() != 1 {
            drop(transaction);
            let (version, state) = self
                .plan(plan_id)
                .await?
                .map(|row| (row.version, row.state))
                .unwrap_or_default();
            return Ok(Err(ApprovalLost::Stale { version, state }));
        }
        let contributors: Vec<(String,)> = sqlx::query_as(
            "SELECT DISTINCT username FROM plan_contributors WHERE plan_id = $1 ORDER BY username",
        )
        .bind(plan_id)
        .fetch_all(&mut *transaction)
        .await?;
        let approvals: Vec<(String,)> = sqlx::query_as(
            "SELECT username FROM plan_approvals WHERE plan_id = $1 AND version = $2
             ORDER BY approved_at, username",
        )
        .bind(plan_id)
        .bind(version)
        .fetch_all(&mut *transaction)
        .await?;
        let mut facts = ReviewFacts {
            contributors: contributors.into_iter().map(|(name,)| name).collect(),
            approvals: approvals.into_iter().map(|(name,)| name).collect(),
        };
        let (to, audit) = match decide(&facts) {
            Ok(decided) => decided,
            Err(refusal) => return Ok(Err(ApprovalLost::Refused(refusal))),
        };
        sqlx::query(
            "INSERT INTO plan_approvals (plan_id, username, approved_at, version) VALUES ($1, $2, $3, $4)",
        )
        .bind(plan_id)
        .bind(username)
        .bind(now)
        .bind(version)
        .execute(&mut *transaction)
        .await?;
        if to != from {
            sqlx::query("UPDATE plans SET state = $1 WHERE id = $2")
                .bind(&to)
                .bind(plan_id)
                .execute(&mut *transaction)
                .await?;
        }
        append_in(&mut transaction, &audit).await?;
        transaction.commit().await?;
        facts.approvals.push(username.to_owned());
        Ok(Ok(facts))
    }

    /// The approvals of the plan's current version.
    pub async fn plan_approvals(&self, plan_id: i64) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT approvals.username FROM plan_approvals AS approvals
             JOIN plans ON plans.id = approvals.plan_id AND plans.version = approvals.version
             WHERE approvals.plan_id = $1 ORDER BY approvals.approved_at, approvals.username",
        )
        .bind(plan_id)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(|(name,)| name).collect())
    }

    pub async fn add_plan_comment(
        &self,
        plan_id: i64,
        position: Option<i64>,
        author: &str,
        body: &str,
        now: i64,
        audit: &NewAuditEntry,
    ) -> Result<(), StoreError> {
        let mut transaction = self.pool().begin().await?;
        sqlx::query(
            "INSERT INTO plan_comments (plan_id, position, author, body, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(plan_id)
        .bind(position)
        .bind(author)
        .bind(body)
        .bind(now)
        .execute(&mut *transaction)
        .await?;
        append_in(&mut transaction, audit).await?;
        transaction.commit().await?;
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

    /// Records Incus's operation for a running move (before Berth waits on it): bookkeeping of
    /// the executor, audited with the move's start and end.
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

/// The plan itself, a draft, with its contributors; its id.
pub(super) async fn insert_plan_row(
    transaction: &mut sqlx::Transaction<'_, sqlx::Any>,
    plan: &NewPlanRow<'_>,
    contributors: &[(&str, &str)],
) -> Result<i64, StoreError> {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO plans (name, connection, snapshot_id, author, state, stop_on_failure, required_approvals,
                            reverse_of, created_at, updated_at)
         VALUES ($1, $2, $3, $4, 'draft', $5, $6, $7, $8, $8) RETURNING id",
    )
    .bind(plan.name)
    .bind(plan.connection)
    .bind(plan.snapshot_id)
    .bind(plan.author)
    .bind(plan.stop_on_failure as i64)
    .bind(plan.required_approvals)
    .bind(plan.reverse_of)
    .bind(plan.now)
    .fetch_one(&mut **transaction)
    .await?;
    for contributor in contributors {
        add_contributor(transaction, id, *contributor, plan.now).await?;
    }
    Ok(id)
}

async fn add_contributor(
    transaction: &mut sqlx::Transaction<'_, sqlx::Any>,
    plan_id: i64,
    (username, contribution): (&str, &str),
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO plan_contributors (plan_id, username, contribution, at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (plan_id, username, contribution) DO NOTHING",
    )
    .bind(plan_id)
    .bind(username)
    .bind(contribution)
    .bind(now)
    .execute(&mut **transaction)
    .await?;
    Ok(())
}

async fn write_preview(
    transaction: &mut sqlx::Transaction<'_, sqlx::Any>,
    plan_id: i64,
    preview: &PreviewWrite<'_>,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE plans SET preview = $1, preview_snapshot = $2, previewed_at = $3 WHERE id = $4")
        .bind(preview.preview)
        .bind(preview.snapshot_id)
        .bind(now)
        .bind(plan_id)
        .execute(&mut **transaction)
        .await?;
    for (index, from_member) in preview.from_members.iter().enumerate() {
        sqlx::query("UPDATE plan_moves SET from_member = $1 WHERE plan_id = $2 AND position = $3")
            .bind(from_member)
            .bind(plan_id)
            .bind(index as i64 + 1)
            .execute(&mut **transaction)
            .await?;
    }
    if let Some((live, impact)) = preview.rollout {
        sqlx::query("UPDATE plan_rollouts SET live_at_preview = $1, impact = $2 WHERE plan_id = $3")
            .bind(live)
            .bind(impact)
            .bind(plan_id)
            .execute(&mut **transaction)
            .await?;
    }
    Ok(())
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
