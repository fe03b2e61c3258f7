//! `/api/v1/scriptlets`: stored scriptlets and their revisions; checking a scriptlet as Incus
//! would, evaluating one placement call against a stored snapshot, its reason × version matrix
//! on a stored snapshot, and the completion schema.
//! Scriptlets run in the sandbox, never here. Running a scriptlet is the author's sandbox
//! right, saving one the author's edit right; reading is anyone's.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use berth_app::types::{RevisionText, RevisionView, ScriptletSummary, ScriptletView};
use berth_core::access::Action;
use berth_core::engine::schema::{schema, CompletionSchema};
use berth_core::engine::{CheckReport, Diagnostic, Evaluation, PlacementRequest};
use serde::{Deserialize, Serialize};

use super::access::{Access, ClientAddress, Endpoint};
use super::extract::{query_flag, ApiJson, ApiPath, ApiQuery};
use crate::audit::Actor;
use crate::auth::{Auth, Principal};
use crate::db::Store;
use crate::error::AppError;
use crate::params::incus_version;
use crate::sandbox::protocol::EvaluateReply;
use crate::sandbox::{JobSnapshot, Sandbox};
use crate::services::matrix::{self, MatrixRequest};
use crate::services::scriptlets;

pub fn endpoints() -> Vec<Endpoint> {
    let sandbox = Access::Signed(Action::RunSandbox);
    let read = Access::Signed(Action::Read);
    let edit = Access::Signed(Action::EditScriptlets);
    vec![
        Endpoint::api(Method::GET, "/api/v1/scriptlets", read, list_scriptlets),
        Endpoint::api(Method::POST, "/api/v1/scriptlets", edit, create_scriptlet),
        Endpoint::api(Method::GET, "/api/v1/scriptlets/{id}", read, get_scriptlet),
        Endpoint::api(
            Method::POST,
            "/api/v1/scriptlets/{id}/revisions",
            edit,
            add_revision,
        ),
        Endpoint::api(
            Method::GET,
            "/api/v1/scriptlets/{id}/revisions/{number}",
            read,
            get_revision,
        ),
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

/// Routes that may run for the whole simulation budget: the long-running group's timeout.
pub fn long_running_endpoints() -> Vec<Endpoint> {
    vec![Endpoint::api(
        Method::POST,
        "/api/v1/scriptlets/matrix",
        Access::Signed(Action::RunSandbox),
        scriptlet_matrix,
    )]
}

async fn list_scriptlets(State(store): State<Store>) -> Result<Json<Vec<ScriptletSummary>>, AppError> {
    Ok(Json(scriptlets::list(&store).await?))
}

#[derive(Debug, Deserialize)]
pub struct NewScriptlet {
    pub name: String,
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub message: String,
}

/// 201 with the scriptlet and its first revision; 409 when the name is taken.
async fn create_scriptlet(
    State(auth): State<Auth>,
    principal: Principal,
    ClientAddress(address): ClientAddress,
    ApiJson(body): ApiJson<NewScriptlet>,
) -> Result<Response, AppError> {
    let actor = Actor::user(principal.user_id, &principal.username, address);
    let created = scriptlets::create(&auth, &actor, &body.name, &body.source, &body.message).await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

/// The scriptlet, its newest text and every revision (newest first).
async fn get_scriptlet(
    State(store): State<Store>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<ScriptletView>, AppError> {
    Ok(Json(scriptlets::view(&store, id, None).await?))
}

#[derive(Debug, Deserialize)]
pub struct NewRevision {
    pub source: String,
    #[serde(default)]
    pub message: String,
}

/// 201 with the new revision (its number, author, time and message).
async fn add_revision(
    State(auth): State<Auth>,
    principal: Principal,
    ClientAddress(address): ClientAddress,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<NewRevision>,
) -> Result<Response, AppError> {
    let actor = Actor::user(principal.user_id, &principal.username, address);
    let revision: RevisionView = scriptlets::revise(&auth, &actor, id, &body.source, &body.message).await?;
    Ok((StatusCode::CREATED, Json(revision)).into_response())
}

#[derive(Debug, Deserialize)]
pub struct RevisionQuery {
    /// The revision's text as a `.star` file to save, instead of JSON.
    #[serde(default, deserialize_with = "query_flag")]
    pub download: bool,
}

async fn get_revision(
    State(store): State<Store>,
    ApiPath((id, number)): ApiPath<(i64, i64)>,
    ApiQuery(query): ApiQuery<RevisionQuery>,
) -> Result<Response, AppError> {
    let revision: RevisionText = scriptlets::revision(&store, id, number).await?;
    if !query.download {
        return Ok(Json(revision).into_response());
    }
    let name = store
        .scriptlet(id)
        .await?
        .map(|scriptlet| scriptlet.name)
        .unwrap_or_else(|| format!("scriptlet-{id}"));
    let file: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file}-r{number}.star\""),
            ),
        ],
        revision.source,
    )
        .into_response())
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

/// The evaluation with the snapshot's secret values scrubbed out of what the scriptlet printed,
/// raised or read through builtins (their results are in the trace).
async fn evaluate_scriptlet(
    State(sandbox): State<Arc<Sandbox>>,
    State(store): State<Store>,
    ApiJson(body): ApiJson<EvaluateScriptletRequest>,
) -> Result<Json<serde_json::Value>, AppError> {
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
    let mut answer =
        serde_json::to_value(EvaluateScriptletResponse::from(reply)).expect("an evaluation serializes");
    berth_core::redact::redact_json(&mut answer, &stored.secrets);
    Ok(Json(answer))
}

/// The reason × version matrix: `{"snapshot_id", "source"} | {"snapshot_id", "scriptlet",
/// "revision"?}` with `"versions"?` and `"instances"?`; the matrix as `berth check --matrix
/// --json` prints it, redacted.
async fn scriptlet_matrix(
    State(sandbox): State<Arc<Sandbox>>,
    State(store): State<Store>,
    ApiJson(body): ApiJson<MatrixRequest>,
) -> Result<Json<serde_json::Value>, AppError> {
    Ok(Json(matrix::run(&store, &sandbox, &body).await?))
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
