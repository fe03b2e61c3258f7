//! A move found running when this holder took the plan over (its process died mid-move): what
//! happened is read from the cluster, Incus's operation first. The move is issued again only
//! when nothing shows it was ever sent; otherwise it is settled as the cluster shows it.

use super::moves::{location, verify, wait};
use super::{Executor, Stop};
use crate::db::PlanMoveRow;
use crate::incus::{IncusClient, OperationStatus};
use crate::plans::{fresh_state, planned_moves};
use berth_core::plan::PlannedMove;

impl Executor {
    pub(super) async fn resume(&self, id: i64, connection: &str, row: &PlanMoveRow) -> Result<(), Stop> {
        let (_, client) = fresh_state(&self.auth, connection).await?;
        let planned = &planned_moves(std::slice::from_ref(row))[0];
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
                let fresh = fresh_state(&self.auth, connection).await?.0;
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

/// A running Incus operation on this instance, if any.
async fn running_operation_for(client: &IncusClient, planned: &PlannedMove) -> Option<String> {
    let operations: serde_json::Value = client
        .get("/1.0/operations?recursion=1&all-projects=true")
        .await
        .ok()?;
    // Incus names an instance in an operation's resources by its path, encoded as Berth encodes it.
    let wanted = crate::incus::api_path(&["instances", &planned.name], &[]);
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
        ours.then(|| crate::incus::api_path(&["operations", id], &[]))
    })
}
