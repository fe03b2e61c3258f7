//! The axum router: Leptos pages and server functions, `/api/v1`, `/healthz`, `/readyz`,
//! `/metrics`, static assets, all behind the guard of `access.rs`, every request counted by
//! `crate::metrics::track_request` under its route template.
//!
//! - `access.rs`: the locked door (who is asking, which role may use which route, CSRF, CSP).
//! - `health.rs`: `/healthz`, `/readyz`, `/metrics` (and the router of `--metrics-listen`).
//! - `/api/v1`: `session.rs` (sign in and out, `/login` and `/logout` forms), `oidc.rs`
//!   (single sign-on's start and callback), `accounts.rs`
//!   (API tokens, users), `audit.rs`, `scriptlets.rs`, `simulations.rs`, `snapshots.rs`,
//!   `connections.rs`, `plans.rs`, `impact.rs` (replays, and their progress as events),
//!   `assurance.rs` (golden cases and the fuzzer);
//!   `decisions.rs` (the decision log, its replays and its live tail);
//!   `streams.rs` ends those event streams (credential re-checked, a lifetime, a per-user
//!   limit);
//!   `extract.rs` answers
//!   every malformed body in the API's error shape, `body_limit.rs` the oversized ones.
//!
//! `router` is separate from `serve` so tests drive it with `tower::ServiceExt::oneshot`,
//! without a socket.

pub mod access;
mod accounts;
mod assurance;
mod audit;
mod body_limit;
mod client_address;
mod connections;
mod decisions;
mod extract;
pub mod health;
mod impact;
mod oidc;
mod plans;
mod scriptlets;
mod session;
mod simulations;
mod snapshots;
pub mod streams;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::services::plans::PlanContext;
use axum::extract::FromRef;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::Router;
use berth_app::backend::SharedBackend;
use berth_app::{shell, App};
use leptos::prelude::*;
use leptos_axum::{generate_route_list, AxumRouteListing, LeptosRoutes};
use tower_http::compression::CompressionLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use self::access::{AccessTable, Endpoint, Guard, Surface};
use crate::auth::Auth;
use crate::db::Store;
use crate::sandbox::Sandbox;

/// Everything a request may need. Handlers ask for parts through `FromRef`.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    /// What server functions call; provided to them as Leptos context.
    pub backend: SharedBackend,
    pub store: Store,
    /// Where scriptlets run.
    pub sandbox: Arc<Sandbox>,
    /// Accounts, sessions and tokens.
    pub auth: Auth,
    /// Plans' previews and their executor.
    pub plans: PlanContext,
    /// Who may send writes and whose forwarded addresses count.
    pub web: Arc<WebConfig>,
    /// The event streams open in this process, and their limits.
    pub streams: streams::OpenStreams,
    /// Single sign-on, when configured (`--oidc-issuer`).
    pub oidc: Option<crate::auth::oidc::Oidc>,
}

/// The web surface's settings from the command line.
#[derive(Debug, Clone, Default)]
pub struct WebConfig {
    /// Origins accepted for writes besides the request's own (`--origin`).
    pub extra_origins: Vec<String>,
    /// Proxies whose `X-Forwarded-For` names the client (`--trusted-proxy`).
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

/// One slow request must not hold up a graceful shutdown for long.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Reading a large cluster (hundreds of members, each asked for its state and resources) may
/// take longer than a page.
const CAPTURE_TIMEOUT: Duration = Duration::from_secs(300);

/// Every route the router serves with its access rule: `/api/v1`, forms, pages and server
/// functions. The router is built from the same lists, so this is the whole surface.
pub fn route_rules(state: &AppState) -> Vec<access::RouteRule> {
    build(state.clone()).1.table.rules()
}

/// The pages of the app, found by rendering it once per process. Leptos suppresses every
/// resource load in the whole process while it does (a global flag): a page rendered at the
/// same moment (another router being built beside a serving one, as tests do) would wait
/// forever. Once, before anything is served, it cannot overlap a render.
fn page_routes() -> Vec<AxumRouteListing> {
    static PAGES: OnceLock<Vec<AxumRouteListing>> = OnceLock::new();
    PAGES.get_or_init(|| generate_route_list(App)).clone()
}

pub fn router(state: AppState) -> Router {
    build(state).0
}

fn build(state: AppState) -> (Router, Arc<Guard>) {
    let mut table = AccessTable::default();
    let mut routes_of = |endpoints: Vec<Endpoint>| -> Router<AppState> {
        endpoints.into_iter().fold(Router::new(), |router, endpoint| {
            let router = router.route(&endpoint.rule.path, endpoint.handler);
            table.insert(endpoint.rule);
            router
        })
    };
    let health = routes_of(health::endpoints());
    let api = routes_of(
        [
            session::endpoints(),
            oidc::endpoints(),
            accounts::endpoints(),
            audit::endpoints(),
            scriptlets::endpoints(),
            snapshots::endpoints(),
            connections::endpoints(),
            plans::endpoints(),
            decisions::endpoints(),
        ]
        .into_iter()
        .flatten()
        .collect(),
    );
    // Routes that may run long (a simulation, a capture): a timeout of their own below.
    let long_running = routes_of(
        [
            simulations::endpoints(),
            scriptlets::long_running_endpoints(),
            connections::capture_endpoints(),
            plans::long_running_endpoints(),
            impact::long_running_endpoints(),
            assurance::endpoints(),
            decisions::long_running_endpoints(),
        ]
        .into_iter()
        .flatten()
        .collect(),
    );

    // Event streams last as long as what they follow: no timeout, no compression.
    let streams = routes_of(
        [
            plans::stream_endpoints(),
            impact::stream_endpoints(),
            decisions::stream_endpoints(),
        ]
        .into_iter()
        .flatten()
        .collect(),
    );

    let pages = page_routes();
    for page in &pages {
        for method in page.methods() {
            table.insert_listed(Surface::Page, page_method(method), page.path());
        }
    }
    for (path, method) in leptos::server_fn::axum::server_fn_paths() {
        table.insert_listed(Surface::ServerFunction, method, path);
    }

    let guard = Arc::new(Guard {
        auth: state.auth.clone(),
        table: std::mem::take(&mut table),
        web: state.web.clone(),
        secure: state.auth.config().secure_cookies,
    });
    let backend = state.backend.clone();
    let sign_in_options = berth_app::types::SignInOptions {
        single_sign_on: state.oidc.as_ref().map(|oidc| oidc.name().to_owned()),
    };
    let shell_options = state.leptos_options.clone();
    // A simulation may use its whole budget (the timeout is past the point where the sandbox
    // gives up on it), and a capture of a large cluster takes a while.
    let long_timeout = CAPTURE_TIMEOUT.max(state.sandbox.simulation_hard_limit() + Duration::from_secs(1));
    let router = Router::new()
        .merge(health)
        .merge(api)
        // Registers every page route and every `#[server]` function, providing the backend
        // (and the CSP nonce of the request) to both: SSR renders and browser calls alike.
        .leptos_routes_with_context(
            &state,
            pages,
            move || {
                provide_context(backend.clone());
                provide_context(sign_in_options.clone());
                provide_request_nonce();
            },
            move || shell(shell_options.clone()),
        )
        // Static files from the site root; anything else is rendered as the 404 page.
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        // Every body has a limit: `/api/v1`, forms and server functions alike. It is
        // `limit_body`'s alone (larger for snapshot uploads), not axum's default as well.
        .layer(axum::middleware::from_fn(body_limit::limit_body))
        .layer(axum::extract::DefaultBodyLimit::disable())
        .layer(CompressionLayer::new())
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        // Merged after the layers above, so that they do not apply to them: their own instead.
        .merge(
            long_running
                .layer(axum::middleware::from_fn(body_limit::limit_body))
                .layer(CompressionLayer::new())
                .layer(TimeoutLayer::with_status_code(
                    StatusCode::REQUEST_TIMEOUT,
                    long_timeout,
                )),
        )
        .merge(streams.layer(axum::middleware::from_fn(body_limit::limit_body)))
        // After every route is in: the guard wraps each of them and the fallback.
        .layer(axum::middleware::from_fn_with_state(guard.clone(), access::guard))
        // Outside the guard: its refusals are counted too.
        .layer(axum::middleware::from_fn(crate::metrics::track_request))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        // The request's path, never its query: a query may carry what must not be logged (a
        // single sign-on callback's one-time code and state).
        .layer(TraceLayer::new_for_http().make_span_with(|request: &axum::http::Request<_>| {
            tracing::debug_span!("request", method = %request.method(), path = %request.uri().path())
        }))
        .with_state(state);
    (router, guard)
}

fn page_method(method: leptos_router::Method) -> Method {
    match method {
        leptos_router::Method::Get => Method::GET,
        leptos_router::Method::Post => Method::POST,
        leptos_router::Method::Put => Method::PUT,
        leptos_router::Method::Delete => Method::DELETE,
        leptos_router::Method::Patch => Method::PATCH,
    }
}

/// Gives Leptos this request's CSP nonce (set by the guard), so the inline hydration scripts
/// it renders carry it.
fn provide_request_nonce() {
    let nonce = use_context::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<access::CspNonce>().cloned());
    if let Some(access::CspNonce(nonce)) = nonce {
        provide_context(leptos::nonce::Nonce::from_value(nonce));
    }
}
