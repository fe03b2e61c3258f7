//! `AppError`: the one error type of request handling, and where it becomes HTTP.
//!
//! Which error type where: `berth-core` has its own narrow enums (`SnapshotError`); the
//! store has `StoreError`; handlers and services return `AppError`; server functions return
//! the wire type `berth_app::error::BerthError`, converted from `AppError` here and only here;
//! the CLI uses `anyhow` with context. Internal errors are logged once, at this conversion,
//! and reach the client as a generic message: users get no SQL or file paths.
//!
//! Every error reaches an `/api/v1` client as `{"error": "…"}` with its status, including a
//! body the extractors reject (`From<JsonRejection>`, the one place those are mapped).

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use berth_app::error::BerthError;
use berth_core::engine::Diagnostic;

use crate::auth::AuthError;
use crate::db::StoreError;
use crate::sandbox::pool::SandboxError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 401: no session or token, or one that is no longer valid.
    #[error("{0}")]
    Unauthenticated(String),
    /// 403: signed in, but this role may not do this; or a write without a valid CSRF token
    /// or from a foreign origin.
    #[error("{0}")]
    Forbidden(String),
    /// 409: the thing to create exists already.
    #[error("{0}")]
    Conflict(String),
    /// 429: too many failed sign-ins, or too many open event streams; try again after the
    /// duration.
    #[error("{message}")]
    RateLimited {
        message: String,
        retry_after: std::time::Duration,
    },
    /// 503: the server is busy (every password verification slot taken); nothing was done, try
    /// again after the duration.
    #[error("{message}")]
    Unavailable {
        message: String,
        retry_after: std::time::Duration,
    },
    /// 404: the named thing does not exist.
    #[error("{0}")]
    NotFound(String),
    /// 400: the request is malformed or refers to something unusable.
    #[error("{0}")]
    BadRequest(String),
    /// 413: the request body is over the limit.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 415: the request body is not JSON (no `Content-Type: application/json`).
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 422: the body is JSON, but not of the shape the endpoint takes (a missing field, a
    /// wrong type, an unknown operation).
    #[error("{0}")]
    Unprocessable(String),
    /// 422: the scriptlet does not compile, where the endpoint needs one that does (a
    /// simulation); the answer carries the diagnostic too.
    #[error("{}", .0.message)]
    Scriptlet(Diagnostic),
    /// 502: Incus refused or could not be reached; its message is shown as it was received.
    #[error("{0}")]
    Upstream(String),
    /// 500: the store failed; logged, never shown.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// 500: the scriptlet sandbox failed (not the scriptlet: its errors are results); logged.
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
}

impl From<crate::impact::ReplayError> for AppError {
    fn from(error: crate::impact::ReplayError) -> AppError {
        match error {
            crate::impact::ReplayError::Revision {
                revision,
                mut diagnostic,
            } => {
                diagnostic.message = format!("the {revision} revision: {}", diagnostic.message);
                AppError::Scriptlet(diagnostic)
            }
            crate::impact::ReplayError::Sandbox(error) => AppError::Sandbox(error),
        }
    }
}

const INTERNAL_MESSAGE: &str = "internal error; the details are in the server log";

impl AppError {
    fn status(&self) -> StatusCode {
        match self {
            AppError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::Unprocessable(_) | AppError::Scriptlet(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Upstream(_) => StatusCode::BAD_GATEWAY,
            AppError::Store(_) | AppError::Sandbox(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The message for the client; logs internal errors (the one place they are logged).
    pub(crate) fn public_message(&self) -> String {
        match self {
            AppError::Unauthenticated(message)
            | AppError::Forbidden(message)
            | AppError::Conflict(message)
            | AppError::RateLimited { message, .. }
            | AppError::Unavailable { message, .. }
            | AppError::NotFound(message)
            | AppError::BadRequest(message)
            | AppError::PayloadTooLarge(message)
            | AppError::UnsupportedMediaType(message)
            | AppError::Unprocessable(message)
            | AppError::Upstream(message) => message.clone(),
            AppError::Scriptlet(diagnostic) => diagnostic.to_line("scriptlet"),
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
        let mut body = serde_json::json!({ "error": self.public_message() });
        if let AppError::Scriptlet(diagnostic) = &self {
            body["diagnostic"] = serde_json::to_value(diagnostic).expect("a diagnostic serializes");
        }
        let mut response = (status, Json(body)).into_response();
        if let AppError::RateLimited { retry_after, .. } | AppError::Unavailable { retry_after, .. } = &self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after.as_secs()));
        }
        response
    }
}

impl From<AuthError> for AppError {
    fn from(error: AuthError) -> AppError {
        let message = error.to_string();
        match error {
            AuthError::BadCredentials => AppError::Unauthenticated(message),
            AuthError::RateLimited { retry_after } => AppError::RateLimited { message, retry_after },
            AuthError::Busy { retry_after } => AppError::Unavailable { message, retry_after },
            AuthError::WrongCurrentPassword
            | AuthError::WeakPassword(_)
            | AuthError::UnusableUsername
            | AuthError::InvalidUsername(_)
            | AuthError::InvalidTokenName => AppError::Unprocessable(message),
            AuthError::UserExists(_) | AuthError::Refused(_) | AuthError::ExternalAccount(_) => {
                AppError::Conflict(message)
            }
            AuthError::NoSuchUser(_) | AuthError::NoSuchToken(_) | AuthError::NoSuchTokenOf { .. } => {
                AppError::NotFound(message)
            }
            AuthError::Store(error) => AppError::Store(error),
        }
    }
}

impl From<JsonRejection> for AppError {
    fn from(rejection: JsonRejection) -> AppError {
        // axum's texts name the problem and where it is ("… at line 1 column 9").
        let (status, message) = (rejection.status(), rejection.body_text());
        match rejection {
            JsonRejection::JsonSyntaxError(_) => AppError::BadRequest(message),
            JsonRejection::JsonDataError(_) => AppError::Unprocessable(message),
            JsonRejection::MissingJsonContentType(_) => AppError::UnsupportedMediaType(message),
            JsonRejection::BytesRejection(_) if status == StatusCode::PAYLOAD_TOO_LARGE => {
                AppError::PayloadTooLarge(message)
            }
            _ => AppError::BadRequest(message),
        }
    }
}

impl From<PathRejection> for AppError {
    fn from(rejection: PathRejection) -> AppError {
        AppError::BadRequest(rejection.body_text())
    }
}

impl From<QueryRejection> for AppError {
    fn from(rejection: QueryRejection) -> AppError {
        AppError::BadRequest(rejection.body_text())
    }
}

impl From<AppError> for BerthError {
    fn from(error: AppError) -> BerthError {
        match error {
            AppError::NotFound(message) => BerthError::NotFound(message),
            AppError::Unauthenticated(message) => BerthError::Unauthenticated(message),
            AppError::Forbidden(message) => BerthError::Forbidden(message),
            AppError::Store(_) | AppError::Sandbox(_) | AppError::Unavailable { .. } => {
                BerthError::Internal(error.public_message())
            }
            AppError::Upstream(message) => BerthError::Upstream(message),
            other => BerthError::BadRequest(other.public_message()),
        }
    }
}
