//! Every change of a plan's or a move's state: the event's outcome read from
//! `berth_core::plan`'s tables, written by the store as one compare-and-set on the state read
//! (and the version, where the caller saw one), with its audit entry in the same transaction.

use berth_core::plan::{MoveEvent, MoveState, PlanEvent, PlanState};

use super::{changed_meanwhile, refused};
use crate::db::{MoveChange, NewAuditEntry, PlanWrite, StateChange, Store};
use crate::error::AppError;

/// How an account contributed to what a plan will run (`plan_contributors.contribution`).
pub const CONTRIBUTION_CREATED: &str = "created";
pub const CONTRIBUTION_EDITED: &str = "edited";
/// Skipped a move before the plan was approved: what the plan will run changed.
pub const CONTRIBUTION_SKIPPED: &str = "skipped";
/// Wrote the scriptlet revision a rollout plan sets on the cluster.
pub const CONTRIBUTION_REVISION: &str = "wrote_revision";

/// The compare-and-set for `event` on a plan in `from`, as the table says, or why not (409).
/// Events that change what the plan will run, or say it no longer holds (an edit, a new
/// preview, `Stale`), make a new version: the approvals given to the old one are void.
pub fn change(from: PlanState, event: PlanEvent) -> Result<StateChange<'static>, AppError> {
    let to = from.next(event).map_err(refused)?;
    Ok(StateChange {
        from: from.as_str(),
        to: to.as_str(),
        version: None,
        new_version: matches!(event, PlanEvent::Edit | PlanEvent::Preview | PlanEvent::Stale),
        superseded: None,
    })
}

/// Writes one change of a plan; its version after. A lost compare-and-set is a 409.
pub async fn write(store: &Store, change: &PlanWrite<'_>, audit: &NewAuditEntry) -> Result<i64, AppError> {
    store
        .write_plan(change, audit)
        .await?
        .ok_or_else(|| changed_meanwhile(change.plan_id))
}

/// Supersedes plan `id`, read in `from`, with the reason: the `Stale` event. `false` when the
/// plan was no longer in `from` (someone moved it on meanwhile; nothing is written).
pub async fn supersede(
    store: &Store,
    id: i64,
    from: PlanState,
    reason: &str,
    now: i64,
    audit: &NewAuditEntry,
) -> Result<bool, AppError> {
    let mut state = change(from, PlanEvent::Stale)?;
    state.superseded = Some(reason);
    let write = PlanWrite {
        plan_id: id,
        now,
        state: Some(state),
        ..PlanWrite::default()
    };
    Ok(store.write_plan(&write, audit).await?.is_some())
}

/// What a move's change of state records besides the state.
#[derive(Debug, Clone, Copy, Default)]
pub struct MoveStamp<'a> {
    pub decision: Option<&'a str>,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
}

/// One move's event, from the state it was read in.
#[derive(Debug, Clone)]
pub struct MoveStep<'a> {
    pub position: i64,
    pub from: MoveState,
    pub event: MoveEvent,
    pub stamp: MoveStamp<'a>,
}

/// Moves a move on by `MoveState::next`, compare-and-set on its state (and on the plan's, with
/// `plan`: a move starts only while its plan executes), recording `contributor` when the step
/// changes what an unapproved plan will run. `false` when the move or the plan was no longer
/// as read (nothing is written).
pub async fn advance_move(
    store: &Store,
    plan_id: i64,
    step: MoveStep<'_>,
    plan: Option<StateChange<'_>>,
    contributor: Option<(&str, &str)>,
    now: i64,
    audit: &NewAuditEntry,
) -> Result<bool, AppError> {
    let to = step.from.next(step.event).map_err(refused)?;
    let detail = match &to {
        MoveState::Skipped { reason } => Some(reason.as_str()),
        MoveState::Failed { error } => Some(error.as_str()),
        _ => None,
    };
    let write = PlanWrite {
        plan_id,
        now,
        state: plan,
        step: Some(MoveChange {
            position: step.position,
            from: step.from.name(),
            to: to.name(),
            detail,
            decision: step.stamp.decision,
            started_at: step.stamp.started_at,
            finished_at: step.stamp.finished_at,
        }),
        contributor,
        ..PlanWrite::default()
    };
    Ok(store.write_plan(&write, audit).await?.is_some())
}
