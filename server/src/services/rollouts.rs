//! Rollout plans: a plan whose one step sets a scriptlet revision on its connection's cluster
//! (`PATCH /1.0` with `instances.placement.scriptlet`), reviewed, approved and executed like any
//! plan. Its preview attaches the impact replay of the cluster's live scriptlet against the
//! revision (scenario `new`, every instance); its execution keeps the cluster's scriptlet as it
//! was as a revision of the same scriptlet, so the reverse plan restores it.
//!
//! `plans/` keeps the plan's life (states, review, audit) and the step's staleness
//! (`crate::plans::rollout_changes_since`); this module adds what is particular to the step:
//! the revision it sets, its preview, its view and its reverse.

use berth_app::types::{ImpactView, RolloutSpec, RolloutView};
use berth_core::engine::IncusVersion;
use berth_core::impact::{Scenario, Scope};
use berth_core::Snapshot;

use super::impact::ImpactAnswer;
use crate::db::{PlanRolloutRow, RevisionRow, Store};
use crate::error::AppError;
use crate::impact::Replay;
use crate::plans::live_scriptlet;
use crate::sandbox::{JobSnapshot, Sandbox};

/// The revision a new rollout plan sets.
pub(super) async fn revision(store: &Store, spec: &RolloutSpec) -> Result<RevisionRow, AppError> {
    store
        .revision(spec.scriptlet, spec.revision)
        .await?
        .ok_or_else(|| {
            AppError::NotFound(format!(
                "scriptlet {} has no revision {}",
                spec.scriptlet, spec.revision
            ))
        })
}

/// What the review sees of the rollout on the preview's `snapshot`: the cluster's scriptlet
/// (another one at execution supersedes the plan) and the impact replay of it against the
/// revision, as JSON; stored with the plan's preview.
pub(super) async fn preview(
    sandbox: &Sandbox,
    snapshot: &Snapshot,
    rollout: &PlanRolloutRow,
) -> Result<(String, String), AppError> {
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
        coverage: false,
    };
    let impact = replay.run(sandbox, |_| {}).await?;
    let impact = serde_json::to_string(&ImpactAnswer::of(&impact)).expect("a replay serializes");
    Ok((live, impact))
}

/// The step as shown.
pub(super) async fn view(
    store: &Store,
    rollout: Option<PlanRolloutRow>,
) -> Result<Option<RolloutView>, AppError> {
    let Some(row) = rollout else {
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
