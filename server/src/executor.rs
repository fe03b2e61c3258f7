//! The plan executor: carries out an executing plan move by move on the real cluster, each as
//! Berth's corrected cross-project move (`product.md`): fresh state, the preview re-checked,
//! one placement decision for the target project among every eligible member, the Incus call,
//! the operation waited on and its status read, and the result verified on the cluster.
//!
//! Exactly one executor runs a plan: whoever holds the lease `plan:ID` in the store (a replica,
//! or `berth plan execute --wait`), renewed by a heartbeat; a holder that loses it stops before
//! its next step. Every step is committed before the next one: a move is marked running with
//! its decision before Incus is called, Incus's operation is recorded before Berth waits on it,
//! so after a crash the next holder tells from the cluster what happened ([`Executor::resume`])
//! and never issues a move twice. Nothing is ever deleted: a half-done move (the instance in
//! both projects) is reported for a human.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use berth_core::engine::IncusVersion;
use berth_core::model::MemberStatus;
use berth_core::plan::preview::{self, PlanPreview};
use berth_core::plan::{MoveEvent, MoveState, PlanEvent, PlanState, PlannedMove};
use berth_core::simulate::BehaviourProfile;
use berth_core::Snapshot;
use serde_json::json;

use crate::audit::{Actor, AuditKind};
use crate::auth::Auth;
use crate::db::PlanMoveRow;
use crate::error::AppError;
use crate::incus::{IncusClient, IncusError, OperationStatus};
use crate::sandbox::Sandbox;
use crate::services::plans::{self, subject, MoveStamp};

mod rollout;

/// How long a lease lasts without renewal: a replica that dies is replaced within this.
const LEASE_TTL: Duration = Duration::from_secs(15);
/// How often `berth serve` looks for executing plans nobody runs (after a restart, or when
/// another replica died).
const POLL_EVERY: Duration = Duration::from_secs(2);
/// One wait on an Incus operation; waits repeat while it runs.
const OPERATION_WAIT_S: u64 = 30;

/// How a run of a plan ended for this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEnd {
    /// The plan reached a final state (or left `executing`: cancelled, superseded).
    Done,
    /// Another holder runs it.
    HeldElsewhere,
    /// This holder lost the lease before the end.
    LeaseLost,
}

pub struct Executor {
    auth: Auth,
    sandbox: Arc<Sandbox>,
    /// This process, as lease holder.
    holder: String,
    /// Plans this process runs now.
    running: Mutex<HashSet<i64>>,
    interruptions: Interruptions,
}

/// The error each plan's last run in this process stopped on, as recorded in its history.
#[derive(Default)]
struct Interruptions(Mutex<HashMap<i64, String>>);

impl Interruptions {
    /// The error to record for a run of plan `id` that ended with `error` (`None`: it did not
    /// stop on one): only one that differs from the last recorded.
    fn news(&self, id: i64, error: Option<String>) -> Option<String> {
        let mut last = self.0.lock().expect("not poisoned");
        let Some(error) = error else {
            last.remove(&id);
            return None;
        };
        (last.insert(id, error.clone()).as_ref() != Some(&error)).then_some(error)
    }
}

impl Executor {
    pub fn new(auth: Auth, sandbox: Arc<Sandbox>) -> Arc<Executor> {
        let mut nonce = [0u8; 6];
        getrandom::fill(&mut nonce).expect("the OS has randomness");
        Arc::new(Executor {
            auth,
            sandbox,
            holder: format!("{}-{}", std::process::id(), hex::encode(nonce)),
            running: Mutex::new(HashSet::new()),
            interruptions: Interruptions::default(),
        })
    }

    /// Runs plan `id` in the background (unless this process runs it already).
    pub fn start(self: &Arc<Self>, id: i64) {
        let executor = self.clone();
        tokio::spawn(async move {
            if let Err(error) = executor.run(id).await {
                tracing::error!(plan = id, %error, "the executor stopped on an error; another pass resumes the plan");
            }
        });
    }

    /// Looks for executing plans every few seconds and runs those whose lease is free: after a
    /// restart, or when the replica running one died.
    pub fn spawn_poller(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let executor = self.clone();
        tokio::spawn(async move {
            loop {
                match executor
                    .auth
                    .store()
                    .plans_in_state(PlanState::Executing.as_str())
                    .await
                {
                    Ok(ids) => ids.into_iter().for_each(|id| executor.start(id)),
                    Err(error) => tracing::warn!(%error, "cannot list executing plans"),
                }
                tokio::time::sleep(POLL_EVERY).await;
            }
        })
    }

    /// Runs plan `id` to its end if this process gets its lease and does not run it already.
    pub async fn run(&self, id: i64) -> Result<RunEnd, AppError> {
        if !self.running.lock().expect("not poisoned").insert(id) {
            return Ok(RunEnd::HeldElsewhere);
        }
        let outcome = self.run_leased(id).await;
        self.running.lock().expect("not poisoned").remove(&id);
        self.note_interruption(id, &outcome).await;
        outcome
    }

    /// A run that stopped on an error (the cluster or the store out of reach) leaves its plan
    /// executing, its moves as they were, for the next pass (the poller, a restart) to resume:
    /// the plan's history says why it waits, once per distinct error rather than every pass.
    async fn note_interruption(&self, id: i64, outcome: &Result<RunEnd, AppError>) {
        let error = outcome.as_ref().err().map(ToString::to_string);
        let Some(error) = self.interruptions.news(id, error) else {
            return;
        };
        let detail = json!({ "error": error, "retry": "the plan resumes where it stopped" });
        if let Err(failure) = self.record(id, AuditKind::PlanExecutionInterrupted, detail).await {
            tracing::warn!(plan = id, %failure, "cannot record why the plan's execution stopped");
        }
    }

    async fn run_leased(&self, id: i64) -> Result<RunEnd, AppError> {
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
        let outcome = self.run_moves(id, &lost).await;
        heartbeat.abort();
        if !lost.load(Ordering::SeqCst) {
            store
                .release_lease(&lease, &self.holder, grant.generation)
                .await?;
        }
        outcome
    }

    pub(crate) fn now(&self) -> i64 {
        self.auth.clock().now_ms()
    }

    pub(crate) async fn record(
        &self,
        id: i64,
        kind: AuditKind,
        detail: serde_json::Value,
    ) -> Result<(), AppError> {
        let mut detail = detail;
        detail["executor"] = json!(self.holder);
        self.auth
            .audit()
            .record(&Actor::berth(), kind, Some(&subject(id)), detail)
            .await?;
        Ok(())
    }

    async fn run_moves(&self, id: i64, lost: &AtomicBool) -> Result<RunEnd, AppError> {
        let store = self.auth.store();
        loop {
            if lost.load(Ordering::SeqCst) {
                return Ok(RunEnd::LeaseLost);
            }
            let (row, moves) = plans::load(store, id).await?;
            if plans::state_of(&row)? != PlanState::Executing {
                return Ok(RunEnd::Done);
            }
            if let Some(rollout) = store.plan_rollout(id).await? {
                return self.run_rollout(id, &row.connection, &rollout).await;
            }
            let preview = plans::preview_of(&row)
                .ok_or_else(|| AppError::BadRequest("the plan has no preview".into()))?;
            let stop_on_failure = row.stop_on_failure != 0;
            let failed = moves.iter().any(|m| m.state == "failed");
            let next = moves
                .iter()
                .position(|m| m.state == "pending" || m.state == "running");
            let Some(index) = next.filter(|_| !(failed && stop_on_failure)) else {
                return self.finish(id, &moves, failed).await;
            };
            let planned = plans::planned_moves(&moves);
            let outcome = if moves[index].state == "running" {
                self.resume(id, &row.connection, &moves[index]).await
            } else {
                self.execute_move(id, &row.connection, &planned, index, &preview)
                    .await
            };
            match outcome {
                Ok(()) => {}
                Err(Stop::Superseded(reason)) => return self.supersede(id, &reason).await,
                Err(Stop::Error(error)) => return Err(error),
            }
        }
    }

    /// Skips a pending move with the reason (unless it is no longer pending).
    async fn skip(&self, id: i64, position: i64, instance: &str, reason: &str) -> Result<(), AppError> {
        let skip = MoveEvent::Skip {
            reason: reason.to_owned(),
        };
        let skipped = plans::advance_move(
            self.auth.store(),
            id,
            position,
            MoveState::Pending,
            skip,
            MoveStamp::default(),
        )
        .await?;
        if skipped {
            self.record(
                id,
                AuditKind::MoveSkipped,
                json!({ "move": position, "instance": instance, "reason": reason }),
            )
            .await?;
        }
        Ok(())
    }

    /// Supersedes the executing plan with the reason (unless it left `executing` meanwhile).
    pub(crate) async fn supersede(&self, id: i64, reason: &str) -> Result<RunEnd, AppError> {
        let store = self.auth.store();
        if store
            .supersede_plan(id, PlanState::Executing.as_str(), reason, self.now())
            .await?
        {
            self.record(id, AuditKind::PlanSuperseded, json!({ "reason": reason }))
                .await?;
        }
        Ok(RunEnd::Done)
    }

    /// Every move ended (or the plan stops after a failure): the remaining ones are skipped
    /// and the plan ends.
    pub(crate) async fn finish(
        &self,
        id: i64,
        moves: &[PlanMoveRow],
        failed: bool,
    ) -> Result<RunEnd, AppError> {
        let store = self.auth.store();
        if let Some(stopped_at) = moves.iter().find(|m| m.state == "failed") {
            for pending in moves.iter().filter(|m| m.state == "pending") {
                let reason = format!(
                    "not run: the plan stops on failure, and move {} failed",
                    stopped_at.position
                );
                let instance = format!("{}/{}", pending.project, pending.name);
                self.skip(id, pending.position, &instance, &reason).await?;
            }
        }
        let event = if failed {
            PlanEvent::Finish { failed: true }
        } else {
            PlanEvent::Finish { failed: false }
        };
        let next = PlanState::Executing
            .next(event)
            .expect("an executing plan finishes");
        if store
            .set_plan_state(id, PlanState::Executing.as_str(), next.as_str(), self.now())
            .await?
        {
            let succeeded = moves.iter().filter(|m| m.state == "succeeded").count();
            self.record(
                id,
                AuditKind::PlanFinished,
                json!({ "state": next.as_str(), "succeeded": succeeded, "moves": moves.len() }),
            )
            .await?;
        }
        Ok(RunEnd::Done)
    }

    /// One pending move, from fresh state to verified result.
    async fn execute_move(
        &self,
        id: i64,
        connection: &str,
        planned: &[PlannedMove],
        index: usize,
        preview: &PlanPreview,
    ) -> Result<(), Stop> {
        let store = self.auth.store();
        let position = index as i64 + 1;
        let this = &planned[index];
        let instance = this.instance();
        let previewed = preview
            .moves
            .get(index)
            .ok_or_else(|| Stop::Superseded(format!("move {position} has no preview")))?;
        if let Some(reason) = plans::blocked_reason(previewed) {
            let reason = format!("blocked in the preview: {reason}");
            self.skip(id, position, &instance, &reason).await?;
            return Ok(());
        }
        // 1. Fresh state, 2. the preview still holds for what is left of the plan.
        let (fresh, client) = plans::fresh_state(&self.auth, connection).await?;
        let changes = preview::changes_since(preview, &fresh, planned, index);
        if !changes.is_empty() {
            return Err(Stop::Superseded(changes.join("; ")));
        }
        // 3. One decision, on fresh data, as previewed.
        let decided = plans::assess(&self.sandbox, &fresh, &client, std::slice::from_ref(this)).await?;
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
                return Err(Stop::Superseded(match plans::blocked_reason(now) {
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
        let started = self.now();
        let stamp = MoveStamp {
            decision: Some(&member),
            started_at: Some(started),
            finished_at: None,
        };
        if !plans::advance_move(store, id, position, MoveState::Pending, MoveEvent::Start, stamp).await? {
            return Ok(());
        }
        self.record(
            id,
            AuditKind::MoveStarted,
            json!({ "move": position, "instance": instance, "target_project": this.target_project,
                    "from": current, "member": member }),
        )
        .await?;
        // 4. The Incus calls, 5. the result checked on the cluster.
        let result = self
            .issue(id, position, &client, &fresh, this, &current, &member)
            .await;
        let result = match result {
            Ok(()) => verify(&client, this, &member).await,
            Err(error) => Err(error),
        };
        self.settle(id, position, &instance, result).await
    }

    /// The Incus requests of the corrected move: one `POST` on 6.x (with `target` only when
    /// the member changes: the same member as target is refused); on 7.x a member change first,
    /// then the project move, as Incus 7 no longer does both at once.
    #[allow(clippy::too_many_arguments)]
    async fn issue(
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
        let path = |project: &str, target: Option<&str>| {
            let mut path = format!("/1.0/instances/{}?project={}", planned.name, project);
            if let Some(target) = target {
                path.push_str("&target=");
                path.push_str(target);
            }
            path
        };
        let changes_member = member != current;
        let mut steps = Vec::new();
        if changes_member && BehaviourProfile::of(version) == BehaviourProfile::P4 {
            steps.push((
                path(&planned.project, Some(member)),
                json!({ "name": planned.name, "migration": true, "live": false }),
            ));
            steps.push((
                path(&planned.project, None),
                json!({ "name": planned.name, "migration": true, "live": false, "project": planned.target_project }),
            ));
        } else {
            steps.push((
                path(&planned.project, changes_member.then_some(member)),
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

    /// Records how a running move ended.
    async fn settle(
        &self,
        id: i64,
        position: i64,
        instance: &str,
        result: Result<(), String>,
    ) -> Result<(), Stop> {
        let stamp = MoveStamp {
            finished_at: Some(self.now()),
            ..MoveStamp::default()
        };
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
        if plans::advance_move(self.auth.store(), id, position, MoveState::Running, event, stamp).await? {
            self.record(id, kind, detail).await?;
        }
        Ok(())
    }

    /// A move found running when this holder took the plan over: what happened is read from the
    /// cluster; it is issued again only when nothing shows it was ever sent.
    async fn resume(&self, id: i64, connection: &str, row: &PlanMoveRow) -> Result<(), Stop> {
        let (_, client) = plans::fresh_state(&self.auth, connection).await?;
        let planned = &plans::planned_moves(std::slice::from_ref(row))[0];
        let instance = planned.instance();
        let member = row.decision.clone().unwrap_or_default();
        let in_target = location(&client, &planned.target_project, &planned.name)
            .await
            .map_err(Stop::incus)?;
        let in_source = location(&client, &planned.project, &planned.name)
            .await
            .map_err(Stop::incus)?;
        tracing::info!(plan = id, instance, ?in_source, ?in_target, operation = ?row.operation, "resuming a running move");
        // Incus's operation first: while it runs, the instance may be in both projects. When
        // the process died before recording it, Incus's list of running operations has it.
        let operation = match &row.operation {
            Some(operation) => Some(operation.clone()),
            None => running_operation_for(&client, planned).await,
        };
        if let Some(operation) = &operation {
            match client.get::<OperationStatus>(operation).await {
                Ok(status) if status.status == "Running" || status.status == "Pending" => {
                    let result = match wait(&client, operation).await {
                        Ok(()) => verify(&client, planned, &member).await,
                        Err(error) => Err(error),
                    };
                    return self.settle(id, row.position, &instance, result).await;
                }
                Ok(status) if status.status != "Success" && in_target.is_none() => {
                    let error = if status.err.is_empty() {
                        status.status
                    } else {
                        status.err
                    };
                    return self.settle(id, row.position, &instance, Err(error)).await;
                }
                // Finished, or forgotten by Incus: the cluster's state tells.
                _ => {}
            }
        }
        let result = match (in_source, in_target, &operation) {
            (_, Some(_), _) => verify(&client, planned, &member).await,
            (Some(_), None, Some(operation)) => Err(format!(
                "interrupted: Incus's operation {operation} is over and {instance} is still in project {}; \
                 not issued again: plan it anew",
                planned.project
            )),
            (Some(current), None, None) => {
                // Marked running, but Incus has no operation for it: the request never took
                // effect, so it is sent now (once).
                let fresh = plans::fresh_state(&self.auth, connection).await?.0;
                match self
                    .issue(id, row.position, &client, &fresh, planned, &current, &member)
                    .await
                {
                    Ok(()) => verify(&client, planned, &member).await,
                    Err(error) => Err(error),
                }
            }
            (None, None, _) => Err(format!(
                "{instance} is in neither project {} nor {}: a human must look",
                planned.project, planned.target_project
            )),
        };
        self.settle(id, row.position, &instance, result).await
    }
}

/// Why the executor stops working on a plan.
pub(crate) enum Stop {
    /// The plan no longer is what was approved.
    Superseded(String),
    Error(AppError),
}

impl Stop {
    fn incus(error: IncusError) -> Stop {
        Stop::Error(AppError::Upstream(error.to_string()))
    }
}

impl From<AppError> for Stop {
    fn from(error: AppError) -> Stop {
        Stop::Error(error)
    }
}

impl From<crate::db::StoreError> for Stop {
    fn from(error: crate::db::StoreError) -> Stop {
        Stop::Error(error.into())
    }
}

/// Incus's own words for a refusal; the transport's for anything else.
pub(crate) fn incus_message(error: IncusError) -> String {
    match error {
        IncusError::Api { message, .. } => message,
        other => other.to_string(),
    }
}

/// Waits until the operation ends; its error, verbatim, when it did not succeed.
async fn wait(client: &IncusClient, operation: &str) -> Result<(), String> {
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
async fn location(client: &IncusClient, project: &str, name: &str) -> Result<Option<String>, IncusError> {
    #[derive(serde::Deserialize)]
    struct Located {
        location: String,
    }
    match client
        .get::<Located>(&format!("/1.0/instances/{name}?project={project}"))
        .await
    {
        Ok(found) => Ok(Some(found.location)),
        Err(IncusError::Api { status: 404, .. }) => Ok(None),
        Err(error) => Err(error),
    }
}

/// The instance exists exactly once, in the target project, on the chosen member.
async fn verify(client: &IncusClient, planned: &PlannedMove, member: &str) -> Result<(), String> {
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

/// A running Incus operation on this instance, if any.
async fn running_operation_for(client: &IncusClient, planned: &PlannedMove) -> Option<String> {
    let operations: serde_json::Value = client
        .get("/1.0/operations?recursion=1&all-projects=true")
        .await
        .ok()?;
    let wanted = format!("/1.0/instances/{}", planned.name);
    let running = operations.get("running")?.as_array()?;
    running.iter().find_map(|operation| {
        let instances = operation.pointer("/resources/instances")?.as_array()?;
        let ours = instances.iter().filter_map(|i| i.as_str()).any(|path| {
            let (path, query) = path.split_once('?').unwrap_or((path, ""));
            path == wanted
                && (query.is_empty() && planned.project == "default"
                    || query
                        .split('&')
                        .any(|pair| pair == format!("project={}", planned.project)))
        });
        let id = operation.get("id")?.as_str()?;
        ours.then(|| format!("/1.0/operations/{id}"))
    })
}

#[cfg(test)]
mod tests {
    use super::Interruptions;

    #[test]
    fn an_interruption_is_news_once_until_the_error_changes_or_a_run_ends_well() {
        let seen = Interruptions::default();
        let away = || Some("cannot reach Incus".to_owned());
        assert_eq!(seen.news(1, away()), away());
        assert_eq!(seen.news(1, away()), None, "the same error again");
        assert_eq!(seen.news(2, away()), away(), "another plan");
        let other = Some("the store is away".to_owned());
        assert_eq!(seen.news(1, other.clone()), other);
        assert_eq!(seen.news(1, None), None, "a run that ends well");
        assert_eq!(seen.news(1, away()), away(), "after a good run, news again");
    }
}
