//! The server side of the sandbox: a bounded pool of `berth worker` processes.
//!
//! A worker starts with an empty environment (the server's holds the database URL, perhaps
//! with its password, and whatever else its operator set): it gets its limits as arguments
//! and its jobs on stdin. Its first line says how it is confined; the pool logs what the
//! kernel could not enforce, once, and refuses a worker that may not run so confined.

use std::collections::HashSet;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use berth_core::cases::{Case, DirectCall};
use berth_core::coverage::Coverage;
use berth_core::engine::{
    CheckReport, Diagnostic, ErrorKind, Evaluation, IncusVersion, Limits, PlacementRequest,
};
use berth_core::fuzz::{BatchReport, BatchSpec};
use berth_core::impact::Scenario;
use berth_core::matrix::{PlannedSimulation, SimulationRun};
use berth_core::simulate::{Mode, Operation};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::{Mutex, Semaphore};

use super::confinement::{Confinement, ConfinementReport};
use super::protocol::{
    CaseJob, CaseReply, EvaluateJob, EvaluateReply, FuzzJob, ImpactJob, Job, JobFrame, MatrixJob, ProbeJob,
    ProbeReport, ReplayedShard, Reply, RevisionError, SimulateJob,
};
use crate::metrics::{metrics, Raised};

#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// The `berth` executable to start workers from.
    pub program: PathBuf,
    /// Workers that may run at once; further jobs wait.
    pub workers: usize,
    /// Steps, heap and call depth inside the engine.
    pub limits: Limits,
    /// Wall time of one scriptlet compilation or placement call. A check or an evaluation is
    /// one of each; the worker is killed a second after it.
    pub time_limit: Duration,
    /// Wall time of a whole simulation (many calls, each under `time_limit`): checked before
    /// each call; the worker is killed when a simulation overruns it by a call and a margin.
    pub simulation_budget: Duration,
    /// Address space of a worker process.
    pub memory_bytes: u64,
    /// Whether a worker the kernel cannot confine may run.
    pub confinement: Confinement,
}

impl SandboxConfig {
    pub fn new(program: PathBuf) -> SandboxConfig {
        SandboxConfig {
            program,
            workers: 2,
            limits: Limits::default(),
            time_limit: Duration::from_secs(2),
            simulation_budget: Duration::from_secs(60),
            memory_bytes: 1 << 30,
            confinement: Confinement::Required,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("cannot start a scriptlet worker ({program}): {source}")]
    Spawn { program: String, source: std::io::Error },
    #[error("the scriptlet worker refused the job: {0}")]
    Refused(String),
    #[error("unexpected answer from the scriptlet worker: {0}")]
    Protocol(String),
    #[error("{0}")]
    Confinement(String),
}

/// The snapshot a job runs against: its JSON, and a hash of it that names it in the workers'
/// caches. The JSON travels only to a worker that does not have it yet.
#[derive(Debug, Clone, Copy)]
pub struct JobSnapshot<'a> {
    hash: &'a str,
    json: &'a str,
}

impl<'a> JobSnapshot<'a> {
    /// `hash`: anything that identifies the content, e.g. [`berth_core::Snapshot::content_hash`].
    pub fn new(hash: &'a str, json: &'a str) -> JobSnapshot<'a> {
        JobSnapshot { hash, json }
    }
}

pub struct Sandbox {
    config: SandboxConfig,
    /// The pool's name in the metrics' `pool` label (`authors`, `plans`).
    name: &'static str,
    idle: Mutex<Vec<Worker>>,
    permits: Semaphore,
    /// The first worker's confinement (every worker of a process gets the same).
    confinement: OnceLock<ConfinementReport>,
    /// When workers last answered a readiness probe, and whether they did ([`Sandbox::answers`]).
    last_answer: Mutex<Option<(Instant, bool)>>,
}

struct Worker {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    /// Snapshot hashes this worker has prepared.
    snapshots: HashSet<String>,
    /// Time spent on jobs, against its CPU-time limit.
    busy: Duration,
}

/// How a job ended: a reply, or the worker's death explained as a scriptlet error.
enum Outcome {
    Reply(Reply),
    Died(Diagnostic),
}

impl Sandbox {
    /// A pool named `authors` in the metrics.
    pub fn new(config: SandboxConfig) -> Sandbox {
        Sandbox::named(config, "authors")
    }

    /// A pool with its name in the metrics' `pool` label.
    pub fn named(config: SandboxConfig, name: &'static str) -> Sandbox {
        let permits = Semaphore::new(config.workers.max(1));
        metrics()
            .sandbox_workers_max
            .with_label_values(&[name])
            .set(i64::try_from(config.workers.max(1)).unwrap_or(i64::MAX));
        Sandbox {
            config,
            name,
            idle: Mutex::new(Vec::new()),
            permits,
            confinement: OnceLock::new(),
            last_answer: Mutex::new(None),
        }
    }

    pub fn config(&self) -> &SandboxConfig {
        &self.config
    }

    /// Workers free for a job right now (the rest are running one).
    pub fn available_workers(&self) -> usize {
        self.permits.available_permits()
    }

    /// Starts a worker now (kept for the first job) and says how it is confined: the server
    /// calls this at start, so that a kernel that cannot confine workers is named in its log
    /// then, and a worker refused under [`Confinement::Required`] stops it from starting.
    pub async fn start(&self) -> Result<ConfinementReport, SandboxError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .expect("the semaphore is never closed");
        let worker = self.spawn().await?;
        self.idle.lock().await.push(worker);
        Ok(self
            .confinement
            .get()
            .cloned()
            .expect("a worker that started reported its confinement"))
    }

    /// Whether this pool's workers answer, for `/readyz`: a pool whose every worker runs a job
    /// answers (each job is bounded by its hard limit); otherwise an idle worker (or one
    /// started and kept for the next job, never one per probe) checks an empty scriptlet
    /// within [`READY_LIMIT`]. One probe at a time, its answer reused for [`READY_REUSE`]: a
    /// client asking `/readyz` in a loop costs at most one small job per interval.
    pub async fn answers(&self) -> bool {
        let mut last = self.last_answer.lock().await;
        if let Some((at, answered)) = *last {
            if at.elapsed() < READY_REUSE {
                return answered;
            }
        }
        let answered = self.available_workers() == 0 || {
            let job = Job::Check {
                source: String::new(),
                incus_version: IncusVersion::default().to_string(),
                limits: self.config.limits,
                time_limit_ms: self.config.time_limit.as_millis() as u64,
            };
            let probe = self.run(None, self.call_limit(), |_| job.clone());
            matches!(
                tokio::time::timeout(READY_LIMIT, probe).await,
                Ok(Ok(Outcome::Reply(Reply::Checked(_))))
            )
        };
        *last = Some((Instant::now(), answered));
        answered
    }

    /// Runs [`Job::Probe`] in a worker of this pool: what a scriptlet that escaped the engine
    /// could do there. For the confinement tests; no route sends it.
    pub async fn probe_confinement(&self, job: ProbeJob) -> Result<ProbeReport, SandboxError> {
        let job = Job::Probe(job);
        match self.run(None, self.call_limit(), |_| job.clone()).await? {
            Outcome::Reply(Reply::Probed(report)) => Ok(report),
            Outcome::Reply(other) => Err(unexpected(other)),
            Outcome::Died(error) => Err(SandboxError::Protocol(error.message)),
        }
    }

    /// What Incus `version` would say of `source`. A scriptlet that kills its worker is
    /// refused with the reason.
    pub async fn check(&self, source: &str, version: IncusVersion) -> Result<CheckReport, SandboxError> {
        let job = Job::Check {
            source: source.to_owned(),
            incus_version: version.to_string(),
            limits: self.config.limits,
            time_limit_ms: self.config.time_limit.as_millis() as u64,
        };
        match self.run(None, self.call_limit(), |_| job.clone()).await? {
            Outcome::Reply(Reply::Checked(report)) => Ok(report),
            Outcome::Reply(other) => Err(unexpected(other)),
            Outcome::Died(error) => Ok(CheckReport {
                incus_version: version.to_string(),
                accepted: false,
                empty: false,
                errors: vec![error],
                warnings: Vec::new(),
            }),
        }
    }

    /// One placement call against a snapshot.
    pub async fn evaluate(
        &self,
        snapshot: JobSnapshot<'_>,
        source: &str,
        version: IncusVersion,
        request: &PlacementRequest,
        candidates: &[String],
        local_member: Option<&str>,
    ) -> Result<EvaluateReply, SandboxError> {
        let call = DirectCall {
            incus_version: None,
            request: request.clone(),
            candidates: candidates.to_vec(),
            runs_on: local_member.map(str::to_owned),
            member_status: Default::default(),
        };
        self.evaluate_call(snapshot, source, version, &call).await
    }

    /// One direct placement call (a golden case's, a fuzz finding's) against a snapshot, with
    /// its members' statuses changed for the call.
    pub async fn evaluate_call(
        &self,
        snapshot: JobSnapshot<'_>,
        source: &str,
        version: IncusVersion,
        call: &DirectCall,
    ) -> Result<EvaluateReply, SandboxError> {
        let job = |with_snapshot: bool| {
            Job::Evaluate(Box::new(EvaluateJob {
                snapshot_hash: snapshot.hash.to_owned(),
                snapshot: with_snapshot.then(|| snapshot.json.to_owned()),
                source: source.to_owned(),
                incus_version: version.to_string(),
                limits: self.config.limits,
                time_limit_ms: self.config.time_limit.as_millis() as u64,
                request: call.request.clone(),
                candidates: call.candidates.clone(),
                local_member: call.runs_on.clone(),
                member_status: call.member_status.clone(),
            }))
        };
        match self.run(Some(snapshot.hash), self.call_limit(), job).await? {
            Outcome::Reply(Reply::Evaluated(reply)) => Ok(*reply),
            Outcome::Reply(other) => Err(unexpected(other)),
            Outcome::Died(error) => Ok(EvaluateReply {
                evaluation: Some(Evaluation::failed(error)),
                compile_error: None,
                warnings: Vec::new(),
                elapsed_us: 0,
            }),
        }
    }

    /// Runs `operations` against `snapshot` in a worker: the simulation as JSON, or the
    /// scriptlet's compile error. A scriptlet that kills its worker yields that error; so does a
    /// simulation the worker could not stop within its budget.
    pub async fn simulate(
        &self,
        snapshot: JobSnapshot<'_>,
        source: &str,
        version: IncusVersion,
        mode: Mode,
        operations: &[Operation],
    ) -> Result<Result<serde_json::Value, Diagnostic>, SandboxError> {
        match self
            .simulate_job(snapshot, source, version, mode, operations, false)
            .await?
        {
            Outcome::Reply(Reply::Simulated(result)) => Ok(result),
            Outcome::Reply(other) => Err(unexpected(other)),
            Outcome::Died(error) => Ok(Err(error)),
        }
    }

    /// [`Sandbox::simulate`] with the lines and branches of `source` the simulation ran.
    /// Several simulations' coverage adds up with [`Coverage::merge`] (a matrix, a set of
    /// cases).
    pub async fn simulate_covered(
        &self,
        snapshot: JobSnapshot<'_>,
        source: &str,
        version: IncusVersion,
        mode: Mode,
        operations: &[Operation],
    ) -> Result<Result<(serde_json::Value, Coverage), Diagnostic>, SandboxError> {
        match self
            .simulate_job(snapshot, source, version, mode, operations, true)
            .await?
        {
            Outcome::Reply(Reply::SimulatedCovered(result)) => Ok(result),
            Outcome::Reply(other) => Err(unexpected(other)),
            Outcome::Died(error) => Ok(Err(error)),
        }
    }

    async fn simulate_job(
        &self,
        snapshot: JobSnapshot<'_>,
        source: &str,
        version: IncusVersion,
        mode: Mode,
        operations: &[Operation],
        coverage: bool,
    ) -> Result<Outcome, SandboxError> {
        let job = |with_snapshot: bool| {
            Job::Simulate(Box::new(SimulateJob {
                frame: self.frame(snapshot, with_snapshot, self.config.simulation_budget),
                source: source.to_owned(),
                incus_version: version.to_string(),
                mode,
                operations: operations.to_vec(),
                coverage,
            }))
        };
        let limit = self.budget_limit("simulation");
        self.run(Some(snapshot.hash), limit, job).await
    }

    /// Runs one golden case in a worker and judges it, with its coverage when asked. A
    /// scriptlet that kills its worker fails the case with the reason.
    pub async fn run_case(
        &self,
        snapshot: JobSnapshot<'_>,
        source: &str,
        version: IncusVersion,
        case: &Case,
        coverage: bool,
    ) -> Result<CaseReply, SandboxError> {
        let job = |with_snapshot: bool| {
            Job::Case(Box::new(CaseJob {
                frame: self.frame(snapshot, with_snapshot, self.config.simulation_budget),
                source: source.to_owned(),
                incus_version: version.to_string(),
                case: case.clone(),
                coverage,
            }))
        };
        let limit = self.budget_limit("case");
        match self.run(Some(snapshot.hash), limit, job).await? {
            Outcome::Reply(Reply::CaseRun(reply)) => Ok(*reply),
            Outcome::Reply(other) => Err(unexpected(other)),
            Outcome::Died(error) => Ok(CaseReply {
                verdict: Err(error.message),
                compile_error: None,
                coverage: None,
            }),
        }
    }

    /// Runs one batch of a fuzz campaign in a worker, within `budget` (checked before each
    /// call): its report, or why the scriptlet does not compile. A call that kills its worker
    /// ends the batch with that error.
    pub async fn fuzz_batch(
        &self,
        snapshot: JobSnapshot<'_>,
        source: &str,
        versions: &[String],
        batch: &BatchSpec,
        budget: Duration,
    ) -> Result<Result<BatchReport, Diagnostic>, SandboxError> {
        let job = |with_snapshot: bool| {
            Job::Fuzz(Box::new(FuzzJob {
                frame: self.frame(snapshot, with_snapshot, budget),
                source: source.to_owned(),
                incus_versions: versions.to_vec(),
                batch: batch.clone(),
            }))
        };
        let limit = HardLimit {
            wall: budget + self.config.time_limit + SIMULATION_MARGIN,
            error: Diagnostic::error(
                ErrorKind::Timeout,
                format!("a fuzz batch exceeded its budget of {} s", budget.as_secs_f64()),
            ),
        };
        match self.run(Some(snapshot.hash), limit, job).await? {
            Outcome::Reply(Reply::Fuzzed(result)) => Ok(result.map(|report| *report)),
            Outcome::Reply(other) => Err(unexpected(other)),
            Outcome::Died(error) => Ok(Err(error)),
        }
    }

    /// Replays one shard of an impact replay (`berth_core::impact::replay_shard`) under the
    /// revisions `from` and `to` in a worker, with the simulation budget; with `coverage`, the
    /// `to` revision's lines too. A revision that does not compile is named in the error; a
    /// worker that dies takes the shard's revisions with it (`revision` is `from and to` then).
    #[allow(clippy::too_many_arguments)]
    pub async fn replay(
        &self,
        snapshot: JobSnapshot<'_>,
        from: &str,
        to: &str,
        version: IncusVersion,
        scenario: Scenario,
        instances: &[usize],
        coverage: bool,
    ) -> Result<Result<ReplayedShard, RevisionError>, SandboxError> {
        let job = |with_snapshot: bool| {
            Job::Impact(Box::new(ImpactJob {
                frame: self.frame(snapshot, with_snapshot, self.config.simulation_budget),
                from: from.to_owned(),
                to: to.to_owned(),
                incus_version: version.to_string(),
                scenario,
                instances: instances.to_vec(),
                coverage,
            }))
        };
        let limit = self.budget_limit("replay");
        match self.run(Some(snapshot.hash), limit, job).await? {
            Outcome::Reply(Reply::Replayed(result)) => Ok(result.map(|shard| *shard).map_err(|error| *error)),
            Outcome::Reply(other) => Err(unexpected(other)),
            Outcome::Died(diagnostic) => Ok(Err(RevisionError {
                revision: "from and to".into(),
                diagnostic,
            })),
        }
    }

    /// Runs one simulation of a reason × version matrix in a worker, its calls classified there.
    /// The matrix has one budget, the simulation budget, started at `started`: each simulation
    /// has what is left of it when a worker takes it up. A worker that dies (its memory or CPU
    /// limit) or overruns the budget answers with the cell cut short, saying why.
    pub async fn matrix_simulation(
        &self,
        snapshot: JobSnapshot<'_>,
        source: &str,
        simulation: &PlannedSimulation,
        started: Instant,
        coverage: bool,
    ) -> Result<SimulationRun, SandboxError> {
        let budget = self.config.simulation_budget;
        let job = |with_snapshot: bool| {
            Job::Matrix(Box::new(MatrixJob {
                frame: self.frame(snapshot, with_snapshot, budget),
                source: source.to_owned(),
                simulation: simulation.clone(),
                spent_ms: started.elapsed().as_millis() as u64,
                coverage,
            }))
        };
        let limit = HardLimit {
            wall: budget.saturating_sub(started.elapsed()) + self.config.time_limit + SIMULATION_MARGIN,
            error: Diagnostic::error(
                ErrorKind::Timeout,
                format!("the matrix exceeded its budget of {} s", budget.as_secs_f64()),
            ),
        };
        match self.run(Some(snapshot.hash), limit, job).await? {
            Outcome::Reply(Reply::MatrixRun(run)) => Ok(*run),
            Outcome::Reply(other) => Err(unexpected(other)),
            Outcome::Died(error) => Ok(SimulationRun::cut_short(simulation, error.message)),
        }
    }

    /// How long a simulation job may take before its worker is killed. The worker stops a
    /// simulation itself once the budget is spent (after the call under way, itself bounded by
    /// `time_limit`); the margin covers reading and preparing the snapshot.
    pub fn simulation_hard_limit(&self) -> Duration {
        self.config.simulation_budget + self.config.time_limit + SIMULATION_MARGIN
    }

    /// The hard limit of a job under the simulation budget (`what`: how its error names it).
    /// The frame of a job on `snapshot` with this pool's limits and `budget`; the snapshot's
    /// text only `with_snapshot` (the worker does not hold it).
    fn frame(&self, snapshot: JobSnapshot<'_>, with_snapshot: bool, budget: Duration) -> JobFrame {
        JobFrame {
            snapshot_hash: snapshot.hash.to_owned(),
            snapshot: with_snapshot.then(|| snapshot.json.to_owned()),
            limits: self.config.limits,
            time_limit_ms: self.config.time_limit.as_millis() as u64,
            budget_ms: budget.as_millis() as u64,
        }
    }

    fn budget_limit(&self, what: &str) -> HardLimit {
        HardLimit {
            wall: self.simulation_hard_limit(),
            error: Diagnostic::error(
                ErrorKind::Timeout,
                format!(
                    "{what} exceeded its budget of {} s",
                    self.config.simulation_budget.as_secs_f64()
                ),
            ),
        }
    }

    /// The hard limit of a job that is one compilation and at most one call.
    fn call_limit(&self) -> HardLimit {
        HardLimit {
            wall: self.config.time_limit + Duration::from_secs(1),
            error: self.time_limit_error(),
        }
    }

    /// Runs a job on an idle worker (or a new one). `make(true)` builds the job with the
    /// snapshot `snapshot_hash` attached, for a worker that does not have it yet.
    async fn run(
        &self,
        snapshot_hash: Option<&str>,
        limit: HardLimit,
        make: impl Fn(bool) -> Job,
    ) -> Result<Outcome, SandboxError> {
        let metrics = metrics();
        let queued = Raised::new(metrics.sandbox_queue_depth.with_label_values(&[self.name]));
        let waiting = Instant::now();
        let _permit = self
            .permits
            .acquire()
            .await
            .expect("the semaphore is never closed");
        drop(queued);
        metrics
            .sandbox_queue_wait
            .with_label_values(&[self.name])
            .observe(waiting.elapsed().as_secs_f64());
        let _busy = Raised::new(metrics.sandbox_workers_busy.with_label_values(&[self.name]));
        let idle = self.idle.lock().await.pop();
        let mut worker = match idle {
            Some(worker) => worker,
            None => self.spawn().await?,
        };
        let started = Instant::now();
        let mut sent_snapshot = snapshot_hash.is_some_and(|hash| !worker.snapshots.contains(hash));
        let job = make(sent_snapshot);
        let kind = job.kind();
        let mut outcome = self.exchange(&mut worker, &job, &limit).await;
        drop(job);
        if matches!(outcome, Ok(Outcome::Reply(Reply::NeedSnapshot))) {
            // The worker dropped it from its cache.
            sent_snapshot = true;
            outcome = self.exchange(&mut worker, &make(true), &limit).await;
        }
        worker.busy += started.elapsed();
        let label = match &outcome {
            Ok(Outcome::Reply(_)) => "reply",
            Ok(Outcome::Died(_)) => "died",
            Err(_) => "error",
        };
        metrics
            .sandbox_job_duration
            .with_label_values(&[self.name, kind, label])
            .observe(started.elapsed().as_secs_f64());
        if sent_snapshot {
            // The job's copies of the snapshot's JSON are gone now.
            super::release_free_memory();
        }
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(error) => {
                // The worker is dropped (killed) with the job that confused it.
                metrics
                    .sandbox_worker_restarts
                    .with_label_values(&[self.name, "error"])
                    .inc();
                return Err(error);
            }
        };
        let kept = matches!(outcome, Outcome::Reply(_))
            // Retire a worker well before its lifetime CPU limit could strike mid-job.
            && worker.busy < Duration::from_secs(self.cpu_seconds() / 2);
        if kept {
            worker.snapshots.extend(snapshot_hash.map(str::to_owned));
            self.idle.lock().await.push(worker);
        } else {
            let reason = if label == "died" { "died" } else { "retired" };
            metrics
                .sandbox_worker_restarts
                .with_label_values(&[self.name, reason])
                .inc();
        }
        Ok(outcome)
    }

    fn cpu_seconds(&self) -> u64 {
        // Room for many jobs, and for several whole simulations; the wall-time limits are the
        // per-job bounds.
        ((self.config.time_limit.as_secs() + 1) * 300).max(self.config.simulation_budget.as_secs() * 8)
    }

    /// Starts a worker and reads its first line: how it is confined.
    async fn spawn(&self) -> Result<Worker, SandboxError> {
        let mut child = Command::new(&self.config.program)
            .arg("worker")
            .arg("--memory-bytes")
            .arg(self.config.memory_bytes.to_string())
            .arg("--cpu-seconds")
            .arg(self.cpu_seconds().to_string())
            .arg("--confinement")
            .arg(self.config.confinement.as_arg())
            // Nothing of the server's environment: the worker needs none of it, and it holds
            // the database URL.
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            // An aborting worker prints why (e.g. "memory allocation of … failed"); its exit
            // status says the same, so its stderr is not passed on.
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| SandboxError::Spawn {
                program: self.config.program.display().to_string(),
                source,
            })?;
        metrics()
            .sandbox_worker_starts
            .with_label_values(&[self.name])
            .inc();
        let stdin = child.stdin.take().expect("stdin is piped");
        let stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
        let mut worker = Worker {
            child,
            stdin,
            stdout,
            snapshots: HashSet::new(),
            busy: Duration::ZERO,
        };
        let mut line = String::new();
        let first = tokio::time::timeout(START_LIMIT, worker.stdout.read_line(&mut line)).await;
        if !matches!(first, Ok(Ok(read)) if read > 0) {
            let _ = worker.child.start_kill();
            let _ = worker.child.wait().await;
            return Err(SandboxError::Protocol(
                "the scriptlet worker did not start (no first line)".into(),
            ));
        }
        match serde_json::from_str(&line).map_err(|e| SandboxError::Protocol(e.to_string()))? {
            Reply::Ready(report) => {
                self.note_confinement(report);
                Ok(worker)
            }
            Reply::Refused(reason) => Err(SandboxError::Confinement(reason)),
            other => Err(unexpected(other)),
        }
    }

    /// Logs what the kernel did not enforce, for the first worker only (they all get the
    /// same); the rest at debug level.
    fn note_confinement(&self, report: ConfinementReport) {
        if self.confinement.get().is_some() {
            return;
        }
        if report.is_complete() {
            tracing::debug!(confinement = %report.summary(), "scriptlet workers are confined");
        } else {
            tracing::warn!(
                confinement = %report.summary(),
                mode = self.config.confinement.as_arg(),
                "scriptlet workers are not fully confined: this kernel lacks part of what Berth asks for"
            );
        }
        let _ = self.confinement.set(report);
    }

    /// Sends one job and reads its reply within the hard time limit.
    async fn exchange(
        &self,
        worker: &mut Worker,
        job: &Job,
        limit: &HardLimit,
    ) -> Result<Outcome, SandboxError> {
        let mut line = serde_json::to_vec(job).map_err(|e| SandboxError::Protocol(e.to_string()))?;
        line.push(b'\n');
        let mut reply = String::new();
        let exchange = async {
            worker.stdin.write_all(&line).await?;
            worker.stdin.flush().await?;
            worker.stdout.read_line(&mut reply).await
        };
        match tokio::time::timeout(limit.wall, exchange).await {
            Err(_elapsed) => {
                let _ = worker.child.start_kill();
                let _ = worker.child.wait().await;
                return Ok(Outcome::Died(limit.error.clone()));
            }
            Ok(Ok(read)) if read > 0 => {}
            // EOF or a broken pipe: the worker died during the job.
            Ok(_) => return Ok(Outcome::Died(self.death(worker).await)),
        }
        match serde_json::from_str(&reply).map_err(|e| SandboxError::Protocol(e.to_string()))? {
            Reply::Refused(reason) => Err(SandboxError::Refused(reason)),
            reply => Ok(Outcome::Reply(reply)),
        }
    }

    fn time_limit_error(&self) -> Diagnostic {
        let seconds = self.config.time_limit.as_secs_f64();
        Diagnostic::error(
            ErrorKind::Timeout,
            format!("scriptlet exceeded its time limit of {seconds} s"),
        )
    }

    /// Why a worker died, in terms of the scriptlet.
    async fn death(&self, worker: &mut Worker) -> Diagnostic {
        let status = worker.child.wait().await;
        let memory_mib = self.config.memory_bytes >> 20;
        match status.ok().and_then(|status| status.signal()) {
            Some(SIGXCPU) => self.time_limit_error(),
            Some(SIGABRT | SIGSEGV | SIGBUS | SIGKILL) => Diagnostic::error(
                ErrorKind::MemoryLimit,
                format!("scriptlet exceeded its memory limit of {memory_mib} MiB"),
            ),
            Some(signal) => Diagnostic::error(
                ErrorKind::Internal,
                format!("the scriptlet worker died of signal {signal}"),
            ),
            None => Diagnostic::error(ErrorKind::Internal, "the scriptlet worker exited during the job"),
        }
    }
}

/// How long a job may take before its worker is killed, and what the caller is told then.
struct HardLimit {
    wall: Duration,
    error: Diagnostic,
}

/// Beyond a simulation's budget and one call: time to read and prepare the snapshot.
const SIMULATION_MARGIN: Duration = Duration::from_secs(5);

/// How long a readiness probe waits for a worker's answer (starting one included).
const READY_LIMIT: Duration = Duration::from_secs(5);

/// How long a readiness probe's answer is reused.
const READY_REUSE: Duration = Duration::from_secs(2);

/// How long a new worker may take to confine itself and say so (milliseconds on an idle
/// machine; a loaded one may be slow to start a process).
const START_LIMIT: Duration = Duration::from_secs(30);

const SIGABRT: i32 = 6;
const SIGBUS: i32 = 7;
const SIGKILL: i32 = 9;
const SIGSEGV: i32 = 11;
const SIGXCPU: i32 = 24;

fn unexpected(reply: Reply) -> SandboxError {
    SandboxError::Protocol(format!("{reply:?}"))
}
