//! Accounts through the HTTP API: sign-in and its cookie, session expiry (idle and absolute,
//! with the app's clock moved, not slept), sign-out, password changes, API tokens, users
//! managed by admins, the login rate limit, the constant-time failure path and the audit log.

mod support;

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use berth_core::access::Role;
use berth_server::auth::AuthConfig;
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
async fn the_cookie_is_secure_when_berth_serves_tls() {
    let app = TestApp::with_config(AuthConfig {
        secure_cookies: true,
        ..AuthConfig::default()
    })
    .await;
    let response = app.try_sign_in("admin", &password_of("admin"), None).await;
    assert!(response.headers[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .contains("Secure"));
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

    // Disabling ends sessions and stops tokens; signing in fails like a wrong password.
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
    assert_eq!(me(app, &dave_token).await, StatusCode::OK);

    // A password reset ends every session of the user.
    let session = app.sign_in("dave", &password).await;
    let reset = "reset by the admin";
    support::logs::secret(reset);
    assert_eq!(
        patch("dave", json!({"password": reset})).await.status,
        StatusCode::OK
    );
    assert_eq!(me(app, &session).await, StatusCode::UNAUTHORIZED);
    app.sign_in("dave", reset).await;

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
