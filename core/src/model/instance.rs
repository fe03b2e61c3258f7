//! `GET /1.0/instances?recursion=1&all-projects=true` and the pending create operations of
//! `GET /1.0/operations?recursion=1&all-projects=true`.

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

/// A background operation (`api.Operation`). Only pending "Creating instance" operations
/// matter to placement: `get_instances_count(pending=True)` counts them per member.
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
    /// The operations that have not finished: only those can still add load to a member.
    pub fn unfinished(self) -> Vec<Operation> {
        self.0
            .into_iter()
            .filter(|(status, _)| matches!(status.as_str(), "running" | "pending"))
            .flat_map(|(_, operations)| operations)
            .collect()
    }
}

impl Operation {
    pub fn is_pending_create(&self) -> bool {
        self.description == "Creating instance" && matches!(self.status.as_str(), "Pending" | "Running")
    }
}
