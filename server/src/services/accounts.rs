//! The account pages' services: one's own password and tokens, users and their tokens
//! (admins), the audit log. Tokens are shown as one type ([`TokenView`]) to the pages and to
//! `/api/v1`.

use std::collections::HashMap;

use berth_app::backend::Caller;
use berth_app::types::{AuditEntryView, AuditPage, AuditQuery, CreatedToken, TokenView, UserView};
use berth_core::access::Role;

use crate::audit::{Actor, AuditKind};
use crate::auth::{Auth, Credential, Principal};
use crate::clock::rfc3339;
use crate::db::{AuditEntry, AuditFilter, Store, TokenRecord};
use crate::error::AppError;
use crate::params::{parse_time, parse_until};

/// Entries per audit page.
const AUDIT_PAGE: u32 = 100;

/// The principal the guard established, back from the UI's view of it.
fn principal(caller: &Caller) -> Result<Principal, AppError> {
    let role = caller
        .role
        .parse()
        .map_err(|error: berth_core::access::UnknownRole| AppError::BadRequest(error.to_string()))?;
    let credential = match (&caller.session, caller.token_id) {
        (Some(id_hash), _) => Credential::Session {
            id_hash: id_hash.clone(),
            csrf_token: caller.csrf_token.clone().unwrap_or_default(),
        },
        (None, Some(id)) => Credential::Token { id },
        (None, None) => return Err(AppError::Unauthenticated("sign in first".into())),
    };
    Ok(Principal {
        user_id: caller.user_id,
        username: caller.username.clone(),
        role,
        credential,
    })
}

fn actor(caller: &Caller) -> Actor {
    Actor {
        user: Some((caller.user_id, caller.username.clone())),
        address: caller.address.clone(),
        command_line: false,
    }
}

fn role(name: &str) -> Result<Role, AppError> {
    name.parse()
        .map_err(|error: berth_core::access::UnknownRole| AppError::Unprocessable(error.to_string()))
}

pub async fn change_password(auth: &Auth, caller: &Caller, current: &str, new: &str) -> Result<(), AppError> {
    let principal = principal(caller)?;
    auth.change_own_password(&principal, current, new, caller.address.clone())
        .await?;
    Ok(())
}

/// A token as the pages and the API show it (never its value or digest).
pub fn token_view(token: TokenRecord) -> TokenView {
    TokenView {
        id: token.id,
        name: token.name,
        created_at: rfc3339(token.created_at),
        last_used_at: token.last_used_at.map(rfc3339),
    }
}

pub async fn list_tokens(auth: &Auth, caller: &Caller) -> Result<Vec<TokenView>, AppError> {
    let tokens = auth.list_tokens(&principal(caller)?).await?;
    Ok(tokens.into_iter().map(token_view).collect())
}

pub async fn create_token(auth: &Auth, caller: &Caller, name: &str) -> Result<CreatedToken, AppError> {
    let (record, token) = auth
        .create_token(&principal(caller)?, name, caller.address.clone())
        .await?;
    Ok(CreatedToken {
        id: record.id,
        name: record.name,
        token,
    })
}

pub async fn revoke_token(auth: &Auth, caller: &Caller, id: i64) -> Result<(), AppError> {
    auth.revoke_token(&principal(caller)?, id, caller.address.clone())
        .await?;
    Ok(())
}

/// Every user with their unrevoked tokens (the Users page).
pub async fn list_users(auth: &Auth) -> Result<Vec<UserView>, AppError> {
    let users = auth.list_users().await?;
    let mut tokens_by_user: HashMap<i64, Vec<TokenView>> = HashMap::new();
    for token in auth.list_all_tokens().await? {
        tokens_by_user
            .entry(token.user_id)
            .or_default()
            .push(token_view(token));
    }
    Ok(users
        .into_iter()
        .map(|user| UserView {
            tokens: tokens_by_user.remove(&user.id).unwrap_or_default(),
            username: user.username,
            role: user.role.as_str().to_owned(),
            disabled: user.disabled,
            external: user.external_id.is_some(),
            created_at: rfc3339(user.created_at),
        })
        .collect())
}

/// A user's unrevoked tokens (admins; `GET /api/v1/users/{name}/tokens`).
pub async fn list_tokens_of(auth: &Auth, username: &str) -> Result<Vec<TokenView>, AppError> {
    let tokens = auth.list_tokens_of(username).await?;
    Ok(tokens.into_iter().map(token_view).collect())
}

/// Revokes a user's token (admins; `DELETE /api/v1/users/{name}/tokens/{id}` and the Users
/// page).
pub async fn revoke_token_of(auth: &Auth, actor: &Actor, username: &str, id: i64) -> Result<(), AppError> {
    Ok(auth.revoke_token_of(actor, username, id).await?)
}

pub async fn add_user(
    auth: &Auth,
    caller: &Caller,
    username: &str,
    role_name: &str,
    password: &str,
) -> Result<(), AppError> {
    auth.add_user(&actor(caller), username, role(role_name)?, password)
        .await?;
    Ok(())
}

pub async fn change_user(
    auth: &Auth,
    caller: &Caller,
    username: &str,
    role_name: Option<&str>,
    disabled: Option<bool>,
    password: Option<&str>,
) -> Result<(), AppError> {
    let role = role_name.map(role).transpose()?;
    auth.change_user(&actor(caller), username, role, disabled, password)
        .await?;
    Ok(())
}

pub async fn audit_log(store: &Store, query: AuditQuery) -> Result<AuditPage, AppError> {
    let filter = AuditFilter {
        actor: query.user,
        kind: query.kind,
        since: query.since.as_deref().map(parse_time).transpose()?,
        until: query.until.as_deref().map(parse_until).transpose()?,
        before_id: query.before_id,
        // One more than shown tells whether there are older entries.
        limit: AUDIT_PAGE + 1,
    };
    let mut entries = store.audit_entries(&filter).await?;
    let more = entries.len() > AUDIT_PAGE as usize;
    entries.truncate(AUDIT_PAGE as usize);
    Ok(AuditPage {
        entries: entries.into_iter().map(audit_view).collect(),
        kinds: AuditKind::ALL
            .iter()
            .map(|kind| kind.as_str().to_owned())
            .collect(),
        more,
    })
}

/// An audit entry as the pages and the API show it.
pub fn audit_view(entry: AuditEntry) -> AuditEntryView {
    AuditEntryView {
        id: entry.id,
        at: rfc3339(entry.at),
        user: entry.actor,
        kind: entry.kind,
        subject: entry.subject,
        detail: entry.detail,
        address: entry.address,
    }
}
