//! The sign-in limits' counters: per username and per client address, the attempts reserved in
//! the current window and the requests refused in it (table `login_limits`).
//!
//! A sign-in reserves its attempt before its password is verified, and the reservation is one
//! statement per key: an upsert whose update only happens while the key is below its limit
//! (or its window is over). Both databases run it atomically against concurrent sign-ins:
//! SQLite has one writer; PostgreSQL locks the conflicting row and evaluates the update's
//! condition on its newest version, so of N parallel attempts exactly as many as the limit
//! allows get a reservation (a count read first and written after would let all of them pass).
//! A failed sign-in keeps its reservation (it is the failure); a successful one gives it back
//! in the transaction that opens its session (`accounts.rs`).
//!
//! The window of a key opens at its first reservation and lasts `window_ms`; once it is over,
//! or when nothing is reserved any more, the next reservation opens a new one. So a key sees at
//! most `max_attempts` failures per window.
//!
//! Refused requests are counted, not written one by one: the audit log gets the refusal entry
//! a caller passes at a key's 1st, 10th, 100th, … refusal of a window, with the count.

use super::audit::append_in;
use super::{NewAuditEntry, Store, StoreError};

/// What sign-in attempts are counted against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptScope {
    Username,
    Address,
}

impl AttemptScope {
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptScope::Username => "username",
            AttemptScope::Address => "address",
        }
    }
}

/// One limit a sign-in attempt must be within.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptLimit<'a> {
    pub scope: AttemptScope,
    pub name: &'a str,
    /// Attempts (failures and sign-ins being verified) allowed per window.
    pub max_attempts: i64,
}

/// An attempt reserved on one key, to be given back if the sign-in succeeds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    pub scope: AttemptScope,
    pub name: String,
    /// The window it was reserved in: a reservation in a window that is over is void.
    pub window_start: i64,
}

/// What came of asking for an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Reserved on every key; the attempt may go ahead.
    Reserved(Vec<Reservation>),
    /// A key is at its limit: nothing is reserved. The earliest time (Unix ms) at which every
    /// exhausted key's window is over.
    Refused { until: i64 },
}

/// Whether the `refused`-th refusal of a window is written to the audit log: the 1st, 10th,
/// 100th, …, so an admin sees that a key is under attack and roughly how hard, in a handful of
/// entries however many requests arrive.
fn is_recorded(refused: i64) -> bool {
    let mut n = refused;
    while n >= 10 && n % 10 == 0 {
        n /= 10;
    }
    n == 1
}

impl Store {
    /// Reserves one attempt on every limit, or none: when any key is at its limit, the
    /// attempt is refused, counted on each exhausted key, and `refused_entry` appended (with
    /// `limit` and `refused` in its detail) for counts that [`is_recorded`], all in one
    /// transaction.
    pub async fn reserve_sign_in(
        &self,
        limits: &[AttemptLimit<'_>],
        now: i64,
        window_ms: i64,
        refused_entry: &NewAuditEntry,
    ) -> Result<Admission, StoreError> {
        let window_over = now - window_ms;
        let mut transaction = self.pool().begin().await?;
        let mut reserved = Vec::new();
        let mut exhausted = Vec::new();
        for limit in limits {
            // The first statement of the transaction writes (SQLite takes its write lock now
            // rather than failing on a later upgrade).
            let window: Option<(i64,)> = sqlx::query_as(
                "INSERT INTO login_limits (scope, name, window_start, attempts, refused)
                 VALUES ($1, $2, $3, 1, 0)
                 ON CONFLICT (scope, name) DO UPDATE SET
                     window_start = CASE WHEN login_limits.window_start <= $4 OR login_limits.attempts = 0
                                         THEN $5 ELSE login_limits.window_start END,
                     refused = CASE WHEN login_limits.window_start <= $6 OR login_limits.attempts = 0
                                    THEN 0 ELSE login_limits.refused END,
                     attempts = CASE WHEN login_limits.window_start <= $7 OR login_limits.attempts = 0
                                     THEN 1 ELSE login_limits.attempts + 1 END
                 WHERE login_limits.window_start <= $8 OR login_limits.attempts < $9
                 RETURNING window_start",
            )
            .bind(limit.scope.as_str())
            .bind(limit.name)
            .bind(now)
            .bind(window_over)
            .bind(now)
            .bind(window_over)
            .bind(window_over)
            .bind(window_over)
            .bind(limit.max_attempts)
            .fetch_optional(&mut *transaction)
            .await?;
            match window {
                Some((window_start,)) => reserved.push(Reservation {
                    scope: limit.scope,
                    name: limit.name.to_owned(),
                    window_start,
                }),
                None => exhausted.push(limit),
            }
        }
        if exhausted.is_empty() {
            transaction.commit().await?;
            return Ok(Admission::Reserved(reserved));
        }

        // Refused: what this transaction reserved on the other keys goes back, and the refusal
        // is counted on each exhausted key.
        for reservation in &reserved {
            release_in(&mut transaction, reservation).await?;
        }
        let mut until = now;
        for limit in exhausted {
            let (refused, window_start): (i64, i64) = sqlx::query_as(
                "UPDATE login_limits SET refused = refused + 1 WHERE scope = $1 AND name = $2
                 RETURNING refused, window_start",
            )
            .bind(limit.scope.as_str())
            .bind(limit.name)
            .fetch_one(&mut *transaction)
            .await?;
            until = until.max(window_start + window_ms);
            if is_recorded(refused) {
                let mut entry = refused_entry.clone();
                entry.detail["limit"] = limit.scope.as_str().into();
                entry.detail["refused"] = refused.into();
                append_in(&mut transaction, &entry).await?;
            }
        }
        transaction.commit().await?;
        Ok(Admission::Refused { until })
    }

    /// Gives reserved attempts back (a sign-in that was never verified).
    pub async fn release_sign_in(&self, reservations: &[Reservation]) -> Result<(), StoreError> {
        let mut transaction = self.pool().begin().await?;
        for reservation in reservations {
            release_in(&mut transaction, reservation).await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    /// Removes the counters of windows that ended before `before` (a new attempt would start
    /// afresh anyway; this keeps the table as small as the recent attempts).
    pub async fn prune_login_limits(&self, before: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM login_limits WHERE window_start < $1")
            .bind(before)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }

    /// The counters of one key: attempts reserved and requests refused in its window (for
    /// tests and diagnostics).
    pub async fn login_limit(
        &self,
        scope: AttemptScope,
        name: &str,
    ) -> Result<Option<(i64, i64)>, StoreError> {
        Ok(
            sqlx::query_as("SELECT attempts, refused FROM login_limits WHERE scope = $1 AND name = $2")
                .bind(scope.as_str())
                .bind(name)
                .fetch_optional(self.pool())
                .await?,
        )
    }
}

/// Gives one reserved attempt back, unless its window is over (then it counts for nothing).
pub(super) async fn release_in(
    connection: &mut sqlx::AnyConnection,
    reservation: &Reservation,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE login_limits SET attempts = attempts - 1
         WHERE scope = $1 AND name = $2 AND window_start = $3 AND attempts > 0",
    )
    .bind(reservation.scope.as_str())
    .bind(&reservation.name)
    .bind(reservation.window_start)
    .execute(&mut *connection)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::is_recorded;

    #[test]
    fn refusals_are_recorded_at_powers_of_ten() {
        let recorded: Vec<i64> = (0..=1000).filter(|n| is_recorded(*n)).collect();
        assert_eq!(recorded, [1, 10, 100, 1000]);
    }
}
