//! `/api/v1/scriptlets`: check a scriptlet as Incus would, evaluate one placement call against
//! a stored snapshot, and the completion schema. Scriptlets run in the sandbox, never here.
//! These endpoints change nothing, so they need no session; JSON bodies only (a cross-site
//! form cannot send one without a preflight).

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use berth_core::engine::schema::{schema, CompletionSchema};
use berth_core::engine::{CheckReport, IncusVersion, PlacementRequest};
use serde::Deserialize;

use super::AppState;
use crate::db::Store;
use crate::error::AppError;
use crate::sandbox::protocol::EvaluateReply;
use crate::sandbox::Sandbox;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/scriptlets/check", post(check_scriptlet))
        .route("/api/v1/scriptlets/evaluate", post(evaluate_scriptlet))
        .route("/api/v1/scriptlets/schema", get(scriptlet_schema))
}

fn version(text: Option<&str>) -> Result<IncusVersion, AppError> {
    text.map_or(Ok(IncusVersion::DEFAULT), |text| {
        text.parse()
            .map_err(|e: berth_core::engine::BadVersion| AppError::BadRequest(e.to_string()))
    })
}

#[derive(Debug, Deserialize)]
pub struct CheckScriptletRequest {
    pub source: String,
    pub incus_version: Option<String>,
}

async fn check_scriptlet(
    State(sandbox): State<Arc<Sandbox>>,
    Json(body): Json<CheckScriptletRequest>,
) -> Result<Json<CheckReport>, AppError> {
    let version = version(body.incus_version.as_deref())?;
    Ok(Json(sandbox.check(&body.source, version).await?))
}

#[derive(Debug, Deserialize)]
pub struct EvaluateScriptletRequest {
    pub snapshot_id: i64,
    pub source: String,
    /// Default: the version the snapshot's cluster runs.
    pub incus_version: Option<String>,
    pub request: PlacementRequest,
    /// Candidate member names, in the order Incus would pass them.
    pub candidates: Vec<String>,
    /// Where the scriptlet runs; default: the member the snapshot was taken from.
    pub local_member: Option<String>,
}

async fn evaluate_scriptlet(
    State(sandbox): State<Arc<Sandbox>>,
    State(store): State<Store>,
    Json(body): Json<EvaluateScriptletRequest>,
) -> Result<Json<EvaluateReply>, AppError> {
    let snapshot = store
        .load_snapshot(body.snapshot_id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("there is no snapshot {}", body.snapshot_id)))?;
    if let Some(unknown) = body
        .candidates
        .iter()
        .find(|name| snapshot.member(name).is_none())
    {
        return Err(AppError::BadRequest(format!(
            "{unknown:?} is not a member of snapshot {}",
            body.snapshot_id
        )));
    }
    let version = match body.incus_version.as_deref() {
        Some(text) => version(Some(text))?,
        None => snapshot.incus_version().parse().unwrap_or_default(),
    };
    let (hash, json) = (snapshot.content_hash(), snapshot.to_json());
    let reply = sandbox
        .evaluate(
            &hash,
            &json,
            &body.source,
            version,
            &body.request,
            &body.candidates,
            body.local_member.as_deref(),
        )
        .await?;
    Ok(Json(reply))
}

#[derive(Debug, Deserialize)]
pub struct SchemaQuery {
    pub incus_version: Option<String>,
}

async fn scriptlet_schema(Query(query): Query<SchemaQuery>) -> Result<Json<CompletionSchema>, AppError> {
    Ok(Json(schema(version(query.incus_version.as_deref())?)))
}
