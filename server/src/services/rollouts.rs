//! Rollout plans: a plan whose one step sets a scriptlet revision on its connection's cluster
//! (`PATCH /1.0` with `instances.placement.scriptlet`), reviewed, approved and executed like any
//! plan. Its preview attaches the impact replay of the cluster's live scriptlet against the
//! revision (scenario `new`, every instance); its execution keeps the cluster's scriptlet as it
//! was as a revision of the same scriptlet, so the reverse plan restores it.
//!
//! `plans.rs` keeps the plan's life (states, review, audit); this module adds what is particular
//! to the step: creating it, its preview and staleness, its view and its reverse.

use berth_app::types::{ImpactView, RolloutSpec, RolloutView};
use berth_core::engine::IncusVersion;
use berth_core::impact::{Scenario, Scope};
use berth_core::Snapshot;

use super::impact::ImpactAnswer;
use super::plans::PlanContext;
use crate::db::{NewPlanRow, PlanRolloutRow, Store};
use crate::error::AppError;
use crate::impact::Replay;
use crate::sandbox::JobSnapshot;

/// Creates the plan's row with its rollout step; its id.
pub(super) async fn insert(
    store: &Store,
    plan: &NewPlanRow<'_>,
    spec: &RolloutSpec,
) -> Result<i64, AppError> {
    let revision = store
        .revision(spec.scriptlet, spec.revision)
        .await?
        .ok_or_else(|| {
            AppError::NotFound(format!(
                "scriptlet {} has no revision {}",
                spec.scriptlet, spec.revision
            ))
        })?;
    Ok(store
        .insert_rollout_plan(plan, spec.scriptlet, spec.revision, &revision.source)
        .await?)
}

/// The cluster's scriptlet in a snapshot (empty: none, Incus's default placement).
pub(crate) fn live_scriptlet(snapshot: &Snapshot) -> String {
    snapshot
        .server
        .placement_scriptlet()
        .unwrap_or_default()
        .to_owned()
}

/// Attaches to the review what the rollout would change: the impact replay of the cluster's
/// scriptlet against the revision on the fresh `snapshot`, and that scriptlet itself (another
/// one at execution supersedes the plan).
pub(super) async fn preview(
    context: &PlanContext,
    snapshot: &Snapshot,
    rollout: &PlanRolloutRow,
) -> Result<(), AppError> {
    let live = live_scriptlet(snapshot);
    let json = snapshot.to_json();
    let hash = snapshot.content_hash();
    let replay = Replay {
        snapshot,
        job_snapshot: JobSnapshot::new(&hash, &json),
        version: snapshot.incus_version().parse().unwrap_or(IncusVersion::DEFAULT),
        from: &live,
        to: &rollout.source,
        scenario: Scenario::New,
        scope: Scope::All,
    };
    let impact = replay.run(&context.sandbox, |_| {}).await?;
    let impact = serde_json::to_string(&ImpactAnswer::of(&impact)).expect("a replay serializes");
    context
        .auth
        .store()
        .set_rollout_preview(rollout.plan_id, &live, &impact)
        .await?;
    Ok(())
}

/// Why a rollout's preview no longer holds on `fresh`: the cluster's scriptlet changed since.
pub(crate) fn changes_since(rollout: &PlanRolloutRow, fresh: &Snapshot) -> Option<String> {
    let live = live_scriptlet(fresh);
    match &rollout.live_at_preview {
        Some(previewed) if *previewed != live => Some(
            "the cluster's placement scriptlet changed since the preview (instances.placement.scriptlet)"
                .into(),
        ),
        _ => None,
    }
}

/// The step as shown.
pub(super) async fn view(store: &Store, plan_id: i64) -> Result<Option<RolloutView>, AppError> {
    let Some(row) = store.plan_rollout(plan_id).await? else {
        return Ok(None);
    };
    let scriptlet_name = store
        .scriptlet(row.scriptlet_id)
        .await?
        .map(|scriptlet| scriptlet.name)
        .unwrap_or_default();
    Ok(Some(RolloutView {
        scriptlet: row.scriptlet_id,
        scriptlet_name,
        revision: row.revision,
        state: row.state,
        error: row.detail,
        previous_revision: row.previous_revision,
        impact: row
            .impact
            .and_then(|text| serde_json::from_str::<ImpactView>(&text).ok()),
    }))
}

/// The reverse of a finished rollout: the revision that holds the cluster's scriptlet as it was.
/// `None` unless the rollout succeeded.
pub(super) fn reverse(rollout: &PlanRolloutRow) -> Option<RolloutSpec> {
    match (rollout.state.as_str(), rollout.previous_revision) {
        ("succeeded", Some(previous)) => Some(RolloutSpec {
            scriptlet: rollout.scriptlet_id,
            revision: previous,
        }),
        _ => None,
    }
}
