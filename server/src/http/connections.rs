//! `/api/v1/connections`: connections to Incus clusters (admins configure them; the client key
//! is accepted, stored and never returned) and capturing a snapshot through one.

use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use berth_app::types::{ConnectionView, NewConnection};
use berth_core::access::Action;

use super::access::{Access, ClientAddress, Endpoint};
use super::extract::{ApiJson, ApiPath};
use crate::audit::Actor;
use crate::auth::{Auth, Principal};
use crate::db::Store;
use crate::error::AppError;
use crate::services::connections;

pub fn endpoints() -> Vec<Endpoint> {
    let manage = Access::Signed(Action::ManageConnections);
    vec![
        Endpoint::api(
            Method::GET,
            "/api/v1/connections",
            Access::Signed(Action::Read),
            list,
        ),
        Endpoint::api(Method::POST, "/api/v1/connections", manage, add),
        Endpoint::api(Method::DELETE, "/api/v1/connections/{name}", manage, delete),
        Endpoint::api(Method::PATCH, "/api/v1/connections/{name}", manage, change),
    ]
}

/// `PATCH /api/v1/connections/{name}`: what may change of a connection.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ConnectionChange {
    decision_log: bool,
}

/// Capturing, which may take minutes on a large cluster (the router gives it a longer timeout).
pub fn capture_endpoints() -> Vec<Endpoint> {
    vec![Endpoint::api(
        Method::POST,
        "/api/v1/connections/{name}/capture",
        Access::Signed(Action::AddSnapshots),
        capture,
    )]
}

async fn list(State(store): State<Store>) -> Result<Json<Vec<ConnectionView>>, AppError> {
    Ok(Json(connections::list(&store).await?))
}

async fn add(
    State(auth): State<Auth>,
    principal: Principal,
    ClientAddress(address): ClientAddress,
    ApiJson(body): ApiJson<NewConnection>,
) -> Result<Response, AppError> {
    let actor = Actor::user(principal.user_id, &principal.username, address);
    let added = connections::add(&auth, &actor, &body).await?;
    Ok((StatusCode::CREATED, Json(added)).into_response())
}

async fn delete(
    State(auth): State<Auth>,
    principal: Principal,
    ClientAddress(address): ClientAddress,
    ApiPath(name): ApiPath<String>,
) -> Result<StatusCode, AppError> {
    let actor = Actor::user(principal.user_id, &principal.username, address);
    connections::delete(&auth, &actor, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Turns the decision log on or off (audited); 200 with the connection.
async fn change(
    State(auth): State<Auth>,
    principal: Principal,
    ClientAddress(address): ClientAddress,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<ConnectionChange>,
) -> Result<Json<ConnectionView>, AppError> {
    let actor = Actor::user(principal.user_id, &principal.username, address);
    Ok(Json(
        connections::set_decision_log(&auth, &actor, &name, body.decision_log).await?,
    ))
}

/// Captures now; 201 with the stored snapshot (200 when nothing changed since the last
/// capture: the same content is stored once), 502 with Incus's error.
async fn capture(
    State(auth): State<Auth>,
    principal: Principal,
    ClientAddress(address): ClientAddress,
    ApiPath(name): ApiPath<String>,
) -> Result<Response, AppError> {
    let actor = Actor::user(principal.user_id, &principal.username, address);
    let stored = connections::capture_now(&auth, &actor, &name).await?;
    let status = if stored.new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(stored)).into_response())
}
