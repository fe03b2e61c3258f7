//! Signing in and out: `POST|DELETE /api/v1/session` and `GET /api/v1/me` for scripts and
//! the UI; `POST /login` and `POST /logout`, the forms of the login page and the user menu,
//! which work without JavaScript (answered with redirects).
//!
//! The form takes `next`, where to go once signed in; only a path on this site is followed
//! ([`local_path`]), so a link to Berth's login page cannot send a user elsewhere.

use axum::extract::State;
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use berth_core::access::Action;
use percent_encoding::percent_decode_str;
use serde::{Deserialize, Serialize};
use url::{Position, Url};

use super::access::{clear_session_cookie, session_cookie, Access, ClientAddress, Endpoint, Surface};
use super::extract::ApiJson;
use crate::auth::{Auth, AuthError, NewSession, Principal};
use crate::error::AppError;

pub fn endpoints() -> Vec<Endpoint> {
    let own_account = Access::Signed(Action::ManageOwnAccount);
    vec![
        Endpoint::api(Method::POST, "/api/v1/session", Access::Public, sign_in),
        Endpoint::api(Method::DELETE, "/api/v1/session", own_account, sign_out),
        Endpoint::api(Method::GET, "/api/v1/me", Access::Signed(Action::Read), me),
        Endpoint::new(
            Surface::Form,
            Method::POST,
            "/login",
            Access::Public,
            sign_in_form,
        ),
        Endpoint::new(Surface::Form, Method::POST, "/logout", own_account, sign_out_form),
    ]
}

#[derive(Deserialize)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Serialize)]
pub struct SignedIn {
    pub username: String,
    pub role: String,
    pub csrf_token: String,
}

#[derive(Debug, Serialize)]
pub struct Me {
    pub username: String,
    pub role: String,
}

async fn sign_in(
    State(auth): State<Auth>,
    ClientAddress(address): ClientAddress,
    ApiJson(credentials): ApiJson<Credentials>,
) -> Result<Response, AppError> {
    let session = auth
        .sign_in(&credentials.username, &credentials.password, address.as_deref())
        .await?;
    let cookie = session_cookie(session.cookie_value, auth.config().secure_cookies);
    let principal = session.principal;
    let body = SignedIn {
        username: principal.username.clone(),
        role: principal.role.as_str().to_owned(),
        csrf_token: principal.csrf_token().unwrap_or_default().to_owned(),
    };
    Ok(([(header::SET_COOKIE, cookie)], Json(body)).into_response())
}

async fn sign_out(
    State(auth): State<Auth>,
    principal: Principal,
    ClientAddress(address): ClientAddress,
) -> Result<Response, AppError> {
    auth.sign_out(&principal, address).await?;
    let cookie = clear_session_cookie(auth.config().secure_cookies);
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response())
}

async fn me(principal: Principal) -> Json<Me> {
    Json(Me {
        username: principal.username,
        role: principal.role.as_str().to_owned(),
    })
}

#[derive(Deserialize)]
pub struct LoginForm {
    pub username: String,
    pub password: String,
    #[serde(default)]
    pub next: String,
}

/// The login page's form: on success a redirect to where the user was going, otherwise back
/// to the login page with the reason.
async fn sign_in_form(
    State(auth): State<Auth>,
    ClientAddress(address): ClientAddress,
    Form(form): Form<LoginForm>,
) -> Result<Response, AppError> {
    let next = local_path(&form.next);
    match auth
        .sign_in(&form.username, &form.password, address.as_deref())
        .await
    {
        Ok(NewSession { cookie_value, .. }) => {
            let cookie = session_cookie(cookie_value, auth.config().secure_cookies);
            Ok(([(header::SET_COOKIE, cookie)], Redirect::to(&next)).into_response())
        }
        Err(
            error @ (AuthError::BadCredentials
            | AuthError::RateLimited { .. }
            | AuthError::Busy { .. }
            | AuthError::UnusableUsername),
        ) => {
            // A name no account can have is not sent back: it may be huge, and the login
            // page's address is logged.
            let username = match error {
                AuthError::UnusableUsername => "",
                _ => form.username.as_str(),
            };
            let query = serde_urlencoded::to_string([
                ("error", error.to_string().as_str()),
                ("next", next.as_str()),
                ("username", username),
            ])
            .expect("strings encode");
            Ok(Redirect::to(&format!("/login?{query}")).into_response())
        }
        Err(error) => Err(error.into()),
    }
}

async fn sign_out_form(
    State(auth): State<Auth>,
    principal: Principal,
    ClientAddress(address): ClientAddress,
) -> Result<Response, AppError> {
    auth.sign_out(&principal, address).await?;
    let cookie = clear_session_cookie(auth.config().secure_cookies);
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to("/login")).into_response())
}

/// Where to go after signing in: a path on this site, as the browser will read it, or `/`.
///
/// A check of the text alone is not enough, because browsers are lenient: they drop tabs and
/// newlines inside a URL (`/\t/evil.example` becomes `//evil.example`, another host), read `\`
/// as `/`, and `Redirect` would refuse a raw control character. So `next` must start with
/// exactly one `/`, hold no backslash, control character or whitespace even once
/// percent-decoded (`/%2F%2Fevil.example`, `/%09/…`), and resolve against this site to this
/// site; what is followed is that resolution, normalised.
pub(super) fn local_path(next: &str) -> String {
    // A stand-in for this site: only whether the origin stays the same matters.
    const SITE: &str = "http://berth.invalid/";
    let decoded = percent_decode_str(next).decode_utf8_lossy();
    let plain = next.starts_with('/')
        && !decoded.starts_with("//")
        && !decoded
            .chars()
            .any(|c| c == '\\' || c.is_control() || c.is_whitespace());
    if !plain {
        return "/".to_owned();
    }
    let site = Url::parse(SITE).expect("a valid URL");
    match site.join(next) {
        Ok(url) if url.origin() == site.origin() => url[Position::BeforePath..].to_owned(),
        _ => "/".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn only_paths_on_this_site_are_followed_after_sign_in() {
        for good in [
            "/",
            "/?group=edge",
            "/audit",
            "/plans/3?x=1#y",
            "/scriptlets/2/diff?from=1&to=2",
        ] {
            assert_eq!(local_path(good), good);
        }
        // Normalised as the browser would resolve it, still on this site.
        assert_eq!(local_path("/plans/../audit"), "/audit");
        for hostile in [
            "",
            "//evil.example/",
            "///evil.example/",
            "https://evil.example/",
            "http:evil.example",
            "javascript:alert(1)",
            "evil.example",
            "/\\evil.example",
            "/%5Cevil.example",
            "/%2F%2Fevil.example",
            "/%2f/evil.example",
            "/\t/evil.example",
            "/%09/evil.example",
            "/\n/evil.example",
            "/%0d%0aSet-Cookie:%20x=1",
            "/\r\nLocation: https://evil.example",
            "/ /evil.example",
            "/%20/evil.example",
            "/\u{85}/evil.example",
        ] {
            assert_eq!(local_path(hostile), "/", "{hostile:?}");
        }
    }
}
