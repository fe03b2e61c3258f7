//! `POST /api/v1/simulate` (and its first name, `/api/v1/simulations`): the scriptlet calls Incus would make for a sequence of operations
//! on a stored snapshot, and their outcome (the JSON of `berth simulate`). The simulation runs in
//! a sandbox worker that keeps the snapshot prepared between requests; its answer is redacted
//! (secret config values in requests, and wherever the scriptlet printed them) for every role.

use std::sync::Arc;

use axum::extract::State;
use axum::http::Method;
use axum::Json;
use berth_core::access::Action;
use berth_core::simulate::{Mode, Operation};
use serde::Deserialize;

use super::access::{Access, Endpoint};
use super::extract::ApiJson;
use crate::db::Store;
use crate::error::AppError;
use crate::params::incus_version;
use crate::sandbox::{JobSnapshot, Sandbox};

pub fn endpoints() -> Vec<Endpoint> {
    let sandbox = Access::Signed(Action::RunSandbox);
    vec![
        Endpoint::api(Method::POST, "/api/v1/simulate", sandbox, simulate),
        Endpoint::api(Method::POST, "/api/v1/simulations", sandbox, simulate),
    ]
}

#[derive(Debug, Deserialize)]
pub struct SimulationRequest {
    pub snapshot_id: i64,
    /// The placement scriptlet; empty: Incus's default placement (no calls).
    pub source: String,
    /// Default: the version the snapshot's cluster runs.
    pub incus_version: Option<String>,
    /// `upstream` (default) or `corrected`.
    pub mode: Option<Mode>,
    /// In order; each sees the effects of the ones before (the operations of `berth simulate --op`).
    #[serde(alias = "ops")]
    pub operations: Vec<Operation>,
}

/// 200 with the simulation; 422 with `{"error", "diagnostic"}` when the scriptlet does not compile.
async fn simulate(
    State(sandbox): State<Arc<Sandbox>>,
    State(store): State<Store>,
    ApiJson(body): ApiJson<SimulationRequest>,
) -> Result<Json<serde_json::Value>, AppError> {
    if body.operations.is_empty() {
        return Err(AppError::BadRequest(
            "operations is empty: nothing to simulate".into(),
        ));
    }
    let stored = store
        .stored_snapshot(body.snapshot_id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("there is no snapshot {}", body.snapshot_id)))?;
    let version = incus_version::given_or_snapshots(body.incus_version.as_deref(), &stored)?;
    let snapshot = JobSnapshot::new(&stored.content_hash, &stored.json);
    let result = sandbox
        .simulate(
            snapshot,
            &body.source,
            version,
            body.mode.unwrap_or(Mode::Upstream),
            &body.operations,
        )
        .await?;
    match result {
        Ok(mut simulation) => {
            berth_core::redact::redact_json(&mut simulation, &stored.secrets);
            Ok(Json(simulation))
        }
        Err(diagnostic) => Err(AppError::Scriptlet(diagnostic)),
    }
}
