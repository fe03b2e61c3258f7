//! What operators and their tools ask of a running Berth: `/healthz` (alive), `/readyz`
//! (ready for traffic: the database and the scriptlet workers answer) and `/metrics`
//! (Prometheus's text format, [`crate::metrics`]).
//!
//! `/healthz` and `/readyz` are public, as load balancers and orchestrators ask them without
//! credentials; they say nothing beyond up or down. `/metrics` needs an admin's API token on
//! the main listener ([`super::access::Access::AdminToken`]); [`metrics_router`] serves it
//! without one on the separate address of `--metrics-listen`, for a scraper on a network the
//! operator chose.

use axum::extract::State;
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::access::{Access, Endpoint};
use super::AppState;
use crate::db::Store;
use crate::error::AppError;

pub fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint::api(Method::GET, "/healthz", Access::Public, healthz),
        Endpoint::api(Method::GET, "/readyz", Access::Public, readyz),
        Endpoint::api(Method::GET, "/metrics", Access::AdminToken, metrics),
    ]
}

/// The router of `--metrics-listen`: `GET /metrics` and nothing else, unauthenticated.
pub fn metrics_router(store: Store) -> Router {
    Router::new().route("/metrics", get(metrics)).with_state(store)
}

/// Liveness: answers 200 only when the database answers.
async fn healthz(State(store): State<Store>) -> Result<&'static str, AppError> {
    store.ping().await?;
    Ok("ok\n")
}

/// Readiness: 200 when the database answers and the workers of both pools do
/// ([`crate::sandbox::Sandbox::answers`]), 503 naming what does not (never why: no error text
/// of the database reaches an unauthenticated client).
async fn readyz(State(state): State<AppState>) -> Response {
    let database = state.store.ping().await.is_ok();
    let (authors, plans) = tokio::join!(state.sandbox.answers(), state.plans.sandbox.answers());
    let mut failing = Vec::new();
    if !database {
        failing.push("the database does not answer");
    }
    if !(authors && plans) {
        failing.push("the scriptlet workers do not answer");
    }
    if failing.is_empty() {
        return (StatusCode::OK, "ready\n").into_response();
    }
    let body = format!("not ready: {}\n", failing.join("; "));
    (StatusCode::SERVICE_UNAVAILABLE, body).into_response()
}

/// The metrics in Prometheus's text format.
async fn metrics(State(store): State<Store>) -> Response {
    let text = crate::metrics::render(&store);
    ([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], text).into_response()
}
