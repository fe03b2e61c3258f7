//! `GET /1.0/instances?recursion=1&all-projects=true` and the operations of
//! `GET /1.0/operations?recursion=1&all-projects=true` a snapshot keeps.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::nullable::{null_as_default, null_entries_as_default};
use super::{Config, Devices};

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Instance {
    pub name: String,
    pub project: String,
    /// The member the instance lives on.
    pub location: String,
    /// `container` or `virtual-machine`.
    #[serde(rename = "type")]
    pub instance_type: String,
    pub status: String,
    pub status_code: u32,
    pub architecture: String,
    pub description: String,
    pub ephemeral: bool,
    pub stateful: bool,
    #[serde(deserialize_with = "null_as_default")]
    pub profiles: Vec<String>,
    #[serde(deserialize_with = "null_as_default")]
    pub config: Config,
    #[serde(deserialize_with = "null_entries_as_default")]
    pub devices: Devices,
    #[serde(deserialize_with = "null_as_default")]
    pub expanded_config: Config,
    #[serde(deserialize_with = "null_entries_as_default")]
    pub expanded_devices: Devices,
    pub created_at: String,
    pub last_used_at: String,
}

impl Instance {
    pub fn is_running(&self) -> bool {
        self.status == "Running"
    }

    /// `user.*` keys of the expanded config: the labels administrators put on instances, to
    /// select and show them by. Keys that look secret (`user.api_token`) are no labels: they
    /// would be shown to every role.
    pub fn labels(&self) -> impl Iterator<Item = (&str, &str)> {
        self.expanded_config
            .iter()
            .filter(|(key, _)| key.starts_with("user.") && !crate::redact::is_secret_key(key))
            .map(|(key, value)| (key.as_str(), value.as_str()))
    }
}

/// A background operation (`api.Operation`). Only "Creating instance" operations matter to
/// placement: `get_instances_count(pending=True)` and the default placement's ordering count
/// them per member and project (see [`Operation::counts_as_pending_create`]).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Operation {
    pub id: String,
    pub class: String,
    pub description: String,
    pub status: String,
    pub status_code: u32,
    /// The member running the operation.
    pub location: String,
    /// Affected objects by kind, e.g. `instances: ["/1.0/instances/web-1?project=web"]`.
    #[serde(deserialize_with = "null_entries_as_default")]
    pub resources: BTreeMap<String, Vec<String>>,
    pub created_at: String,
    /// When its status last changed: for a finished operation, when it finished. Absent from
    /// snapshots taken before Berth kept finished operations (and so from their hashes).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub updated_at: String,
    pub may_cancel: bool,
    pub err: String,
}

/// `GET /1.0/operations?recursion=1&all-projects=true`: operations by lower-case status
/// (`running`, `pending`, `success`, `failure`, ...).
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
pub struct OperationsByStatus(
    #[serde(deserialize_with = "null_entries_as_default")] pub BTreeMap<String, Vec<Operation>>,
);

impl OperationsByStatus {
    /// The operations a snapshot keeps: those that have not finished (they can still add load
    /// to a member) and the finished instance creations Incus still lists, which it still
    /// counts as pending (see [`Operation::counts_as_pending_create`]).
    pub fn for_snapshot(self) -> Vec<Operation> {
        self.0
            .into_iter()
            .flat_map(|(status, operations)| {
                let unfinished = matches!(status.as_str(), "running" | "pending");
                operations
                    .into_iter()
                    .filter(move |operation| unfinished || operation.counts_as_pending_create())
            })
            .collect()
    }
}

impl Operation {
    /// An instance creation still under way: load a member is about to take.
    pub fn is_pending_create(&self) -> bool {
        self.counts_as_pending_create() && !self.is_finished()
    }

    pub fn is_finished(&self) -> bool {
        !matches!(self.status.as_str(), "Pending" | "Running")
    }

    /// Whether Incus counts this operation as a pending creation: `GetInstancesCount(…,
    /// includePending)` (6.0.4 `internal/server/db/instances.go` L1111-1206, used by
    /// `get_instances_count(pending=True)` and by `GetCandidateMembers`'s ordering) counts the
    /// rows of type `InstanceCreate` in the cluster's `operations` table, and an operation's row
    /// is deleted only 5 s after it finishes (`internal/server/operations/operations.go`
    /// `done()`, L227-275; in memory for as long, so `GET /1.0/operations` lists it with its
    /// final status meanwhile). So a create that finished within the last 5 s counts twice: as
    /// an instance and as a pending creation.
    pub fn counts_as_pending_create(&self) -> bool {
        // Incus's `InstanceCreate` type, whatever the status.
        self.description == "Creating instance"
    }

    /// The project of the instance the operation is about (`?project=` of its resource URL;
    /// none: `default`), as Incus records the operation's project.
    pub fn instance_project(&self) -> &str {
        self.resources
            .get("instances")
            .and_then(|urls| urls.first())
            .and_then(|url| url.split_once("?project="))
            .map(|(_, query)| query.split('&').next().unwrap_or(query))
            .unwrap_or("default")
    }
}
