//! Single sign-on's rows: the sign-ins started at the identity provider and not yet back
//! (table `oidc_logins`), and the external accounts those sign-ins open sessions for
//! (`users.external_id`). The protocol itself is `auth/oidc/`.
//!
//! A pending sign-in holds nothing that finishes it: the digest of its `state` and the digest
//! of the browser's secret (the PKCE verifier and the nonce are derived from that secret, which
//! only the browser's cookie holds). It is taken once: the callback deletes it and reads it in
//! one statement, so two callbacks racing with one `state` cannot both go on.

use berth_core::access::Role;

use super::accounts::{insert_session_in, NewSessionRow, UserRecord, UserRow};
use super::audit::append_in;
use super::{NewAuditEntry, Store, StoreError};

/// A sign-in sent to the identity provider, as [`Store::insert_oidc_login`] records it.
#[derive(Debug, Clone, Copy)]
pub struct NewOidcLogin<'a> {
    pub state_hash: &'a str,
    pub browser_hash: &'a str,
    pub next: &'a str,
    /// Who asked (the client address the access layer gives), when known.
    pub client_address: Option<&'a str>,
    pub now: i64,
}

/// How many sign-ins may be pending: in all, and from one client address.
#[derive(Debug, Clone, Copy)]
pub struct PendingBounds {
    /// Pending sign-ins created before this are removed first.
    pub expired_before: i64,
    pub max_pending: i64,
    pub max_per_address: i64,
}

/// A pending sign-in as the callback takes it.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingOidcLogin {
    pub browser_hash: String,
    pub next: String,
    pub created_at: i64,
}

/// Who the identity provider says signed in, and what Berth makes of it.
#[derive(Debug, Clone, Copy)]
pub struct ExternalAccount<'a> {
    /// `ISSUER#SUB`: what links the sign-ins of one person.
    pub external_id: &'a str,
    /// The name a new account gets (an existing one keeps its own).
    pub username: &'a str,
    /// The role the claim maps to, now.
    pub role: Role,
}

/// The audit entries of an external sign-in that succeeds; the store appends those that apply
/// (the account's creation, its role change) with the login, in the session's transaction.
pub struct ExternalSignInEntries<'a> {
    /// Appended when the account is new.
    pub created: NewAuditEntry,
    /// Appended when the role differs from the account's (`from`, `to` filled in here).
    pub role_changed: NewAuditEntry,
    /// The login itself, made once the account is known (its id is the actor's).
    pub login: &'a (dyn Fn(&UserRecord) -> NewAuditEntry + Sync),
}

/// What came of an external sign-in.
#[derive(Debug, Clone, PartialEq)]
pub enum ExternalSignIn {
    /// The session is open, for this account (as it is now: its role is the claim's).
    SignedIn(UserRecord),
    /// The account is disabled: nothing was written.
    Disabled(UserRecord),
    /// A local account, or another subject's, has the username: nothing was written.
    UsernameTaken,
}

impl Store {
    /// Records a sign-in sent to the identity provider, unless `max_pending` are live already,
    /// or `max_per_address` from its client address (`false`: refused, nothing stored): one
    /// address's flood of starts fills its own share, not the table everyone signs in through.
    /// Pending sign-ins older than `expired_before` are removed first: the table holds only the
    /// last few minutes' redirects.
    pub async fn insert_oidc_login(
        &self,
        login: &NewOidcLogin<'_>,
        bounds: PendingBounds,
    ) -> Result<bool, StoreError> {
        let mut transaction = self.pool().begin().await?;
        sqlx::query("DELETE FROM oidc_logins WHERE created_at < $1")
            .bind(bounds.expired_before)
            .execute(&mut *transaction)
            .await?;
        let inserted = sqlx::query(
            "INSERT INTO oidc_logins (state_hash, browser_hash, next, client_address, created_at)
             SELECT $1, $2, $3, $4, $5
             WHERE (SELECT COUNT(*) FROM oidc_logins) < $6
               AND (SELECT COUNT(*) FROM oidc_logins WHERE client_address = $4) < $7",
        )
        .bind(login.state_hash)
        .bind(login.browser_hash)
        .bind(login.next)
        .bind(login.client_address)
        .bind(login.now)
        .bind(bounds.max_pending)
        .bind(bounds.max_per_address)
        .execute(&mut *transaction)
        .await?
        .rows_affected();
        transaction.commit().await?;
        Ok(inserted == 1)
    }

    /// Takes the pending sign-in of this `state` (deleted as it is read: once only).
    pub async fn take_oidc_login(&self, state_hash: &str) -> Result<Option<PendingOidcLogin>, StoreError> {
        let row: Option<(String, String, i64)> = sqlx::query_as(
            "DELETE FROM oidc_logins WHERE state_hash = $1 RETURNING browser_hash, next, created_at",
        )
        .bind(state_hash)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|(browser_hash, next, created_at)| PendingOidcLogin {
            browser_hash,
            next,
            created_at,
        }))
    }

    /// How many sign-ins are pending (for tests and the bound on them).
    pub async fn pending_oidc_logins(&self) -> Result<i64, StoreError> {
        let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM oidc_logins")
            .fetch_one(self.pool())
            .await?;
        Ok(count)
    }

    /// Signs an external account in, in one transaction: the account is created on its first
    /// sign-in (no password), or found by its external id and given the role of the claim;
    /// then the session is opened and the entries appended. A disabled account, or a username
    /// another account has, writes nothing.
    pub async fn sign_in_external(
        &self,
        account: &ExternalAccount<'_>,
        session: &NewSessionRow<'_>,
        entries: &ExternalSignInEntries<'_>,
    ) -> Result<ExternalSignIn, StoreError> {
        let mut transaction = self.pool().begin().await?;
        // A write first (SQLite takes its write lock here, not halfway through): the account
        // as a new one; any unique name or id already there makes it a no-op.
        let created: Option<UserRecord> = sqlx::query_as::<_, UserRow>(
            "INSERT INTO users (username, role, password_hash, created_at, password_changed_at, external_id)
             VALUES ($1, $2, '', $3, $4, $5)
             ON CONFLICT DO NOTHING
             RETURNING id, username, role, password_hash, disabled, created_at, external_id",
        )
        .bind(account.username)
        .bind(account.role.as_str())
        .bind(session.now)
        .bind(session.now)
        .bind(account.external_id)
        .fetch_optional(&mut *transaction)
        .await?
        .map(UserRecord::try_from)
        .transpose()?;
        let user = match created {
            Some(user) => {
                append_in(&mut transaction, &entries.created).await?;
                user
            }
            None => {
                let existing: Option<UserRecord> = sqlx::query_as::<_, UserRow>(
                    "SELECT id, username, role, password_hash, disabled, created_at, external_id
                     FROM users WHERE external_id = $1",
                )
                .bind(account.external_id)
                .fetch_optional(&mut *transaction)
                .await?
                .map(UserRecord::try_from)
                .transpose()?;
                let Some(mut user) = existing else {
                    return Ok(ExternalSignIn::UsernameTaken);
                };
                if user.disabled {
                    return Ok(ExternalSignIn::Disabled(user));
                }
                if user.role != account.role {
                    sqlx::query("UPDATE users SET role = $1 WHERE id = $2")
                        .bind(account.role.as_str())
                        .bind(user.id)
                        .execute(&mut *transaction)
                        .await?;
                    let mut entry = entries.role_changed.clone();
                    entry.subject = Some(user.username.clone());
                    entry.detail["from"] = user.role.as_str().into();
                    entry.detail["to"] = account.role.as_str().into();
                    append_in(&mut transaction, &entry).await?;
                    user.role = account.role;
                }
                user
            }
        };
        insert_session_in(&mut transaction, session, user.id).await?;
        append_in(&mut transaction, &(entries.login)(&user)).await?;
        transaction.commit().await?;
        Ok(ExternalSignIn::SignedIn(user))
    }

    /// A refused external sign-in (the claim maps to no role): the account's sessions end, if
    /// it has any (whoever lost their groups at the provider is out of Berth too), and
    /// `entry` is appended with `sessions_ended`; in one transaction.
    pub async fn refuse_external(&self, external_id: &str, entry: &NewAuditEntry) -> Result<u64, StoreError> {
        let mut transaction = self.pool().begin().await?;
        let ended = sqlx::query(
            "DELETE FROM sessions WHERE user_id IN (SELECT id FROM users WHERE external_id = $1)",
        )
        .bind(external_id)
        .execute(&mut *transaction)
        .await?
        .rows_affected();
        let mut entry = entry.clone();
        entry.detail["sessions_ended"] = ended.into();
        append_in(&mut transaction, &entry).await?;
        transaction.commit().await?;
        Ok(ended)
    }
}
