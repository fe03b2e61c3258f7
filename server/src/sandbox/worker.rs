//! `berth worker`: compiles and evaluates scriptlets for the server, one job per input line,
//! under resource limits set on itself before reading the first job.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::time::{Duration, Instant};

use anyhow::Context;
use berth_core::engine::{check, compile, IncusVersion, PlacementCall, PreparedCluster};
use berth_core::simulate::Simulator;
use berth_core::Snapshot;

use super::protocol::{EvaluateJob, EvaluateReply, Job, Reply, SimulateJob};

/// How many prepared snapshots a worker keeps.
const SNAPSHOT_CACHE: usize = 4;

#[derive(Debug, Clone, Copy)]
pub struct WorkerLimits {
    /// Address space of the whole worker process, in bytes.
    pub memory_bytes: u64,
    /// CPU seconds the worker may use in its lifetime (the pool restarts it long before).
    pub cpu_seconds: u64,
}

/// Runs the worker loop on stdin/stdout until stdin closes.
pub fn run(limits: WorkerLimits) -> anyhow::Result<()> {
    rlimit::Resource::AS
        .set(limits.memory_bytes, limits.memory_bytes)
        .context("cannot limit the worker's memory")?;
    rlimit::Resource::CPU
        .set(limits.cpu_seconds, limits.cpu_seconds)
        .context("cannot limit the worker's CPU time")?;
    // A panic is reported as an error reply; the default hook would print to stderr too.
    std::panic::set_hook(Box::new(|_| {}));

    let mut snapshots: HashMap<String, PreparedCluster> = HashMap::new();
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout().lock();
    for line in stdin.lock().lines() {
        let line = line.context("cannot read a job")?;
        let reply = match serde_json::from_str::<Job>(&line) {
            Ok(job) => handle(job, &mut snapshots),
            Err(error) => Reply::Refused(format!("malformed job: {error}")),
        };
        serde_json::to_writer(&mut stdout, &reply)?;
        stdout.write_all(b"\n")?;
        stdout.flush()?;
    }
    Ok(())
}

fn handle(job: Job, snapshots: &mut HashMap<String, PreparedCluster>) -> Reply {
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
        Job::Evaluate(job) => evaluate(*job, snapshots),
        Job::Simulate(job) => simulate(*job),
    }
}

fn simulate(job: SimulateJob) -> Reply {
    let version = match job.incus_version.parse::<IncusVersion>() {
        Ok(version) => version,
        Err(error) => return Reply::Refused(error.to_string()),
    };
    let snapshot = match Snapshot::from_json(&job.snapshot) {
        Ok(snapshot) => snapshot,
        Err(error) => return Reply::Refused(format!("snapshot: {error}")),
    };
    // Each placement call gets the time limit, as each would in Incus.
    let calls = job.operations.len().max(1) as u64 * snapshot.instances.len().max(1) as u64;
    let deadline = Instant::now() + Duration::from_millis(job.time_limit_ms.saturating_mul(calls));
    let scriptlet = match compile(&job.source, version, &job.limits, &|| Instant::now() >= deadline) {
        Ok(scriptlet) => scriptlet,
        Err(error) => return Reply::Simulated(Err(error)),
    };
    let mut simulator = Simulator::new(scriptlet.as_ref(), version, job.mode);
    simulator.limits = job.limits;
    let simulation = simulator.run(&snapshot, &job.operations);
    Reply::Simulated(Ok(
        serde_json::to_value(&simulation).expect("a simulation serializes")
    ))
}

fn evaluate(job: EvaluateJob, snapshots: &mut HashMap<String, PreparedCluster>) -> Reply {
    let version = match job.incus_version.parse::<IncusVersion>() {
        Ok(version) => version,
        Err(error) => return Reply::Refused(error.to_string()),
    };
    if !snapshots.contains_key(&job.snapshot_hash) {
        let Some(text) = &job.snapshot else {
            return Reply::NeedSnapshot;
        };
        let snapshot = match Snapshot::from_json(text) {
            Ok(snapshot) => snapshot,
            Err(error) => return Reply::Refused(format!("snapshot: {error}")),
        };
        if snapshots.len() >= SNAPSHOT_CACHE {
            snapshots.clear();
        }
        snapshots.insert(job.snapshot_hash.clone(), PreparedCluster::new(&snapshot));
    }
    let cluster = &snapshots[&job.snapshot_hash];
    let started = Instant::now();
    let deadline = started + Duration::from_millis(job.time_limit_ms);
    let cancelled = || Instant::now() >= deadline;
    let (evaluation, compile_error, warnings) = match compile(&job.source, version, &job.limits, &cancelled) {
        Ok(Some(scriptlet)) => {
            let local_member = job.local_member.as_deref().unwrap_or(cluster.default_location());
            let call = PlacementCall {
                request: &job.request,
                candidates: &job.candidates,
                local_member,
            };
            let evaluation = scriptlet.evaluate(cluster, &call, &job.limits, &cancelled);
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
