//! Whether a plan's preview still holds on a fresh capture of its cluster: what changed for
//! the moves still to run (`berth_core::plan::preview::changes_since`) and, for a rollout, the
//! cluster's scriptlet that the review compared the revision with.

use berth_core::plan::preview::{self, PlanPreview};
use berth_core::Snapshot;

use super::LoadedPlan;
use crate::db::PlanRolloutRow;

/// Why `plan`'s preview no longer holds on `fresh` for its moves from `from_index` on and its
/// rollout step; empty when it holds.
pub fn changes_since(
    plan: &LoadedPlan,
    preview: &PlanPreview,
    fresh: &Snapshot,
    from_index: usize,
) -> Vec<String> {
    let mut changes = preview::changes_since(preview, fresh, &plan.planned(), from_index);
    if let Some(rollout) = &plan.rollout {
        changes.extend(rollout_changes_since(rollout, fresh));
    }
    changes
}

/// The cluster's scriptlet in a snapshot (empty: none, Incus's default placement).
pub fn live_scriptlet(snapshot: &Snapshot) -> String {
    snapshot
        .server
        .placement_scriptlet()
        .unwrap_or_default()
        .to_owned()
}

/// Why a rollout's preview no longer holds on `fresh`: the cluster's scriptlet changed since.
pub fn rollout_changes_since(rollout: &PlanRolloutRow, fresh: &Snapshot) -> Option<String> {
    let live = live_scriptlet(fresh);
    match &rollout.live_at_preview {
        Some(previewed) if *previewed != live => Some(
            "the cluster's placement scriptlet changed since the preview (instances.placement.scriptlet)"
                .into(),
        ),
        _ => None,
    }
}
