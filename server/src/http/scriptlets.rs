//! `/api/v1/scriptlets`: check a scriptlet as Incus would, evaluate one placement call against
//! a stored snapshot, and the completion schema. Scriptlets run in the sandbox, never here.
//! Running a scriptlet is the author's sandbox right; reading the schema is anyone's.

use std::sync::Arc;

use axum::extract::State;
use axum::http::Method;
use axum::Json;
use berth_core::access::Action;
use berth_core::engine::schema::{schema, CompletionSchema};
use berth_core::engine::{CheckReport, Diagnostic, Evaluation, PlacementRequest};
use serde::{Deserialize, Serialize};

use super::access::{Access, Endpoint};
use super::extract::{ApiJson, ApiQuery};
use super::incus_version;
use crate::db::Store;
use crate::error::AppError;
use crate::sandbox::protocol::EvaluateReply;
use crate::sandbox::{JobSnapshot, Sandbox};

pub fn endpoints() -> Vec<Endpoint> {
    let sandbox = Access::Signed(Action::RunSandbox);
    vec![
        Endpoint::api(Method::POST, "/api/v1/scriptlets/check", sandbox, check_scriptlet),
        Endpoint::api(
            Method::POST,
            "/api/v1/scriptlets/evaluate",
            sandbox,
            evaluate_scriptlet,
        ),
        Endpoint::api(
            Method::GET,
            "/api/v1/scriptlets/schema",
            Access::Signed(Action::Read),
            scriptlet_schema,
        ),
    ]
}

#[derive(Debug, Deserialize)]
pub struct CheckScriptletRequest {
    pub source: String,
    pub incus_version: Option<String>,
}

async fn check_scriptlet(
    State(sandbox): State<Arc<Sandbox>>,
    ApiJson(body): ApiJson<CheckScriptletRequest>,
) -> Result<Json<CheckReport>, AppError> {
    let version = incus_version::given_or_default(body.incus_version.as_deref())?;
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
    /// Where the scriptlet runs; absent or empty: the member the snapshot was taken from.
    pub local_member: Option<String>,
}

/// One evaluation, as `/api/v1` answers it (its own type: the worker protocol may change
/// without changing the API).
#[derive(Debug, Serialize)]
pub struct EvaluateScriptletResponse {
    /// `None` when the scriptlet did not compile (see `compile_error`) or is empty.
    pub evaluation: Option<Evaluation>,
    pub compile_error: Option<Diagnostic>,
    pub warnings: Vec<Diagnostic>,
    /// Compile and evaluation, measured in the worker.
    pub elapsed_us: u64,
}

impl From<EvaluateReply> for EvaluateScriptletResponse {
    fn from(reply: EvaluateReply) -> EvaluateScriptletResponse {
        EvaluateScriptletResponse {
            evaluation: reply.evaluation,
            compile_error: reply.compile_error,
            warnings: reply.warnings,
            elapsed_us: reply.elapsed_us,
        }
    }
}

async fn evaluate_scriptlet(
    State(sandbox): State<Arc<Sandbox>>,
    State(store): State<Store>,
    ApiJson(body): ApiJson<EvaluateScriptletRequest>,
) -> Result<Json<EvaluateScriptletResponse>, AppError> {
    let stored = store
        .stored_snapshot(body.snapshot_id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("there is no snapshot {}", body.snapshot_id)))?;
    let local_member = body.local_member.as_deref().filter(|name| !name.is_empty());
    if let Some(unknown) = body
        .candidates
        .iter()
        .map(String::as_str)
        .chain(local_member)
        .find(|name| !stored.member_names.contains(*name))
    {
        return Err(AppError::BadRequest(format!(
            "{unknown:?} is not a member of snapshot {}",
            body.snapshot_id
        )));
    }
    let version = incus_version::given_or_snapshots(body.incus_version.as_deref(), &stored)?;
    let reply = sandbox
        .evaluate(
            JobSnapshot::new(&stored.content_hash, &stored.json),
            &body.source,
            version,
            &body.request,
            &body.candidates,
            local_member,
        )
        .await?;
    Ok(Json(reply.into()))
}

#[derive(Debug, Deserialize)]
pub struct SchemaQuery {
    pub incus_version: Option<String>,
}

async fn scriptlet_schema(
    ApiQuery(query): ApiQuery<SchemaQuery>,
) -> Result<Json<CompletionSchema>, AppError> {
    Ok(Json(schema(incus_version::given_or_default(
        query.incus_version.as_deref(),
    )?)))
}
