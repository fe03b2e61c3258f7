//! Redaction benchmarks on the demo scaled to 100 members / 5,000 instances, every instance
//! with a secret of its own (`environment.TOKEN`), so the automaton holds over 5,000 values
//! (`cargo bench -p berth-core --bench redact`):
//!
//! - `secret_values`: collecting a snapshot's secret values into one automaton, what the server
//!   does once per stored snapshot it reads and once per plan preview.
//! - `scrub_clean_line`, `scrub_leaking_line`: one log line of 200 bytes scrubbed, without and
//!   with a secret in it (per line of what a scriptlet printed).
//! - `redacted_copy`: `Snapshot::redacted`, the redacted export.

use std::hint::black_box;

use berth_core::demo::scale::scaled;
use criterion::{criterion_group, criterion_main, Criterion};

fn benches(c: &mut Criterion) {
    let mut snapshot = scaled(100, 5_000, 3);
    for (index, instance) in snapshot.instances.iter_mut().enumerate() {
        let token = format!("token-{index:08}-{}", "x".repeat(24));
        instance.config.insert("environment.TOKEN".into(), token.clone());
        instance.expanded_config.insert("environment.TOKEN".into(), token);
    }
    let secrets = snapshot.secret_values();
    let filler = "placing web/api-0042 on hv-b03: free memory 12.4 GiB after the penalty, ".repeat(3);
    let clean = filler[..200].to_owned();
    let leaking = format!("{}token-00002500-{}", &filler[..160], "x".repeat(24));

    let mut group = c.benchmark_group("redact");
    group.bench_function("secret_values", |b| {
        b.iter(|| black_box(snapshot.secret_values()))
    });
    group.bench_function("scrub_clean_line", |b| {
        b.iter(|| black_box(secrets.scrub(&clean).len()))
    });
    group.bench_function("scrub_leaking_line", |b| {
        b.iter(|| black_box(secrets.scrub(&leaking).len()))
    });
    group.sample_size(20);
    group.bench_function("redacted_copy", |b| b.iter(|| black_box(snapshot.redacted().1)));
    group.finish();
}

criterion_group!(redact, benches);
criterion_main!(redact);
