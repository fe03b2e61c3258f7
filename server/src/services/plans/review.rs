//! The review: previews, submission, approval and requests for changes.
//!
//! Four eyes, bound to what was seen. A preview (on the plan's stored snapshot, or on a fresh
//! capture of its connection) makes a new version of the plan; an approval names the version
//! the approver saw and is one compare-and-set on it in the store (`Store::approve_plan`), so an
//! edit or a preview racing with it either voids it or is refused; no account that contributed
//! to what the plan will run may approve it (`berth_core::plan::Review`). An approved plan is
//! not previewed again in place: if the cluster changed since, executing supersedes it.

use berth_core::access::Action;
use berth_core::plan::preview::PlanPreview;
use berth_core::plan::{PlanEvent, Review};
use serde_json::json;

use super::{Acting, PlanContext};
use crate::audit::AuditKind;
use crate::db::{ApprovalLost, PlanWrite, PreviewWrite, StateChange};
use crate::error::AppError;
use crate::plans::{self, assess, change, fresh_state, refused, write, LoadedPlan};
use crate::services::{rollouts, snapshots};

/// Previews the plan again (a new version, which voids the approvals given so far).
pub(super) async fn preview(context: &PlanContext, acting: &Acting, id: i64) -> Result<(), AppError> {
    acting.may(Action::DraftPlans)?;
    let plan = plans::load(context.auth.store(), id).await?;
    let previewed = change(plan.state, PlanEvent::Preview)?;
    preview_now(context, acting, &plan, previewed).await?;
    Ok(())
}

/// Sends a plan to review with a fresh preview.
pub(super) async fn submit(context: &PlanContext, acting: &Acting, id: i64) -> Result<(), AppError> {
    acting.may(Action::DraftPlans)?;
    let store = context.auth.store();
    let plan = plans::load(store, id).await?;
    let submitted = change(plan.state, PlanEvent::Submit)?;
    let (preview, version) =
        preview_now(context, acting, &plan, change(plan.state, PlanEvent::Preview)?).await?;
    if !preview.moves.is_empty() && preview.blocked() == preview.moves.len() {
        return Err(refused(
            "every move of this plan is blocked: there is nothing to review",
        ));
    }
    let write_submit = PlanWrite {
        plan_id: id,
        now: context.now(),
        state: Some(StateChange {
            version: Some(version),
            ..submitted
        }),
        ..PlanWrite::default()
    };
    let detail = json!({ "blocked": preview.blocked(), "version": version });
    write(
        store,
        &write_submit,
        &context.entry(acting, id, AuditKind::PlanSubmitted, detail),
    )
    .await?;
    Ok(())
}

/// Approves version `version` of a plan in review.
pub(super) async fn approve(
    context: &PlanContext,
    acting: &Acting,
    id: i64,
    version: Option<i64>,
) -> Result<(), AppError> {
    acting.may(Action::ApprovePlans)?;
    let store = context.auth.store();
    let plan = plans::load(store, id).await?;
    // Contributors only ever grow: one found now is one still when the approval is written.
    if store
        .plan_contributors(id)
        .await?
        .iter()
        .any(|contributor| contributor.username == acting.username)
    {
        return Err(AppError::Forbidden(format!(
            "{} contributed to plan {id} (created it or changed what it will run) and cannot approve it",
            acting.username
        )));
    }
    let Some(version) = version else {
        return Err(refused(format!(
            "an approval is for one version of plan {id}: send the version you reviewed \
             ({{\"version\": {}}} is the current one)",
            plan.row.version
        )));
    };
    change(plan.state, PlanEvent::Approve { enough: false })?;
    let review = Review {
        required: plan.row.required_approvals.max(1) as u32,
    };
    let state = plan.state;
    let outcome = store
        .approve_plan(
            (id, version, state.as_str()),
            &acting.username,
            context.now(),
            |facts| {
                let event = review
                    .approve(&facts.contributors, &acting.username, &facts.approvals)
                    .map_err(|refusal| match refusal {
                        berth_core::plan::ApprovalRefused::Contributor(_) => {
                            AppError::Forbidden(refusal.to_string())
                        }
                        berth_core::plan::ApprovalRefused::Already(_) => refused(refusal),
                    })?;
                let next = state.next(event).map_err(refused)?;
                let detail = json!({
                    "version": version,
                    "approvals": facts.approvals.len() + 1,
                    "required": review.required,
                    "state": next.as_str(),
                });
                let entry = context.entry(acting, id, AuditKind::PlanApproved, detail);
                Ok::<_, AppError>((next.as_str().to_owned(), entry))
            },
        )
        .await?;
    match outcome {
        Ok(_) => Ok(()),
        Err(ApprovalLost::Refused(error)) => Err(error),
        Err(ApprovalLost::Stale {
            version: current,
            state: now_state,
        }) if current != version => Err(refused(format!(
            "plan {id} is at version {current} now, not {version}: it changed since you reviewed it \
             ({now_state}); review the current version"
        ))),
        Err(ApprovalLost::Stale { state: now_state, .. }) => Err(refused(format!(
            "plan {id} is {} now, not in review",
            now_state.replace('_', " ")
        ))),
    }
}

pub(super) async fn request_changes(context: &PlanContext, acting: &Acting, id: i64) -> Result<(), AppError> {
    acting.may(Action::ApprovePlans)?;
    let store = context.auth.store();
    let plan = plans::load(store, id).await?;
    let back = change(plan.state, PlanEvent::RequestChanges)?;
    let detail = json!({ "from": back.from, "to": back.to, "version": plan.row.version });
    let write_back = PlanWrite {
        plan_id: id,
        now: context.now(),
        state: Some(back),
        ..PlanWrite::default()
    };
    write(
        store,
        &write_back,
        &context.entry(acting, id, AuditKind::PlanChangesRequested, detail),
    )
    .await?;
    Ok(())
}

/// Previews the plan on its stored snapshot, or on a fresh capture of its connection (stored:
/// the preview names it), and writes the preview as a new version of the plan, provided the
/// plan is still the version it was read as; the preview and that version.
async fn preview_now(
    context: &PlanContext,
    acting: &Acting,
    plan: &LoadedPlan,
    previewed: StateChange<'static>,
) -> Result<(PlanPreview, i64), AppError> {
    let auth = &context.auth;
    let store = auth.store();
    let id = plan.id();
    let (snapshot, client, snapshot_id) = match plan.row.snapshot_id {
        Some(snapshot_id) => {
            let snapshot = store.load_snapshot(snapshot_id).await?.ok_or_else(|| {
                refused(format!(
                    "plan {id} is drafted on snapshot {snapshot_id}, which is gone"
                ))
            })?;
            (snapshot, None, snapshot_id)
        }
        None => {
            let connection = plan
                .connection()
                .ok_or_else(|| refused(format!("plan {id} has neither a snapshot nor a connection")))?;
            let (snapshot, client) = fresh_state(auth, connection).await?;
            let stored = snapshots::store(auth, &acting.actor, &snapshot).await?;
            (snapshot, Some(client), stored.snapshot.id)
        }
    };
    let preview = assess(&context.sandbox, &snapshot, client.as_ref(), &plan.planned()).await?;
    let rollout = match &plan.rollout {
        Some(rollout) => Some(rollouts::preview(&context.sandbox, &snapshot, rollout).await?),
        None => None,
    };
    let from_members: Vec<Option<String>> = preview.moves.iter().map(|m| m.from_member.clone()).collect();
    let text = serde_json::to_string(&preview).expect("a preview serializes");
    let written = PlanWrite {
        plan_id: id,
        now: context.now(),
        state: Some(StateChange {
            version: Some(plan.row.version),
            ..previewed
        }),
        preview: Some(PreviewWrite {
            preview: &text,
            snapshot_id,
            from_members: &from_members,
            rollout: rollout
                .as_ref()
                .map(|(live, impact)| (live.as_str(), impact.as_str())),
        }),
        ..PlanWrite::default()
    };
    let detail = json!({
        "snapshot_id": snapshot_id,
        "snapshot_hash": preview.snapshot_hash,
        "verdicts": preview.moves.iter().map(|m| m.verdict.as_str()).collect::<Vec<_>>(),
        "version": plan.row.version + 1,
    });
    let version = write(
        store,
        &written,
        &context.entry(acting, id, AuditKind::PlanPreviewed, detail),
    )
    .await?;
    Ok((preview, version))
}
