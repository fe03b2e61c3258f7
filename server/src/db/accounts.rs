//! Users, sessions and API tokens. Secrets never reach this module in the clear except a
//! password hash (argon2id) and a session's CSRF token; session ids and API tokens arrive
//! as their SHA-256 (`auth::secret`).

use berth_core::access::Role;

use super::{Store, StoreError};

/// A user as the store has it (with the password hash: only `auth` reads that).
#[derive(Debug, Clone, PartialEq)]
pub struct UserRecord {
    pub id: i64,
    pub username: String,
    pub role: Role,
    pub password_hash: String,
    pub disabled: bool,
    pub created_at: i64,
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
struct UserRow {
    id: i64,
    username: String,
    role: String,
    password_hash: String,
    /// 0 or 1 (an integer on both databases: one SQL text serves both).
    disabled: i64,
    created_at: i64,
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
        })
    }
}

/// The columns `UserRow` reads, as a literal for `concat!` (queries stay static strings).
macro_rules! user_columns {
    () => {
        "id, username, role, password_hash, disabled, created_at"
    };
}

/// What may change on a user (`None`: unchanged).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserChange {
    pub role: Option<Role>,
    pub disabled: Option<bool>,
    pub password_hash: Option<String>,
}

impl Store {
    /// Adds a user; `Ok(None)` when the name is taken.
    pub async fn insert_user(
        &self,
        username: &str,
        role: Role,
        password_hash: &str,
        now: i64,
    ) -> Result<Option<UserRecord>, StoreError> {
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
        .fetch_optional(self.pool())
        .await?;
        row.map(UserRecord::try_from).transpose()
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

    /// Applies a change to a user; `Ok(None)` when there is no such user. A new password
    /// hash records when it changed.
    pub async fn update_user(
        &self,
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
        .fetch_optional(self.pool())
        .await?;
        row.map(UserRecord::try_from).transpose()
    }

    pub async fn insert_session(
        &self,
        id_hash: &str,
        user_id: i64,
        csrf_token: &str,
        now: i64,
        address: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, last_seen_at, address)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id_hash)
        .bind(user_id)
        .bind(csrf_token)
        .bind(now)
        .bind(now)
        .bind(address)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The session with this id hash and its user, whatever their state: the caller decides
    /// about expiry and disabled users.
    pub async fn session(&self, id_hash: &str) -> Result<Option<SessionRecord>, StoreError> {
        let row: Option<SessionRow> = sqlx::query_as(
            "SELECT u.id, u.username, u.role, u.password_hash, u.disabled, u.created_at,
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

    /// Ends one session; whether it existed.
    pub async fn delete_session(&self, id_hash: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Ends every session of a user except `keep` (the one asking, when it is theirs).
    pub async fn delete_sessions_of(&self, user_id: i64, keep: Option<&str>) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id_hash IS DISTINCT FROM $2")
            .bind(user_id)
            .bind(keep)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
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

    pub async fn insert_token(
        &self,
        user_id: i64,
        name: &str,
        token_hash: &str,
        now: i64,
    ) -> Result<TokenRecord, StoreError> {
        Ok(sqlx::query_as(
            "INSERT INTO api_tokens (user_id, name, token_hash, created_at) VALUES ($1, $2, $3, $4)
             RETURNING id, user_id, name, created_at, last_used_at",
        )
        .bind(user_id)
        .bind(name)
        .bind(token_hash)
        .bind(now)
        .fetch_one(self.pool())
        .await?)
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

    /// A user's unrevoked tokens, newest first.
    pub async fn list_tokens(&self, user_id: i64) -> Result<Vec<TokenRecord>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT id, user_id, name, created_at, last_used_at FROM api_tokens
             WHERE user_id = $1 AND revoked_at IS NULL ORDER BY created_at DESC, id DESC",
        )
        .bind(user_id)
        .fetch_all(self.pool())
        .await?)
    }

    /// Revokes a user's token; the revoked token's record, or `None` when the user has no
    /// such unrevoked token.
    pub async fn revoke_token(
        &self,
        user_id: i64,
        token_id: i64,
        now: i64,
    ) -> Result<Option<TokenRecord>, StoreError> {
        Ok(sqlx::query_as(
            "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL
             RETURNING id, user_id, name, created_at, last_used_at",
        )
        .bind(now)
        .bind(token_id)
        .bind(user_id)
        .fetch_optional(self.pool())
        .await?)
    }
}
