//! `AppError`: the one error type of request handling, and where it becomes HTTP.
//!
//! Which error type where: `berth-core` has its own narrow enums (`SnapshotError`); the
//! store has `StoreError`; handlers and services return `AppError`; server functions return
//! the wire type `berth_app::error::BerthError`, converted from `AppError` here and only here;
//! the CLI uses `anyhow` with context. Internal errors are logged once, at this conversion,
//! and reach the client as a generic message: users get no SQL or file paths.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use berth_app::error::BerthError;

use crate::db::StoreError;
use crate::sandbox::pool::SandboxError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 404: the named thing does not exist.
    #[error("{0}")]
    NotFound(String),
    /// 400: the request is malformed or refers to something unusable.
    #[error("{0}")]
    BadRequest(String),
    /// 500: the store failed; logged, never shown.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// 500: the scriptlet sandbox failed (not the scriptlet: its errors are results); logged.
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
}

const INTERNAL_MESSAGE: &str = "internal error; the details are in the server log";

impl AppError {
    fn status(&self) -> StatusCode {
        match self {
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Store(_) | AppError::Sandbox(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The message for the client; logs internal errors (the one place they are logged).
    fn public_message(&self) -> String {
        match self {
            AppError::NotFound(message) | AppError::BadRequest(message) => message.clone(),
            AppError::Store(error) => {
                tracing::error!(error = %error, "request failed");
                INTERNAL_MESSAGE.to_owned()
            }
            AppError::Sandbox(error) => {
                tracing::error!(error = %error, "scriptlet sandbox failed");
                INTERNAL_MESSAGE.to_owned()
            }
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        (
            status,
            Json(serde_json::json!({ "error": self.public_message() })),
        )
            .into_response()
    }
}

impl From<AppError> for BerthError {
    fn from(error: AppError) -> BerthError {
        match error {
            AppError::NotFound(message) => BerthError::NotFound(message),
            AppError::BadRequest(message) => BerthError::BadRequest(message),
            AppError::Store(_) | AppError::Sandbox(_) => BerthError::Internal(error.public_message()),
        }
    }
}
