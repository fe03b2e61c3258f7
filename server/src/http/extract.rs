//! `/api/v1`'s extractors: axum's `Json`, `Query` and `Path` with their rejections answered in the API's
//! one error shape, `{"error": "…"}` (the mapping is `From<JsonRejection> for AppError`).

use axum::extract::{FromRequest, FromRequestParts, Path, Query};
use axum::Json;

use crate::error::AppError;

/// A JSON request body. Malformed JSON is a 400, JSON of the wrong shape (a missing field, a
/// wrong type) a 422, a body over the limit a 413, another content type a 415.
#[derive(Debug, FromRequest)]
#[from_request(via(Json), rejection(AppError))]
pub struct ApiJson<T>(pub T);

/// Query parameters; any malformed one is a 400.
#[derive(Debug, FromRequestParts)]
#[from_request(via(Query), rejection(AppError))]
pub struct ApiQuery<T>(pub T);

/// Path parameters (`/api/v1/scriptlets/{id}`); one that does not parse is a 400.
#[derive(Debug, FromRequestParts)]
#[from_request(via(Path), rejection(AppError))]
pub struct ApiPath<T>(pub T);
