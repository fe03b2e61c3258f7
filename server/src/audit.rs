//! Writing the audit log: who did what, when, from where. Every write Berth performs on behalf
//! of someone is recorded: [`Audit::entry`] makes the entry, and the store method that makes
//! the change appends it in the same transaction (`db/audit.rs`). [`Audit::record`] appends an
//! entry on its own, for events that change nothing else (a refused sign-in, an export).

use serde_json::Value;

use crate::clock::Clock;
use crate::db::{NewAuditEntry, Store, StoreError};

/// What happened. The names are the `kind` column and the audit page's filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditKind {
    Login,
    LoginFailed,
    LoginRateLimited,
    Logout,
    PasswordChanged,
    UserCreated,
    UserRoleChanged,
    UserDisabled,
    UserEnabled,
    UserPasswordReset,
    TokenCreated,
    TokenRevoked,
    /// A snapshot stored (imported, uploaded, captured, or the demo).
    SnapshotAdded,
    SnapshotDeleted,
    /// A snapshot exported with its secret values (admins; redacted exports are not audited).
    SnapshotExported,
    ScriptletCreated,
    /// A new revision of a scriptlet saved.
    ScriptletRevised,
    ConnectionAdded,
    ConnectionDeleted,
    /// A client key an older Berth stored in the clear, sealed with the secret key file.
    ConnectionKeySealed,
    /// Every connection's client key sealed again under a new secret key file.
    ConnectionsRekeyed,
    /// A connection's decision log turned on or off.
    ConnectionDecisionLog,
    /// The whole store copied into another database (`berth store copy`), recorded in both.
    StoreCopied,
    // A plan's life (subject `plan:ID`) and its moves' (subject `plan:ID`, the move in the
    // detail), written by the executor as it goes.
    PlanCreated,
    PlanEdited,
    PlanPreviewed,
    PlanSubmitted,
    PlanApproved,
    PlanChangesRequested,
    PlanCommented,
    PlanExecutionStarted,
    /// The executor stopped on an error before the plan's end (it resumes).
    PlanExecutionInterrupted,
    PlanCancelled,
    PlanSuperseded,
    PlanFinished,
    PlanReversed,
    MoveStarted,
    MoveSucceeded,
    MoveFailed,
    MoveSkipped,
    RolloutStarted,
    RolloutSucceeded,
    RolloutFailed,
}

impl AuditKind {
    pub const ALL: [AuditKind; 43] = [
        AuditKind::Login,
        AuditKind::LoginFailed,
        AuditKind::LoginRateLimited,
        AuditKind::Logout,
        AuditKind::PasswordChanged,
        AuditKind::UserCreated,
        AuditKind::UserRoleChanged,
        AuditKind::UserDisabled,
        AuditKind::UserEnabled,
        AuditKind::UserPasswordReset,
        AuditKind::TokenCreated,
        AuditKind::TokenRevoked,
        AuditKind::SnapshotAdded,
        AuditKind::SnapshotDeleted,
        AuditKind::SnapshotExported,
        AuditKind::ScriptletCreated,
        AuditKind::ScriptletRevised,
        AuditKind::ConnectionAdded,
        AuditKind::ConnectionDeleted,
        AuditKind::ConnectionKeySealed,
        AuditKind::ConnectionsRekeyed,
        AuditKind::ConnectionDecisionLog,
        AuditKind::StoreCopied,
        AuditKind::PlanCreated,
        AuditKind::PlanEdited,
        AuditKind::PlanPreviewed,
        AuditKind::PlanSubmitted,
        AuditKind::PlanApproved,
        AuditKind::PlanChangesRequested,
        AuditKind::PlanCommented,
        AuditKind::PlanExecutionStarted,
        AuditKind::PlanExecutionInterrupted,
        AuditKind::PlanCancelled,
        AuditKind::PlanSuperseded,
        AuditKind::PlanFinished,
        AuditKind::PlanReversed,
        AuditKind::MoveStarted,
        AuditKind::MoveSucceeded,
        AuditKind::MoveFailed,
        AuditKind::MoveSkipped,
        AuditKind::RolloutStarted,
        AuditKind::RolloutSucceeded,
        AuditKind::RolloutFailed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditKind::Login => "login",
            AuditKind::LoginFailed => "login.failed",
            AuditKind::LoginRateLimited => "login.rate_limited",
            AuditKind::Logout => "logout",
            AuditKind::PasswordChanged => "password.changed",
            AuditKind::UserCreated => "user.created",
            AuditKind::UserRoleChanged => "user.role_changed",
            AuditKind::UserDisabled => "user.disabled",
            AuditKind::UserEnabled => "user.enabled",
            AuditKind::UserPasswordReset => "user.password_reset",
            AuditKind::TokenCreated => "token.created",
            AuditKind::TokenRevoked => "token.revoked",
            AuditKind::SnapshotAdded => "snapshot.added",
            AuditKind::SnapshotDeleted => "snapshot.deleted",
            AuditKind::SnapshotExported => "snapshot.exported",
            AuditKind::ScriptletCreated => "scriptlet.created",
            AuditKind::ScriptletRevised => "scriptlet.revised",
            AuditKind::ConnectionAdded => "connection.added",
            AuditKind::ConnectionDeleted => "connection.deleted",
            AuditKind::ConnectionKeySealed => "connection.key_sealed",
            AuditKind::ConnectionsRekeyed => "connection.rekeyed",
            AuditKind::ConnectionDecisionLog => "connection.decision_log",
            AuditKind::StoreCopied => "store.copied",
            AuditKind::PlanCreated => "plan.created",
            AuditKind::PlanEdited => "plan.edited",
            AuditKind::PlanPreviewed => "plan.previewed",
            AuditKind::PlanSubmitted => "plan.submitted",
            AuditKind::PlanApproved => "plan.approved",
            AuditKind::PlanChangesRequested => "plan.changes_requested",
            AuditKind::PlanCommented => "plan.commented",
            AuditKind::PlanExecutionStarted => "plan.execution_started",
            AuditKind::PlanExecutionInterrupted => "plan.execution_interrupted",
            AuditKind::PlanCancelled => "plan.cancelled",
            AuditKind::PlanSuperseded => "plan.superseded",
            AuditKind::PlanFinished => "plan.finished",
            AuditKind::PlanReversed => "plan.reversed",
            AuditKind::MoveStarted => "plan.move_started",
            AuditKind::MoveSucceeded => "plan.move_succeeded",
            AuditKind::MoveFailed => "plan.move_failed",
            AuditKind::MoveSkipped => "plan.move_skipped",
            AuditKind::RolloutStarted => "plan.rollout_started",
            AuditKind::RolloutSucceeded => "plan.rollout_succeeded",
            AuditKind::RolloutFailed => "plan.rollout_failed",
        }
    }
}

/// Who acted, from where. `user` is `None` when nobody is signed in (a failed login) and for
/// the command line, whose authority is access to the data directory.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Actor {
    pub user: Option<(i64, String)>,
    pub address: Option<String>,
    /// `true` for `berth user …` on the server's machine.
    pub command_line: bool,
}

impl Actor {
    /// A signed-in user acting from `address`.
    pub fn user(user_id: i64, username: &str, address: Option<String>) -> Actor {
        Actor {
            user: Some((user_id, username.to_owned())),
            address,
            command_line: false,
        }
    }

    /// A user named on the command line (`berth plan … --as USER`): acting as that user, by
    /// the authority of access to the data directory.
    pub fn user_on_command_line(user_id: i64, username: &str) -> Actor {
        Actor {
            user: Some((user_id, username.to_owned())),
            address: None,
            command_line: true,
        }
    }

    /// Berth itself (the plan executor), acting on what a user started.
    pub fn berth() -> Actor {
        Actor::default()
    }

    pub fn command_line() -> Actor {
        Actor {
            command_line: true,
            ..Actor::default()
        }
    }
}

#[derive(Debug, Clone)]
pub struct Audit {
    store: Store,
    clock: Clock,
}

impl Audit {
    pub fn new(store: Store, clock: Clock) -> Audit {
        Audit { store, clock }
    }

    /// The entry for `actor`'s `kind` on `subject` now, for the store method that makes the
    /// change to append in its transaction. `detail` must be a JSON object without secrets.
    pub fn entry(
        &self,
        actor: &Actor,
        kind: AuditKind,
        subject: Option<&str>,
        mut detail: Value,
    ) -> NewAuditEntry {
        if actor.command_line {
            detail["via"] = Value::from("command line");
        }
        NewAuditEntry {
            at: self.clock.now_ms(),
            actor_id: actor.user.as_ref().map(|(id, _)| *id),
            actor: actor.user.as_ref().map(|(_, name)| name.clone()),
            kind: kind.as_str().to_owned(),
            subject: subject.map(str::to_owned),
            detail,
            address: actor.address.clone(),
        }
    }

    /// Appends one entry that records no other change (a refused sign-in, an export): an
    /// entry for a change goes through the store method that makes it ([`Audit::entry`]).
    pub async fn record(
        &self,
        actor: &Actor,
        kind: AuditKind,
        subject: Option<&str>,
        detail: Value,
    ) -> Result<(), StoreError> {
        self.store
            .append_audit(&self.entry(actor, kind, subject, detail))
            .await?;
        Ok(())
    }

    /// The entry for storing `snapshot`, for [`Store::insert_snapshot`] (which writes it only
    /// when the snapshot is new, and adds its id: storing is idempotent).
    pub fn snapshot_added(&self, actor: &Actor, snapshot: &berth_core::Snapshot) -> NewAuditEntry {
        self.snapshot_added_as(actor, snapshot, &snapshot.content_hash())
    }

    /// [`Audit::snapshot_added`] with the content hash known already (hashing a large
    /// snapshot's JSON is work done once, off the async runtime).
    pub fn snapshot_added_as(
        &self,
        actor: &Actor,
        snapshot: &berth_core::Snapshot,
        content_hash: &str,
    ) -> NewAuditEntry {
        let detail = serde_json::json!({
            "source": snapshot.source.kind,
            "content_hash": content_hash,
            "members": snapshot.members.len(),
            "instances": snapshot.instances.len(),
        });
        self.entry(
            actor,
            AuditKind::SnapshotAdded,
            Some(&snapshot.source.name),
            detail,
        )
    }
}
