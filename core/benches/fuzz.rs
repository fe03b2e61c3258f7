//! How fast the fuzzer makes calls (`cargo bench -p berth-core --bench fuzz`): one round of a
//! campaign (4 batches of 1,500 calls, as `berth fuzz` sends its workers) on the demo cluster,
//! for Incus 6.0.4, 6.6 and 7.0, with the reference scriptlet
//! (`fixtures/spread_by_free_memory.star`) compiled for the fuzzer (statements counted), on one
//! thread: the batches of a round one after the other, as one worker would run them. The
//! campaign has run three rounds first, so mutations start from a corpus as a real run's do
//! and the failure it finds (the scriptlet raises when no member suits) is known.
//!
//! The figure is calls per second on one core (criterion's throughput); `berth fuzz` runs one
//! worker per core (`--scriptlet-workers`, default 2).
//!
//! Goal (issue 20): ≥ 5,000 calls/s on 2 cores.

use std::hint::black_box;
use std::time::Duration;

use berth_core::demo::demo_snapshot;
use berth_core::engine::{
    compile_with, literals, CompileOptions, IncusVersion, Limits, PreparedCluster, Scriptlet,
};
use berth_core::fuzz::{run_batch, BatchEngine, BatchReport, BatchSpec, Campaign, Domain};
use berth_core::simulate::NoDeadlines;
use berth_core::Snapshot;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const REFERENCE: &str = include_str!("fixtures/spread_by_free_memory.star");
const VERSIONS: [&str; 3] = ["6.0.4", "6.6", "7.0"];

struct Bed {
    snapshot: Snapshot,
    cluster: PreparedCluster,
    domain: Domain,
    scriptlets: Vec<Option<Scriptlet>>,
    limits: Limits,
}

impl Bed {
    fn run(&mut self, spec: &BatchSpec) -> BatchReport {
        let mut engine = BatchEngine {
            domain: &self.domain,
            snapshot: &self.snapshot,
            cluster: &mut self.cluster,
            scriptlets: self.scriptlets.iter().map(Option::as_ref).collect(),
            limits: self.limits,
            deadlines: &NoDeadlines,
        };
        let mut report = run_batch(&mut engine, spec);
        let coverages: Vec<_> = self
            .scriptlets
            .iter()
            .flatten()
            .filter_map(Scriptlet::take_coverage)
            .collect();
        report.coverage = Some(berth_core::coverage::Coverage::merged(&coverages));
        report
    }
}

fn benches(c: &mut Criterion) {
    let snapshot = demo_snapshot();
    let versions: Vec<(IncusVersion, String)> = VERSIONS
        .iter()
        .map(|name| (name.parse().unwrap(), name.to_string()))
        .collect();
    let limits = Limits::default();
    let mut bed = Bed {
        cluster: PreparedCluster::new(&snapshot),
        domain: Domain::new(&snapshot, &literals(REFERENCE), &versions),
        scriptlets: versions
            .iter()
            .map(|(version, _)| {
                compile_with(REFERENCE, *version, &limits, &|| false, CompileOptions::FUZZ).unwrap()
            })
            .collect(),
        snapshot,
        limits,
    };
    let mut campaign = Campaign::new(1);
    for _ in 0..3 {
        let reports = campaign.round().iter().map(|spec| bed.run(spec)).collect();
        campaign.absorb(reports);
    }
    // The reference scriptlet raises when no member suits (a failure the fuzzer finds at once):
    // found in the first rounds, it is not shrunk again in the measured one.
    assert!(!campaign.failures.is_empty());
    assert!(campaign.corpus_len() > 1, "coverage kept no input");
    let round = campaign.round();
    let calls: u64 = round.iter().map(|spec| bed.run(spec).calls).sum();
    assert!(calls > 4_000, "most inputs decode to a call: {calls}");

    let mut group = c.benchmark_group("fuzz_demo_3_versions");
    group.sample_size(10).measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Elements(calls));
    group.bench_function("round_one_thread", |b| {
        b.iter(|| {
            let calls: u64 = round.iter().map(|spec| bed.run(spec).calls).sum();
            black_box(calls)
        })
    });
    group.finish();
}

criterion_group!(fuzz, benches);
criterion_main!(fuzz);
