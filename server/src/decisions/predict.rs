//! Berth's prediction of each recorded decision, made in the authors' sandbox workers (no
//! scriptlet runs in the server; predictions wait behind authors' runs, never behind plans).
//!
//! A prediction starts from the newest capture through the connection finished before the
//! placement, applies the placements recorded since (each where it really landed,
//! `berth_core::decisions::asked::prior`), then asks the request
//! (`berth_core::decisions::asked::request_of`) with the scriptlet that capture saw on the
//! cluster: what Berth would have said with what it knew. A scriptlet changed behind Berth's
//! back since the capture therefore shows as a difference, and the decision names the revision
//! that really ran. What cannot be predicted says why (no capture before it, the instance gone
//! before its configuration was read, the capture's scriptlet refused by Incus's rules).
//!
//! The same basis, with another revision's text, is what a replay of recorded decisions runs
//! (`services/decisions.rs`).

use std::sync::Arc;
use std::time::Duration;

use berth_core::decisions::asked::{
    create_of, predicted_in, prior, request_of, simulation_key, Predicted, Recorded,
};
use berth_core::decisions::Reason;
use berth_core::engine::IncusVersion;
use berth_core::model::{Instance, Server};
use berth_core::simulate::{CreateOperation, Mode, Operation, Simulation};
use serde::Deserialize;

use super::DecisionLog;
use crate::db::{DecisionRow, PredictionWrite, Store, StoreError, StoredSnapshot};
use crate::error::AppError;
use crate::incus::{api_path, IncusClient};
use crate::sandbox::pool::SandboxError;
use crate::sandbox::{JobSnapshot, Sandbox};

/// A decision is predicted once it is this old: the events that may correct it (the delete
/// that makes a create the arrival of a move) come within it.
const SETTLED_AFTER_MS: i64 = 2_000;
/// How often the predictor looks for decisions to predict.
const LOOK_EVERY: Duration = Duration::from_millis(500);
/// Decisions predicted per look.
const BATCH: u32 = 20;
/// At most this many placements since the capture are applied before a prediction.
const MAX_PRIORS: u32 = 500;

/// What a prediction starts from: the capture, its Incus version and scriptlet, and the
/// operations to simulate (the placements since the capture, then the request).
pub struct Basis {
    pub snapshot_id: i64,
    pub stored: Arc<StoredSnapshot>,
    pub version: IncusVersion,
    /// The scriptlet the capture saw on the cluster (empty: Incus's default placement).
    pub scriptlet: String,
    pub operations: Vec<Operation>,
    /// The simulator's key for the instance the request places.
    pub key: String,
}

impl Basis {
    /// Asks the simulator for the request with `source` as the scriptlet: Berth's answer, or
    /// why there is none (the scriptlet does not compile, the simulation did not reach the
    /// instance).
    pub async fn simulate(
        &self,
        sandbox: &Sandbox,
        source: &str,
    ) -> Result<Result<Predicted, String>, AppError> {
        let job = JobSnapshot::new(&self.stored.content_hash, &self.stored.json);
        let answer = sandbox
            .simulate(job, source, self.version, Mode::Upstream, &self.operations)
            .await?;
        let json = match answer {
            Ok(json) => json,
            Err(diagnostic) => {
                return Ok(Err(format!(
                    "the scriptlet does not compile: {}",
                    diagnostic.message
                )))
            }
        };
        let simulation: Simulation = serde_json::from_value(json).map_err(|error| {
            SandboxError::Protocol(format!("a simulation that does not read back: {error}"))
        })?;
        Ok(predicted_in(&simulation, &self.key))
    }
}

/// A recorded decision as the request it answered.
pub fn recorded_of(row: &DecisionRow) -> Option<Recorded<'_>> {
    Some(Recorded {
        reason: Reason::parse(&row.reason)?,
        project: &row.project,
        instance: &row.instance,
        member: row.member.as_deref()?,
        from_project: row.from_project.as_deref(),
        from_member: row.from_member.as_deref(),
    })
}

/// The basis of `row`'s prediction; `Err` says why it cannot be predicted.
pub async fn basis_of(
    store: &Store,
    row: &DecisionRow,
    create: Option<&CreateOperation>,
) -> Result<Result<Basis, String>, AppError> {
    let Some(recorded) = recorded_of(row) else {
        return Ok(Err("where the instance landed is not known".into()));
    };
    let Some(capture) = store.capture_before(&row.connection, Some(row.at)).await? else {
        return Ok(Err("no capture of the cluster was finished before it".into()));
    };
    let Some(stored) = store.stored_snapshot(capture.snapshot_id).await? else {
        return Ok(Err(format!("capture {} was deleted", capture.snapshot_id)));
    };
    let version = match stored.incus_version.parse::<IncusVersion>() {
        Ok(version) => version,
        Err(_) => {
            return Ok(Err(format!(
                "capture {} reports an Incus version Berth cannot read ({:?})",
                stored.id, stored.incus_version
            )))
        }
    };
    let scriptlet = {
        let stored = stored.clone();
        crate::cpu::run(move || scriptlet_of(&stored.json)).await
    }
    .map_err(|error| StoreError::CorruptSnapshot {
        id: capture.snapshot_id,
        message: error.to_string(),
    })?;
    let request = match request_of(&recorded, create) {
        Ok(request) => request,
        Err(why) => return Ok(Err(why)),
    };
    let mut operations = Vec::new();
    for earlier in store
        .decisions_between(&row.connection, capture.started_at, row.at + 1, MAX_PRIORS)
        .await?
    {
        if earlier.id == row.id || (earlier.at == row.at && earlier.id > row.id) {
            continue;
        }
        let earlier_create: Option<CreateOperation> = earlier
            .request
            .as_deref()
            .and_then(|json| serde_json::from_str(json).ok());
        if let Some(operation) = recorded_of(&earlier).and_then(|r| prior(&r, earlier_create.as_ref())) {
            operations.push(operation);
        }
    }
    operations.push(request);
    Ok(Ok(Basis {
        snapshot_id: capture.snapshot_id,
        stored,
        version,
        scriptlet,
        operations,
        key: simulation_key(&recorded),
    }))
}

/// The scriptlet a stored snapshot's server had set (empty: none).
fn scriptlet_of(json: &str) -> Result<String, serde_json::Error> {
    #[derive(Deserialize)]
    struct Head {
        server: Server,
    }
    let head: Head = serde_json::from_str(json)?;
    Ok(head.server.placement_scriptlet().unwrap_or_default().to_owned())
}

/// Predicts the decisions of `connection` as they settle, until the listener ends (it aborts
/// this task).
pub(super) async fn run(log: Arc<DecisionLog>, connection: String, client: Arc<IncusClient>) {
    loop {
        let now = log.auth.clock().now_ms();
        match log
            .auth
            .store()
            .decisions_to_predict(&connection, now - SETTLED_AFTER_MS, BATCH)
            .await
        {
            Ok(rows) => {
                for row in rows {
                    if let Err(error) = predict(&log, &row, Some(&client)).await {
                        tracing::warn!(connection, decision = row.id, %error, "cannot predict a decision; trying again later");
                        break;
                    }
                }
            }
            Err(error) => tracing::warn!(connection, %error, "cannot read the decisions to predict"),
        }
        tokio::time::sleep(LOOK_EVERY).await;
    }
}

/// Predicts one decision and writes the prediction (unless it changed meanwhile).
pub(super) async fn predict(
    log: &DecisionLog,
    row: &DecisionRow,
    client: Option<&IncusClient>,
) -> Result<(), AppError> {
    let store = log.auth.store();
    let mut write = PredictionWrite::default();
    // A create needs its configuration, and a move where it landed: read now if the listener's
    // lookup did not come in time.
    let needs_create = row.reason == Reason::New.as_str() && row.request.is_none();
    let mut create: Option<CreateOperation> = row
        .request
        .as_deref()
        .and_then(|json| serde_json::from_str(json).ok());
    let mut row = row.clone();
    if needs_create || row.member.is_none() {
        if let Some(found) = match client {
            Some(client) => look_up(client, &row.project, &row.instance).await,
            None => None,
        } {
            let left = row.from_member.as_deref() == Some(found.location.as_str());
            if row.member.is_none() && !found.location.is_empty() && !left {
                row.member = Some(found.location.clone());
                write.member_found = Some(found.location.clone());
            }
            if needs_create {
                let made = create_of(&found, row.runs_on.as_deref());
                write.request = serde_json::to_string(&made).ok();
                create = Some(made);
            }
        }
    }
    match basis_of(store, &row, create.as_ref()).await? {
        Err(why) => write.unpredictable = Some(why),
        Ok(basis) => {
            write.snapshot_id = Some(basis.snapshot_id);
            write.predicted_revision = match store
                .listener(&row.connection)
                .await?
                .and_then(|l| l.scriptlet_id)
            {
                Some(scriptlet_id) => store.revision_with_text(scriptlet_id, &basis.scriptlet).await?,
                None => None,
            };
            match basis.simulate(&log.sandbox, &basis.scriptlet).await? {
                Err(why) => write.unpredictable = Some(why),
                Ok(predicted) => {
                    let member = row.member.as_deref().unwrap_or_default();
                    write.agrees = Some(predicted.agrees_with(member));
                    write.candidates = serde_json::to_string(&predicted.candidates).ok();
                    write.member = predicted.member;
                    write.error = predicted.error;
                }
            }
        }
    }
    let now = log.auth.clock().now_ms();
    store
        .record_prediction(row.id, row.updated_at, &write, now)
        .await?;
    Ok(())
}

/// The instance as Incus has it now, if it can be read.
pub(super) async fn look_up(client: &IncusClient, project: &str, name: &str) -> Option<Instance> {
    let path = api_path(&["instances", name], &[("project", project)]);
    match client.get::<Instance>(&path).await {
        Ok(instance) => Some(instance),
        Err(error) => {
            tracing::debug!(project, instance = name, %error, "cannot look the instance up");
            None
        }
    }
}
