//! The decision log's ingest (`cargo bench -p berth-server --bench decision_ingest`): a stream
//! recorded on the test bed (`testdata/decision-events.jsonl`, by
//! `scripts/record-decision-events.sh`: 30 creates, 5 moves to another member, 2 to another
//! project, a rename, with the scriptlet's lines and Incus's own info and warning lines) played
//! through the listener's path, the tracker and the recorder, into a fresh store on each
//! database: every event parsed and matched, placements written in one transaction per 100 ms
//! of stream, as the listener's tick does.
//!
//! One iteration is 1,000 lifecycle events: the recording repeated with its instances renamed
//! and its times moved on, about seven thousand events in all. Goal (issue 21): the listener
//! keeps up with 1,000 lifecycle events per second, i.e. an iteration takes well under a
//! second. PostgreSQL runs when `BERTH_TEST_POSTGRES_URL` names the test cluster's admin URL
//! (as `scripts/test.sh` exports it).

use std::time::{Duration, Instant, UNIX_EPOCH};

use berth_core::decisions::{IncusEvent, Tracker, Whereabouts};
use berth_server::db::{DatabaseUrl, Store};
use berth_server::decisions::recorder::Recorder;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sqlx::Connection;

const RECORDED: &str = include_str!("testdata/decision-events.jsonl");
/// Lifecycle events per iteration: one second of the stream the listener must keep up with.
const LIFECYCLE_PER_ITERATION: usize = 1_000;
/// The listener writes what settled every 100 ms: at 1,000 lifecycle events a second, that is
/// every 100 of them.
const LIFECYCLE_PER_FLUSH: usize = 100;

/// The recording repeated into `copies` rounds, each with its instances renamed and its times
/// moved after the round before: one continuous stream.
fn stream(round_offset: usize, copies: usize) -> Vec<(IncusEvent, bool)> {
    let recorded: Vec<IncusEvent> = RECORDED
        .lines()
        .map(|line| serde_json::from_str(line).expect("a recorded event"))
        .collect();
    let first = recorded.first().unwrap().at_ns().unwrap();
    let last = recorded.last().unwrap().at_ns().unwrap();
    let span = last - first + 1_000_000_000;
    let prefix = recorded
        .iter()
        .find_map(|event| {
            let source = event.metadata.get("source")?.as_str()?;
            let name = source.strip_prefix("/1.0/instances/")?;
            Some(name.split('-').next()?.to_owned())
        })
        .expect("the recording names its instances");
    let mut events = Vec::new();
    for copy in 0..copies {
        let round = round_offset + copy;
        for event in &recorded {
            let mut text = serde_json::to_string(event).unwrap();
            text = text.replace(&prefix, &format!("{prefix}r{round}"));
            let mut shifted: IncusEvent = serde_json::from_str(&text).unwrap();
            let at = event.at_ns().unwrap() - first + span * round as i64;
            shifted.timestamp =
                humantime::format_rfc3339_nanos(UNIX_EPOCH + Duration::from_nanos(at as u64)).to_string();
            let lifecycle = shifted.kind == "lifecycle";
            events.push((shifted, lifecycle));
        }
    }
    events
}

/// Plays `events` through a tracker and a recorder into `store`; how many placements were
/// written.
async fn ingest(store: &Store, events: &[(IncusEvent, bool)]) -> u64 {
    let mut tracker = Tracker::new(Whereabouts::default(), 1);
    let mut recorder = Recorder::new(store.clone(), "bench");
    recorder.revision_since(0, (1, 1));
    let mut since_flush = 0;
    for (event, lifecycle) in events {
        let now = event.at_ns().expect("a timestamp");
        recorder.take(tracker.tick(now));
        let (outputs, _lookup) = tracker.push(event, now);
        recorder.take(outputs);
        since_flush += usize::from(*lifecycle);
        if since_flush >= LIFECYCLE_PER_FLUSH {
            recorder.flush(now / 1_000_000).await.expect("the store writes");
            since_flush = 0;
        }
    }
    recorder.take(tracker.flush());
    recorder.flush(0).await.expect("the store writes");
    recorder.recorded
}

fn bench_database_name() -> String {
    format!("berth_bench_{}", std::process::id())
}

async fn fresh_postgres(admin: &str) -> DatabaseUrl {
    sqlx::any::install_default_drivers();
    let name = bench_database_name();
    let mut connection = sqlx::AnyConnection::connect(admin)
        .await
        .expect("the test PostgreSQL answers");
    let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name}")))
        .execute(&mut connection)
        .await;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut connection)
        .await
        .expect("a bench database is created");
    let mut url = url::Url::parse(admin).unwrap();
    url.set_path(&format!("/{name}"));
    DatabaseUrl::parse(url.as_str()).unwrap()
}

fn benches(c: &mut Criterion) {
    let recorded_lifecycle = RECORDED
        .lines()
        .filter(|l| l.contains(r#""type":"lifecycle""#))
        .count();
    let copies = LIFECYCLE_PER_ITERATION.div_ceil(recorded_lifecycle);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let sqlite_dir = tempfile::tempdir().unwrap();
    let mut databases = vec![("sqlite", DatabaseUrl::sqlite_in(sqlite_dir.path()).unwrap())];
    match std::env::var("BERTH_TEST_POSTGRES_URL") {
        Ok(admin) => databases.push(("postgres", runtime.block_on(fresh_postgres(&admin)))),
        Err(_) => eprintln!("BERTH_TEST_POSTGRES_URL is not set: PostgreSQL is not measured"),
    }

    let mut group = c.benchmark_group("decision_ingest");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20))
        .throughput(Throughput::Elements((copies * recorded_lifecycle) as u64));
    for (name, location) in databases {
        let store = runtime.block_on(Store::connect(&location)).unwrap();
        // A first round checks what is measured: every placement of the recording written.
        let check = stream(0, 1);
        let written = runtime.block_on(ingest(&store, &check));
        assert_eq!(
            written, 37,
            "30 creates, 5 moves to another member, 2 to another project"
        );
        let mut round = 1;
        group.bench_function(format!("{name}_1000_lifecycle_events"), |b| {
            b.iter_custom(|iterations| {
                let mut spent = Duration::ZERO;
                for _ in 0..iterations {
                    // Built before the clock starts: the stream arrives, it is not made.
                    let events = stream(round, copies);
                    round += copies;
                    let started = Instant::now();
                    runtime.block_on(ingest(&store, &events));
                    spent += started.elapsed();
                }
                spent
            })
        });
        runtime.block_on(store.close());
    }
    group.finish();
    // The bench's PostgreSQL database goes with it.
    if let Ok(admin) = std::env::var("BERTH_TEST_POSTGRES_URL") {
        runtime.block_on(async {
            let mut connection = sqlx::AnyConnection::connect(&admin)
                .await
                .expect("the test PostgreSQL answers");
            let drop = format!("DROP DATABASE IF EXISTS {}", bench_database_name());
            sqlx::query(sqlx::AssertSqlSafe(drop))
                .execute(&mut connection)
                .await
                .expect("the bench database is dropped");
        });
    }
}

criterion_group!(decision_ingest, benches);
criterion_main!(decision_ingest);
