//! `berth check SCRIPTLET`: what Incus would say when the scriptlet is set, for authors and CI.
//! The check runs in a sandbox worker, so a hostile scriptlet is refused, not fatal.

use std::path::PathBuf;

use anyhow::Context;
use berth_core::engine::{CheckReport, IncusVersion};

use crate::sandbox::{Sandbox, SandboxArgs};

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

/// Exit code 0: accepted; 1: refused. IO and usage errors are `Err` (exit 2).
pub async fn check(args: CheckArgs) -> anyhow::Result<u8> {
    let source = std::fs::read_to_string(&args.scriptlet)
        .with_context(|| format!("cannot read {}", args.scriptlet.display()))?;
    let program = std::env::current_exe().context("cannot find the berth executable")?;
    let sandbox = Sandbox::new(args.sandbox.config(program));
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
    Ok(if report.accepted { 0 } else { 1 })
}

#[derive(serde::Serialize)]
struct JsonReport<'a> {
    file: &'a str,
    #[serde(flatten)]
    report: &'a CheckReport,
}
