//! `/api/v1/tokens` (a user's own API tokens) and `/api/v1/users` (admins manage accounts and
//! any user's tokens). Tokens are listed as the pages show them (`TokenView`).

use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use berth_app::types::TokenView;
use berth_core::access::{Action, Role};
use serde::{Deserialize, Serialize};

use super::access::{Access, ClientAddress, Endpoint};
use super::extract::{ApiJson, ApiPath};
use crate::auth::{Auth, Principal};
use crate::clock::rfc3339;
use crate::db::UserRecord;
use crate::error::AppError;
use crate::services::accounts;

pub fn endpoints() -> Vec<Endpoint> {
    let own_account = Access::Signed(Action::ManageOwnAccount);
    let manage_users = Access::Signed(Action::ManageUsers);
    vec![
        Endpoint::api(Method::GET, "/api/v1/tokens", own_account, list_tokens),
        Endpoint::api(Method::POST, "/api/v1/tokens", own_account, create_token),
        Endpoint::api(Method::DELETE, "/api/v1/tokens/{id}", own_account, revoke_token),
        Endpoint::api(Method::GET, "/api/v1/users", manage_users, list_users),
        Endpoint::api(Method::POST, "/api/v1/users", manage_users, add_user),
        Endpoint::api(Method::PATCH, "/api/v1/users/{name}", manage_users, change_user),
        Endpoint::api(
            Method::GET,
            "/api/v1/users/{name}/tokens",
            manage_users,
            list_tokens_of,
        ),
        Endpoint::api(
            Method::DELETE,
            "/api/v1/users/{name}/tokens/{id}",
            manage_users,
            revoke_token_of,
        ),
    ]
}

#[derive(Debug, Deserialize)]
pub struct NewToken {
    pub name: String,
}

#[derive(Debug, Serialize)]
pub struct CreatedToken {
    pub id: i64,
    pub name: String,
    /// The token itself: shown here once, stored only as a digest.
    pub token: String,
}

async fn list_tokens(
    State(auth): State<Auth>,
    principal: Principal,
) -> Result<Json<Vec<TokenView>>, AppError> {
    let tokens = auth.list_tokens(&principal).await?;
    Ok(Json(tokens.into_iter().map(accounts::token_view).collect()))
}

async fn create_token(
    State(auth): State<Auth>,
    principal: Principal,
    ClientAddress(address): ClientAddress,
    ApiJson(body): ApiJson<NewToken>,
) -> Result<Response, AppError> {
    let (record, token) = auth.create_token(&principal, &body.name, address).await?;
    let created = CreatedToken {
        id: record.id,
        name: record.name,
        token,
    };
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

async fn revoke_token(
    State(auth): State<Auth>,
    principal: Principal,
    ClientAddress(address): ClientAddress,
    Path(id): Path<i64>,
) -> Result<StatusCode, AppError> {
    auth.revoke_token(&principal, id, address).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize)]
pub struct UserListing {
    pub username: String,
    pub role: Role,
    pub disabled: bool,
    /// An account of the identity provider (single sign-on): it has no password in Berth.
    pub external: bool,
    pub created_at: String,
}

impl From<UserRecord> for UserListing {
    fn from(user: UserRecord) -> UserListing {
        UserListing {
            username: user.username,
            role: user.role,
            disabled: user.disabled,
            external: user.external_id.is_some(),
            created_at: rfc3339(user.created_at),
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct NewUser {
    pub username: String,
    pub role: Role,
    pub password: String,
}

/// What to change; an absent, `null` or empty field is left as it is.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    pub role: Option<String>,
    pub disabled: Option<bool>,
    pub password: Option<String>,
}

async fn list_users(State(auth): State<Auth>) -> Result<Json<Vec<UserListing>>, AppError> {
    let users = auth.list_users().await?;
    Ok(Json(users.into_iter().map(UserListing::from).collect()))
}

async fn add_user(
    State(auth): State<Auth>,
    principal: Principal,
    ClientAddress(address): ClientAddress,
    ApiJson(body): ApiJson<NewUser>,
) -> Result<Response, AppError> {
    let user = auth
        .add_user(
            &principal.actor(address),
            &body.username,
            body.role,
            &body.password,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(UserListing::from(user))).into_response())
}

/// 200 with the user's unrevoked tokens; 404 for no such user.
async fn list_tokens_of(
    State(auth): State<Auth>,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<Vec<TokenView>>, AppError> {
    Ok(Json(accounts::list_tokens_of(&auth, &name).await?))
}

/// 204; 404 when the user has no such unrevoked token (another user's token included).
async fn revoke_token_of(
    State(auth): State<Auth>,
    principal: Principal,
    ClientAddress(address): ClientAddress,
    ApiPath((name, id)): ApiPath<(String, i64)>,
) -> Result<StatusCode, AppError> {
    accounts::revoke_token_of(&auth, &principal.actor(address), &name, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn change_user(
    State(auth): State<Auth>,
    principal: Principal,
    ClientAddress(address): ClientAddress,
    Path(name): Path<String>,
    ApiJson(patch): ApiJson<UserPatch>,
) -> Result<Json<UserListing>, AppError> {
    fn given(value: &Option<String>) -> Option<&str> {
        value.as_deref().filter(|value| !value.is_empty())
    }
    let role = given(&patch.role)
        .map(str::parse::<Role>)
        .transpose()
        .map_err(|error| AppError::Unprocessable(error.to_string()))?;
    let user = auth
        .change_user(
            &principal.actor(address),
            &name,
            role,
            patch.disabled,
            given(&patch.password),
        )
        .await?;
    Ok(Json(UserListing::from(user)))
}
