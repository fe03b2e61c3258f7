//! The request body limit of `/api/v1`, answered with a 413 the client can read.
//!
//! axum's own limit rejects a body as soon as it is over the limit, and hyper then closes the
//! connection with the rest of the body unread. A client still sending (most are: they write the
//! whole body before reading the answer) sees a reset connection or a broken pipe instead of the
//! 413. Here the rest of an oversized body is read and thrown away, up to [`DRAIN_LIMIT`], so the
//! client finishes sending and reads the answer; beyond that the connection is closed as before.

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::header::CONTENT_LENGTH;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;

use crate::error::AppError;

/// The largest body `/api/v1` reads: axum's default, plenty for a scriptlet and its operations.
pub const BODY_LIMIT: usize = 2 << 20;

/// The largest snapshot upload: a cluster of thousands of instances is tens of MiB of JSON.
pub const SNAPSHOT_LIMIT: usize = 48 << 20;

/// Where snapshots are uploaded: the API and the Snapshots page's server function.
const SNAPSHOT_UPLOADS: [&str; 2] = ["/api/v1/snapshots", "/api/upload_snapshot"];

/// How much of an oversized body is read and dropped so that its sender sees the 413.
const DRAIN_LIMIT: usize = 64 << 20;

pub async fn limit_body(request: Request, next: Next) -> Response {
    let limit = if SNAPSHOT_UPLOADS.contains(&request.uri().path()) {
        SNAPSHOT_LIMIT
    } else {
        BODY_LIMIT
    };
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<usize>().ok());
    if declared.is_some_and(|length| length > DRAIN_LIMIT) {
        return too_large(limit);
    }
    let (parts, body) = request.into_parts();
    let mut stream = body.into_data_stream();
    let mut buffered = Vec::with_capacity(declared.unwrap_or(0).min(limit));
    let mut received = 0usize;
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else {
            return AppError::BadRequest("the request body could not be read".into()).into_response();
        };
        received += chunk.len();
        if received <= limit {
            buffered.extend_from_slice(&chunk);
        } else if received > DRAIN_LIMIT {
            break;
        }
    }
    if received > limit {
        return too_large(limit);
    }
    next.run(Request::from_parts(parts, Body::from(Bytes::from(buffered))))
        .await
}

fn too_large(limit: usize) -> Response {
    AppError::PayloadTooLarge(format!(
        "the request body is over the limit of {} MiB",
        limit >> 20
    ))
    .into_response()
}
