//! The SQLite store: migrations, WAL, snapshots, and refusal of a database from a newer Berth.

use berth_core::demo::demo_snapshot;
use berth_server::db::{known_schema_version, Store, StoreError, DATABASE_FILE};

#[tokio::test]
async fn opening_creates_a_wal_database_with_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("nested/data")).await.unwrap();
    assert!(dir.path().join("nested/data").join(DATABASE_FILE).is_file());
    let (mode,): (String,) = sqlx::query_as("PRAGMA journal_mode")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    let (version,): (i64,) = sqlx::query_as("SELECT MAX(version) FROM _sqlx_migrations")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(version, known_schema_version());
}

#[tokio::test]
async fn a_snapshot_is_stored_once_and_loads_back_equal() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    let demo = demo_snapshot();
    let (id, inserted) = store.insert_snapshot(&demo).await.unwrap();
    assert!(inserted);
    assert_eq!(store.insert_snapshot(&demo).await.unwrap(), (id, false));

    let rows = store.list_snapshots().await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].content_hash, demo.content_hash());
    assert_eq!(rows[0].instance_count, demo.instances.len() as i64);
    assert_eq!(store.load_snapshot(id).await.unwrap(), Some(demo));
    assert_eq!(store.load_snapshot(id + 1).await.unwrap(), None);
}

#[tokio::test]
async fn snapshots_survive_a_restart_and_list_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    let older = demo_snapshot();
    let mut newer = demo_snapshot();
    newer.captured_at = "2026-11-24T10:00:00Z".into();
    newer.source.name = "later capture".into();
    store.insert_snapshot(&older).await.unwrap();
    store.insert_snapshot(&newer).await.unwrap();
    store.close().await;

    let reopened = Store::open(dir.path()).await.unwrap();
    let names: Vec<_> = reopened
        .list_snapshots()
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.name)
        .collect();
    assert_eq!(
        names,
        vec!["later capture".to_string(), older.source.name.clone()]
    );
}

#[tokio::test]
async fn a_database_from_a_newer_berth_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    let future = known_schema_version() + 1;
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES (?, 'from the future', 1, x'00', 0)",
    )
    .bind(future)
    .execute(store.pool())
    .await
    .unwrap();
    store.close().await;

    let error = Store::open(dir.path()).await.unwrap_err();
    assert!(
        matches!(error, StoreError::SchemaTooNew { found, .. } if found == future),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains("newer Berth"), "{message}");
    assert!(message.contains(&future.to_string()), "{message}");
}

#[tokio::test]
async fn a_damaged_snapshot_body_is_reported_not_served() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    let (id, _) = store.insert_snapshot(&demo_snapshot()).await.unwrap();
    sqlx::query("UPDATE snapshots SET body = '{\"format\":\"other\"}' WHERE id = ?")
        .bind(id)
        .execute(store.pool())
        .await
        .unwrap();
    let error = store.load_snapshot(id).await.unwrap_err();
    assert!(matches!(error, StoreError::CorruptSnapshot { .. }), "{error:?}");
    assert!(
        error.to_string().contains("unsupported snapshot format"),
        "{error}"
    );
}
