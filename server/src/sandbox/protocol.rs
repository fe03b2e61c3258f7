//! What the server asks a worker and what it answers: one JSON document per line. A worker's
//! first line, before any job, is [`Reply::Ready`] with its confinement (or [`Reply::Refused`]
//! when it may not run so confined).

use berth_core::cases::Case;
use berth_core::coverage::Coverage;
use berth_core::engine::{CheckReport, Diagnostic, Evaluation, Limits, PlacementRequest};
use berth_core::fuzz::{BatchReport, BatchSpec};
use serde::{Deserialize, Serialize};

use super::confinement::ConfinementReport;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Job {
    /// Validate as Incus would when the scriptlet is set.
    Check {
        source: String,
        incus_version: String,
        limits: Limits,
        time_limit_ms: u64,
    },
    /// Compile and run one placement call against a snapshot. The snapshot travels once per
    /// worker: `snapshot` is `None` when the worker already has `snapshot_hash`.
    Evaluate(Box<EvaluateJob>),
    /// Simulate operations against a snapshot (`berth simulate`, `/api/v1/simulations`); the
    /// snapshot travels once per worker, as for `Evaluate`.
    Simulate(Box<SimulateJob>),
    /// Replay one shard of an impact replay under two revisions; the snapshot travels once per
    /// worker, as for `Evaluate`.
    Impact(Box<ImpactJob>),
    /// Run one golden case (an operation or a direct call) and judge it.
    Case(Box<CaseJob>),
    /// Run one batch of a fuzz campaign (`berth_core::fuzz`).
    Fuzz(Box<FuzzJob>),
    /// Run one simulation of a reason × version matrix and classify its calls; the snapshot
    /// travels once per worker, as for `Evaluate`.
    Matrix(Box<MatrixJob>),
    /// Try, from inside the confined worker, what a scriptlet that escaped the engine would:
    /// read a file, connect to an address, start a program. Only the confinement tests send it
    /// (`server/tests/confinement.rs`); it reports outcomes, never what it read.
    Probe(ProbeJob),
}

impl Job {
    /// The job's kind, as the metrics' `job` label.
    pub fn kind(&self) -> &'static str {
        match self {
            Job::Check { .. } => "check",
            Job::Evaluate(_) => "evaluate",
            Job::Simulate(_) => "simulate",
            Job::Impact(_) => "impact",
            Job::Matrix(_) => "matrix",
            Job::Case(_) => "case",
            Job::Fuzz(_) => "fuzz",
            Job::Probe(_) => "probe",
        }
    }
}

/// What every job that runs placement calls on a snapshot carries, beside its own fields: the
/// snapshot (its text only when the worker does not hold it yet), the engine's limits and the
/// job's clock.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobFrame {
    /// The worker keeps snapshots and their prepared clusters by hash; each job starts from a
    /// copy of them (or changes them in place and puts them back).
    pub snapshot_hash: String,
    /// `None` when the worker already holds `snapshot_hash` (it answers
    /// [`Reply::NeedSnapshot`] when it does not).
    pub snapshot: Option<String>,
    pub limits: Limits,
    /// Wall time of each compilation and each placement call.
    pub time_limit_ms: u64,
    /// Wall time of the whole job (a simulation, a shard, a case, a fuzz batch; a matrix's
    /// whole budget), checked before each call.
    pub budget_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProbeJob {
    /// A file to open and read a byte of.
    pub read: String,
    /// An address (`IP:PORT`) to open a TCP connection to.
    pub connect: String,
    /// A program to start (no arguments).
    pub execute: String,
}

/// What a [`Job::Probe`] could do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeReport {
    pub read: Attempt,
    pub connect: Attempt,
    pub execute: Attempt,
    /// The names (never the values) of the worker's environment variables.
    pub environment: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Attempt {
    Done,
    /// `errno`: the system's error number, when there was one.
    Refused {
        errno: Option<i32>,
        message: String,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImpactJob {
    #[serde(flatten)]
    pub frame: JobFrame,
    /// The revision before and the revision after; empty: Incus's default placement.
    pub from: String,
    pub to: String,
    pub incus_version: String,
    pub scenario: berth_core::impact::Scenario,
    /// Positions in the snapshot's instance list (`berth_core::impact::shards`).
    pub instances: Vec<usize>,
    /// Count the `to` revision's lines (kept compiled between shards; each shard's own
    /// coverage is answered).
    #[serde(default)]
    pub coverage: bool,
}

/// One shard replayed, with the `to` revision's coverage when the job asked for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplayedShard {
    pub shard: berth_core::impact::ShardImpact,
    pub coverage: Option<Coverage>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaseJob {
    #[serde(flatten)]
    pub frame: JobFrame,
    pub source: String,
    /// The version the cases run under (a direct call may name its own).
    pub incus_version: String,
    pub case: Case,
    /// Count the lines the case runs.
    pub coverage: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseReply {
    /// `Ok` when the case holds, else what happened instead.
    pub verdict: Result<(), String>,
    /// The scriptlet did not compile for the case's version (the verdict says so too).
    pub compile_error: Option<Diagnostic>,
    pub coverage: Option<Coverage>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FuzzJob {
    #[serde(flatten)]
    pub frame: JobFrame,
    pub source: String,
    /// The versions fuzzed, as written (`6.6`).
    pub incus_versions: Vec<String>,
    /// The batch's budget is the frame's (a batch cut short says so).
    pub batch: BatchSpec,
}

/// Why a replay could not start: a revision that does not compile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RevisionError {
    /// `from` or `to`.
    pub revision: String,
    pub diagnostic: Diagnostic,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MatrixJob {
    /// Its budget is the whole matrix's.
    #[serde(flatten)]
    pub frame: JobFrame,
    pub source: String,
    pub simulation: berth_core::matrix::PlannedSimulation,
    /// How much of the matrix's budget was spent when a worker took the job up.
    pub spent_ms: u64,
    /// Count the lines and branches the simulation runs (`SimulationRun::coverage`).
    #[serde(default)]
    pub coverage: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SimulateJob {
    #[serde(flatten)]
    pub frame: JobFrame,
    pub source: String,
    pub incus_version: String,
    pub mode: berth_core::simulate::Mode,
    pub operations: Vec<berth_core::simulate::Operation>,
    /// Count the lines the simulation runs (answered as [`Reply::SimulatedCovered`]).
    #[serde(default)]
    pub coverage: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EvaluateJob {
    pub snapshot_hash: String,
    pub snapshot: Option<String>,
    pub source: String,
    pub incus_version: String,
    pub limits: Limits,
    pub time_limit_ms: u64,
    pub request: PlacementRequest,
    pub candidates: Vec<String>,
    /// The member the scriptlet runs on; default: the member the snapshot was taken from.
    pub local_member: Option<String>,
    /// Members whose status the call sees changed (a golden case's direct call).
    #[serde(default)]
    pub member_status: std::collections::BTreeMap<String, berth_core::model::MemberStatus>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Reply {
    Checked(CheckReport),
    Evaluated(Box<EvaluateReply>),
    /// The simulation as JSON, or why the scriptlet did not compile.
    Simulated(Result<serde_json::Value, Diagnostic>),
    /// The simulation as JSON with its coverage, for a job that asked for coverage.
    SimulatedCovered(Result<(serde_json::Value, Coverage), Diagnostic>),
    /// One shard replayed, or the revision that did not compile.
    Replayed(Result<Box<ReplayedShard>, Box<RevisionError>>),
    CaseRun(Box<CaseReply>),
    /// A fuzz batch's report, or why the scriptlet did not compile (for which version).
    Fuzzed(Result<Box<BatchReport>, Diagnostic>),
    /// One simulation of a matrix, its calls classified.
    MatrixRun(Box<berth_core::matrix::SimulationRun>),
    /// The worker does not have the snapshot: send the job again with it.
    NeedSnapshot,
    /// The job itself was malformed (not the scriptlet); as a worker's first line: the worker
    /// may not run under the confinement it got, and exits.
    Refused(String),
    /// A worker's first line: it is confined as reported and reads jobs.
    Ready(ConfinementReport),
    Probed(ProbeReport),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvaluateReply {
    /// `None` when the scriptlet did not compile (see `compile_error`) or is empty.
    pub evaluation: Option<Evaluation>,
    pub compile_error: Option<Diagnostic>,
    pub warnings: Vec<Diagnostic>,
    /// Compile and evaluation, measured in the worker.
    pub elapsed_us: u64,
}
