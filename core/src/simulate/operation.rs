//! The operations the simulator understands, in the JSON shape `berth simulate --op` takes.

use serde::{Deserialize, Serialize};

use crate::model::Config;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Operation {
    /// `POST /1.0/instances?project=P[&target=T]`.
    Create {
        project: String,
        name: String,
        /// `""`, a member, or `@group`.
        #[serde(default)]
        target: String,
        #[serde(default, rename = "type")]
        instance_type: Option<String>,
        #[serde(default)]
        profiles: Option<Vec<String>>,
        #[serde(default)]
        config: Config,
        #[serde(default)]
        source: CreateSource,
        /// The member that receives the request (where the scriptlet runs); default: the member
        /// the snapshot was taken from.
        #[serde(default)]
        via: Option<String>,
    },
    /// `POST /1.0/instances/N?project=P[&target=T]` with `{"migration": true, "project": P2}`.
    Move {
        project: String,
        name: String,
        /// The project to move into; `None` or equal to `project`: same project.
        #[serde(default)]
        target_project: Option<String>,
        #[serde(default)]
        target: String,
    },
    /// `incus cluster evacuate M` (migrate mode).
    Evacuate { member: String },
    /// `incus cluster restore M`.
    Restore { member: String },
    /// One instance considered by automatic rebalancing (7.0+, `cluster.rebalance.*`).
    Rebalance { project: String, name: String },
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CreateSource {
    /// `image`, `none` or `copy`.
    #[serde(default, rename = "type")]
    pub kind: String,
    /// The image alias, or the instance copied.
    #[serde(default)]
    pub source: Option<String>,
    /// The project of the instance copied.
    #[serde(default)]
    pub project: Option<String>,
}
