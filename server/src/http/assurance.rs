//! `POST /api/v1/scriptlets/cases` (golden cases on a stored snapshot, with the lines they ran)
//! and `POST /api/v1/scriptlets/fuzz` (a while of a fuzz campaign, continued from the state an
//! earlier answer handed out): an author's sandbox actions, run in the sandbox workers and
//! answered redacted (`services::assurance`).

use std::sync::Arc;

use axum::extract::State;
use axum::http::Method;
use axum::Json;
use berth_core::access::Action;

use super::access::{Access, Endpoint};
use super::extract::ApiJson;
use crate::db::Store;
use crate::error::AppError;
use crate::sandbox::Sandbox;
use crate::services::assurance::{self, CasesRequest, FuzzRequest};

/// Both may run for seconds: routed with the long-running requests' timeout.
pub fn endpoints() -> Vec<Endpoint> {
    let sandbox = Access::Signed(Action::RunSandbox);
    vec![
        Endpoint::api(Method::POST, "/api/v1/scriptlets/cases", sandbox, run_cases),
        Endpoint::api(Method::POST, "/api/v1/scriptlets/fuzz", sandbox, fuzz),
    ]
}

/// 200 `{"incus_version", "passed", "failed", "cases": [{"name", "passed", "message"?}],
/// "coverage"?}`; 422 for more cases than one request may run.
async fn run_cases(
    State(sandbox): State<Arc<Sandbox>>,
    State(store): State<Store>,
    ApiJson(body): ApiJson<CasesRequest>,
) -> Result<Json<serde_json::Value>, AppError> {
    Ok(Json(assurance::run_cases(&store, &sandbox, &body).await?))
}

/// 200 with the campaign so far (`failures` with their cases, `coverage`, `state` to hand
/// back); 422 with the diagnostic when the scriptlet does not compile; 400 for a state out of
/// bounds or an unreadable version.
async fn fuzz(
    State(sandbox): State<Arc<Sandbox>>,
    State(store): State<Store>,
    ApiJson(body): ApiJson<FuzzRequest>,
) -> Result<Json<serde_json::Value>, AppError> {
    Ok(Json(assurance::fuzz(&store, &sandbox, body).await?))
}
