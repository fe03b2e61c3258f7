//! Signing in under load: a name no account can have is refused first (before anything is
//! stored or logged); then one attempt is reserved atomically in the store against both limits
//! (per username, per client address; `db/login_limits.rs`), before the password is verified;
//! then the verification waits for a free argon2 slot (`password.rs`); a success opens the
//! session and gives the reservation back in one transaction, a failure keeps it.
//!
//! Why in this order: reserving first means that parallel attempts cannot all pass a count read
//! beforehand, and that a refused request costs one small write, never a hash. It also bounds
//! what one client can put in the queue for argon2: its address's limit (20 attempts per
//! window, waiting or failed). Someone flooding from one address is refused with 429 after 20
//! and never reaches the queue, so the admin signing in from another address waits behind at
//! most those; a flood from many addresses is bounded only by how many addresses it has, and
//! the queue turns its excess away after a short wait (503) without counting it. The limit per
//! username is what it always was: five failures lock that name for the window, from anywhere.

use serde_json::json;

use super::{secret, Actor, Auth, AuthError, Credential, NewSession, Principal};
use crate::audit::AuditKind;
use crate::clock::millis;
use crate::db::{Admission, AttemptLimit, AttemptScope, NewSessionRow, Reservation};

/// The longest username any account can have (`users.rs` refuses longer ones).
pub(super) const MAX_USERNAME_BYTES: usize = 64;

/// Whether `username` is one an account can have: 1 to 64 bytes of ASCII letters, digits, `.`,
/// `_` or `-`, starting with a letter or digit.
pub(super) fn is_valid_username(username: &str) -> bool {
    (1..=MAX_USERNAME_BYTES).contains(&username.len())
        && username.starts_with(|c: char| c.is_ascii_alphanumeric())
        && username
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

impl Auth {
    /// Signs a user in. The answer and the work done are the same for an unknown user, a wrong
    /// password and a disabled account; failures are audited and count toward the limits,
    /// refusals by the limits are counted (`db/login_limits.rs`).
    pub async fn sign_in(
        &self,
        username: &str,
        password: &str,
        address: Option<&str>,
    ) -> Result<NewSession, AuthError> {
        let signed_in = self.try_sign_in(username, password, address).await;
        let refused = match &signed_in {
            Err(AuthError::BadCredentials) => Some("bad_credentials"),
            Err(AuthError::RateLimited { .. }) => Some("rate_limited"),
            Err(AuthError::Busy { .. }) => Some("busy"),
            Err(AuthError::UnusableUsername) => Some("unusable_username"),
            // The store failed: an error of the server's, not a refusal.
            _ => None,
        };
        if let Some(reason) = refused {
            crate::metrics::metrics()
                .login_failures
                .with_label_values(&[reason])
                .inc();
        }
        signed_in
    }

    /// [`Auth::sign_in`], uncounted.
    async fn try_sign_in(
        &self,
        username: &str,
        password: &str,
        address: Option<&str>,
    ) -> Result<NewSession, AuthError> {
        // Before anything else: such a name is never stored, logged or looked up.
        if !is_valid_username(username) {
            return Err(AuthError::UnusableUsername);
        }
        let reservations = self.reserve_attempt(username, address).await?;
        // From here the attempt runs to its end even if the client goes away: its reservation
        // is given back (success, busy) or stays with its failure audited.
        let auth = self.clone();
        let (username, password, address) = (
            username.to_owned(),
            password.to_owned(),
            address.map(str::to_owned),
        );
        tokio::spawn(async move {
            auth.verify_attempt(&username, &password, address.as_deref(), reservations)
                .await
        })
        .await
        .expect("a sign-in does not panic")
    }

    async fn reserve_attempt(
        &self,
        username: &str,
        address: Option<&str>,
    ) -> Result<Vec<Reservation>, AuthError> {
        let mut limits = vec![AttemptLimit {
            scope: AttemptScope::Username,
            name: username,
            max_attempts: i64::from(self.config.failures_per_username),
        }];
        if let Some(address) = address {
            limits.push(AttemptLimit {
                scope: AttemptScope::Address,
                name: address,
                max_attempts: i64::from(self.config.failures_per_address),
            });
        }
        let anonymous = Actor {
            address: address.map(str::to_owned),
            ..Actor::default()
        };
        let refused_entry =
            self.audit
                .entry(&anonymous, AuditKind::LoginRateLimited, Some(username), json!({}));
        let now = self.clock.now_ms();
        let window = millis(self.config.login_window);
        match self
            .store
            .reserve_sign_in(&limits, now, window, &refused_entry)
            .await?
        {
            Admission::Reserved(reservations) => Ok(reservations),
            Admission::Refused { until } => {
                tracing::debug!(user = username, address, "sign-in refused: too many failures");
                Err(AuthError::RateLimited {
                    retry_after: std::time::Duration::from_millis(
                        u64::try_from(until - now).unwrap_or(0).max(1000),
                    ),
                })
            }
        }
    }

    async fn verify_attempt(
        &self,
        username: &str,
        password: &str,
        address: Option<&str>,
        reservations: Vec<Reservation>,
    ) -> Result<NewSession, AuthError> {
        let user = self.store.user_by_name(username).await?;
        let matches = match self
            .verify_password(
                password,
                // An external account has no password: the decoy, as for an unknown name.
                user.as_ref()
                    .filter(|user| user.external_id.is_none())
                    .map(|user| user.password_hash.as_str()),
            )
            .await
        {
            Ok(matches) => matches,
            Err(busy) => {
                // Nothing was tried: the attempt does not count.
                self.store.release_sign_in(&reservations).await?;
                tracing::warn!(user = username, address, "sign-in turned away: argon2 is busy");
                return Err(busy);
            }
        };
        let user = match user {
            Some(user) if matches && !user.disabled && user.external_id.is_none() => user,
            _ => {
                tracing::info!(user = username, address, "sign-in failed");
                let anonymous = Actor {
                    address: address.map(str::to_owned),
                    ..Actor::default()
                };
                self.audit
                    .record(&anonymous, AuditKind::LoginFailed, Some(username), json!({}))
                    .await?;
                return Err(AuthError::BadCredentials);
            }
        };

        let cookie_value = secret::random_secret();
        let id_hash = secret::digest(&cookie_value);
        let csrf_token = secret::random_secret();
        let principal = Principal::from_user(
            &user,
            Credential::Session {
                id_hash: id_hash.clone(),
                csrf_token: csrf_token.clone(),
            },
        );
        let entry = self.audit.entry(
            &principal.actor(address.map(str::to_owned)),
            AuditKind::Login,
            Some(&user.username),
            json!({}),
        );
        let session = NewSessionRow {
            id_hash: &id_hash,
            user_id: user.id,
            csrf_token: &csrf_token,
            now: self.clock.now_ms(),
            address,
        };
        self.store.open_session(&reservations, &session, &entry).await?;
        tracing::info!(user = user.username, role = %user.role, address, "signed in");
        Ok(NewSession {
            cookie_value,
            principal,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::is_valid_username;

    #[test]
    fn only_names_an_account_can_have_are_tried() {
        for good in ["admin", "a", "alice.b_c-d", "9lives", &"x".repeat(64)] {
            assert!(is_valid_username(good), "{good}");
        }
        for bad in [
            "",
            &"x".repeat(65),
            ".hidden",
            "-dash",
            "no spaces",
            "new\nline",
            "ünï",
            "tab\there",
        ] {
            assert!(!is_valid_username(bad), "{bad:?}");
        }
    }
}
