//! The command line. Every option can also come from a `BERTH_*` environment variable.
//!
//! Each command's arguments live in its own module (`serve`, `check`, `simulate_cli`, `impact_cli`,
//! `snapshot_cli`, `user_cli`, `sandbox::worker`); option groups several commands share live with what they
//! configure (`sandbox::SandboxArgs`, `db::StoreArgs`). This module only lists the commands and
//! dispatches, so it depends on the commands and never the other way round.

use clap::{Parser, Subcommand, ValueEnum};

use crate::check::CheckArgs;
use crate::connection_cli::ConnectionCommand;
use crate::decisions_cli::DecisionsCommand;
use crate::fuzz_cli::FuzzArgs;
use crate::impact_cli::ImpactArgs;
use crate::plan_cli::PlanCommand;
use crate::sandbox::worker::WorkerArgs;
use crate::serve::ServeArgs;
use crate::simulate_cli::SimulateArgs;
use crate::snapshot_cli::SnapshotCommand;
use crate::store_cli::StoreCommand;
use crate::user_cli::UserCommand;

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
    Serve(Box<ServeArgs>),
    /// Check a placement scriptlet as Incus would when it is set: exit 0 when Incus would
    /// accept it, 1 when it would refuse it, 2 on usage or IO errors. Errors are printed as
    /// FILE:LINE:COL: message, fidelity warnings as FILE:LINE:COL: warning: message.
    Check(CheckArgs),
    /// Predict the scriptlet calls Incus makes for operations on a snapshot, and their outcome.
    Simulate(SimulateArgs),
    /// Replay two scriptlet revisions over a snapshot's instances: the decisions that change,
    /// then `N instances, C changed, E new errors`.
    Impact(ImpactArgs),
    /// Fuzz a placement scriptlet with calls from a snapshot's cluster, steered by its
    /// coverage: exit 0 when nothing was found, 1 when failures were (each shrunk to a small
    /// call; `--out` writes them as golden cases), 2 on usage errors.
    Fuzz(FuzzArgs),
    /// Capture, import, export and list cluster snapshots.
    Snapshot {
        #[command(subcommand)]
        command: SnapshotCommand,
    },
    /// Configure the clusters Berth connects to: add, list, remove, rekey (their client keys).
    Connection {
        #[command(subcommand)]
        command: ConnectionCommand,
    },
    /// The decision log: the placements the cluster made, beside Berth's predictions: list,
    /// tail, replay against another revision.
    Decisions {
        #[command(subcommand)]
        command: DecisionsCommand,
    },
    /// Migration plans: create, preview, submit, approve, execute, status, reverse, list.
    Plan {
        #[command(subcommand)]
        command: PlanCommand,
    },
    /// Move a deployment between databases: `berth store copy --from URL --to URL`.
    Store {
        #[command(subcommand)]
        command: StoreCommand,
    },
    /// Manage Berth's accounts: add, list, set-role, passwd.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Run scriptlets for a Berth server (started by it; reads jobs on stdin).
    #[command(hide = true)]
    Worker(WorkerArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only on a terminal: a log redirected to a file (or journald) stays greppable.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
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
            runtime.block_on(crate::serve::serve(*args))?;
            Ok(0)
        }
        Command::Connection { command } => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(crate::connection_cli::run(command))
        }
        // Several threads: a replay's simulations come back from the workers side by side.
        Command::Decisions { command } => {
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            runtime.block_on(crate::decisions_cli::run(command))
        }
        // Several threads: the executor's lease heartbeat runs beside the moves.
        Command::Plan { command } => {
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            runtime.block_on(crate::plan_cli::run(command))
        }
        Command::Store { command } => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(crate::store_cli::run(command))?;
            Ok(0)
        }
        Command::User { command } => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(crate::user_cli::run(command))?;
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
        // Several threads: shards arrive from the workers while the replay adds them up.
        Command::Impact(args) => {
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            runtime.block_on(crate::impact_cli::impact(args))
        }
        Command::Fuzz(args) => {
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            runtime.block_on(crate::fuzz_cli::fuzz(args))
        }
        Command::Check(args) => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(crate::check::check(args))
        }
        // No async runtime in a worker: one thread, and its memory is the scriptlet's.
        Command::Worker(args) => {
            crate::sandbox::worker::run(args)?;
            Ok(0)
        }
    }
}

#[cfg(test)]
mod tests {
    use berth_core::engine::IncusVersion;
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
        assert_eq!(args.simulation.simulation_time_limit_ms, 60_000);
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
    fn simulate_takes_a_simulation_budget() {
        let cli = Cli::try_parse_from([
            "berth",
            "simulate",
            "--snapshot",
            "s.json",
            "--op",
            "{}",
            "--simulation-time-limit-ms",
            "1500",
        ])
        .unwrap();
        let Command::Simulate(args) = cli.command else {
            panic!("not simulate")
        };
        assert_eq!(args.simulation.simulation_time_limit_ms, 1500);
    }

    #[test]
    fn the_store_options_are_the_same_everywhere() {
        for command in [
            vec!["berth", "serve"],
            vec!["berth", "snapshot", "list"],
            vec!["berth", "snapshot", "import", "x.json"],
            vec!["berth", "snapshot", "export", "latest"],
            vec!["berth", "user", "list"],
            vec!["berth", "user", "set-role", "alice", "viewer"],
            vec!["berth", "connection", "list"],
            vec!["berth", "connection", "rekey"],
            vec!["berth", "connection", "set", "lab", "--decision-log", "on"],
            vec!["berth", "decisions", "list", "--connection", "lab"],
            vec!["berth", "decisions", "tail"],
            vec!["berth", "decisions", "replay", "--revision", "4/3"],
        ] {
            let mut with_dir = command.clone();
            with_dir.extend(["--data-dir", "/tmp/elsewhere"]);
            Cli::try_parse_from(&with_dir).unwrap_or_else(|e| panic!("{command:?}: {e}"));
            let mut with_database = command.clone();
            with_database.extend(["--database", "postgres://berth@db.example/berth"]);
            Cli::try_parse_from(&with_database).unwrap_or_else(|e| panic!("{command:?}: {e}"));
        }
    }

    #[test]
    fn every_command_that_handles_client_keys_takes_the_key_file() {
        for command in [
            vec!["berth", "serve"],
            vec!["berth", "connection", "add", "lab", "--remote", "unix:///x"],
            vec!["berth", "connection", "list"],
            vec!["berth", "connection", "remove", "lab"],
            vec!["berth", "connection", "rekey", "--new-key-file", "/tmp/next.key"],
            vec!["berth", "plan", "list"],
            vec!["berth", "plan", "preview", "1", "--as", "alice"],
        ] {
            let mut with_key = command.clone();
            with_key.extend(["--secret-key-file", "/etc/berth/secret.key"]);
            Cli::try_parse_from(&with_key).unwrap_or_else(|e| panic!("{command:?}: {e}"));
        }
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
            "--simulation-time-limit-ms",
            "BERTH_SIMULATION_TIME_LIMIT_MS",
            "--secret-key-file",
            "BERTH_SECRET_KEY_FILE",
        ] {
            assert!(help.contains(option), "`berth serve --help` lacks {option}");
        }
    }
}
