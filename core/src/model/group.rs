//! `GET /1.0/cluster/groups?recursion=1`.

use serde::{Deserialize, Serialize};

use super::Config;

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ClusterGroup {
    pub name: String,
    pub description: String,
    /// Member names, in Incus's order.
    pub members: Vec<String>,
    pub config: Config,
}
