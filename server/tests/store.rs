//! The store on both databases: every test here runs on SQLite and on PostgreSQL (the
//! throw-away cluster of `scripts/postgres.sh`), through the same `Store` API: migrations,
//! snapshots, accounts, sessions, tokens, the audit log, refusal of a newer schema, and
//! copying a whole store from one database to the other.

mod support;

use berth_core::access::Role;
use berth_core::demo::demo_snapshot;
use berth_server::db::{
    known_schema_version, AuditFilter, ClientKeyChange, ConnectionRecord, NewAuditEntry, Store, StoreError,
    UserChange, DATABASE_FILE,
};
use support::database::{Backend, TestDatabase};

/// Runs each named test (an `async fn(TestDatabase)`) once on SQLite and once on PostgreSQL.
macro_rules! on_both_databases {
    ($($test:ident),* $(,)?) => {
        $(
            mod $test {
                use super::*;

                #[tokio::test]
                async fn sqlite() {
                    super::$test(TestDatabase::fresh(Backend::Sqlite).await).await;
                }

                #[tokio::test]
                async fn postgres() {
                    super::$test(TestDatabase::fresh(Backend::Postgres).await).await;
                }
            }
        )*
    };
}

/// An audit entry of `kind` about `subject`, as a service makes one for the store method.
fn entry(kind: &str, subject: &str) -> NewAuditEntry {
    NewAuditEntry {
        at: 1,
        actor_id: None,
        actor: None,
        kind: kind.into(),
        subject: Some(subject.into()),
        detail: serde_json::json!({}),
        address: None,
    }
}

on_both_databases!(
    opening_applies_every_migration,
    a_snapshot_is_stored_once_and_loads_back_equal,
    snapshots_survive_a_restart_and_list_newest_first,
    a_database_from_a_newer_berth_is_refused,
    a_damaged_snapshot_body_is_reported_not_served,
    users_sessions_and_tokens_round_trip,
    the_audit_log_filters_counts_and_refuses_changes,
    the_copy_table_list_names_every_column_of_the_schema,
    a_lease_has_one_holder_until_it_expires,
    scriptlets_keep_numbered_revisions,
    connections_and_snapshot_deletion,
    client_keys_are_replaced_all_or_none,
    plans_change_state_only_from_the_state_they_were_read_in,
    a_rollout_step_moves_forward_once,
);

async fn a_lease_has_one_holder_until_it_expires(database: TestDatabase) {
    // Two replicas: two stores on one database.
    let (a, b) = (database.open().await, database.open().await);
    let ttl = 30_000;
    let first = a
        .acquire_lease("plan:1", "replica-a", 1_000, ttl)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.generation, 1);
    assert_eq!(
        b.acquire_lease("plan:1", "replica-b", 2_000, ttl).await.unwrap(),
        None,
        "held by A"
    );
    // Other work is independent.
    assert!(b
        .acquire_lease("plan:2", "replica-b", 2_000, ttl)
        .await
        .unwrap()
        .is_some());
    // A keeps it by renewing; acquiring again as A keeps the generation.
    assert!(a
        .renew_lease("plan:1", "replica-a", 1, 20_000, ttl)
        .await
        .unwrap());
    assert_eq!(
        a.acquire_lease("plan:1", "replica-a", 21_000, ttl)
            .await
            .unwrap()
            .unwrap()
            .generation,
        1
    );
    assert_eq!(
        b.acquire_lease("plan:1", "replica-b", 40_000, ttl).await.unwrap(),
        None,
        "renewed until 51 s"
    );
    // A stops renewing (it died): once expired, B takes over with a new generation...
    let taken = b
        .acquire_lease("plan:1", "replica-b", 51_000, ttl)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(taken.generation, 2);
    // ...and A, back from a pause, learns it lost the lease instead of working on.
    assert!(!a
        .renew_lease("plan:1", "replica-a", 1, 52_000, ttl)
        .await
        .unwrap());
    assert!(!a.release_lease("plan:1", "replica-a", 1).await.unwrap());
    // A lease that expired is not renewed either, even by its holder.
    assert!(!b
        .renew_lease("plan:1", "replica-b", 2, 90_000, ttl)
        .await
        .unwrap());
    // Released, it is free at once.
    assert!(b
        .acquire_lease("plan:1", "replica-b", 91_000, ttl)
        .await
        .unwrap()
        .is_some());
    assert!(b.release_lease("plan:1", "replica-b", 2).await.unwrap());
    assert_eq!(
        a.acquire_lease("plan:1", "replica-a", 91_500, ttl)
            .await
            .unwrap()
            .unwrap()
            .generation,
        3
    );
}

#[tokio::test]
async fn many_replicas_racing_for_one_lease_leave_one_holder() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let database = TestDatabase::fresh(backend).await;
        let mut stores = Vec::new();
        for _ in 0..6 {
            stores.push(database.open().await);
        }
        let attempts = stores.iter().enumerate().map(|(replica, store)| {
            let store = store.clone();
            async move {
                store
                    .acquire_lease("plan:7", &format!("replica-{replica}"), 1_000, 30_000)
                    .await
                    .unwrap()
            }
        });
        let granted = futures::future::join_all(attempts).await;
        assert_eq!(granted.iter().flatten().count(), 1, "{backend:?}: {granted:?}");
    }
}

async fn opening_applies_every_migration(database: TestDatabase) {
    let store = database.open().await;
    let (version,): (i64,) = sqlx::query_as("SELECT MAX(version) FROM _sqlx_migrations")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(version, known_schema_version());
    store.ping().await.unwrap();
    // Opening again (a second replica, a restart) migrates nothing and succeeds.
    database.open().await.ping().await.unwrap();
}

#[tokio::test]
async fn sqlite_is_a_wal_database_in_the_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("nested/data")).await.unwrap();
    assert!(dir.path().join("nested/data").join(DATABASE_FILE).is_file());
    let (mode,): (String,) = sqlx::query_as("PRAGMA journal_mode")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    let (keys,): (i64,) = sqlx::query_as("PRAGMA foreign_keys")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(keys, 1);
}

async fn a_snapshot_is_stored_once_and_loads_back_equal(database: TestDatabase) {
    let store = database.open().await;
    let demo = demo_snapshot();
    let added = entry("snapshot.added", "demo");
    let (id, inserted) = store.insert_snapshot(&demo, &added).await.unwrap();
    assert!(inserted);
    assert_eq!(store.insert_snapshot(&demo, &added).await.unwrap(), (id, false));
    let entries = store.audit_of_subject("demo").await.unwrap();
    assert_eq!(entries.len(), 1, "stored once, recorded once: {entries:?}");
    let detail: serde_json::Value = serde_json::from_str(&entries[0].detail).unwrap();
    assert_eq!(detail["snapshot_id"], id, "the entry names the new snapshot");

    let rows = store.list_snapshots().await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].content_hash, demo.content_hash());
    assert_eq!(rows[0].instance_count, demo.instances.len() as i64);
    assert_eq!(store.load_snapshot(id).await.unwrap(), Some(demo.clone()));
    assert_eq!(store.load_snapshot(id + 1).await.unwrap(), None);
    let stored = store.stored_snapshot(id).await.unwrap().unwrap();
    assert_eq!(stored.content_hash, demo.content_hash());
}

async fn snapshots_survive_a_restart_and_list_newest_first(database: TestDatabase) {
    let store = database.open().await;
    let older = demo_snapshot();
    let mut newer = demo_snapshot();
    newer.captured_at = "2026-11-24T10:00:00Z".into();
    newer.source.name = "later capture".into();
    store
        .insert_snapshot(&older, &entry("snapshot.added", "older"))
        .await
        .unwrap();
    store
        .insert_snapshot(&newer, &entry("snapshot.added", "newer"))
        .await
        .unwrap();
    store.close().await;

    let reopened = database.open().await;
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

async fn a_database_from_a_newer_berth_is_refused(database: TestDatabase) {
    let store = database.open().await;
    let future = known_schema_version() + 1;
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES ($1, 'from the future', TRUE, $2, 0)",
    )
    .bind(future)
    .bind(vec![0u8])
    .execute(store.pool())
    .await
    .unwrap();
    store.close().await;

    let error = Store::connect(&database.url).await.unwrap_err();
    assert!(
        matches!(error, StoreError::SchemaTooNew { found, .. } if found == future),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains("newer Berth"), "{message}");
    assert!(message.contains(&future.to_string()), "{message}");
}

async fn a_damaged_snapshot_body_is_reported_not_served(database: TestDatabase) {
    let store = database.open().await;
    let (id, _) = store
        .insert_snapshot(&demo_snapshot(), &entry("snapshot.added", "demo"))
        .await
        .unwrap();
    sqlx::query("UPDATE snapshots SET body = '{\"format\":\"other\"}' WHERE id = $1")
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

async fn users_sessions_and_tokens_round_trip(database: TestDatabase) {
    let store = database.open().await;
    let alice = store
        .insert_user("alice", Role::Author, "hash-a", 1_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        store
            .insert_user("alice", Role::Viewer, "x", 1_001)
            .await
            .unwrap(),
        None
    );
    let bob = store
        .insert_user("bob", Role::Admin, "hash-b", 1_002)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(store.user_by_name("alice").await.unwrap(), Some(alice.clone()));
    assert!(store.enabled_admins().await.unwrap() == 1);

    let change = UserChange {
        role: Some(Role::Reviewer),
        disabled: Some(true),
        password_hash: None,
    };
    let changed = store.update_user("alice", &change, 2_000).await.unwrap().unwrap();
    assert_eq!(
        (changed.role, changed.disabled, changed.password_hash.as_str()),
        (Role::Reviewer, true, "hash-a")
    );
    let enabled = UserChange {
        disabled: Some(false),
        password_hash: Some("hash-a2".into()),
        ..UserChange::default()
    };
    let changed = store
        .update_user("alice", &enabled, 3_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (changed.role, changed.disabled, changed.password_hash.as_str()),
        (Role::Reviewer, false, "hash-a2")
    );
    assert_eq!(store.update_user("nobody", &enabled, 3_000).await.unwrap(), None);
    let names: Vec<_> = store
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .map(|user| user.username)
        .collect();
    assert_eq!(names, ["alice", "bob"]);

    for (id_hash, at) in [("s1", 10), ("s2", 20), ("s3", 30)] {
        store
            .insert_session(id_hash, alice.id, "csrf", at, Some("127.0.0.1"))
            .await
            .unwrap();
    }
    store
        .insert_session("b1", bob.id, "csrf-b", 40, None)
        .await
        .unwrap();
    let session = store.session("s1").await.unwrap().unwrap();
    assert_eq!(
        (
            session.user.username.as_str(),
            session.csrf_token.as_str(),
            session.last_seen_at
        ),
        ("alice", "csrf", 10)
    );
    store.touch_session("s1", 50).await.unwrap();
    assert_eq!(store.session("s1").await.unwrap().unwrap().last_seen_at, 50);
    // Every other session of alice ends; the kept one and bob's stay.
    assert_eq!(store.delete_sessions_of(alice.id, Some("s1")).await.unwrap(), 2);
    assert!(store.session("s2").await.unwrap().is_none());
    assert!(store.session("s1").await.unwrap().is_some());
    assert_eq!(
        store.delete_expired_sessions(45, 0).await.unwrap(),
        1,
        "b1 was idle"
    );
    assert!(store.delete_session("s1").await.unwrap());
    assert!(!store.delete_session("s1").await.unwrap());

    let token = store.insert_token(alice.id, "ci", "digest", 60).await.unwrap();
    let (id, user) = store.use_token("digest", 70).await.unwrap().unwrap();
    assert_eq!((id, user.username.as_str()), (token.id, "alice"));
    assert_eq!(
        store.list_tokens(alice.id).await.unwrap()[0].last_used_at,
        Some(70)
    );
    assert_eq!(
        store.revoke_token(bob.id, token.id, 80).await.unwrap(),
        None,
        "not bob's"
    );
    assert!(store
        .revoke_token(alice.id, token.id, 80)
        .await
        .unwrap()
        .is_some());
    assert_eq!(store.use_token("digest", 90).await.unwrap(), None);
    assert!(store.list_tokens(alice.id).await.unwrap().is_empty());
}

async fn the_audit_log_filters_counts_and_refuses_changes(database: TestDatabase) {
    let store = database.open().await;
    let user = store
        .insert_user("carol", Role::Viewer, "h", 0)
        .await
        .unwrap()
        .unwrap();
    let entries = [
        (100, None, "login.failed", "carol", Some("10.0.0.1")),
        (200, None, "login.failed", "carol", Some("10.0.0.2")),
        (300, Some(&user), "login", "carol", Some("10.0.0.1")),
        (400, Some(&user), "token.created", "ci", None),
    ];
    for (at, actor, kind, subject, address) in entries {
        store
            .append_audit(&NewAuditEntry {
                at,
                actor_id: actor.map(|user| user.id),
                actor: actor.map(|user| user.username.clone()),
                kind: kind.into(),
                subject: Some(subject.into()),
                detail: serde_json::json!({"at": at}),
                address: address.map(Into::into),
            })
            .await
            .unwrap();
    }
    let kinds = |filter: AuditFilter| {
        let store = store.clone();
        async move {
            let entries = store
                .audit_entries(&AuditFilter { limit: 10, ..filter })
                .await
                .unwrap();
            entries.into_iter().map(|entry| entry.kind).collect::<Vec<_>>()
        }
    };
    assert_eq!(
        kinds(AuditFilter::default()).await,
        ["token.created", "login", "login.failed", "login.failed"]
    );
    let family = AuditFilter {
        kind: Some("login".into()),
        ..AuditFilter::default()
    };
    assert_eq!(kinds(family).await, ["login", "login.failed", "login.failed"]);
    let by_carol = AuditFilter {
        actor: Some("carol".into()),
        ..AuditFilter::default()
    };
    assert_eq!(kinds(by_carol).await, ["token.created", "login"]);
    let window = AuditFilter {
        since: Some(200),
        until: Some(400),
        ..AuditFilter::default()
    };
    assert_eq!(kinds(window).await, ["login", "login.failed"]);
    assert_eq!(
        store
            .count_recent("login.failed", "carol", Some("10.0.0.1"), 50)
            .await
            .unwrap(),
        (2, 1)
    );
    assert_eq!(
        store
            .count_recent("login.failed", "carol", None, 150)
            .await
            .unwrap(),
        (1, 0)
    );

    for statement in ["UPDATE audit_log SET kind = 'forged'", "DELETE FROM audit_log"] {
        let error = sqlx::query(statement).execute(store.pool()).await.unwrap_err();
        assert!(error.to_string().contains("append-only"), "{statement}: {error}");
    }
}

async fn the_copy_table_list_names_every_column_of_the_schema(database: TestDatabase) {
    let store = database.open().await;
    let mut listed: Vec<&str> = berth_server::db::copy::TABLES
        .iter()
        .map(|(table, _)| *table)
        .collect();
    listed.sort();
    assert_eq!(
        store.table_names().await.unwrap(),
        listed,
        "every table is copied"
    );
    for (table, columns) in berth_server::db::copy::TABLES {
        let listed: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
        assert_eq!(store.table_columns(table).await.unwrap(), listed, "{table}");
    }
}

async fn scriptlets_keep_numbered_revisions(database: TestDatabase) {
    let store = database.open().await;
    let id = store
        .insert_scriptlet(
            "spread",
            "def instance_placement(r, c):\n    pass\n",
            "first",
            "ann",
            100,
        )
        .await
        .unwrap()
        .expect("a new name is accepted");
    assert_eq!(
        store
            .insert_scriptlet("spread", "", "again", "bob", 101)
            .await
            .unwrap(),
        None,
        "a taken name is refused"
    );
    assert_eq!(
        store
            .insert_revision(id, "# two", "second", "bob", 200)
            .await
            .unwrap(),
        Some(2)
    );
    assert_eq!(
        store
            .insert_revision(id, "# three", "", "ann", 300)
            .await
            .unwrap(),
        Some(3)
    );
    assert_eq!(
        store
            .insert_revision(id + 100, "# x", "", "ann", 300)
            .await
            .unwrap(),
        None
    );

    let row = store.scriptlet(id).await.unwrap().unwrap();
    assert_eq!(
        (row.revisions, row.updated_at, row.updated_by.as_str()),
        (3, 300, "ann")
    );
    assert_eq!((row.created_by.as_str(), row.created_at), ("ann", 100));
    let numbers: Vec<i64> = store
        .revisions(id)
        .await
        .unwrap()
        .iter()
        .map(|r| r.number)
        .collect();
    assert_eq!(numbers, vec![3, 2, 1], "newest first");
    let second = store.revision(id, 2).await.unwrap().unwrap();
    assert_eq!(
        (
            second.source.as_str(),
            second.message.as_str(),
            second.author.as_str()
        ),
        ("# two", "second", "bob")
    );
    assert!(store.revision(id, 4).await.unwrap().is_none());

    let other = store
        .insert_scriptlet("pin", "", "", "bob", 400)
        .await
        .unwrap()
        .unwrap();
    let listed: Vec<(i64, String)> = store
        .list_scriptlets()
        .await
        .unwrap()
        .into_iter()
        .map(|row| (row.id, row.name))
        .collect();
    assert_eq!(
        listed,
        vec![(other, "pin".to_owned()), (id, "spread".to_owned())],
        "most recently changed first"
    );
}

async fn connections_and_snapshot_deletion(database: TestDatabase) {
    let store = database.open().await;
    let connection = ConnectionRecord {
        name: "prod".into(),
        remote: "https://192.0.2.1:8443".into(),
        client_cert: Some("CERT".into()),
        client_key: Some("KEY".into()),
        server_cert: None,
        server_ca: None,
        server_fingerprint: Some("ab".repeat(32)),
        created_by: "root".into(),
        created_at: 5,
    };
    let (added, deleted) = (
        entry("connection.added", "prod"),
        entry("connection.deleted", "prod"),
    );
    assert!(store.insert_connection(&connection, &added).await.unwrap());
    assert!(
        !store.insert_connection(&connection, &added).await.unwrap(),
        "names are unique"
    );
    assert_eq!(store.connection("prod").await.unwrap(), Some(connection.clone()));
    assert_eq!(store.list_connections().await.unwrap(), vec![connection]);
    assert!(store.delete_connection("prod", &deleted).await.unwrap());
    assert!(!store.delete_connection("prod", &deleted).await.unwrap());
    assert!(store.list_connections().await.unwrap().is_empty());
    let kinds: Vec<String> = store
        .audit_of_subject("prod")
        .await
        .unwrap()
        .into_iter()
        .map(|entry| entry.kind)
        .collect();
    assert_eq!(
        kinds,
        ["connection.added", "connection.deleted"],
        "one entry per change made"
    );

    let (id, _) = store
        .insert_snapshot(&demo_snapshot(), &entry("snapshot.added", "demo"))
        .await
        .unwrap();
    assert!(
        store.stored_snapshot(id).await.unwrap().is_some(),
        "read into the cache"
    );
    let gone = entry("snapshot.deleted", "demo");
    assert!(store.delete_snapshot(id, &gone).await.unwrap());
    assert!(
        store.stored_snapshot(id).await.unwrap().is_none(),
        "gone from the cache too"
    );
    assert!(store.snapshot_row(id).await.unwrap().is_none());
    assert!(!store.delete_snapshot(id, &gone).await.unwrap());
    let deletions = store
        .audit_of_subject("demo")
        .await
        .unwrap()
        .into_iter()
        .filter(|entry| entry.kind == "snapshot.deleted")
        .count();
    assert_eq!(deletions, 1);
}

async fn client_keys_are_replaced_all_or_none(database: TestDatabase) {
    let store = database.open().await;
    for name in ["a", "b"] {
        let record = ConnectionRecord {
            name: name.into(),
            remote: "https://192.0.2.1:8443".into(),
            client_cert: Some("CERT".into()),
            client_key: Some(format!("v1:old:{name}")),
            server_cert: None,
            server_ca: None,
            server_fingerprint: Some("ab".repeat(32)),
            created_by: "root".into(),
            created_at: 5,
        };
        assert!(store
            .insert_connection(&record, &entry("connection.added", name))
            .await
            .unwrap());
    }
    assert_eq!(store.client_key_sealers().await.unwrap(), ["old"]);
    let change = |name: &str, from: &str| ClientKeyChange {
        connection: name.into(),
        from: from.into(),
        to: format!("v1:new:{name}"),
    };
    // One of them holds another value than the one it is replaced from: nothing changes.
    let stale = [change("a", "v1:old:a"), change("b", "v1:other:b")];
    assert!(!store
        .replace_client_keys(&stale, &entry("connection.rekeyed", "keys"))
        .await
        .unwrap());
    assert_eq!(store.client_key_sealers().await.unwrap(), ["old"]);
    assert!(
        store.audit_of_subject("keys").await.unwrap().is_empty(),
        "no entry for what was not done"
    );
    let both = [change("a", "v1:old:a"), change("b", "v1:old:b")];
    assert!(store
        .replace_client_keys(&both, &entry("connection.rekeyed", "keys"))
        .await
        .unwrap());
    assert_eq!(store.client_key_sealers().await.unwrap(), ["new"]);
    assert_eq!(store.audit_of_subject("keys").await.unwrap().len(), 1);
}

/// A store with something in every table.
async fn populate(store: &Store) {
    let user = store
        .insert_user("dave", Role::Operator, "argon2-hash", 5)
        .await
        .unwrap()
        .unwrap();
    store
        .insert_user("erin", Role::Viewer, "argon2-hash-2", 6)
        .await
        .unwrap();
    store
        .update_user(
            "erin",
            &UserChange {
                disabled: Some(true),
                ..UserChange::default()
            },
            7,
        )
        .await
        .unwrap();
    store
        .insert_session("session-digest", user.id, "csrf", 8, Some("192.0.2.1"))
        .await
        .unwrap();
    let token = store
        .insert_token(user.id, "ci", "token-digest", 9)
        .await
        .unwrap();
    store.revoke_token(user.id, token.id, 10).await.unwrap();
    store
        .insert_token(user.id, "other", "token-digest-2", 11)
        .await
        .unwrap();
    store
        .insert_snapshot(&demo_snapshot(), &entry("snapshot.added", "demo"))
        .await
        .unwrap();
    let scriptlet = store
        .insert_scriptlet(
            "spread",
            "def instance_placement(r, c):\n    pass\n",
            "first",
            "dave",
            15,
        )
        .await
        .unwrap()
        .unwrap();
    store
        .insert_revision(scriptlet, "# ünïcode ✓", "second", "dave", 16)
        .await
        .unwrap();
    store
        .insert_connection(
            &ConnectionRecord {
                name: "lab".into(),
                remote: "unix:///var/lib/incus/unix.socket".into(),
                client_cert: None,
                client_key: None,
                server_cert: None,
                server_ca: None,
                server_fingerprint: None,
                created_by: "dave".into(),
                created_at: 17,
            },
            &entry("connection.added", "lab"),
        )
        .await
        .unwrap();
    store
        .acquire_lease("plan:3", "replica-a", 14, 30_000)
        .await
        .unwrap()
        .unwrap();
    let plan = store
        .insert_plan(
            &berth_server::db::NewPlanRow {
                name: "ünïcode plan",
                connection: "lab",
                author: "dave",
                stop_on_failure: false,
                required_approvals: 1,
                reverse_of: None,
                now: 18,
            },
            &[berth_server::db::PlanMoveRow {
                project: "default".into(),
                name: "c1".into(),
                target_project: "web".into(),
                target: "".into(),
                ..Default::default()
            }],
        )
        .await
        .unwrap();
    store
        .set_plan_state(plan, "draft", "in_review", 19)
        .await
        .unwrap();
    store.add_plan_approval(plan, "erin", 20).await.unwrap();
    store
        .add_plan_comment(plan, Some(1), "erin", "✓", 21)
        .await
        .unwrap();
    // A rollout plan, executed: its step carries the previous text and the revision kept.
    let rollout = store
        .insert_rollout_plan(
            &berth_server::db::NewPlanRow {
                name: "roll out ✓",
                connection: "lab",
                author: "dave",
                stop_on_failure: true,
                required_approvals: 1,
                reverse_of: None,
                now: 22,
            },
            scriptlet,
            2,
            "# ünïcode ✓",
        )
        .await
        .unwrap();
    store.set_rollout_preview(rollout, "", "{}").await.unwrap();
    assert!(store.start_rollout(rollout, "", 3, 23).await.unwrap());
    assert!(store
        .finish_rollout(rollout, "succeeded", None, 24)
        .await
        .unwrap());
    store
        .append_audit(&NewAuditEntry {
            at: 12,
            actor_id: Some(user.id),
            actor: Some("dave".into()),
            kind: "login".into(),
            subject: Some("dave".into()),
            detail: serde_json::json!({"ünïcode": "✓"}),
            address: None,
        })
        .await
        .unwrap();
}

/// The rows without the audit entries of copies (a copy adds one to its destination).
fn without_copies(
    mut tables: Vec<(&'static str, Vec<Vec<berth_server::db::copy::Cell>>)>,
) -> Vec<(&'static str, Vec<Vec<berth_server::db::copy::Cell>>)> {
    use berth_server::db::copy::Cell;
    for (table, rows) in &mut tables {
        if *table == "audit_log" {
            rows.retain(|row| row[4] != Cell::Text(Some("store.copied".into())));
        }
    }
    tables
}

async fn all_rows(store: &Store) -> Vec<(&'static str, Vec<Vec<berth_server::db::copy::Cell>>)> {
    let mut tables = Vec::new();
    for (table, _) in berth_server::db::copy::TABLES {
        tables.push((*table, store.table_rows(table).await.unwrap()));
    }
    tables
}

#[tokio::test]
async fn a_store_copied_to_postgres_and_back_is_the_same() {
    let sqlite = TestDatabase::fresh(Backend::Sqlite).await;
    let postgres = TestDatabase::fresh(Backend::Postgres).await;
    let back = TestDatabase::fresh(Backend::Sqlite).await;
    let source = sqlite.open().await;
    populate(&source).await;

    let report = source
        .copy_into(&postgres.open().await, &entry("store.copied", "copy"))
        .await
        .unwrap();
    let counts: Vec<_> = report
        .tables
        .iter()
        .map(|(table, rows)| format!("{table}={rows}"))
        .collect();
    assert_eq!(
        counts,
        [
            "users=2",
            "sessions=1",
            "api_tokens=2",
            "snapshots=1",
            "scriptlets=1",
            "scriptlet_revisions=2",
            "connections=1",
            "audit_log=3",
            "leases=1",
            "plans=2",
            "plan_moves=1",
            "plan_approvals=1",
            "plan_comments=1",
            "plan_rollouts=1"
        ]
    );
    let target = postgres.open().await;
    target
        .copy_into(&back.open().await, &entry("store.copied", "copy"))
        .await
        .unwrap();

    let original = all_rows(&source).await;
    assert_eq!(
        without_copies(all_rows(&target).await),
        original,
        "SQLite → PostgreSQL"
    );
    assert_eq!(
        without_copies(all_rows(&back.open().await).await),
        original,
        "and back"
    );
    // Each copy is the last entry of its destination, with what it copied.
    let copies = back.open().await.audit_of_subject("copy").await.unwrap();
    assert_eq!(
        copies.len(),
        2,
        "the first copy's entry travelled with the second"
    );
    let detail: serde_json::Value = serde_json::from_str(&copies[1].detail).unwrap();
    assert_eq!(detail["rows"]["audit_log"], 4, "{detail}");
    assert_eq!(detail["rows"]["connections"], 1, "{detail}");
    assert_eq!(target.load_snapshot(1).await.unwrap(), Some(demo_snapshot()));

    // New rows continue after the copied ids on PostgreSQL.
    let added = target
        .insert_user("frank", Role::Viewer, "h", 13)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(added.id, 3);

    // A destination with anything in it is refused, and keeps what it had.
    let error = source
        .copy_into(&target, &entry("store.copied", "copy"))
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::DestinationNotEmpty(..)), "{error:?}");
    assert!(error.to_string().contains("3 rows in users"), "{error}");
    assert_eq!(target.list_users().await.unwrap().len(), 3);
}

#[tokio::test]
async fn postgres_speaks_tls_when_the_url_asks_for_it() {
    let database = TestDatabase::fresh(Backend::Postgres).await;
    for (mode, expected) in [("disable", false), ("require", true)] {
        let mut url = url::Url::parse(&database.text).unwrap();
        url.query_pairs_mut().append_pair("sslmode", mode);
        let store = TestDatabase::at(url.as_str()).open().await;
        let (ssl,): (bool,) = sqlx::query_as("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(ssl, expected, "sslmode={mode}");
        store.close().await;
    }
}

async fn plans_change_state_only_from_the_state_they_were_read_in(database: TestDatabase) {
    use berth_server::db::{NewPlanRow, PlanMoveRow};
    let store = database.open().await;
    let planned = |name: &str| PlanMoveRow {
        project: "default".into(),
        name: name.into(),
        target_project: "web".into(),
        target: "@gA".into(),
        ..PlanMoveRow::default()
    };
    let new = NewPlanRow {
        name: "spring cleaning",
        connection: "prod",
        author: "ann",
        stop_on_failure: true,
        required_approvals: 2,
        reverse_of: None,
        now: 10,
    };
    let id = store
        .insert_plan(&new, &[planned("a"), planned("b")])
        .await
        .unwrap();
    let second = store.insert_plan(&new, &[planned("c")]).await.unwrap();
    assert_ne!(id, second);
    let row = store.plan(id).await.unwrap().unwrap();
    assert_eq!(
        (row.state.as_str(), row.required_approvals, row.stop_on_failure),
        ("draft", 2, 1)
    );
    let moves = store.plan_moves(id).await.unwrap();
    assert_eq!(
        moves
            .iter()
            .map(|m| (m.position, m.name.as_str(), m.state.as_str()))
            .collect::<Vec<_>>(),
        [(1, "a", "pending"), (2, "b", "pending")]
    );
    // Approvals only count in review, once per person; leaving review for a draft drops them.
    assert!(!store.add_plan_approval(id, "rita", 11).await.unwrap());
    assert!(store.set_plan_state(id, "draft", "in_review", 12).await.unwrap());
    assert!(
        !store.set_plan_state(id, "draft", "in_review", 12).await.unwrap(),
        "compare-and-set"
    );
    assert!(store.add_plan_approval(id, "rita", 13).await.unwrap());
    assert!(!store.add_plan_approval(id, "rita", 14).await.unwrap());
    assert_eq!(store.plan_approvals(id).await.unwrap(), ["rita"]);
    assert!(store.set_plan_state(id, "in_review", "draft", 15).await.unwrap());
    assert!(store.plan_approvals(id).await.unwrap().is_empty());
    // A preview records where each instance was; an edit drops the preview and the moves.
    assert!(store
        .set_plan_preview(id, "draft", "{}", 7, &[Some("m1".into()), None], 16)
        .await
        .unwrap());
    assert_eq!(
        store.plan_moves(id).await.unwrap()[0].from_member.as_deref(),
        Some("m1")
    );
    assert!(!store
        .replace_plan_moves(id, "approved", "in_review", &[planned("z")], 17)
        .await
        .unwrap());
    assert!(store
        .replace_plan_moves(id, "draft", "draft", &[planned("z")], 17)
        .await
        .unwrap());
    let row = store.plan(id).await.unwrap().unwrap();
    assert_eq!((row.preview, row.preview_snapshot), (None, None));
    assert_eq!(store.plan_moves(id).await.unwrap().len(), 1);
    // A move goes forward once: the second runner loses.
    assert!(store
        .update_plan_move(id, 1, "pending", "running", None, Some("m2"), Some(20), None)
        .await
        .unwrap());
    assert!(!store
        .update_plan_move(id, 1, "pending", "running", None, Some("m3"), Some(21), None)
        .await
        .unwrap());
    store
        .set_plan_move_operation(id, 1, "/1.0/operations/x")
        .await
        .unwrap();
    assert!(store
        .update_plan_move(
            id,
            1,
            "running",
            "failed",
            Some("Incus said no"),
            None,
            None,
            Some(25)
        )
        .await
        .unwrap());
    let moved = &store.plan_moves(id).await.unwrap()[0];
    assert_eq!(
        (
            moved.state.as_str(),
            moved.decision.as_deref(),
            moved.detail.as_deref(),
            moved.operation.as_deref(),
            moved.started_at,
            moved.finished_at
        ),
        (
            "failed",
            Some("m2"),
            Some("Incus said no"),
            Some("/1.0/operations/x"),
            Some(20),
            Some(25)
        )
    );
    store
        .add_plan_comment(id, Some(1), "rita", "why m2?", 30)
        .await
        .unwrap();
    store.add_plan_comment(id, None, "ann", "load", 31).await.unwrap();
    let comments = store.plan_comments(id).await.unwrap();
    assert_eq!(
        comments
            .iter()
            .map(|c| (c.position, c.author.as_str()))
            .collect::<Vec<_>>(),
        [(Some(1), "rita"), (None, "ann")]
    );
    assert!(store.set_plan_state(id, "draft", "in_review", 40).await.unwrap());
    assert!(store
        .supersede_plan(id, "in_review", "m3 left", 41)
        .await
        .unwrap());
    assert_eq!(
        store.plan(id).await.unwrap().unwrap().superseded.as_deref(),
        Some("m3 left")
    );
    assert_eq!(store.plans_in_state("superseded").await.unwrap(), [id]);
    assert!(store
        .set_plan_state(id, "superseded", "in_review", 42)
        .await
        .unwrap());
    assert_eq!(
        store.plan(id).await.unwrap().unwrap().superseded,
        None,
        "submitted again"
    );
    assert_eq!(
        store.list_plans().await.unwrap()[0].id,
        id,
        "most recently changed first"
    );
}

async fn a_rollout_step_moves_forward_once(database: TestDatabase) {
    use berth_server::db::NewPlanRow;
    let store = database.open().await;
    let scriptlet = store
        .insert_scriptlet("spread", "# one", "first", "ann", 1)
        .await
        .unwrap()
        .unwrap();
    let new = NewPlanRow {
        name: "roll out",
        connection: "prod",
        author: "ann",
        stop_on_failure: true,
        required_approvals: 1,
        reverse_of: None,
        now: 10,
    };
    let id = store
        .insert_rollout_plan(&new, scriptlet, 1, "# one")
        .await
        .unwrap();
    let row = store.plan(id).await.unwrap().unwrap();
    assert_eq!(row.state, "draft");
    assert!(
        store.plan_moves(id).await.unwrap().is_empty(),
        "a rollout has no moves"
    );
    let step = store.plan_rollout(id).await.unwrap().unwrap();
    assert_eq!(
        (step.revision, step.source.as_str(), step.state.as_str()),
        (1, "# one", "pending")
    );
    assert_eq!(step.impact, None);
    store
        .set_rollout_preview(id, "# live", "{\"summary\":\"x\"}")
        .await
        .unwrap();

    // Finishing needs it running; starting needs it pending: each happens once.
    assert!(!store.finish_rollout(id, "succeeded", None, 11).await.unwrap());
    assert!(store.start_rollout(id, "# live", 2, 12).await.unwrap());
    assert!(
        !store.start_rollout(id, "# live", 3, 13).await.unwrap(),
        "a second runner loses"
    );
    assert!(store
        .finish_rollout(id, "failed", Some("Incus said no"), 14)
        .await
        .unwrap());
    assert!(!store.finish_rollout(id, "succeeded", None, 15).await.unwrap());
    let step = store.plan_rollout(id).await.unwrap().unwrap();
    assert_eq!(step.state, "failed");
    assert_eq!(step.detail.as_deref(), Some("Incus said no"));
    assert_eq!(
        (step.previous.as_deref(), step.previous_revision),
        (Some("# live"), Some(2))
    );
    assert_eq!(step.live_at_preview.as_deref(), Some("# live"));
    assert_eq!((step.started_at, step.finished_at), (Some(12), Some(14)));
    assert_eq!(store.plan_rollout(id + 1).await.unwrap(), None);
}
