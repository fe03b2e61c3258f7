//! The command line. Every option can also come from a `BERTH_*` environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;

use berth_core::engine::IncusVersion;
use clap::{Parser, Subcommand, ValueEnum};

use crate::sandbox::SandboxConfig;

/// Berth: author, preview and safely execute Incus placement decisions.
#[derive(Debug, Parser)]
#[command(name = "berth", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Log format on stderr. Verbosity is set with `RUST_LOG` (default: `info`).
    #[arg(long, env = "BERTH_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the web UI and API.
    Serve(ServeArgs),
    /// Check a placement scriptlet as Incus would when it is set: exit 0 when Incus would
    /// accept it, 1 when it would refuse it, 2 on usage or IO errors. Errors are printed as
    /// FILE:LINE:COL: message, fidelity warnings as FILE:LINE:COL: warning: message.
    Check(CheckArgs),
    /// Predict the scriptlet calls Incus makes for operations on a snapshot, and their outcome.
    Simulate(crate::simulate_cli::SimulateArgs),
    /// Capture, import, export and list cluster snapshots.
    Snapshot {
        #[command(subcommand)]
        command: crate::snapshot_cli::SnapshotCommand,
    },
    /// Run scriptlets for a Berth server (started by it; reads jobs on stdin).
    #[command(hide = true)]
    Worker(WorkerArgs),
}

#[derive(Debug, Clone, clap::Args)]
pub struct CheckArgs {
    /// The scriptlet file (Starlark).
    pub scriptlet: PathBuf,

    /// The Incus version whose validation to apply (dialect, builtins).
    #[arg(long, env = "BERTH_INCUS_VERSION", default_value = "6.0.4")]
    pub incus_version: IncusVersion,

    /// Print the result as one JSON document on stdout instead of lines on stderr.
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub sandbox: SandboxArgs,
}

/// Bounds on scriptlets, which Incus itself does not have.
#[derive(Debug, Clone, clap::Args)]
pub struct SandboxArgs {
    /// Wall time one scriptlet compilation or evaluation may take.
    #[arg(long, env = "BERTH_SCRIPTLET_TIME_LIMIT_MS", default_value_t = 2000)]
    pub scriptlet_time_limit_ms: u64,

    /// Memory (address space) of a scriptlet worker process.
    #[arg(long, env = "BERTH_SCRIPTLET_MEMORY_MB", default_value_t = 1024)]
    pub scriptlet_memory_mb: u64,

    /// Starlark steps (calls and loop iterations) per compilation or evaluation.
    #[arg(long, env = "BERTH_SCRIPTLET_MAX_STEPS", default_value_t = 10_000_000)]
    pub scriptlet_max_steps: u64,

    /// Scriptlet worker processes that may run at once.
    #[arg(long, env = "BERTH_SCRIPTLET_WORKERS", default_value_t = 2)]
    pub scriptlet_workers: usize,
}

impl SandboxArgs {
    pub fn config(&self, program: PathBuf) -> SandboxConfig {
        let mut config = SandboxConfig::new(program);
        config.workers = self.scriptlet_workers;
        config.time_limit = std::time::Duration::from_millis(self.scriptlet_time_limit_ms);
        config.memory_bytes = self.scriptlet_memory_mb << 20;
        config.limits.max_steps = self.scriptlet_max_steps;
        // The Starlark heap stays well inside the process limit, so the engine's own, clearer
        // error fires first whenever it can.
        config.limits.max_heap_bytes = ((self.scriptlet_memory_mb << 20) / 4) as usize;
        config
    }
}

#[derive(Debug, Clone, clap::Args)]
pub struct WorkerArgs {
    #[arg(long)]
    pub memory_bytes: u64,
    #[arg(long)]
    pub cpu_seconds: u64,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on. Berth has no TLS of its own: keep it on loopback or behind a proxy.
    #[arg(long, env = "BERTH_LISTEN", default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,

    /// Directory for Berth's data (the SQLite database `berth.db`); created if missing.
    #[arg(long, env = "BERTH_DATA_DIR", default_value = "berth-data")]
    pub data_dir: PathBuf,

    /// Load the built-in demo snapshot into the store (once; it is identified by its hash).
    #[arg(long, env = "BERTH_DEMO")]
    pub demo: bool,

    /// Directory with the built web assets (`pkg/berth.js`, …). Default: `site/` beside the
    /// executable, or `../site/` (the layout of a cargo target directory).
    #[arg(long, env = "BERTH_SITE_ROOT")]
    pub site_root: Option<PathBuf>,

    #[command(flatten)]
    pub sandbox: SandboxArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Runs a command; the result is the process's exit code.
pub fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Serve(args) => {
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            runtime.block_on(crate::serve::serve(args))?;
            Ok(0)
        }
        Command::Snapshot { command } => {
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            runtime.block_on(crate::snapshot_cli::run(command))?;
            Ok(0)
        }
        Command::Simulate(args) => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(crate::simulate_cli::simulate(args))
        }
        Command::Check(args) => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(crate::check::check(args))
        }
        // No async runtime in a worker: one thread, and its memory is the scriptlet's.
        Command::Worker(args) => {
            let limits = crate::sandbox::worker::WorkerLimits {
                memory_bytes: args.memory_bytes,
                cpu_seconds: args.cpu_seconds,
            };
            crate::sandbox::worker::run(limits)?;
            Ok(0)
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn verify_cli() {
        Cli::command().debug_assert();
    }

    #[test]
    fn serve_defaults_to_loopback() {
        let cli = Cli::try_parse_from(["berth", "serve"]).unwrap();
        let Command::Serve(args) = cli.command else {
            panic!("not serve")
        };
        assert!(args.listen.ip().is_loopback());
        assert!(!args.demo);
    }

    #[test]
    fn check_takes_a_file_and_a_version() {
        let cli =
            Cli::try_parse_from(["berth", "check", "x.star", "--incus-version", "6.0.5", "--json"]).unwrap();
        let Command::Check(args) = cli.command else {
            panic!("not check")
        };
        assert_eq!(args.incus_version, IncusVersion::new(6, 0, 5));
        assert!(args.json);
        assert!(Cli::try_parse_from(["berth", "check", "x.star", "--incus-version", "six"]).is_err());
    }

    #[test]
    fn help_documents_every_serve_option() {
        let help = Cli::command()
            .find_subcommand_mut("serve")
            .unwrap()
            .render_long_help()
            .to_string();
        for option in [
            "--listen",
            "--data-dir",
            "--demo",
            "--site-root",
            "BERTH_DATA_DIR",
        ] {
            assert!(help.contains(option), "`berth serve --help` lacks {option}");
        }
    }
}
