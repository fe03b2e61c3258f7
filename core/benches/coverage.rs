//! What line coverage costs a replay (`cargo bench -p berth-core --bench coverage`): an impact
//! replay (scenario `new`) of the demo scaled to 100 members and 2,000 instances, each placed
//! by two revisions of the reference scriptlet (`fixtures/spread_by_free_memory.star`, and
//! the same with an eighth of its anti-affinity penalty), compiled for replays as the worker
//! compiles them, on one thread.
//!
//! - `replay`: without coverage.
//! - `replay_covered`: both revisions compiled for coverage, every statement counted.
//!
//! Goal (issue 20): `replay_covered` within 1.5× of `replay`.

use std::hint::black_box;
use std::time::Duration;

use berth_core::demo::scale::scaled;
use berth_core::engine::{compile_with, CompileOptions, IncusVersion, Limits, PreparedCluster, Scriptlet};
use berth_core::impact::{replay_shard, shards, Scenario, Scope};
use berth_core::simulate::{Mode, Simulator};
use criterion::{criterion_group, criterion_main, Criterion};

const REFERENCE: &str = include_str!("fixtures/spread_by_free_memory.star");
/// The seed `scripts/scale-snapshots.sh` uses.
const SEED: u64 = 3;

fn compiled(source: &str, coverage: bool) -> Scriptlet {
    compile_with(
        source,
        IncusVersion::DEFAULT,
        &Limits::default(),
        &|| false,
        CompileOptions::REPLAY.with_coverage(coverage),
    )
    .unwrap()
    .unwrap()
}

fn benches(c: &mut Criterion) {
    let mut snapshot = scaled(100, 2_000, SEED);
    let mut prepared = PreparedCluster::new(&snapshot);
    let changed = REFERENCE.replace("* 8 * GIB", "* 1 * GIB");
    assert_ne!(changed, REFERENCE);
    let instances: Vec<usize> = shards(&snapshot, &Scope::All, Scenario::New, usize::MAX)
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(instances.len(), 2_000);

    let mut group = c.benchmark_group("coverage_replay_2000_x2");
    group.sample_size(10).measurement_time(Duration::from_secs(15));
    for (name, coverage) in [("replay", false), ("replay_covered", true)] {
        let (from, to) = (compiled(REFERENCE, coverage), compiled(&changed, coverage));
        let simulator = |scriptlet| Simulator::new(Some(scriptlet), IncusVersion::DEFAULT, Mode::Upstream);
        let (from_simulator, to_simulator) = (simulator(&from), simulator(&to));
        let shard = replay_shard(
            &from_simulator,
            &to_simulator,
            &mut snapshot,
            &mut prepared,
            Scenario::New,
            &instances,
        );
        assert_eq!(shard.instances, instances.len());
        if coverage {
            let lines = to.take_coverage().expect("compiled for coverage");
            assert!(lines.lines_hit() > 10, "{}", lines.summary());
        }
        group.bench_function(name, |b| {
            b.iter(|| {
                black_box(replay_shard(
                    &from_simulator,
                    &to_simulator,
                    &mut snapshot,
                    &mut prepared,
                    Scenario::New,
                    &instances,
                ))
            })
        });
    }
    group.finish();
}

criterion_group!(coverage, benches);
criterion_main!(coverage);
