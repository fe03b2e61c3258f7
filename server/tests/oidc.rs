//! Single sign-on's server side without a browser or a provider (the whole flow against a real
//! OpenID provider is `end2end/tests/oidc.test.mjs`): the pending sign-ins (taken once, bound
//! to the browser that started them, bounded in number, expired), a flood of made-up callbacks
//! (one small delete each, never a request to the provider, nothing in the audit log), the
//! external accounts (created once, linked by issuer and subject, their role re-read and
//! audited, a local account's name not taken over, a disabled one refused, sessions ended when
//! the groups no longer give a role) and the passwords they do not have.

use crate::support;

use std::time::Duration;

use axum::http::{header, Method, StatusCode};
use berth_core::access::Role;
use berth_server::audit::{Actor, AuditKind};
use berth_server::auth::oidc::{OidcArgs, OidcSettings, PENDING_TTL};
use berth_server::auth::secret::{digest, random_secret};
use berth_server::clock::millis;
use berth_server::db::{
    ExternalAccount, ExternalSignIn, ExternalSignInEntries, NewOidcLogin, NewSessionRow, PendingBounds,
    UserRecord,
};
use serde_json::json;
use support::{password_of, Client, TestApp, TestResponse};

/// Single sign-on towards an issuer nothing answers at: a request to it fails with "cannot be
/// reached", which tells whether a callback got as far as the code exchange.
fn unreachable_issuer() -> OidcSettings {
    let dir = tempfile::tempdir().unwrap();
    let secret_file = dir.path().join("secret");
    std::fs::write(&secret_file, "a-client-secret\n").unwrap();
    let args = OidcArgs {
        oidc_issuer: Some("http://127.0.0.1:9/".into()),
        oidc_client_id: Some("berth".into()),
        oidc_client_secret_file: Some(secret_file),
        oidc_role_claim: "groups".into(),
        oidc_role_map: Some("admins=admin,sre=operator".into()),
        oidc_name: Some("Test ID".into()),
        oidc_scopes: vec!["profile".into()],
        oidc_ca_file: None,
        oidc_redirect_url: None,
    };
    args.settings("http://berth.test/login/oidc/callback")
        .unwrap()
        .unwrap()
}

async fn callback(app: &TestApp, state: &str, browser_secret: Option<&str>) -> TestResponse {
    // The one-time code and the state, as a provider sends them: never in a log.
    let code = random_secret();
    support::logs::secret(&code);
    support::logs::secret(state);
    let mut request = app.request(
        &Client::Anonymous,
        Method::GET,
        &format!("/login/oidc/callback?code={code}&state={state}"),
    );
    if let Some(secret) = browser_secret {
        request = request.header(header::COOKIE, format!("berth_oidc={secret}"));
    }
    app.send(request.body(axum::body::Body::empty()).unwrap()).await
}

/// Where a refused callback sends the browser: the login page's error text.
fn login_error(response: &TestResponse) -> String {
    assert_eq!(response.status, StatusCode::SEE_OTHER, "{}", response.body);
    let location = response.headers[header::LOCATION].to_str().unwrap();
    let query = location.strip_prefix("/login?").expect("back to the login page");
    let fields: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap();
    fields
        .into_iter()
        .find(|(key, _)| key == "error")
        .map(|(_, value)| value)
        .unwrap()
}

/// Records a pending sign-in from `address` at `at` (bounds: `max_pending` in all, 2 per
/// address); whether it was recorded.
async fn insert_pending(
    app: &TestApp,
    state: &str,
    address: Option<&str>,
    at: i64,
    max_pending: i64,
) -> bool {
    app.store
        .insert_oidc_login(
            &NewOidcLogin {
                state_hash: &digest(state),
                browser_hash: &digest("b"),
                next: "/",
                client_address: address,
                now: at,
            },
            PendingBounds {
                expired_before: at - millis(PENDING_TTL),
                max_pending,
                max_per_address: 2,
            },
        )
        .await
        .unwrap()
}

async fn pending(app: &TestApp, next: &str) -> (String, String) {
    let (state, browser) = (random_secret(), random_secret());
    let now = app.auth.clock().now_ms();
    assert!(app
        .store
        .insert_oidc_login(
            &NewOidcLogin {
                state_hash: &digest(&state),
                browser_hash: &digest(&browser),
                next,
                client_address: None,
                now,
            },
            PendingBounds {
                expired_before: now - millis(PENDING_TTL),
                max_pending: 100,
                max_per_address: 100,
            },
        )
        .await
        .unwrap());
    (state, browser)
}

async fn failures(app: &TestApp) -> Vec<serde_json::Value> {
    let response = app.get("/api/v1/audit?kind=login.failed").await;
    assert_eq!(response.status, StatusCode::OK);
    response.json().as_array().unwrap().clone()
}

#[tokio::test]
async fn without_single_sign_on_its_routes_are_not_found_and_the_login_page_has_no_button() {
    let app = TestApp::empty().await;
    for uri in ["/login/oidc", "/login/oidc/callback?code=x&state=y"] {
        let response = app.send_as(&Client::Anonymous, Method::GET, uri, None).await;
        assert_eq!(response.status, StatusCode::NOT_FOUND, "{uri}");
    }
    let page = app.send_as(&Client::Anonymous, Method::GET, "/login", None).await;
    assert!(!page.body.contains("login-oidc"));

    let app = app.with_single_sign_on(unreachable_issuer());
    let page = app
        .send_as(&Client::Anonymous, Method::GET, "/login?next=/audit", None)
        .await;
    assert!(
        page.body
            .contains(r#"href="/login/oidc?next=%2Faudit" rel="external""#),
        "{}",
        page.body
    );
    // (Leptos marks where the name is put in: `<!>`.)
    assert!(page.body.contains("Sign in with <!>Test ID"), "{}", page.body);
}

#[tokio::test]
async fn a_pending_sign_in_is_taken_once_and_only_by_the_browser_that_started_it() {
    let app = TestApp::empty().await.with_single_sign_on(unreachable_issuer());

    // Another browser (no cookie, or another secret): refused, and the sign-in is used up.
    let (state, browser) = pending(&app, "/audit").await;
    assert!(login_error(&callback(&app, &state, None).await).contains("started in another browser"));
    let (state, _) = pending(&app, "/audit").await;
    assert!(login_error(&callback(&app, &state, Some(&random_secret())).await)
        .contains("started in another browser"));
    assert!(login_error(&callback(&app, &state, Some(&browser)).await)
        .contains("unknown, expired or already used"));

    // Its own browser gets as far as the code exchange (the provider is unreachable here).
    let (state, browser) = pending(&app, "/audit").await;
    let error = login_error(&callback(&app, &state, Some(&browser)).await);
    assert!(error.contains("cannot be reached"), "{error}");
    // Why is the server's log's business, not an anonymous visitor's.
    assert!(!error.contains("127.0.0.1"), "{error}");
    // Once only.
    assert!(login_error(&callback(&app, &state, Some(&browser)).await).contains("already used"));

    // Too old: refused though its browser presents it.
    let (state, browser) = pending(&app, "/").await;
    app.time.advance(PENDING_TTL + Duration::from_secs(1));
    assert!(login_error(&callback(&app, &state, Some(&browser)).await).contains("expired"));

    let reasons: Vec<String> = failures(&app)
        .await
        .iter()
        .map(|entry| {
            assert_eq!(entry["detail"]["via"], "oidc");
            entry["detail"]["reason"].as_str().unwrap().to_owned()
        })
        .collect();
    // Newest first; the unknown states are not audited.
    assert_eq!(
        reasons,
        ["provider_unreachable", "other_browser", "other_browser"]
    );
}

#[tokio::test]
async fn a_flood_of_made_up_callbacks_costs_a_delete_each_and_reaches_neither_provider_nor_audit_log() {
    let app = TestApp::empty().await.with_single_sign_on(unreachable_issuer());
    let (state, browser) = pending(&app, "/").await;
    let answers = futures::future::join_all((0..200).map(|_| {
        let app = &app;
        async move { login_error(&callback(app, &random_secret(), Some(&random_secret())).await) }
    }))
    .await;
    assert!(answers
        .iter()
        .all(|error| error.contains("unknown, expired or already used")));
    // Nor do made-up answers of an error from the provider ("the user cancelled").
    for _ in 0..50 {
        let uri = format!(
            "/login/oidc/callback?error=access_denied&state={}",
            random_secret()
        );
        let response = app.send_as(&Client::Anonymous, Method::GET, &uri, None).await;
        assert!(login_error(&response).contains("unknown, expired or already used"));
    }
    assert!(failures(&app).await.is_empty());
    // The one real pending sign-in is untouched by them.
    assert_eq!(app.store.pending_oidc_logins().await.unwrap(), 1);
    assert!(login_error(&callback(&app, &state, Some(&browser)).await).contains("cannot be reached"));
}

#[tokio::test]
async fn a_sign_in_the_provider_refused_is_audited_and_used_up() {
    let app = TestApp::empty().await.with_single_sign_on(unreachable_issuer());
    let (state, _browser) = pending(&app, "/").await;
    let uri = format!("/login/oidc/callback?error=access_denied&error_description=No%20way&state={state}");
    let response = app.send_as(&Client::Anonymous, Method::GET, &uri, None).await;
    assert!(login_error(&response).contains("access_denied"), "{response:?}");
    let failures = failures(&app).await;
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0]["detail"]["reason"], "provider_refused");
    assert_eq!(failures[0]["detail"]["error"], "access_denied");
    // The provider's own words are not repeated anywhere.
    assert!(!response.body.contains("No way") && !failures[0].to_string().contains("No way"));
    assert_eq!(app.store.pending_oidc_logins().await.unwrap(), 0);
}

#[tokio::test]
async fn pending_sign_ins_are_bounded_and_expire() {
    let app = TestApp::empty().await;
    let now = app.auth.clock().now_ms();
    let insert = |state: &'static str, at: i64| insert_pending(&app, state, None, at, 3);
    assert!(insert("a", now).await);
    assert!(insert("b", now).await);
    assert!(insert("c", now).await);
    // The fourth is refused while the others are live: nothing written.
    assert!(!insert("d", now).await);
    assert_eq!(app.store.pending_oidc_logins().await.unwrap(), 3);
    // Once they are past their time they are removed, and there is room again.
    let later = now + millis(PENDING_TTL) + 1;
    assert!(insert("d", later).await);
    assert_eq!(app.store.pending_oidc_logins().await.unwrap(), 1);
    assert!(app.store.take_oidc_login(&digest("a")).await.unwrap().is_none());
    let taken = app.store.take_oidc_login(&digest("d")).await.unwrap().unwrap();
    assert_eq!(
        (taken.browser_hash.as_str(), taken.next.as_str()),
        (digest("b").as_str(), "/")
    );
    assert!(app.store.take_oidc_login(&digest("d")).await.unwrap().is_none());
}

#[tokio::test]
async fn one_address_flooding_starts_fills_only_its_own_share() {
    let app = TestApp::empty().await;
    let now = app.auth.clock().now_ms();
    let flooder = Some("192.0.2.66");
    assert!(insert_pending(&app, "f1", flooder, now, 10).await);
    assert!(insert_pending(&app, "f2", flooder, now, 10).await);
    // Its third is refused (2 per address here), nothing written …
    for state in ["f3", "f4", "f5"] {
        assert!(!insert_pending(&app, state, flooder, now, 10).await);
    }
    assert_eq!(app.store.pending_oidc_logins().await.unwrap(), 2);
    // … while others still start theirs.
    assert!(insert_pending(&app, "someone", Some("198.51.100.1"), now, 10).await);
    assert!(insert_pending(&app, "someone else", Some("198.51.100.2"), now, 10).await);
    // A finished sign-in gives its address room again.
    assert!(app.store.take_oidc_login(&digest("f1")).await.unwrap().is_some());
    assert!(insert_pending(&app, "f6", flooder, now, 10).await);
}

#[tokio::test]
async fn a_callbacks_code_and_state_are_not_logged() {
    let app = TestApp::empty().await.with_single_sign_on(unreachable_issuer());
    let (state, browser) = pending(&app, "/").await;
    let response = callback(&app, &state, Some(&browser)).await;
    assert_eq!(response.status, StatusCode::SEE_OTHER);
    let logged = support::logs::written();
    // The request was logged (its path), its query was not.
    assert!(logged.contains("/login/oidc/callback"), "{logged}");
    assert!(!logged.contains(&state), "the state was logged");
    assert!(!logged.contains("code="), "the code was logged");
}

/// Signs an external account in through the store as the callback does; the session's cookie.
async fn sign_in_external(app: &TestApp, sub: &str, username: &str, role: Role) -> (ExternalSignIn, String) {
    let cookie = random_secret();
    let id_hash = digest(&cookie);
    let csrf = random_secret();
    let audit = app.auth.audit();
    let anonymous = Actor::default();
    let login = |user: &UserRecord| {
        audit.entry(
            &Actor::user(user.id, &user.username, None),
            AuditKind::Login,
            Some(&user.username),
            json!({ "via": "oidc" }),
        )
    };
    let entries = ExternalSignInEntries {
        created: audit.entry(
            &anonymous,
            AuditKind::UserCreated,
            Some(username),
            json!({ "via": "oidc" }),
        ),
        role_changed: audit.entry(
            &anonymous,
            AuditKind::UserRoleChanged,
            Some(username),
            json!({ "via": "oidc" }),
        ),
        login: &login,
    };
    let external_id = format!("https://id.example#{sub}");
    let account = ExternalAccount {
        external_id: &external_id,
        username,
        role,
    };
    let row = NewSessionRow {
        id_hash: &id_hash,
        user_id: 0,
        csrf_token: &csrf,
        now: app.auth.clock().now_ms(),
        address: None,
    };
    let outcome = app
        .store
        .sign_in_external(&account, &row, &entries)
        .await
        .unwrap();
    (outcome, cookie)
}

async fn kinds(app: &TestApp, subject: &str) -> Vec<String> {
    let response = app.get("/api/v1/audit?limit=500").await;
    let mut kinds: Vec<String> = response
        .json()
        .as_array()
        .unwrap()
        .iter()
        .filter(|entry| entry["subject"] == subject)
        .map(|entry| entry["kind"].as_str().unwrap().to_owned())
        .collect();
    kinds.reverse();
    kinds
}

#[tokio::test]
async fn an_external_account_is_made_once_linked_by_its_subject_and_takes_the_role_of_each_sign_in() {
    let app = TestApp::empty().await;
    let (first, cookie) = sign_in_external(&app, "s-1", "alice", Role::Operator).await;
    let ExternalSignIn::SignedIn(user) = first else {
        panic!("{first:?}")
    };
    assert_eq!(user.external_id.as_deref(), Some("https://id.example#s-1"));
    assert_eq!(user.password_hash, "");
    let session = app.auth.session(&cookie).await.unwrap().unwrap();
    assert_eq!(
        (session.username.as_str(), session.role),
        ("alice", Role::Operator)
    );

    // The same subject, now with another name at the provider and another role: the same
    // account (its own name kept), its role changed and audited.
    let (second, _) = sign_in_external(&app, "s-1", "alice-renamed", Role::Author).await;
    let ExternalSignIn::SignedIn(again) = second else {
        panic!("{second:?}")
    };
    assert_eq!(
        (again.id, again.username.as_str(), again.role),
        (user.id, "alice", Role::Author)
    );
    assert_eq!(
        kinds(&app, "alice").await,
        ["user.created", "login", "user.role_changed", "login"]
    );
    // The same role again: no change to record.
    sign_in_external(&app, "s-1", "alice", Role::Author).await;
    assert_eq!(kinds(&app, "alice").await.len(), 5);

    // Another subject whose provider name is a local account's, or an external one's: refused,
    // nothing written.
    let before = app.store.list_users().await.unwrap();
    let (taken, cookie) = sign_in_external(&app, "s-2", "admin", Role::Admin).await;
    assert_eq!(taken, ExternalSignIn::UsernameTaken);
    assert!(app.auth.session(&cookie).await.unwrap().is_none());
    let (taken, _) = sign_in_external(&app, "s-3", "alice", Role::Admin).await;
    assert_eq!(taken, ExternalSignIn::UsernameTaken);
    assert_eq!(app.store.list_users().await.unwrap(), before);
}

#[tokio::test]
async fn a_disabled_external_account_is_refused_and_one_without_a_role_loses_its_sessions() {
    let app = TestApp::empty().await;
    let (_, first) = sign_in_external(&app, "s-1", "carol", Role::Viewer).await;
    let (_, second) = sign_in_external(&app, "s-1", "carol", Role::Viewer).await;

    // The groups no longer give a role: every session of the account ends, in the entry's
    // transaction.
    let entry = app.auth.audit().entry(
        &Actor::default(),
        AuditKind::LoginFailed,
        Some("carol"),
        json!({ "via": "oidc", "reason": "no_role" }),
    );
    assert_eq!(
        app.store
            .refuse_external("https://id.example#s-1", &entry)
            .await
            .unwrap(),
        2
    );
    for cookie in [&first, &second] {
        assert!(app.auth.session(cookie).await.unwrap().is_none());
    }
    assert_eq!(failures(&app).await[0]["detail"]["sessions_ended"], 2);

    let response = app
        .send_as(
            &app.admin,
            Method::PATCH,
            "/api/v1/users/carol",
            Some(json!({ "disabled": true })),
        )
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    let (outcome, cookie) = sign_in_external(&app, "s-1", "carol", Role::Admin).await;
    assert!(matches!(outcome, ExternalSignIn::Disabled(_)), "{outcome:?}");
    assert!(app.auth.session(&cookie).await.unwrap().is_none());
    // Its role did not change either: nothing was written.
    let carol = app.store.user_by_name("carol").await.unwrap().unwrap();
    assert_eq!(carol.role, Role::Viewer);
}

#[tokio::test]
async fn an_external_account_has_no_password_to_sign_in_with_or_to_change() {
    let app = TestApp::empty().await;
    let (_, cookie) = sign_in_external(&app, "s-1", "dave", Role::Author).await;
    let users = app.get("/api/v1/users").await.json();
    let external: Vec<(&str, bool)> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|user| {
            (
                user["username"].as_str().unwrap(),
                user["external"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(external, [("admin", false), ("dave", true)]);
    for password in ["", "anything at all", &password_of("dave")] {
        let response = app.try_sign_in("dave", password, None).await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED, "{password:?}");
    }
    // An admin cannot give it one.
    let response = app
        .send_as(
            &app.admin,
            Method::PATCH,
            "/api/v1/users/dave",
            Some(json!({ "password": "a long enough new password" })),
        )
        .await;
    assert_eq!(response.status, StatusCode::CONFLICT, "{}", response.body);
    assert!(response.body.contains("signs in with single sign-on"));
    // Nor can it set one itself.
    let session = app.auth.session(&cookie).await.unwrap().unwrap();
    let error = app
        .auth
        .change_own_password(&session, "", "a long enough new password", None)
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("signs in with single sign-on"),
        "{error}"
    );
}
