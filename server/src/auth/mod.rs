//! Accounts: who is asking, and the account operations (sign-in, sessions, API tokens, users).
//!
//! - `password.rs`: argon2id hashes, at most a few computed at once; `secret.rs`: random
//!   secrets and the digests the store keeps.
//! - `oidc/`: single sign-on with OpenID Connect (external accounts, no password).
//! - [`Auth`]: sessions with idle and absolute expiry (here), sign-in with its limits and
//!   constant-time failure (`sign_in.rs`), users (`users.rs`), API tokens (`tokens.rs`).
//!   Every change is audited in the store transaction that makes it.
//!
//! Which role may do what is `berth_core::access`; which route needs which action is
//! `http/access.rs`. This module only establishes identities.

pub mod oidc;
pub mod password;
pub mod secret;
mod sign_in;
mod tokens;
mod users;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use berth_core::access::Role;
use serde_json::json;

use crate::audit::{Actor, Audit, AuditKind};
use crate::clock::{millis, Clock};
use crate::db::{SessionRecord, Store, StoreError, UserRecord};

use password::Argon2Gate;
pub use password::PasswordError;

/// Session lifetimes, the sign-in limits and how cookies are sent.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthConfig {
    /// A session unused this long is over.
    pub idle_timeout: Duration,
    /// A session this old is over, however busy.
    pub max_age: Duration,
    /// Failed sign-ins allowed per username within `login_window`.
    pub failures_per_username: u32,
    /// Failed sign-ins allowed per client address within `login_window`.
    pub failures_per_address: u32,
    pub login_window: Duration,
    /// Argon2 computations (a sign-in's verification, a new password's hash) running at once.
    pub concurrent_verifications: usize,
    /// How long a computation waits for a free slot before the answer is "busy" (503).
    pub verification_wait: Duration,
    /// The public origin is HTTPS (Berth serves TLS, or a TLS proxy is in front,
    /// `--secure-cookies`): cookies are `Secure` with the `__Host-` name, and every response
    /// carries `Strict-Transport-Security`.
    pub secure_cookies: bool,
}

impl Default for AuthConfig {
    fn default() -> AuthConfig {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        AuthConfig {
            idle_timeout: Duration::from_secs(8 * 3600),
            max_age: Duration::from_secs(7 * 24 * 3600),
            failures_per_username: 5,
            failures_per_address: 20,
            login_window: Duration::from_secs(15 * 60),
            // Two per core: the cores stay busy while a verification's thread is scheduled.
            concurrent_verifications: 2 * cores,
            verification_wait: Duration::from_secs(5),
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
    #[error("too many failed sign-ins; try again in {} minutes", .retry_after.as_secs().div_ceil(60).max(1))]
    RateLimited { retry_after: Duration },
    /// Too many passwords are being verified at once; nothing was tried or counted.
    #[error("the server is busy; try again in a few seconds")]
    Busy { retry_after: Duration },
    /// A sign-in with a name no account can have (the name is not repeated: it may be huge).
    #[error("a username has 1 to 64 letters, digits, `.`, `_` or `-`")]
    UnusableUsername,
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
    #[error("`{user}` has no token {id}")]
    NoSuchTokenOf { user: String, id: i64 },
    #[error("a token needs a name of 1 to 100 characters")]
    InvalidTokenName,
    #[error("{0}")]
    Refused(String),
    /// A password for an account of the identity provider, which has none in Berth.
    #[error("`{0}` signs in with single sign-on: it has no password in Berth")]
    ExternalAccount(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<password::Busy> for AuthError {
    fn from(_: password::Busy) -> AuthError {
        AuthError::Busy {
            retry_after: BUSY_RETRY_AFTER,
        }
    }
}

/// When a client turned away as busy may try again.
const BUSY_RETRY_AFTER: Duration = Duration::from_secs(5);

/// The account service; cheap to clone.
#[derive(Clone)]
pub struct Auth {
    store: Store,
    audit: Audit,
    clock: Clock,
    config: Arc<AuthConfig>,
    argon2: Arc<Argon2Gate>,
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
            argon2: Arc::new(Argon2Gate::new(
                config.concurrent_verifications,
                config.verification_wait,
            )),
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

    /// How many passwords this service has verified (each sign-in admitted by the limits
    /// verifies exactly one, whether the user exists or not).
    pub fn password_verifications(&self) -> u64 {
        self.verifications.load(Ordering::SeqCst)
    }

    /// Verifies a password against a stored hash (or the decoy), counted.
    async fn verify_password(&self, password: &str, phc: Option<&str>) -> Result<bool, AuthError> {
        let phc = phc.unwrap_or(&self.decoy_hash);
        let matches = self.argon2.verify(password, phc).await?;
        self.verifications.fetch_add(1, Ordering::SeqCst);
        Ok(matches)
    }

    /// The principal behind a session cookie, if the session is live. An expired session, or
    /// one of a disabled user, is deleted.
    pub async fn session(&self, cookie_value: &str) -> Result<Option<Principal>, StoreError> {
        let id_hash = secret::digest(cookie_value);
        let Some(session) = self.store.session(&id_hash).await? else {
            return Ok(None);
        };
        let now = self.clock.now_ms();
        if self.is_over(&session, now) {
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

    fn is_over(&self, session: &SessionRecord, now: i64) -> bool {
        let idle = now - session.last_seen_at >= millis(self.config.idle_timeout);
        let too_old = now - session.created_at >= millis(self.config.max_age);
        idle || too_old || session.user.disabled
    }

    /// The principal behind an API token, if it is unrevoked and its user enabled.
    pub async fn token(&self, token: &str) -> Result<Option<Principal>, StoreError> {
        let now = self.clock.now_ms();
        let Some((id, user)) = self.store.use_token(&secret::digest(token), now).await? else {
            return Ok(None);
        };
        Ok((!user.disabled).then(|| Principal::from_user(&user, Credential::Token { id })))
    }

    /// The principal as the store has it now, if its credential still holds: the session is
    /// live (not signed out, expired or its user disabled), or the token unrevoked and its user
    /// enabled. With the user's current role. For requests that outlive a moment (event
    /// streams); it neither touches the session nor records a token's use.
    pub async fn current(&self, principal: &Principal) -> Result<Option<Principal>, StoreError> {
        let user = match &principal.credential {
            Credential::Session { id_hash, .. } => match self.store.session(id_hash).await? {
                Some(session) if !self.is_over(&session, self.clock.now_ms()) => Some(session.user),
                _ => None,
            },
            Credential::Token { id } => self.store.token_holder(*id).await?.filter(|user| !user.disabled),
        };
        Ok(user
            .filter(|user| user.id == principal.user_id)
            .map(|user| Principal::from_user(&user, principal.credential.clone())))
    }

    /// Ends the principal's session on the server (a token has no session to end).
    pub async fn sign_out(&self, principal: &Principal, address: Option<String>) -> Result<(), StoreError> {
        if let Credential::Session { id_hash, .. } = &principal.credential {
            let entry = self.audit.entry(
                &principal.actor(address),
                AuditKind::Logout,
                Some(&principal.username),
                json!({}),
            );
            self.store.end_session(id_hash, &entry).await?;
        }
        Ok(())
    }

    /// Removes sessions past either expiry and sign-in counters of windows that are over
    /// (both are refused or restarted anyway); how many of each.
    pub async fn prune(&self) -> Result<(u64, u64), StoreError> {
        let now = self.clock.now_ms();
        let sessions = self
            .store
            .delete_expired_sessions(
                now - millis(self.config.idle_timeout),
                now - millis(self.config.max_age),
            )
            .await?;
        let counters = self
            .store
            .prune_login_limits(now - millis(self.config.login_window))
            .await?;
        Ok((sessions, counters))
    }
}
