//! `GET /1.0/cluster/members?recursion=1`, `.../members/{name}/state` and
//! `GET /1.0/resources?target={name}`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::nullable::null_as_default;
use super::Config;

/// One cluster member (`api.ClusterMember`): the same shape the scriptlet's
/// `candidate_members` elements have.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ClusterMember {
    pub server_name: String,
    pub url: String,
    pub database: bool,
    pub status: MemberStatus,
    pub message: String,
    pub architecture: String,
    #[serde(deserialize_with = "null_as_default")]
    pub roles: Vec<String>,
    pub failure_domain: String,
    pub description: String,
    #[serde(deserialize_with = "null_as_default")]
    pub config: Config,
    #[serde(deserialize_with = "null_as_default")]
    pub groups: Vec<String>,
}

/// A member's status as Incus reports it; unknown strings are kept, not rejected,
/// so a snapshot from a newer Incus still loads (and writes back the same text).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum MemberStatus {
    Online,
    Offline,
    Evacuated,
    Evacuating,
    Restoring,
    /// Waiting for an upgrade; still a placement candidate.
    Blocked,
    Other(String),
}

impl MemberStatus {
    pub fn as_str(&self) -> &str {
        match self {
            MemberStatus::Online => "Online",
            MemberStatus::Offline => "Offline",
            MemberStatus::Evacuated => "Evacuated",
            MemberStatus::Evacuating => "Evacuating",
            MemberStatus::Restoring => "Restoring",
            MemberStatus::Blocked => "Blocked",
            MemberStatus::Other(text) => text,
        }
    }

    /// Whether automatic placement may pick the member (`GetCandidateMembers`: online, or
    /// blocked waiting for an upgrade).
    pub fn takes_instances(&self) -> bool {
        matches!(self, MemberStatus::Online | MemberStatus::Blocked)
    }
}

/// Incus always sends a status; a document without one gets an empty, unknown status.
impl Default for MemberStatus {
    fn default() -> MemberStatus {
        MemberStatus::Other(String::new())
    }
}

impl From<String> for MemberStatus {
    fn from(text: String) -> MemberStatus {
        match text.as_str() {
            "Online" => MemberStatus::Online,
            "Offline" => MemberStatus::Offline,
            "Evacuated" => MemberStatus::Evacuated,
            "Evacuating" => MemberStatus::Evacuating,
            "Restoring" => MemberStatus::Restoring,
            "Blocked" => MemberStatus::Blocked,
            _ => MemberStatus::Other(text),
        }
    }
}

impl From<&str> for MemberStatus {
    fn from(text: &str) -> MemberStatus {
        MemberStatus::from(text.to_owned())
    }
}

impl From<MemberStatus> for String {
    fn from(status: MemberStatus) -> String {
        match status {
            MemberStatus::Other(text) => text,
            known => known.as_str().to_owned(),
        }
    }
}

impl std::fmt::Display for MemberStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `scheduler.instance` of a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchedulerMode {
    /// Unset or `all`: the member takes instances from automatic placement.
    All,
    /// Only instances explicitly targeted at this member.
    Manual,
    /// Only instances targeted at one of this member's groups.
    Group,
}

impl ClusterMember {
    pub fn scheduler(&self) -> SchedulerMode {
        match self.config.get("scheduler.instance").map(String::as_str) {
            Some("manual") => SchedulerMode::Manual,
            Some("group") => SchedulerMode::Group,
            _ => SchedulerMode::All,
        }
    }

    pub fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|own| own == group)
    }

    pub fn is_leader(&self) -> bool {
        self.roles.iter().any(|role| role == "database-leader")
    }
}

/// `GET /1.0/cluster/members/{name}/state` (`api.ClusterMemberState`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ClusterMemberState {
    pub sysinfo: SysInfo,
    #[serde(deserialize_with = "null_as_default")]
    pub storage_pools: std::collections::BTreeMap<String, StoragePoolState>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SysInfo {
    pub uptime: i64,
    #[serde(deserialize_with = "null_as_default")]
    pub load_averages: Vec<f64>,
    pub total_ram: u64,
    pub free_ram: u64,
    pub shared_ram: u64,
    pub buffered_ram: u64,
    pub total_swap: u64,
    pub free_swap: u64,
    pub processes: u16,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct StoragePoolState {
    pub space: StoragePoolSpace,
    pub inodes: StoragePoolSpace,
}

#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct StoragePoolSpace {
    pub used: u64,
    pub total: u64,
}

/// `GET /1.0/resources?target={name}` (`api.Resources`). CPU and memory are typed because
/// Berth computes with them; the other sections are kept as Incus sent them.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Resources {
    pub cpu: CpuResources,
    pub memory: MemoryResources,
    pub gpu: Value,
    pub network: Value,
    pub storage: Value,
    pub usb: Value,
    pub pci: Value,
    pub system: Value,
    pub load: Value,
    pub serial: Value,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CpuResources {
    pub architecture: String,
    /// Total number of CPU threads.
    pub total: u64,
    #[serde(deserialize_with = "null_as_default")]
    pub sockets: Vec<Value>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct MemoryResources {
    pub total: u64,
    pub used: u64,
    pub hugepages_total: u64,
    pub hugepages_used: u64,
    pub hugepages_size: u64,
    #[serde(deserialize_with = "null_as_default")]
    pub nodes: Vec<Value>,
}
