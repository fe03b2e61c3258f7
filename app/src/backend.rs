//! The seam between the UI and the server (`ssr` only).
//!
//! `server` depends on this crate to render it, so this crate cannot name `server`'s types.
//! Instead it declares what server functions need as a trait; `server` implements it and
//! provides an `Arc<dyn Backend>` as Leptos context for every request. Who is asking
//! ([`Caller`]) is established by the server's guard before any server function runs.

use std::future::Future;
use std::sync::Arc;

use leptos::prelude::use_context;

use crate::error::BerthError;
use crate::types::{
    AuditEntryView, AuditPage, AuditQuery, CasesRun, ClusterView, ConnectionView, CreatedToken,
    DecisionQuery, DecisionsPageData, DiffView, FuzzRound, ImpactSetup, MatrixQuery, MatrixView, MoveSpec,
    NewConnection, NewPlan, PlanAction, PlanBuilderSetup, PlanSummary, PlanView, RevisionView, SandboxRun,
    SandboxSetup, Scenario, ScriptletSummary, ScriptletView, SnapshotSummary, TemplateView, TokenView,
    UserView,
};

/// The signed-in user of this request, as the server's guard established it (it is in the
/// request's extensions). Server-side only: it holds the session's identity.
#[derive(Debug, Clone, PartialEq)]
pub struct Caller {
    pub user_id: i64,
    pub username: String,
    pub role: String,
    /// What the role may do (`berth_core::access::Action` names).
    pub actions: Vec<String>,
    /// The session's CSRF token (`None` with an API token).
    pub csrf_token: Option<String>,
    /// The session's id digest (`None` with an API token).
    pub session: Option<String>,
    pub token_id: Option<i64>,
    pub address: Option<String>,
}

#[async_trait::async_trait]
pub trait Backend: Send + Sync + 'static {
    async fn cluster_view(&self, snapshot_id: Option<i64>) -> Result<ClusterView, BerthError>;

    async fn change_password(&self, caller: &Caller, current: String, new: String) -> Result<(), BerthError>;
    async fn list_tokens(&self, caller: &Caller) -> Result<Vec<TokenView>, BerthError>;
    async fn create_token(&self, caller: &Caller, name: String) -> Result<CreatedToken, BerthError>;
    async fn revoke_token(&self, caller: &Caller, id: i64) -> Result<(), BerthError>;

    /// Every user, with their unrevoked API tokens.
    async fn list_users(&self) -> Result<Vec<UserView>, BerthError>;
    /// Revokes one of a user's API tokens (admins).
    async fn revoke_user_token(&self, caller: &Caller, username: String, id: i64) -> Result<(), BerthError>;
    async fn add_user(
        &self,
        caller: &Caller,
        username: String,
        role: String,
        password: String,
    ) -> Result<(), BerthError>;
    async fn change_user(
        &self,
        caller: &Caller,
        username: String,
        role: Option<String>,
        disabled: Option<bool>,
        password: Option<String>,
    ) -> Result<(), BerthError>;

    async fn audit_log(&self, query: AuditQuery) -> Result<AuditPage, BerthError>;

    async fn list_scriptlets(&self) -> Result<Vec<ScriptletSummary>, BerthError>;
    async fn create_scriptlet(
        &self,
        caller: &Caller,
        name: String,
        source: String,
        message: String,
    ) -> Result<ScriptletView, BerthError>;
    /// The scriptlet with one revision's text (`None`: the newest).
    async fn scriptlet(&self, id: i64, revision: Option<i64>) -> Result<ScriptletView, BerthError>;
    async fn save_revision(
        &self,
        caller: &Caller,
        id: i64,
        source: String,
        message: String,
    ) -> Result<RevisionView, BerthError>;
    async fn scriptlet_diff(&self, id: i64, from: i64, to: i64) -> Result<DiffView, BerthError>;
    /// The template library, for a new scriptlet to start from.
    async fn scriptlet_templates(&self) -> Result<Vec<TemplateView>, BerthError>;

    async fn sandbox_setup(&self, snapshot_id: Option<i64>) -> Result<SandboxSetup, BerthError>;
    async fn sandbox_run(&self, source: String, scenario: Scenario) -> Result<SandboxRun, BerthError>;
    /// Golden cases (their JSON) on a snapshot (`None`: the newest), with their coverage.
    async fn run_cases(
        &self,
        source: String,
        snapshot_id: Option<i64>,
        incus_version: String,
        cases: String,
    ) -> Result<CasesRun, BerthError>;
    /// A few seconds of a fuzz campaign, new (`state` empty) or continued.
    async fn fuzz(
        &self,
        source: String,
        snapshot_id: Option<i64>,
        incus_versions: Vec<String>,
        state: String,
    ) -> Result<FuzzRound, BerthError>;
    /// The scriptlet's reason × version matrix on a snapshot (the editor's Matrix tab).
    async fn matrix_run(&self, source: String, query: MatrixQuery) -> Result<MatrixView, BerthError>;
    /// The engine's completion schema for a version, as JSON (handed to the editor as is).
    async fn completion_schema(&self, incus_version: String) -> Result<String, BerthError>;

    /// Snapshots and scriptlets with their revisions, for the Impact page.
    async fn impact_setup(&self) -> Result<ImpactSetup, BerthError>;

    async fn list_snapshots(&self) -> Result<Vec<SnapshotSummary>, BerthError>;
    async fn upload_snapshot(&self, caller: &Caller, text: String) -> Result<SnapshotSummary, BerthError>;
    async fn delete_snapshot(&self, caller: &Caller, id: i64) -> Result<(), BerthError>;

    async fn list_connections(&self) -> Result<Vec<ConnectionView>, BerthError>;
    async fn add_connection(&self, caller: &Caller, new: NewConnection)
        -> Result<ConnectionView, BerthError>;
    async fn delete_connection(&self, caller: &Caller, name: String) -> Result<(), BerthError>;
    /// Captures the cluster behind a connection now and stores the snapshot.
    async fn capture(&self, caller: &Caller, connection: String) -> Result<SnapshotSummary, BerthError>;
    /// Turns a connection's decision log on or off (admins; audited).
    async fn set_decision_log(
        &self,
        caller: &Caller,
        connection: String,
        on: bool,
    ) -> Result<ConnectionView, BerthError>;

    /// The Decisions page: a page of decisions, the agreement, the gaps, the connections.
    async fn decisions_page(&self, query: DecisionQuery) -> Result<DecisionsPageData, BerthError>;

    async fn list_plans(&self) -> Result<Vec<PlanSummary>, BerthError>;
    async fn plan(&self, id: i64) -> Result<PlanView, BerthError>;
    /// The audit entries of one plan, oldest first (client addresses only for admins).
    async fn plan_timeline(&self, caller: &Caller, id: i64) -> Result<Vec<AuditEntryView>, BerthError>;
    /// The instances of stored snapshot `snapshot`, else of the newest capture of
    /// `connection` (default: the first connection), else of the newest snapshot.
    async fn plan_builder(
        &self,
        connection: Option<String>,
        snapshot: Option<i64>,
    ) -> Result<PlanBuilderSetup, BerthError>;
    async fn create_plan(&self, caller: &Caller, new: NewPlan) -> Result<PlanView, BerthError>;
    /// Replaces the moves; an approved plan goes back to review.
    async fn edit_plan(&self, caller: &Caller, id: i64, moves: Vec<MoveSpec>)
        -> Result<PlanView, BerthError>;
    /// Preview, submit, approve, request changes, execute, cancel; `Reverse` answers the new
    /// draft.
    async fn plan_action(&self, caller: &Caller, id: i64, action: PlanAction)
        -> Result<PlanView, BerthError>;
    /// A comment on the plan, or on its move `position` (from 1).
    async fn comment_plan(
        &self,
        caller: &Caller,
        id: i64,
        position: Option<usize>,
        body: String,
    ) -> Result<PlanView, BerthError>;
    /// Skips a pending move with a reason.
    async fn skip_move(
        &self,
        caller: &Caller,
        id: i64,
        position: usize,
        reason: String,
    ) -> Result<PlanView, BerthError>;
}

pub type SharedBackend = Arc<dyn Backend>;

/// The backend of the current request.
pub fn backend() -> Result<SharedBackend, BerthError> {
    use_context::<SharedBackend>()
        .ok_or_else(|| BerthError::Internal("the backend is not available to this request".into()))
}

/// Whether the request is a form the browser posted itself: it asks for HTML, as leptos_axum
/// tells such a post from a server function client's (which asks for its encoding).
fn posted_by_the_browser() -> bool {
    use_context::<axum::http::request::Parts>().is_some_and(|parts| {
        parts
            .headers
            .get(axum::http::header::ACCEPT)
            .and_then(|accept| accept.to_str().ok())
            .is_some_and(|accept| accept.contains("text/html"))
    })
}

/// The signed-in user of the current request, if any.
pub fn caller() -> Option<Caller> {
    use_context::<axum::http::request::Parts>()?
        .extensions
        .get::<Caller>()
        .cloned()
}

/// The signed-in user, for server functions that need one (the guard has already refused
/// requests without; this is the second lock).
pub fn signed_in() -> Result<Caller, BerthError> {
    caller().ok_or_else(|| BerthError::Unauthenticated("sign in first".into()))
}

/// A server function's result, with its HTTP status set from the error (server functions
/// answer 500 for every error otherwise; a wrong current password is not a server fault).
///
/// Not for a form the browser posted itself (without JavaScript, or before the page was
/// hydrated): leptos_axum sends the browser back to the form's page with the error in the URL,
/// where the page shows it, and a status set here would replace that redirect and leave the
/// browser on the server function's raw answer.
pub async fn answered<T>(work: impl Future<Output = Result<T, BerthError>>) -> Result<T, BerthError> {
    let result = work.await;
    if let Err(error) = &result {
        if posted_by_the_browser() {
            return result;
        }
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            if let Ok(status) = axum::http::StatusCode::from_u16(error.status_code()) {
                response.set_status(status);
            }
        }
    }
    result
}
