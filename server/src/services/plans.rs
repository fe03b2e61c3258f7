//! Migration plans: building, previewing against a fresh capture, reviewing, approving and
//! starting the execution (which [`crate::executor`] carries out), for the UI, `/api/v1/plans`
//! and `berth plan` alike.
//!
//! Every operation checks here who may do it (the role, and the author never approving their
//! own plan), moves the plan through `berth_core::plan`'s one transition table, writes with a
//! compare-and-set on the state it read (two people, or a person and the executor, cannot both
//! move a plan on) and records it in the audit log under the subject `plan:ID`.

use std::collections::BTreeSet;
use std::sync::Arc;

use berth_app::types::{
    AuditEntryView, BuilderInstance, CommentView, ExcludedView, IncusCallView, LoadView, MoveSpec, NewPlan,
    PlanAction, PlanBuilderSetup, PlanMoveView, PlanSummary, PlanView, PreviewStamp,
};
use berth_core::access::{Action, Role};
use berth_core::engine::IncusVersion;
use berth_core::plan::preview::{self, MovePreview, PlanPreview, Verdict};
use berth_core::plan::{MoveEvent, MoveState, MoveTarget, Plan, PlanEvent, PlanState, PlannedMove, Review};
use berth_core::simulate::{Mode, Outcome, Simulation};
use berth_core::Snapshot;
use serde_json::json;

use super::connections::client_for;
use super::rollouts;
use super::snapshots;
use crate::audit::{Actor, AuditKind};
use crate::auth::Auth;
use crate::capture::capture;
use crate::clock::rfc3339;
use crate::db::{NewPlanRow, PlanMoveRow, PlanRow, Store};
use crate::error::AppError;
use crate::executor::Executor;
use crate::incus::IncusClient;
use crate::sandbox::{JobSnapshot, Sandbox};

const MAX_NAME_CHARS: usize = 200;
const MAX_COMMENT_CHARS: usize = 4000;
/// Reads of the cluster before a preview or a move give up after this many failures.
const CAPTURE_ATTEMPTS: u32 = 3;

/// Who acts on a plan: a signed-in user, or one named with `--as` on the command line.
#[derive(Debug, Clone)]
pub struct Acting {
    pub actor: Actor,
    pub username: String,
    pub role: Role,
}

impl Acting {
    pub fn new(actor: Actor, username: &str, role: Role) -> Acting {
        Acting {
            actor,
            username: username.to_owned(),
            role,
        }
    }

    fn may(&self, action: Action) -> Result<(), AppError> {
        if self.role.may(action) {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!(
                "{} is {} and may not {}",
                self.username,
                self.role,
                action.as_str().replace('_', " ")
            )))
        }
    }
}

/// The audit subject of a plan.
pub fn subject(id: i64) -> String {
    format!("plan:{id}")
}

pub(crate) fn state_of(row: &PlanRow) -> Result<PlanState, AppError> {
    PlanState::ALL
        .into_iter()
        .find(|state| state.as_str() == row.state)
        .ok_or_else(|| AppError::BadRequest(format!("plan {} has an unknown state {:?}", row.id, row.state)))
}

pub(crate) async fn load(store: &Store, id: i64) -> Result<(PlanRow, Vec<PlanMoveRow>), AppError> {
    let row = store
        .plan(id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("there is no plan {id}")))?;
    let moves = store.plan_moves(id).await?;
    Ok((row, moves))
}

pub(crate) fn planned_moves(rows: &[PlanMoveRow]) -> Vec<PlannedMove> {
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

pub(crate) fn preview_of(row: &PlanRow) -> Option<PlanPreview> {
    row.preview
        .as_deref()
        .and_then(|text| serde_json::from_str(text).ok())
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

pub async fn list(store: &Store) -> Result<Vec<PlanSummary>, AppError> {
    let mut summaries = Vec::new();
    for row in store.list_plans().await? {
        let moves = store.plan_moves(row.id).await?;
        summaries.push(PlanSummary {
            id: row.id,
            name: row.name.clone(),
            connection: row.connection.clone(),
            author: row.author.clone(),
            state: row.state.clone(),
            moves: moves.len(),
            blocked: preview_of(&row).map_or(0, |preview| preview.blocked()),
            updated_at: rfc3339(row.updated_at),
        });
    }
    Ok(summaries)
}

pub async fn view(store: &Store, id: i64) -> Result<PlanView, AppError> {
    let (row, moves) = load(store, id).await?;
    let preview = preview_of(&row);
    let approvals = store.plan_approvals(id).await?;
    let comments = store
        .plan_comments(id)
        .await?
        .into_iter()
        .map(|comment| CommentView {
            author: comment.author,
            position: comment.position.map(|p| p as usize),
            body: comment.body,
            at: rfc3339(comment.created_at),
        })
        .collect();
    let previewed: Vec<Option<&MovePreview>> = (0..moves.len())
        .map(|index| preview.as_ref().and_then(|preview| preview.moves.get(index)))
        .collect();
    Ok(PlanView {
        id: row.id,
        state: row.state.clone(),
        moves: moves
            .iter()
            .zip(previewed)
            .map(|(row, previewed)| move_view(row, previewed))
            .collect(),
        name: row.name.clone(),
        connection: row.connection.clone(),
        author: row.author.clone(),
        stop_on_failure: row.stop_on_failure != 0,
        required_approvals: row.required_approvals as u32,
        approvals,
        preview: match (&preview, row.preview_snapshot, row.previewed_at) {
            (Some(preview), Some(snapshot_id), Some(at)) => Some(PreviewStamp {
                snapshot_id,
                snapshot_hash: preview.snapshot_hash.clone(),
                incus_version: preview.incus_version.clone(),
                previewed_at: rfc3339(at),
            }),
            _ => None,
        },
        superseded: row.superseded.clone(),
        interrupted: interruption(store, &row).await?,
        reverse_of: row.reverse_of,
        load: preview
            .as_ref()
            .map(|preview| {
                preview
                    .load
                    .iter()
                    .map(|load| LoadView {
                        member: load.member.clone(),
                        before: load.before,
                        after: load.after,
                    })
                    .collect()
            })
            .unwrap_or_default(),
        rollout: rollouts::view(store, id).await?,
        comments,
        created_at: rfc3339(row.created_at),
        updated_at: rfc3339(row.updated_at),
    })
}

fn move_view(row: &PlanMoveRow, previewed: Option<&MovePreview>) -> PlanMoveView {
    let decision = previewed.and_then(|p| p.decision.as_ref());
    let (error, skipped) = match row.state.as_str() {
        "failed" => (row.detail.clone(), None),
        "skipped" => (None, row.detail.clone()),
        _ => (None, None),
    };
    PlanMoveView {
        project: row.project.clone(),
        name: row.name.clone(),
        target_project: row.target_project.clone(),
        target: row.target.clone(),
        verdict: previewed.map(|p| p.verdict.as_str().to_owned()),
        reasons: previewed.map(|p| p.reasons.clone()).unwrap_or_default(),
        decision: row
            .decision
            .clone()
            .or_else(|| decision.map(|d| d.member.clone())),
        state: row.state.clone(),
        error,
        skipped,
        from_member: row
            .from_member
            .clone()
            .or_else(|| previewed.and_then(|p| p.from_member.clone())),
        chosen_by: decision.map(|d| d.chosen_by.clone()),
        candidates: decision.map(|d| d.candidates.clone()).unwrap_or_default(),
        excluded: decision
            .map(|d| {
                d.excluded
                    .iter()
                    .map(|e| ExcludedView {
                        member: e.member.clone(),
                        reason: e.reason.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        scriptlet_logs: decision.map(|d| d.logs.clone()).unwrap_or_default(),
        incus_calls: previewed
            .map(|p| {
                p.incus_calls
                    .iter()
                    .map(|call| IncusCallView {
                        reason: call.reason.clone(),
                        project: call.project.clone(),
                        candidates: call.candidates.clone(),
                        outcome: call.outcome.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        started_at: row.started_at.map(rfc3339),
        duration_ms: row
            .started_at
            .zip(row.finished_at)
            .map(|(start, end)| end - start),
    }
}

pub async fn timeline(store: &Store, id: i64) -> Result<Vec<AuditEntryView>, AppError> {
    store
        .plan(id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("there is no plan {id}")))?;
    Ok(store
        .audit_of_subject(&subject(id))
        .await?
        .into_iter()
        .map(super::accounts::audit_view)
        .collect())
}

/// The error an executing plan's executor last stopped on, when its history has nothing newer.
async fn interruption(store: &Store, row: &PlanRow) -> Result<Option<String>, AppError> {
    if row.state != PlanState::Executing.as_str() {
        return Ok(None);
    }
    let latest = store.latest_audit_of_subject(&subject(row.id)).await?;
    Ok(latest
        .filter(|entry| entry.kind == AuditKind::PlanExecutionInterrupted.as_str())
        .and_then(|entry| serde_json::from_str::<serde_json::Value>(&entry.detail).ok())
        .and_then(|detail| detail["error"].as_str().map(str::to_owned)))
}

/// The instances of the newest snapshot captured through `connection` (default: the first).
pub async fn builder(store: &Store, connection: Option<String>) -> Result<PlanBuilderSetup, AppError> {
    let connections = store.list_connections().await?;
    let chosen = match connection.filter(|name| !name.is_empty()) {
        Some(name) => Some(
            connections
                .iter()
                .find(|record| record.name == name)
                .ok_or_else(|| AppError::NotFound(format!("there is no connection {name:?}")))?,
        ),
        None => connections.first(),
    };
    let mut setup = PlanBuilderSetup {
        connections: connections.iter().map(|record| record.name.clone()).collect(),
        snapshot_id: None,
        instances: Vec::new(),
        projects: Vec::new(),
        members: Vec::new(),
        groups: Vec::new(),
        scriptlets: super::impact::scriptlet_choices(store).await?,
    };
    let Some(chosen) = chosen else {
        return Ok(setup);
    };
    let newest = store
        .list_snapshots()
        .await?
        .into_iter()
        // A capture is named "SERVER (REMOTE)" (`capture.rs`); its source says the remote.
        .find(|row| row.source_kind == "capture" && row.name.ends_with(&format!(" ({})", chosen.remote)));
    let Some(row) = newest else {
        return Ok(setup);
    };
    let stored = store
        .stored_snapshot(row.id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("there is no snapshot {}", row.id)))?;
    let snapshot = Snapshot::from_json(&stored.json)
        .map_err(|error| AppError::BadRequest(format!("snapshot {} does not read: {error}", row.id)))?;
    setup.snapshot_id = Some(row.id);
    setup.instances = snapshot
        .instances
        .iter()
        .map(|instance| BuilderInstance {
            project: instance.project.clone(),
            name: instance.name.clone(),
            member: instance.location.clone(),
            status: instance.status.clone(),
            labels: instance
                .labels()
                .map(|(key, value)| format!("{key}={value}"))
                .collect(),
        })
        .collect();
    setup.projects = snapshot.projects.iter().map(|p| p.name.clone()).collect();
    setup.members = snapshot.members.iter().map(|m| m.server_name.clone()).collect();
    setup.groups = snapshot.cluster_groups.iter().map(|g| g.name.clone()).collect();
    Ok(setup)
}

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
    let auth = &context.auth;
    acting.may(Action::DraftPlans)?;
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(AppError::BadRequest(format!(
            "a plan's name is 1 to {MAX_NAME_CHARS} characters"
        )));
    }
    if auth.store().connection(&new.connection).await?.is_none() {
        return Err(AppError::NotFound(format!(
            "there is no connection {:?} (add it with `berth connection add` or on Settings → Connections)",
            new.connection
        )));
    }
    let row = NewPlanRow {
        name,
        connection: &new.connection,
        author: &acting.username,
        stop_on_failure: new.stop_on_failure,
        required_approvals: i64::from(context.review.required.max(1)),
        reverse_of,
        now: auth.clock().now_ms(),
    };
    let (id, detail) = match &new.rollout {
        Some(_) if !new.moves.is_empty() => {
            return Err(AppError::BadRequest(
                "a plan moves instances or rolls out a scriptlet revision, not both".into(),
            ))
        }
        Some(spec) => (
            rollouts::insert(auth.store(), &row, spec).await?,
            json!({ "scriptlet": spec.scriptlet, "revision": spec.revision }),
        ),
        None => {
            let moves = moves_of(&new.moves)?;
            (auth.store().insert_plan(&row, &moves).await?, json!(moves.len()))
        }
    };
    let mut recorded = json!({ "name": name, "connection": new.connection, "reverse_of": reverse_of });
    recorded[if new.rollout.is_some() { "rollout" } else { "moves" }] = detail;
    auth.audit()
        .record(
            &acting.actor,
            AuditKind::PlanCreated,
            Some(&subject(id)),
            recorded,
        )
        .await?;
    view(auth.store(), id).await
}

/// Replaces a plan's moves: a draft stays a draft, a plan in review or approved goes (back) to
/// review without its approvals, a superseded one becomes a draft.
pub async fn edit(auth: &Auth, acting: &Acting, id: i64, specs: &[MoveSpec]) -> Result<PlanView, AppError> {
    acting.may(Action::DraftPlans)?;
    let (row, _) = load(auth.store(), id).await?;
    let state = state_of(&row)?;
    let next = state.next(PlanEvent::Edit).map_err(refused)?;
    if auth.store().plan_rollout(id).await?.is_some() {
        return Err(refused(
            "a rollout plan has no moves to edit: make a new plan instead",
        ));
    }
    let moves = moves_of(specs)?;
    if !auth
        .store()
        .replace_plan_moves(id, state.as_str(), next.as_str(), &moves, auth.clock().now_ms())
        .await?
    {
        return Err(changed_meanwhile(id));
    }
    auth.audit()
        .record(
            &acting.actor,
            AuditKind::PlanEdited,
            Some(&subject(id)),
            json!({ "moves": moves.len(), "from": state.as_str(), "to": next.as_str() }),
        )
        .await?;
    view(auth.store(), id).await
}

fn refused(error: impl std::fmt::Display) -> AppError {
    AppError::Conflict(error.to_string())
}

fn changed_meanwhile(id: i64) -> AppError {
    AppError::Conflict(format!("plan {id} changed meanwhile; reload it and try again"))
}

/// What preview, submission and execution need besides the store.
#[derive(Clone)]
pub struct PlanContext {
    pub auth: Auth,
    pub sandbox: Arc<Sandbox>,
    pub executor: Arc<Executor>,
    /// Start executing a plan in this process as soon as it is approved for execution (a
    /// server); `false` for the command line, which runs it only with `--wait` and otherwise
    /// leaves it to the servers (a short-lived process must not take a plan's lease).
    pub executes: bool,
    /// Approvals a new plan needs (`--plan-approvals`).
    pub review: Review,
}

pub async fn act(
    context: &PlanContext,
    acting: &Acting,
    id: i64,
    action: PlanAction,
) -> Result<PlanView, AppError> {
    let auth = &context.auth;
    let store = auth.store();
    let now = || auth.clock().now_ms();
    let record = |kind: AuditKind, detail: serde_json::Value| async move {
        auth.audit()
            .record(&acting.actor, kind, Some(&subject(id)), detail)
            .await
    };
    match action {
        PlanAction::Preview => {
            acting.may(Action::DraftPlans)?;
            let (row, _) = load(store, id).await?;
            if matches!(state_of(&row)?, PlanState::Executing) || state_of(&row)?.is_final() {
                return Err(refused(format!(
                    "a plan that is {} is not previewed again",
                    state_of(&row)?
                )));
            }
            preview_now(context, acting, &row).await?;
        }
        PlanAction::Submit => {
            acting.may(Action::DraftPlans)?;
            let (row, _) = load(store, id).await?;
            let state = state_of(&row)?;
            let next = state.next(PlanEvent::Submit).map_err(refused)?;
            let preview = preview_now(context, acting, &row).await?;
            if !preview.moves.is_empty() && preview.blocked() == preview.moves.len() {
                return Err(refused(
                    "every move of this plan is blocked: there is nothing to review",
                ));
            }
            if !store
                .set_plan_state(id, state.as_str(), next.as_str(), now())
                .await?
            {
                return Err(changed_meanwhile(id));
            }
            record(AuditKind::PlanSubmitted, json!({ "blocked": preview.blocked() })).await?;
        }
        PlanAction::Approve => {
            acting.may(Action::ApprovePlans)?;
            let (row, _) = load(store, id).await?;
            let state = state_of(&row)?;
            let approvals = store.plan_approvals(id).await?;
            let review = Review {
                required: row.required_approvals.max(1) as u32,
            };
            let event = review
                .approve(&row.author, &acting.username, &approvals)
                .map_err(refused)?;
            let next = state.next(event).map_err(refused)?;
            if !store.add_plan_approval(id, &acting.username, now()).await? {
                return Err(changed_meanwhile(id));
            }
            if next != state
                && !store
                    .set_plan_state(id, state.as_str(), next.as_str(), now())
                    .await?
            {
                return Err(changed_meanwhile(id));
            }
            record(
                AuditKind::PlanApproved,
                json!({ "approvals": approvals.len() + 1, "required": review.required, "state": next.as_str() }),
            )
            .await?;
        }
        PlanAction::RequestChanges => {
            acting.may(Action::ApprovePlans)?;
            transition(
                context,
                acting,
                id,
                PlanEvent::RequestChanges,
                AuditKind::PlanChangesRequested,
            )
            .await?;
        }
        PlanAction::Execute => {
            acting.may(Action::ExecutePlans)?;
            let (row, moves) = load(store, id).await?;
            let state = state_of(&row)?;
            let next = state.next(PlanEvent::Execute).map_err(refused)?;
            // Before anything runs: does the preview still hold?
            let preview = preview_of(&row).ok_or_else(|| refused("the plan has no preview"))?;
            let (fresh, _) = fresh_state(auth, &row.connection).await?;
            let mut changes = preview::changes_since(&preview, &fresh, &planned_moves(&moves), 0);
            if let Some(rollout) = store.plan_rollout(id).await? {
                changes.extend(rollouts::changes_since(&rollout, &fresh));
            }
            if !changes.is_empty() {
                let reason = changes.join("; ");
                if store.supersede_plan(id, state.as_str(), &reason, now()).await? {
                    record(AuditKind::PlanSuperseded, json!({ "reason": reason })).await?;
                }
                return Err(refused(format!(
                    "the cluster changed since the preview, so plan {id} is superseded: {reason}. \
                     Preview it and have it approved again."
                )));
            }
            if !store
                .set_plan_state(id, state.as_str(), next.as_str(), now())
                .await?
            {
                return Err(changed_meanwhile(id));
            }
            record(AuditKind::PlanExecutionStarted, json!({ "moves": moves.len() })).await?;
            if context.executes {
                context.executor.start(id);
            }
        }
        PlanAction::Cancel => {
            acting.may(Action::DraftPlans)?;
            transition(context, acting, id, PlanEvent::Cancel, AuditKind::PlanCancelled).await?;
        }
        PlanAction::Reverse => {
            acting.may(Action::DraftPlans)?;
            let (row, moves) = load(store, id).await?;
            let state = state_of(&row)?;
            if !matches!(
                state,
                PlanState::Succeeded | PlanState::Failed | PlanState::Cancelled
            ) {
                return Err(refused(format!(
                    "a plan that is {state} has no reverse yet: it has not finished"
                )));
            }
            let (moves, rollout) = match store.plan_rollout(id).await? {
                Some(rollout) => (
                    Vec::new(),
                    Some(rollouts::reverse(&rollout).ok_or_else(|| {
                        refused("the rollout did not succeed: there is nothing to reverse")
                    })?),
                ),
                None => (reversed_moves(&moves)?, None),
            };
            let new = NewPlan {
                name: format!("Reverse of {}", row.name),
                connection: row.connection.clone(),
                moves,
                rollout,
                stop_on_failure: row.stop_on_failure != 0,
            };
            let created = create_plan(context, acting, &new, Some(id)).await?;
            record(AuditKind::PlanReversed, json!({ "reverse": created.id })).await?;
            return Ok(created);
        }
    }
    view(store, id).await
}

/// The moves that send a plan's succeeded moves back, last first.
fn reversed_moves(moves: &[PlanMoveRow]) -> Result<Vec<MoveSpec>, AppError> {
    let plan = Plan {
        moves: planned_moves(moves),
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

/// A transition that needs nothing but the table and the role.
async fn transition(
    context: &PlanContext,
    acting: &Acting,
    id: i64,
    event: PlanEvent,
    kind: AuditKind,
) -> Result<(), AppError> {
    let auth = &context.auth;
    let (row, _) = load(auth.store(), id).await?;
    let state = state_of(&row)?;
    let next = state.next(event).map_err(refused)?;
    if !auth
        .store()
        .set_plan_state(id, state.as_str(), next.as_str(), auth.clock().now_ms())
        .await?
    {
        return Err(changed_meanwhile(id));
    }
    auth.audit()
        .record(
            &acting.actor,
            kind,
            Some(&subject(id)),
            json!({ "from": state.as_str(), "to": next.as_str() }),
        )
        .await?;
    Ok(())
}

pub async fn comment(
    auth: &Auth,
    acting: &Acting,
    id: i64,
    position: Option<usize>,
    body: &str,
) -> Result<PlanView, AppError> {
    acting.may(Action::DraftPlans)?;
    let (_, moves) = load(auth.store(), id).await?;
    let body = body.trim();
    if body.is_empty() || body.chars().count() > MAX_COMMENT_CHARS {
        return Err(AppError::BadRequest(format!(
            "a comment is 1 to {MAX_COMMENT_CHARS} characters"
        )));
    }
    if let Some(position) = position {
        if position == 0 || position > moves.len() {
            return Err(AppError::BadRequest(format!(
                "the plan has moves 1 to {}, not {position}",
                moves.len()
            )));
        }
    }
    auth.store()
        .add_plan_comment(
            id,
            position.map(|p| p as i64),
            &acting.username,
            body,
            auth.clock().now_ms(),
        )
        .await?;
    auth.audit()
        .record(
            &acting.actor,
            AuditKind::PlanCommented,
            Some(&subject(id)),
            json!({ "move": position, "characters": body.chars().count() }),
        )
        .await?;
    view(auth.store(), id).await
}

/// Skips a pending move of a plan that is approved or executing (an operator's decision) or
/// not yet approved (an author's).
pub async fn skip_move(
    auth: &Auth,
    acting: &Acting,
    id: i64,
    position: usize,
    reason: &str,
) -> Result<PlanView, AppError> {
    let (row, moves) = load(auth.store(), id).await?;
    let state = state_of(&row)?;
    acting.may(if matches!(state, PlanState::Approved | PlanState::Executing) {
        Action::ExecutePlans
    } else {
        Action::DraftPlans
    })?;
    if state.is_final() {
        return Err(refused(format!("a plan that is {state} cannot skip a move")));
    }
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(AppError::BadRequest("say why the move is skipped".into()));
    }
    let Some(row) = moves.get(position.wrapping_sub(1)) else {
        return Err(AppError::BadRequest(format!(
            "the plan has moves 1 to {}, not {position}",
            moves.len()
        )));
    };
    let skipped = MoveEvent::Skip {
        reason: format!("skipped by {}: {reason}", acting.username),
    };
    if !advance_move(
        auth.store(),
        id,
        row.position,
        MoveState::Pending,
        skipped,
        MoveStamp::default(),
    )
    .await?
    {
        return Err(refused(format!("move {position} is {}, not pending", row.state)));
    }
    auth.audit()
        .record(
            &acting.actor,
            AuditKind::MoveSkipped,
            Some(&subject(id)),
            json!({ "move": position, "instance": format!("{}/{}", row.project, row.name), "reason": reason }),
        )
        .await?;
    view(auth.store(), id).await
}

/// What a move's change of state records besides the state.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct MoveStamp<'a> {
    pub decision: Option<&'a str>,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
}

/// Moves a move on by `berth_core::plan`'s table (`MoveState::next`), compare-and-set on `from`:
/// `false` when it was no longer in `from` (someone else moved it on).
pub(crate) async fn advance_move(
    store: &Store,
    plan_id: i64,
    position: i64,
    from: MoveState,
    event: MoveEvent,
    stamp: MoveStamp<'_>,
) -> Result<bool, AppError> {
    let to = from.next(event).map_err(refused)?;
    let detail = match &to {
        MoveState::Skipped { reason } => Some(reason.as_str()),
        MoveState::Failed { error } => Some(error.as_str()),
        _ => None,
    };
    Ok(store
        .update_plan_move(
            plan_id,
            position,
            from.name(),
            to.name(),
            detail,
            stamp.decision,
            stamp.started_at,
            stamp.finished_at,
        )
        .await?)
}

/// Captures the cluster behind `connection` now (not stored).
pub(crate) async fn fresh_state(auth: &Auth, connection: &str) -> Result<(Snapshot, IncusClient), AppError> {
    let record = auth
        .store()
        .connection(connection)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("there is no connection {connection:?}")))?;
    let client = client_for(auth.store(), &record)?;
    // A cluster that just lost a connection between members answers one capture with an error
    // and the next one whole: a failed read is tried again before the step is given up.
    let mut attempt = 1;
    loop {
        match capture(&client, &record.remote, rfc3339(auth.clock().now_ms())).await {
            Ok(snapshot) => return Ok((snapshot, client)),
            Err(error) if attempt < CAPTURE_ATTEMPTS => {
                tracing::warn!(connection, attempt, %error, "capture failed; trying again");
                attempt += 1;
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
            Err(error) => {
                return Err(AppError::Upstream(format!(
                    "capture from {connection} failed: {error}"
                )))
            }
        }
    }
}

/// Previews the plan against a fresh capture, which is stored (the preview names it).
async fn preview_now(context: &PlanContext, acting: &Acting, row: &PlanRow) -> Result<PlanPreview, AppError> {
    let auth = &context.auth;
    let (snapshot, client) = fresh_state(auth, &row.connection).await?;
    let stored = snapshots::store(auth, &acting.actor, &snapshot).await?;
    let moves = planned_moves(&auth.store().plan_moves(row.id).await?);
    let preview = assess(&context.sandbox, &snapshot, &client, &moves).await?;
    if let Some(rollout) = auth.store().plan_rollout(row.id).await? {
        rollouts::preview(context, &snapshot, &rollout).await?;
    }
    let from_members: Vec<Option<String>> = preview.moves.iter().map(|m| m.from_member.clone()).collect();
    let text = serde_json::to_string(&preview).expect("a preview serializes");
    if !auth
        .store()
        .set_plan_preview(
            row.id,
            &row.state,
            &text,
            stored.snapshot.id,
            &from_members,
            auth.clock().now_ms(),
        )
        .await?
    {
        return Err(changed_meanwhile(row.id));
    }
    auth.audit()
        .record(
            &acting.actor,
            AuditKind::PlanPreviewed,
            Some(&subject(row.id)),
            json!({
                "snapshot_id": stored.snapshot.id,
                "snapshot_hash": preview.snapshot_hash,
                "verdicts": preview.moves.iter().map(|m| m.verdict.as_str()).collect::<Vec<_>>(),
            }),
        )
        .await?;
    Ok(preview)
}

/// The preview of `moves` on `snapshot`: the corrected simulation of the cluster's own
/// scriptlet in a sandbox worker, read by `berth_core::plan::preview`.
pub(crate) async fn assess(
    sandbox: &Sandbox,
    snapshot: &Snapshot,
    client: &IncusClient,
    moves: &[PlannedMove],
) -> Result<PlanPreview, AppError> {
    let version: IncusVersion = snapshot.incus_version().parse().unwrap_or_default();
    let operations = preview::operations(moves);
    let json = snapshot.to_json();
    let hash = snapshot.content_hash();
    let source = snapshot.server.placement_scriptlet().unwrap_or("");
    let simulation = match sandbox
        .simulate(
            JobSnapshot::new(&hash, &json),
            source,
            version,
            Mode::Corrected,
            &operations,
        )
        .await?
    {
        Ok(value) => serde_json::from_value::<Simulation>(value)
            .map_err(|error| AppError::BadRequest(format!("unexpected simulation result: {error}")))?,
        // The cluster's own scriptlet does not compile here: every move is blocked by it.
        Err(diagnostic) => Simulation {
            incus_version: version.to_string(),
            profile: berth_core::simulate::BehaviourProfile::of(version),
            mode: Mode::Corrected,
            calls: Vec::new(),
            outcomes: moves
                .iter()
                .map(|planned| Outcome::Failed {
                    instance: planned.instance(),
                    error: format!("the cluster's placement scriptlet fails: {}", diagnostic.message),
                })
                .collect(),
            stopped: None,
        },
    };
    Ok(preview::assess(
        snapshot,
        moves,
        &simulation,
        &with_backups(client, moves).await,
    ))
}

/// Which of the moves' instances have backups (`GET /1.0/instances/NAME/backups`): snapshots do
/// not hold them, and Incus refuses to move such an instance to another member.
async fn with_backups(client: &IncusClient, moves: &[PlannedMove]) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for planned in moves {
        let path = format!(
            "/1.0/instances/{}/backups?project={}",
            planned.name, planned.project
        );
        // An instance that is not there is the preview's to report.
        if let Ok(backups) = client.get::<Vec<String>>(&path).await {
            if !backups.is_empty() {
                found.insert(planned.instance());
            }
        }
    }
    found
}

/// The verdict of a move, for the executor's words.
pub(crate) fn blocked_reason(preview: &MovePreview) -> Option<String> {
    (preview.verdict == Verdict::Blocked).then(|| preview.reasons.join("; "))
}
