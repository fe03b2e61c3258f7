//! Accounts: who is asking, and the account operations (sign-in, sessions, API tokens, users).
//!
//! - `password.rs`: argon2id hashes; `secret.rs`: random secrets and the digests the store keeps.
//! - [`Auth`]: sign-in with its rate limit and constant-time failure, sessions with idle and
//!   absolute expiry, API tokens, user management. Every change is audited here, in the
//!   operation that makes it.
//!
//! Which role may do what is `berth_core::access`; which route needs which action is
//! `http/access.rs`. This module only establishes identities.

pub mod password;
pub mod secret;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use berth_core::access::Role;
use serde_json::json;

use crate::audit::{Actor, Audit, AuditKind};
use crate::clock::{millis, Clock};
use crate::db::{Store, StoreError, TokenRecord, UserChange, UserRecord};

pub use password::PasswordError;

/// Session lifetimes and the login rate limit.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthConfig {
    /// A session unused this long is over.
    pub idle_timeout: Duration,
    /// A session this old is over, however busy.
    pub max_age: Duration,
    /// Failed logins allowed per username within `login_window`.
    pub failures_per_username: u32,
    /// Failed logins allowed per client address within `login_window`.
    pub failures_per_address: u32,
    pub login_window: Duration,
    /// Cookies get `Secure` (Berth is served over TLS).
    pub secure_cookies: bool,
}

impl Default for AuthConfig {
    fn default() -> AuthConfig {
        AuthConfig {
            idle_timeout: Duration::from_secs(8 * 3600),
            max_age: Duration::from_secs(7 * 24 * 3600),
            failures_per_username: 5,
            failures_per_address: 20,
            login_window: Duration::from_secs(15 * 60),
            secure_cookies: false,
        }
    }
}

/// A session's last use is written at most this often: every request reads the session, and
/// writing on each would serialise readers behind SQLite's one writer.
const TOUCH_INTERVAL_MS: i64 = 60_000;

/// Who is asking: a user, signed in with a session cookie or presenting an API token.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    pub user_id: i64,
    pub username: String,
    pub role: Role,
    pub credential: Credential,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Credential {
    /// A browser session; writes must carry its CSRF token.
    Session { id_hash: String, csrf_token: String },
    /// `Authorization: Bearer …`; no CSRF token needed (a browser never sends it on its own).
    Token { id: i64 },
}

impl Principal {
    fn from_user(user: &UserRecord, credential: Credential) -> Principal {
        Principal {
            user_id: user.id,
            username: user.username.clone(),
            role: user.role,
            credential,
        }
    }

    pub fn csrf_token(&self) -> Option<&str> {
        match &self.credential {
            Credential::Session { csrf_token, .. } => Some(csrf_token),
            Credential::Token { .. } => None,
        }
    }

    pub fn actor(&self, address: Option<String>) -> Actor {
        Actor {
            user: Some((self.user_id, self.username.clone())),
            address,
            command_line: false,
        }
    }
}

/// A new session: the cookie's value (the only place the session id exists in the clear).
#[derive(Debug)]
pub struct NewSession {
    pub cookie_value: String,
    pub principal: Principal,
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Unknown user, wrong password or disabled account: one answer for all three.
    #[error("wrong username or password")]
    BadCredentials,
    #[error("too many failed sign-ins; try again in {} minutes", .retry_after.as_secs().div_ceil(60))]
    RateLimited { retry_after: Duration },
    #[error("the current password is wrong")]
    WrongCurrentPassword,
    #[error(transparent)]
    WeakPassword(#[from] PasswordError),
    #[error("invalid username `{0}`: use 1 to 64 letters, digits, `.`, `_` or `-`, starting with a letter or digit")]
    InvalidUsername(String),
    #[error("a user named `{0}` exists already")]
    UserExists(String),
    #[error("there is no user `{0}`")]
    NoSuchUser(String),
    #[error("there is no token {0} of yours")]
    NoSuchToken(i64),
    #[error("a token needs a name of 1 to 100 characters")]
    InvalidTokenName,
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The account service; cheap to clone.
#[derive(Clone)]
pub struct Auth {
    store: Store,
    audit: Audit,
    clock: Clock,
    config: Arc<AuthConfig>,
    /// A real hash of a random password, verified against when the user does not exist, so
    /// that an unknown name costs what a wrong password costs.
    decoy_hash: Arc<str>,
    verifications: Arc<AtomicU64>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Auth {
    pub fn new(store: Store, clock: Clock, config: AuthConfig) -> Auth {
        let decoy_hash = password::hash_blocking(&secret::random_secret());
        Auth {
            audit: Audit::new(store.clone(), clock.clone()),
            store,
            clock,
            config: Arc::new(config),
            decoy_hash: decoy_hash.into(),
            verifications: Arc::new(AtomicU64::new(0)),
        }
    }

    pub fn config(&self) -> &AuthConfig {
        &self.config
    }

    /// The audit log every write outside accounts is recorded in too.
    pub fn audit(&self) -> &Audit {
        &self.audit
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// How many passwords this service has verified (each sign-in verifies exactly one,
    /// whether the user exists or not).
    pub fn password_verifications(&self) -> u64 {
        self.verifications.load(Ordering::SeqCst)
    }

    /// Signs a user in. Failures are audited and counted toward the rate limit; the answer and
    /// the work done are the same for an unknown user, a wrong password and a disabled account.
    pub async fn sign_in(
        &self,
        username: &str,
        password: &str,
        address: Option<&str>,
    ) -> Result<NewSession, AuthError> {
        let now = self.clock.now_ms();
        let anonymous = Actor {
            address: address.map(str::to_owned),
            ..Actor::default()
        };
        let since = now - millis(self.config.login_window);
        let (by_name, by_address) = self
            .store
            .count_recent(AuditKind::LoginFailed.as_str(), username, address, since)
            .await?;
        if by_name >= i64::from(self.config.failures_per_username)
            || by_address >= i64::from(self.config.failures_per_address)
        {
            tracing::warn!(user = username, address, "sign-in refused: too many failures");
            self.audit
                .record(&anonymous, AuditKind::LoginRateLimited, Some(username), json!({}))
                .await?;
            return Err(AuthError::RateLimited {
                retry_after: self.config.login_window,
            });
        }

        let user = self.store.user_by_name(username).await?;
        let stored_hash = user
            .as_ref()
            .map_or(&*self.decoy_hash, |user| user.password_hash.as_str());
        self.verifications.fetch_add(1, Ordering::SeqCst);
        let matches = password::verify(password, stored_hash).await;
        let user = match user {
            Some(user) if matches && !user.disabled => user,
            _ => {
                tracing::info!(user = username, address, "sign-in failed");
                self.audit
                    .record(&anonymous, AuditKind::LoginFailed, Some(username), json!({}))
                    .await?;
                return Err(AuthError::BadCredentials);
            }
        };

        let cookie_value = secret::random_secret();
        let id_hash = secret::digest(&cookie_value);
        let csrf_token = secret::random_secret();
        self.store
            .insert_session(&id_hash, user.id, &csrf_token, now, address)
            .await?;
        let principal = Principal::from_user(&user, Credential::Session { id_hash, csrf_token });
        tracing::info!(user = user.username, role = %user.role, address, "signed in");
        self.audit
            .record(
                &principal.actor(address.map(str::to_owned)),
                AuditKind::Login,
                Some(&user.username),
                json!({}),
            )
            .await?;
        Ok(NewSession {
            cookie_value,
            principal,
        })
    }

    /// The principal behind a session cookie, if the session is live. An expired session, or
    /// one of a disabled user, is deleted.
    pub async fn session(&self, cookie_value: &str) -> Result<Option<Principal>, StoreError> {
        let id_hash = secret::digest(cookie_value);
        let Some(session) = self.store.session(&id_hash).await? else {
            return Ok(None);
        };
        let now = self.clock.now_ms();
        let idle = now - session.last_seen_at >= millis(self.config.idle_timeout);
        let too_old = now - session.created_at >= millis(self.config.max_age);
        if idle || too_old || session.user.disabled {
            self.store.delete_session(&id_hash).await?;
            return Ok(None);
        }
        if now - session.last_seen_at >= TOUCH_INTERVAL_MS {
            self.store.touch_session(&id_hash, now).await?;
        }
        Ok(Some(Principal::from_user(
            &session.user,
            Credential::Session {
                id_hash,
                csrf_token: session.csrf_token,
            },
        )))
    }

    /// The principal behind an API token, if it is unrevoked and its user enabled.
    pub async fn token(&self, token: &str) -> Result<Option<Principal>, StoreError> {
        let now = self.clock.now_ms();
        let Some((id, user)) = self.store.use_token(&secret::digest(token), now).await? else {
            return Ok(None);
        };
        Ok((!user.disabled).then(|| Principal::from_user(&user, Credential::Token { id })))
    }

    /// Ends the principal's session on the server (a token has no session to end).
    pub async fn sign_out(&self, principal: &Principal, address: Option<String>) -> Result<(), StoreError> {
        if let Credential::Session { id_hash, .. } = &principal.credential {
            self.store.delete_session(id_hash).await?;
            self.audit
                .record(
                    &principal.actor(address),
                    AuditKind::Logout,
                    Some(&principal.username),
                    json!({}),
                )
                .await?;
        }
        Ok(())
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
        self.verifications.fetch_add(1, Ordering::SeqCst);
        if !password::verify(current, &user.password_hash).await {
            return Err(AuthError::WrongCurrentPassword);
        }
        let change = UserChange {
            password_hash: Some(password::hash(new).await),
            ..UserChange::default()
        };
        self.store
            .update_user(&user.username, &change, self.clock.now_ms())
            .await?;
        let keep = match &principal.credential {
            Credential::Session { id_hash, .. } => Some(id_hash.as_str()),
            Credential::Token { .. } => None,
        };
        let ended = self.store.delete_sessions_of(user.id, keep).await?;
        self.audit
            .record(
                &principal.actor(address),
                AuditKind::PasswordChanged,
                Some(&user.username),
                json!({ "sessions_ended": ended }),
            )
            .await?;
        Ok(())
    }

    pub async fn add_user(
        &self,
        actor: &Actor,
        username: &str,
        role: Role,
        password: &str,
    ) -> Result<UserRecord, AuthError> {
        check_username(username)?;
        password::check_strength(password)?;
        let hash = password::hash(password).await;
        let user = self
            .store
            .insert_user(username, role, &hash, self.clock.now_ms())
            .await?
            .ok_or_else(|| AuthError::UserExists(username.to_owned()))?;
        self.audit
            .record(
                actor,
                AuditKind::UserCreated,
                Some(username),
                json!({ "role": role }),
            )
            .await?;
        Ok(user)
    }

    pub async fn list_users(&self) -> Result<Vec<UserRecord>, StoreError> {
        self.store.list_users().await
    }

    /// Applies an admin's change to a user: role, disabled, or a new password. Disabling a
    /// user or resetting their password ends all their sessions. The last enabled admin
    /// cannot be demoted or disabled: nobody could manage users any more.
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
                Some(password::hash(new_password).await)
            }
            None => None,
        };
        let change = UserChange {
            role,
            disabled,
            password_hash,
        };
        let after = self
            .store
            .update_user(username, &change, self.clock.now_ms())
            .await?
            .ok_or_else(|| AuthError::NoSuchUser(username.to_owned()))?;
        if after.disabled || new_password.is_some() {
            self.store.delete_sessions_of(after.id, None).await?;
        }
        let subject = Some(username);
        if before.role != after.role {
            let detail = json!({ "from": before.role, "to": after.role });
            self.audit
                .record(actor, AuditKind::UserRoleChanged, subject, detail)
                .await?;
        }
        if before.disabled != after.disabled {
            let kind = if after.disabled {
                AuditKind::UserDisabled
            } else {
                AuditKind::UserEnabled
            };
            self.audit.record(actor, kind, subject, json!({})).await?;
        }
        if new_password.is_some() {
            self.audit
                .record(actor, AuditKind::UserPasswordReset, subject, json!({}))
                .await?;
        }
        Ok(after)
    }

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
        let record = self
            .store
            .insert_token(
                principal.user_id,
                name,
                &secret::digest(&value),
                self.clock.now_ms(),
            )
            .await?;
        self.audit
            .record(
                &principal.actor(address),
                AuditKind::TokenCreated,
                Some(name),
                json!({ "token_id": record.id }),
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
        let record = self
            .store
            .revoke_token(principal.user_id, token_id, self.clock.now_ms())
            .await?
            .ok_or(AuthError::NoSuchToken(token_id))?;
        self.audit
            .record(
                &principal.actor(address),
                AuditKind::TokenRevoked,
                Some(&record.name),
                json!({ "token_id": record.id }),
            )
            .await?;
        Ok(())
    }

    /// Removes sessions past either expiry (they are refused anyway).
    pub async fn prune_sessions(&self) -> Result<u64, StoreError> {
        let now = self.clock.now_ms();
        self.store
            .delete_expired_sessions(
                now - millis(self.config.idle_timeout),
                now - millis(self.config.max_age),
            )
            .await
    }
}

fn check_username(username: &str) -> Result<(), AuthError> {
    let valid = (1..=64).contains(&username.len())
        && username.starts_with(|c: char| c.is_ascii_alphanumeric())
        && username
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if valid {
        Ok(())
    } else {
        Err(AuthError::InvalidUsername(username.to_owned()))
    }
}
