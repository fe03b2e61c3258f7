//! The plan executor: carries out an executing plan move by move on the real cluster, each as
//! Berth's corrected cross-project move (`product.md`): fresh state, the preview re-checked,
//! one placement decision for the target project among every eligible member, the Incus call,
//! the operation waited on and its status read, and the result verified on the cluster.
//!
//! - this file: [`Executor`], which runs plans in the background and looks for those nobody
//!   runs, how a run ends and what the plan's history says about it;
//! - `lease.rs`: exactly one executor runs a plan, whoever holds the lease `plan:ID` in the
//!   store (a replica, or `berth plan execute --wait`), renewed by a heartbeat; a holder that
//!   loses it stops before its next step;
//! - `moves.rs`: the moves, one after the other, each from fresh state to verified result;
//! - `resume.rs`: a move found running after a crash, settled from the cluster;
//! - `rollout.rs`: a rollout plan's one step, setting a scriptlet revision.
//!
//! Every step is committed before the next one: a move is marked running with its decision
//! before Incus is called, Incus's operation is recorded before Berth waits on it, so after a
//! crash the next holder tells from the cluster what happened and never issues a move twice.
//! Nothing is ever deleted: a half-done move (the instance in both projects) is reported for a
//! human. Every change of state goes through the plan layer ([`crate::plans`]); the executor
//! imports nothing from the services.

mod lease;
mod moves;
mod resume;
mod rollout;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use berth_core::plan::{PlanEvent, PlanState};
use serde_json::json;

use crate::audit::{Actor, AuditKind};
use crate::auth::Auth;
use crate::db::{NewAuditEntry, PlanMoveRow, PlanWrite};
use crate::error::AppError;
use crate::incus::IncusError;
use crate::plans::{self, change, subject, supersede};
use crate::sandbox::Sandbox;

/// How often `berth serve` looks for executing plans nobody runs (after a restart, or when
/// another replica died).
const POLL_EVERY: Duration = Duration::from_secs(2);

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

impl Executor {
    /// `sandbox`: the workers the executor's placement decisions run in.
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
        // `Done` is counted where the plan's end was written (`finish`, `supersede`).
        let unfinished = match &outcome {
            Err(_) => Some("interrupted"),
            Ok(RunEnd::LeaseLost) => Some("lease_lost"),
            Ok(RunEnd::Done | RunEnd::HeldElsewhere) => None,
        };
        if let Some(outcome) = unfinished {
            count_execution(outcome);
        }
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
        let entry = self.entry(id, AuditKind::PlanExecutionInterrupted, detail);
        if let Err(failure) = self.auth.store().append_audit(&entry).await {
            tracing::warn!(plan = id, %failure, "cannot record why the plan's execution stopped");
        }
    }

    fn now(&self) -> i64 {
        self.auth.clock().now_ms()
    }

    /// The audit entry of the executor's `kind` on plan `id` (Berth acting, this holder named).
    fn entry(&self, id: i64, kind: AuditKind, detail: serde_json::Value) -> NewAuditEntry {
        let mut detail = detail;
        detail["executor"] = json!(self.holder);
        self.auth
            .audit()
            .entry(&Actor::berth(), kind, Some(&subject(id)), detail)
    }

    /// Supersedes the executing plan with the reason (unless it left `executing` meanwhile).
    async fn supersede(&self, id: i64, reason: &str) -> Result<RunEnd, AppError> {
        let entry = self.entry(id, AuditKind::PlanSuperseded, json!({ "reason": reason }));
        let superseded = supersede(
            self.auth.store(),
            id,
            PlanState::Executing,
            reason,
            self.now(),
            &entry,
        )
        .await?;
        if superseded {
            count_execution("superseded");
        }
        Ok(RunEnd::Done)
    }

    /// Every move ended (or the plan stops after a failure): the remaining ones are skipped
    /// and the plan ends.
    async fn finish(&self, id: i64, moves: &[PlanMoveRow], failed: bool) -> Result<RunEnd, AppError> {
        if let Some(stopped_at) = moves.iter().find(|m| m.state == "failed") {
            for pending in moves.iter().filter(|m| m.state == "pending") {
                let reason = format!(
                    "not run: the plan stops on failure, and move {} failed",
                    stopped_at.position
                );
                self.skip(id, pending, &reason).await?;
            }
        }
        let finished = change(PlanState::Executing, PlanEvent::Finish { failed })?;
        let succeeded = moves.iter().filter(|m| m.state == "succeeded").count();
        let detail = json!({ "state": finished.to, "succeeded": succeeded, "moves": moves.len() });
        let write = PlanWrite {
            plan_id: id,
            now: self.now(),
            state: Some(finished),
            ..PlanWrite::default()
        };
        // Lost: the plan left `executing` meanwhile (cancelled): nothing to finish.
        let written = self
            .auth
            .store()
            .write_plan(&write, &self.entry(id, AuditKind::PlanFinished, detail))
            .await?;
        if written.is_some() {
            count_execution(if failed { "failed" } else { "succeeded" });
        }
        Ok(RunEnd::Done)
    }

    /// The plan as it is now, while it executes; `None` once it left `executing`.
    async fn executing(&self, id: i64) -> Result<Option<plans::LoadedPlan>, AppError> {
        let plan = plans::load(self.auth.store(), id).await?;
        Ok((plan.state == PlanState::Executing).then_some(plan))
    }
}

/// A run of a plan that ended in this process, in `berth_plan_executions_total`.
fn count_execution(outcome: &str) {
    crate::metrics::metrics()
        .plan_executions
        .with_label_values(&[outcome])
        .inc();
}

/// A move that ended, in `berth_plan_moves_total`.
fn count_move(outcome: &str) {
    crate::metrics::metrics()
        .plan_moves
        .with_label_values(&[outcome])
        .inc();
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
