//! `/api/v1/snapshots`: the stored snapshots, uploading one (the snapshot JSON as the body),
//! exporting one (redacted; with its secrets for admins, `?redact=false`, audited), deleting
//! one (admins).

use axum::extract::State;
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use berth_app::types::SnapshotSummary;
use berth_core::access::Action;
use serde::Deserialize;

use super::access::{Access, ClientAddress, Endpoint};
use super::extract::{optional_query_flag, ApiPath, ApiQuery};
use crate::audit::Actor;
use crate::auth::{Auth, Principal};
use crate::db::Store;
use crate::error::AppError;
use crate::services::snapshots::{self, ExportForm};

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
    /// Absent (or empty, or yes): the redacted file. No: the file with its secrets.
    #[serde(default, deserialize_with = "optional_query_flag")]
    pub redact: Option<bool>,
}

/// The snapshot file, as `berth snapshot export` writes it: redacted unless the caller asks
/// for the secrets with `?redact=false`, which only admins may (403 for every other role,
/// rather than a redacted file under the name of a complete one) and which is audited.
async fn export(
    State(auth): State<Auth>,
    principal: Principal,
    ClientAddress(address): ClientAddress,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<ExportQuery>,
) -> Result<Response, AppError> {
    let form = if query.redact.unwrap_or(true) {
        ExportForm::Redacted
    } else if principal.role.may(Action::ExportSecrets) {
        ExportForm::WithSecrets
    } else {
        return Err(AppError::Forbidden(format!(
            "a snapshot with its secrets is for admins; your role ({}) exports it redacted \
             (leave out redact=false)",
            principal.role
        )));
    };
    let actor = Actor::user(principal.user_id, &principal.username, address);
    let json = snapshots::export(&auth, &actor, id, form).await?;
    let name = match form {
        ExportForm::Redacted => format!("snapshot-{id}-redacted.json"),
        ExportForm::WithSecrets => format!("snapshot-{id}.json"),
    };
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
            // A whole cluster's config: no cache (a shared proxy's, the browser's disk) keeps it.
            (header::CACHE_CONTROL, "no-store".to_owned()),
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
