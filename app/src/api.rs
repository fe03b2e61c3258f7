//! Server functions: arguments in, one `Backend` call, result out. No SQL, no rules.
//!
//! Who may call which is the server's access table (`server/src/http/access.rs`), checked
//! before any of these runs. Those that change something are POSTs sent with the session's
//! CSRF token ([`CsrfClient`]); reads are GETs.

use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;

use crate::csrf::CsrfClient;
use crate::error::BerthError;
use crate::types::{AuditPage, AuditQuery, ClusterView, CreatedToken, TokenView, UserView, Viewer};

/// The Cluster page's data for one snapshot (`None`: the newest). A GET, so it is cacheable
/// and safe: it changes nothing.
#[server(input = GetUrl, endpoint = "cluster_view")]
pub async fn get_cluster_view(snapshot_id: Option<i64>) -> Result<ClusterView, BerthError> {
    crate::backend::answered(async move { crate::backend::backend()?.cluster_view(snapshot_id).await }).await
}

/// Who is signed in (`None`: nobody), for the user menu and to hide what the role may not do.
#[server(input = GetUrl, endpoint = "viewer")]
pub async fn get_viewer() -> Result<Option<Viewer>, BerthError> {
    Ok(crate::backend::caller().map(|caller| Viewer {
        username: caller.username,
        role: caller.role,
        actions: caller.actions,
    }))
}

/// Changes the signed-in user's password; their other sessions end.
#[server(endpoint = "change_password", client = CsrfClient)]
pub async fn change_password(current: String, new: String, confirm: String) -> Result<(), BerthError> {
    crate::backend::answered(async move {
        if new != confirm {
            return Err(BerthError::BadRequest(
                "the new password and its confirmation differ".into(),
            ));
        }
        let caller = crate::backend::signed_in()?;
        crate::backend::backend()?
            .change_password(&caller, current, new)
            .await
    })
    .await
}

#[server(input = GetUrl, endpoint = "list_tokens")]
pub async fn list_tokens() -> Result<Vec<TokenView>, BerthError> {
    crate::backend::answered(async move {
        let caller = crate::backend::signed_in()?;
        crate::backend::backend()?.list_tokens(&caller).await
    })
    .await
}

/// Creates an API token for the signed-in user; the answer holds its value, shown once.
#[server(endpoint = "create_token", client = CsrfClient)]
pub async fn create_token(name: String) -> Result<CreatedToken, BerthError> {
    crate::backend::answered(async move {
        let caller = crate::backend::signed_in()?;
        crate::backend::backend()?.create_token(&caller, name).await
    })
    .await
}

#[server(endpoint = "revoke_token", client = CsrfClient)]
pub async fn revoke_token(id: i64) -> Result<(), BerthError> {
    crate::backend::answered(async move {
        let caller = crate::backend::signed_in()?;
        crate::backend::backend()?.revoke_token(&caller, id).await
    })
    .await
}

#[server(input = GetUrl, endpoint = "list_users")]
pub async fn list_users() -> Result<Vec<UserView>, BerthError> {
    crate::backend::answered(async move { crate::backend::backend()?.list_users().await }).await
}

#[server(endpoint = "add_user", client = CsrfClient)]
pub async fn add_user(username: String, role: String, password: String) -> Result<(), BerthError> {
    crate::backend::answered(async move {
        let caller = crate::backend::signed_in()?;
        crate::backend::backend()?
            .add_user(&caller, username, role, password)
            .await
    })
    .await
}

/// An admin's change to a user; empty fields are left as they are.
#[server(endpoint = "change_user", client = CsrfClient)]
pub async fn change_user(
    username: String,
    role: Option<String>,
    disabled: Option<bool>,
    password: Option<String>,
) -> Result<(), BerthError> {
    crate::backend::answered(async move {
        let caller = crate::backend::signed_in()?;
        let password = password.filter(|password| !password.is_empty());
        let role = role.filter(|role| !role.is_empty());
        crate::backend::backend()?
            .change_user(&caller, username, role, disabled, password)
            .await
    })
    .await
}

#[server(input = GetUrl, endpoint = "audit_log")]
pub async fn audit_log(query: AuditQuery) -> Result<AuditPage, BerthError> {
    crate::backend::answered(async move { crate::backend::backend()?.audit_log(query).await }).await
}
