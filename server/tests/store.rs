//! The store on both databases: every test here runs on SQLite and on PostgreSQL (the
//! throw-away cluster of `scripts/postgres.sh`), through the same `Store` API: migrations,
//! snapshots, accounts, sessions, tokens, the audit log, refusal of a newer schema, and
//! copying a whole store from one database to the other.

use crate::support;

use berth_core::access::Role;
use berth_core::demo::demo_snapshot;
use berth_server::db::{
    known_schema_version, Admission, ApprovalLost, AttemptLimit, AttemptScope, AuditFilter, ClientKeyChange,
    ConnectionRecord, MoveChange, NewAuditEntry, NewDecision, NewGap, NewSessionRow, PlanWrite, PreviewWrite,
    RolloutStart, StateChange, Store, StoreError, UserChange, UserUpdate, DATABASE_FILE,
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
    the_audit_log_filters_and_refuses_changes,
    sign_in_attempts_are_reserved_atomically_and_given_back,
    an_admins_change_revokes_tokens_with_its_entries_or_writes_nothing,
    the_copy_table_list_names_every_column_of_the_schema,
    a_lease_has_one_holder_until_it_expires,
    scriptlets_keep_numbered_revisions,
    connections_and_snapshot_deletion,
    client_keys_are_replaced_all_or_none,
    plans_change_state_only_from_the_state_they_were_read_in,
    a_rollout_step_moves_forward_once,
);

/// The race of approvals and edits on a multi-threaded runtime: the two writes run at once.
mod an_approval_never_lands_on_moves_it_did_not_see {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::an_approval_never_lands_on_moves_it_did_not_see(TestDatabase::fresh(Backend::Sqlite).await)
            .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::an_approval_never_lands_on_moves_it_did_not_see(TestDatabase::fresh(Backend::Postgres).await)
            .await;
    }
}

/// Draft `id` made executing in the store (as if reviewed and approved).
async fn executing(store: &Store, id: i64) {
    let started = PlanWrite {
        plan_id: id,
        now: 12,
        state: Some(StateChange {
            from: "draft",
            to: "executing",
            ..StateChange::default()
        }),
        ..PlanWrite::default()
    };
    store
        .write_plan(&started, &entry("plan.execution_started", &format!("plan:{id}")))
        .await
        .unwrap()
        .expect("a draft");
}

/// The kinds and subjects of every audit entry, oldest first.
async fn audit_trail(store: &Store) -> Vec<(String, Option<String>)> {
    let mut entries = store
        .audit_entries(&AuditFilter {
            limit: 1000,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    entries.reverse();
    entries
        .into_iter()
        .map(|entry| (entry.kind, entry.subject))
        .collect()
}

/// A change applied as an admin would: only what it says, nothing ended.
fn plain_update(change: &UserChange) -> UserUpdate<'_> {
    UserUpdate {
        change,
        entries: &[],
        end_access: None,
    }
}

fn session<'a>(
    id_hash: &'a str,
    user_id: i64,
    csrf_token: &'a str,
    now: i64,
    address: Option<&'a str>,
) -> NewSessionRow<'a> {
    NewSessionRow {
        id_hash,
        user_id,
        csrf_token,
        now,
        address,
    }
}

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
        .insert_user(
            "alice",
            Role::Author,
            "hash-a",
            1_000,
            &entry("user.created", "alice"),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        store
            .insert_user("alice", Role::Viewer, "x", 1_001, &entry("user.created", "alice"))
            .await
            .unwrap(),
        None
    );
    let bob = store
        .insert_user("bob", Role::Admin, "hash-b", 1_002, &entry("user.created", "bob"))
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
    let (changed, _) = store
        .update_user("alice", &plain_update(&change), 2_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (changed.role, changed.disabled, changed.password_hash.as_str()),
        (Role::Reviewer, true, "hash-a")
    );
    let enabled = UserChange {
        disabled: Some(false),
        password_hash: Some("hash-a2".into()),
        ..UserChange::default()
    };
    let (changed, _) = store
        .update_user("alice", &plain_update(&enabled), 3_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (changed.role, changed.disabled, changed.password_hash.as_str()),
        (Role::Reviewer, false, "hash-a2")
    );
    assert_eq!(
        store
            .update_user("nobody", &plain_update(&enabled), 3_000)
            .await
            .unwrap(),
        None
    );
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
            .open_session(
                &[],
                &session(id_hash, alice.id, "csrf", at, Some("127.0.0.1")),
                &entry("login", "alice"),
            )
            .await
            .unwrap();
    }
    store
        .open_session(
            &[],
            &session("b1", bob.id, "csrf-b", 40, None),
            &entry("login", "bob"),
        )
        .await
        .unwrap();
    let found = store.session("s1").await.unwrap().unwrap();
    assert_eq!(
        (
            found.user.username.as_str(),
            found.csrf_token.as_str(),
            found.last_seen_at
        ),
        ("alice", "csrf", 10)
    );
    store.touch_session("s1", 50).await.unwrap();
    assert_eq!(store.session("s1").await.unwrap().unwrap().last_seen_at, 50);
    // A password changed by its user ends every other session of theirs; the kept one and
    // bob's stay, and the entry says how many ended.
    assert_eq!(
        store
            .change_own_password(
                "alice",
                "hash-a3",
                55,
                Some("s1"),
                &entry("password.changed", "alice")
            )
            .await
            .unwrap(),
        Some(2)
    );
    assert!(store.session("s2").await.unwrap().is_none());
    assert!(store.session("s1").await.unwrap().is_some());
    assert_eq!(
        store.delete_expired_sessions(45, 0).await.unwrap(),
        1,
        "b1 was idle"
    );
    assert!(store.end_session("s1", &entry("logout", "alice")).await.unwrap());
    assert!(!store.end_session("s1", &entry("logout", "alice")).await.unwrap());
    assert!(!store.delete_session("s1").await.unwrap());

    let token = store
        .insert_token(alice.id, "ci", "digest", 60, &entry("token.created", "ci"))
        .await
        .unwrap();
    let (id, user) = store.use_token("digest", 70).await.unwrap().unwrap();
    assert_eq!((id, user.username.as_str()), (token.id, "alice"));
    assert_eq!(store.token_holder(token.id).await.unwrap(), Some(user));
    assert_eq!(
        store.list_tokens(alice.id).await.unwrap()[0].last_used_at,
        Some(70)
    );
    assert_eq!(store.list_all_tokens().await.unwrap().len(), 1);
    assert_eq!(
        store
            .revoke_token(bob.id, token.id, 80, &entry("token.revoked", ""))
            .await
            .unwrap(),
        None,
        "not bob's"
    );
    assert!(store
        .revoke_token(alice.id, token.id, 80, &entry("token.revoked", ""))
        .await
        .unwrap()
        .is_some());
    assert_eq!(store.use_token("digest", 90).await.unwrap(), None);
    assert_eq!(store.token_holder(token.id).await.unwrap(), None);
    assert!(store.list_tokens(alice.id).await.unwrap().is_empty());

    // Each change wrote its entry, and only changes that happened did: the taken name, the
    // session ended twice and bob's try at alice's token wrote none. The store names the
    // token an entry is about, and counts the sessions a password change ended.
    let trail: Vec<(String, String)> = audit_trail(&store)
        .await
        .into_iter()
        .map(|(kind, subject)| (kind, subject.unwrap_or_default()))
        .collect();
    let expected = [
        ("user.created", "alice"),
        ("user.created", "bob"),
        ("login", "alice"),
        ("login", "alice"),
        ("login", "alice"),
        ("login", "bob"),
        ("password.changed", "alice"),
        ("logout", "alice"),
        ("token.created", "ci"),
        ("token.revoked", "ci"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(kind, subject)| (kind.to_string(), subject.to_string()))
        .collect();
    assert_eq!(trail, expected);
    let details: Vec<serde_json::Value> = store
        .audit_entries(&AuditFilter {
            limit: 3,
            ..AuditFilter::default()
        })
        .await
        .unwrap()
        .iter()
        .map(|entry| serde_json::from_str(&entry.detail).unwrap())
        .collect();
    assert_eq!(details[0]["token_id"], token.id);
    assert_eq!(details[1]["token_id"], token.id);
    let changed = store
        .audit_entries(&AuditFilter {
            kind: Some("password.changed".into()),
            limit: 1,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(changed[0].detail, r#"{"sessions_ended":2}"#);
}

async fn an_admins_change_revokes_tokens_with_its_entries_or_writes_nothing(database: TestDatabase) {
    let store = database.open().await;
    let carol = store
        .insert_user("carol", Role::Author, "h", 0, &entry("user.created", "carol"))
        .await
        .unwrap()
        .unwrap();
    for (name, digest) in [("ci", "d1"), ("laptop", "d2")] {
        store
            .insert_token(carol.id, name, digest, 1, &entry("token.created", name))
            .await
            .unwrap();
    }
    store
        .open_session(
            &[],
            &session("s", carol.id, "c", 2, None),
            &entry("login", "carol"),
        )
        .await
        .unwrap();
    let disable = UserChange {
        disabled: Some(true),
        ..UserChange::default()
    };
    let revoked = entry("token.revoked", "");
    let update = UserUpdate {
        change: &disable,
        entries: &[entry("user.disabled", "carol")],
        end_access: Some(&revoked),
    };
    // No such user: nothing is written at all.
    let before = audit_trail(&store).await.len();
    assert_eq!(store.update_user("nobody", &update, 3).await.unwrap(), None);
    assert_eq!(audit_trail(&store).await.len(), before);

    let (user, ended) = store.update_user("carol", &update, 3).await.unwrap().unwrap();
    assert!(user.disabled);
    assert_eq!((ended.sessions, ended.tokens), (1, 2));
    assert!(store.session("s").await.unwrap().is_none());
    assert!(store.list_tokens(carol.id).await.unwrap().is_empty());
    assert_eq!(store.use_token("d1", 4).await.unwrap(), None);
    // One entry per token revoked, named after it, then the change's own.
    let trail = audit_trail(&store).await;
    let mut tail: Vec<_> = trail[trail.len() - 3..trail.len() - 1].to_vec();
    tail.sort();
    assert_eq!(
        tail,
        [
            ("token.revoked".to_owned(), Some("ci".to_owned())),
            ("token.revoked".to_owned(), Some("laptop".to_owned()))
        ]
    );
    assert_eq!(
        trail.last().unwrap(),
        &("user.disabled".to_owned(), Some("carol".to_owned()))
    );
    // Enabled again, the tokens stay revoked.
    let enable = UserChange {
        disabled: Some(false),
        ..UserChange::default()
    };
    store
        .update_user("carol", &plain_update(&enable), 5)
        .await
        .unwrap();
    assert_eq!(store.use_token("d2", 6).await.unwrap(), None);
}

async fn sign_in_attempts_are_reserved_atomically_and_given_back(database: TestDatabase) {
    let store = database.open().await;
    let window = 900_000;
    let limits = |address: &'static str| {
        [
            AttemptLimit {
                scope: AttemptScope::Username,
                name: "dave",
                max_attempts: 5,
            },
            AttemptLimit {
                scope: AttemptScope::Address,
                name: address,
                max_attempts: 20,
            },
        ]
    };
    let refused = entry("login.rate_limited", "dave");

    // Thirty attempts at once, from two replicas (two pools on one database): exactly five
    // are reserved, whatever the interleaving.
    let replicas = [database.open().await, database.open().await];
    let attempts = (0..30).map(|attempt| {
        let store = replicas[attempt % 2].clone();
        let refused = refused.clone();
        tokio::spawn(async move {
            store
                .reserve_sign_in(&limits("10.0.0.1"), 1_000, window, &refused)
                .await
                .unwrap()
        })
    });
    let admissions = futures::future::join_all(attempts).await;
    let reserved: Vec<_> = admissions
        .iter()
        .filter_map(|admission| match admission.as_ref().unwrap() {
            Admission::Reserved(reservations) => Some(reservations.clone()),
            Admission::Refused { .. } => None,
        })
        .collect();
    assert_eq!(reserved.len(), 5);
    assert!(admissions
        .iter()
        .all(|admission| match admission.as_ref().unwrap() {
            Admission::Refused { until } => *until == 1_000 + window,
            Admission::Reserved(_) => true,
        }));
    assert_eq!(
        store.login_limit(AttemptScope::Username, "dave").await.unwrap(),
        Some((5, 25)),
        "five attempts held, twenty-five refusals counted"
    );
    // A refused attempt reserved nothing on the address either.
    assert_eq!(
        store
            .login_limit(AttemptScope::Address, "10.0.0.1")
            .await
            .unwrap(),
        Some((5, 0))
    );
    // Twenty-five refusals, recorded at the 1st and the 10th.
    let recorded = store
        .audit_entries(&AuditFilter {
            kind: Some("login.rate_limited".into()),
            limit: 10,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    let counts: Vec<serde_json::Value> = recorded
        .iter()
        .map(|entry| serde_json::from_str::<serde_json::Value>(&entry.detail).unwrap())
        .collect();
    assert_eq!(
        counts,
        [
            serde_json::json!({"limit": "username", "refused": 10}),
            serde_json::json!({"limit": "username", "refused": 1})
        ]
    );

    // Given back (a success), the attempts are free again.
    store.release_sign_in(&reserved[0]).await.unwrap();
    store
        .open_session(
            &reserved[1],
            &session("s", 0, "c", 1_000, None),
            &entry("login", "dave"),
        )
        .await
        .unwrap_err(); // no user 0: the whole transaction is undone, the reservation kept
    assert_eq!(
        store.login_limit(AttemptScope::Username, "dave").await.unwrap(),
        Some((4, 25))
    );
    assert!(matches!(
        store
            .reserve_sign_in(&limits("10.0.0.2"), 1_001, window, &refused)
            .await
            .unwrap(),
        Admission::Reserved(_)
    ));
    assert!(matches!(
        store
            .reserve_sign_in(&limits("10.0.0.2"), 1_002, window, &refused)
            .await
            .unwrap(),
        Admission::Refused { .. }
    ));

    // After the window a new one opens, with nothing reserved or refused yet; a reservation
    // from the old window given back counts for nothing.
    let later = 1_000 + window;
    let Admission::Reserved(fresh) = store
        .reserve_sign_in(&limits("10.0.0.1"), later, window, &refused)
        .await
        .unwrap()
    else {
        panic!("a new window admits")
    };
    assert_eq!(fresh[0].window_start, later);
    store.release_sign_in(&reserved[2]).await.unwrap();
    assert_eq!(
        store.login_limit(AttemptScope::Username, "dave").await.unwrap(),
        Some((1, 0))
    );
    assert_eq!(
        store.prune_login_limits(later).await.unwrap(),
        1,
        "10.0.0.2's window"
    );
}

async fn the_audit_log_filters_and_refuses_changes(database: TestDatabase) {
    let store = database.open().await;
    let user = store
        .insert_user("carol", Role::Viewer, "h", 0, &entry("user.created", "carol"))
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
        [
            "token.created",
            "login",
            "login.failed",
            "login.failed",
            "user.created"
        ]
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

/// The audit entry an author's scriptlet write hands the store.
fn scriptlet_entry(kind: &str, author: &str, at: i64) -> NewAuditEntry {
    NewAuditEntry {
        at,
        actor_id: None,
        actor: Some(author.into()),
        kind: kind.into(),
        subject: Some("spread".into()),
        detail: serde_json::json!({}),
        address: None,
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
            scriptlet_entry("scriptlet.created", "ann", 100),
        )
        .await
        .unwrap()
        .expect("a new name is accepted");
    assert_eq!(
        store
            .insert_scriptlet(
                "spread",
                "",
                "again",
                "bob",
                101,
                scriptlet_entry("scriptlet.created", "bob", 101),
            )
            .await
            .unwrap(),
        None,
        "a taken name is refused"
    );
    assert_eq!(
        store
            .save_revision(
                id,
                "# two",
                "second",
                "bob",
                200,
                scriptlet_entry("scriptlet.revised", "bob", 200),
            )
            .await
            .unwrap(),
        Some(2)
    );
    assert_eq!(
        store
            .save_revision(
                id,
                "# three",
                "",
                "ann",
                300,
                scriptlet_entry("scriptlet.revised", "ann", 300),
            )
            .await
            .unwrap(),
        Some(3)
    );
    assert_eq!(
        store
            .save_revision(
                id + 100,
                "# x",
                "",
                "ann",
                300,
                scriptlet_entry("scriptlet.revised", "ann", 300),
            )
            .await
            .unwrap(),
        None
    );
    // Each write that happened has its entry, with what the store numbered; the refused name
    // and the missing scriptlet have none.
    let entries = store
        .audit_entries(&AuditFilter {
            kind: Some("scriptlet".into()),
            limit: 10,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    let written: Vec<(&str, Option<&str>, serde_json::Value)> = entries
        .iter()
        .map(|entry| {
            (
                entry.kind.as_str(),
                entry.actor.as_deref(),
                serde_json::from_str(&entry.detail).unwrap(),
            )
        })
        .collect();
    assert_eq!(
        written,
        vec![
            (
                "scriptlet.revised",
                Some("ann"),
                serde_json::json!({"revision": 3})
            ),
            (
                "scriptlet.revised",
                Some("bob"),
                serde_json::json!({"revision": 2})
            ),
            (
                "scriptlet.created",
                Some("ann"),
                serde_json::json!({"scriptlet_id": id})
            ),
        ]
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
        .insert_scriptlet(
            "pin",
            "",
            "",
            "bob",
            400,
            scriptlet_entry("scriptlet.created", "bob", 400),
        )
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
        decision_log: 0,
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
            decision_log: 0,
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
        .insert_user(
            "dave",
            Role::Operator,
            "argon2-hash",
            5,
            &entry("user.created", "dave"),
        )
        .await
        .unwrap()
        .unwrap();
    store
        .insert_user(
            "erin",
            Role::Viewer,
            "argon2-hash-2",
            6,
            &entry("user.created", "erin"),
        )
        .await
        .unwrap();
    // An account of the identity provider (its external id) with a session, and a sign-in
    // pending at the provider.
    let login = |_: &berth_server::db::UserRecord| entry("login", "fay");
    store
        .sign_in_external(
            &berth_server::db::ExternalAccount {
                external_id: "https://id.example#f-1",
                username: "fay",
                role: Role::Author,
            },
            &berth_server::db::NewSessionRow {
                id_hash: "fay-session-digest",
                user_id: 0,
                csrf_token: "fay-csrf",
                now: 8,
                address: None,
            },
            &berth_server::db::ExternalSignInEntries {
                created: entry("user.created", "fay"),
                role_changed: entry("user.role_changed", "fay"),
                login: &login,
            },
        )
        .await
        .unwrap();
    assert!(store
        .insert_oidc_login(
            &berth_server::db::NewOidcLogin {
                state_hash: "state-digest",
                browser_hash: "browser-digest",
                next: "/audit?x=ü",
                client_address: Some("192.0.2.7"),
                now: 9,
            },
            berth_server::db::PendingBounds {
                expired_before: 0,
                max_pending: 10,
                max_per_address: 10,
            },
        )
        .await
        .unwrap());
    let disable = UserChange {
        disabled: Some(true),
        ..UserChange::default()
    };
    store
        .update_user("erin", &plain_update(&disable), 7)
        .await
        .unwrap();
    store
        .open_session(
            &[],
            &session("session-digest", user.id, "csrf", 8, Some("192.0.2.1")),
            &entry("login", "dave"),
        )
        .await
        .unwrap();
    let token = store
        .insert_token(user.id, "ci", "token-digest", 9, &entry("token.created", "ci"))
        .await
        .unwrap();
    store
        .revoke_token(user.id, token.id, 10, &entry("token.revoked", ""))
        .await
        .unwrap();
    store
        .insert_token(
            user.id,
            "other",
            "token-digest-2",
            11,
            &entry("token.created", "other"),
        )
        .await
        .unwrap();
    let attempt = [AttemptLimit {
        scope: AttemptScope::Username,
        name: "ünïcode",
        max_attempts: 5,
    }];
    store
        .reserve_sign_in(&attempt, 12, 900_000, &entry("login.rate_limited", "ünïcode"))
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
            scriptlet_entry("scriptlet.created", "dave", 15),
        )
        .await
        .unwrap()
        .unwrap();
    store
        .save_revision(
            scriptlet,
            "# ünïcode ✓",
            "second",
            "dave",
            16,
            entry("scriptlet.revised", "spread"),
        )
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
                decision_log: 1,
            },
            &entry("connection.added", "lab"),
        )
        .await
        .unwrap();
    // The decision log of `lab`: a capture, its listener, the cluster's scriptlet kept (a
    // scriptlet of Berth's, a revision and its entry), a placement and a gap.
    store.record_capture("lab", 1, 18, 19).await.unwrap();
    store.start_listening("lab", "replica-a", 20).await.unwrap();
    store
        .keep_live_revision("lab", "lab (live, decision log)", "# live ✓", 21, |_, _, _| {
            entry("scriptlet.created", "lab (live, decision log)")
        })
        .await
        .unwrap();
    store
        .insert_decisions(&[decision("lab", 22, "ünïcode-1", Some("m1"))], 23)
        .await
        .unwrap();
    store
        .open_gap(&NewGap {
            connection: "lab".into(),
            member: None,
            reason: "restart".into(),
            detail: "Berth was stopped with the log on".into(),
            started_at: 24,
        })
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
                snapshot_id: Some(1),
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
            &[("dave", "created")],
            |id| vec![entry("plan.created", &format!("plan:{id}"))],
        )
        .await
        .unwrap();
    let submitted = PlanWrite {
        plan_id: plan,
        now: 19,
        state: Some(StateChange {
            from: "draft",
            to: "in_review",
            ..StateChange::default()
        }),
        ..PlanWrite::default()
    };
    store
        .write_plan(&submitted, &entry("plan.submitted", "plan:1"))
        .await
        .unwrap()
        .unwrap();
    let approved = store
        .approve_plan((plan, 1, "in_review"), "erin", 20, |_| {
            Ok::<_, ()>(("in_review".to_owned(), entry("plan.approved", "plan:1")))
        })
        .await
        .unwrap();
    assert!(approved.is_ok());
    store
        .add_plan_comment(plan, Some(1), "erin", "✓", 21, &entry("plan.commented", "plan:1"))
        .await
        .unwrap();
    // A rollout plan, executed: its step carries the previous text and the revision kept.
    let rollout = store
        .insert_rollout_plan(
            &berth_server::db::NewPlanRow {
                name: "roll out ✓",
                connection: "lab",
                snapshot_id: None,
                author: "dave",
                stop_on_failure: true,
                required_approvals: 1,
                reverse_of: None,
                now: 22,
            },
            (scriptlet, 2, "# ünïcode ✓"),
            &[("dave", "created"), ("dave", "wrote_revision")],
            |id| vec![entry("plan.created", &format!("plan:{id}"))],
        )
        .await
        .unwrap();
    executing(store, rollout).await;
    let started = store
        .start_rollout(rollout, "", ("kept", "berth"), 23, |_| {
            entry("plan.rollout_started", "plan:2")
        })
        .await
        .unwrap();
    assert!(matches!(started, RolloutStart::Started { .. }));
    assert!(store
        .finish_rollout(
            rollout,
            "succeeded",
            None,
            24,
            &entry("plan.rollout_succeeded", "plan:2")
        )
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

/// A placement of `connection`'s cluster, as the listener records one.
fn decision(connection: &str, at: i64, instance: &str, member: Option<&str>) -> NewDecision {
    NewDecision {
        connection: connection.into(),
        at,
        operation: "instance-created".into(),
        reason: "new".into(),
        project: "default".into(),
        instance: instance.into(),
        member: member.map(str::to_owned),
        from_project: None,
        from_member: None,
        runs_on: Some("m1".into()),
        logs: r#"[{"level":"info","message":"placed ✓"}]"#.into(),
        seen_later: false,
        gap_id: None,
        revision: Some((2, 1)),
        request: None,
        unpredictable: None,
    }
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
            "users=3",
            "sessions=2",
            "api_tokens=2",
            "oidc_logins=1",
            "login_limits=1",
            "snapshots=1",
            "scriptlets=2",
            "scriptlet_revisions=4",
            "connections=1",
            "audit_log=22",
            "leases=1",
            "plans=2",
            "plan_moves=1",
            "plan_approvals=1",
            "plan_contributors=3",
            "plan_comments=1",
            "plan_rollouts=1",
            "decisions=1",
            "decision_gaps=1",
            "decision_listeners=1",
            "connection_captures=1"
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
    assert_eq!(
        detail["rows"]["audit_log"], 23,
        "the 22 populated and the first copy's: {detail}"
    );
    assert_eq!(detail["rows"]["connections"], 1, "{detail}");
    assert_eq!(target.load_snapshot(1).await.unwrap(), Some(demo_snapshot()));

    // New rows continue after the copied ids on PostgreSQL.
    let added = target
        .insert_user("frank", Role::Viewer, "h", 13, &entry("user.created", "frank"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(added.id, 4);

    // A destination with anything in it is refused, and keeps what it had.
    let error = source
        .copy_into(&target, &entry("store.copied", "copy"))
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::DestinationNotEmpty(..)), "{error:?}");
    assert!(error.to_string().contains("4 rows in users"), "{error}");
    assert_eq!(target.list_users().await.unwrap().len(), 4);
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
        snapshot_id: None,
        author: "ann",
        stop_on_failure: true,
        required_approvals: 2,
        reverse_of: None,
        now: 10,
    };
    let created = |id: i64| vec![entry("plan.created", &format!("plan:{id}"))];
    let id = store
        .insert_plan(
            &new,
            &[planned("a"), planned("b")],
            &[("ann", "created")],
            created,
        )
        .await
        .unwrap();
    let second = store
        .insert_plan(&new, &[planned("c")], &[("ann", "created")], created)
        .await
        .unwrap();
    assert_ne!(id, second);
    let row = store.plan(id).await.unwrap().unwrap();
    assert_eq!(
        (
            row.state.as_str(),
            row.required_approvals,
            row.stop_on_failure,
            row.version
        ),
        ("draft", 2, 1, 1)
    );
    let moves = store.plan_moves(id).await.unwrap();
    assert_eq!(
        moves
            .iter()
            .map(|m| (m.position, m.name.as_str(), m.state.as_str()))
            .collect::<Vec<_>>(),
        [(1, "a", "pending"), (2, "b", "pending")]
    );
    let audited = |kind: &'static str| {
        let store = store.clone();
        async move {
            store
                .audit_of_subject(&format!("plan:{id}"))
                .await
                .unwrap()
                .iter()
                .filter(|e| e.kind == kind)
                .count()
        }
    };
    assert_eq!(audited("plan.created").await, 1, "created with its entry");
    let state = |from: &'static str, to: &'static str| PlanWrite {
        plan_id: id,
        now: 12,
        state: Some(StateChange {
            from,
            to,
            ..StateChange::default()
        }),
        ..PlanWrite::default()
    };
    // Approvals only count in review, for the version reviewed, once per person.
    let approve = |who: &'static str, version: i64, to: &'static str| {
        let store = store.clone();
        async move {
            store
                .approve_plan((id, version, "in_review"), who, 13, |facts| {
                    if facts.approvals.iter().any(|a| a == who) {
                        return Err("twice");
                    }
                    Ok((to.to_owned(), entry("plan.approved", "plan:x")))
                })
                .await
                .unwrap()
        }
    };
    assert!(matches!(
        approve("rita", 1, "in_review").await,
        Err(ApprovalLost::Stale { version: 1, .. })
    ));
    assert_eq!(
        store
            .write_plan(&state("draft", "in_review"), &entry("plan.submitted", "x"))
            .await
            .unwrap(),
        Some(1),
        "a state change alone keeps the version"
    );
    assert_eq!(
        store
            .write_plan(&state("draft", "in_review"), &entry("plan.submitted", "x"))
            .await
            .unwrap(),
        None,
        "compare-and-set"
    );
    assert!(matches!(
        approve("rita", 2, "in_review").await,
        Err(ApprovalLost::Stale { version: 1, .. })
    ));
    let facts = approve("rita", 1, "in_review").await.unwrap();
    assert_eq!(facts.contributors, ["ann"]);
    assert_eq!(facts.approvals, ["rita"]);
    assert!(matches!(
        approve("rita", 1, "in_review").await,
        Err(ApprovalLost::Refused("twice"))
    ));
    assert_eq!(store.plan_approvals(id).await.unwrap(), ["rita"]);
    // A new preview is a new version: the approval of the old one no longer counts.
    let from_members = [Some("m1".to_owned()), None];
    let previewed = PlanWrite {
        preview: Some(PreviewWrite {
            preview: "{}",
            snapshot_id: 7,
            from_members: &from_members,
            rollout: None,
        }),
        ..state("in_review", "in_review")
    };
    assert_eq!(
        store
            .write_plan(&previewed, &entry("plan.previewed", "x"))
            .await
            .unwrap(),
        Some(2)
    );
    assert!(store.plan_approvals(id).await.unwrap().is_empty());
    assert_eq!(
        store.plan_moves(id).await.unwrap()[0].from_member.as_deref(),
        Some("m1")
    );
    // An edit replaces the moves, drops the preview, adds its author to the contributors.
    let replaced = [planned("z")];
    let edit = |from: &'static str, version: Option<i64>| PlanWrite {
        plan_id: id,
        now: 17,
        state: Some(StateChange {
            from,
            to: "in_review",
            version,
            new_version: true,
            superseded: None,
        }),
        moves: Some(&replaced),
        contributor: Some(("eve", "edited")),
        ..PlanWrite::default()
    };
    assert_eq!(
        store
            .write_plan(
                &edit("approved", None),
                &entry("plan.edited", &format!("plan:{id}"))
            )
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .write_plan(
                &edit("in_review", Some(1)),
                &entry("plan.edited", &format!("plan:{id}"))
            )
            .await
            .unwrap(),
        None,
        "an edit of a version the plan no longer has"
    );
    assert_eq!(
        store
            .write_plan(
                &edit("in_review", Some(2)),
                &entry("plan.edited", &format!("plan:{id}"))
            )
            .await
            .unwrap(),
        Some(3)
    );
    assert_eq!(audited("plan.edited").await, 1, "lost writes leave no entry");
    let row = store.plan(id).await.unwrap().unwrap();
    assert_eq!((row.preview, row.preview_snapshot, row.version), (None, None, 3));
    assert_eq!(store.plan_moves(id).await.unwrap().len(), 1);
    assert_eq!(
        store
            .plan_contributors(id)
            .await
            .unwrap()
            .iter()
            .map(|c| (c.username.as_str(), c.contribution.as_str()))
            .collect::<Vec<_>>(),
        [("ann", "created"), ("eve", "edited")]
    );
    assert_eq!(
        approve("rita", 3, "in_review").await.unwrap().contributors,
        ["ann", "eve"]
    );
    assert_eq!(
        approve("sam", 3, "approved").await.unwrap().approvals,
        ["rita", "sam"]
    );
    assert_eq!(store.plan(id).await.unwrap().unwrap().state, "approved");
    // A move goes forward once: the second runner loses.
    let step = |from: &'static str, to: &'static str, decision: Option<&'static str>| PlanWrite {
        plan_id: id,
        now: 20,
        step: Some(MoveChange {
            position: 1,
            from,
            to,
            decision,
            started_at: decision.map(|_| 20),
            detail: (to == "failed").then_some("Incus said no"),
            finished_at: (to == "failed").then_some(25),
        }),
        ..PlanWrite::default()
    };
    assert!(store
        .write_plan(
            &step("pending", "running", Some("m2")),
            &entry("plan.move_started", "x")
        )
        .await
        .unwrap()
        .is_some());
    assert!(store
        .write_plan(
            &step("pending", "running", Some("m3")),
            &entry("plan.move_started", "x")
        )
        .await
        .unwrap()
        .is_none());
    store
        .set_plan_move_operation(id, 1, "/1.0/operations/x")
        .await
        .unwrap();
    assert!(store
        .write_plan(&step("running", "failed", None), &entry("plan.move_failed", "x"))
        .await
        .unwrap()
        .is_some());
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
    assert_eq!(
        store.plan(id).await.unwrap().unwrap().version,
        3,
        "moves run the version approved"
    );
    store
        .add_plan_comment(id, Some(1), "rita", "why m2?", 30, &entry("plan.commented", "x"))
        .await
        .unwrap();
    store
        .add_plan_comment(id, None, "ann", "load", 31, &entry("plan.commented", "x"))
        .await
        .unwrap();
    let comments = store.plan_comments(id).await.unwrap();
    assert_eq!(
        comments
            .iter()
            .map(|c| (c.position, c.author.as_str()))
            .collect::<Vec<_>>(),
        [(Some(1), "rita"), (None, "ann")]
    );
    let superseded = PlanWrite {
        plan_id: id,
        now: 41,
        state: Some(StateChange {
            from: "approved",
            to: "superseded",
            version: None,
            new_version: true,
            superseded: Some("m3 left"),
        }),
        ..PlanWrite::default()
    };
    assert_eq!(
        store
            .write_plan(&superseded, &entry("plan.superseded", "x"))
            .await
            .unwrap(),
        Some(4)
    );
    let row = store.plan(id).await.unwrap().unwrap();
    assert_eq!(row.superseded.as_deref(), Some("m3 left"));
    assert!(store.plan_approvals(id).await.unwrap().is_empty());
    assert_eq!(store.plans_in_state("superseded").await.unwrap(), [id]);
    assert!(store
        .write_plan(&state("superseded", "in_review"), &entry("plan.submitted", "x"))
        .await
        .unwrap()
        .is_some());
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

/// Approvals racing with edits, round after round on real concurrent connections: an approval
/// either lands on the version whose moves it saw (and the edit then loses its compare-and-set
/// on the state it read), or it is refused as stale; never an approved plan whose moves were
/// replaced after the approval.
async fn an_approval_never_lands_on_moves_it_did_not_see(database: TestDatabase) {
    use berth_server::db::{NewPlanRow, PlanMoveRow};
    let store = database.open().await;
    let mut outcomes = std::collections::BTreeMap::<&str, usize>::new();
    for round in 0..40 {
        let reviewed = format!("reviewed-{round}");
        let rewritten = format!("rewritten-{round}");
        let new = NewPlanRow {
            name: "race",
            connection: "prod",
            snapshot_id: None,
            author: "ann",
            stop_on_failure: true,
            required_approvals: 1,
            reverse_of: None,
            now: round,
        };
        let moves = [PlanMoveRow {
            project: "default".into(),
            name: reviewed.clone(),
            target_project: "web".into(),
            ..PlanMoveRow::default()
        }];
        let id = store
            .insert_plan(&new, &moves, &[("ann", "created")], |id| {
                vec![entry("plan.created", &format!("plan:{id}"))]
            })
            .await
            .unwrap();
        let submit = PlanWrite {
            plan_id: id,
            now: round,
            state: Some(StateChange {
                from: "draft",
                to: "in_review",
                ..StateChange::default()
            }),
            ..PlanWrite::default()
        };
        let version = store
            .write_plan(&submit, &entry("plan.submitted", "x"))
            .await
            .unwrap()
            .unwrap();
        let approver = store.clone();
        let approval = tokio::spawn(async move {
            approver
                .approve_plan((id, version, "in_review"), "rita", round, |_| {
                    Ok::<_, ()>(("approved".to_owned(), entry("plan.approved", "x")))
                })
                .await
                .unwrap()
                .is_ok()
        });
        let editor = store.clone();
        let edit = tokio::spawn(async move {
            let moves = [PlanMoveRow {
                project: "default".into(),
                name: rewritten,
                target_project: "web".into(),
                ..PlanMoveRow::default()
            }];
            let edit = PlanWrite {
                plan_id: id,
                now: round,
                state: Some(StateChange {
                    from: "in_review",
                    to: "in_review",
                    version: None,
                    new_version: true,
                    superseded: None,
                }),
                moves: Some(&moves),
                contributor: Some(("eve", "edited")),
                ..PlanWrite::default()
            };
            editor
                .write_plan(&edit, &entry("plan.edited", "x"))
                .await
                .unwrap()
                .is_some()
        });
        let (approved, edited) = (approval.await.unwrap(), edit.await.unwrap());
        let row = store.plan(id).await.unwrap().unwrap();
        let names: Vec<String> = store
            .plan_moves(id)
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.name)
            .collect();
        let approvals = store.plan_approvals(id).await.unwrap();
        match (approved, edited) {
            (true, false) => {
                assert_eq!(row.state, "approved", "round {round}");
                assert_eq!(
                    names,
                    std::slice::from_ref(&reviewed),
                    "round {round}: approved moves are the ones reviewed"
                );
                assert_eq!(approvals, ["rita"], "round {round}");
                outcomes
                    .entry("approval first")
                    .and_modify(|n| *n += 1)
                    .or_insert(1);
            }
            (false, true) => {
                assert_eq!(row.state, "in_review", "round {round}");
                assert_eq!(row.version, version + 1, "round {round}");
                assert!(
                    approvals.is_empty(),
                    "round {round}: no approval on the new version"
                );
                outcomes.entry("edit first").and_modify(|n| *n += 1).or_insert(1);
            }
            other => panic!("round {round}: approval and edit both {other:?}"),
        }
    }
    assert_eq!(outcomes.values().sum::<usize>(), 40, "{outcomes:?}");
}

async fn a_rollout_step_moves_forward_once(database: TestDatabase) {
    use berth_server::db::NewPlanRow;
    let store = database.open().await;
    let scriptlet = store
        .insert_scriptlet(
            "spread",
            "# one",
            "first",
            "ann",
            1,
            scriptlet_entry("scriptlet.created", "ann", 1),
        )
        .await
        .unwrap()
        .unwrap();
    let new = NewPlanRow {
        name: "roll out",
        connection: "prod",
        snapshot_id: None,
        author: "ann",
        stop_on_failure: true,
        required_approvals: 1,
        reverse_of: None,
        now: 10,
    };
    let id = store
        .insert_rollout_plan(&new, (scriptlet, 1, "# one"), &[("ann", "created")], |id| {
            vec![entry("plan.created", &format!("plan:{id}"))]
        })
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
    let previewed = PlanWrite {
        plan_id: id,
        now: 11,
        preview: Some(PreviewWrite {
            preview: "{}",
            snapshot_id: 1,
            from_members: &[],
            rollout: Some(("# live", "{\"summary\":\"x\"}")),
        }),
        ..PlanWrite::default()
    };
    store
        .write_plan(&previewed, &entry("plan.previewed", "x"))
        .await
        .unwrap()
        .unwrap();
    let start = |now: i64| {
        let store = store.clone();
        async move {
            store
                .start_rollout(id, "# live", ("kept", "berth"), now, |_| {
                    entry("plan.rollout_started", "x")
                })
                .await
                .unwrap()
        }
    };
    assert_eq!(
        start(12).await,
        RolloutStart::Lost,
        "only while the plan executes"
    );
    executing(&store, id).await;
    let finish = |to: &'static str, detail: Option<&'static str>, now: i64| {
        let store = store.clone();
        async move {
            store
                .finish_rollout(id, to, detail, now, &entry("plan.rollout_finished", "x"))
                .await
                .unwrap()
        }
    };

    // Finishing needs it running; starting needs it pending: each happens once.
    assert!(!finish("succeeded", None, 11).await);
    assert_eq!(
        start(12).await,
        RolloutStart::Started { previous_revision: 2 },
        "the cluster's scriptlet kept as the next revision"
    );
    assert_eq!(start(13).await, RolloutStart::Lost, "a second runner loses");
    assert_eq!(
        store.revisions(scriptlet).await.unwrap().len(),
        2,
        "the loser kept no revision"
    );
    assert!(finish("failed", Some("Incus said no"), 14).await);
    assert!(!finish("succeeded", None, 15).await);
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
