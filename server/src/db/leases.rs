//! Leases: at most one replica at a time holds a named piece of work (`plan:42`), for as long as
//! it keeps renewing. Acquisition, renewal and release are single statements, so two replicas
//! racing on one database cannot both win; `generation` grows with each new holder, so a holder
//! whose lease was taken over sees its renewal refused and stops.

use super::{Store, StoreError};

/// A held lease: what to present when renewing or releasing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseGrant {
    pub generation: i64,
    pub expires_at: i64,
}

impl Store {
    /// Takes the lease `name` for `holder` until `now + ttl_ms`, if it is free, expired, or
    /// already this holder's. `None`: another holder has it.
    pub async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: i64,
        ttl_ms: i64,
    ) -> Result<Option<LeaseGrant>, StoreError> {
        let granted: Option<(i64, i64)> = sqlx::query_as(
            "INSERT INTO leases (name, holder, generation, acquired_at, expires_at)
             VALUES ($1, $2, 1, $3, $4)
             ON CONFLICT (name) DO UPDATE SET
                 generation = CASE WHEN leases.holder = $2 THEN leases.generation
                                   ELSE leases.generation + 1 END,
                 acquired_at = CASE WHEN leases.holder = $2 THEN leases.acquired_at ELSE $3 END,
                 holder = $2,
                 expires_at = $4
             WHERE leases.holder = $2 OR leases.expires_at <= $3
             RETURNING generation, expires_at",
        )
        .bind(name)
        .bind(holder)
        .bind(now)
        .bind(now + ttl_ms)
        .fetch_optional(self.pool())
        .await?;
        Ok(granted.map(|(generation, expires_at)| LeaseGrant {
            generation,
            expires_at,
        }))
    }

    /// Extends a held lease; `false` when it is no longer this holder's (expired and taken, or
    /// released): the holder must stop the work.
    pub async fn renew_lease(
        &self,
        name: &str,
        holder: &str,
        generation: i64,
        now: i64,
        ttl_ms: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE leases SET expires_at = $1
             WHERE name = $2 AND holder = $3 AND generation = $4 AND expires_at > $5",
        )
        .bind(now + ttl_ms)
        .bind(name)
        .bind(holder)
        .bind(generation)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Gives a held lease up (the work is done); `false` when it was not this holder's. The row
    /// stays, expired, so the next holder's generation still grows.
    pub async fn release_lease(&self, name: &str, holder: &str, generation: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE leases SET expires_at = 0 WHERE name = $1 AND holder = $2 AND generation = $3",
        )
        .bind(name)
        .bind(holder)
        .bind(generation)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
