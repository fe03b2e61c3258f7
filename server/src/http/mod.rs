//! The axum router: Leptos pages and server functions, `/api/v1` (`scriptlets.rs`,
//! `simulations.rs`; `extract.rs` answers every malformed body in the API's error shape),
//! `/healthz`, static assets.
//!
//! `router` is separate from `serve` so tests drive it with `tower::ServiceExt::oneshot`,
//! without a socket.

mod body_limit;
mod extract;
mod incus_version;
mod scriptlets;
mod simulations;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRef, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::routing::get;
use axum::Router;
use berth_app::backend::SharedBackend;
use berth_app::{shell, App};
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower_http::compression::CompressionLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::db::Store;
use crate::error::AppError;
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
}

/// One slow request must not hold up a graceful shutdown for long.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let backend = state.backend.clone();
    let shell_options = state.leptos_options.clone();
    // A simulation may use its whole budget: its route has a timeout of its own, past the
    // point where the sandbox gives up on it.
    let simulation_timeout =
        REQUEST_TIMEOUT.max(state.sandbox.simulation_hard_limit() + Duration::from_secs(1));
    Router::new()
        .route("/healthz", get(healthz))
        .merge(scriptlets::router().layer(axum::middleware::from_fn(body_limit::limit_body)))
        // Registers every page route and every `#[server]` function, providing the backend
        // to both (SSR renders and browser calls alike).
        .leptos_routes_with_context(
            &state,
            routes,
            move || provide_context(backend.clone()),
            move || shell(shell_options.clone()),
        )
        // Static files from the site root; anything else is rendered as the 404 page.
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(CompressionLayer::new())
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        // Merged after the layers above, so that they do not apply to it: its own instead.
        .merge(
            simulations::router()
                .layer(axum::middleware::from_fn(body_limit::limit_body))
                .layer(CompressionLayer::new())
                .layer(TimeoutLayer::with_status_code(
                    StatusCode::REQUEST_TIMEOUT,
                    simulation_timeout,
                )),
        )
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
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Liveness and readiness: answers 200 only when the database answers.
async fn healthz(State(store): State<Store>) -> Result<&'static str, AppError> {
    store.ping().await?;
    Ok("ok\n")
}
