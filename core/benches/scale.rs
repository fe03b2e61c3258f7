//! Simulator benchmarks on the demo scaled to 100 members / 5,000 instances
//! (`cargo bench -p berth-core --bench scale`; the snapshots of `scripts/scale-snapshots.sh`):
//!
//! - `prepared_evaluation`: one call of the reference scriptlet (`fixtures/spread_by_free_memory.star`)
//!   on a cluster prepared once, as the worker answers `/api/v1/scriptlets/evaluate`.
//! - `evacuation_per_call`: evacuating [`EVACUATED`] (60 instances: 60 calls), the time per call.
//!   Goal (issue 7): at most 2× a single prepared evaluation of the same call, the cluster updated
//!   incrementally between calls instead of marshalled again.
//! - `evacuation_calls_alone`: the evacuation's 60 calls (their requests and candidates), each
//!   evaluated alone on the prepared cluster: the per-call time to compare with the one above
//!   (the reference scriptlet's work depends on the request's project and `user.app`).
//! - `evacuation`: the same evacuation as a whole. Goal: < 100 ms.
//! - `prepare`: marshalling the whole cluster onto a Starlark heap (`PreparedCluster::new`),
//!   what the worker does once per snapshot.

use std::hint::black_box;
use std::time::{Duration, Instant};

use berth_core::demo::scale::scaled;
use berth_core::engine::{
    compile, IncusVersion, Limits, PlacementCall, PlacementRequest, PreparedCluster, Scriptlet,
};
use berth_core::simulate::{Mode, Operation, Simulation, Simulator};
use berth_core::Snapshot;
use criterion::{criterion_group, criterion_main, Criterion};

const REFERENCE: &str = include_str!("fixtures/spread_by_free_memory.star");

/// The seed `scripts/scale-snapshots.sh` uses (`berth snapshot demo`'s default).
const SEED: u64 = 3;

/// An online member of the 100/5,000 copy with 60 instances.
const EVACUATED: &str = "hv-a04-r03";
const EVACUATED_INSTANCES: usize = 60;

fn compiled(source: &str) -> Scriptlet {
    compile(source, IncusVersion::DEFAULT, &Limits::default(), &|| false)
        .unwrap()
        .unwrap()
}

fn request() -> PlacementRequest {
    PlacementRequest {
        reason: "new".into(),
        project: "default".into(),
        name: "bench-1".into(),
        instance_type: "container".into(),
        config: [("limits.memory", "4GiB"), ("user.app", "api")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        ..PlacementRequest::default()
    }
}

fn online_x86(snapshot: &Snapshot) -> Vec<String> {
    snapshot
        .members
        .iter()
        .filter(|m| m.status == berth_core::model::MemberStatus::Online && m.architecture == "x86_64")
        .filter(|m| !m.config.contains_key("scheduler.instance"))
        .map(|m| m.server_name.clone())
        .collect()
}

/// The simulation the worker runs for `berth simulate --op '{"kind":"evacuate",…}'`: on its
/// cached snapshot and prepared cluster, changed in place and put back.
fn evacuate(simulator: &Simulator, snapshot: &mut Snapshot, prepared: &mut PreparedCluster) -> Simulation {
    let operations = [Operation::Evacuate {
        member: EVACUATED.into(),
    }];
    simulator.run_in_place(snapshot, prepared, &operations)
}

fn benches(c: &mut Criterion) {
    let mut snapshot = scaled(100, 5_000, SEED);
    let on_member = snapshot
        .instances
        .iter()
        .filter(|i| i.location == EVACUATED)
        .count();
    assert_eq!(on_member, EVACUATED_INSTANCES);
    let mut prepared = PreparedCluster::new(&snapshot);
    let reference = compiled(REFERENCE);
    let request = request();
    let candidates = online_x86(&snapshot);
    let call = PlacementCall {
        request: &request,
        candidates: &candidates,
        local_member: "hv-a01",
    };
    let evaluation = reference.evaluate(&prepared, &call, &Limits::default(), &|| false);
    assert_eq!(evaluation.error, None, "the reference scriptlet runs");

    let simulator = Simulator::new(Some(&reference), IncusVersion::DEFAULT, Mode::Upstream);
    let simulation = evacuate(&simulator, &mut snapshot, &mut prepared);
    let calls = simulation.calls.len();
    assert_eq!(calls, EVACUATED_INSTANCES);
    assert!(
        simulation.calls.iter().all(|call| call.error.is_none()),
        "every call succeeds"
    );

    let mut group = c.benchmark_group("scale_100x5000");
    group.sample_size(10).measurement_time(Duration::from_secs(10));
    group.bench_function("prepared_evaluation", |b| {
        b.iter(|| black_box(reference.evaluate(&prepared, &call, &Limits::default(), &|| false)))
    });
    group.bench_function("evacuation_per_call", |b| {
        b.iter_custom(|iterations| {
            let started = Instant::now();
            for _ in 0..iterations {
                black_box(evacuate(&simulator, &mut snapshot, &mut prepared));
            }
            started.elapsed() / calls as u32
        })
    });
    let alone: Vec<(PlacementRequest, Vec<String>, String)> = simulation
        .calls
        .iter()
        .map(|call| {
            (
                call.request.clone(),
                call.candidates.clone(),
                call.runs_on.clone(),
            )
        })
        .collect();
    group.bench_function("evacuation_calls_alone", |b| {
        b.iter_custom(|iterations| {
            let started = Instant::now();
            for _ in 0..iterations {
                for (request, candidates, runs_on) in &alone {
                    let call = PlacementCall {
                        request,
                        candidates,
                        local_member: runs_on,
                    };
                    black_box(reference.evaluate(&prepared, &call, &Limits::default(), &|| false));
                }
            }
            started.elapsed() / calls as u32
        })
    });
    group.bench_function("evacuation", |b| {
        b.iter(|| black_box(evacuate(&simulator, &mut snapshot, &mut prepared)))
    });
    group.bench_function("prepare", |b| {
        b.iter(|| black_box(PreparedCluster::new(&snapshot)))
    });
    group.finish();
}

criterion_group!(scale, benches);
criterion_main!(scale);
