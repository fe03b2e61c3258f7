//! The sandbox's command-line options, shared by the commands that run scriptlets.

use std::path::PathBuf;
use std::time::Duration;

use super::{Confinement, SandboxConfig};

/// Bounds on scriptlets, which Incus itself does not have.
#[derive(Debug, Clone, clap::Args)]
pub struct SandboxArgs {
    /// Wall time one scriptlet compilation or evaluation may take (each placement call of a
    /// simulation has its own).
    #[arg(long, env = "BERTH_SCRIPTLET_TIME_LIMIT_MS", default_value_t = 2000)]
    pub scriptlet_time_limit_ms: u64,

    /// Memory a scriptlet worker process's data may take (its heap and stacks: `RLIMIT_DATA`;
    /// code and reserved address space are not counted).
    #[arg(long, env = "BERTH_SCRIPTLET_MEMORY_MB", default_value_t = 1024)]
    pub scriptlet_memory_mb: u64,

    /// Starlark steps (calls and loop iterations) per compilation or evaluation.
    #[arg(long, env = "BERTH_SCRIPTLET_MAX_STEPS", default_value_t = 10_000_000)]
    pub scriptlet_max_steps: u64,

    /// Scriptlet worker processes that may run at once.
    #[arg(long, env = "BERTH_SCRIPTLET_WORKERS", default_value_t = 2)]
    pub scriptlet_workers: usize,

    /// `required`: a scriptlet worker whose seccomp filter the kernel refuses does not run (and
    /// `serve` does not start); `best-effort`: it runs with what the kernel enforces. Either
    /// way, each layer the kernel lacks is named in the log.
    #[arg(long, env = "BERTH_SANDBOX_CONFINEMENT", value_enum, default_value_t = Confinement::Required)]
    pub sandbox_confinement: Confinement,
}

/// The workers kept for plans, apart from the authors' (`serve`, `berth plan`).
#[derive(Debug, Clone, clap::Args)]
pub struct PlanSandboxArgs {
    /// Scriptlet worker processes for plan previews and the executor, besides
    /// `--scriptlet-workers` (the authors' sandbox runs, simulations and impact replays), so
    /// that those can never hold up an execution.
    #[arg(long, env = "BERTH_PLAN_WORKERS", default_value_t = 1)]
    pub plan_workers: usize,
}

/// The bound on a whole simulation, for the commands that simulate.
#[derive(Debug, Clone, clap::Args)]
pub struct SimulationArgs {
    /// Wall time a whole simulation (all its placement calls) may take; a simulation that
    /// spends it stops before its next call and says so.
    #[arg(long, env = "BERTH_SIMULATION_TIME_LIMIT_MS", default_value_t = 60_000)]
    pub simulation_time_limit_ms: u64,
}

impl SandboxArgs {
    pub fn config(&self, program: PathBuf) -> SandboxConfig {
        let mut config = SandboxConfig::new(program);
        config.workers = self.scriptlet_workers;
        config.time_limit = Duration::from_millis(self.scriptlet_time_limit_ms);
        config.memory_bytes = self.scriptlet_memory_mb << 20;
        config.confinement = self.sandbox_confinement;
        config.limits.max_steps = self.scriptlet_max_steps;
        // The Starlark heap stays well inside the process limit, so the engine's own, clearer
        // error fires first whenever it can.
        config.limits.max_heap_bytes = ((self.scriptlet_memory_mb << 20) / 4) as usize;
        config
    }

    /// [`SandboxArgs::config`] for a command that also simulates.
    pub fn config_with(&self, program: PathBuf, simulation: &SimulationArgs) -> SandboxConfig {
        let mut config = self.config(program);
        config.simulation_budget = Duration::from_millis(simulation.simulation_time_limit_ms);
        config
    }
}
