//! `berth fuzz FILE --snapshot S`: placement calls the scriptlet could receive from a cluster
//! like the snapshot, steered by its own coverage (`berth_core::fuzz`, run round by round on
//! the sandbox workers by [`crate::fuzz`]); each distinct failure printed with its small call,
//! and written by `--out` as a golden case expecting the call placed. Exit 0 when nothing was
//! found, 1 when something was (or the scriptlet does not compile), 2 on usage errors.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use berth_core::cases::CompactCase;
use berth_core::coverage::Coverage;
use berth_core::fuzz::{Campaign, Failure, BATCHES_PER_ROUND, CALLS_PER_BATCH};
use berth_core::Snapshot;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::coverage_cli::CoverageArgs;
use crate::fuzz::{Fuzz, FuzzError, Until};
use crate::sandbox::{JobSnapshot, Sandbox, SandboxArgs, SimulationArgs};

#[derive(Debug, Clone, clap::Args)]
pub struct FuzzArgs {
    /// The scriptlet file (Starlark).
    pub scriptlet: PathBuf,

    /// The snapshot whose cluster the calls come from (`berth snapshot capture` or `export`).
    #[arg(long)]
    pub snapshot: PathBuf,

    /// How long to fuzz (`30s`, `2m`); the round under way finishes first.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub time: Duration,

    /// The seed: the same seed and number of rounds give the same calls and failures.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,

    /// Run exactly this many rounds instead of for `--time` (to reproduce a run: it prints
    /// its seed and rounds).
    #[arg(long)]
    pub rounds: Option<u64>,

    /// The Incus versions whose calls to make (`6.0.4,6.6,7.0`: every reason each sends);
    /// default: the snapshot's.
    #[arg(long, value_delimiter = ',')]
    pub versions: Vec<String>,

    /// Write each failure as a golden case (`berth check --cases`): its call, expecting it
    /// placed.
    #[arg(long, value_name = "CASES.json")]
    pub out: Option<PathBuf>,

    /// Print the run as one JSON document.
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub coverage: CoverageArgs,

    #[command(flatten)]
    pub sandbox: SandboxArgs,

    #[command(flatten)]
    pub simulation: SimulationArgs,
}

pub async fn fuzz(args: FuzzArgs) -> anyhow::Result<u8> {
    let source = std::fs::read_to_string(&args.scriptlet)
        .with_context(|| format!("cannot read {}", args.scriptlet.display()))?;
    let text = std::fs::read_to_string(&args.snapshot)
        .with_context(|| format!("cannot read {}", args.snapshot.display()))?;
    let snapshot = Snapshot::from_json(&text)
        .with_context(|| format!("{} is not a usable snapshot", args.snapshot.display()))?;
    let versions = if args.versions.is_empty() {
        vec![crate::simulate_cli::version_of(None, &snapshot, &args.snapshot)?.to_string()]
    } else {
        for version in &args.versions {
            version
                .parse::<berth_core::engine::IncusVersion>()
                .map_err(|error| anyhow::anyhow!("--versions: {error}"))?;
        }
        args.versions.clone()
    };
    let program = std::env::current_exe().context("cannot find the berth executable")?;
    let sandbox = Sandbox::new(args.sandbox.config_with(program, &args.simulation));
    let hash = hex::encode(Sha256::digest(text.as_bytes()));
    let fuzz = Fuzz {
        job_snapshot: JobSnapshot::new(&hash, &text),
        source: &source,
        versions: &versions,
    };
    let until = match args.rounds {
        Some(rounds) => Until::Rounds(rounds),
        None => Until::Elapsed(args.time),
    };
    let mut campaign = Campaign::new(args.seed);
    let mut round_ends: Vec<Duration> = Vec::new();
    let mut elapsed = Duration::ZERO;
    let file = args.scriptlet.display().to_string();
    match fuzz
        .run(&sandbox, &mut campaign, until, |_, at| {
            round_ends.push(at);
            elapsed = at;
        })
        .await
    {
        Ok(()) => {}
        Err(FuzzError::Scriptlet(diagnostic)) => {
            eprintln!("{}", diagnostic.to_line(&file));
            return Ok(1);
        }
        Err(error) => return Err(error.into()),
    }
    let found_at = |failure: &Failure| round_ends.get(failure.round as usize).copied().unwrap_or(elapsed);
    let run = RunSummary::of(&campaign, &versions, elapsed);
    if args.json {
        let failures: Vec<JsonFailure> = campaign
            .failures
            .iter()
            .enumerate()
            .map(|(index, failure)| JsonFailure::of(failure, index + 1, found_at(failure)))
            .collect();
        let document = JsonRun {
            run: &run,
            failures,
            coverage: args
                .coverage
                .wanted()
                .then_some(campaign.coverage.as_ref())
                .flatten(),
        };
        println!("{}", serde_json::to_string_pretty(&document)?);
    } else {
        for failure in &campaign.failures {
            println!("{}", failure_line(failure, &file));
            println!("    {}", call_line(failure, found_at(failure)));
        }
        println!("{}", run.line());
        if campaign.truncated {
            println!(
                "note: a batch ran out of time (a slow scriptlet?); this run depended on timing and may not repeat"
            );
        }
    }
    if let Some(out) = &args.out {
        let cases: Vec<CompactCase> = campaign
            .failures
            .iter()
            .enumerate()
            .map(|(index, failure)| failure.case(index + 1).compact())
            .collect();
        std::fs::write(out, serde_json::to_string_pretty(&cases)? + "\n")
            .with_context(|| format!("cannot write {}", out.display()))?;
    }
    if args.coverage.wanted() {
        let coverage = campaign.coverage.clone().unwrap_or_default();
        args.coverage.report(&coverage, &file, args.json)?;
    }
    Ok(if campaign.failures.is_empty() { 0 } else { 1 })
}

/// `FAIL error at FILE:4:13: fail: no room` (a target Incus ignored has no place).
fn failure_line(failure: &Failure, file: &str) -> String {
    let place = match (failure.line, failure.column) {
        (Some(line), Some(column)) => format!(" at {file}:{line}:{column}"),
        _ => String::new(),
    };
    format!("FAIL {}{place}: {}", failure.kind.as_str(), failure.message)
}

/// `Incus 6.6, evacuation of web/api-1 (runs on hv-a03), 1 candidate, hv-b01 Offline;
/// found after 1234 calls (0.8 s)`.
fn call_line(failure: &Failure, found_at: Duration) -> String {
    let call = &failure.call;
    let request = &call.request;
    let mut line = format!(
        "Incus {}, {} of {}/{} (runs on {}), {}",
        call.incus_version.as_deref().unwrap_or("?"),
        request.reason,
        request.project,
        request.name,
        call.runs_on.as_deref().unwrap_or("the snapshot's member"),
        match call.candidates.len() {
            1 => format!("1 candidate ({})", call.candidates[0]),
            n => format!("{n} candidates"),
        }
    );
    for (member, status) in &call.member_status {
        line.push_str(&format!(", {member} {}", status.as_str()));
    }
    if !request.config.is_empty() {
        let keys: Vec<&str> = request.config.keys().map(String::as_str).collect();
        line.push_str(&format!(", config {}", keys.join(" ")));
    }
    line.push_str(&format!(
        "; found after {} calls ({:.1} s)",
        failure.after_calls,
        found_at.as_secs_f64()
    ));
    line
}

/// What a run did, for the last line and `--json`.
#[derive(Debug, Serialize)]
struct RunSummary {
    seed: u64,
    rounds: u64,
    batches_per_round: u32,
    calls_per_batch: u32,
    calls: u64,
    seconds: f64,
    calls_per_second: f64,
    versions: Vec<String>,
    /// Inputs kept for reaching new code.
    corpus: usize,
    features: usize,
    /// A batch ran out of time: the run depended on timing.
    truncated: bool,
}

impl RunSummary {
    fn of(campaign: &Campaign, versions: &[String], elapsed: Duration) -> RunSummary {
        let seconds = elapsed.as_secs_f64();
        RunSummary {
            seed: campaign.seed,
            rounds: campaign.rounds,
            batches_per_round: BATCHES_PER_ROUND,
            calls_per_batch: CALLS_PER_BATCH,
            calls: campaign.calls,
            seconds,
            calls_per_second: if seconds > 0.0 {
                campaign.calls as f64 / seconds
            } else {
                0.0
            },
            versions: versions.to_vec(),
            corpus: campaign.corpus_len(),
            features: campaign.features_len(),
            truncated: campaign.truncated,
        }
    }

    /// `52000 calls in 10.2 s (5098 calls/s) on Incus 6.0.4; 2 failures; seed 1, 13 rounds
    /// (--seed 1 --rounds 13 repeats it)`.
    fn line(&self) -> String {
        format!(
            "{} calls in {:.1} s ({:.0} calls/s) on Incus {}; {} inputs kept, {} features; seed {}, {} rounds of {} batches of {} calls (--seed {} --rounds {} repeats it)",
            self.calls,
            self.seconds,
            self.calls_per_second,
            self.versions.join(", "),
            self.corpus,
            self.features,
            self.seed,
            self.rounds,
            self.batches_per_round,
            self.calls_per_batch,
            self.seed,
            self.rounds
        )
    }
}

#[derive(Serialize)]
struct JsonRun<'a> {
    #[serde(flatten)]
    run: &'a RunSummary,
    failures: Vec<JsonFailure>,
    #[serde(skip_serializing_if = "Option::is_none")]
    coverage: Option<&'a Coverage>,
}

#[derive(Serialize)]
struct JsonFailure {
    kind: &'static str,
    message: String,
    line: Option<usize>,
    column: Option<usize>,
    incus_version: Option<String>,
    after_calls: u64,
    round: u64,
    /// When the round that found it ended.
    seconds: f64,
    case: CompactCase,
}

impl JsonFailure {
    fn of(failure: &Failure, number: usize, found_at: Duration) -> JsonFailure {
        JsonFailure {
            kind: failure.kind.as_str(),
            message: failure.message.clone(),
            line: failure.line,
            column: failure.column,
            incus_version: failure.call.incus_version.clone(),
            after_calls: failure.after_calls,
            round: failure.round,
            seconds: found_at.as_secs_f64(),
            case: failure.case(number).compact(),
        }
    }
}
