//! Users: adding them, an admin's changes (role, disabled, a new password), and one's own
//! password change. A change and its audit entries are one store transaction.

use berth_core::access::Role;
use serde_json::json;

use super::sign_in::is_valid_username;
use super::{password, Actor, Auth, AuthError, Credential, Principal};
use crate::audit::AuditKind;
use crate::db::{StoreError, UserChange, UserRecord, UserUpdate};

impl Auth {
    pub async fn add_user(
        &self,
        actor: &Actor,
        username: &str,
        role: Role,
        password: &str,
    ) -> Result<UserRecord, AuthError> {
        if !is_valid_username(username) {
            return Err(AuthError::InvalidUsername(username.to_owned()));
        }
        password::check_strength(password)?;
        let hash = self.argon2.hash(password).await?;
        let entry = self.audit.entry(
            actor,
            AuditKind::UserCreated,
            Some(username),
            json!({ "role": role }),
        );
        self.store
            .insert_user(username, role, &hash, self.clock.now_ms(), &entry)
            .await?
            .ok_or_else(|| AuthError::UserExists(username.to_owned()))
    }

    pub async fn list_users(&self) -> Result<Vec<UserRecord>, StoreError> {
        self.store.list_users().await
    }

    /// Applies an admin's change to a user: role, disabled, or a new password. Disabling a
    /// user or setting their password ends all their sessions and revokes all their API
    /// tokens (each revocation audited): whoever the admin is locking out keeps no way in.
    /// The last enabled admin cannot be demoted or disabled: nobody could manage users any
    /// more.
    pub async fn change_user(
        &self,
        actor: &Actor,
        username: &str,
        role: Option<Role>,
        disabled: Option<bool>,
        new_password: Option<&str>,
    ) -> Result<UserRecord, AuthError> {
        let before = self
            .store
            .user_by_name(username)
            .await?
            .ok_or_else(|| AuthError::NoSuchUser(username.to_owned()))?;
        if new_password.is_some() && before.external_id.is_some() {
            return Err(AuthError::ExternalAccount(username.to_owned()));
        }
        let loses_admin = before.role == Role::Admin
            && !before.disabled
            && (role.is_some_and(|role| role != Role::Admin) || disabled == Some(true));
        if loses_admin && self.store.enabled_admins().await? <= 1 {
            return Err(AuthError::Refused(format!(
                "`{username}` is the last enabled admin: add another admin first"
            )));
        }
        let password_hash = match new_password {
            Some(new_password) => {
                password::check_strength(new_password)?;
                Some(self.argon2.hash(new_password).await?)
            }
            None => None,
        };

        let subject = Some(username);
        let mut entries = Vec::new();
        if let Some(role) = role.filter(|role| *role != before.role) {
            let detail = json!({ "from": before.role, "to": role });
            entries.push(
                self.audit
                    .entry(actor, AuditKind::UserRoleChanged, subject, detail),
            );
        }
        if let Some(disabled) = disabled.filter(|disabled| *disabled != before.disabled) {
            let kind = if disabled {
                AuditKind::UserDisabled
            } else {
                AuditKind::UserEnabled
            };
            entries.push(self.audit.entry(actor, kind, subject, json!({})));
        }
        if password_hash.is_some() {
            entries.push(
                self.audit
                    .entry(actor, AuditKind::UserPasswordReset, subject, json!({})),
            );
        }
        let because = if password_hash.is_some() {
            AuditKind::UserPasswordReset
        } else {
            AuditKind::UserDisabled
        };
        let revoked_entry = self.audit.entry(
            actor,
            AuditKind::TokenRevoked,
            None,
            json!({ "user": username, "because": because.as_str() }),
        );
        let end_access = disabled == Some(true) || password_hash.is_some();
        let change = UserChange {
            role,
            disabled,
            password_hash,
        };
        let update = UserUpdate {
            change: &change,
            entries: &entries,
            end_access: end_access.then_some(&revoked_entry),
        };
        let (after, ended) = self
            .store
            .update_user(username, &update, self.clock.now_ms())
            .await?
            .ok_or_else(|| AuthError::NoSuchUser(username.to_owned()))?;
        if end_access {
            tracing::info!(
                user = username,
                sessions = ended.sessions,
                tokens = ended.tokens,
                "the user's sessions ended and API tokens revoked"
            );
        }
        Ok(after)
    }

    /// Changes the principal's own password after checking the current one; ends their other
    /// sessions (the one asking stays signed in).
    pub async fn change_own_password(
        &self,
        principal: &Principal,
        current: &str,
        new: &str,
        address: Option<String>,
    ) -> Result<(), AuthError> {
        password::check_strength(new)?;
        let user = self
            .store
            .user_by_name(&principal.username)
            .await?
            .ok_or_else(|| AuthError::NoSuchUser(principal.username.clone()))?;
        if user.external_id.is_some() {
            return Err(AuthError::ExternalAccount(user.username));
        }
        if !self.verify_password(current, Some(&user.password_hash)).await? {
            return Err(AuthError::WrongCurrentPassword);
        }
        let hash = self.argon2.hash(new).await?;
        let keep = match &principal.credential {
            Credential::Session { id_hash, .. } => Some(id_hash.as_str()),
            Credential::Token { .. } => None,
        };
        let entry = self.audit.entry(
            &principal.actor(address),
            AuditKind::PasswordChanged,
            Some(&user.username),
            json!({}),
        );
        self.store
            .change_own_password(&user.username, &hash, self.clock.now_ms(), keep, &entry)
            .await?
            .ok_or_else(|| AuthError::NoSuchUser(user.username.clone()))?;
        Ok(())
    }
}
