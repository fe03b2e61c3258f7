//! Single sign-on's two routes (`auth/oidc/` is the protocol):
//!
//! - `GET /login/oidc?next=…`: starts a sign-in and sends the browser to the identity
//!   provider, with the browser's secret in a short-lived cookie (`SameSite=Lax`: it must come
//!   back on the provider's redirect, a cross-site navigation).
//! - `GET /login/oidc/callback?code=…&state=…`: finishes it. The session cookie is set, and
//!   the browser moved on to `next` by a page of its own (a meta refresh): the session cookie
//!   is `SameSite=Strict`, and a browser does not send it on a redirect that is still part of
//!   the provider's cross-site navigation, so `next` would see nobody signed in.
//!
//! Both are public, as `/login` is; without `--oidc-issuer` they are not found. Failures go
//! back to the login page with the reason; a sign-in whose groups give no role to
//! `/no-access`.

use axum::extract::{Query, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use serde::Deserialize;

use super::access::{session_cookie, Access, ClientAddress, Endpoint, Surface};
use super::session::local_path;
use super::AppState;
use crate::auth::oidc::{Oidc, OidcError, PENDING_TTL};

/// The browser secret's cookie over plain HTTP.
const COOKIE: &str = "berth_oidc";
/// Its name when cookies are secure (`__Host-`: `Secure`, `Path=/`, no `Domain`).
const SECURE_COOKIE: &str = "__Host-berth_oidc";

pub fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint::new(Surface::Form, Method::GET, "/login/oidc", Access::Public, start),
        Endpoint::new(
            Surface::Form,
            Method::GET,
            "/login/oidc/callback",
            Access::Public,
            callback,
        ),
    ]
}

#[derive(Deserialize)]
struct StartQuery {
    #[serde(default)]
    next: String,
}

async fn start(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    Query(query): Query<StartQuery>,
) -> Response {
    let Some(oidc) = state.oidc else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let next = local_path(&query.next);
    match oidc.start(&next, address.as_deref()).await {
        Ok(started) => {
            let cookie = browser_cookie(&oidc, started.browser_secret);
            (
                [(header::SET_COOKIE, cookie)],
                Redirect::to(&started.authorize_url),
            )
                .into_response()
        }
        Err(error) => {
            match &error {
                OidcError::Unreachable(cause) => tracing::warn!("cannot start a single sign-on: {cause}"),
                error => tracing::warn!(reason = error.reason(), "cannot start a single sign-on: {error}"),
            }
            back_to_login(&oidc, &error, &next)
        }
    }
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    #[serde(default)]
    state: String,
    error: Option<String>,
}

async fn callback(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    jar: CookieJar,
    Query(query): Query<CallbackQuery>,
) -> Response {
    let Some(oidc) = state.oidc else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let clear = clear_browser_cookie(&oidc);
    let browser_secret = jar
        .get(cookie_name(&oidc))
        .map(|cookie| cookie.value().to_owned());
    let finished = match (&query.code, &query.error) {
        (Some(code), None) => {
            oidc.finish(code, &query.state, browser_secret.as_deref(), address.as_deref())
                .await
        }
        (_, error) => Err(oidc
            .provider_error(&query.state, error.as_deref().unwrap_or(""), address.as_deref())
            .await),
    };
    match finished {
        Ok((session, next)) => {
            let session_cookie = session_cookie(session.cookie_value, oidc.secure_cookies());
            let mut response = onward(&next).into_response();
            let headers = response.headers_mut();
            headers.append(header::SET_COOKIE, session_cookie);
            headers.append(header::SET_COOKIE, clear);
            response
        }
        Err(OidcError::NoAccess { .. }) => {
            ([(header::SET_COOKIE, clear)], Redirect::to("/no-access")).into_response()
        }
        Err(error) => {
            let mut response = back_to_login(&oidc, &error, "/");
            response.headers_mut().append(header::SET_COOKIE, clear);
            response
        }
    }
}

/// A page that moves the browser on to `next` (a path on this site, checked when the sign-in
/// started), from this site: the navigation is same-site, so the session cookie goes with it.
fn onward(next: &str) -> Html<String> {
    let next = escape(next);
    Html(format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"0;url={next}\"><title>Signed in · Berth</title>\
         <link rel=\"icon\" type=\"image/svg+xml\" href=\"/favicon.svg\"></head>\
         <body><p>Signed in. <a href=\"{next}\">Continue</a>.</p></body></html>"
    ))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn back_to_login(oidc: &Oidc, error: &OidcError, next: &str) -> Response {
    let message = match error {
        // The store's error is not for users.
        OidcError::Store(_) => "the sign-in could not be recorded; try again".to_owned(),
        error => error.to_string(),
    };
    let message = format!("Sign-in with {} failed: {message}", oidc.name());
    let query =
        serde_urlencoded::to_string([("error", message.as_str()), ("next", next)]).expect("strings encode");
    Redirect::to(&format!("/login?{query}")).into_response()
}

fn cookie_name(oidc: &Oidc) -> &'static str {
    if oidc.secure_cookies() {
        SECURE_COOKIE
    } else {
        COOKIE
    }
}

fn browser_cookie(oidc: &Oidc, value: String) -> HeaderValue {
    let cookie = Cookie::build((cookie_name(oidc), value))
        .http_only(true)
        .same_site(SameSite::Lax)
        .path("/")
        .secure(oidc.secure_cookies())
        .max_age(PENDING_TTL.try_into().expect("a short duration"))
        .build();
    HeaderValue::from_str(&cookie.to_string()).expect("the cookie is ASCII")
}

fn clear_browser_cookie(oidc: &Oidc) -> HeaderValue {
    let cookie = Cookie::build((cookie_name(oidc), ""))
        .http_only(true)
        .same_site(SameSite::Lax)
        .path("/")
        .secure(oidc.secure_cookies())
        .removal()
        .build();
    HeaderValue::from_str(&cookie.to_string()).expect("the cookie is ASCII")
}

#[cfg(test)]
mod tests {
    use super::onward;

    #[test]
    fn the_onward_page_cannot_be_broken_out_of() {
        let page = onward("/audit?q=\"><script>x</script>&a='b'").0;
        assert!(!page.contains("<script>"), "{page}");
        assert!(page.contains("url=/audit?q=&quot;&gt;&lt;script&gt;x&lt;/script&gt;&amp;a=&#39;b&#39;"));
    }
}
