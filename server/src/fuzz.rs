//! Fuzz campaigns as the server runs them (`berth fuzz`, `POST /api/v1/scriptlets/fuzz`): the
//! campaign's rounds one after the other, each round's batches on the sandbox workers (as
//! many at once as the pool has), merged in index order (`berth_core::fuzz::Campaign`), until
//! the time is up or a number of rounds has run. A round always runs to its end, so the time
//! is overrun by at most one round; a run given a number of rounds repeats exactly.
//!
//! No scriptlet code runs here: batches run in the workers, which keep the snapshot prepared,
//! the scriptlet compiled per version and the fuzz domain between batches. Dropping the
//! future cancels the campaign; the workers running its batches are killed with it.

use std::time::{Duration, Instant};

use berth_core::engine::Diagnostic;
use berth_core::fuzz::Campaign;
use futures::StreamExt;

use crate::sandbox::pool::SandboxError;
use crate::sandbox::{JobSnapshot, Sandbox};

/// What to fuzz: the snapshot as the workers receive it, the scriptlet, the Incus versions
/// (as written: `6.6`).
pub struct Fuzz<'a> {
    pub job_snapshot: JobSnapshot<'a>,
    pub source: &'a str,
    pub versions: &'a [String],
}

/// When a run stops: after this many more rounds, or once this much time has passed (the
/// round under way finishes first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    Rounds(u64),
    Elapsed(Duration),
}

#[derive(Debug, thiserror::Error)]
pub enum FuzzError {
    /// The scriptlet does not compile for a version, or a call killed its worker.
    #[error("{}", .0.message)]
    Scriptlet(Diagnostic),
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
}

/// The shortest budget a batch gets: enough for a batch of any reasonable scriptlet, so that
/// the last round of a timed run is not cut short (a batch cut short makes the run depend on
/// timing).
const MIN_BATCH_BUDGET: Duration = Duration::from_secs(5);

impl Fuzz<'_> {
    /// Runs rounds of `campaign` on `sandbox` until `until`, calling `progress` after each
    /// round with the time since the start.
    pub async fn run(
        &self,
        sandbox: &Sandbox,
        campaign: &mut Campaign,
        until: Until,
        mut progress: impl FnMut(&Campaign, Duration),
    ) -> Result<(), FuzzError> {
        let started = Instant::now();
        let first_round = campaign.rounds;
        let workers = sandbox.config().workers.max(1);
        loop {
            let budget = match until {
                Until::Rounds(rounds) if campaign.rounds - first_round >= rounds => break,
                Until::Elapsed(time) if started.elapsed() >= time => break,
                Until::Rounds(_) => sandbox.config().simulation_budget,
                Until::Elapsed(time) => time.saturating_sub(started.elapsed()).clamp(
                    MIN_BATCH_BUDGET,
                    sandbox.config().simulation_budget.max(MIN_BATCH_BUDGET),
                ),
            };
            let specs = campaign.round();
            let mut batches = futures::stream::iter(specs)
                .map(|spec| async move {
                    sandbox
                        .fuzz_batch(self.job_snapshot, self.source, self.versions, &spec, budget)
                        .await
                })
                .buffer_unordered(workers);
            let mut reports = Vec::new();
            while let Some(result) = batches.next().await {
                reports.push(result?.map_err(FuzzError::Scriptlet)?);
            }
            campaign.absorb(reports);
            progress(campaign, started.elapsed());
        }
        Ok(())
    }
}
