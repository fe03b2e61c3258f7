//! The moves of an executing plan, one after the other, each as the corrected cross-project
//! move: fresh state, the preview re-checked for what is left of the plan, one placement
//! decision on fresh data (in a sandbox worker), the move committed as running with that
//! decision, the Incus requests with their operations recorded before Berth waits on them, and
//! the result verified on the cluster.

use std::sync::atomic::{AtomicBool, Ordering};

use berth_core::engine::IncusVersion;
use berth_core::model::MemberStatus;
use berth_core::plan::preview::PlanPreview;
use berth_core::plan::{MoveEvent, MoveState, PlanState, PlannedMove};
use berth_core::simulate::BehaviourProfile;
use berth_core::Snapshot;
use serde_json::json;

use super::{Executor, RunEnd, Stop};
use crate::audit::AuditKind;
use crate::db::{PlanMoveRow, StateChange};
use crate::error::AppError;
use crate::incus::{api_path, instance_path, IncusClient, IncusError};
use crate::plans::{advance_move, assess, blocked_reason, changes_since, fresh_state, MoveStamp, MoveStep};

/// One wait on an Incus operation; waits repeat while it runs.
const OPERATION_WAIT_S: u64 = 30;

/// A move starts only while its plan still executes (not after a cancel).
const STILL_EXECUTING: StateChange<'static> = StateChange {
    from: "executing",
    to: "executing",
    version: None,
    new_version: false,
    superseded: None,
};

impl Executor {
    /// Runs the plan's steps until it ends, leaves `executing`, stops on an error or this
    /// holder loses the lease.
    pub(super) async fn run_plan(&self, id: i64, lost: &AtomicBool) -> Result<RunEnd, AppError> {
        loop {
            if lost.load(Ordering::SeqCst) {
                return Ok(RunEnd::LeaseLost);
            }
            let Some(plan) = self.executing(id).await? else {
                return Ok(RunEnd::Done);
            };
            debug_assert_eq!(plan.state, PlanState::Executing);
            let Some(connection) = plan.connection().map(str::to_owned) else {
                return self
                    .supersede(id, "the plan has no connection to execute on")
                    .await;
            };
            if let Some(rollout) = &plan.rollout {
                return self.run_rollout(id, &connection, rollout).await;
            }
            let preview = plan
                .preview()
                .ok_or_else(|| AppError::BadRequest("the plan has no preview".into()))?;
            let stop_on_failure = plan.row.stop_on_failure != 0;
            let failed = plan.moves.iter().any(|m| m.state == "failed");
            let next = plan
                .moves
                .iter()
                .position(|m| m.state == "pending" || m.state == "running");
            let Some(index) = next.filter(|_| !(failed && stop_on_failure)) else {
                return self.finish(id, &plan.moves, failed).await;
            };
            let outcome = if plan.moves[index].state == "running" {
                self.resume(id, &connection, &plan.moves[index]).await
            } else {
                self.execute_move(&plan, &connection, index, &preview).await
            };
            match outcome {
                Ok(()) => {}
                Err(Stop::Superseded(reason)) => return self.supersede(id, &reason).await,
                Err(Stop::Error(error)) => return Err(error),
            }
        }
    }

    /// Skips a pending move with the reason (unless it is no longer pending, or the plan no
    /// longer executes).
    pub(super) async fn skip(&self, id: i64, row: &PlanMoveRow, reason: &str) -> Result<(), AppError> {
        let step = MoveStep {
            position: row.position,
            from: MoveState::Pending,
            event: MoveEvent::Skip {
                reason: reason.to_owned(),
            },
            stamp: MoveStamp::default(),
        };
        let instance = format!("{}/{}", row.project, row.name);
        let detail = json!({ "move": row.position, "instance": instance, "reason": reason });
        if self
            .advance_while_executing(id, step, AuditKind::MoveSkipped, detail)
            .await?
        {
            super::count_move("skipped");
        }
        Ok(())
    }

    /// A move's step, taken only while its plan still executes (not after a cancel); `false`
    /// when the move or the plan was no longer as read.
    async fn advance_while_executing(
        &self,
        id: i64,
        step: MoveStep<'_>,
        kind: AuditKind,
        detail: serde_json::Value,
    ) -> Result<bool, AppError> {
        let entry = self.entry(id, kind, detail);
        advance_move(
            self.auth.store(),
            id,
            step,
            Some(STILL_EXECUTING),
            None,
            self.now(),
            &entry,
        )
        .await
    }

    /// One pending move, from fresh state to verified result.
    async fn execute_move(
        &self,
        plan: &crate::plans::LoadedPlan,
        connection: &str,
        index: usize,
        preview: &PlanPreview,
    ) -> Result<(), Stop> {
        let id = plan.id();
        let position = index as i64 + 1;
        let planned = plan.planned();
        let this = &planned[index];
        let instance = this.instance();
        let previewed = preview
            .moves
            .get(index)
            .ok_or_else(|| Stop::Superseded(format!("move {position} has no preview")))?;
        if let Some(reason) = blocked_reason(previewed) {
            let reason = format!("blocked in the preview: {reason}");
            self.skip(id, &plan.moves[index], &reason).await?;
            return Ok(());
        }
        // 1. Fresh state, 2. the preview still holds for what is left of the plan.
        let (fresh, client) = fresh_state(&self.auth, connection).await?;
        let changes = changes_since(plan, preview, &fresh, index);
        if !changes.is_empty() {
            return Err(Stop::Superseded(changes.join("; ")));
        }
        // 3. One decision, on fresh data, as previewed.
        let decided = assess(&self.sandbox, &fresh, Some(&client), std::slice::from_ref(this)).await?;
        let now = &decided.moves[0];
        let expected = previewed
            .decision
            .as_ref()
            .map(|d| d.member.clone())
            .unwrap_or_default();
        let member = now.decision.as_ref().map(|d| d.member.clone());
        if member.as_deref() != Some(expected.as_str()) {
            // The approved member went down since: not a change of plan but a failure of the
            // cluster, which Incus reports itself when asked (and refuses without side effects).
            let down = fresh
                .member(&expected)
                .is_some_and(|m| m.status != MemberStatus::Online);
            if !down {
                return Err(Stop::Superseded(match blocked_reason(now) {
                    Some(reason) => format!("move {position} is blocked now: {reason}"),
                    None => format!(
                        "move {position}: the placement decision changed from {expected} to {}",
                        member.unwrap_or_default()
                    ),
                }));
            }
            tracing::warn!(plan = id, member = %expected, "the decided member is down; Incus answers the move");
        }
        let member = expected;
        let current = now.from_member.clone().unwrap_or_default();
        let step = MoveStep {
            position,
            from: MoveState::Pending,
            event: MoveEvent::Start,
            stamp: MoveStamp {
                decision: Some(&member),
                started_at: Some(self.now()),
                finished_at: None,
            },
        };
        let detail = json!({ "move": position, "instance": instance, "target_project": this.target_project,
                             "from": current, "member": member });
        let started = self
            .advance_while_executing(id, step, AuditKind::MoveStarted, detail)
            .await?;
        if !started {
            return Ok(());
        }
        // 4. The Incus calls, 5. the result checked on the cluster.
        let result = match self
            .issue(id, position, &client, &fresh, this, &current, &member)
            .await
        {
            Ok(()) => verify(&client, this, &member).await,
            Err(error) => Err(error),
        };
        self.settle(id, position, &instance, result).await
    }

    /// The Incus requests of the corrected move: one `POST` on 6.x (with `target` only when
    /// the member changes: the same member as target is refused); on 7.x a member change first,
    /// then the project move, as Incus 7 no longer does both at once.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn issue(
        &self,
        id: i64,
        position: i64,
        client: &IncusClient,
        fresh: &Snapshot,
        planned: &PlannedMove,
        current: &str,
        member: &str,
    ) -> Result<(), String> {
        let version: IncusVersion = fresh.incus_version().parse().unwrap_or_default();
        let path = |target: Option<&str>| {
            let mut query = vec![("project", planned.project.as_str())];
            query.extend(target.map(|target| ("target", target)));
            api_path(&["instances", &planned.name], &query)
        };
        let changes_member = member != current;
        let mut steps = Vec::new();
        if changes_member && BehaviourProfile::of(version) == BehaviourProfile::P4 {
            steps.push((
                path(Some(member)),
                json!({ "name": planned.name, "migration": true, "live": false }),
            ));
            steps.push((
                path(None),
                json!({ "name": planned.name, "migration": true, "live": false, "project": planned.target_project }),
            ));
        } else {
            steps.push((
                path(changes_member.then_some(member)),
                json!({ "name": planned.name, "migration": true, "live": false, "project": planned.target_project }),
            ));
        }
        for (path, body) in steps {
            let operation = client.post_async(&path, &body).await.map_err(incus_message)?;
            self.auth
                .store()
                .set_plan_move_operation(id, position, &operation)
                .await
                .map_err(|error| format!("cannot record Incus's operation {operation}: {error}"))?;
            wait(client, &operation).await?;
        }
        Ok(())
    }

    /// Records how a running move ended (whatever became of the plan meanwhile: the move ran).
    pub(super) async fn settle(
        &self,
        id: i64,
        position: i64,
        instance: &str,
        result: Result<(), String>,
    ) -> Result<(), Stop> {
        let outcome = if result.is_ok() { "succeeded" } else { "failed" };
        let (event, kind, detail) = match result {
            Ok(()) => (
                MoveEvent::Succeed,
                AuditKind::MoveSucceeded,
                json!({ "move": position, "instance": instance }),
            ),
            Err(error) => (
                MoveEvent::Fail { error: error.clone() },
                AuditKind::MoveFailed,
                json!({ "move": position, "instance": instance, "error": error }),
            ),
        };
        let step = MoveStep {
            position,
            from: MoveState::Running,
            event,
            stamp: MoveStamp {
                finished_at: Some(self.now()),
                ..MoveStamp::default()
            },
        };
        let entry = self.entry(id, kind, detail);
        if advance_move(self.auth.store(), id, step, None, None, self.now(), &entry).await? {
            super::count_move(outcome);
        }
        Ok(())
    }
}

/// Incus's own words for a refusal; the transport's for anything else.
pub(super) fn incus_message(error: IncusError) -> String {
    match error {
        IncusError::Api { message, .. } => message,
        other => other.to_string(),
    }
}

/// Waits until the operation ends; its error, verbatim, when it did not succeed.
pub(super) async fn wait(client: &IncusClient, operation: &str) -> Result<(), String> {
    let status = client
        .wait_until_done(operation, OPERATION_WAIT_S)
        .await
        .map_err(incus_message)?;
    match status.status.as_str() {
        "Success" => Ok(()),
        other if status.err.is_empty() => Err(format!("operation {other}")),
        _ => Err(status.err),
    }
}

/// Where `project/name` is, or `None` when Incus has no such instance.
pub(super) async fn location(
    client: &IncusClient,
    project: &str,
    name: &str,
) -> Result<Option<String>, IncusError> {
    #[derive(serde::Deserialize)]
    struct Located {
        location: String,
    }
    match client.get::<Located>(&instance_path(name, project)).await {
        Ok(found) => Ok(Some(found.location)),
        Err(IncusError::Api { status: 404, .. }) => Ok(None),
        Err(error) => Err(error),
    }
}

/// The instance exists exactly once, in the target project, on the chosen member.
pub(super) async fn verify(client: &IncusClient, planned: &PlannedMove, member: &str) -> Result<(), String> {
    let instance = planned.instance();
    let in_target = location(client, &planned.target_project, &planned.name)
        .await
        .map_err(incus_message)?;
    let in_source = location(client, &planned.project, &planned.name)
        .await
        .map_err(incus_message)?;
    match (in_source, in_target) {
        (None, Some(on)) if on == member => Ok(()),
        (None, Some(on)) => Err(format!(
            "{} is in project {} but on {on}, not on {member} as decided",
            planned.name, planned.target_project
        )),
        (Some(_), Some(_)) => Err(format!(
            "half-done: {} exists in both {} and {}; nothing was deleted, a human must decide which to keep",
            planned.name, planned.project, planned.target_project
        )),
        (Some(_), None) => Err(format!(
            "{instance} did not move: it is still in project {}",
            planned.project
        )),
        (None, None) => Err(format!(
            "{instance} is in neither project {} nor {}: a human must look",
            planned.project, planned.target_project
        )),
    }
}
