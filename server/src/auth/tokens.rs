//! API tokens: one's own (create, list, revoke), and any user's for admins (list, revoke).
//! A token's value exists only in the answer that creates it; the store keeps its digest.

use serde_json::json;

use super::{secret, Actor, Auth, AuthError, Principal};
use crate::audit::AuditKind;
use crate::db::{StoreError, TokenRecord};

impl Auth {
    /// Creates an API token for the principal; returns its record and its value, which exists
    /// nowhere else afterwards.
    pub async fn create_token(
        &self,
        principal: &Principal,
        name: &str,
        address: Option<String>,
    ) -> Result<(TokenRecord, String), AuthError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(AuthError::InvalidTokenName);
        }
        let value = secret::new_api_token();
        let entry = self.audit.entry(
            &principal.actor(address),
            AuditKind::TokenCreated,
            Some(name),
            json!({}),
        );
        let record = self
            .store
            .insert_token(
                principal.user_id,
                name,
                &secret::digest(&value),
                self.clock.now_ms(),
                &entry,
            )
            .await?;
        Ok((record, value))
    }

    pub async fn list_tokens(&self, principal: &Principal) -> Result<Vec<TokenRecord>, StoreError> {
        self.store.list_tokens(principal.user_id).await
    }

    /// Revokes one of the principal's own tokens.
    pub async fn revoke_token(
        &self,
        principal: &Principal,
        token_id: i64,
        address: Option<String>,
    ) -> Result<(), AuthError> {
        let entry = self.audit.entry(
            &principal.actor(address),
            AuditKind::TokenRevoked,
            None,
            json!({}),
        );
        self.store
            .revoke_token(principal.user_id, token_id, self.clock.now_ms(), &entry)
            .await?
            .ok_or(AuthError::NoSuchToken(token_id))?;
        Ok(())
    }

    /// Every user's unrevoked tokens (admins).
    pub async fn list_all_tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        self.store.list_all_tokens().await
    }

    /// A user's unrevoked tokens (admins).
    pub async fn list_tokens_of(&self, username: &str) -> Result<Vec<TokenRecord>, AuthError> {
        let user = self
            .store
            .user_by_name(username)
            .await?
            .ok_or_else(|| AuthError::NoSuchUser(username.to_owned()))?;
        Ok(self.store.list_tokens(user.id).await?)
    }

    /// Revokes a user's token (admins); audited with the user in the detail.
    pub async fn revoke_token_of(
        &self,
        actor: &Actor,
        username: &str,
        token_id: i64,
    ) -> Result<(), AuthError> {
        let user = self
            .store
            .user_by_name(username)
            .await?
            .ok_or_else(|| AuthError::NoSuchUser(username.to_owned()))?;
        let entry = self
            .audit
            .entry(actor, AuditKind::TokenRevoked, None, json!({ "user": username }));
        self.store
            .revoke_token(user.id, token_id, self.clock.now_ms(), &entry)
            .await?
            .ok_or_else(|| AuthError::NoSuchTokenOf {
                user: username.to_owned(),
                id: token_id,
            })?;
        Ok(())
    }
}
