//! The executor's rollout step: setting a scriptlet revision on the cluster. Fresh state first
//! (the cluster's scriptlet must still be the one the review saw), the cluster's scriptlet kept
//! as a revision of the same scriptlet and committed with the step as running, then
//! `PATCH /1.0` with `instances.placement.scriptlet`, and the result read back. Incus validates
//! the scriptlet when it is set: its refusal is recorded verbatim.
//!
//! After a crash a running step is settled from the cluster: set already, or set again (setting
//! a config key twice does no harm, and nothing else was done in between).

use serde_json::json;

use super::{incus_message, Executor, RunEnd};
use crate::audit::AuditKind;
use crate::db::PlanRolloutRow;
use crate::error::AppError;
use crate::incus::IncusClient;
use crate::services::plans;
use crate::services::rollouts::{changes_since, live_scriptlet};

/// The server config key of the placement scriptlet.
const SCRIPTLET_KEY: &str = "instances.placement.scriptlet";

impl Executor {
    pub(super) async fn run_rollout(
        &self,
        id: i64,
        connection: &str,
        rollout: &PlanRolloutRow,
    ) -> Result<RunEnd, AppError> {
        let store = self.auth.store();
        let (fresh, client) = plans::fresh_state(&self.auth, connection).await?;
        let failed = match rollout.state.as_str() {
            "pending" => {
                if let Some(reason) = changes_since(rollout, &fresh) {
                    return self.supersede(id, &reason).await;
                }
                let previous = live_scriptlet(&fresh);
                let kept = store
                    .insert_revision(
                        rollout.scriptlet_id,
                        &previous,
                        &format!("the cluster's scriptlet on {connection} before plan {id}"),
                        "berth",
                        self.now(),
                    )
                    .await?
                    .ok_or_else(|| {
                        AppError::NotFound(format!("there is no scriptlet {}", rollout.scriptlet_id))
                    })?;
                if !store.start_rollout(id, &previous, kept, self.now()).await? {
                    // Someone else moved the step on: read it again.
                    return Ok(RunEnd::HeldElsewhere);
                }
                self.record(
                    id,
                    AuditKind::RolloutStarted,
                    json!({ "scriptlet": rollout.scriptlet_id, "revision": rollout.revision, "previous_revision": kept }),
                )
                .await?;
                !self.set_scriptlet(id, &client, rollout).await?
            }
            "running" => {
                let already = live_scriptlet(&fresh) == rollout.source;
                if already {
                    self.settle_rollout(id, rollout, Ok(())).await?
                } else {
                    !self.set_scriptlet(id, &client, rollout).await?
                }
            }
            state => state == "failed",
        };
        self.finish(id, &[], failed).await
    }

    /// `PATCH /1.0` and the result read back; whether it succeeded.
    async fn set_scriptlet(
        &self,
        id: i64,
        client: &IncusClient,
        rollout: &PlanRolloutRow,
    ) -> Result<bool, AppError> {
        let body = json!({ "config": { SCRIPTLET_KEY: rollout.source } });
        let result = match client.patch("/1.0", &body).await {
            Err(error) => Err(incus_message(error)),
            Ok(()) => match client.get::<serde_json::Value>("/1.0").await {
                Err(error) => Err(incus_message(error)),
                Ok(server) if server["config"][SCRIPTLET_KEY].as_str().unwrap_or("") == rollout.source => {
                    Ok(())
                }
                Ok(_) => Err(format!(
                    "the cluster accepted the change, but its {SCRIPTLET_KEY} is not the revision's text"
                )),
            },
        };
        self.settle_rollout(id, rollout, result)
            .await
            .map(|failed| !failed)
    }

    /// Records how the step ended; whether it failed.
    async fn settle_rollout(
        &self,
        id: i64,
        rollout: &PlanRolloutRow,
        result: Result<(), String>,
    ) -> Result<bool, AppError> {
        let (state, error) = match &result {
            Ok(()) => ("succeeded", None),
            Err(error) => ("failed", Some(error.as_str())),
        };
        if self
            .auth
            .store()
            .finish_rollout(id, state, error, self.now())
            .await?
        {
            let (kind, detail) = match error {
                None => (
                    AuditKind::RolloutSucceeded,
                    json!({ "revision": rollout.revision }),
                ),
                Some(error) => (
                    AuditKind::RolloutFailed,
                    json!({ "revision": rollout.revision, "error": error }),
                ),
            };
            self.record(id, kind, detail).await?;
        }
        Ok(result.is_err())
    }
}
