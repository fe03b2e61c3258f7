//! What the Plans pages, `/api/v1/plans` and `berth plan status` show: the list, one plan (with
//! its version and contributors: what a reviewer approves), its timeline, and the builder's
//! choices (any stored snapshot, or the newest capture of a connection).

use berth_app::types::{
    AuditEntryView, BuilderInstance, CommentView, ExcludedView, IncusCallView, LoadView, PlanBuilderSetup,
    PlanMoveView, PlanSummary, PlanView, PreviewStamp,
};
use berth_core::access::Role;
use berth_core::plan::preview::MovePreview;
use berth_core::plan::PlanState;

use crate::audit::AuditKind;
use crate::clock::rfc3339;
use crate::db::{PlanMoveRow, PlanRow, Store};
use crate::error::AppError;
use crate::plans::{self, preview_of, subject};
use crate::services::{rollouts, snapshots};

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
    let plan = plans::load(store, id).await?;
    let row = &plan.row;
    let preview = plan.preview();
    let approvals = store.plan_approvals(id).await?;
    let mut contributors: Vec<String> = Vec::new();
    for contributor in store.plan_contributors(id).await? {
        if !contributors.contains(&contributor.username) {
            contributors.push(contributor.username);
        }
    }
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
    let previewed: Vec<Option<&MovePreview>> = (0..plan.moves.len())
        .map(|index| preview.as_ref().and_then(|preview| preview.moves.get(index)))
        .collect();
    Ok(PlanView {
        id: row.id,
        state: row.state.clone(),
        version: row.version,
        moves: plan
            .moves
            .iter()
            .zip(previewed)
            .map(|(row, previewed)| move_view(row, previewed))
            .collect(),
        name: row.name.clone(),
        connection: row.connection.clone(),
        snapshot_id: row.snapshot_id,
        author: row.author.clone(),
        contributors,
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
        interrupted: interruption(store, row).await?,
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
        rollout: rollouts::view(store, plan.rollout.clone()).await?,
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

/// The plan's audit trail, oldest first. Client addresses are for admins (who read the whole
/// audit log anyway): a plan's reviewers see who did what and when, not from where.
pub async fn timeline(store: &Store, id: i64, reader: Role) -> Result<Vec<AuditEntryView>, AppError> {
    store
        .plan(id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("there is no plan {id}")))?;
    Ok(store
        .audit_of_subject(&subject(id))
        .await?
        .into_iter()
        .map(super::super::accounts::audit_view)
        .map(|mut entry| {
            if reader != Role::Admin {
                entry.address = None;
            }
            entry
        })
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

/// The instances a plan can be built from: stored snapshot `snapshot` when given, else the
/// newest capture of `connection` (default: the first connection), else the newest snapshot
/// (the demo on a fresh `make run`).
pub async fn builder(
    store: &Store,
    connection: Option<String>,
    snapshot: Option<i64>,
) -> Result<PlanBuilderSetup, AppError> {
    let connections = store.list_connections().await?;
    let stored_snapshots = store.list_snapshots().await?;
    let chosen_connection = match connection.filter(|name| !name.is_empty()) {
        Some(name) => Some(
            connections
                .iter()
                .find(|record| record.name == name)
                .ok_or_else(|| AppError::NotFound(format!("there is no connection {name:?}")))?,
        ),
        None if snapshot.is_none() => connections.first(),
        None => None,
    };
    let mut setup = PlanBuilderSetup {
        connections: connections.iter().map(|record| record.name.clone()).collect(),
        connection: chosen_connection.map(|record| record.name.clone()),
        snapshots: snapshots::list(store).await?,
        snapshot_id: None,
        instances: Vec::new(),
        projects: Vec::new(),
        members: Vec::new(),
        groups: Vec::new(),
        scriptlets: super::super::impact::scriptlet_choices(store).await?,
    };
    let basis = match (snapshot, chosen_connection) {
        (Some(id), _) => Some(id),
        // A capture is named "SERVER (REMOTE)" (`capture.rs`); its source says the remote.
        (None, Some(chosen)) => stored_snapshots
            .iter()
            .find(|row| row.source_kind == "capture" && row.name.ends_with(&format!(" ({})", chosen.remote)))
            .map(|row| row.id),
        (None, None) => stored_snapshots.first().map(|row| row.id),
    };
    let Some(basis) = basis else {
        return Ok(setup);
    };
    let snapshot = store
        .load_snapshot(basis)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("there is no snapshot {basis}")))?;
    setup.snapshot_id = Some(basis);
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
