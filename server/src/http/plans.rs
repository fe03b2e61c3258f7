//! `/api/v1/plans`: the same operations as the Plans pages and `berth plan`, for scripts; and
//! the live progress of a plan as server-sent events.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use berth_app::types::{AuditEntryView, MoveSpec, NewPlan, PlanAction, PlanSummary, PlanView};
use berth_core::access::Action;
use futures::Stream;
use serde::Deserialize;

use super::access::{Access, ClientAddress, Endpoint};
use super::extract::{ApiJson, ApiPath};
use super::streams::OpenStreams;
use crate::audit::Actor;
use crate::auth::{Auth, Principal};
use crate::db::Store;
use crate::error::AppError;
use crate::services::plans::{self, Acting, PlanContext};

/// How often the event stream looks at the plan: the store is the truth, so any replica's
/// stream sees what any replica's executor wrote.
const EVENTS_POLL: Duration = Duration::from_millis(400);

pub fn endpoints() -> Vec<Endpoint> {
    let read = Access::Signed(Action::Read);
    let draft = Access::Signed(Action::DraftPlans);
    let approve = Access::Signed(Action::ApprovePlans);
    vec![
        Endpoint::api(Method::GET, "/api/v1/plans", read, list),
        Endpoint::api(Method::POST, "/api/v1/plans", draft, create),
        Endpoint::api(Method::GET, "/api/v1/plans/{id}", read, show),
        Endpoint::api(Method::PUT, "/api/v1/plans/{id}/moves", draft, edit),
        Endpoint::api(Method::GET, "/api/v1/plans/{id}/timeline", read, timeline),
        Endpoint::api(Method::POST, "/api/v1/plans/{id}/approve", approve, approve_plan),
        Endpoint::api(
            Method::POST,
            "/api/v1/plans/{id}/request-changes",
            approve,
            request_changes,
        ),
        Endpoint::api(Method::POST, "/api/v1/plans/{id}/cancel", draft, cancel),
        Endpoint::api(Method::POST, "/api/v1/plans/{id}/reverse", draft, reverse),
        Endpoint::api(Method::POST, "/api/v1/plans/{id}/comments", draft, comment),
        // The service decides between an author's and an operator's right by the plan's state.
        Endpoint::api(
            Method::POST,
            "/api/v1/plans/{id}/moves/{position}/skip",
            draft,
            skip,
        ),
    ]
}

/// What reads the cluster first (a fresh capture, a simulation): the long-running timeout.
pub fn long_running_endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint::api(
            Method::POST,
            "/api/v1/plans/{id}/preview",
            Access::Signed(Action::DraftPlans),
            preview,
        ),
        Endpoint::api(
            Method::POST,
            "/api/v1/plans/{id}/submit",
            Access::Signed(Action::DraftPlans),
            submit,
        ),
        Endpoint::api(
            Method::POST,
            "/api/v1/plans/{id}/execute",
            Access::Signed(Action::ExecutePlans),
            execute,
        ),
    ]
}

/// Streams that last as long as a plan runs: no timeout, no compression (it would hold events
/// back).
pub fn stream_endpoints() -> Vec<Endpoint> {
    vec![Endpoint::api(
        Method::GET,
        "/api/v1/plans/{id}/events",
        Access::Signed(Action::Read),
        events,
    )]
}

fn acting(principal: &Principal, address: Option<String>) -> Acting {
    Acting::new(
        Actor::user(principal.user_id, &principal.username, address),
        &principal.username,
        principal.role,
    )
}

async fn list(State(store): State<Store>) -> Result<Json<Vec<PlanSummary>>, AppError> {
    Ok(Json(plans::list(&store).await?))
}

async fn create(
    State(context): State<PlanContext>,
    principal: Principal,
    ClientAddress(address): ClientAddress,
    ApiJson(body): ApiJson<NewPlan>,
) -> Result<Response, AppError> {
    let created = plans::create(&context, &acting(&principal, address), &body).await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

async fn show(State(store): State<Store>, ApiPath(id): ApiPath<i64>) -> Result<Json<PlanView>, AppError> {
    Ok(Json(plans::view(&store, id).await?))
}

async fn edit(
    State(context): State<PlanContext>,
    principal: Principal,
    ClientAddress(address): ClientAddress,
    ApiPath(id): ApiPath<i64>,
    ApiJson(moves): ApiJson<Vec<MoveSpec>>,
) -> Result<Json<PlanView>, AppError> {
    Ok(Json(
        plans::edit(&context, &acting(&principal, address), id, &moves).await?,
    ))
}

async fn timeline(
    State(store): State<Store>,
    principal: Principal,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Vec<AuditEntryView>>, AppError> {
    Ok(Json(plans::timeline(&store, id, principal.role).await?))
}

async fn act(
    context: &PlanContext,
    principal: &Principal,
    address: Option<String>,
    id: i64,
    action: PlanAction,
) -> Result<Json<PlanView>, AppError> {
    Ok(Json(
        plans::act(context, &acting(principal, address), id, action).await?,
    ))
}

macro_rules! action_handler {
    ($name:ident, $action:expr) => {
        async fn $name(
            State(context): State<PlanContext>,
            principal: Principal,
            ClientAddress(address): ClientAddress,
            ApiPath(id): ApiPath<i64>,
        ) -> Result<Json<PlanView>, AppError> {
            act(&context, &principal, address, id, $action).await
        }
    };
}

action_handler!(preview, PlanAction::Preview);
action_handler!(submit, PlanAction::Submit);
action_handler!(request_changes, PlanAction::RequestChanges);
action_handler!(execute, PlanAction::Execute);
action_handler!(cancel, PlanAction::Cancel);

/// `{"version": V}`: the version of the plan the approver reviewed.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Approval {
    #[serde(default)]
    version: Option<i64>,
}

/// An approval names the version reviewed; a body without one (or none at all) is answered by
/// the review with 409, as a version the plan no longer has is.
async fn approve_plan(
    State(context): State<PlanContext>,
    principal: Principal,
    ClientAddress(address): ClientAddress,
    ApiPath(id): ApiPath<i64>,
    body: Bytes,
) -> Result<Json<PlanView>, AppError> {
    let approval: Approval = if body.iter().all(u8::is_ascii_whitespace) {
        Approval::default()
    } else {
        serde_json::from_slice(&body).map_err(|error| match error.classify() {
            serde_json::error::Category::Data => AppError::Unprocessable(error.to_string()),
            _ => AppError::BadRequest(format!("the body is not JSON: {error}")),
        })?
    };
    let action = PlanAction::Approve {
        version: approval.version,
    };
    act(&context, &principal, address, id, action).await
}

async fn reverse(
    State(context): State<PlanContext>,
    principal: Principal,
    ClientAddress(address): ClientAddress,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, AppError> {
    let Json(created) = act(&context, &principal, address, id, PlanAction::Reverse).await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewComment {
    body: String,
    /// The move (from 1) the comment is about.
    #[serde(default, rename = "move")]
    position: Option<usize>,
}

async fn comment(
    State(context): State<PlanContext>,
    principal: Principal,
    ClientAddress(address): ClientAddress,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<NewComment>,
) -> Result<Response, AppError> {
    let view = plans::comment(
        &context,
        &acting(&principal, address),
        id,
        body.position,
        &body.body,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Skip {
    reason: String,
}

async fn skip(
    State(context): State<PlanContext>,
    principal: Principal,
    ClientAddress(address): ClientAddress,
    ApiPath((id, position)): ApiPath<(i64, usize)>,
    ApiJson(body): ApiJson<Skip>,
) -> Result<Json<PlanView>, AppError> {
    Ok(Json(
        plans::skip_move(&context, &acting(&principal, address), id, position, &body.reason).await?,
    ))
}

/// The plan as JSON each time it changes (one `data:` per version), until it ends or is
/// superseded, or the stream's watch ends it (`streams.rs`).
async fn events(
    State(store): State<Store>,
    State(auth): State<Auth>,
    State(streams): State<OpenStreams>,
    principal: Principal,
    ApiPath(id): ApiPath<i64>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, AppError> {
    plans::view(&store, id).await?;
    let watch = streams.open(&auth, &principal, Action::Read)?;
    let stream = futures::stream::unfold(
        (store, None::<String>, false),
        move |(store, last, ended)| async move {
            if ended {
                return None;
            }
            loop {
                let view = match plans::view(&store, id).await {
                    Ok(view) => view,
                    Err(error) => {
                        tracing::warn!(plan = id, %error, "the plan's event stream stops");
                        return None;
                    }
                };
                let text = serde_json::to_string(&view).expect("a plan view serializes");
                // Final, or superseded: no executor works on it any more.
                let ended = matches!(
                    view.state.as_str(),
                    "succeeded" | "failed" | "cancelled" | "superseded"
                );
                if last.as_deref() != Some(text.as_str()) {
                    let event = Event::default().event("plan").data(text.clone());
                    return Some((Ok(event), (store, Some(text), ended)));
                }
                if ended {
                    return None;
                }
                tokio::time::sleep(EVENTS_POLL).await;
            }
        },
    );
    Ok(Sse::new(watch.guard(stream)).keep_alive(KeepAlive::default()))
}
