//! Accounts through the HTTP API: sign-in and its cookie (plain and secure), session expiry
//! (idle and absolute, with the app's clock moved, not slept), sign-out, password changes, API
//! tokens (one's own, and any user's for admins), users managed by admins, the sign-in limits
//! (sequential and under parallel load), the constant-time failure path, where the login form
//! sends the browser, event streams that end with their session, and the audit log.

use crate::support;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use berth_core::access::Role;
use berth_server::auth::AuthConfig;
use berth_server::db::AttemptScope;
use berth_server::http::streams::StreamLimits;
use http_body_util::BodyExt;
use serde_json::json;
use support::{password_of, Client, TestApp, HOST, ORIGIN};

const HOUR: Duration = Duration::from_secs(3600);

async fn me(app: &TestApp, client: &Client) -> StatusCode {
    app.send_as(client, Method::GET, "/api/v1/me", None).await.status
}

async fn audit(app: &TestApp, query: &str) -> Vec<serde_json::Value> {
    let response = app.get(&format!("/api/v1/audit?{query}")).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    response.json().as_array().unwrap().clone()
}

#[tokio::test]
async fn signing_in_returns_the_role_a_csrf_token_and_a_locked_down_cookie() {
    let app = TestApp::empty().await;
    app.user("alice", Role::Author).await;
    let response = app.try_sign_in("alice", &password_of("alice"), None).await;
    assert_eq!(response.status, StatusCode::OK);
    let body = response.json();
    assert_eq!(body["username"], "alice");
    assert_eq!(body["role"], "author");
    assert_eq!(body["csrf_token"].as_str().unwrap().len(), 43);
    let cookie = response.headers[header::SET_COOKIE].to_str().unwrap();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP on loopback: {cookie}");
    let client = Client::Session {
        cookie: response.session_cookie().unwrap(),
        csrf_token: body["csrf_token"].as_str().unwrap().to_owned(),
    };
    client.record_secrets();
    let who = app.send_as(&client, Method::GET, "/api/v1/me", None).await;
    assert_eq!(who.json(), json!({"username": "alice", "role": "author"}));
    assert_eq!(me(&app, &Client::Anonymous).await, StatusCode::UNAUTHORIZED);

    let wrong = app.try_sign_in("alice", "not her password", None).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.json(), json!({"error": "wrong username or password"}));
    assert!(wrong.session_cookie().is_none());
}

#[tokio::test]
async fn with_secure_cookies_the_cookie_is_host_prefixed_and_responses_carry_hsts() {
    let app = TestApp::with_config(AuthConfig {
        secure_cookies: true,
        ..AuthConfig::default()
    })
    .await;
    let response = app.try_sign_in("admin", &password_of("admin"), None).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    let cookie = response.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(cookie.starts_with("__Host-berth_session="), "{cookie}");
    for attribute in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(!cookie.contains("Domain"), "{cookie}");
    // The prefixed cookie signs in (app.request sends it under that name) …
    let client = Client::Session {
        cookie: response.session_cookie().unwrap(),
        csrf_token: response.json()["csrf_token"].as_str().unwrap().to_owned(),
    };
    client.record_secrets();
    assert_eq!(me(&app, &client).await, StatusCode::OK);
    // … the same value under the plain name, which anyone on a sibling host or over plain
    // HTTP could have set, does not.
    let Client::Session { cookie: value, .. } = &client else {
        unreachable!()
    };
    let plain = Request::get("/api/v1/me")
        .header(header::HOST, HOST)
        .header(header::COOKIE, format!("berth_session={value}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.send(plain).await.status, StatusCode::UNAUTHORIZED);
    // HSTS on every response: an answer, a refusal, a page, a static file's 404.
    for uri in ["/api/v1/me", "/healthz", "/login", "/pkg/nothing.js"] {
        let response = app.send_as(&Client::Anonymous, Method::GET, uri, None).await;
        assert_eq!(
            response.headers[header::STRICT_TRANSPORT_SECURITY],
            "max-age=31536000",
            "{uri}"
        );
    }
    // Signing out clears the prefixed cookie.
    let out = app
        .send_as(&client, Method::DELETE, "/api/v1/session", None)
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    let cleared = out.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(cleared.starts_with("__Host-berth_session=;"), "{cleared}");
}

#[tokio::test]
async fn without_secure_cookies_the_cookie_keeps_its_name_and_there_is_no_hsts() {
    let app = TestApp::empty().await;
    let response = app.try_sign_in("admin", &password_of("admin"), None).await;
    let cookie = response.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(cookie.starts_with("berth_session="), "{cookie}");
    assert!(!cookie.contains("Secure"), "{cookie}");
    assert!(!response.headers.contains_key(header::STRICT_TRANSPORT_SECURITY));
}

#[tokio::test]
async fn a_session_ends_after_eight_idle_hours() {
    let app = TestApp::empty().await;
    let client = app.sign_in("admin", &password_of("admin")).await;
    // Used every 7h59m, the session lives on past eight hours.
    for _ in 0..3 {
        app.time.advance(8 * HOUR - Duration::from_secs(60));
        assert_eq!(me(&app, &client).await, StatusCode::OK);
    }
    app.time.advance(8 * HOUR);
    let response = app.send_as(&client, Method::GET, "/api/v1/me", None).await;
    assert_eq!(response.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.session_cookie().as_deref(),
        Some(""),
        "the stale cookie is cleared"
    );
    // Gone for good, not only refused now.
    assert_eq!(me(&app, &client).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_session_ends_after_seven_days_however_busy() {
    let app = TestApp::empty().await;
    let client = app.sign_in("admin", &password_of("admin")).await;
    let mut elapsed = Duration::ZERO;
    while elapsed + 6 * HOUR < 7 * 24 * HOUR {
        app.time.advance(6 * HOUR);
        elapsed += 6 * HOUR;
        assert_eq!(me(&app, &client).await, StatusCode::OK, "after {elapsed:?}");
    }
    app.time.advance(7 * 24 * HOUR - elapsed);
    assert_eq!(me(&app, &client).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn signing_out_ends_the_session_on_the_server() {
    let app = TestApp::empty().await;
    let client = app.sign_in("admin", &password_of("admin")).await;
    let other = app.sign_in("admin", &password_of("admin")).await;
    let response = app
        .send_as(&client, Method::DELETE, "/api/v1/session", None)
        .await;
    assert_eq!(response.status, StatusCode::NO_CONTENT);
    assert_eq!(response.session_cookie().as_deref(), Some(""));
    // The old cookie, replayed, no longer signs anyone in.
    assert_eq!(me(&app, &client).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me(&app, &other).await, StatusCode::OK, "other sessions stay");
    let logouts = audit(&app, "kind=logout").await;
    assert_eq!(logouts.len(), 1);
    assert_eq!(logouts[0]["user"], "admin");
}

/// Calls a server function the way a browser form does (URL-encoded, with the CSRF header).
async fn server_function(
    app: &TestApp,
    client: &Client,
    path: &str,
    form: &[(&str, &str)],
) -> (StatusCode, String) {
    let Client::Session { cookie, csrf_token } = client else {
        panic!("a session")
    };
    let request = Request::post(path)
        .header(header::HOST, HOST)
        .header(header::ORIGIN, ORIGIN)
        .header(header::COOKIE, format!("berth_session={cookie}"))
        .header("x-csrf-token", csrf_token)
        .header(header::ACCEPT, "application/json")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(serde_urlencoded::to_string(form).unwrap()))
        .unwrap();
    let response = app.send(request).await;
    (response.status, response.body)
}

#[tokio::test]
async fn a_password_change_ends_the_users_other_sessions() {
    let app = TestApp::empty().await;
    let here = app.user("bob", Role::Viewer).await;
    let elsewhere = app.sign_in("bob", &password_of("bob")).await;
    let new_password = "a much better password";
    support::logs::secret(new_password);

    let (status, body) = server_function(
        &app,
        &here,
        "/api/change_password",
        &[
            ("current", "wrong"),
            ("new", new_password),
            ("confirm", new_password),
        ],
    )
    .await;
    assert!(status.is_client_error(), "{status} {body}");
    assert!(body.contains("the current password is wrong"), "{body}");
    assert_eq!(me(&app, &elsewhere).await, StatusCode::OK, "nothing changed");

    let current = password_of("bob");
    let (status, body) = server_function(
        &app,
        &here,
        "/api/change_password",
        &[
            ("current", &current),
            ("new", new_password),
            ("confirm", new_password),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        me(&app, &here).await,
        StatusCode::OK,
        "the session that changed it stays"
    );
    assert_eq!(me(&app, &elsewhere).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.try_sign_in("bob", &current, None).await.status,
        StatusCode::UNAUTHORIZED
    );
    app.sign_in("bob", new_password).await;
    let changes = audit(&app, "kind=password.changed").await;
    assert_eq!(changes[0]["detail"]["sessions_ended"], 1);
}

/// A form posted by the browser itself (without JavaScript) that the server function refuses
/// sends the browser back to its page with the reason in the URL, where the page shows it; a
/// server function client asking for JSON gets the status instead (above).
#[tokio::test]
async fn a_refused_form_posted_without_javascript_goes_back_to_its_page_with_the_reason() {
    let app = TestApp::empty().await;
    let here = app.user("dora", Role::Viewer).await;
    let Client::Session { cookie, csrf_token } = &here else {
        panic!("a session")
    };
    let new_password = "another much better password";
    support::logs::secret(new_password);
    let form = [
        ("csrf_token", csrf_token.as_str()),
        ("current", "wrong"),
        ("new", new_password),
        ("confirm", new_password),
    ];
    let request = Request::post("/api/change_password")
        .header(header::HOST, HOST)
        .header(header::ORIGIN, ORIGIN)
        .header(header::REFERER, format!("{ORIGIN}/settings/password"))
        .header(header::COOKIE, format!("berth_session={cookie}"))
        .header(header::ACCEPT, "text/html,application/xhtml+xml")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(serde_urlencoded::to_string(form).unwrap()))
        .unwrap();
    let response = app.send(request).await;
    assert!(
        response.status.is_redirection(),
        "{} {}",
        response.status,
        response.body
    );
    let location = response.headers[header::LOCATION].to_str().unwrap();
    assert!(
        location.starts_with(&format!("{ORIGIN}/settings/password?")),
        "{location}"
    );
    assert!(location.contains("__path=%2Fapi%2Fchange_password"), "{location}");
    assert!(location.contains("__err="), "{location}");
    assert!(
        app.try_sign_in("dora", &password_of("dora"), None)
            .await
            .status
            .is_success(),
        "nothing changed"
    );
}

#[tokio::test]
async fn api_tokens_act_as_their_user_until_revoked() {
    let app = TestApp::with_demo().await;
    let carol = app.user("carol", Role::Viewer).await;
    let token = app.token_for(&carol, "ci").await;
    let Client::Token(value) = &token else {
        unreachable!()
    };
    assert!(value.starts_with("berth_"));
    let who = app.send_as(&token, Method::GET, "/api/v1/me", None).await;
    assert_eq!(who.json(), json!({"username": "carol", "role": "viewer"}));

    // The token has the user's role, as it is now.
    let simulate = json!({"snapshot_id": 1, "source": "", "operations": [{"kind": "create", "project": "web", "name": "api-99"}]});
    let refused = app
        .send_as(
            &token,
            Method::POST,
            "/api/v1/simulations",
            Some(simulate.clone()),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let promote = app
        .send_as(
            &app.admin,
            Method::PATCH,
            "/api/v1/users/carol",
            Some(json!({"role": "author"})),
        )
        .await;
    assert_eq!(promote.status, StatusCode::OK, "{}", promote.body);
    let allowed = app
        .send_as(&token, Method::POST, "/api/v1/simulations", Some(simulate))
        .await;
    assert_eq!(allowed.status, StatusCode::OK, "{}", allowed.body);

    // Listed without its value; another user cannot revoke it.
    let listed = app
        .send_as(&carol, Method::GET, "/api/v1/tokens", None)
        .await
        .json();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["name"], "ci");
    assert!(listed[0]["last_used_at"].is_string());
    assert!(!listed.to_string().contains(value.as_str()));
    let id = listed[0]["id"].as_i64().unwrap();
    let foreign = app
        .send_as(&app.admin, Method::DELETE, &format!("/api/v1/tokens/{id}"), None)
        .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
    assert_eq!(me(&app, &token).await, StatusCode::OK);

    let revoked = app
        .send_as(&carol, Method::DELETE, &format!("/api/v1/tokens/{id}"), None)
        .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    let after = app.send_as(&token, Method::GET, "/api/v1/me", None).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
    assert!(after.body.contains("revoked"), "{}", after.body);
    let kinds: Vec<_> = audit(&app, "kind=token")
        .await
        .iter()
        .map(|e| e["kind"].clone())
        .collect();
    assert_eq!(kinds, vec![json!("token.revoked"), json!("token.created")]);
}

#[tokio::test]
async fn admins_manage_users_and_cannot_lock_everyone_out() {
    let app = TestApp::empty().await;
    let password = password_of("dave");
    support::logs::secret(&password);
    let add = |body: serde_json::Value| app.send_as(&app.admin, Method::POST, "/api/v1/users", Some(body));
    let created = add(json!({"username": "dave", "role": "operator", "password": password})).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert!(!created.body.contains(&password));
    assert_eq!(
        add(json!({"username": "dave", "role": "viewer", "password": password}))
            .await
            .status,
        StatusCode::CONFLICT
    );
    assert_eq!(
        add(json!({"username": "eve", "role": "root", "password": password}))
            .await
            .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        add(json!({"username": "eve", "role": "viewer", "password": "short"}))
            .await
            .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        add(json!({"username": "no spaces", "role": "viewer", "password": password}))
            .await
            .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );

    let dave = app.sign_in("dave", &password).await;
    let dave_token = app.token_for(&dave, "script").await;
    let users = app.get("/api/v1/users").await.json();
    let names: Vec<_> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].clone())
        .collect();
    assert_eq!(names, vec![json!("admin"), json!("dave")]);
    assert!(
        !users.to_string().contains("argon2"),
        "hashes never leave the server"
    );

    // Disabling ends sessions and revokes tokens; signing in fails like a wrong password.
    let app = &app;
    let patch = |name: &str, body: serde_json::Value| {
        let uri = format!("/api/v1/users/{name}");
        async move { app.send_as(&app.admin, Method::PATCH, &uri, Some(body)).await }
    };
    assert_eq!(
        patch("dave", json!({"disabled": true})).await.status,
        StatusCode::OK
    );
    assert_eq!(me(app, &dave).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me(app, &dave_token).await, StatusCode::UNAUTHORIZED);
    let refused = app.try_sign_in("dave", &password, None).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(refused.json(), json!({"error": "wrong username or password"}));
    assert_eq!(
        patch("dave", json!({"disabled": false})).await.status,
        StatusCode::OK
    );
    assert_eq!(
        me(app, &dave_token).await,
        StatusCode::UNAUTHORIZED,
        "enabled again, the token stays revoked"
    );

    // A password reset ends every session of the user and revokes every token.
    let session = app.sign_in("dave", &password).await;
    let second_token = app.token_for(&session, "second").await;
    let reset = "reset by the admin";
    support::logs::secret(reset);
    assert_eq!(
        patch("dave", json!({"password": reset})).await.status,
        StatusCode::OK
    );
    assert_eq!(me(app, &session).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me(app, &second_token).await, StatusCode::UNAUTHORIZED);
    app.sign_in("dave", reset).await;
    // Each revocation is in the audit log, with its reason.
    let revoked: Vec<_> = audit(app, "kind=token.revoked")
        .await
        .iter()
        .map(|entry| (entry["subject"].clone(), entry["detail"]["because"].clone()))
        .collect();
    assert_eq!(
        revoked,
        [
            (json!("second"), json!("user.password_reset")),
            (json!("script"), json!("user.disabled"))
        ]
    );

    // The last enabled admin cannot be demoted or disabled.
    let demote = patch("admin", json!({"role": "viewer"})).await;
    assert_eq!(demote.status, StatusCode::CONFLICT);
    assert!(demote.body.contains("last enabled admin"), "{}", demote.body);
    assert_eq!(
        patch("admin", json!({"disabled": true})).await.status,
        StatusCode::CONFLICT
    );
    assert_eq!(
        patch("nobody", json!({"role": "viewer"})).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        patch("dave", json!({"colour": "blue"})).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    // Empty, null and unchanged values change nothing, and nothing is audited for them.
    let unchanged = patch("dave", json!({"role": "", "password": "", "disabled": null})).await;
    assert_eq!(unchanged.status, StatusCode::OK, "{}", unchanged.body);
    assert_eq!(
        patch("dave", json!({"role": "operator"})).await.status,
        StatusCode::OK
    );
    let bad_role = patch("dave", json!({"role": "root"})).await;
    assert_eq!(bad_role.status, StatusCode::UNPROCESSABLE_ENTITY);
    app.sign_in("dave", reset).await;

    let kinds: Vec<_> = audit(app, "kind=user")
        .await
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        kinds,
        [
            "user.password_reset",
            "user.enabled",
            "user.disabled",
            "user.created",
            "user.created"
        ]
    );
    let created = audit(app, "kind=user.created&user=admin").await;
    assert_eq!(
        created.len(),
        1,
        "the admin itself was created on the command line"
    );
    assert_eq!(created[0]["subject"], "dave");
    assert_eq!(created[0]["detail"]["role"], "operator");
}

#[tokio::test]
async fn failed_sign_ins_are_rate_limited_per_username_and_per_address() {
    let app = TestApp::empty().await;
    app.user("frank", Role::Viewer).await;
    app.user("grace", Role::Viewer).await;
    let right = password_of("frank");
    for _ in 0..5 {
        let response = app.try_sign_in("frank", "guess", Some("10.0.0.1")).await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED);
    }
    // Locked for that username, even with the right password and from elsewhere.
    let limited = app.try_sign_in("frank", &right, Some("10.0.0.2")).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.headers[header::RETRY_AFTER], "900");
    assert!(limited.json()["error"]
        .as_str()
        .unwrap()
        .contains("try again in 15 minutes"));
    // Other users are not locked out by it.
    assert_eq!(
        app.try_sign_in("grace", &password_of("grace"), Some("10.0.0.1"))
            .await
            .status,
        StatusCode::OK
    );
    // After the window, the user may try again.
    app.time.advance(Duration::from_secs(15 * 60));
    assert_eq!(
        app.try_sign_in("frank", &right, Some("10.0.0.2")).await.status,
        StatusCode::OK
    );

    // Per address: many usernames tried from one address lock that address only.
    for attempt in 0..20 {
        let response = app
            .try_sign_in(&format!("nobody{attempt}"), "guess", Some("10.9.9.9"))
            .await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED);
    }
    let from_there = app
        .try_sign_in("grace", &password_of("grace"), Some("10.9.9.9"))
        .await;
    assert_eq!(from_there.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        app.try_sign_in("grace", &password_of("grace"), Some("10.0.0.3"))
            .await
            .status,
        StatusCode::OK
    );

    let failures = audit(&app, "kind=login.failed&limit=500").await;
    assert_eq!(failures.len(), 25);
    assert!(failures.iter().all(|entry| entry["address"].is_string()));
    assert_eq!(audit(&app, "kind=login.rate_limited").await.len(), 2);
}

#[tokio::test]
async fn an_unknown_user_costs_what_a_wrong_password_costs() {
    let app = TestApp::empty().await;
    app.user("heidi", Role::Viewer).await;
    app.user("ivan", Role::Viewer).await;
    let patch = app
        .send_as(
            &app.admin,
            Method::PATCH,
            "/api/v1/users/ivan",
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(patch.status, StatusCode::OK);

    let mut answers = Vec::new();
    for (username, password) in [
        ("heidi", "wrong password"),
        ("nobody-at-all", "wrong password"),
        ("ivan", password_of("ivan").as_str()),
    ] {
        let before = app.auth.password_verifications();
        let response = app.try_sign_in(username, password, None).await;
        // Exactly one argon2 verification on each path: the same work, so the same time.
        assert_eq!(app.auth.password_verifications() - before, 1, "{username}");
        let mut headers = response.headers.clone();
        headers.remove(header::CONTENT_SECURITY_POLICY); // carries a random nonce
        answers.push((response.status, headers, response.body));
    }
    assert_eq!(
        answers[0], answers[1],
        "unknown user and wrong password answer alike"
    );
    assert_eq!(answers[0], answers[2], "a disabled account answers alike");
}

#[tokio::test]
async fn the_audit_log_is_append_only_and_for_admins() {
    let app = TestApp::empty().await;
    let viewer = app.user("judy", Role::Viewer).await;
    assert_eq!(
        app.send_as(&viewer, Method::GET, "/api/v1/audit", None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let logins = audit(&app, "kind=login&user=judy").await;
    assert_eq!(logins.len(), 1);
    assert!(logins[0]["at"].as_str().unwrap().ends_with('Z'));

    for statement in ["UPDATE audit_log SET kind = 'forged'", "DELETE FROM audit_log"] {
        let error = sqlx::query(statement)
            .execute(app.store.pool())
            .await
            .unwrap_err();
        assert!(error.to_string().contains("append-only"), "{statement}: {error}");
    }

    // Filters: time ranges by date; a bad time is a 400 with the reason.
    let today = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()[..10].to_owned();
    assert!(!audit(&app, &format!("since={today}&until={today}"))
        .await
        .is_empty());
    assert!(audit(&app, "until=2000-01-01").await.is_empty());
    let bad = app.get("/api/v1/audit?since=yesterday").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("is not a time"));

    // The page shows the entries and the filters.
    let page = app.get("/audit?kind=login").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("data-test=\"audit-row\" data-kind=\"login\""));
    assert!(!page.body.contains("data-kind=\"user.created\""));
}

#[tokio::test]
async fn the_login_form_works_without_javascript() {
    let app = TestApp::with_demo().await;
    let form = |body: &str| {
        Request::post("/login")
            .header(header::HOST, HOST)
            .header(header::ORIGIN, ORIGIN)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body.to_owned()))
            .unwrap()
    };
    let password = serde_urlencoded::to_string([("password", password_of("admin"))]).unwrap();
    let ok = app
        .send(form(&format!(
            "username=admin&{password}&next=%2F%3Fgroup%3Dedge"
        )))
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    assert_eq!(ok.headers[header::LOCATION], "/?group=edge");
    let cookie = ok.session_cookie().unwrap();
    support::logs::secret(&cookie);
    let page = app
        .send(
            Request::get("/?group=edge")
                .header(header::HOST, HOST)
                .header(header::COOKIE, format!("berth_session={cookie}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);

    let elsewhere = app
        .send(form(&format!(
            "username=admin&{password}&next=https%3A%2F%2Fevil.example%2F"
        )))
        .await;
    assert_eq!(
        elsewhere.headers[header::LOCATION],
        "/",
        "never sent to another site"
    );
    // Whatever a link to the login page carries, the browser ends up on this site: every
    // hostile `next` (as the form posts it, URL-encoded) is replaced by `/`.
    for hostile in [
        "//evil.example/",
        "/%09/evil.example",
        "/\t/evil.example",
        "/\\evil.example",
        "/%2F%2Fevil.example",
        "https://evil.example",
        "javascript:alert(document.cookie)",
        "/\r\nSet-Cookie: x=1",
        "/%0d%0aSet-Cookie:%20x=1",
        "\u{0}/",
    ] {
        let next = serde_urlencoded::to_string([("next", hostile)]).unwrap();
        let signed_in = app.send(form(&format!("username=admin&{password}&{next}"))).await;
        assert_eq!(signed_in.status, StatusCode::SEE_OTHER, "{hostile:?}");
        assert_eq!(signed_in.headers[header::LOCATION], "/", "{hostile:?}");
        support::logs::secret(&signed_in.session_cookie().unwrap());
    }
    let deep = app
        .send(form(&format!(
            "username=admin&{password}&next=%2Fplans%2F3%3Fx%3D1%23y"
        )))
        .await;
    assert_eq!(deep.headers[header::LOCATION], "/plans/3?x=1#y");
    support::logs::secret(&deep.session_cookie().unwrap());

    let wrong = app.send(form("username=admin&password=nope&next=%2Faudit")).await;
    assert_eq!(wrong.status, StatusCode::SEE_OTHER);
    let location = wrong.headers[header::LOCATION].to_str().unwrap().to_owned();
    assert!(
        location.starts_with("/login?error=wrong+username+or+password&next=%2Faudit"),
        "{location}"
    );
    assert!(wrong.session_cookie().is_none());
    let again = app
        .send_as(&Client::Anonymous, Method::GET, &location, None)
        .await;
    assert!(again.body.contains("data-test=\"login-error\""));
    assert!(again.body.contains(">wrong username or password<"));
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_limit_counts_the_forwarded_client() {
    let app = TestApp::behind_proxy("10.0.0.1").await;
    app.user("oscar", Role::Viewer).await;
    // Twenty failures from one client through the proxy lock that client only.
    for attempt in 0..20 {
        let response = app
            .try_sign_in_forwarded(
                &format!("nobody{attempt}"),
                "guess",
                Some("10.0.0.1"),
                Some("203.0.113.9"),
            )
            .await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED);
    }
    let same = app
        .try_sign_in_forwarded(
            "oscar",
            &password_of("oscar"),
            Some("10.0.0.1"),
            Some("203.0.113.9"),
        )
        .await;
    assert_eq!(same.status, StatusCode::TOO_MANY_REQUESTS);
    let other = app
        .try_sign_in_forwarded(
            "oscar",
            &password_of("oscar"),
            Some("10.0.0.1"),
            Some("203.0.113.10"),
        )
        .await;
    assert_eq!(
        other.status,
        StatusCode::OK,
        "another client behind the same proxy"
    );
    let failures = audit(&app, "kind=login.failed&limit=1").await;
    assert_eq!(failures[0]["address"], "203.0.113.9");
    // A client that is not the proxy cannot choose its address with the header.
    let spoofed = app
        .try_sign_in_forwarded(
            "oscar",
            &password_of("oscar"),
            Some("198.51.100.4"),
            Some("203.0.113.10"),
        )
        .await;
    assert_eq!(spoofed.status, StatusCode::OK);
    let logins = audit(&app, "kind=login&user=oscar&limit=1").await;
    assert_eq!(logins[0]["address"], "198.51.100.4");
}

/// Sign-ins sent all at once, through the router, on a multi-threaded runtime; their answers.
async fn sign_in_in_parallel(
    app: &Arc<TestApp>,
    attempts: impl IntoIterator<Item = (String, String, Option<&'static str>)>,
) -> Vec<support::TestResponse> {
    let tasks: Vec<_> = attempts
        .into_iter()
        .map(|(username, password, address)| {
            let app = app.clone();
            tokio::spawn(async move { app.try_sign_in(&username, &password, address).await })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    answers
}

fn count(answers: &[support::TestResponse], status: StatusCode) -> usize {
    answers.iter().filter(|answer| answer.status == status).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_wrong_passwords_are_answered_401_at_most_five_times_then_429() {
    let app = Arc::new(TestApp::empty().await);
    app.user("mallory", Role::Viewer).await;
    let before = app.auth.password_verifications();
    let guesses = (0..24).map(|guess| ("mallory".to_owned(), format!("guess number {guess}"), None));
    let answers = sign_in_in_parallel(&app, guesses).await;
    assert_eq!(
        count(&answers, StatusCode::UNAUTHORIZED),
        5,
        "exactly the limit is tried"
    );
    assert_eq!(count(&answers, StatusCode::TOO_MANY_REQUESTS), 19);
    assert!(answers
        .iter()
        .filter(|answer| answer.status == StatusCode::TOO_MANY_REQUESTS)
        .all(|answer| answer.headers[header::RETRY_AFTER] == "900"));
    assert_eq!(
        app.auth.password_verifications() - before,
        5,
        "refusals cost no hash"
    );
    // The right password now is refused too: the name is locked for the window.
    let right = app.try_sign_in("mallory", &password_of("mallory"), None).await;
    assert_eq!(right.status, StatusCode::TOO_MANY_REQUESTS);

    // Five failures in the audit log; the twenty refusals are counted, not written one by one:
    // entries at the 1st and the 10th.
    assert_eq!(audit(&app, "kind=login.failed&limit=500").await.len(), 5);
    let limited = audit(&app, "kind=login.rate_limited&limit=500").await;
    let counted: Vec<_> = limited
        .iter()
        .map(|entry| entry["detail"]["refused"].clone())
        .collect();
    assert_eq!(counted, [json!(10), json!(1)]);
    assert!(limited
        .iter()
        .all(|entry| entry["subject"] == "mallory" && entry["detail"]["limit"] == "username"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_failures_from_one_address_are_answered_401_at_most_twenty_times() {
    let app = Arc::new(TestApp::empty().await);
    let guesses = (0..32).map(|n| (format!("nobody{n}"), "guess".to_owned(), Some("10.6.6.6")));
    let answers = sign_in_in_parallel(&app, guesses).await;
    assert_eq!(count(&answers, StatusCode::UNAUTHORIZED), 20);
    assert_eq!(count(&answers, StatusCode::TOO_MANY_REQUESTS), 12);
    // Another address is not affected.
    let elsewhere = app
        .try_sign_in("admin", &password_of("admin"), Some("10.7.7.7"))
        .await;
    assert_eq!(elsewhere.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_successful_sign_in_does_not_count_as_a_failure() {
    let app = Arc::new(TestApp::empty().await);
    app.user("nina", Role::Viewer).await;
    let attempts_held = || async {
        app.store
            .login_limit(AttemptScope::Username, "nina")
            .await
            .unwrap()
            .map(|(attempts, _)| attempts)
    };
    for _ in 0..3 {
        let wrong = app.try_sign_in("nina", "not it", Some("10.1.1.1")).await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    }
    // Three failures held: two right passwords at once fit in what is left (each reserves an
    // attempt while it is verified), get in, and give their attempts back.
    let right = (0..2).map(|_| ("nina".to_owned(), password_of("nina"), Some("10.1.1.1")));
    let answers = sign_in_in_parallel(&app, right).await;
    assert_eq!(count(&answers, StatusCode::OK), 2);
    for answer in &answers {
        support::logs::secret(&answer.session_cookie().unwrap());
    }
    assert_eq!(attempts_held().await, Some(3));
    // However many follow one after the other.
    for _ in 0..6 {
        app.sign_in("nina", &password_of("nina")).await;
    }
    assert_eq!(attempts_held().await, Some(3));
    for _ in 0..2 {
        let wrong = app.try_sign_in("nina", "not it", Some("10.1.1.1")).await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    }
    let locked = app
        .try_sign_in("nina", &password_of("nina"), Some("10.1.1.1"))
        .await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn beyond_the_argon2_bound_a_sign_in_is_turned_away_busy_and_not_counted() {
    // One verification at a time, and no waiting for it: parallel sign-ins overlap.
    let app = Arc::new(
        TestApp::with_config(AuthConfig {
            concurrent_verifications: 1,
            verification_wait: Duration::ZERO,
            // Room for all sixteen: this is about the argon2 bound, not the sign-in limit.
            failures_per_username: 100,
            ..AuthConfig::default()
        })
        .await,
    );
    app.user("olga", Role::Viewer).await;
    let before = app.auth.password_verifications();
    let attempts = (0..16).map(|_| ("olga".to_owned(), password_of("olga"), None));
    let answers = sign_in_in_parallel(&app, attempts).await;
    let (ok, busy) = (
        count(&answers, StatusCode::OK),
        count(&answers, StatusCode::SERVICE_UNAVAILABLE),
    );
    for answer in answers.iter().filter(|answer| answer.status == StatusCode::OK) {
        support::logs::secret(&answer.session_cookie().unwrap());
    }
    assert_eq!(ok + busy, 16, "only signed in or busy");
    assert!(busy > 0, "sixteen at once overlap on one slot");
    assert_eq!(
        app.auth.password_verifications() - before,
        ok as u64,
        "a busy answer verified nothing"
    );
    for answer in answers
        .iter()
        .filter(|answer| answer.status == StatusCode::SERVICE_UNAVAILABLE)
    {
        assert_eq!(answer.headers[header::RETRY_AFTER], "5");
        assert!(answer.json()["error"].as_str().unwrap().contains("busy"));
    }
    // Nothing was counted against the name: every attempt was given back.
    assert_eq!(
        app.store
            .login_limit(AttemptScope::Username, "olga")
            .await
            .unwrap(),
        Some((0, 0))
    );
}

#[tokio::test]
async fn a_username_over_64_bytes_is_refused_before_anything_is_stored_or_logged() {
    let app = TestApp::empty().await;
    let long = format!("{}-a-name-nobody-has", "overlong".repeat(8));
    let huge = "h".repeat(100_000);
    for name in [&long, &huge] {
        // Treated like a secret: `make test`'s check fails if it is in any log.
        support::logs::secret(name);
        let before = app.auth.password_verifications();
        let refused = app.try_sign_in(name, "whatever password", Some("10.2.2.2")).await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            refused.body
        );
        assert!(!refused.body.contains(name.as_str()), "not echoed");
        assert_eq!(app.auth.password_verifications(), before, "no hash computed");
        assert_eq!(
            app.store.login_limit(AttemptScope::Username, name).await.unwrap(),
            None,
            "nothing counted"
        );
        assert_eq!(
            app.store
                .login_limit(AttemptScope::Address, "10.2.2.2")
                .await
                .unwrap(),
            None
        );
        // The login form refuses it too, without carrying it back in the page's address.
        let body = serde_urlencoded::to_string([("username", name.as_str()), ("password", "x")]).unwrap();
        let form = Request::post("/login")
            .header(header::HOST, HOST)
            .header(header::ORIGIN, ORIGIN)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap();
        let answer = app.send(form).await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER);
        let location = answer.headers[header::LOCATION].to_str().unwrap();
        assert!(location.starts_with("/login?error="), "{location}");
        assert!(!location.contains(name.as_str()));
    }
    let filter = berth_server::db::AuditFilter {
        limit: 1000,
        ..Default::default()
    };
    let entries = app.store.audit_entries(&filter).await.unwrap();
    assert!(entries.iter().all(
        |entry| !entry.subject.as_deref().unwrap_or_default().contains("overlong")
            && !entry.detail.contains("overlong")
    ));
    let logged = support::logs::written();
    assert!(!logged.contains(&long), "the name is not in the log");
    assert!(!logged.contains(&huge[..1000]));
}

#[tokio::test]
async fn admins_list_and_revoke_any_users_tokens() {
    let app = TestApp::empty().await;
    let alice = app.user("alice", Role::Author).await;
    let bob = app.user("bob", Role::Viewer).await;
    let ci = app.token_for(&alice, "ci").await;
    let laptop = app.token_for(&alice, "laptop").await;
    let bobs = app.token_for(&bob, "bobs").await;

    let listed = app.get("/api/v1/users/alice/tokens").await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let names: Vec<_> = listed
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|token| token["name"].clone())
        .collect();
    assert_eq!(names, [json!("laptop"), json!("ci")]);
    for token in [&ci, &laptop] {
        let Client::Token(value) = token else {
            unreachable!()
        };
        assert!(!listed.body.contains(value.as_str()), "never a token's value");
    }
    let ci_id = listed.json()[1]["id"].as_i64().unwrap();
    assert_eq!(listed.json()[1]["created_at"].as_str().unwrap().len(), 20);
    // Admins only; an unknown user is a 404.
    for (client, status) in [(&alice, StatusCode::FORBIDDEN), (&ci, StatusCode::FORBIDDEN)] {
        let refused = app
            .send_as(client, Method::GET, "/api/v1/users/alice/tokens", None)
            .await;
        assert_eq!(refused.status, status);
    }
    assert_eq!(
        app.get("/api/v1/users/nobody/tokens").await.status,
        StatusCode::NOT_FOUND
    );

    // A token is revoked under its own user's name only.
    let wrong_user = app
        .send_as(
            &app.admin,
            Method::DELETE,
            &format!("/api/v1/users/bob/tokens/{ci_id}"),
            None,
        )
        .await;
    assert_eq!(wrong_user.status, StatusCode::NOT_FOUND);
    assert_eq!(me(&app, &ci).await, StatusCode::OK);
    let revoke = format!("/api/v1/users/alice/tokens/{ci_id}");
    let revoked = app.send_as(&app.admin, Method::DELETE, &revoke, None).await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT, "{}", revoked.body);
    assert_eq!(me(&app, &ci).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me(&app, &laptop).await, StatusCode::OK);
    let again = app.send_as(&app.admin, Method::DELETE, &revoke, None).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    let entry = &audit(&app, "kind=token.revoked").await[0];
    assert_eq!(
        (&entry["user"], &entry["subject"], &entry["detail"]["user"]),
        (&json!("admin"), &json!("ci"), &json!("alice"))
    );

    // The Users page shows each user's tokens with a Revoke button, which works.
    let page = app.get("/settings/users").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .contains(r#"data-test="user-token" data-token="laptop""#),
        "{}",
        page.body
    );
    assert!(page.body.contains(r#"data-test="user-token" data-token="bobs""#));
    assert!(
        !page.body.contains(r#"data-token="ci""#),
        "revoked tokens are gone"
    );
    assert!(page.body.contains(r#"data-test="revoke-user-token""#));
    let laptop_id = app.get("/api/v1/users/alice/tokens").await.json()[0]["id"]
        .as_i64()
        .unwrap();
    let (status, body) = server_function(
        &app,
        &app.admin,
        "/api/revoke_user_token",
        &[("username", "alice"), ("id", &laptop_id.to_string())],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(me(&app, &laptop).await, StatusCode::UNAUTHORIZED);
    let (status, _) = server_function(
        &app,
        &bob,
        "/api/revoke_user_token",
        &[("username", "alice"), ("id", "1")],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "admins only");
    assert_eq!(me(&app, &bobs).await, StatusCode::OK);
}

/// A draft plan, whose event stream stays open (it sends the plan, then waits for changes).
async fn draft_plan(app: &TestApp) -> i64 {
    let connection = json!({"name": "lab", "remote": "unix:///run/berth-test/nothing.socket"});
    let added = app.post_json("/api/v1/connections", &connection).await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
    let plan = json!({"name": "followed", "connection": "lab",
        "moves": [{"project": "default", "name": "web-1", "target_project": "prod", "target": ""}]});
    let created = app.post_json("/api/v1/plans", &plan).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    created.json()["id"].as_i64().unwrap()
}

/// Opens the plan's event stream as `client`: its status, and (once the plan's first event
/// has arrived, so the stream is under way before the test ends anything) its body read to the
/// end in a task (it ends when the stream does).
async fn follow(app: &TestApp, client: &Client, plan: i64) -> (StatusCode, tokio::task::JoinHandle<String>) {
    let request = app
        .request(client, Method::GET, &format!("/api/v1/plans/{plan}/events"))
        .body(Body::empty())
        .unwrap();
    let response = app.open(request).await;
    let status = response.status();
    let mut body = response.into_body();
    let mut text = String::new();
    if status == StatusCode::OK {
        let first = tokio::time::timeout(STREAM_END, body.frame())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        text.push_str(&String::from_utf8_lossy(first.data_ref().unwrap()));
    }
    let rest = tokio::spawn(async move {
        let bytes = body.collect().await.unwrap().to_bytes();
        text + &String::from_utf8_lossy(&bytes)
    });
    (status, rest)
}

/// How long a test waits for a stream that should end at its next check (every 50 ms): a
/// bound on a hang, not a measurement.
const STREAM_END: Duration = Duration::from_secs(20);

fn quick_checks() -> StreamLimits {
    StreamLimits {
        recheck: Duration::from_millis(50),
        ..StreamLimits::default()
    }
}

#[tokio::test]
async fn an_event_stream_ends_when_its_session_or_token_ends() {
    let app = TestApp::with_stream_limits(quick_checks()).await;
    let plan = draft_plan(&app).await;
    let viewer = app.user("vera", Role::Viewer).await;
    let token = app.token_for(&viewer, "dashboard").await;

    // Signed out: the stream opened with that session ends.
    let (status, stream) = follow(&app, &viewer, plan).await;
    assert_eq!(status, StatusCode::OK);
    let out = app
        .send_as(&viewer, Method::DELETE, "/api/v1/session", None)
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    let events = tokio::time::timeout(STREAM_END, stream).await.unwrap().unwrap();
    assert!(events.contains("event: plan"), "{events}");

    // A token revoked: the same.
    let (status, stream) = follow(&app, &token, plan).await;
    assert_eq!(status, StatusCode::OK);
    let id = app.get("/api/v1/users/vera/tokens").await.json()[0]["id"]
        .as_i64()
        .unwrap();
    let revoked = app
        .send_as(
            &app.admin,
            Method::DELETE,
            &format!("/api/v1/users/vera/tokens/{id}"),
            None,
        )
        .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    tokio::time::timeout(STREAM_END, stream).await.unwrap().unwrap();

    // The user disabled: every stream of theirs ends.
    let again = app.sign_in("vera", &password_of("vera")).await;
    let (_, first) = follow(&app, &again, plan).await;
    let (_, second) = follow(&app, &again, plan).await;
    let disable = app
        .send_as(
            &app.admin,
            Method::PATCH,
            "/api/v1/users/vera",
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(disable.status, StatusCode::OK);
    tokio::time::timeout(STREAM_END, first).await.unwrap().unwrap();
    tokio::time::timeout(STREAM_END, second).await.unwrap().unwrap();
    let vera = app.store.user_by_name("vera").await.unwrap().unwrap();
    assert_eq!(
        app.state.streams.open_of(vera.id),
        0,
        "their places are given back"
    );
}

#[tokio::test]
async fn an_event_stream_ends_at_its_lifetime() {
    let app = TestApp::with_stream_limits(quick_checks()).await;
    let plan = draft_plan(&app).await;
    let (status, stream) = follow(&app, &app.admin, plan).await;
    assert_eq!(status, StatusCode::OK);
    // Checked several times meanwhile, it stays open while its session lives …
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!stream.is_finished());
    // … and ends once the server's clock says its hour is over.
    app.time.advance(Duration::from_secs(3600));
    let events = tokio::time::timeout(STREAM_END, stream).await.unwrap().unwrap();
    assert!(events.contains("event: plan"), "{events}");
}

#[tokio::test]
async fn a_user_holds_at_most_eight_event_streams() {
    let app = TestApp::with_stream_limits(quick_checks()).await;
    let plan = draft_plan(&app).await;
    let mut open = Vec::new();
    for _ in 0..8 {
        let request = app
            .request(&app.admin, Method::GET, &format!("/api/v1/plans/{plan}/events"))
            .body(Body::empty())
            .unwrap();
        let response = app.open(request).await;
        assert_eq!(response.status(), StatusCode::OK);
        open.push(response);
    }
    let (ninth, _) = follow(&app, &app.admin, plan).await;
    assert_eq!(ninth, StatusCode::TOO_MANY_REQUESTS);
    // Another user is not held back by it.
    let other = app.user("walt", Role::Viewer).await;
    let (status, _stream) = follow(&app, &other, plan).await;
    assert_eq!(status, StatusCode::OK);
    // A stream closed (its client gone) gives its place back.
    open.pop();
    let (status, _stream) = follow(&app, &app.admin, plan).await;
    assert_eq!(status, StatusCode::OK);
}
