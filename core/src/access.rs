//! Who may do what: the roles of Berth's accounts and the one table that says which role may
//! take which action.
//!
//! The server enforces this table on every route and server function (`server/src/http/access.rs`
//! maps each route to an [`Action`]); the UI only uses it to hide what the signed-in role cannot
//! do. Roles form a ladder: each role may do everything the roles below it may do, and more.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A role, lowest first: `Ord` follows the ladder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything a session may see: cluster, snapshots, scriptlets, plans.
    Viewer,
    /// Writes scriptlets, runs the sandbox, uploads and captures snapshots, drafts plans.
    Author,
    /// Approves plans (never their own).
    Reviewer,
    /// Executes approved plans.
    Operator,
    /// Manages users and connections, reads the audit log; everything else too.
    Admin,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Viewer,
        Role::Author,
        Role::Reviewer,
        Role::Operator,
        Role::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Author => "author",
            Role::Reviewer => "reviewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }

    /// Whether this role may take `action`.
    pub fn may(self, action: Action) -> bool {
        self >= action.minimum_role()
    }

    /// Every action this role may take (what the UI is told, to hide the rest).
    pub fn actions(self) -> Vec<Action> {
        Action::ALL
            .into_iter()
            .filter(|action| self.may(*action))
            .collect()
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role `{0}`; roles are viewer, author, reviewer, operator and admin")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(name: &str) -> Result<Role, UnknownRole> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == name)
            .ok_or_else(|| UnknownRole(name.to_owned()))
    }
}

/// Something a signed-in user may ask Berth to do. Every route and server function is mapped
/// to exactly one action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Read pages and data: clusters, snapshots, scriptlets, plans, previews.
    Read,
    /// Their own account: password, API tokens, sign out.
    ManageOwnAccount,
    /// Run scriptlets in the sandbox: check, evaluate, simulate.
    RunSandbox,
    /// Save scriptlets and their revisions.
    EditScriptlets,
    /// Upload snapshots and capture them from a connection.
    AddSnapshots,
    /// Create and edit plan drafts, send them to review.
    DraftPlans,
    /// Approve plans or request changes.
    ApprovePlans,
    /// Execute approved plans on a cluster.
    ExecutePlans,
    /// Add users, change their roles, disable them, reset passwords.
    ManageUsers,
    /// Configure connections to Incus clusters.
    ManageConnections,
    /// Delete stored snapshots.
    DeleteSnapshots,
    /// Read the audit log.
    ReadAudit,
    /// Export a snapshot with its secret values (`environment.*`, `cloud-init.*`, keys named
    /// like passwords, tokens or keys); every other answer has them redacted.
    ExportSecrets,
}

impl Action {
    pub const ALL: [Action; 13] = [
        Action::Read,
        Action::ManageOwnAccount,
        Action::RunSandbox,
        Action::EditScriptlets,
        Action::AddSnapshots,
        Action::DraftPlans,
        Action::ApprovePlans,
        Action::ExecutePlans,
        Action::ManageUsers,
        Action::ManageConnections,
        Action::DeleteSnapshots,
        Action::ReadAudit,
        Action::ExportSecrets,
    ];

    /// The table: the lowest role that may take each action.
    pub fn minimum_role(self) -> Role {
        match self {
            Action::Read | Action::ManageOwnAccount => Role::Viewer,
            Action::RunSandbox | Action::EditScriptlets | Action::AddSnapshots | Action::DraftPlans => {
                Role::Author
            }
            Action::ApprovePlans => Role::Reviewer,
            Action::ExecutePlans => Role::Operator,
            Action::ManageUsers
            | Action::ManageConnections
            | Action::DeleteSnapshots
            | Action::ReadAudit
            | Action::ExportSecrets => Role::Admin,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Read => "read",
            Action::ManageOwnAccount => "manage_own_account",
            Action::RunSandbox => "run_sandbox",
            Action::EditScriptlets => "edit_scriptlets",
            Action::AddSnapshots => "add_snapshots",
            Action::DraftPlans => "draft_plans",
            Action::ApprovePlans => "approve_plans",
            Action::ExecutePlans => "execute_plans",
            Action::ManageUsers => "manage_users",
            Action::ManageConnections => "manage_connections",
            Action::DeleteSnapshots => "delete_snapshots",
            Action::ReadAudit => "read_audit",
            Action::ExportSecrets => "export_secrets",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_read_back_from_their_names() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
            assert_eq!(
                serde_json::to_value(role).unwrap(),
                serde_json::json!(role.as_str())
            );
        }
        assert!("root".parse::<Role>().unwrap_err().to_string().contains("viewer"));
    }

    #[test]
    fn action_names_are_their_serde_names() {
        for action in Action::ALL {
            assert_eq!(
                serde_json::to_value(action).unwrap(),
                serde_json::json!(action.as_str())
            );
        }
    }

    #[test]
    fn the_ladder_grants_each_role_what_the_product_gives_it() {
        use Action::*;
        let allowed = |role: Role| role.actions();
        assert_eq!(allowed(Role::Viewer), vec![Read, ManageOwnAccount]);
        assert!(Role::Author.may(RunSandbox) && Role::Author.may(DraftPlans));
        assert!(!Role::Author.may(ApprovePlans));
        assert!(Role::Reviewer.may(ApprovePlans) && !Role::Reviewer.may(ExecutePlans));
        assert!(Role::Operator.may(ExecutePlans) && !Role::Operator.may(ManageUsers));
        assert_eq!(allowed(Role::Admin), Action::ALL.to_vec());
        // Each role may do strictly more than the one below it.
        for pair in Role::ALL.windows(2) {
            let (lower, higher) = (allowed(pair[0]), allowed(pair[1]));
            assert!(lower.iter().all(|action| higher.contains(action)));
            assert!(higher.len() > lower.len(), "{} adds nothing", pair[1]);
        }
    }
}
