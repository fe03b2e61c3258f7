//! Scriptlet engine benchmarks (`cargo bench -p berth-core`):
//!
//! - `realistic`: the reference scriptlet (`fixtures/spread_by_free_memory.star`) placing one
//!   instance among 48 candidates of a 50-member / 2,000-instance cluster, with the snapshot
//!   prepared and the scriptlet compiled once, as the sandbox does.
//! - `realistic_two_threads`: the same, two threads evaluating at once (per evaluation).
//! - `fixed_cost`: a trivial scriptlet with one candidate.
//! - `compile`: parse, validate and run the top level of the reference scriptlet.
//! - `loop_per_iteration`: `for i in range(n): acc += (i * i) % 7`, per iteration (n = 1e6),
//!   to compare with go.starlark.net inside Incus (see `scripts/measure-incus-loop.sh`).

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use berth_core::engine::{
    compile, IncusVersion, Limits, PlacementCall, PlacementRequest, PreparedCluster, Scriptlet,
};
use berth_core::model::{
    ClusterMember, ClusterMemberState, CpuResources, Instance, MemoryResources, Project, Resources, SysInfo,
};
use berth_core::snapshot::SnapshotSource;
use berth_core::{Snapshot, SNAPSHOT_FORMAT};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const REFERENCE: &str = include_str!("fixtures/spread_by_free_memory.star");
const GIB: u64 = 1 << 30;

/// 50 members in 5 groups (2 of them offline), 4 projects, 2,000 instances with `user.app`.
fn cluster() -> Snapshot {
    let members: Vec<ClusterMember> = (0..50)
        .map(|index| ClusterMember {
            server_name: format!("node{index:02}"),
            status: if index % 25 == 7 { "Offline" } else { "Online" }.into(),
            architecture: "x86_64".into(),
            groups: vec!["default".into(), format!("rack-{}", index % 5)],
            ..ClusterMember::default()
        })
        .collect();
    let member_resources = members
        .iter()
        .enumerate()
        .map(|(index, member)| {
            let total = (256 + 64 * (index as u64 % 4)) * GIB;
            let resources = Resources {
                cpu: CpuResources {
                    architecture: "x86_64".into(),
                    total: 64,
                    sockets: Vec::new(),
                },
                memory: MemoryResources {
                    total,
                    used: total / 3 + index as u64 * GIB,
                    ..MemoryResources::default()
                },
                ..Resources::default()
            };
            (member.server_name.clone(), resources)
        })
        .collect();
    let member_state: BTreeMap<String, ClusterMemberState> = members
        .iter()
        .map(|member| {
            let state = ClusterMemberState {
                sysinfo: SysInfo {
                    load_averages: vec![1.0, 1.0, 1.0],
                    ..SysInfo::default()
                },
                storage_pools: BTreeMap::new(),
            };
            (member.server_name.clone(), state)
        })
        .collect();
    let projects = ["team-a", "team-b", "team-c", "team-d"]
        .iter()
        .map(|name| Project {
            name: name.to_string(),
            config: if *name == "team-b" {
                [("restricted.cluster.groups".to_owned(), "rack-1,rack-2".to_owned())]
                    .into_iter()
                    .collect()
            } else {
                BTreeMap::new()
            },
            ..Project::default()
        })
        .collect();
    let apps = ["web", "api", "db", "cache", "worker"];
    let instances = (0..2000)
        .map(|index| Instance {
            name: format!("i{index:04}"),
            project: ["team-a", "team-b", "team-c", "team-d"][index % 4].into(),
            location: format!("node{:02}", (index * 7) % 50),
            instance_type: "container".into(),
            config: [("user.app".to_owned(), apps[index % 5].to_owned())]
                .into_iter()
                .collect(),
            ..Instance::default()
        })
        .collect();
    Snapshot {
        format: SNAPSHOT_FORMAT.into(),
        captured_at: "2026-11-25T00:00:00Z".into(),
        source: SnapshotSource {
            kind: "upload".into(),
            name: "bench".into(),
            remote: None,
        },
        server: Default::default(),
        members,
        member_state,
        member_resources,
        cluster_groups: Vec::new(),
        projects,
        profiles: Vec::new(),
        instances,
        images: Vec::new(),
        operations: Vec::new(),
        capture_errors: Vec::new(),
    }
}

fn request() -> PlacementRequest {
    PlacementRequest {
        reason: "new".into(),
        project: "team-a".into(),
        name: "bench-1".into(),
        instance_type: "container".into(),
        config: [("limits.memory", "4GiB"), ("user.app", "api")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        ..PlacementRequest::default()
    }
}

fn compiled(source: &str) -> Scriptlet {
    compile(source, IncusVersion::DEFAULT, &Limits::default(), &|| false)
        .unwrap()
        .unwrap()
}

fn online(snapshot: &Snapshot) -> Vec<String> {
    snapshot
        .members
        .iter()
        .filter(|m| m.status.takes_instances())
        .map(|m| m.server_name.clone())
        .collect()
}

fn benches(c: &mut Criterion) {
    let snapshot = cluster();
    let prepared = PreparedCluster::new(&snapshot);
    let candidates = online(&snapshot);
    assert_eq!(candidates.len(), 48);
    let request = request();
    let reference = compiled(REFERENCE);
    let call = PlacementCall {
        request: &request,
        candidates: &candidates,
        local_member: "node00",
    };
    let check = reference.evaluate(&prepared, &call, &Limits::default(), &|| false);
    assert_eq!(check.error, None, "the reference scriptlet runs");
    assert!(check.target.is_some());

    let mut group = c.benchmark_group("engine");
    group.throughput(Throughput::Elements(1));
    group.bench_function("realistic", |b| {
        b.iter(|| black_box(reference.evaluate(&prepared, &call, &Limits::default(), &|| false)))
    });

    group.bench_function("realistic_two_threads", |b| {
        b.iter_custom(|iterations| {
            let per_thread = iterations.div_ceil(2);
            let started = Instant::now();
            std::thread::scope(|scope| {
                for _ in 0..2 {
                    scope.spawn(|| {
                        for _ in 0..per_thread {
                            black_box(reference.evaluate(&prepared, &call, &Limits::default(), &|| false));
                        }
                    });
                }
            });
            // Wall time for `iterations` evaluations shared by two threads.
            started
                .elapsed()
                .mul_f64(iterations as f64 / (2 * per_thread) as f64)
        })
    });

    let trivial = compiled("def instance_placement(request, candidate_members):\n    set_target(candidate_members[0].server_name)\n");
    let one = vec!["node00".to_owned()];
    let single = PlacementCall {
        request: &request,
        candidates: &one,
        local_member: "node00",
    };
    group.bench_function("fixed_cost", |b| {
        b.iter(|| black_box(trivial.evaluate(&prepared, &single, &Limits::default(), &|| false)))
    });

    group.bench_function("compile", |b| {
        b.iter(|| black_box(compiled(black_box(REFERENCE))))
    });
    group.finish();

    let n = 1_000_000u64;
    let looping = compiled(&format!(
        "def instance_placement(request, candidate_members):\n    acc = 0\n    for i in range({n}):\n        acc += (i * i) % 7\n"
    ));
    let limits = Limits {
        max_steps: 100_000_000,
        ..Limits::default()
    };
    let mut group = c.benchmark_group("loop");
    group.throughput(Throughput::Elements(n));
    group.sample_size(10).measurement_time(Duration::from_secs(10));
    group.bench_function("loop_per_iteration", |b| {
        b.iter(|| black_box(looping.evaluate(&prepared, &single, &limits, &|| false)))
    });
    group.finish();
}

criterion_group!(engine, benches);
criterion_main!(engine);
