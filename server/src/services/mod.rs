//! Services behind the UI: the implementation of [`berth_app::backend::Backend`].
//!
//! Each method loads what it needs from the store, asks `berth-core` for anything derived,
//! and maps the result to the UI's wire types (plain functions: `From` cannot be implemented
//! between two foreign types). Account operations go through [`Auth`], which audits them.

mod accounts;
mod cluster;

use berth_app::backend::{Backend, Caller};
use berth_app::error::BerthError;
use berth_app::types::{AuditPage, AuditQuery, ClusterView, CreatedToken, TokenView, UserView};

use crate::auth::Auth;
use crate::db::Store;

pub struct Services {
    store: Store,
    auth: Auth,
}

impl Services {
    pub fn new(store: Store, auth: Auth) -> Services {
        Services { store, auth }
    }
}

#[async_trait::async_trait]
impl Backend for Services {
    async fn cluster_view(&self, snapshot_id: Option<i64>) -> Result<ClusterView, BerthError> {
        Ok(cluster::cluster_view(&self.store, snapshot_id).await?)
    }

    async fn change_password(&self, caller: &Caller, current: String, new: String) -> Result<(), BerthError> {
        accounts::change_password(&self.auth, caller, &current, &new).await
    }

    async fn list_tokens(&self, caller: &Caller) -> Result<Vec<TokenView>, BerthError> {
        accounts::list_tokens(&self.auth, caller).await
    }

    async fn create_token(&self, caller: &Caller, name: String) -> Result<CreatedToken, BerthError> {
        accounts::create_token(&self.auth, caller, &name).await
    }

    async fn revoke_token(&self, caller: &Caller, id: i64) -> Result<(), BerthError> {
        accounts::revoke_token(&self.auth, caller, id).await
    }

    async fn list_users(&self) -> Result<Vec<UserView>, BerthError> {
        accounts::list_users(&self.auth).await
    }

    async fn add_user(
        &self,
        caller: &Caller,
        username: String,
        role: String,
        password: String,
    ) -> Result<(), BerthError> {
        accounts::add_user(&self.auth, caller, &username, &role, &password).await
    }

    async fn change_user(
        &self,
        caller: &Caller,
        username: String,
        role: Option<String>,
        disabled: Option<bool>,
        password: Option<String>,
    ) -> Result<(), BerthError> {
        accounts::change_user(
            &self.auth,
            caller,
            &username,
            role.as_deref(),
            disabled,
            password.as_deref(),
        )
        .await
    }

    async fn audit_log(&self, query: AuditQuery) -> Result<AuditPage, BerthError> {
        accounts::audit_log(&self.store, query).await
    }
}
