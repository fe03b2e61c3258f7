//! The server's two pools of workers. Authors' sandbox runs, simulations and impact replays
//! share one; plan previews and the executor have their own, so that authors filling every
//! worker of theirs (a replay of a large cluster, a slow scriptlet run many times) can never
//! delay a plan's preview or an execution's staleness check.

use std::sync::Arc;

use super::pool::SandboxError;
use super::{ConfinementReport, Sandbox, SandboxConfig};

pub struct SandboxPools {
    /// `--scriptlet-workers`: whatever an author or a viewer starts.
    pub authors: Arc<Sandbox>,
    /// `--plan-workers`: plan previews and the executor.
    pub plans: Arc<Sandbox>,
}

impl SandboxPools {
    /// Two pools of the same limits: `config.workers` for authors, `plan_workers` for plans.
    pub fn new(config: SandboxConfig, plan_workers: usize) -> SandboxPools {
        let plans = SandboxConfig {
            workers: plan_workers,
            ..config.clone()
        };
        SandboxPools {
            authors: Arc::new(Sandbox::named(config, "authors")),
            plans: Arc::new(Sandbox::named(plans, "plans")),
        }
    }

    /// Starts a worker in each pool now ([`Sandbox::start`]); the confinement they report.
    pub async fn start(&self) -> Result<ConfinementReport, SandboxError> {
        self.plans.start().await?;
        self.authors.start().await
    }
}
