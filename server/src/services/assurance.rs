//! Golden cases and the fuzzer for the editor and the API (`POST /api/v1/scriptlets/cases`,
//! `POST /api/v1/scriptlets/fuzz`, and the server functions the editor calls): both on a
//! stored snapshot, in the authors' sandbox workers, answered redacted for every role (a
//! case's or a failure's request carries the snapshot's config; a scriptlet's error may
//! quote any value).
//!
//! What one request may cost is bounded: at most [`MAX_CASES`] cases, run one after the other
//! until the simulation budget is spent (the rest are reported as not run); a fuzz request
//! runs for at most [`MAX_FUZZ_TIME`] (and the round under way), the campaign it continues is
//! checked against the bounds a campaign keeps to.

use super::sandbox::snapshot_or_newest;
use std::time::{Duration, Instant};

use berth_app::types::{CasesRun, FuzzFailureView, FuzzRound};
use berth_core::cases::Case;
use berth_core::coverage::Coverage;
use berth_core::fuzz::{Campaign, Failure};
use berth_core::redact::redact_json;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::db::Store;
use crate::error::AppError;
use crate::fuzz::{Fuzz, FuzzError, Until};
use crate::params::incus_version;
use crate::sandbox::{JobSnapshot, Sandbox};

/// Cases one request may run.
pub const MAX_CASES: usize = 200;
/// The longest a fuzz request runs (the editor asks for a few seconds at a time).
pub const MAX_FUZZ_TIME: Duration = Duration::from_secs(10);
/// What a fuzz request runs for when it does not say.
const DEFAULT_FUZZ_TIME: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Deserialize)]
pub struct CasesRequest {
    pub snapshot_id: i64,
    pub source: String,
    /// Default: the version the snapshot's cluster runs (a direct call may name its own).
    pub incus_version: Option<String>,
    pub cases: Vec<Case>,
    /// Count the lines the cases run (default: yes).
    #[serde(default = "yes")]
    pub coverage: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Serialize)]
pub struct CasesAnswer {
    pub incus_version: String,
    pub passed: usize,
    pub failed: usize,
    /// Each case in the order given.
    pub cases: Vec<CaseResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coverage: Option<CoverageAnswer>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CaseResult {
    pub name: String,
    pub passed: bool,
    /// What happened instead, when it failed (or why it did not run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Coverage as the API answers it: the summary line, run and never-run lines (the editor's
/// gutter), and the counts.
#[derive(Debug, Clone, Serialize)]
pub struct CoverageAnswer {
    pub summary: String,
    pub percent: f64,
    pub lines_hit: usize,
    pub lines_found: usize,
    pub run: Vec<u32>,
    pub unrun: Vec<u32>,
    #[serde(flatten)]
    pub counts: Coverage,
}

impl From<Coverage> for CoverageAnswer {
    fn from(coverage: Coverage) -> CoverageAnswer {
        let (run, unrun) = coverage.run_and_unrun();
        CoverageAnswer {
            summary: coverage.summary(),
            percent: (coverage.percent() * 10.0).round() / 10.0,
            lines_hit: coverage.lines_hit(),
            lines_found: coverage.lines_found(),
            run,
            unrun,
            counts: coverage,
        }
    }
}

/// Runs `request`'s cases one by one on its snapshot; the answer as JSON, redacted.
pub async fn run_cases(store: &Store, sandbox: &Sandbox, request: &CasesRequest) -> Result<Value, AppError> {
    if request.cases.len() > MAX_CASES {
        return Err(AppError::Unprocessable(format!(
            "{} cases: at most {MAX_CASES} run at once",
            request.cases.len()
        )));
    }
    let stored = store
        .stored_snapshot(request.snapshot_id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("there is no snapshot {}", request.snapshot_id)))?;
    let version = incus_version::given_or_snapshots(request.incus_version.as_deref(), &stored)?;
    let budget = sandbox.config().simulation_budget;
    let started = Instant::now();
    let mut coverage = request.coverage.then(Coverage::default);
    let mut results = Vec::with_capacity(request.cases.len());
    for case in &request.cases {
        if started.elapsed() >= budget {
            results.push(CaseResult {
                name: case.name.clone(),
                passed: false,
                message: Some(format!(
                    "not run: the cases spent their budget of {} s",
                    budget.as_secs_f64()
                )),
            });
            continue;
        }
        let reply = sandbox
            .run_case(
                JobSnapshot::new(&stored.content_hash, &stored.json),
                &request.source,
                version,
                case,
                request.coverage,
            )
            .await?;
        if let (Some(total), Some(case_coverage)) = (&mut coverage, &reply.coverage) {
            total.merge(case_coverage);
        }
        results.push(CaseResult {
            name: case.name.clone(),
            passed: reply.verdict.is_ok(),
            message: reply.verdict.err(),
        });
    }
    let passed = results.iter().filter(|result| result.passed).count();
    let answer = CasesAnswer {
        incus_version: version.to_string(),
        passed,
        failed: results.len() - passed,
        cases: results,
        coverage: coverage.map(CoverageAnswer::from),
    };
    let mut value = serde_json::to_value(answer).expect("an answer serializes");
    redact_json(&mut value, &stored.secrets);
    Ok(value)
}

#[derive(Debug, Clone, Deserialize)]
pub struct FuzzRequest {
    pub snapshot_id: i64,
    pub source: String,
    /// The versions whose calls to make; default: the snapshot's.
    #[serde(default)]
    pub incus_versions: Vec<String>,
    /// A new campaign's seed (default 1); a continued one keeps its own.
    pub seed: Option<u64>,
    /// How long to run this time (at most [`MAX_FUZZ_TIME`]); default 2 s.
    pub time_ms: Option<u64>,
    /// The campaign to continue, as an earlier answer's `state`.
    pub state: Option<Campaign>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FuzzAnswer {
    pub incus_versions: Vec<String>,
    pub seed: u64,
    /// Rounds and calls of the whole campaign so far.
    pub rounds: u64,
    pub calls: u64,
    /// This request's time, and the calls it made per second.
    pub seconds: f64,
    pub calls_per_second: f64,
    pub corpus: usize,
    pub features: usize,
    pub truncated: bool,
    /// Every failure of the campaign so far, each with its case.
    pub failures: Vec<FailureAnswer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coverage: Option<CoverageAnswer>,
    /// To hand back to continue the campaign.
    pub state: Campaign,
}

#[derive(Debug, Clone, Serialize)]
pub struct FailureAnswer {
    pub number: usize,
    pub kind: &'static str,
    pub message: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub incus_version: Option<String>,
    pub after_calls: u64,
    pub round: u64,
    /// The golden case that replays it, expecting the call placed.
    pub case: berth_core::cases::CompactCase,
}

impl FailureAnswer {
    fn of(failure: &Failure, number: usize) -> FailureAnswer {
        FailureAnswer {
            number,
            kind: failure.kind.as_str(),
            message: failure.message.clone(),
            line: failure.line,
            column: failure.column,
            incus_version: failure.call.incus_version.clone(),
            after_calls: failure.after_calls,
            round: failure.round,
            case: failure.case(number).compact(),
        }
    }
}

/// Runs a fuzz campaign (new, or continued from `request.state`) for a while on its
/// snapshot; the answer as JSON, redacted.
pub async fn fuzz(store: &Store, sandbox: &Sandbox, request: FuzzRequest) -> Result<Value, AppError> {
    let stored = store
        .stored_snapshot(request.snapshot_id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("there is no snapshot {}", request.snapshot_id)))?;
    let versions = if request.incus_versions.is_empty() {
        vec![incus_version::given_or_snapshots(None, &stored)?.to_string()]
    } else {
        for version in &request.incus_versions {
            incus_version::given_or_default(Some(version))?;
        }
        request.incus_versions.clone()
    };
    let mut campaign = match request.state {
        Some(state) => {
            state
                .check()
                .map_err(|error| AppError::BadRequest(error.to_string()))?;
            state
        }
        None => Campaign::new(request.seed.unwrap_or(1)),
    };
    let time = request
        .time_ms
        .map_or(DEFAULT_FUZZ_TIME, Duration::from_millis)
        .min(MAX_FUZZ_TIME);
    let fuzz = Fuzz {
        job_snapshot: JobSnapshot::new(&stored.content_hash, &stored.json),
        source: &request.source,
        versions: &versions,
    };
    let calls_before = campaign.calls;
    let started = Instant::now();
    match fuzz
        .run(sandbox, &mut campaign, Until::Elapsed(time), |_, _| {})
        .await
    {
        Ok(()) => {}
        Err(FuzzError::Scriptlet(diagnostic)) => return Err(AppError::Scriptlet(diagnostic)),
        Err(FuzzError::Sandbox(error)) => return Err(error.into()),
    }
    let seconds = started.elapsed().as_secs_f64();
    let answer = FuzzAnswer {
        incus_versions: versions,
        seed: campaign.seed,
        rounds: campaign.rounds,
        calls: campaign.calls,
        seconds,
        calls_per_second: if seconds > 0.0 {
            (campaign.calls - calls_before) as f64 / seconds
        } else {
            0.0
        },
        corpus: campaign.corpus_len(),
        features: campaign.features_len(),
        truncated: campaign.truncated,
        failures: campaign
            .failures
            .iter()
            .enumerate()
            .map(|(index, failure)| FailureAnswer::of(failure, index + 1))
            .collect(),
        coverage: campaign.coverage.clone().map(CoverageAnswer::from),
        state: campaign,
    };
    let mut value = serde_json::to_value(answer).expect("an answer serializes");
    redact_json(&mut value, &stored.secrets);
    Ok(value)
}

/// The editor's golden cases (their JSON as the author edits it).
pub async fn cases_for_editor(
    store: &Store,
    sandbox: &Sandbox,
    source: String,
    snapshot_id: Option<i64>,
    incus_version: String,
    cases: &str,
) -> Result<CasesRun, AppError> {
    let cases: Vec<Case> = serde_json::from_str(cases)
        .map_err(|error| AppError::BadRequest(format!("the cases are not valid: {error}")))?;
    let request = CasesRequest {
        snapshot_id: snapshot_or_newest(store, snapshot_id).await?,
        source,
        incus_version: Some(incus_version),
        cases,
        coverage: true,
    };
    let answer = run_cases(store, sandbox, &request).await?;
    serde_json::from_value(answer)
        .map_err(|error| AppError::BadRequest(format!("unexpected cases result: {error}")))
}

/// A few seconds of the editor's fuzz campaign.
pub async fn fuzz_for_editor(
    store: &Store,
    sandbox: &Sandbox,
    source: String,
    snapshot_id: Option<i64>,
    incus_versions: Vec<String>,
    state: &str,
) -> Result<FuzzRound, AppError> {
    let state: Option<Campaign> = if state.trim().is_empty() {
        None
    } else {
        Some(
            serde_json::from_str(state)
                .map_err(|error| AppError::BadRequest(format!("the fuzz state is not valid: {error}")))?,
        )
    };
    let request = FuzzRequest {
        snapshot_id: snapshot_or_newest(store, snapshot_id).await?,
        source,
        incus_versions: incus_versions
            .into_iter()
            .filter(|v| !v.trim().is_empty())
            .collect(),
        seed: None,
        time_ms: None,
        state,
    };
    let answer = fuzz(store, sandbox, request).await?;
    fuzz_round(answer)
}

/// A case (redacted JSON) as the author reads it: `name` first, as `berth fuzz --out` writes.
fn case_text(case: &Value) -> String {
    #[derive(Serialize)]
    struct Ordered<'a> {
        name: &'a Value,
        call: &'a Value,
        expect: &'a Value,
    }
    serde_json::to_string_pretty(&Ordered {
        name: &case["name"],
        call: &case["call"],
        expect: &case["expect"],
    })
    .unwrap_or_default()
}

/// The fuzz answer (redacted JSON) as the editor shows it.
fn fuzz_round(answer: Value) -> Result<FuzzRound, AppError> {
    let unexpected = |what: &str| AppError::BadRequest(format!("unexpected fuzz result: {what}"));
    let failures = answer["failures"]
        .as_array()
        .ok_or_else(|| unexpected("failures"))?
        .iter()
        .map(|failure| {
            let call = &failure["case"]["call"];
            let request = &call["request"];
            let candidates = call["candidates"].as_array().map_or(0, Vec::len);
            FuzzFailureView {
                number: failure["number"].as_u64().unwrap_or(0) as usize,
                kind: failure["kind"].as_str().unwrap_or_default().to_owned(),
                message: failure["message"].as_str().unwrap_or_default().to_owned(),
                line: failure["line"].as_u64().map(|line| line as usize),
                column: failure["column"].as_u64().map(|column| column as usize),
                incus_version: failure["incus_version"].as_str().map(str::to_owned),
                after_calls: failure["after_calls"].as_u64().unwrap_or(0),
                case: case_text(&failure["case"]),
                call: call.to_string(),
                summary: format!(
                    "Incus {}: {} of {}/{}, {} candidate{}",
                    failure["incus_version"].as_str().unwrap_or("?"),
                    request["reason"].as_str().unwrap_or("?"),
                    request["project"].as_str().unwrap_or("?"),
                    request["name"].as_str().unwrap_or("?"),
                    candidates,
                    if candidates == 1 { "" } else { "s" }
                ),
            }
        })
        .collect();
    Ok(FuzzRound {
        incus_versions: serde_json::from_value(answer["incus_versions"].clone())
            .map_err(|_| unexpected("versions"))?,
        seed: answer["seed"].as_u64().unwrap_or(0),
        rounds: answer["rounds"].as_u64().unwrap_or(0),
        calls: answer["calls"].as_u64().unwrap_or(0),
        calls_per_second: answer["calls_per_second"].as_f64().unwrap_or(0.0),
        failures,
        coverage: serde_json::from_value(answer["coverage"].clone()).ok(),
        state: answer["state"].to_string(),
    })
}
