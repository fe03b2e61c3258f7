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

/// A yes/no query parameter as people write it: absent or empty is no; `true`, `1`, `yes` and
/// `on` are yes; `false`, `0`, `no` and `off` are no (`?redact=true`, `?redact=1`, `?redact=`).
pub fn query_flag<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    Ok(optional_query_flag(deserializer)?.unwrap_or(false))
}

/// A yes/no query parameter whose absence is not a no (the caller has its own default):
/// absent or empty is `None`, otherwise as [`query_flag`].
pub fn optional_query_flag<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<bool>, D::Error> {
    let text: Option<String> = serde::Deserialize::deserialize(deserializer)?;
    match text.as_deref().map(str::trim).unwrap_or_default() {
        "" => Ok(None),
        "false" | "0" | "no" | "off" => Ok(Some(false)),
        "true" | "1" | "yes" | "on" => Ok(Some(true)),
        other => Err(serde::de::Error::custom(format!(
            "{other:?} is not a yes or no: use true or false"
        ))),
    }
}
