//! A plan's life outside the review: creating it (on a connection, a stored snapshot, or
//! both), editing its moves, skipping one, commenting, starting its execution, cancelling it and
//! making its reverse. Anything that changes what the plan will run before it executes makes
//! its author a contributor (who may not approve it) and a new version (which voids the
//! approvals given so far).

use berth_app::types::{MoveSpec, NewPlan, PlanAction, PlanView};
use berth_core::access::Action;
use berth_core::plan::{MoveEvent, MoveState, MoveTarget, Plan, PlanEvent, PlanState, PlannedMove};
use serde_json::json;

use super::{review, views, Acting, PlanContext};
use crate::audit::AuditKind;
use crate::db::{NewPlanRow, PlanMoveRow, PlanWrite, StateChange};
use crate::error::AppError;
use crate::plans::{
    self, advance_move, change, changes_since, fresh_state, refused, supersede, write, MoveStamp, MoveStep,
    CONTRIBUTION_CREATED, CONTRIBUTION_EDITED, CONTRIBUTION_REVISION, CONTRIBUTION_SKIPPED,
};
use crate::services::rollouts;

const MAX_NAME_CHARS: usize = 200;
const MAX_COMMENT_CHARS: usize = 4000;

/// Creates a draft plan.
pub async fn create(context: &PlanContext, acting: &Acting, new: &NewPlan) -> Result<PlanView, AppError> {
    create_plan(context, acting, new, None).await
}

async fn create_plan(
    context: &PlanContext,
    acting: &Acting,
    new: &NewPlan,
    reverse_of: Option<i64>,
) -> Result<PlanView, AppError> {
    acting.may(Action::DraftPlans)?;
    let store = context.auth.store();
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(AppError::BadRequest(format!(
            "a plan's name is 1 to {MAX_NAME_CHARS} characters"
        )));
    }
    let connection = new.connection.trim();
    if connection.is_empty() && new.snapshot_id.is_none() {
        return Err(AppError::BadRequest(
            "a plan needs a connection to execute on or a snapshot to be reviewed on (or both)".into(),
        ));
    }
    if !connection.is_empty() && store.connection(connection).await?.is_none() {
        return Err(AppError::NotFound(format!(
            "there is no connection {connection:?} (add it with `berth connection add` or on Settings → Connections)"
        )));
    }
    if let Some(snapshot_id) = new.snapshot_id {
        if store.snapshot_row(snapshot_id).await?.is_none() {
            return Err(AppError::NotFound(format!("there is no snapshot {snapshot_id}")));
        }
    }
    let row = NewPlanRow {
        name,
        connection,
        snapshot_id: new.snapshot_id,
        author: &acting.username,
        stop_on_failure: new.stop_on_failure,
        required_approvals: i64::from(context.review.required.max(1)),
        reverse_of,
        now: context.now(),
    };
    let mut recorded = json!({
        "name": name, "connection": connection, "snapshot_id": new.snapshot_id, "reverse_of": reverse_of,
    });
    let created = (acting.username.as_str(), CONTRIBUTION_CREATED);
    // The new plan's entry, and for a reverse one on the plan it reverses, with the plan.
    let entries = |id: i64, recorded: serde_json::Value| {
        let mut entries = vec![context.entry(acting, id, AuditKind::PlanCreated, recorded)];
        if let Some(reversed) = reverse_of {
            entries.push(context.entry(
                acting,
                reversed,
                AuditKind::PlanReversed,
                json!({ "reverse": id }),
            ));
        }
        entries
    };
    let id = match &new.rollout {
        Some(_) if !new.moves.is_empty() => {
            return Err(AppError::BadRequest(
                "a plan moves instances or rolls out a scriptlet revision, not both".into(),
            ))
        }
        Some(spec) => {
            let revision = rollouts::revision(store, spec).await?;
            recorded["rollout"] = json!({ "scriptlet": spec.scriptlet, "revision": spec.revision });
            // Whoever wrote the revision wrote what the plan will run.
            let contributors = [created, (revision.author.as_str(), CONTRIBUTION_REVISION)];
            store
                .insert_rollout_plan(
                    &row,
                    (spec.scriptlet, spec.revision, &revision.source),
                    &contributors,
                    |id| entries(id, recorded),
                )
                .await?
        }
        None => {
            let moves = moves_of(&new.moves)?;
            recorded["moves"] = json!(moves.len());
            store
                .insert_plan(&row, &moves, &[created], |id| entries(id, recorded))
                .await?
        }
    };
    views::view(store, id).await
}

/// Replaces a plan's moves: a draft stays a draft, a plan in review or approved goes (back) to
/// review as a new version without approvals, a superseded one becomes a draft. The editor is
/// a contributor from now on.
pub async fn edit(
    context: &PlanContext,
    acting: &Acting,
    id: i64,
    specs: &[MoveSpec],
) -> Result<PlanView, AppError> {
    acting.may(Action::DraftPlans)?;
    let store = context.auth.store();
    let plan = plans::load(store, id).await?;
    let state = change(plan.state, PlanEvent::Edit)?;
    if plan.rollout.is_some() {
        return Err(refused(
            "a rollout plan has no moves to edit: make a new plan instead",
        ));
    }
    let moves = moves_of(specs)?;
    let detail =
        json!({ "moves": moves.len(), "from": state.from, "to": state.to, "version": plan.row.version + 1 });
    let edited = PlanWrite {
        plan_id: id,
        now: context.now(),
        state: Some(StateChange {
            version: Some(plan.row.version),
            ..state
        }),
        moves: Some(&moves),
        contributor: Some((&acting.username, CONTRIBUTION_EDITED)),
        ..PlanWrite::default()
    };
    write(
        store,
        &edited,
        &context.entry(acting, id, AuditKind::PlanEdited, detail),
    )
    .await?;
    views::view(store, id).await
}

pub async fn act(
    context: &PlanContext,
    acting: &Acting,
    id: i64,
    action: PlanAction,
) -> Result<PlanView, AppError> {
    match action {
        PlanAction::Preview => review::preview(context, acting, id).await?,
        PlanAction::Submit => review::submit(context, acting, id).await?,
        PlanAction::Approve { version } => review::approve(context, acting, id, version).await?,
        PlanAction::RequestChanges => review::request_changes(context, acting, id).await?,
        PlanAction::Execute => execute(context, acting, id).await?,
        PlanAction::Cancel => cancel(context, acting, id).await?,
        PlanAction::Reverse => return reverse(context, acting, id).await,
    }
    views::view(context.auth.store(), id).await
}

/// Starts executing an approved plan, after checking on a fresh capture of its connection that
/// the reviewed preview still holds: when it does not, the plan is superseded (`Stale`) and needs
/// a new preview and review.
async fn execute(context: &PlanContext, acting: &Acting, id: i64) -> Result<(), AppError> {
    acting.may(Action::ExecutePlans)?;
    let store = context.auth.store();
    let plan = plans::load(store, id).await?;
    let executing = change(plan.state, PlanEvent::Execute)?;
    let Some(connection) = plan.connection() else {
        return Err(refused(format!(
            "plan {id} was drafted on snapshot {} and has no connection to execute on: \
             make it again with a connection, preview it and have it approved",
            plan.row.snapshot_id.unwrap_or_default()
        )));
    };
    let preview = plan.preview().ok_or_else(|| refused("the plan has no preview"))?;
    // Before anything runs: does what was reviewed still hold on the cluster?
    let (fresh, _) = fresh_state(&context.auth, connection).await?;
    let changes = changes_since(&plan, &preview, &fresh, 0);
    if !changes.is_empty() {
        let reason = changes.join("; ");
        let entry = context.entry(acting, id, AuditKind::PlanSuperseded, json!({ "reason": reason }));
        supersede(store, id, plan.state, &reason, context.now(), &entry).await?;
        return Err(refused(format!(
            "the cluster changed since the preview, so plan {id} is superseded: {reason}. \
             Preview it and have it approved again."
        )));
    }
    let started = PlanWrite {
        plan_id: id,
        now: context.now(),
        state: Some(StateChange {
            version: Some(plan.row.version),
            ..executing
        }),
        ..PlanWrite::default()
    };
    let detail = json!({ "moves": plan.moves.len(), "version": plan.row.version });
    write(
        store,
        &started,
        &context.entry(acting, id, AuditKind::PlanExecutionStarted, detail),
    )
    .await?;
    if context.executes {
        context.executor.start(id);
    }
    Ok(())
}

/// Cancels a plan for good. An executing plan is an operator's to stop; before that, its
/// contributors may withdraw it and a reviewer may reject it.
async fn cancel(context: &PlanContext, acting: &Acting, id: i64) -> Result<(), AppError> {
    let store = context.auth.store();
    let plan = plans::load(store, id).await?;
    if plan.state == PlanState::Executing {
        acting.may(Action::ExecutePlans)?;
    } else {
        acting.may(Action::DraftPlans)?;
        let contributor = store
            .plan_contributors(id)
            .await?
            .iter()
            .any(|contributor| contributor.username == acting.username);
        if !contributor && !acting.role.may(Action::ApprovePlans) {
            return Err(AppError::Forbidden(format!(
                "{} did not contribute to plan {id} and is {}: only its contributors, a reviewer or an operator may cancel it",
                acting.username, acting.role
            )));
        }
    }
    let cancelled = change(plan.state, PlanEvent::Cancel)?;
    let detail = json!({ "from": cancelled.from, "to": cancelled.to });
    let write_cancel = PlanWrite {
        plan_id: id,
        now: context.now(),
        state: Some(cancelled),
        ..PlanWrite::default()
    };
    write(
        store,
        &write_cancel,
        &context.entry(acting, id, AuditKind::PlanCancelled, detail),
    )
    .await?;
    Ok(())
}

/// A finished plan's reverse, as a new draft on the same connection (fresh captures: the
/// cluster is what the plan made it).
async fn reverse(context: &PlanContext, acting: &Acting, id: i64) -> Result<PlanView, AppError> {
    acting.may(Action::DraftPlans)?;
    let store = context.auth.store();
    let plan = plans::load(store, id).await?;
    if !matches!(
        plan.state,
        PlanState::Succeeded | PlanState::Failed | PlanState::Cancelled
    ) {
        return Err(refused(format!(
            "a plan that is {} has no reverse yet: it has not finished",
            plan.state
        )));
    }
    let (moves, rollout) = match &plan.rollout {
        Some(rollout) => (
            Vec::new(),
            Some(
                rollouts::reverse(rollout)
                    .ok_or_else(|| refused("the rollout did not succeed: there is nothing to reverse"))?,
            ),
        ),
        None => (reversed_moves(&plan.moves)?, None),
    };
    let new = NewPlan {
        name: format!("Reverse of {}", plan.row.name),
        connection: plan.row.connection.clone(),
        snapshot_id: None,
        moves,
        rollout,
        stop_on_failure: plan.row.stop_on_failure != 0,
    };
    create_plan(context, acting, &new, Some(id)).await
}

pub async fn comment(
    context: &PlanContext,
    acting: &Acting,
    id: i64,
    position: Option<usize>,
    body: &str,
) -> Result<PlanView, AppError> {
    acting.may(Action::DraftPlans)?;
    let store = context.auth.store();
    let plan = plans::load(store, id).await?;
    let body = body.trim();
    if body.is_empty() || body.chars().count() > MAX_COMMENT_CHARS {
        return Err(AppError::BadRequest(format!(
            "a comment is 1 to {MAX_COMMENT_CHARS} characters"
        )));
    }
    if let Some(position) = position {
        if position == 0 || position > plan.moves.len() {
            return Err(AppError::BadRequest(format!(
                "the plan has moves 1 to {}, not {position}",
                plan.moves.len()
            )));
        }
    }
    let detail = json!({ "move": position, "characters": body.chars().count() });
    store
        .add_plan_comment(
            id,
            position.map(|p| p as i64),
            &acting.username,
            body,
            context.now(),
            &context.entry(acting, id, AuditKind::PlanCommented, detail),
        )
        .await?;
    views::view(store, id).await
}

/// Skips a pending move. While the plan executes, that is an operator's decision; before, it
/// changes what the plan will run: an edit (a new version, back to review if it was approved)
/// that makes the author's skipper a contributor.
pub async fn skip_move(
    context: &PlanContext,
    acting: &Acting,
    id: i64,
    position: usize,
    reason: &str,
) -> Result<PlanView, AppError> {
    let store = context.auth.store();
    let plan = plans::load(store, id).await?;
    let executing = plan.state == PlanState::Executing;
    acting.may(if executing {
        Action::ExecutePlans
    } else {
        Action::DraftPlans
    })?;
    if plan.state.is_final() {
        return Err(refused(format!(
            "a plan that is {} cannot skip a move",
            plan.state
        )));
    }
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(AppError::BadRequest("say why the move is skipped".into()));
    }
    let Some(row) = plan.moves.get(position.wrapping_sub(1)) else {
        return Err(AppError::BadRequest(format!(
            "the plan has moves 1 to {}, not {position}",
            plan.moves.len()
        )));
    };
    let (plan_change, contributor) = if executing {
        let still_executing = StateChange {
            from: PlanState::Executing.as_str(),
            to: PlanState::Executing.as_str(),
            ..StateChange::default()
        };
        (still_executing, None)
    } else {
        let edited = StateChange {
            version: Some(plan.row.version),
            ..change(plan.state, PlanEvent::Edit)?
        };
        (edited, Some((acting.username.as_str(), CONTRIBUTION_SKIPPED)))
    };
    let step = MoveStep {
        position: row.position,
        from: MoveState::Pending,
        event: MoveEvent::Skip {
            reason: format!("skipped by {}: {reason}", acting.username),
        },
        stamp: MoveStamp::default(),
    };
    let detail =
        json!({ "move": position, "instance": format!("{}/{}", row.project, row.name), "reason": reason });
    let entry = context.entry(acting, id, AuditKind::MoveSkipped, detail);
    if !advance_move(
        store,
        id,
        step,
        Some(plan_change),
        contributor,
        context.now(),
        &entry,
    )
    .await?
    {
        return Err(refused(format!(
            "move {position} is {}, not pending (or the plan changed meanwhile)",
            row.state
        )));
    }
    views::view(store, id).await
}

/// A plan's moves from what its author gave, checked by the domain's rules.
fn moves_of(specs: &[MoveSpec]) -> Result<Vec<PlanMoveRow>, AppError> {
    let mut planned = Vec::with_capacity(specs.len());
    for (index, spec) in specs.iter().enumerate() {
        let target: MoveTarget = spec
            .target
            .parse()
            .map_err(|error| AppError::BadRequest(format!("move {}: {error}", index + 1)))?;
        planned.push(PlannedMove {
            project: spec.project.trim().to_owned(),
            name: spec.name.trim().to_owned(),
            target_project: spec.target_project.trim().to_owned(),
            target,
            from_member: None,
        });
    }
    let plan = Plan::new(planned).map_err(|error| AppError::BadRequest(error.to_string()))?;
    Ok(plan
        .moves
        .into_iter()
        .map(|planned| PlanMoveRow {
            target: planned.target.to_string(),
            project: planned.project,
            name: planned.name,
            target_project: planned.target_project,
            from_member: planned.from_member,
            state: "pending".into(),
            ..PlanMoveRow::default()
        })
        .collect())
}

/// The moves that send a plan's succeeded moves back, last first.
fn reversed_moves(moves: &[PlanMoveRow]) -> Result<Vec<MoveSpec>, AppError> {
    let plan = Plan {
        moves: plans::planned_moves(moves),
    };
    let reverse = plan
        .reverse(|index| moves[index].state == "succeeded")
        .map_err(|_| refused("no move of this plan succeeded: there is nothing to reverse"))?;
    Ok(reverse
        .moves
        .iter()
        .map(|planned| MoveSpec {
            project: planned.project.clone(),
            name: planned.name.clone(),
            target_project: planned.target_project.clone(),
            target: planned.target.to_string(),
        })
        .collect())
}
