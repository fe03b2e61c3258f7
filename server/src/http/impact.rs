//! `POST /api/v1/impact`: an impact replay for scripts, answered whole; and
//! `GET /api/v1/impact/events?…`: the same replay for the Impact page as server-sent events,
//! `progress` after each shard and then `result` (or `failed`). Closing the stream cancels the
//! replay: its workers are killed.

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::State;
use axum::http::Method;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::Json;
use berth_core::access::Action;
use futures::Stream;
use tokio::sync::mpsc;

use super::access::{Access, Endpoint};
use super::extract::{ApiJson, ApiQuery};
use super::streams::OpenStreams;
use crate::auth::{Auth, Principal};
use crate::db::Store;
use crate::error::AppError;
use crate::sandbox::Sandbox;
use crate::services::impact::{ImpactAnswer, ImpactLink, ImpactRequest, Prepared};

/// The replay answered whole: the long-running group's timeout.
pub fn long_running_endpoints() -> Vec<Endpoint> {
    vec![Endpoint::api(
        Method::POST,
        "/api/v1/impact",
        Access::Signed(Action::RunSandbox),
        replay,
    )]
}

/// The replay as it goes: no timeout, no compression.
pub fn stream_endpoints() -> Vec<Endpoint> {
    vec![Endpoint::api(
        Method::GET,
        "/api/v1/impact/events",
        Access::Signed(Action::RunSandbox),
        events,
    )]
}

/// 200 with the replay and its summary line; 422 with the diagnostic when a revision does not
/// compile (its message names which).
async fn replay(
    State(sandbox): State<Arc<Sandbox>>,
    State(store): State<Store>,
    ApiJson(body): ApiJson<ImpactRequest>,
) -> Result<Json<serde_json::Value>, AppError> {
    let prepared = Prepared::resolve(&store, &body).await?;
    let impact = prepared.replay().run(&sandbox, |_| {}).await?;
    Ok(Json(
        serde_json::to_value(ImpactAnswer::of(&impact)).expect("a replay serializes"),
    ))
}

/// Problems with the link itself (no such snapshot or revision) are the response's status;
/// everything after is an event.
async fn events(
    State(sandbox): State<Arc<Sandbox>>,
    State(store): State<Store>,
    State(auth): State<Auth>,
    State(streams): State<OpenStreams>,
    principal: Principal,
    ApiQuery(link): ApiQuery<ImpactLink>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, AppError> {
    let prepared = Prepared::resolve(&store, &link.request()?).await?;
    // Ended by its watch like any closed stream: the replay's workers are killed.
    let watch = streams.open(&auth, &principal, Action::RunSandbox)?;
    let (sender, receiver) = mpsc::channel::<Event>(16);
    tokio::spawn(async move {
        let progress_sender = sender.clone();
        let replay = prepared.replay();
        let run = replay.run(&sandbox, |progress| {
            let event = Event::default()
                .event("progress")
                .json_data(progress)
                .expect("progress serializes");
            // A full channel drops a progress event: the next one says more.
            let _ = progress_sender.try_send(event);
        });
        let last = tokio::select! {
            // The page went away (or cancelled): dropping the replay stops its workers.
            () = sender.closed() => return,
            result = run => match result {
                Ok(impact) => Event::default()
                    .event("result")
                    .json_data(ImpactAnswer::of(&impact))
                    .expect("a replay serializes"),
                Err(error) => {
                    let error = AppError::from(error);
                    let diagnostic = match &error {
                        AppError::Scriptlet(diagnostic) => serde_json::to_value(diagnostic).ok(),
                        _ => None,
                    };
                    Event::default()
                        .event("failed")
                        .json_data(serde_json::json!({
                            "error": error.public_message(),
                            "diagnostic": diagnostic,
                        }))
                        .expect("an error serializes")
                }
            },
        };
        let _ = sender.send(last).await;
    });
    let stream = futures::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|event| (Ok(event), receiver))
    });
    Ok(Sse::new(watch.guard(stream)).keep_alive(KeepAlive::default()))
}
