//! Migration plans as the UI, `/api/v1/plans` and `berth plan` offer them: who may do what,
//! and the views.
//!
//! - `views.rs`: the list, one plan, its timeline, the builder's choices;
//! - `lifecycle.rs`: creating, editing, skipping, commenting, cancelling, reversing, and
//!   starting an execution (which [`crate::executor`] carries out);
//! - `review.rs`: previews, submission and approval, the review's four eyes: no account that
//!   contributed to what a plan will run approves it, and an approval is for the one version
//!   of the plan the approver saw.
//!
//! Every operation checks the acting user's role here (`berth plan … --as USER` has no guard in
//! front), then goes through the plan layer ([`crate::plans`]): the state table, one
//! compare-and-set per change, the audit entry in the same transaction, subject `plan:ID`.

mod lifecycle;
mod review;
mod views;

use std::sync::Arc;

use berth_core::access::{Action, Role};
use berth_core::plan::Review;

pub use lifecycle::{act, comment, create, edit, skip_move};
pub use views::{builder, list, timeline, view};

use crate::audit::{Actor, AuditKind};
use crate::auth::Auth;
use crate::db::NewAuditEntry;
use crate::error::AppError;
use crate::executor::Executor;
use crate::plans::subject;
use crate::sandbox::Sandbox;

/// Who acts on a plan: a signed-in user, or one named with `--as` on the command line.
#[derive(Debug, Clone)]
pub struct Acting {
    pub actor: Actor,
    pub username: String,
    pub role: Role,
}

impl Acting {
    pub fn new(actor: Actor, username: &str, role: Role) -> Acting {
        Acting {
            actor,
            username: username.to_owned(),
            role,
        }
    }

    fn may(&self, action: Action) -> Result<(), AppError> {
        if self.role.may(action) {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!(
                "{} is {} and may not {}",
                self.username,
                self.role,
                action.as_str().replace('_', " ")
            )))
        }
    }
}

/// What preview, submission and execution need besides the store.
#[derive(Clone)]
pub struct PlanContext {
    pub auth: Auth,
    /// The workers plan previews run in.
    pub sandbox: Arc<Sandbox>,
    pub executor: Arc<Executor>,
    /// Start executing a plan in this process as soon as it is approved for execution (a
    /// server); `false` for the command line, which runs it only with `--wait` and otherwise
    /// leaves it to the servers (a short-lived process must not take a plan's lease).
    pub executes: bool,
    /// Approvals a new plan needs (`--plan-approvals`).
    pub review: Review,
}

impl PlanContext {
    /// The audit entry of `acting`'s `kind` on plan `id`, for the write that makes the change.
    fn entry(&self, acting: &Acting, id: i64, kind: AuditKind, detail: serde_json::Value) -> NewAuditEntry {
        self.auth
            .audit()
            .entry(&acting.actor, kind, Some(&subject(id)), detail)
    }

    fn now(&self) -> i64 {
        self.auth.clock().now_ms()
    }
}
