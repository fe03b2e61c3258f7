//! `GET /1.0/cluster/groups?recursion=1`.

use serde::{Deserialize, Serialize};

use super::nullable::null_as_default;
use super::Config;

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ClusterGroup {
    pub name: String,
    pub description: String,
    /// Member names, in Incus's order.
    #[serde(deserialize_with = "null_as_default")]
    pub members: Vec<String>,
    #[serde(deserialize_with = "null_as_default")]
    pub config: Config,
}
