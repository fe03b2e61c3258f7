//! `GET /1.0/instances?recursion=1&all-projects=true` and the pending create operations of
//! `GET /1.0/operations?recursion=1&all-projects=true`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

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
    pub profiles: Vec<String>,
    pub config: Config,
    pub devices: Devices,
    pub expanded_config: Config,
    pub expanded_devices: Devices,
    pub created_at: String,
    pub last_used_at: String,
}

impl Instance {
    pub fn is_running(&self) -> bool {
        self.status == "Running"
    }

    /// `user.*` keys of the expanded config: the labels administrators put on instances.
    pub fn labels(&self) -> impl Iterator<Item = (&str, &str)> {
        self.expanded_config
            .iter()
            .filter(|(key, _)| key.starts_with("user."))
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
    pub resources: BTreeMap<String, Vec<String>>,
    pub created_at: String,
    pub may_cancel: bool,
    pub err: String,
}

impl Operation {
    pub fn is_pending_create(&self) -> bool {
        self.description == "Creating instance" && matches!(self.status.as_str(), "Pending" | "Running")
    }
}
