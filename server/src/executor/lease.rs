//! Exactly one executor runs a plan: the holder of the lease `plan:ID` in the store, renewed by
//! a heartbeat and fenced by its generation. A holder that loses it (a pause longer than the
//! lease, the store away) stops before its next step; whoever takes the lease over resumes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::{Executor, RunEnd};
use crate::error::AppError;
use crate::plans::subject;

/// How long a lease lasts without renewal: a replica that dies is replaced within this.
const LEASE_TTL: Duration = Duration::from_secs(15);

impl Executor {
    /// Runs plan `id` under its lease, if this process gets it.
    pub(super) async fn run_leased(&self, id: i64) -> Result<RunEnd, AppError> {
        let store = self.auth.store();
        let lease = subject(id);
        let ttl = LEASE_TTL.as_millis() as i64;
        let Some(grant) = store.acquire_lease(&lease, &self.holder, self.now(), ttl).await? else {
            return Ok(RunEnd::HeldElsewhere);
        };
        tracing::info!(plan = id, holder = %self.holder, generation = grant.generation, "executing");
        let lost = Arc::new(AtomicBool::new(false));
        let heartbeat = {
            let (auth, holder, lost) = (self.auth.clone(), self.holder.clone(), lost.clone());
            let lease = lease.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(LEASE_TTL / 3).await;
                    let now = auth.clock().now_ms();
                    match auth
                        .store()
                        .renew_lease(&lease, &holder, grant.generation, now, ttl)
                        .await
                    {
                        Ok(true) => {}
                        Ok(false) => {
                            lost.store(true, Ordering::SeqCst);
                            return;
                        }
                        Err(error) => tracing::warn!(%error, "cannot renew the lease of {lease}"),
                    }
                }
            })
        };
        let outcome = self.run_plan(id, &lost).await;
        heartbeat.abort();
        if !lost.load(Ordering::SeqCst) {
            store
                .release_lease(&lease, &self.holder, grant.generation)
                .await?;
        }
        outcome
    }
}
