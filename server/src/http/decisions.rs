//! `/api/v1/decisions`: the decision log for scripts, as `berth decisions` and the Decisions
//! page show it. Viewers read (the decisions, the agreement rate, the gaps, the live tail, the
//! way into the sandbox); authors replay recorded decisions against another revision; admins
//! turn the log on per connection (`PATCH /api/v1/connections/{name}`, in `connections.rs`).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, Method, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use berth_app::types::{AgreementView, DecisionList, DecisionQuery, GapView};
use berth_core::access::Action;
use futures::Stream;

use super::access::{Access, Endpoint};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::streams::OpenStreams;
use crate::auth::{Auth, Principal};
use crate::db::Store;
use crate::error::AppError;
use crate::impact_cli::JsonImpact;
use crate::sandbox::Sandbox;
use crate::services::decisions::{self, ReplayRequest, Tail};

/// How often the live tail looks at the store: any replica's listener writes there.
const TAIL_POLL: Duration = Duration::from_millis(250);

pub fn endpoints() -> Vec<Endpoint> {
    let read = Access::Signed(Action::Read);
    vec![
        Endpoint::api(Method::GET, "/api/v1/decisions", read, list),
        Endpoint::api(Method::GET, "/api/v1/decisions/agreement", read, agreement),
        Endpoint::api(Method::GET, "/api/v1/decisions/gaps", read, gaps),
        Endpoint::api(Method::GET, "/api/v1/decisions/{id}/sandbox", read, sandbox),
    ]
}

/// A replay runs one simulation per decision: the long-running group's timeout.
pub fn long_running_endpoints() -> Vec<Endpoint> {
    vec![Endpoint::api(
        Method::POST,
        "/api/v1/decisions/replay",
        Access::Signed(Action::RunSandbox),
        replay,
    )]
}

/// The live tail: no timeout, no compression.
pub fn stream_endpoints() -> Vec<Endpoint> {
    vec![Endpoint::api(
        Method::GET,
        "/api/v1/decisions/events",
        Access::Signed(Action::Read),
        events,
    )]
}

/// `{"decisions": […], "next": CURSOR | null}`, newest first.
async fn list(
    State(store): State<Store>,
    ApiQuery(query): ApiQuery<DecisionQuery>,
) -> Result<Json<DecisionList>, AppError> {
    Ok(Json(decisions::list(&store, &query).await?))
}

#[derive(serde::Serialize)]
struct Agreement {
    agreement: Vec<AgreementView>,
}

async fn agreement(
    State(store): State<Store>,
    ApiQuery(query): ApiQuery<DecisionQuery>,
) -> Result<Json<Agreement>, AppError> {
    Ok(Json(Agreement {
        agreement: decisions::agreement(&store, &query).await?,
    }))
}

#[derive(serde::Serialize)]
struct Gaps {
    gaps: Vec<GapView>,
}

async fn gaps(
    State(store): State<Store>,
    ApiQuery(query): ApiQuery<DecisionQuery>,
) -> Result<Json<Gaps>, AppError> {
    Ok(Json(Gaps {
        gaps: decisions::gaps(&store, &query).await?,
    }))
}

/// 303 to the editor with the decision's snapshot, request and revision; 404 when it has no
/// basis to open (no capture before it).
async fn sandbox(State(store): State<Store>, ApiPath(id): ApiPath<i64>) -> Result<Response, AppError> {
    let link = decisions::sandbox_link(&store, id).await?;
    Ok((StatusCode::SEE_OTHER, [(header::LOCATION, link)]).into_response())
}

/// The replay as `POST /api/v1/impact` answers one; 422 when the revision does not compile.
async fn replay(
    State(store): State<Store>,
    State(sandbox): State<Arc<Sandbox>>,
    ApiJson(request): ApiJson<ReplayRequest>,
) -> Result<Json<serde_json::Value>, AppError> {
    let impact = decisions::replay(&store, &sandbox, &request).await?;
    Ok(Json(
        serde_json::to_value(JsonImpact::of(&impact)).expect("a replay serializes"),
    ))
}

/// Decisions matching the query as they are recorded and predicted (`event: decision`, one
/// `data:` each time one changes), until the stream's watch ends it (`streams.rs`).
async fn events(
    State(store): State<Store>,
    State(auth): State<Auth>,
    State(streams): State<OpenStreams>,
    principal: Principal,
    ApiQuery(query): ApiQuery<DecisionQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, AppError> {
    let tail = Tail::from_now(&store, &query).await?;
    let watch = streams.open(&auth, &principal, Action::Read)?;
    let stream = futures::stream::unfold(
        (store, tail, std::collections::VecDeque::new()),
        |(store, mut tail, mut ready)| async move {
            loop {
                if let Some(decision) = ready.pop_front() {
                    let event = Event::default()
                        .event("decision")
                        .json_data(&decision)
                        .expect("a decision serializes");
                    return Some((Ok(event), (store, tail, ready)));
                }
                match tail.next(&store).await {
                    Ok(changed) if changed.is_empty() => tokio::time::sleep(TAIL_POLL).await,
                    Ok(changed) => ready.extend(changed),
                    Err(error) => {
                        tracing::warn!(%error, "the decisions' live tail stops");
                        return None;
                    }
                }
            }
        },
    );
    Ok(Sse::new(watch.guard(stream)).keep_alive(KeepAlive::default()))
}
