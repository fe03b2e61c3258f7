//! PostgreSQL deployments as an administrator runs them: several `berth serve` replicas on one
//! database behave as one Berth (sessions, CSRF tokens, API tokens and login rate limits work
//! across them), and `berth store copy` moves a deployment from SQLite to PostgreSQL and back.

use crate::support;

use berth_core::access::Role;
use berth_core::demo::demo_snapshot;
use berth_server::audit::Actor;
use berth_server::auth::{Auth, AuthConfig};
use berth_server::clock::Clock;
use support::database::{Backend, TestDatabase};
use support::process::{berth, client, sign_in, site, text, Server, WebSession};

#[tokio::test]
async fn two_replicas_on_one_postgres_behave_as_one_berth() {
    let database = TestDatabase::fresh(Backend::Postgres).await;
    let password = "the replicas' admin password";
    support::logs::secret(password);
    for (name, role) in [("root", "admin"), ("mallory", "viewer")] {
        let add = berth(
            &["user", "add", name, "--role", role, "--database", &database.text],
            &format!("{password}\n"),
        );
        assert!(add.status.success(), "{}", text(&add.stderr));
    }
    let dir = tempfile::tempdir().unwrap();
    let site = site(dir.path());
    let start = |name: &str| {
        let data = dir.path().join(name);
        Server::start(&[
            "--database",
            &database.text,
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            data.to_str().unwrap(),
            "--site-root",
            &site,
        ])
    };
    let (a, b) = (start("a"), start("b"));
    let (_, url_a) = a.wait_until_running();
    let (_, url_b) = b.wait_until_running();
    assert_ne!(url_a, url_b);
    let http = client(None);

    // Signed in on A; the session and its CSRF token work on B.
    let session = WebSession::from_response(sign_in(&http, &url_a, "root", password).await).await;
    let me_on_b = http
        .get(format!("{url_b}/api/v1/me"))
        .header("cookie", &session.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(me_on_b.status(), 200);
    // An API token created on B (a write: the CSRF token from A) works on A.
    let token = session.create_token(&http, &url_b, "replicas").await;
    let me_on_a: serde_json::Value = http
        .get(format!("{url_a}/api/v1/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me_on_a, serde_json::json!({"username": "root", "role": "admin"}));

    // The login rate limit reached through A holds on B.
    for _ in 0..5 {
        assert_eq!(sign_in(&http, &url_a, "mallory", "a guess").await.status(), 401);
    }
    let on_b = sign_in(&http, &url_b, "mallory", password).await;
    assert_eq!(on_b.status(), 429, "the failures through A count on B");

    // Signing out on B ends the session on A too.
    let out = session
        .send(http.delete(format!("{url_b}/api/v1/session")), &url_b)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    let after = http
        .get(format!("{url_a}/api/v1/me"))
        .header("cookie", &session.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 401);
}

#[tokio::test]
async fn a_deployment_moves_from_sqlite_to_postgres_and_back() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite://{}", dir.path().join("berth.db").display());
    let back = format!("sqlite://{}", dir.path().join("back.db").display());
    let postgres = TestDatabase::fresh(Backend::Postgres).await;

    // A populated SQLite deployment: users, a session, a token, a snapshot, the audit log.
    let source = TestDatabase::at(&sqlite);
    let store = source.open().await;
    let auth = Auth::new(store.clone(), Clock::system(), AuthConfig::default());
    let password = "a password to carry over";
    support::logs::secret(password);
    auth.add_user(&Actor::command_line(), "alice", Role::Admin, password)
        .await
        .unwrap();
    let session = auth.sign_in("alice", password, Some("192.0.2.7")).await.unwrap();
    support::logs::secret(&session.cookie_value);
    let (_, token) = auth.create_token(&session.principal, "ci", None).await.unwrap();
    support::logs::secret(&token);
    let demo = demo_snapshot();
    let added = auth.audit().snapshot_added(&Actor::command_line(), &demo);
    store.insert_snapshot(&demo, &added).await.unwrap();
    store.close().await;

    let copy = berth(&["store", "copy", "--from", &sqlite, "--to", &postgres.text], "");
    assert!(copy.status.success(), "{}", text(&copy.stderr));
    assert_eq!(
        text(&copy.stdout),
        "users\t1\nsessions\t1\napi_tokens\t1\noidc_logins\t0\nlogin_limits\t2\nsnapshots\t1\nscriptlets\t0\n\
         scriptlet_revisions\t0\nconnections\t0\naudit_log\t4\nleases\t0\nplans\t0\nplan_moves\t0\n\
         plan_approvals\t0\nplan_contributors\t0\nplan_comments\t0\nplan_rollouts\t0\n\
         decisions\t0\ndecision_gaps\t0\ndecision_listeners\t0\nconnection_captures\t0\n"
    );
    let again = berth(&["store", "copy", "--from", &sqlite, "--to", &postgres.text], "");
    assert!(!again.status.success(), "a non-empty destination is refused");
    assert!(
        text(&again.stderr).contains("is not empty (1 rows in users"),
        "{}",
        text(&again.stderr)
    );
    let home = berth(&["store", "copy", "--from", &postgres.text, "--to", &back], "");
    assert!(home.status.success(), "{}", text(&home.stderr));

    // The same rows everywhere; the session and the token still work on PostgreSQL.
    let (original, moved, returned) = (
        source.open().await,
        postgres.open().await,
        TestDatabase::at(&back).open().await,
    );
    // Every copy is recorded in the store it left (once it is committed) and in the one it
    // filled (its last row); the rest is the same everywhere.
    let copies = |store: &berth_server::db::Store| {
        let store = store.clone();
        async move {
            store
                .audit_entries(&berth_server::db::AuditFilter {
                    kind: Some("store.copied".into()),
                    limit: 10,
                    ..Default::default()
                })
                .await
                .unwrap()
        }
    };
    assert_eq!(copies(&original).await.len(), 1, "the source knows it was copied");
    assert_eq!(
        copies(&moved).await.len(),
        2,
        "filled by one copy, source of another"
    );
    let filled = copies(&returned).await;
    assert_eq!(filled.len(), 2, "its own and the one PostgreSQL had when copied");
    let detail: serde_json::Value = serde_json::from_str(&filled[0].detail).unwrap();
    assert_eq!(filled[0].actor, None);
    assert_eq!(detail["via"], "command line");
    assert!(detail["to"].as_str().unwrap().starts_with(&back), "{detail}");
    if let Some(password) = url::Url::parse(&postgres.text).unwrap().password() {
        assert!(
            !detail["from"].as_str().unwrap().contains(password),
            "never the database's password"
        );
    }
    assert_eq!(detail["rows"]["users"], 1, "{detail}");
    let without_copies = |rows: Vec<Vec<berth_server::db::copy::Cell>>, table: &str| -> Vec<_> {
        rows.into_iter()
            .filter(|row| {
                table != "audit_log"
                    || row[4] != berth_server::db::copy::Cell::Text(Some("store.copied".into()))
            })
            .collect()
    };
    for (table, _) in berth_server::db::copy::TABLES {
        let rows = without_copies(original.table_rows(table).await.unwrap(), table);
        assert_eq!(
            without_copies(moved.table_rows(table).await.unwrap(), table),
            rows,
            "{table} in PostgreSQL"
        );
        assert_eq!(
            without_copies(returned.table_rows(table).await.unwrap(), table),
            rows,
            "{table} back in SQLite"
        );
    }
    let on_postgres = Auth::new(moved, Clock::system(), AuthConfig::default());
    assert!(on_postgres
        .session(&session.cookie_value)
        .await
        .unwrap()
        .is_some());
    assert_eq!(
        on_postgres.token(&token).await.unwrap().unwrap().username,
        "alice"
    );
}
