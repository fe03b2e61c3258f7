//! `berth check SCRIPTLET`: what Incus would say when the scriptlet is set, for authors and CI;
//! with `--snapshot S --cases CASES.json`, its golden cases as well (`berth_core::cases`), each
//! simulated on its own on the snapshot; with `--snapshot S --matrix`, its reason × version
//! matrix instead (`matrix_cli`). Everything runs in sandbox workers, so a hostile scriptlet is
//! refused, not fatal.

use std::path::{Path, PathBuf};

use anyhow::Context;
use berth_core::cases::{judge, Case};
use berth_core::engine::{CheckReport, IncusVersion};
use berth_core::simulate::{Mode, Simulation};
use berth_core::Snapshot;
use sha2::{Digest, Sha256};

use crate::matrix_cli::{self, MatrixArgs};
use crate::sandbox::{JobSnapshot, Sandbox, SandboxArgs, SimulationArgs};

#[derive(Debug, Clone, clap::Args)]
#[command(group(clap::ArgGroup::new("with_snapshot").args(["cases", "matrix"])))]
pub struct CheckArgs {
    /// The scriptlet file (Starlark).
    pub scriptlet: PathBuf,

    /// The Incus version whose validation to apply (dialect, builtins).
    #[arg(long, env = "BERTH_INCUS_VERSION", default_value = "6.0.4")]
    pub incus_version: IncusVersion,

    /// Print the result as one JSON document on stdout instead of lines on stderr.
    #[arg(long)]
    pub json: bool,

    /// The snapshot file the golden cases or the matrix run on (`berth snapshot capture` or
    /// `export`).
    #[arg(long, requires = "with_snapshot")]
    pub snapshot: Option<PathBuf>,

    /// Golden cases: `[{"name","op":{…as berth simulate…},"expect":{"member"?,"error"?}}]`.
    /// One line per failing case, then `N passed, N failed`; exit 1 when any fails.
    #[arg(long, requires = "snapshot")]
    pub cases: Option<PathBuf>,

    #[command(flatten)]
    pub matrix: MatrixArgs,

    #[command(flatten)]
    pub sandbox: SandboxArgs,

    #[command(flatten)]
    pub simulation: SimulationArgs,
}

/// Exit code 0: accepted; 1: refused. IO and usage errors are `Err` (exit 2).
pub async fn check(args: CheckArgs) -> anyhow::Result<u8> {
    let source = std::fs::read_to_string(&args.scriptlet)
        .with_context(|| format!("cannot read {}", args.scriptlet.display()))?;
    let program = std::env::current_exe().context("cannot find the berth executable")?;
    let sandbox = Sandbox::new(args.sandbox.config_with(program, &args.simulation));
    if let (true, Some(snapshot)) = (args.matrix.matrix, &args.snapshot) {
        // Each version compiles the scriptlet for itself: a refusal is that version's column.
        return matrix_cli::run(
            &sandbox,
            &args.scriptlet,
            &source,
            snapshot,
            &args.matrix,
            args.json,
        )
        .await;
    }
    let report = sandbox.check(&source, args.incus_version).await?;
    let file = args.scriptlet.display().to_string();
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&JsonReport {
                file: &file,
                report: &report
            })?
        );
    } else {
        for diagnostic in report.errors.iter().chain(&report.warnings) {
            eprintln!("{}", diagnostic.to_line(&file));
        }
    }
    if !report.accepted {
        return Ok(1);
    }
    match (&args.snapshot, &args.cases) {
        (Some(snapshot), Some(cases)) => {
            run_cases(&sandbox, &source, args.incus_version, snapshot, cases).await
        }
        _ => Ok(0),
    }
}

/// Runs each case alone on the snapshot; prints the failing ones and the tally.
async fn run_cases(
    sandbox: &Sandbox,
    source: &str,
    version: IncusVersion,
    snapshot: &Path,
    cases: &Path,
) -> anyhow::Result<u8> {
    let text =
        std::fs::read_to_string(snapshot).with_context(|| format!("cannot read {}", snapshot.display()))?;
    Snapshot::from_json(&text).with_context(|| format!("{} is not a usable snapshot", snapshot.display()))?;
    let cases: Vec<Case> = serde_json::from_str(
        &std::fs::read_to_string(cases).with_context(|| format!("cannot read {}", cases.display()))?,
    )
    .with_context(|| format!("{} is not a list of cases", cases.display()))?;
    let hash = hex::encode(Sha256::digest(text.as_bytes()));
    let (mut passed, mut failed) = (0, 0);
    for case in &cases {
        let operations = [case.op.clone()];
        let verdict = match sandbox
            .simulate(
                JobSnapshot::new(&hash, &text),
                source,
                version,
                Mode::Upstream,
                &operations,
            )
            .await?
        {
            Ok(value) => match serde_json::from_value::<Simulation>(value) {
                Ok(simulation) => judge(case, &simulation),
                Err(error) => Err(format!("unexpected simulation result: {error}")),
            },
            Err(diagnostic) => Err(diagnostic.message),
        };
        match verdict {
            Ok(()) => passed += 1,
            Err(instead) => {
                failed += 1;
                println!("FAIL {}: {instead}", case.name);
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    Ok(if failed == 0 { 0 } else { 1 })
}

#[derive(serde::Serialize)]
struct JsonReport<'a> {
    file: &'a str,
    #[serde(flatten)]
    report: &'a CheckReport,
}
