//! Users, sessions and API tokens. Secrets never reach this module in the clear except a
//! password hash (argon2id) and a session's CSRF token; session ids and API tokens arrive
//! as their SHA-256 (`auth::secret`).
//!
//! Every change made for someone takes its audit entry and appends it in the change's own
//! transaction (`audit::append_in`): a change is never without its entry, and a change that did
//! not happen (a taken name, a token already revoked) writes none. Where the entry is about a
//! row the change creates or finds (a token's id or name, how many sessions ended), the method
//! fills that in.

use berth_core::access::Role;

use super::audit::append_in;
use super::login_limits::{release_in, Reservation};
use super::{NewAuditEntry, Store, StoreError};

/// A user as the store has it (with the password hash: only `auth` reads that).
#[derive(Debug, Clone, PartialEq)]
pub struct UserRecord {
    pub id: i64,
    pub username: String,
    pub role: Role,
    pub password_hash: String,
    pub disabled: bool,
    pub created_at: i64,
    /// An account of the identity provider (`ISSUER#SUB`, `auth/oidc/`): no password, signs
    /// in only there. `None` for a local account.
    pub external_id: Option<String>,
}

/// A live session with its user, as one lookup returns it.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRecord {
    pub user: UserRecord,
    pub csrf_token: String,
    pub created_at: i64,
    pub last_seen_at: i64,
}

/// An API token's listing (never its value or hash).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct TokenRecord {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

#[derive(sqlx::FromRow)]
pub(super) struct UserRow {
    id: i64,
    username: String,
    role: String,
    password_hash: String,
    /// 0 or 1 (an integer on both databases: one SQL text serves both).
    disabled: i64,
    created_at: i64,
    external_id: Option<String>,
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    #[sqlx(flatten)]
    user: UserRow,
    csrf_token: String,
    session_created_at: i64,
    last_seen_at: i64,
}

impl TryFrom<UserRow> for UserRecord {
    type Error = StoreError;

    fn try_from(row: UserRow) -> Result<UserRecord, StoreError> {
        // The table's CHECK constraint admits only known roles; a failure here is corruption.
        let role = row
            .role
            .parse()
            .map_err(|error: berth_core::access::UnknownRole| {
                StoreError::Corrupt(format!("user {}: {error}", row.username))
            })?;
        Ok(UserRecord {
            id: row.id,
            username: row.username,
            role,
            password_hash: row.password_hash,
            disabled: row.disabled != 0,
            created_at: row.created_at,
            external_id: row.external_id,
        })
    }
}

/// The columns `UserRow` reads, as a literal for `concat!` (queries stay static strings).
macro_rules! user_columns {
    () => {
        "id, username, role, password_hash, disabled, created_at, external_id"
    };
}

/// The columns `TokenRecord` reads.
macro_rules! token_columns {
    () => {
        "id, user_id, name, created_at, last_used_at"
    };
}

/// What may change on a user (`None`: unchanged).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserChange {
    pub role: Option<Role>,
    pub disabled: Option<bool>,
    pub password_hash: Option<String>,
}

/// An admin's change of a user, with what records it.
#[derive(Debug, Clone, Copy)]
pub struct UserUpdate<'a> {
    pub change: &'a UserChange,
    /// One entry per thing changed.
    pub entries: &'a [NewAuditEntry],
    /// End every session of the user and revoke every API token (the user is disabled, or an
    /// admin set their password), appending this entry once per token revoked, with the
    /// token's name as its subject and `token_id` in its detail.
    pub end_access: Option<&'a NewAuditEntry>,
}

/// What an admin's change ended besides.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EndedAccess {
    pub sessions: u64,
    pub tokens: u64,
}

/// A session to open: the digest of its id (the cookie holds the id), whose it is, its CSRF
/// token, and where it was opened from.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSessionRow<'a> {
    pub id_hash: &'a str,
    pub user_id: i64,
    pub csrf_token: &'a str,
    pub now: i64,
    pub address: Option<&'a str>,
}

impl Store {
    /// Adds a user and appends `audit`; `Ok(None)` (and no entry) when the name is taken.
    pub async fn insert_user(
        &self,
        username: &str,
        role: Role,
        password_hash: &str,
        now: i64,
        audit: &NewAuditEntry,
    ) -> Result<Option<UserRecord>, StoreError> {
        let mut transaction = self.pool().begin().await?;
        let row: Option<UserRow> = sqlx::query_as(concat!(
            "INSERT INTO users (username, role, password_hash, created_at, password_changed_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (username) DO NOTHING
             RETURNING ",
            user_columns!(),
            ""
        ))
        .bind(username)
        .bind(role.as_str())
        .bind(password_hash)
        .bind(now)
        .bind(now)
        .fetch_optional(&mut *transaction)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        append_in(&mut transaction, audit).await?;
        transaction.commit().await?;
        Ok(Some(UserRecord::try_from(row)?))
    }

    pub async fn user_by_name(&self, username: &str) -> Result<Option<UserRecord>, StoreError> {
        let row: Option<UserRow> = sqlx::query_as(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE username = $1"
        ))
        .bind(username)
        .fetch_optional(self.pool())
        .await?;
        row.map(UserRecord::try_from).transpose()
    }

    /// Every user, by name.
    pub async fn list_users(&self) -> Result<Vec<UserRecord>, StoreError> {
        let rows: Vec<UserRow> = sqlx::query_as(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users ORDER BY username"
        ))
        .fetch_all(self.pool())
        .await?;
        rows.into_iter().map(UserRecord::try_from).collect()
    }

    /// How many enabled admins there are (`berth serve` refuses to start without one; the last
    /// one cannot be demoted or disabled).
    pub async fn enabled_admins(&self) -> Result<i64, StoreError> {
        let (count,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled = 0")
                .fetch_one(self.pool())
                .await?;
        Ok(count)
    }

    /// Applies an admin's change to a user with its entries, and ends the user's access if
    /// asked, in one transaction; `Ok(None)` (nothing written) when there is no such user.
    pub async fn update_user(
        &self,
        username: &str,
        update: &UserUpdate<'_>,
        now: i64,
    ) -> Result<Option<(UserRecord, EndedAccess)>, StoreError> {
        let mut transaction = self.pool().begin().await?;
        let Some(user) = update_user_in(&mut transaction, username, update.change, now).await? else {
            return Ok(None);
        };
        let mut ended = EndedAccess::default();
        if let Some(revoked_entry) = update.end_access {
            ended.sessions = delete_sessions_in(&mut transaction, user.id, None).await?;
            let revoked: Vec<TokenRecord> = sqlx::query_as(concat!(
                "UPDATE api_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL
                 RETURNING ",
                token_columns!(),
                ""
            ))
            .bind(now)
            .bind(user.id)
            .fetch_all(&mut *transaction)
            .await?;
            for token in &revoked {
                append_in(&mut transaction, &about_token(revoked_entry, token)).await?;
            }
            ended.tokens = revoked.len() as u64;
        }
        for entry in update.entries {
            append_in(&mut transaction, entry).await?;
        }
        transaction.commit().await?;
        Ok(Some((user, ended)))
    }

    /// A user's new password, set by the user: their other sessions end (all but `keep`, the
    /// one asking), and `audit` is appended with `sessions_ended` in its detail. Their API
    /// tokens stay: they are the user's own, and the user knows the password changed.
    pub async fn change_own_password(
        &self,
        username: &str,
        password_hash: &str,
        now: i64,
        keep: Option<&str>,
        audit: &NewAuditEntry,
    ) -> Result<Option<u64>, StoreError> {
        let change = UserChange {
            password_hash: Some(password_hash.to_owned()),
            ..UserChange::default()
        };
        let mut transaction = self.pool().begin().await?;
        let Some(user) = update_user_in(&mut transaction, username, &change, now).await? else {
            return Ok(None);
        };
        let ended = delete_sessions_in(&mut transaction, user.id, keep).await?;
        let mut entry = audit.clone();
        entry.detail["sessions_ended"] = ended.into();
        append_in(&mut transaction, &entry).await?;
        transaction.commit().await?;
        Ok(Some(ended))
    }

    /// Opens a session after a successful sign-in: the sign-in's reserved attempts go back
    /// (a success is not a failure), the session is stored and `audit` appended, at once.
    pub async fn open_session(
        &self,
        reservations: &[Reservation],
        session: &NewSessionRow<'_>,
        audit: &NewAuditEntry,
    ) -> Result<(), StoreError> {
        let mut transaction = self.pool().begin().await?;
        insert_session_in(&mut transaction, session, session.user_id).await?;
        for reservation in reservations {
            release_in(&mut transaction, reservation).await?;
        }
        append_in(&mut transaction, audit).await?;
        transaction.commit().await?;
        Ok(())
    }

    /// The session with this id hash and its user, whatever their state: the caller decides
    /// about expiry and disabled users.
    pub async fn session(&self, id_hash: &str) -> Result<Option<SessionRecord>, StoreError> {
        let row: Option<SessionRow> = sqlx::query_as(
            "SELECT u.id, u.username, u.role, u.password_hash, u.disabled, u.created_at, u.external_id,
                    s.csrf_token, s.created_at AS session_created_at, s.last_seen_at
             FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.id_hash = $1",
        )
        .bind(id_hash)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        Ok(Some(SessionRecord {
            user: UserRecord::try_from(row.user)?,
            csrf_token: row.csrf_token,
            created_at: row.session_created_at,
            last_seen_at: row.last_seen_at,
        }))
    }

    pub async fn touch_session(&self, id_hash: &str, now: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id_hash = $2")
            .bind(now)
            .bind(id_hash)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Removes a session that is over (expired, or its user disabled): nobody ended it, so
    /// there is nothing to audit. Whether it existed.
    pub async fn delete_session(&self, id_hash: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Ends a session at its user's request (sign-out) and appends `audit`; whether it existed
    /// (no entry when it did not).
    pub async fn end_session(&self, id_hash: &str, audit: &NewAuditEntry) -> Result<bool, StoreError> {
        let mut transaction = self.pool().begin().await?;
        let done = sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(&mut *transaction)
            .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        append_in(&mut transaction, audit).await?;
        transaction.commit().await?;
        Ok(true)
    }

    /// Sessions past either expiry, removed (they are refused anyway; this keeps the table small).
    pub async fn delete_expired_sessions(
        &self,
        idle_before: i64,
        created_before: i64,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM sessions WHERE last_seen_at < $1 OR created_at < $2")
            .bind(idle_before)
            .bind(created_before)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }

    /// Stores a new API token and appends `audit` with the token's id in its detail.
    pub async fn insert_token(
        &self,
        user_id: i64,
        name: &str,
        token_hash: &str,
        now: i64,
        audit: &NewAuditEntry,
    ) -> Result<TokenRecord, StoreError> {
        let mut transaction = self.pool().begin().await?;
        let record: TokenRecord = sqlx::query_as(concat!(
            "INSERT INTO api_tokens (user_id, name, token_hash, created_at) VALUES ($1, $2, $3, $4)
             RETURNING ",
            token_columns!(),
            ""
        ))
        .bind(user_id)
        .bind(name)
        .bind(token_hash)
        .bind(now)
        .fetch_one(&mut *transaction)
        .await?;
        let mut entry = audit.clone();
        entry.detail["token_id"] = record.id.into();
        append_in(&mut transaction, &entry).await?;
        transaction.commit().await?;
        Ok(record)
    }

    /// The user behind an unrevoked token, and the token's id; records its use.
    pub async fn use_token(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<(i64, UserRecord)>, StoreError> {
        let token: Option<(i64, i64)> = sqlx::query_as(
            "UPDATE api_tokens SET last_used_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL
             RETURNING id, user_id",
        )
        .bind(now)
        .bind(token_hash)
        .fetch_optional(self.pool())
        .await?;
        let Some((token_id, user_id)) = token else {
            return Ok(None);
        };
        let row: Option<UserRow> =
            sqlx::query_as(concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1"))
                .bind(user_id)
                .fetch_optional(self.pool())
                .await?;
        Ok(row
            .map(UserRecord::try_from)
            .transpose()?
            .map(|user| (token_id, user)))
    }

    /// The user of a token by its id, while the token is unrevoked (whatever the user's state):
    /// what a long-lived request checks again now and then. Records no use.
    pub async fn token_holder(&self, token_id: i64) -> Result<Option<UserRecord>, StoreError> {
        let row: Option<UserRow> = sqlx::query_as(
            "SELECT u.id, u.username, u.role, u.password_hash, u.disabled, u.created_at, u.external_id
             FROM api_tokens t JOIN users u ON u.id = t.user_id
             WHERE t.id = $1 AND t.revoked_at IS NULL",
        )
        .bind(token_id)
        .fetch_optional(self.pool())
        .await?;
        row.map(UserRecord::try_from).transpose()
    }

    /// A user's unrevoked tokens, newest first.
    pub async fn list_tokens(&self, user_id: i64) -> Result<Vec<TokenRecord>, StoreError> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            token_columns!(),
            " FROM api_tokens WHERE user_id = $1 AND revoked_at IS NULL ORDER BY created_at DESC, id DESC"
        ))
        .bind(user_id)
        .fetch_all(self.pool())
        .await?)
    }

    /// Every user's unrevoked tokens, newest first (the admins' Users page).
    pub async fn list_all_tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            token_columns!(),
            " FROM api_tokens WHERE revoked_at IS NULL ORDER BY created_at DESC, id DESC"
        ))
        .fetch_all(self.pool())
        .await?)
    }

    /// Revokes a user's token and appends `audit` with the token's name as its subject and its
    /// id in its detail; the revoked token's record, or `None` (and no entry) when the user has
    /// no such unrevoked token.
    pub async fn revoke_token(
        &self,
        user_id: i64,
        token_id: i64,
        now: i64,
        audit: &NewAuditEntry,
    ) -> Result<Option<TokenRecord>, StoreError> {
        let mut transaction = self.pool().begin().await?;
        let record: Option<TokenRecord> = sqlx::query_as(concat!(
            "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL
             RETURNING ",
            token_columns!(),
            ""
        ))
        .bind(now)
        .bind(token_id)
        .bind(user_id)
        .fetch_optional(&mut *transaction)
        .await?;
        let Some(record) = record else {
            return Ok(None);
        };
        append_in(&mut transaction, &about_token(audit, &record)).await?;
        transaction.commit().await?;
        Ok(Some(record))
    }
}

/// `entry`, about `token`: its name as the subject, its id in the detail.
fn about_token(entry: &NewAuditEntry, token: &TokenRecord) -> NewAuditEntry {
    let mut entry = entry.clone();
    entry.subject = Some(token.name.clone());
    entry.detail["token_id"] = token.id.into();
    entry
}

/// Applies `change` to the user named `username`; the user as changed, or `None`. A new
/// password hash records when it changed.
async fn update_user_in(
    connection: &mut sqlx::AnyConnection,
    username: &str,
    change: &UserChange,
    now: i64,
) -> Result<Option<UserRecord>, StoreError> {
    let row: Option<UserRow> = sqlx::query_as(concat!(
        "UPDATE users SET
             role = COALESCE($1, role),
             disabled = COALESCE($2, disabled),
             password_hash = COALESCE($3, password_hash),
             password_changed_at = CASE WHEN $4 IS NULL THEN password_changed_at ELSE $5 END
         WHERE username = $6
         RETURNING ",
        user_columns!(),
        ""
    ))
    .bind(change.role.map(Role::as_str))
    .bind(change.disabled.map(i64::from))
    .bind(change.password_hash.as_deref())
    .bind(change.password_hash.as_deref())
    .bind(now)
    .bind(username)
    .fetch_optional(&mut *connection)
    .await?;
    row.map(UserRecord::try_from).transpose()
}

/// Opens `session` for `user_id` (the row's own `user_id` is 0 for an account a single sign-on
/// creates in the same transaction).
pub(super) async fn insert_session_in(
    connection: &mut sqlx::AnyConnection,
    session: &NewSessionRow<'_>,
    user_id: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, last_seen_at, address)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(session.id_hash)
    .bind(user_id)
    .bind(session.csrf_token)
    .bind(session.now)
    .bind(session.now)
    .bind(session.address)
    .execute(&mut *connection)
    .await?;
    Ok(())
}

/// Ends every session of a user except `keep`; how many ended.
async fn delete_sessions_in(
    connection: &mut sqlx::AnyConnection,
    user_id: i64,
    keep: Option<&str>,
) -> Result<u64, StoreError> {
    let done = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id_hash IS DISTINCT FROM $2")
        .bind(user_id)
        .bind(keep)
        .execute(&mut *connection)
        .await?;
    Ok(done.rows_affected())
}
