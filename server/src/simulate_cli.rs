//! `berth simulate`: the scriptlet calls Incus would make for operations on a snapshot, and
//! their outcome, as one JSON document: a stable contract for other tools and CI.

use anyhow::Context;
use berth_core::engine::IncusVersion;
use berth_core::simulate::{Mode, Operation};
use berth_core::Snapshot;
use sha2::{Digest, Sha256};

use crate::sandbox::{JobSnapshot, Sandbox, SandboxArgs, SimulationArgs};

#[derive(Debug, Clone, clap::Args)]
pub struct SimulateArgs {
    /// The snapshot file (`berth snapshot capture` or `export`).
    #[arg(long)]
    pub snapshot: std::path::PathBuf,
    /// The placement scriptlet; without it, Incus's default placement (no calls).
    #[arg(long)]
    pub scriptlet: Option<std::path::PathBuf>,
    /// The Incus version to imitate; default: the snapshot's.
    #[arg(long)]
    pub incus_version: Option<IncusVersion>,
    #[arg(long, value_enum, default_value_t = ModeArg::Upstream)]
    pub mode: ModeArg,
    /// An operation as JSON (repeat for a sequence; each sees the effects of the previous):
    /// {"kind":"create","project":P,"name":N,"target":T,…}, {"kind":"move","project":P,"name":N,
    /// "target_project":P2,"target":T}, {"kind":"evacuate","member":M}, {"kind":"restore","member":M}.
    #[arg(long = "op", required = true)]
    pub operations: Vec<String>,
    #[command(flatten)]
    pub sandbox: SandboxArgs,
    #[command(flatten)]
    pub simulation: SimulationArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ModeArg {
    Upstream,
    Corrected,
}

/// The version given, else the one the snapshot file reports. Never silently the default: a
/// prediction for the wrong version is worse than none.
pub(crate) fn version_of(
    given: Option<IncusVersion>,
    snapshot: &Snapshot,
    file: &std::path::Path,
) -> anyhow::Result<IncusVersion> {
    match given {
        Some(version) => Ok(version),
        None => snapshot.incus_version().parse().map_err(|_| {
            anyhow::anyhow!(
                "{} reports Incus version {:?}, which Berth cannot read; pass --incus-version",
                file.display(),
                snapshot.incus_version()
            )
        }),
    }
}

/// Exit 0 with the simulation on stdout; 1 when the scriptlet does not compile.
pub async fn simulate(args: SimulateArgs) -> anyhow::Result<u8> {
    let text = std::fs::read_to_string(&args.snapshot)
        .with_context(|| format!("cannot read {}", args.snapshot.display()))?;
    let snapshot = Snapshot::from_json(&text)
        .with_context(|| format!("{} is not a usable snapshot", args.snapshot.display()))?;
    let source = match &args.scriptlet {
        Some(path) => {
            std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?
        }
        None => String::new(),
    };
    let operations = args
        .operations
        .iter()
        .map(|text| {
            serde_json::from_str::<Operation>(text).with_context(|| format!("not an operation: {text}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let version = version_of(args.incus_version, &snapshot, &args.snapshot)?;
    let mode = match args.mode {
        ModeArg::Upstream => Mode::Upstream,
        ModeArg::Corrected => Mode::Corrected,
    };
    let program = std::env::current_exe().context("cannot find the berth executable")?;
    let sandbox = Sandbox::new(args.sandbox.config_with(program, &args.simulation));
    // Any name for the content will do: this worker sees one snapshot.
    let hash = hex::encode(Sha256::digest(text.as_bytes()));
    match sandbox
        .simulate(
            JobSnapshot::new(&hash, &text),
            &source,
            version,
            mode,
            &operations,
        )
        .await?
    {
        Ok(simulation) => {
            println!("{}", serde_json::to_string_pretty(&simulation)?);
            Ok(0)
        }
        Err(error) => {
            let file = args
                .scriptlet
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            eprintln!("{}", error.to_line(&file));
            Ok(1)
        }
    }
}
