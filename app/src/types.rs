//! The wire types pages display, named for what they show. The server builds them from the
//! domain (`server/src/services/`); the UI never sees `berth-core` types.

use serde::{Deserialize, Serialize};

/// One stored snapshot, as listed in the snapshot history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotSummary {
    pub id: i64,
    pub name: String,
    /// `demo`, `capture` or `upload`.
    pub source: String,
    pub captured_at: String,
    pub incus_version: String,
    /// First 12 hex digits of the content hash.
    pub short_hash: String,
    pub member_count: usize,
    pub instance_count: usize,
}

/// Everything the Cluster page shows for one snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterView {
    pub snapshot: SnapshotSummary,
    /// Newest first.
    pub history: Vec<SnapshotSummary>,
    pub groups: Vec<GroupView>,
    pub members: Vec<MemberView>,
    pub projects: Vec<ProjectView>,
    /// Requests that failed while the snapshot was captured (e.g. an offline member's state).
    pub capture_errors: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupView {
    pub name: String,
    pub description: String,
    pub members: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberView {
    pub name: String,
    pub status: String,
    pub message: String,
    pub architecture: String,
    pub roles: Vec<String>,
    pub groups: Vec<String>,
    pub failure_domain: String,
    /// `scheduler.instance`: `all`, `manual` or `group`.
    pub scheduler: String,
    pub instances: usize,
    pub running: usize,
    pub pending_creates: usize,
    /// `None` when the snapshot has no figures for the member (it was unreachable).
    pub cpu: Option<CpuLoad>,
    pub memory: Option<Capacity>,
    pub disk: Option<Capacity>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CpuLoad {
    pub load_1m: f64,
    pub threads: u64,
}

/// Bytes used out of bytes available.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Capacity {
    pub used: u64,
    pub total: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProjectView {
    pub name: String,
    pub description: String,
    pub instances: usize,
    pub restricted: bool,
    /// `restricted.cluster.groups`, empty when unset.
    pub cluster_groups: Vec<String>,
    /// `restricted.cluster.target`, when set.
    pub cluster_target: Option<String>,
    pub own_profiles: bool,
    pub own_images: bool,
}

/// The signed-in user as the UI sees it: who, and what the role may do (to hide the rest;
/// the server enforces it regardless).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Viewer {
    pub username: String,
    pub role: String,
    /// `berth_core::access::Action` names.
    pub actions: Vec<String>,
}

impl Viewer {
    pub fn may(&self, action: &str) -> bool {
        self.actions.iter().any(|allowed| allowed == action)
    }
}

/// An API token as listed (never its value).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenView {
    pub id: i64,
    pub name: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
}

/// A token just created: its value is shown this once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreatedToken {
    pub id: i64,
    pub name: String,
    pub token: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserView {
    pub username: String,
    pub role: String,
    pub disabled: bool,
    pub created_at: String,
}

/// The audit page's filters, as in its URL.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AuditQuery {
    pub user: Option<String>,
    pub kind: Option<String>,
    /// `YYYY-MM-DD` or RFC 3339.
    pub since: Option<String>,
    pub until: Option<String>,
    /// Entries older than this one (the next page).
    pub before_id: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntryView {
    pub id: i64,
    pub at: String,
    pub user: Option<String>,
    pub kind: String,
    pub subject: Option<String>,
    /// The entry's details as compact JSON.
    pub detail: String,
    pub address: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditPage {
    pub entries: Vec<AuditEntryView>,
    /// Every kind there is, for the filter.
    pub kinds: Vec<String>,
    /// More entries are older than the last one shown.
    pub more: bool,
}

/// Roles, lowest first (the server's table is the authority; this is the choice offered).
pub const ROLES: [&str; 5] = ["viewer", "author", "reviewer", "operator", "admin"];
