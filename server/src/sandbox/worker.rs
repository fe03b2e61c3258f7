//! `berth worker`: compiles and evaluates scriptlets for the server, one job per input line,
//! under resource limits and a confinement (`confinement/`) set on itself before reading the
//! first job. Its first line out says how it is confined.

use std::collections::VecDeque;
use std::io::{BufRead, Write};
use std::time::{Duration, Instant};

use anyhow::Context;
use berth_core::cases::DirectCall;
use berth_core::coverage::Coverage;
use berth_core::engine::{
    check, compile, compile_with, CompileOptions, Diagnostic, IncusVersion, Limits, PreparedCluster,
    Scriptlet,
};
use berth_core::fuzz::{run_batch, BatchEngine, Domain};
use berth_core::impact::replay_shard;
use berth_core::simulate::{Deadlines, Simulator};
use berth_core::Snapshot;

use super::confinement::{self, Confinement, Layer};
use super::protocol::{
    CaseJob, CaseReply, EvaluateJob, EvaluateReply, FuzzJob, ImpactJob, Job, JobFrame, MatrixJob,
    ReplayedShard, Reply, RevisionError, SimulateJob,
};

/// How many prepared snapshots a worker keeps.
const SNAPSHOT_CACHE: usize = 4;

/// `berth worker --memory-bytes N --cpu-seconds N --confinement MODE`, as the pool starts it.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct WorkerArgs {
    /// Address space of the whole worker process, in bytes.
    #[arg(long)]
    pub memory_bytes: u64,
    /// CPU seconds the worker may use in its lifetime (the pool restarts it long before).
    #[arg(long)]
    pub cpu_seconds: u64,
    /// Whether the worker runs when the kernel cannot confine it (the server's
    /// `--sandbox-confinement`).
    #[arg(long, value_enum, default_value_t = Confinement::Required)]
    pub confinement: Confinement,
    /// Only this layer of the confinement (the tests that show each refusing on its own; the
    /// pool never passes it).
    #[arg(long, value_enum)]
    pub only: Option<Layer>,
}

/// A snapshot as a worker keeps it: parsed (simulations start from a copy of it) and marshalled
/// once onto a frozen Starlark heap (evaluations share it; simulations start from a copy).
struct Prepared {
    snapshot: Snapshot,
    cluster: PreparedCluster,
}

/// Prepared snapshots by content hash, least recently used first.
#[derive(Default)]
struct PreparedSnapshots(VecDeque<(String, Prepared)>);

impl PreparedSnapshots {
    /// The snapshot `hash`, prepared from `text` if the worker does not have it yet; without
    /// `text` then, [`Reply::NeedSnapshot`].
    fn get(&mut self, hash: &str, text: Option<&str>) -> Result<&mut Prepared, Reply> {
        match self.0.iter().position(|(cached, _)| cached == hash) {
            Some(position) => {
                let entry = self.0.remove(position).expect("the position was just found");
                self.0.push_back(entry);
            }
            None => {
                let text = text.ok_or(Reply::NeedSnapshot)?;
                // Make room first: two whole clusters at once may not fit the memory limit.
                if self.0.len() >= SNAPSHOT_CACHE {
                    self.0.pop_front();
                }
                let snapshot = Snapshot::from_json(text)
                    .map_err(|error| Reply::Refused(format!("snapshot: {error}")))?;
                let cluster = PreparedCluster::new(&snapshot);
                self.0
                    .push_back((hash.to_owned(), Prepared { snapshot, cluster }));
            }
        }
        Ok(&mut self.0.back_mut().expect("just pushed").1)
    }
}

/// Runs the worker loop on stdin/stdout until stdin closes.
pub fn run(args: WorkerArgs) -> anyhow::Result<()> {
    limit_memory(args.memory_bytes)?;
    rlimit::Resource::CPU
        .set(args.cpu_seconds, args.cpu_seconds)
        .context("cannot limit the worker's CPU time")?;
    // A panic is reported as an error reply; the default hook would print to stderr too.
    std::panic::set_hook(Box::new(|_| {}));

    let mut snapshots = PreparedSnapshots::default();
    let mut scriptlets = CompiledScriptlets::default();
    let mut domains = FuzzDomains::default();
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout().lock();
    // From here on the worker needs nothing but what it holds: stdin, stdout, stderr.
    let layers = match args.only {
        Some(layer) => vec![layer],
        None => vec![Layer::Seccomp, Layer::Landlock],
    };
    let report = confinement::confine(&layers);
    if let Some(reason) = report.refusal(args.confinement) {
        send(&mut stdout, &Reply::Refused(reason.clone()))?;
        anyhow::bail!(reason);
    }
    send(&mut stdout, &Reply::Ready(report))?;
    for line in stdin.lock().lines() {
        let line = line.context("cannot read a job")?;
        let (reply, large) = match serde_json::from_str::<Job>(&line) {
            Ok(job) => {
                let large = match &job {
                    Job::Check { .. } => false,
                    Job::Evaluate(job) => job.snapshot.is_some(),
                    Job::Simulate(_) => true,
                    Job::Matrix(job) => job.frame.snapshot.is_some(),
                    Job::Impact(job) => job.frame.snapshot.is_some(),
                    Job::Case(job) => job.frame.snapshot.is_some(),
                    Job::Fuzz(job) => job.frame.snapshot.is_some(),
                    Job::Probe(_) => false,
                };
                let mut held = Held {
                    snapshots: &mut snapshots,
                    scriptlets: &mut scriptlets,
                    domains: &mut domains,
                };
                (handle(job, &mut held), large)
            }
            Err(error) => (Reply::Refused(format!("malformed job: {error}")), false),
        };
        drop(line);
        send(&mut stdout, &reply)?;
        if large {
            super::release_free_memory();
        }
    }
    Ok(())
}

/// Limits the memory the worker's data may take to `memory_bytes`: `RLIMIT_DATA`, which since
/// Linux 4.7 counts every private writable mapping (the heap, each allocator arena as far as it
/// is in use, large allocations, the threads' stacks) and nothing else. So a scriptlet is
/// accepted or refused for what it makes the engine use, and not for what the machine maps
/// besides: an address-space limit (`RLIMIT_AS`) also counted the program's code, its
/// libraries and the 64 MiB glibc reserves (as `PROT_NONE`) for each thread's arena, which
/// differ between builds and machines, and refused the 200,000-term line Incus accepts (its
/// compile thread's stack alone is 492 MiB) on one machine and not another. The stack a deep
/// scriptlet's compile thread is given is counted whole: it is reserved for the scriptlet, and
/// the engine touches nearly all of it.
///
/// A kernel booted with `ignore_rlimit_data` only warns about `RLIMIT_DATA`, so the address
/// space keeps a limit of its own as a backstop: the data limit plus room for what holds no
/// data (code, libraries, reservations), well above what any build maps.
fn limit_memory(memory_bytes: u64) -> anyhow::Result<()> {
    rlimit::Resource::DATA
        .set(memory_bytes, memory_bytes)
        .context("cannot limit the worker's memory")?;
    let backstop = memory_bytes.saturating_add(ADDRESS_SPACE_ALLOWANCE);
    rlimit::Resource::AS
        .set(backstop, backstop)
        .context("cannot limit the worker's address space")?;
    Ok(())
}

/// Address space that holds no scriptlet data: code, libraries, the allocator's reservations.
const ADDRESS_SPACE_ALLOWANCE: u64 = 1 << 30;

/// Writes one reply line.
fn send(stdout: &mut impl Write, reply: &Reply) -> anyhow::Result<()> {
    serde_json::to_writer(&mut *stdout, reply)?;
    stdout.write_all(b"\n")?;
    stdout.flush()?;
    Ok(())
}

/// What a worker keeps between jobs.
struct Held<'h> {
    snapshots: &'h mut PreparedSnapshots,
    scriptlets: &'h mut CompiledScriptlets,
    domains: &'h mut FuzzDomains,
}

fn handle(job: Job, held: &mut Held) -> Reply {
    match job {
        Job::Check {
            source,
            incus_version,
            limits,
            time_limit_ms,
        } => {
            let version = match incus_version.parse::<IncusVersion>() {
                Ok(version) => version,
                Err(error) => return Reply::Refused(error.to_string()),
            };
            let deadline = Instant::now() + Duration::from_millis(time_limit_ms);
            Reply::Checked(check(&source, version, &limits, &|| Instant::now() >= deadline))
        }
        Job::Evaluate(job) => evaluate(*job, held.snapshots),
        Job::Simulate(job) => simulate(*job, held.snapshots),
        Job::Matrix(job) => matrix(*job, held.snapshots),
        Job::Impact(job) => impact(*job, held.snapshots, held.scriptlets),
        Job::Case(job) => run_case(*job, held.snapshots),
        Job::Fuzz(job) => fuzz(*job, held),
        Job::Probe(job) => Reply::Probed(super::probe::probe(&job)),
    }
}

/// How many compiled scriptlets a worker keeps: an impact replay sends the same two revisions
/// with every shard, a fuzz run one per version with every batch.
const SCRIPTLET_CACHE: usize = 8;

/// Scriptlets kept compiled between jobs (replays: decisions only, pure functions memoized;
/// fuzz batches: decisions only, statements counted) by version, source and options, least
/// recently used first. `None`: the source is empty (Incus's default placement).
#[derive(Default)]
struct CompiledScriptlets(VecDeque<(ScriptletKey, Option<Scriptlet>)>);

type ScriptletKey = (IncusVersion, String, CompileOptions);

impl CompiledScriptlets {
    fn get(
        &mut self,
        source: &str,
        version: IncusVersion,
        options: CompileOptions,
        limits: &Limits,
        cancelled: &dyn Fn() -> bool,
    ) -> Result<Option<&Scriptlet>, Diagnostic> {
        let key = (version, source.to_owned(), options);
        match self.0.iter().position(|(cached, _)| *cached == key) {
            Some(position) => {
                let entry = self.0.remove(position).expect("the position was just found");
                self.0.push_back(entry);
            }
            None => {
                let scriptlet = compile_with(source, version, limits, cancelled, options)?;
                if self.0.len() >= SCRIPTLET_CACHE {
                    self.0.pop_front();
                }
                self.0.push_back((key, scriptlet));
            }
        }
        Ok(self.0.back().expect("just pushed").1.as_ref())
    }

    /// A scriptlet [`CompiledScriptlets::get`] compiled before.
    fn peek(&self, source: &str, version: IncusVersion, options: CompileOptions) -> Option<&Scriptlet> {
        self.0
            .iter()
            .find(|((v, s, o), _)| *v == version && s == source && *o == options)
            .and_then(|(_, scriptlet)| scriptlet.as_ref())
    }
}

/// What a fuzz domain is made from: the snapshot's hash, the source, the versions.
type DomainKey = (String, String, Vec<String>);

/// Fuzz domains by snapshot, source and versions: a campaign sends the same with every batch.
#[derive(Default)]
struct FuzzDomains(VecDeque<(DomainKey, Domain)>);

const DOMAIN_CACHE: usize = 2;

impl FuzzDomains {
    fn get(&mut self, key: DomainKey, make: impl FnOnce() -> Domain) -> &Domain {
        match self.0.iter().position(|(cached, _)| *cached == key) {
            Some(position) => {
                let entry = self.0.remove(position).expect("the position was just found");
                self.0.push_back(entry);
            }
            None => {
                if self.0.len() >= DOMAIN_CACHE {
                    self.0.pop_front();
                }
                self.0.push_back((key, make()));
            }
        }
        &self.0.back().expect("just pushed").1
    }
}

/// The wall clocks of a simulation: each scriptlet call (and the compilation) gets the time
/// limit from its own start, as each call does in Incus; the whole simulation gets its budget
/// from the job's start, checked before each call.
struct WallClock {
    per_call: Duration,
    budget: Duration,
    started: Instant,
}

impl WallClock {
    /// A job's clock, started `spent` ago (a matrix simulation's budget is the whole matrix's).
    fn of(frame: &JobFrame, spent: Duration) -> WallClock {
        let now = Instant::now();
        WallClock {
            per_call: Duration::from_millis(frame.time_limit_ms),
            budget: Duration::from_millis(frame.budget_ms),
            started: now.checked_sub(spent).unwrap_or(now),
        }
    }
}

impl Deadlines for WallClock {
    /// The cancellation of one call starting now.
    fn start_call(&self) -> Box<dyn Fn() -> bool + '_> {
        let deadline = Instant::now() + self.per_call;
        Box::new(move || Instant::now() >= deadline)
    }

    fn budget_spent(&self) -> bool {
        self.started.elapsed() >= self.budget
    }

    fn budget(&self) -> Duration {
        self.budget
    }
}

fn simulate(job: SimulateJob, snapshots: &mut PreparedSnapshots) -> Reply {
    let clock = WallClock::of(&job.frame, Duration::ZERO);
    let version = match job.incus_version.parse::<IncusVersion>() {
        Ok(version) => version,
        Err(error) => return Reply::Refused(error.to_string()),
    };
    let prepared = match snapshots.get(&job.frame.snapshot_hash, job.frame.snapshot.as_deref()) {
        Ok(prepared) => prepared,
        Err(reply) => return reply,
    };
    let options = CompileOptions::AUTHOR.with_coverage(job.coverage);
    let scriptlet = match compile_with(
        &job.source,
        version,
        &job.frame.limits,
        &*clock.start_call(),
        options,
    ) {
        Ok(scriptlet) => scriptlet,
        Err(error) if job.coverage => return Reply::SimulatedCovered(Err(error)),
        Err(error) => return Reply::Simulated(Err(error)),
    };
    let mut simulator = Simulator::new(scriptlet.as_ref(), version, job.mode);
    simulator.limits = job.frame.limits;
    // Each call under its own time limit, the whole under the budget; the cached snapshot and
    // prepared cluster changed in place and put back, neither copied nor marshalled again.
    let simulator = simulator.with_deadlines(&clock);
    let simulation = simulator.run_in_place(&mut prepared.snapshot, &mut prepared.cluster, &job.operations);
    let value = serde_json::to_value(&simulation).expect("a simulation serializes");
    if job.coverage {
        let coverage = scriptlet
            .as_ref()
            .and_then(Scriptlet::coverage)
            .unwrap_or_default();
        return Reply::SimulatedCovered(Ok((value, coverage)));
    }
    Reply::Simulated(Ok(value))
}

/// One simulation of a matrix on the cached snapshot and prepared cluster (changed in place and
/// put back), compiled and classified by `berth_core::matrix::run_simulation`.
fn matrix(job: MatrixJob, snapshots: &mut PreparedSnapshots) -> Reply {
    // The budget is the whole matrix's: its clock started before this job did.
    let clock = WallClock::of(&job.frame, Duration::from_millis(job.spent_ms));
    let prepared = match snapshots.get(&job.frame.snapshot_hash, job.frame.snapshot.as_deref()) {
        Ok(prepared) => prepared,
        Err(reply) => return reply,
    };
    Reply::MatrixRun(Box::new(berth_core::matrix::run_simulation_with(
        &job.simulation,
        &job.source,
        &job.frame.limits,
        &clock,
        &mut prepared.snapshot,
        &mut prepared.cluster,
        job.coverage,
    )))
}

fn impact(job: ImpactJob, snapshots: &mut PreparedSnapshots, scriptlets: &mut CompiledScriptlets) -> Reply {
    let clock = WallClock::of(&job.frame, Duration::ZERO);
    let version = match job.incus_version.parse::<IncusVersion>() {
        Ok(version) => version,
        Err(error) => return Reply::Refused(error.to_string()),
    };
    let prepared = match snapshots.get(&job.frame.snapshot_hash, job.frame.snapshot.as_deref()) {
        Ok(prepared) => prepared,
        Err(reply) => return reply,
    };
    let to_options = CompileOptions::REPLAY.with_coverage(job.coverage);
    for (revision, source, options) in [
        ("from", &job.from, CompileOptions::REPLAY),
        ("to", &job.to, to_options),
    ] {
        if let Err(diagnostic) =
            scriptlets.get(source, version, options, &job.frame.limits, &*clock.start_call())
        {
            return Reply::Replayed(Err(Box::new(RevisionError {
                revision: revision.into(),
                diagnostic,
            })));
        }
    }
    // Both are in the cache now (it holds more than two).
    let (from, to) = (
        scriptlets.peek(&job.from, version, CompileOptions::REPLAY),
        scriptlets.peek(&job.to, version, to_options),
    );
    // Counts left from an earlier job on this worker are not this shard's.
    if let Some(to) = to {
        to.take_coverage();
    }
    let simulator = |scriptlet| {
        let mut simulator = Simulator::new(scriptlet, version, berth_core::simulate::Mode::Upstream);
        simulator.limits = job.frame.limits;
        simulator.with_deadlines(&clock)
    };
    let shard = replay_shard(
        &simulator(from),
        &simulator(to),
        &mut prepared.snapshot,
        &mut prepared.cluster,
        job.scenario,
        &job.instances,
    );
    let coverage = job
        .coverage
        .then(|| to.and_then(Scriptlet::take_coverage).unwrap_or_default());
    Reply::Replayed(Ok(Box::new(ReplayedShard { shard, coverage })))
}

/// One golden case, compiled for its version (with coverage when asked), run on the cached
/// snapshot and prepared cluster (put back afterwards) and judged.
fn run_case(job: CaseJob, snapshots: &mut PreparedSnapshots) -> Reply {
    let clock = WallClock::of(&job.frame, Duration::ZERO);
    let default = match job.incus_version.parse::<IncusVersion>() {
        Ok(version) => version,
        Err(error) => return Reply::Refused(error.to_string()),
    };
    let prepared = match snapshots.get(&job.frame.snapshot_hash, job.frame.snapshot.as_deref()) {
        Ok(prepared) => prepared,
        Err(reply) => return reply,
    };
    let version = match job.case.version(default) {
        Ok(version) => version,
        Err(error) => {
            return Reply::CaseRun(Box::new(CaseReply {
                verdict: Err(error),
                compile_error: None,
                coverage: None,
            }))
        }
    };
    let options = CompileOptions::AUTHOR.with_coverage(job.coverage);
    let scriptlet = match compile_with(
        &job.source,
        version,
        &job.frame.limits,
        &*clock.start_call(),
        options,
    ) {
        Ok(scriptlet) => scriptlet,
        Err(error) => {
            return Reply::CaseRun(Box::new(CaseReply {
                verdict: Err(format!(
                    "the scriptlet does not compile for Incus {version}: {}",
                    error.message
                )),
                compile_error: Some(error),
                coverage: None,
            }))
        }
    };
    let verdict = job.case.run(
        scriptlet.as_ref(),
        version,
        &job.frame.limits,
        &clock,
        &mut prepared.snapshot,
        &mut prepared.cluster,
    );
    let coverage = job.coverage.then(|| {
        scriptlet
            .as_ref()
            .and_then(Scriptlet::coverage)
            .unwrap_or_default()
    });
    Reply::CaseRun(Box::new(CaseReply {
        verdict,
        compile_error: None,
        coverage,
    }))
}

/// One batch of a fuzz campaign: the domain and the scriptlets (one per version, counting
/// statements) kept between batches, the cluster's members' statuses changed per call and put
/// back.
fn fuzz(job: FuzzJob, held: &mut Held) -> Reply {
    let clock = WallClock::of(&job.frame, Duration::ZERO);
    let mut versions = Vec::new();
    for name in &job.incus_versions {
        match name.parse::<IncusVersion>() {
            Ok(version) => versions.push((version, name.clone())),
            Err(error) => return Reply::Refused(error.to_string()),
        }
    }
    let prepared = match held
        .snapshots
        .get(&job.frame.snapshot_hash, job.frame.snapshot.as_deref())
    {
        Ok(prepared) => prepared,
        Err(reply) => return reply,
    };
    for (version, _) in &versions {
        if let Err(mut error) = held.scriptlets.get(
            &job.source,
            *version,
            CompileOptions::FUZZ,
            &job.frame.limits,
            &*clock.start_call(),
        ) {
            // With several versions, say which refuses it.
            if versions.len() > 1 {
                error.message = format!("Incus {version}: {}", error.message);
            }
            return Reply::Fuzzed(Err(error));
        }
    }
    let scriptlets: Vec<Option<&Scriptlet>> = versions
        .iter()
        .map(|(version, _)| held.scriptlets.peek(&job.source, *version, CompileOptions::FUZZ))
        .collect();
    for scriptlet in scriptlets.iter().flatten() {
        scriptlet.take_coverage();
    }
    let Prepared { snapshot, cluster } = prepared;
    let key = (
        job.frame.snapshot_hash.clone(),
        job.source.clone(),
        job.incus_versions.clone(),
    );
    let domain = held.domains.get(key, || {
        Domain::new(snapshot, &berth_core::engine::literals(&job.source), &versions)
    });
    let mut engine = BatchEngine {
        domain,
        snapshot,
        cluster,
        scriptlets: scriptlets.clone(),
        limits: job.frame.limits,
        deadlines: &clock,
    };
    let mut report = run_batch(&mut engine, &job.batch);
    let coverages: Vec<Coverage> = scriptlets
        .iter()
        .flatten()
        .filter_map(|scriptlet| scriptlet.take_coverage())
        .collect();
    report.coverage = Some(Coverage::merged(&coverages));
    Reply::Fuzzed(Ok(Box::new(report)))
}

fn evaluate(job: EvaluateJob, snapshots: &mut PreparedSnapshots) -> Reply {
    let version = match job.incus_version.parse::<IncusVersion>() {
        Ok(version) => version,
        Err(error) => return Reply::Refused(error.to_string()),
    };
    let cluster = match snapshots.get(&job.snapshot_hash, job.snapshot.as_deref()) {
        Ok(prepared) => &mut prepared.cluster,
        Err(reply) => return reply,
    };
    let started = Instant::now();
    let deadline = started + Duration::from_millis(job.time_limit_ms);
    let cancelled = || Instant::now() >= deadline;
    let (evaluation, compile_error, warnings) = match compile(&job.source, version, &job.limits, &cancelled) {
        Ok(Some(scriptlet)) => {
            // The members' statuses changed for the call, and put back after it.
            let call = DirectCall {
                incus_version: None,
                request: job.request,
                candidates: job.candidates,
                runs_on: job.local_member,
                member_status: job.member_status,
            };
            let evaluation = call.evaluate(&scriptlet, cluster, &job.limits, &cancelled, None);
            (Some(evaluation), None, scriptlet.warnings)
        }
        Ok(None) => (None, None, Vec::new()),
        Err(error) => (None, Some(error), Vec::new()),
    };
    Reply::Evaluated(Box::new(EvaluateReply {
        evaluation,
        compile_error,
        warnings,
        elapsed_us: started.elapsed().as_micros() as u64,
    }))
}
