//! `berth impact`: what a new scriptlet revision changes on a snapshot. One line per changed
//! decision, then `N instances, C changed, E new errors`; or the whole replay as JSON.

use std::path::{Path, PathBuf};

use anyhow::Context;
use berth_core::engine::IncusVersion;
use berth_core::impact::{ChangedDecision, Impact, Scenario, Scope};
use berth_core::Snapshot;
use sha2::{Digest, Sha256};

use crate::coverage_cli::CoverageArgs;
use crate::impact::{Replay, ReplayError};
use crate::sandbox::{JobSnapshot, Sandbox, SandboxArgs, SimulationArgs};

#[derive(Debug, Clone, clap::Args)]
pub struct ImpactArgs {
    /// The snapshot file (`berth snapshot capture` or `export`).
    #[arg(long)]
    pub snapshot: PathBuf,
    /// The revision before: a scriptlet file, or `live` for the snapshot's own scriptlet.
    #[arg(long)]
    pub from: PathBuf,
    /// The revision after: a scriptlet file, or `live`.
    #[arg(long)]
    pub to: PathBuf,
    /// Which instances: `project=P`, `member=M`, `label=K=V` (`user.K`) or `all`.
    #[arg(long, default_value = "all")]
    pub scope: Scope,
    /// The placement call replayed: `new` (a re-create with its config) or `evacuation` (of
    /// its member).
    #[arg(long, default_value = "new")]
    pub scenario: Scenario,
    /// The Incus version to imitate; default: the snapshot's.
    #[arg(long)]
    pub incus_version: Option<IncusVersion>,
    /// Print the whole replay as one JSON document (changed decisions with both candidate
    /// lists, member loads, the summary).
    #[arg(long)]
    pub json: bool,
    /// The lines of the `--to` revision the replay ran.
    #[command(flatten)]
    pub coverage: CoverageArgs,
    #[command(flatten)]
    pub sandbox: SandboxArgs,
    #[command(flatten)]
    pub simulation: SimulationArgs,
}

/// Exit 0 with the replay; 1 when a revision does not compile; IO and usage errors are `Err`.
pub async fn impact(args: ImpactArgs) -> anyhow::Result<u8> {
    let text = std::fs::read_to_string(&args.snapshot)
        .with_context(|| format!("cannot read {}", args.snapshot.display()))?;
    let snapshot = Snapshot::from_json(&text)
        .with_context(|| format!("{} is not a usable snapshot", args.snapshot.display()))?;
    let from = revision(&args.from, &snapshot)?;
    let to = revision(&args.to, &snapshot)?;
    let version = crate::simulate_cli::version_of(args.incus_version, &snapshot, &args.snapshot)?;
    let program = std::env::current_exe().context("cannot find the berth executable")?;
    let sandbox = Sandbox::new(args.sandbox.config_with(program, &args.simulation));
    let hash = hex::encode(Sha256::digest(text.as_bytes()));
    let replay = Replay {
        snapshot: &snapshot,
        job_snapshot: JobSnapshot::new(&hash, &text),
        version,
        from: &from,
        to: &to,
        scenario: args.scenario,
        scope: args.scope.clone(),
        coverage: args.coverage.wanted(),
    };
    let (impact, coverage) = match replay.run_covered(&sandbox, |_| {}).await {
        Ok(replayed) => replayed,
        Err(ReplayError::Revision { revision, diagnostic }) => {
            let file = if revision == "to" { &args.to } else { &args.from };
            eprintln!("{}", diagnostic.to_line(&file.display().to_string()));
            return Ok(1);
        }
        Err(error) => return Err(error.into()),
    };
    let json_coverage = coverage.as_ref().filter(|_| args.coverage.coverage);
    print_with(&impact, args.json, json_coverage)?;
    if let Some(coverage) = &coverage {
        args.coverage
            .report(coverage, &args.to.display().to_string(), args.json)?;
    }
    Ok(0)
}

/// The replay on stdout: one line per changed decision and the summary, or `--json`.
pub(crate) fn print(impact: &Impact, json: bool) -> anyhow::Result<()> {
    print_with(impact, json, None)
}

/// [`print`], the JSON carrying the lines the replay ran when they were asked for.
fn print_with(
    impact: &Impact,
    json: bool,
    coverage: Option<&berth_core::coverage::Coverage>,
) -> anyhow::Result<()> {
    if json {
        let mut document = JsonImpact::of(impact);
        document.coverage = coverage;
        println!("{}", serde_json::to_string_pretty(&document)?);
    } else {
        for changed in &impact.changed {
            println!("{}", line(changed));
        }
        for stopped in &impact.stopped {
            println!("stopped: {stopped}");
        }
        println!("{}", impact.summary());
    }
    Ok(())
}

/// A revision's text: the file, or the snapshot's scriptlet for `live` (empty when it has none:
/// Incus's default placement).
fn revision(path: &Path, snapshot: &Snapshot) -> anyhow::Result<String> {
    if path == Path::new("live") && !path.exists() {
        return Ok(snapshot
            .server
            .placement_scriptlet()
            .unwrap_or_default()
            .to_owned());
    }
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// `PROJECT/NAME (on M): A → B  [candidates before: …; after: …]`.
pub(crate) fn line(changed: &ChangedDecision) -> String {
    let candidates = if changed.from.candidates == changed.to.candidates {
        format!("candidates: {}", changed.from.candidates.join(", "))
    } else {
        format!(
            "candidates before: {}; after: {}",
            changed.from.candidates.join(", "),
            changed.to.candidates.join(", ")
        )
    };
    format!(
        "{} (on {}): {} → {}  [{candidates}]",
        changed.instance,
        changed.location,
        changed.from.summary(),
        changed.to.summary()
    )
}

/// `--json`: the replay and its summary line.
#[derive(serde::Serialize)]
pub(crate) struct JsonImpact<'a> {
    #[serde(flatten)]
    impact: &'a Impact,
    summary: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    coverage: Option<&'a berth_core::coverage::Coverage>,
}

impl<'a> JsonImpact<'a> {
    pub(crate) fn of(impact: &'a Impact) -> JsonImpact<'a> {
        JsonImpact {
            impact,
            summary: impact.summary(),
            coverage: None,
        }
    }
}
