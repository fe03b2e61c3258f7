//! Impact replay at scale (`cargo bench -p berth-server --bench impact`): 10,000 instances of
//! the demo scaled to 100 members, each placed by two revisions of the reference scriptlet
//! (`core/benches/fixtures/spread_by_free_memory.star`, and the same with an eighth of its
//! anti-affinity penalty: 510 decisions change), split across the sandbox's two workers as the
//! server runs it.
//!
//! - `replay_10000_x2_new`: the whole replay, scenario `new`, workers already holding the
//!   snapshot prepared and the revisions compiled (as after a first replay of the snapshot).
//!   Goal (issue 12): < 1 s on 2 cores. The reference scriptlet scans its project's instances
//!   on every call (`app_spread`); compiled for replays, that helper runs once per project and
//!   application per worker (`berth_core::engine::memo`).
//! - `replay_10000_x2_new_cold`: the same on fresh workers: starting them, sending and preparing
//!   the snapshot, compiling, then the replay.

use std::sync::Arc;
use std::time::Duration;

use berth_core::demo::scale::scaled;
use berth_core::impact::{Scenario, Scope};
use berth_server::impact::Replay;
use berth_server::sandbox::{JobSnapshot, Sandbox, SandboxConfig};
use criterion::{criterion_group, criterion_main, Criterion};

const REFERENCE: &str = include_str!("../../core/benches/fixtures/spread_by_free_memory.star");
/// The seed `scripts/scale-snapshots.sh` uses.
const SEED: u64 = 3;

fn sandbox() -> Arc<Sandbox> {
    let mut config = SandboxConfig::new(env!("CARGO_BIN_EXE_berth").into());
    config.workers = 2;
    Arc::new(Sandbox::new(config))
}

fn benches(c: &mut Criterion) {
    let snapshot = scaled(100, 10_000, SEED);
    let json = snapshot.to_json();
    let hash = snapshot.content_hash();
    let changed = REFERENCE.replace("* 8 * GIB", "* 1 * GIB");
    assert_ne!(changed, REFERENCE, "the second revision differs");
    let replay = Replay {
        snapshot: &snapshot,
        job_snapshot: JobSnapshot::new(&hash, &json),
        version: berth_core::engine::IncusVersion::DEFAULT,
        from: REFERENCE,
        to: &changed,
        scenario: Scenario::New,
        scope: Scope::All,
        coverage: false,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();

    let warm = sandbox();
    let impact = runtime
        .block_on(replay.run(&warm, |_| {}))
        .expect("the replay runs");
    assert_eq!(impact.instances, 10_000);
    assert!(impact.stopped.is_empty(), "{:?}", impact.stopped);
    assert!(!impact.changed.is_empty(), "the revisions differ in decisions");
    eprintln!("replay: {}", impact.summary());

    let mut group = c.benchmark_group("impact");
    group.sample_size(10).measurement_time(Duration::from_secs(30));
    group.bench_function("replay_10000_x2_new", |b| {
        b.iter(|| runtime.block_on(replay.run(&warm, |_| {})).unwrap())
    });
    group.bench_function("replay_10000_x2_new_cold", |b| {
        b.iter(|| {
            let cold = sandbox();
            runtime.block_on(replay.run(&cold, |_| {})).unwrap()
        })
    });
    group.finish();
}

criterion_group!(impact, benches);
criterion_main!(impact);
