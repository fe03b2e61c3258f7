//! The executor's rollout step: setting a scriptlet revision on the cluster. Fresh state first
//! (the cluster's scriptlet must still be the one the review saw), the cluster's scriptlet kept
//! as a revision of the same scriptlet and committed with the step as running (one
//! transaction), then `PATCH /1.0` with `instances.placement.scriptlet`, and the result read
//! back. Incus validates the scriptlet when it is set: its refusal is recorded verbatim.
//!
//! After a crash a running step is settled from the cluster: set already, or set again (setting
//! a config key twice does no harm, and nothing else was done in between).

use berth_core::plan::{MoveEvent, MoveState};
use serde_json::json;

use super::moves::incus_message;
use super::{Executor, RunEnd};
use crate::audit::AuditKind;
use crate::db::{PlanRolloutRow, RolloutStart};
use crate::error::AppError;
use crate::incus::IncusClient;
use crate::plans::{fresh_state, live_scriptlet, rollout_changes_since};

/// The server config key of the placement scriptlet.
const SCRIPTLET_KEY: &str = "instances.placement.scriptlet";

impl Executor {
    pub(super) async fn run_rollout(
        &self,
        id: i64,
        connection: &str,
        rollout: &PlanRolloutRow,
    ) -> Result<RunEnd, AppError> {
        let (fresh, client) = fresh_state(&self.auth, connection).await?;
        let failed = match rollout.state.as_str() {
            "pending" => {
                if let Some(reason) = rollout_changes_since(rollout, &fresh) {
                    return self.supersede(id, &reason).await;
                }
                let previous = live_scriptlet(&fresh);
                let kept_as = (
                    format!("the cluster's scriptlet on {connection} before plan {id}"),
                    "berth",
                );
                let entry = |kept: i64| {
                    self.entry(
                        id,
                        AuditKind::RolloutStarted,
                        json!({ "scriptlet": rollout.scriptlet_id, "revision": rollout.revision, "previous_revision": kept }),
                    )
                };
                MoveState::Pending
                    .next(MoveEvent::Start)
                    .expect("a pending step starts");
                let start = self
                    .auth
                    .store()
                    .start_rollout(id, &previous, (&kept_as.0, kept_as.1), self.now(), entry)
                    .await?;
                if start == RolloutStart::Lost {
                    // Someone else moved the step or the plan on: read it again.
                    return Ok(RunEnd::HeldElsewhere);
                }
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
        // The step's life is a move's: running → succeeded | failed, by the same table.
        let event = match &result {
            Ok(()) => MoveEvent::Succeed,
            Err(error) => MoveEvent::Fail { error: error.clone() },
        };
        let state = MoveState::Running
            .next(event)
            .expect("a running step succeeds or fails")
            .name();
        let error = result.as_ref().err().map(String::as_str);
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
        self.auth
            .store()
            .finish_rollout(id, state, error, self.now(), &self.entry(id, kind, detail))
            .await?;
        Ok(result.is_err())
    }
}
