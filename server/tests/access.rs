//! The locked door, route by route: every route of the router (taken from the lists the
//! router is built from, so a new route cannot be missed) answered as the role table says,
//! for anonymous clients, every role, API tokens, writes without the CSRF token and writes
//! from a foreign origin.

use crate::support;

use axum::body::Body;
use axum::http::{header, Method, StatusCode};
use berth_core::access::Role;
use berth_server::http::access::{Access, RouteRule, Surface};
use berth_server::http::route_rules;
use support::{Client, TestApp, TestResponse, HOST};

/// A concrete URI for a route's path (parameters filled with values that name nothing).
fn concrete(path: &str) -> String {
    path.replace("{id}", "999999").replace("{name}", "nobody")
}

/// A request on `rule` as `client`: writes carry an empty JSON object. An event stream that
/// opens is answered with its status alone (its body never ends).
async fn call(app: &TestApp, rule: &RouteRule, client: &Client) -> TestResponse {
    let body = (!rule.method.is_safe()).then(|| serde_json::json!({}));
    let uri = concrete(&rule.path);
    if rule.path.ends_with("/events") {
        let response = app
            .open(
                app.request(client, rule.method.clone(), &uri)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        let streaming = response
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|value| value == "text/event-stream");
        if streaming {
            return TestResponse {
                status: response.status(),
                headers: response.headers().clone(),
                body: String::new(),
            };
        }
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap()
            .to_bytes();
        return TestResponse {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        };
    }
    app.send_as(client, rule.method.clone(), &uri, body).await
}

fn refused(response: &TestResponse) -> bool {
    matches!(response.status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN)
}

#[tokio::test]
async fn every_route_answers_as_the_role_table_says() {
    let app = TestApp::with_demo().await;
    let rules = route_rules(&app.state);

    // The walk covers what Leptos registers: every server function and every page.
    for (path, _) in leptos::server_fn::axum::server_fn_paths() {
        assert!(
            rules.iter().any(|rule| rule.path == path),
            "server function {path} not walked"
        );
    }
    for page in [
        "/",
        "/login",
        "/settings/users",
        "/settings/tokens",
        "/settings/password",
        "/audit",
    ] {
        assert!(
            rules
                .iter()
                .any(|rule| rule.path == page && rule.surface == Surface::Page),
            "{page}"
        );
    }
    assert!(rules.len() >= 25, "{} routes", rules.len());

    for role in Role::ALL.into_iter().filter(|role| *role != Role::Admin) {
        app.auth
            .add_user(
                &berth_server::audit::Actor::command_line(),
                role.as_str(),
                role,
                &support::password_of(role.as_str()),
            )
            .await
            .unwrap();
    }

    for rule in &rules {
        let route = format!("{} {}", rule.method, rule.path);
        let anonymous = call(&app, rule, &Client::Anonymous).await;
        match rule.access {
            Access::Public => assert!(!refused(&anonymous), "{route}: public, but {}", anonymous.status),
            Access::AdminToken => {
                assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED, "{route}");
                assert!(
                    anonymous.body.contains("admin's API token"),
                    "{route}: {}",
                    anonymous.body
                );
            }
            Access::Signed(_) if rule.surface == Surface::Page => {
                assert_eq!(anonymous.status, StatusCode::SEE_OTHER, "{route}");
                let location = anonymous.headers[header::LOCATION].to_str().unwrap();
                assert!(location.starts_with("/login?next=%2F"), "{route}: {location}");
            }
            Access::Signed(_) => {
                assert_eq!(
                    anonymous.status,
                    StatusCode::UNAUTHORIZED,
                    "{route}: {}",
                    anonymous.body
                );
                assert!(
                    anonymous.body.contains("sign in first"),
                    "{route}: {}",
                    anonymous.body
                );
                if rule.surface == Surface::ServerFunction {
                    // In the server functions' own error encoding, which the UI decodes.
                    let error: berth_app::error::BerthError = serde_json::from_str(&anonymous.body).unwrap();
                    assert_eq!(error.status_code(), 401);
                }
            }
        }

        for role in Role::ALL {
            // A fresh session each time: some routes end the session that calls them.
            let client = app
                .sign_in(role.as_str(), &support::password_of(role.as_str()))
                .await;
            let response = call(&app, rule, &client).await;
            if rule.access == Access::AdminToken {
                // A session, even an admin's, is not a scraper's credential; a token is, and
                // only an admin's.
                assert_eq!(
                    response.status,
                    StatusCode::UNAUTHORIZED,
                    "{route} as {role}'s session"
                );
                let token = app.token_for(&client, "scraper").await;
                let with_token = call(&app, rule, &token).await;
                let expected = if role == Role::Admin {
                    StatusCode::OK
                } else {
                    StatusCode::UNAUTHORIZED
                };
                assert_eq!(with_token.status, expected, "{route} with {role}'s token");
                continue;
            }
            let allowed = match rule.access {
                Access::Public => true,
                Access::Signed(action) => role.may(action),
                Access::AdminToken => unreachable!("walked above"),
            };
            if allowed {
                assert!(
                    !refused(&response),
                    "{route} as {role}: {} {}",
                    response.status,
                    response.body
                );
            } else {
                assert_eq!(
                    response.status,
                    StatusCode::FORBIDDEN,
                    "{route} as {role}: {}",
                    response.body
                );
                let expected = format!("your role ({role})");
                assert!(response.body.contains(&expected), "{route}: {}", response.body);
            }
        }

        if rule.method.is_safe() {
            continue;
        }
        // A foreign Origin is refused on every write, even with the session and its CSRF token.
        let admin = app.sign_in("admin", &support::password_of("admin")).await;
        let Client::Session { cookie, csrf_token } = &admin else {
            unreachable!()
        };
        let mut foreign = app
            .request(&admin, rule.method.clone(), &concrete(&rule.path))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from("{}"))
            .unwrap();
        foreign
            .headers_mut()
            .insert(header::ORIGIN, "http://evil.example".parse().unwrap());
        let response = app.send(foreign).await;
        assert_eq!(
            response.status,
            StatusCode::FORBIDDEN,
            "{route} from a foreign origin"
        );
        assert!(response.body.contains("Origin"), "{route}: {}", response.body);

        let Access::Signed(_) = rule.access else { continue };
        // With the cookie but without the CSRF token: refused.
        let no_token = axum::http::Request::builder()
            .method(rule.method.clone())
            .uri(concrete(&rule.path))
            .header(header::HOST, HOST)
            .header(header::ORIGIN, support::ORIGIN)
            .header(header::COOKIE, format!("berth_session={cookie}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from("{}"))
            .unwrap();
        let response = app.send(no_token).await;
        assert_eq!(
            response.status,
            StatusCode::FORBIDDEN,
            "{route} without the CSRF token"
        );
        assert!(
            response.body.contains("X-CSRF-Token"),
            "{route}: {}",
            response.body
        );

        // A wrong token, and a missing Origin, are refused too.
        let wrong_token = app
            .request(
                &Client::Session {
                    cookie: cookie.clone(),
                    csrf_token: format!("{csrf_token}x"),
                },
                rule.method.clone(),
                &concrete(&rule.path),
            )
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from("{}"))
            .unwrap();
        assert_eq!(
            app.send(wrong_token).await.status,
            StatusCode::FORBIDDEN,
            "{route} with a wrong CSRF token"
        );
        let mut no_origin = app
            .request(&admin, rule.method.clone(), &concrete(&rule.path))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from("{}"))
            .unwrap();
        no_origin.headers_mut().remove(header::ORIGIN);
        assert_eq!(
            app.send(no_origin).await.status,
            StatusCode::FORBIDDEN,
            "{route} without an Origin"
        );

        // An API token needs no CSRF token (a browser never sends one on its own).
        let token = app.token_for(&admin, "walk").await;
        let mut with_token = app
            .request(&token, rule.method.clone(), &concrete(&rule.path))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from("{}"))
            .unwrap();
        with_token.headers_mut().remove(header::ORIGIN);
        let response = app.send(with_token).await;
        assert!(
            !refused(&response),
            "{route} with an API token: {} {}",
            response.status,
            response.body
        );
    }
}

#[tokio::test]
async fn a_form_posted_without_javascript_carries_the_token_as_a_field() {
    let app = TestApp::with_demo().await;
    let Client::Session { cookie, csrf_token } = app.admin.clone() else {
        unreachable!()
    };
    let post = |body: String| {
        axum::http::Request::post("/logout")
            .header(header::HOST, HOST)
            .header(header::ORIGIN, support::ORIGIN)
            .header(header::COOKIE, format!("berth_session={cookie}"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap()
    };
    let wrong = app.send(post("csrf_token=nope".into())).await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.get("/api/v1/me").await.status,
        StatusCode::OK,
        "still signed in"
    );
    let right = app.send(post(format!("csrf_token={csrf_token}"))).await;
    assert_eq!(right.status, StatusCode::SEE_OTHER);
    assert_eq!(right.headers[header::LOCATION], "/login");
    assert_eq!(
        right.session_cookie().as_deref(),
        Some(""),
        "the cookie is cleared"
    );
    assert_eq!(
        app.get("/api/v1/me").await.status,
        StatusCode::UNAUTHORIZED,
        "the session ended"
    );
}

#[tokio::test]
async fn pages_send_anonymous_visitors_to_sign_in_and_back() {
    let app = TestApp::with_demo().await;
    let response = app
        .send_as(&Client::Anonymous, Method::GET, "/?group=edge", None)
        .await;
    assert_eq!(response.status, StatusCode::SEE_OTHER);
    assert_eq!(
        response.headers[header::LOCATION],
        "/login?next=%2F%3Fgroup%3Dedge"
    );
    let login = app
        .send_as(
            &Client::Anonymous,
            Method::GET,
            "/login?next=%2F%3Fgroup%3Dedge",
            None,
        )
        .await;
    assert_eq!(login.status, StatusCode::OK);
    assert!(login.body.contains("name=\"next\" value=\"/?group=edge\""));
    assert!(login.body.contains("name=\"username\""));
    assert!(login.body.contains("name=\"password\""));
    // Static files stay open: the login page needs its stylesheet.
    assert_eq!(
        app.send_as(&Client::Anonymous, Method::GET, "/pkg/berth.css", None)
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn every_response_carries_the_security_headers_and_pages_a_nonce_for_their_scripts() {
    let app = TestApp::with_demo().await;
    let page = app.get("/").await;
    assert_eq!(page.status, StatusCode::OK);
    let policy = page.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(policy.contains("default-src 'self'"), "{policy}");
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    // No inline code runs, and no inline `<style>` element applies without the nonce; only
    // `style` attributes are allowed (the editor positions its tooltips with them).
    let directive = |name: &str| {
        policy
            .split(';')
            .map(str::trim)
            .find(|directive| directive.split(' ').next() == Some(name))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(!policy.contains("'unsafe-eval'"), "{policy}");
    for name in ["script-src", "style-src"] {
        assert!(!directive(name).contains("unsafe-inline"), "{policy}");
    }
    assert_eq!(directive("style-src-attr"), "style-src-attr 'unsafe-inline'");
    let nonce = policy
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("a script nonce");
    // Every inline script Leptos rendered carries this request's nonce.
    let scripts = page.body.matches("<script").count();
    assert!(scripts > 0);
    assert_eq!(page.body.matches(&format!("nonce=\"{nonce}\"")).count(), scripts);
    assert_eq!(page.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(page.headers[header::REFERRER_POLICY], "same-origin");
    // Each request has its own nonce.
    let again = app.get("/").await;
    assert_ne!(
        again.headers[header::CONTENT_SECURITY_POLICY],
        page.headers[header::CONTENT_SECURITY_POLICY]
    );
    // The CSRF token of the session is in the page for the server function client.
    let Client::Session { csrf_token, .. } = &app.admin else {
        unreachable!()
    };
    assert!(page
        .body
        .contains(&format!("<meta name=\"csrf-token\" content=\"{csrf_token}\"")));
}

#[tokio::test]
async fn the_ui_hides_what_the_role_may_not_do() {
    let app = TestApp::with_demo().await;
    let viewer = app.user("vera", Role::Viewer).await;
    let as_viewer = app.send_as(&viewer, Method::GET, "/", None).await;
    let as_admin = app.get("/").await;
    // Leptos may put a hydration marker after a text (`vera<!>`): match up to the text.
    assert!(as_viewer.body.contains("class=\"user-name\">vera<"));
    assert!(as_viewer.body.contains("class=\"badge\">viewer<"));
    assert!(!as_viewer.body.contains("data-test=\"nav-users\""));
    assert!(!as_viewer.body.contains("data-test=\"nav-audit\""));
    assert!(as_admin.body.contains("data-test=\"nav-users\""));
    assert!(as_admin.body.contains("data-test=\"nav-audit\""));
    // And the server refuses what is hidden, whatever the client sends.
    let users = app.send_as(&viewer, Method::GET, "/settings/users", None).await;
    assert_eq!(users.status, StatusCode::FORBIDDEN);
    assert!(
        users.body.contains("your role (viewer) may not do this"),
        "{}",
        users.body
    );
}
