//! The plan's own operations, one layer below everything that acts on plans: the services
//! (the Plans pages, `/api/v1/plans`, `berth plan`) and the executor call this, and this calls
//! nothing above it.
//!
//! - this file: a plan as loaded ([`LoadedPlan`]), its audit subject, its moves as the domain's
//!   [`PlannedMove`]s, its last preview;
//! - `transitions.rs`: every change of a plan's or a move's state, through `berth_core::plan`'s
//!   tables (`PlanState::next`, `MoveState::next`), written as one compare-and-set with its audit
//!   entry; superseding a plan is the `Stale` event like any other;
//! - `fresh.rs`: the cluster behind a plan's connection, captured now;
//! - `assess.rs`: a preview of moves on a snapshot (the corrected simulation in a sandbox
//!   worker, read by `berth_core::plan::preview`);
//! - `staleness.rs`: whether a preview still holds on a fresh capture.
//!
//! Who may act is not decided here: the services check roles and four eyes before they call in.

mod assess;
mod fresh;
mod staleness;
mod transitions;

use berth_core::plan::preview::PlanPreview;
use berth_core::plan::{MoveTarget, PlanState, PlannedMove};

pub use assess::{assess, blocked_reason};
pub use fresh::fresh_state;
pub use staleness::{changes_since, live_scriptlet, rollout_changes_since};
pub use transitions::{
    advance_move, change, supersede, write, MoveStamp, MoveStep, CONTRIBUTION_CREATED, CONTRIBUTION_EDITED,
    CONTRIBUTION_REVISION, CONTRIBUTION_SKIPPED,
};

use crate::db::{PlanMoveRow, PlanRolloutRow, PlanRow, Store};
use crate::error::AppError;

/// The audit subject of a plan, and the name of the lease its executor holds.
pub fn subject(id: i64) -> String {
    format!("plan:{id}")
}

/// A plan as read from the store, in one state.
#[derive(Debug, Clone)]
pub struct LoadedPlan {
    pub row: PlanRow,
    pub moves: Vec<PlanMoveRow>,
    pub state: PlanState,
    /// Its one step when it rolls out a scriptlet revision.
    pub rollout: Option<PlanRolloutRow>,
}

impl LoadedPlan {
    pub fn id(&self) -> i64 {
        self.row.id
    }

    pub fn planned(&self) -> Vec<PlannedMove> {
        planned_moves(&self.moves)
    }

    pub fn preview(&self) -> Option<PlanPreview> {
        preview_of(&self.row)
    }

    /// The connection it executes on, if it has one (a plan drafted on a snapshot may not).
    pub fn connection(&self) -> Option<&str> {
        Some(self.row.connection.as_str()).filter(|name| !name.is_empty())
    }
}

pub async fn load(store: &Store, id: i64) -> Result<LoadedPlan, AppError> {
    let row = store
        .plan(id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("there is no plan {id}")))?;
    let state = state_of(&row)?;
    let moves = store.plan_moves(id).await?;
    let rollout = store.plan_rollout(id).await?;
    Ok(LoadedPlan {
        row,
        moves,
        state,
        rollout,
    })
}

pub fn state_of(row: &PlanRow) -> Result<PlanState, AppError> {
    PlanState::ALL
        .into_iter()
        .find(|state| state.as_str() == row.state)
        .ok_or_else(|| AppError::BadRequest(format!("plan {} has an unknown state {:?}", row.id, row.state)))
}

pub fn planned_moves(rows: &[PlanMoveRow]) -> Vec<PlannedMove> {
    rows.iter()
        .map(|row| PlannedMove {
            project: row.project.clone(),
            name: row.name.clone(),
            target_project: row.target_project.clone(),
            target: row.target.parse().unwrap_or(MoveTarget::Auto),
            from_member: row.from_member.clone(),
        })
        .collect()
}

pub fn preview_of(row: &PlanRow) -> Option<PlanPreview> {
    row.preview
        .as_deref()
        .and_then(|text| serde_json::from_str(text).ok())
}

/// A step the plan's state (or the domain's rules) do not allow: 409.
pub fn refused(error: impl std::fmt::Display) -> AppError {
    AppError::Conflict(error.to_string())
}

/// A compare-and-set that lost: someone else changed the plan since it was read.
pub fn changed_meanwhile(id: i64) -> AppError {
    AppError::Conflict(format!("plan {id} changed meanwhile; reload it and try again"))
}
