//! `InstancePlacement`: the `request` a scriptlet receives (`shared/api/scriptlet/instance.go`),
//! with Incus's JSON names. What each caller fills in differs by reason and version; the
//! simulator builds it, the engine only passes it on.

use serde::{Deserialize, Serialize};

use crate::model::{Config, Devices};

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PlacementRequest {
    /// `new`, `evacuation`, `relocation` or `rebalance`.
    pub reason: String,
    /// The project the instance will belong to.
    pub project: String,
    pub name: String,
    /// `container`, `virtual-machine` or `""`.
    #[serde(rename = "type")]
    pub instance_type: String,
    pub architecture: String,
    pub config: Config,
    pub devices: Devices,
    pub profiles: Vec<String>,
    pub ephemeral: bool,
    pub stateful: bool,
    pub description: String,
    pub restore: String,
    /// Not in 6.0.4 (see `IncusVersion::has_disk_only`).
    pub disk_only: bool,
    /// A cloud instance type such as `t1.micro` (the `instance_type` JSON field).
    #[serde(rename = "instance_type")]
    pub cloud_instance_type: String,
    pub start: bool,
    pub source: InstanceSource,
}

/// `api.InstanceSource`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct InstanceSource {
    #[serde(rename = "type")]
    pub source_type: String,
    pub certificate: String,
    pub alias: String,
    pub fingerprint: String,
    pub properties: Config,
    pub server: String,
    pub secret: String,
    pub protocol: String,
    #[serde(rename = "base-image")]
    pub base_image: String,
    pub mode: String,
    pub operation: String,
    pub secrets: Config,
    pub source: String,
    pub live: bool,
    pub instance_only: bool,
    pub refresh: bool,
    pub refresh_exclude_older: bool,
    pub project: String,
    pub allow_inconsistent: bool,
}
