//! `/api/v1/snapshots`: the stored snapshots, uploading one (the snapshot JSON as the body),
//! exporting one (optionally redacted for sharing), deleting one (admins).

use axum::extract::State;
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use berth_app::types::SnapshotSummary;
use berth_core::access::Action;
use serde::Deserialize;

use super::access::{Access, ClientAddress, Endpoint};
use super::extract::{query_flag, ApiPath, ApiQuery};
use crate::audit::Actor;
use crate::auth::{Auth, Principal};
use crate::db::Store;
use crate::error::AppError;
use crate::services::snapshots;

pub fn endpoints() -> Vec<Endpoint> {
    let read = Access::Signed(Action::Read);
    vec![
        Endpoint::api(Method::GET, "/api/v1/snapshots", read, list),
        Endpoint::api(
            Method::POST,
            "/api/v1/snapshots",
            Access::Signed(Action::AddSnapshots),
            upload,
        ),
        Endpoint::api(Method::GET, "/api/v1/snapshots/{id}", read, export),
        Endpoint::api(
            Method::DELETE,
            "/api/v1/snapshots/{id}",
            Access::Signed(Action::DeleteSnapshots),
            delete,
        ),
    ]
}

async fn list(State(store): State<Store>) -> Result<Json<Vec<SnapshotSummary>>, AppError> {
    Ok(Json(snapshots::list(&store).await?))
}

/// 201 with the stored snapshot's summary (200 when the same content was stored already);
/// 422 with the reason when the body is not a usable snapshot.
async fn upload(
    State(auth): State<Auth>,
    principal: Principal,
    ClientAddress(address): ClientAddress,
    body: String,
) -> Result<Response, AppError> {
    let actor = Actor::user(principal.user_id, &principal.username, address);
    let stored = snapshots::upload(&auth, &actor, &body).await?;
    let status = if stored.new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(stored)).into_response())
}

#[derive(Debug, Deserialize)]
pub struct ExportQuery {
    #[serde(default, deserialize_with = "query_flag")]
    pub redact: bool,
}

/// The snapshot file, as `berth snapshot export` writes it.
async fn export(
    State(store): State<Store>,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<ExportQuery>,
) -> Result<Response, AppError> {
    let json = snapshots::export(&store, id, query.redact).await?;
    let name = if query.redact {
        format!("snapshot-{id}-redacted.json")
    } else {
        format!("snapshot-{id}.json")
    };
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        json,
    )
        .into_response())
}

async fn delete(
    State(auth): State<Auth>,
    principal: Principal,
    ClientAddress(address): ClientAddress,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, AppError> {
    let actor = Actor::user(principal.user_id, &principal.username, address);
    snapshots::delete(&auth, &actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
