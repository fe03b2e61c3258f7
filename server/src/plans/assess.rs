//! A preview of moves on a snapshot: the corrected simulation of the cluster's own scriptlet in
//! a sandbox worker (no scriptlet runs in this process), read by `berth_core::plan::preview`.

use std::collections::BTreeSet;

use berth_core::engine::IncusVersion;
use berth_core::plan::preview::{self, MovePreview, PlanPreview, Verdict};
use berth_core::plan::PlannedMove;
use berth_core::simulate::{BehaviourProfile, Mode, Outcome, Simulation};
use berth_core::Snapshot;

use crate::error::AppError;
use crate::incus::{api_path, IncusClient};
use crate::sandbox::{JobSnapshot, Sandbox};

/// The preview of `moves` on `snapshot`. With the cluster's `client` (a fresh capture), the
/// instances' backups are asked too: snapshots do not hold them, and they block a move.
pub async fn assess(
    sandbox: &Sandbox,
    snapshot: &Snapshot,
    client: Option<&IncusClient>,
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
            profile: BehaviourProfile::of(version),
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
    let backups = match client {
        Some(client) => with_backups(client, moves).await,
        None => BTreeSet::new(),
    };
    Ok(preview::assess(snapshot, moves, &simulation, &backups))
}

/// Which of the moves' instances have backups (`GET /1.0/instances/NAME/backups`): Incus
/// refuses to move such an instance to another member.
async fn with_backups(client: &IncusClient, moves: &[PlannedMove]) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for planned in moves {
        let path = api_path(
            &["instances", &planned.name, "backups"],
            &[("project", &planned.project)],
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

/// Why a move is blocked in its preview, in words; `None` when it is not.
pub fn blocked_reason(preview: &MovePreview) -> Option<String> {
    (preview.verdict == Verdict::Blocked).then(|| preview.reasons.join("; "))
}
