//! Signing in and out: `POST|DELETE /api/v1/session` and `GET /api/v1/me` for scripts and
//! the UI; `POST /login` and `POST /logout`, the forms of the login page and the user menu,
//! which work without JavaScript (answered with redirects).

use axum::extract::State;
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use berth_core::access::Action;
use serde::{Deserialize, Serialize};

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
            Ok(([(header::SET_COOKIE, cookie)], Redirect::to(next)).into_response())
        }
        Err(error @ (AuthError::BadCredentials | AuthError::RateLimited { .. })) => {
            let query = serde_urlencoded::to_string([
                ("error", error.to_string().as_str()),
                ("next", next),
                ("username", form.username.as_str()),
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

/// Where to go after signing in: a path on this site, never another site (`//evil`, `https:`).
fn local_path(next: &str) -> &str {
    let local = next.starts_with('/') && !next.starts_with("//") && !next.contains('\\');
    if local {
        next
    } else {
        "/"
    }
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(local_path("/?group=edge"), "/?group=edge");
        assert_eq!(local_path("/audit"), "/audit");
        assert_eq!(local_path("//evil.example/"), "/");
        assert_eq!(local_path("https://evil.example/"), "/");
        assert_eq!(local_path("/\\evil.example"), "/");
        assert_eq!(local_path(""), "/");
    }
}
