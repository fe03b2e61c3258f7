//! `GET /1.0`: the server's configuration, API extensions and environment.

use serde::{Deserialize, Serialize};

use super::nullable::null_as_default;
use super::Config;

/// The metadata of `GET /1.0` (Incus `api.Server`), reduced to what a snapshot needs.
/// The remaining environment fields are kept verbatim in [`ServerEnvironment::other`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Server {
    /// Server configuration; holds `instances.placement.scriptlet` and `cluster.offline_threshold`.
    #[serde(deserialize_with = "null_as_default")]
    pub config: Config,
    #[serde(deserialize_with = "null_as_default")]
    pub api_extensions: Vec<String>,
    pub api_status: String,
    pub api_version: String,
    pub environment: ServerEnvironment,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerEnvironment {
    pub server_version: String,
    pub server_name: String,
    pub server_clustered: bool,
    #[serde(deserialize_with = "null_as_default")]
    pub architectures: Vec<String>,
    pub kernel_architecture: String,
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

impl Server {
    /// The placement scriptlet in force, or `None` when the key is unset or empty
    /// (an empty scriptlet means Incus's default placement).
    pub fn placement_scriptlet(&self) -> Option<&str> {
        self.config
            .get("instances.placement.scriptlet")
            .map(String::as_str)
            .filter(|source| !source.trim().is_empty())
    }

    pub fn has_extension(&self, name: &str) -> bool {
        self.api_extensions.iter().any(|extension| extension == name)
    }
}
