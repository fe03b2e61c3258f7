//! The locked door: every request passes [`guard`] before any handler, page or server function.
//!
//! The guard
//! 1. finds the route's rule in the [`AccessTable`] (built with the router from the same
//!    lists; a route without a rule is refused, never let through),
//! 2. establishes who is asking: `Authorization: Bearer` (an API token) or the session cookie,
//! 3. refuses, per the rule and `berth_core::access`: no identity → 401 (pages: a redirect to
//!    `/login?next=…`), a role that may not take the route's action → 403; a route for an
//!    admin's API token only (`/metrics`) → 401 for anything else,
//! 4. refuses cross-site writes: an unsafe method with a foreign `Origin` → 403; a write
//!    authenticated by the cookie also needs the session's CSRF token, in `X-CSRF-Token` (or, for
//!    a form posted without JavaScript, its `csrf_token` field) and a same-origin `Origin`,
//! 5. hands the identity to the handler (request extensions: [`Principal`], the UI's
//!    [`Caller`], [`ClientAddress`]) and sets the response's Content-Security-Policy with this
//!    request's script nonce, and, when the public origin is HTTPS, `Strict-Transport-Security`.
//!
//! With secure cookies (TLS, or `--secure-cookies` behind a TLS proxy) the session cookie is
//! `__Host-berth_session`: the browser keeps it only if it is `Secure`, `Path=/` and has no
//! `Domain`, so no sibling subdomain and no plain-HTTP answer can plant or overwrite it.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, Request, State};
use axum::handler::Handler;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{on, MethodFilter, MethodRouter};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use berth_app::backend::Caller;
use berth_app::error::BerthError;
use berth_core::access::{Action, Role};

use super::client_address::client_address;
use super::{AppState, WebConfig};
use crate::auth::secret::{random_secret, same_secret};
use crate::auth::{Auth, Credential, Principal};
use crate::error::AppError;
use crate::tls::PeerAddress;

/// The session cookie's name over plain HTTP.
pub const SESSION_COOKIE: &str = "berth_session";
/// The session cookie's name when cookies are secure: the `__Host-` prefix needs `Secure`.
pub const SECURE_SESSION_COOKIE: &str = "__Host-berth_session";
/// HSTS when the public origin is HTTPS: a year, the usual minimum for browsers' preload
/// lists; not `includeSubDomains`, as Berth does not speak for the domain's other hosts.
const STRICT_TRANSPORT_SECURITY: &str = "max-age=31536000";
/// The header that carries the session's CSRF token on writes.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The form field that carries it when a form is posted without JavaScript.
pub const CSRF_FIELD: &str = "csrf_token";
/// A form posted without JavaScript is small; a bigger one is not read for its token.
const FORM_LIMIT: usize = 64 << 10;

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone: sign-in, health, the login page.
    Public,
    /// A signed-in user whose role may take the action.
    Signed(Action),
    /// An admin's API token (`GET /metrics` for a scraper); anything else, a session cookie
    /// included, is 401: a scraper holds a token, and a browser page has no use for the
    /// metrics, so a session never reads them.
    AdminToken,
}

/// How a route answers a refusal: a browser navigating to a page is sent to the login page;
/// API clients, server functions and forms get the status and `{"error"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// `/api/v1`: JSON for scripts.
    Api,
    /// A Leptos page.
    Page,
    /// A Leptos server function.
    ServerFunction,
    /// A form posted by the browser (`/login`, `/logout`).
    Form,
}

/// One route's rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteRule {
    pub method: Method,
    pub path: String,
    pub access: Access,
    pub surface: Surface,
}

/// A route with its rule and its handler: the router is built from these, so a route cannot
/// exist without a rule.
pub struct Endpoint {
    pub rule: RouteRule,
    pub handler: MethodRouter<AppState>,
}

impl Endpoint {
    pub fn new<H, T>(surface: Surface, method: Method, path: &str, access: Access, handler: H) -> Endpoint
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let filter = MethodFilter::try_from(method.clone()).expect("a standard method");
        Endpoint {
            rule: RouteRule {
                method,
                path: path.to_owned(),
                access,
                surface,
            },
            handler: on(filter, handler),
        }
    }

    pub fn api<H, T>(method: Method, path: &str, access: Access, handler: H) -> Endpoint
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        Endpoint::new(Surface::Api, method, path, access, handler)
    }
}

/// The Leptos pages and what each needs. A page missing here makes the router refuse to build.
pub const PAGES: &[(&str, Access)] = &[
    ("/", Access::Signed(Action::Read)),
    ("/login", Access::Public),
    ("/no-access", Access::Public),
    ("/settings/password", Access::Signed(Action::ManageOwnAccount)),
    ("/settings/tokens", Access::Signed(Action::ManageOwnAccount)),
    ("/settings/users", Access::Signed(Action::ManageUsers)),
    ("/audit", Access::Signed(Action::ReadAudit)),
    ("/scriptlets", Access::Signed(Action::Read)),
    ("/scriptlets/new", Access::Signed(Action::EditScriptlets)),
    ("/scriptlets/{id}", Access::Signed(Action::Read)),
    ("/scriptlets/{id}/diff", Access::Signed(Action::Read)),
    ("/snapshots", Access::Signed(Action::Read)),
    ("/settings/connections", Access::Signed(Action::ManageConnections)),
    ("/plans", Access::Signed(Action::Read)),
    ("/plans/new", Access::Signed(Action::DraftPlans)),
    ("/plans/{id}", Access::Signed(Action::Read)),
    ("/impact", Access::Signed(Action::Read)),
    ("/decisions", Access::Signed(Action::Read)),
];

/// The server functions (by path) and what each needs. One missing here makes the router
/// refuse to build.
pub const SERVER_FUNCTIONS: &[(&str, Access)] = &[
    ("/api/viewer", Access::Public),
    ("/api/sign_in_options", Access::Public),
    ("/api/cluster_view", Access::Signed(Action::Read)),
    ("/api/change_password", Access::Signed(Action::ManageOwnAccount)),
    ("/api/list_tokens", Access::Signed(Action::ManageOwnAccount)),
    ("/api/create_token", Access::Signed(Action::ManageOwnAccount)),
    ("/api/revoke_token", Access::Signed(Action::ManageOwnAccount)),
    ("/api/list_users", Access::Signed(Action::ManageUsers)),
    ("/api/add_user", Access::Signed(Action::ManageUsers)),
    ("/api/change_user", Access::Signed(Action::ManageUsers)),
    ("/api/revoke_user_token", Access::Signed(Action::ManageUsers)),
    ("/api/audit_log", Access::Signed(Action::ReadAudit)),
    ("/api/list_scriptlets", Access::Signed(Action::Read)),
    ("/api/create_scriptlet", Access::Signed(Action::EditScriptlets)),
    ("/api/get_scriptlet", Access::Signed(Action::Read)),
    ("/api/save_revision", Access::Signed(Action::EditScriptlets)),
    ("/api/scriptlet_diff", Access::Signed(Action::Read)),
    // The picker is on the new-scriptlet page, which only authors open.
    ("/api/scriptlet_templates", Access::Signed(Action::EditScriptlets)),
    ("/api/sandbox_setup", Access::Signed(Action::Read)),
    ("/api/sandbox_run", Access::Signed(Action::RunSandbox)),
    ("/api/run_cases", Access::Signed(Action::RunSandbox)),
    ("/api/fuzz_scriptlet", Access::Signed(Action::RunSandbox)),
    ("/api/matrix_run", Access::Signed(Action::RunSandbox)),
    ("/api/impact_setup", Access::Signed(Action::Read)),
    ("/api/completion_schema", Access::Signed(Action::Read)),
    ("/api/list_snapshots", Access::Signed(Action::Read)),
    ("/api/upload_snapshot", Access::Signed(Action::AddSnapshots)),
    ("/api/delete_snapshot", Access::Signed(Action::DeleteSnapshots)),
    ("/api/list_connections", Access::Signed(Action::Read)),
    ("/api/add_connection", Access::Signed(Action::ManageConnections)),
    (
        "/api/delete_connection",
        Access::Signed(Action::ManageConnections),
    ),
    ("/api/capture_snapshot", Access::Signed(Action::AddSnapshots)),
    ("/api/set_decision_log", Access::Signed(Action::ManageConnections)),
    ("/api/decisions_page", Access::Signed(Action::Read)),
    ("/api/list_plans", Access::Signed(Action::Read)),
    ("/api/get_plan", Access::Signed(Action::Read)),
    ("/api/plan_timeline", Access::Signed(Action::Read)),
    ("/api/plan_builder", Access::Signed(Action::Read)),
    ("/api/create_plan", Access::Signed(Action::DraftPlans)),
    ("/api/edit_plan", Access::Signed(Action::DraftPlans)),
    ("/api/preview_plan", Access::Signed(Action::DraftPlans)),
    ("/api/submit_plan", Access::Signed(Action::DraftPlans)),
    ("/api/approve_plan", Access::Signed(Action::ApprovePlans)),
    ("/api/request_plan_changes", Access::Signed(Action::ApprovePlans)),
    ("/api/execute_plan", Access::Signed(Action::ExecutePlans)),
    ("/api/cancel_plan", Access::Signed(Action::DraftPlans)),
    ("/api/reverse_plan", Access::Signed(Action::DraftPlans)),
    // Reviewers comment too: every role from author up may (the ladder).
    ("/api/comment_plan", Access::Signed(Action::DraftPlans)),
    ("/api/skip_plan_move", Access::Signed(Action::DraftPlans)),
];

/// Every route's rule, by method and path as the router matched it.
#[derive(Debug, Default)]
pub struct AccessTable {
    rules: HashMap<(Method, String), RouteRule>,
}

impl AccessTable {
    pub fn insert(&mut self, rule: RouteRule) {
        let key = (rule.method.clone(), rule.path.clone());
        if let Some(previous) = self.rules.insert(key, rule) {
            panic!("two access rules for {} {}", previous.method, previous.path);
        }
    }

    /// Adds the rule of a page or server function registered by Leptos; panics when the lists
    /// above have none (a new page or server function must say who may use it).
    pub fn insert_listed(&mut self, surface: Surface, method: Method, path: &str) {
        let list = match surface {
            Surface::Page => PAGES,
            _ => SERVER_FUNCTIONS,
        };
        let Some((_, access)) = list.iter().find(|(listed, _)| *listed == path) else {
            panic!("{path} has no access rule: add it to http/access.rs");
        };
        self.insert(RouteRule {
            method,
            path: path.to_owned(),
            access: *access,
            surface,
        });
    }

    pub fn get(&self, method: &Method, path: &str) -> Option<&RouteRule> {
        self.rules.get(&(method.clone(), path.to_owned()))
    }

    /// Every rule, sorted by path and method (for the tests that walk every route).
    pub fn rules(&self) -> Vec<RouteRule> {
        let mut rules: Vec<RouteRule> = self.rules.values().cloned().collect();
        rules.sort_by(|a, b| (&a.path, a.method.as_str()).cmp(&(&b.path, b.method.as_str())));
        rules
    }
}

/// What the guard needs, shared by every request.
#[derive(Debug)]
pub struct Guard {
    pub auth: Auth,
    pub table: AccessTable,
    /// Origins accepted besides the request's own and trusted proxies.
    pub web: Arc<WebConfig>,
    /// The public origin is HTTPS (Berth serves TLS, or `--secure-cookies` behind a TLS proxy):
    /// cookies are `Secure` and `__Host-`, the own origin is `https://`, responses carry HSTS.
    pub secure: bool,
}

/// The client's address, as the connection has it (`None` without a socket, as in tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientAddress(pub Option<String>);

/// This request's CSP nonce, for Leptos's inline hydration scripts.
#[derive(Debug, Clone)]
pub struct CspNonce(pub String);

/// Who is asking, as far as the credentials tell.
struct Identity {
    principal: Option<Principal>,
    /// Why a presented API token was refused.
    bad_token: Option<&'static str>,
    /// A session cookie was sent, but its session is over: the answer clears it.
    stale_cookie: bool,
}

pub async fn guard(State(guard): State<Arc<Guard>>, request: Request, next: Next) -> Response {
    let nonce = random_secret();
    let (mut response, stale_cookie) = admit(&guard, request, next, &nonce).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_str(&content_security_policy(&nonce)).expect("the policy is ASCII"),
    );
    if guard.secure {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(STRICT_TRANSPORT_SECURITY),
        );
    }
    if stale_cookie && !headers.contains_key(header::SET_COOKIE) {
        headers.insert(header::SET_COOKIE, clear_session_cookie(guard.secure));
    }
    response
}

/// Steps 1 to 5: the refusal, or the handler's response; and whether the request came with
/// the cookie of a session that is over.
async fn admit(guard: &Guard, request: Request, next: Next, nonce: &str) -> (Response, bool) {
    let rule = match request.extensions().get::<MatchedPath>() {
        // `get` routes answer HEAD too, under GET's rule.
        Some(matched) => match guard.table.get(rule_method(request.method()), matched.as_str()) {
            Some(rule) => Some(rule.clone()),
            None => {
                tracing::error!(method = %request.method(), path = matched.as_str(), "route without an access rule");
                let refusal = AppError::Forbidden("this route has no access rule".into());
                return (refusal.into_response(), false);
            }
        },
        // The fallback: static files and the 404 page, open to all.
        None => None,
    };
    let identity = match guard.identify(request.headers()).await {
        Ok(identity) => identity,
        Err(error) => return (error.into_response(), false),
    };
    let stale_cookie = identity.stale_cookie;
    let (access, surface) = rule.as_ref().map_or((Access::Public, Surface::Page), |rule| {
        (rule.access, rule.surface)
    });
    let address =
        request
            .extensions()
            .get::<ConnectInfo<PeerAddress>>()
            .map(|ConnectInfo(PeerAddress(peer))| {
                client_address(peer.ip(), request.headers(), &guard.web.trusted_proxies).to_string()
            });

    if access == Access::AdminToken {
        let admin_token = identity.principal.as_ref().is_some_and(|principal| {
            principal.role == Role::Admin && matches!(principal.credential, Credential::Token { .. })
        });
        if !admin_token {
            let message = "this needs an admin's API token: `Authorization: Bearer TOKEN`";
            return (unauthenticated(surface, &request, Some(message)), stale_cookie);
        }
    }
    if let Access::Signed(action) = access {
        match &identity.principal {
            None => {
                return (
                    unauthenticated(surface, &request, identity.bad_token),
                    stale_cookie,
                )
            }
            Some(principal) if !principal.role.may(action) => {
                let message = format!(
                    "your role ({}) may not do this: it needs a role that may {}",
                    principal.role,
                    action.as_str().replace('_', " ")
                );
                return (forbidden(surface, message), stale_cookie);
            }
            Some(_) => {}
        }
    }

    let mut request = request;
    if !request.method().is_safe() {
        request = match guard
            .check_write(request, access, identity.principal.as_ref())
            .await
        {
            Ok(request) => request,
            Err(refusal) => return (forbidden(surface, refusal.to_owned()), stale_cookie),
        };
    }

    let extensions = request.extensions_mut();
    extensions.insert(ClientAddress(address.clone()));
    extensions.insert(CspNonce(nonce.to_owned()));
    if let Some(principal) = identity.principal {
        extensions.insert(caller(&principal, address));
        extensions.insert(principal);
    }
    (next.run(request).await, stale_cookie)
}

fn rule_method(method: &Method) -> &Method {
    if method == Method::HEAD {
        &Method::GET
    } else {
        method
    }
}

/// Only Berth's own scripts run: its module and wasm (which needs `'wasm-unsafe-eval'` to be
/// compiled) and the inline hydration scripts Leptos renders with this request's nonce. Styles
/// come from Berth's stylesheet and from the editor, CodeMirror, which writes its theme into
/// `<style>` elements carrying the same nonce and positions tooltips and sizes tabs with
/// `style` attributes: those are allowed (`style-src-attr`), as they cannot run code or load
/// anything that `img-src` and `default-src` do not allow.
fn content_security_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval' 'nonce-{nonce}'; style-src 'self' 'nonce-{nonce}'; \
         style-src-attr 'unsafe-inline'; \
         img-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; \
         frame-ancestors 'none'"
    )
}

impl Guard {
    async fn identify(&self, headers: &HeaderMap) -> Result<Identity, AppError> {
        if let Some(authorization) = headers.get(header::AUTHORIZATION) {
            let token = authorization
                .to_str()
                .ok()
                .and_then(|value| value.strip_prefix("Bearer "))
                .map(str::trim);
            let principal = match token {
                Some(token) => self.auth.token(token).await?,
                None => None,
            };
            let bad_token = principal.is_none().then_some(if token.is_some() {
                "the API token is unknown or revoked, or its user is disabled"
            } else {
                "the Authorization header must be `Bearer TOKEN`"
            });
            return Ok(Identity {
                principal,
                bad_token,
                stale_cookie: false,
            });
        }
        let jar = CookieJar::from_headers(headers);
        let Some(cookie) = jar.get(session_cookie_name(self.secure)) else {
            return Ok(Identity {
                principal: None,
                bad_token: None,
                stale_cookie: false,
            });
        };
        let principal = self.auth.session(cookie.value()).await?;
        Ok(Identity {
            stale_cookie: principal.is_none(),
            principal,
            bad_token: None,
        })
    }

    /// A write must come from Berth's own pages: no foreign `Origin`, and with the session
    /// cookie, a same-origin `Origin` and the session's CSRF token. The request comes back
    /// whole (a form body read for its token is put back); a refusal is its reason.
    async fn check_write(
        &self,
        request: Request,
        access: Access,
        principal: Option<&Principal>,
    ) -> Result<Request, &'static str> {
        let refuse = Err;
        let origin = request
            .headers()
            .get(header::ORIGIN)
            .map(|value| value.to_str().unwrap_or(""));
        if let Some(origin) = origin {
            if !self.is_own_origin(origin, request.headers(), request.uri()) {
                return refuse("cross-site request refused: the Origin is not this Berth");
            }
        }
        let Some(Credential::Session { csrf_token, .. }) = principal.map(|principal| &principal.credential)
        else {
            return Ok(request);
        };
        if access == Access::Public {
            return Ok(request);
        }
        if origin.is_none() {
            return refuse("a write with the session cookie must carry an Origin header");
        }
        if let Some(presented) = request.headers().get(CSRF_HEADER) {
            return match presented.to_str() {
                Ok(presented) if same_secret(presented, csrf_token) => Ok(request),
                _ => refuse("the X-CSRF-Token header does not match this session"),
            };
        }
        let is_form = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"));
        if !is_form {
            return refuse("a write with the session cookie needs the X-CSRF-Token header");
        }
        let (parts, body) = request.into_parts();
        let Ok(bytes) = axum::body::to_bytes(body, FORM_LIMIT).await else {
            return refuse("the form is too large to carry a CSRF token");
        };
        let presented = form_field(&bytes, CSRF_FIELD);
        if !presented.is_some_and(|presented| same_secret(&presented, csrf_token)) {
            return refuse("the form's csrf_token does not match this session");
        }
        Ok(Request::from_parts(parts, Body::from(bytes)))
    }

    fn is_own_origin(&self, origin: &str, headers: &HeaderMap, uri: &axum::http::Uri) -> bool {
        if self.web.extra_origins.iter().any(|extra| extra == origin) {
            return true;
        }
        let host = headers
            .get(header::HOST)
            .and_then(|value| value.to_str().ok())
            .or_else(|| uri.authority().map(|authority| authority.as_str()));
        let scheme = if self.secure { "https" } else { "http" };
        host.is_some_and(|host| origin == format!("{scheme}://{host}"))
    }
}

/// The session cookie's name: only the prefixed one is read when cookies are secure (a
/// cookie without the prefix could have been planted by a sibling host or over plain HTTP).
pub fn session_cookie_name(secure: bool) -> &'static str {
    if secure {
        SECURE_SESSION_COOKIE
    } else {
        SESSION_COOKIE
    }
}

/// The session cookie for a new session.
pub fn session_cookie(value: String, secure: bool) -> HeaderValue {
    let cookie = Cookie::build((session_cookie_name(secure), value))
        .http_only(true)
        .same_site(SameSite::Strict)
        .path("/")
        .secure(secure)
        .build();
    HeaderValue::from_str(&cookie.to_string()).expect("the cookie is ASCII")
}

/// Tells the browser to forget the session cookie.
pub fn clear_session_cookie(secure: bool) -> HeaderValue {
    let cookie = Cookie::build((session_cookie_name(secure), ""))
        .http_only(true)
        .same_site(SameSite::Strict)
        .path("/")
        .secure(secure)
        .removal()
        .build();
    HeaderValue::from_str(&cookie.to_string()).expect("the cookie is ASCII")
}

fn form_field(body: &Bytes, name: &str) -> Option<String> {
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(body).ok()?;
    fields
        .into_iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value)
}

fn unauthenticated(surface: Surface, request: &Request, bad_token: Option<&str>) -> Response {
    if surface == Surface::Page {
        let next = request.uri().path_and_query().map_or("/", |path| path.as_str());
        let query = serde_urlencoded::to_string([("next", next)]).expect("a string encodes");
        return Redirect::to(&format!("/login?{query}")).into_response();
    }
    let message = bad_token.unwrap_or("sign in first: this needs a session or an API token");
    let mut response = match surface {
        Surface::ServerFunction => server_function_error(BerthError::Unauthenticated(message.to_owned())),
        _ => AppError::Unauthenticated(message.to_owned()).into_response(),
    };
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

fn forbidden(surface: Surface, message: String) -> Response {
    if surface == Surface::Page {
        let body = format!(
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Not allowed · Berth</title>\
             <link rel=\"stylesheet\" href=\"/pkg/berth.css\"></head><body><main class=\"content\">\
             <h1>Not allowed</h1><p data-test=\"forbidden\">{}</p><p><a href=\"/\">Back to the cluster</a></p>\
             </main></body></html>",
            html_escape(&message)
        );
        return (StatusCode::FORBIDDEN, Html(body)).into_response();
    }
    if surface == Surface::ServerFunction {
        return server_function_error(BerthError::Forbidden(message));
    }
    AppError::Forbidden(message).into_response()
}

/// A refusal in the encoding server functions answer with, so the UI shows its message (and,
/// for an ended session, the way back to the login page) rather than a decoding failure.
fn server_function_error(error: BerthError) -> Response {
    let status = StatusCode::from_u16(error.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::to_string(&error).expect("a BerthError serializes");
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The UI's view of the principal (`berth_app::backend::Caller`), for server functions.
fn caller(principal: &Principal, address: Option<String>) -> Caller {
    let (session, token_id) = match &principal.credential {
        Credential::Session { id_hash, .. } => (Some(id_hash.clone()), None),
        Credential::Token { id } => (None, Some(*id)),
    };
    Caller {
        user_id: principal.user_id,
        username: principal.username.clone(),
        role: principal.role.as_str().to_owned(),
        actions: principal
            .role
            .actions()
            .into_iter()
            .map(|action| action.as_str().to_owned())
            .collect(),
        csrf_token: principal.csrf_token().map(str::to_owned),
        session,
        token_id,
        address,
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Principal, AppError> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or_else(|| AppError::Unauthenticated("sign in first".into()))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<ClientAddress, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<ClientAddress>()
            .cloned()
            .unwrap_or(ClientAddress(None)))
    }
}
