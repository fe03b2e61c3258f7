//! Impact replays as the server runs them (`berth impact`, `POST /api/v1/impact`, the Impact
//! page): the selected instances split into shards (`berth_core::impact::shards`), each shard
//! replayed under both revisions in a sandbox worker (the workers keep the snapshot prepared
//! and the revisions compiled between shards), the shards added up as they arrive, progress
//! reported after each. Dropping the future cancels the replay: the workers running its shards
//! are killed with it. The replay's errors are scrubbed of the snapshot's secret values before
//! it is answered or stored (a scriptlet's `fail(…)` may quote any config value).

use berth_core::coverage::Coverage;
use berth_core::engine::{Diagnostic, IncusVersion};
use berth_core::impact::{shards, Impact, Scenario, Scope};
use berth_core::Snapshot;
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use crate::sandbox::pool::SandboxError;
use crate::sandbox::protocol::RevisionError;
use crate::sandbox::{JobSnapshot, Sandbox};

/// What to replay: the snapshot, the two revisions' texts (empty: Incus's default placement),
/// the scenario and the instances.
pub struct Replay<'a> {
    pub snapshot: &'a Snapshot,
    /// The same snapshot as the workers receive it.
    pub job_snapshot: JobSnapshot<'a>,
    pub version: IncusVersion,
    pub from: &'a str,
    pub to: &'a str,
    pub scenario: Scenario,
    pub scope: Scope,
    /// Count the `to` revision's lines (see [`Replay::run_covered`]).
    pub coverage: bool,
}

/// How far a replay is: shards and instances done of all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    pub shards_done: usize,
    pub shards: usize,
    pub instances_done: usize,
    pub instances: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// A revision does not compile (or killed its worker).
    #[error("the {revision} revision: {}", diagnostic.message)]
    Revision {
        revision: String,
        diagnostic: Diagnostic,
    },
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
}

impl From<RevisionError> for ReplayError {
    fn from(error: RevisionError) -> ReplayError {
        ReplayError::Revision {
            revision: error.revision,
            diagnostic: error.diagnostic,
        }
    }
}

/// Shards per worker: enough for the workers to finish together and for progress to move.
const SHARDS_PER_WORKER: usize = 8;
/// Bounds of a shard's size: a shard is one job (one round trip, one reply to parse).
const SHARD_SIZE: std::ops::RangeInclusive<usize> = 16..=1_000;

impl Replay<'_> {
    /// Runs the replay on `sandbox`'s workers, calling `progress` after each shard.
    pub async fn run(
        &self,
        sandbox: &Sandbox,
        progress: impl FnMut(Progress),
    ) -> Result<Impact, ReplayError> {
        Ok(self.run_covered(sandbox, progress).await?.0)
    }

    /// [`Replay::run`], with the `to` revision's coverage over every shard when
    /// [`Replay::coverage`] is set.
    pub async fn run_covered(
        &self,
        sandbox: &Sandbox,
        mut progress: impl FnMut(Progress),
    ) -> Result<(Impact, Option<Coverage>), ReplayError> {
        let workers = sandbox.config().workers.max(1);
        let selected = self
            .snapshot
            .instances
            .iter()
            .filter(|instance| self.scope.selects(instance))
            .count();
        let size = selected
            .div_ceil(workers * SHARDS_PER_WORKER)
            .clamp(*SHARD_SIZE.start(), *SHARD_SIZE.end());
        let shards = shards(self.snapshot, &self.scope, self.scenario, size);
        let mut impact = Impact::new(self.snapshot, self.scenario, self.scope.clone());
        let mut done = Progress {
            shards_done: 0,
            shards: shards.len(),
            instances_done: 0,
            instances: selected,
        };
        progress(done);
        // Owned shards: a closure over borrowed ones would not be `Send` for every lifetime.
        let mut replayed = futures::stream::iter(shards)
            .map(|shard| async move {
                let result = sandbox
                    .replay(
                        self.job_snapshot,
                        self.from,
                        self.to,
                        self.version,
                        self.scenario,
                        &shard,
                        self.coverage,
                    )
                    .await;
                (shard.len(), result)
            })
            // The sandbox's own limit holds them to its workers; more in flight only queue.
            .buffer_unordered(workers);
        let mut coverage: Option<Coverage> = None;
        while let Some((instances, result)) = replayed.next().await {
            let replayed = result??;
            impact.add(replayed.shard);
            if let Some(shard) = replayed.coverage {
                coverage.get_or_insert_with(Coverage::default).merge(&shard);
            }
            done.shards_done += 1;
            done.instances_done += instances;
            progress(done);
        }
        impact.scrub_secrets(&self.snapshot.secret_values());
        Ok((impact, coverage))
    }
}
