//! Services behind the UI: the implementation of [`berth_app::backend::Backend`].
//!
//! Each method loads what it needs from the store, asks `berth-core` for anything derived,
//! and maps the result to the UI's wire types (plain functions: `From` cannot be implemented
//! between two foreign types). Account operations go through [`Auth`], which audits them.

pub(crate) mod accounts;
pub mod assurance;
mod cluster;
pub mod connections;
pub mod decisions;
pub mod impact;
pub mod matrix;
pub mod plans;
pub(crate) mod rollouts;
pub mod sandbox;
pub mod scriptlets;
pub mod snapshots;

use berth_app::backend::{Backend, Caller};
use berth_app::error::BerthError;
use berth_app::types::{
    AuditEntryView, AuditPage, AuditQuery, CasesRun, ClusterView, ConnectionView, CreatedToken,
    DecisionQuery, DecisionsPageData, DiffView, FuzzRound, ImpactSetup, MatrixQuery, MatrixView, MoveSpec,
    NewConnection, NewPlan, PlanAction, PlanBuilderSetup, PlanSummary, PlanView, RevisionView, SandboxRun,
    SandboxSetup, Scenario, ScriptletSummary, ScriptletView, SnapshotSummary, TemplateView, TokenView,
    UserView,
};
use std::sync::Arc;

use crate::audit::Actor;
use crate::auth::Auth;
use crate::db::Store;
use crate::error::AppError;
use crate::executor::Executor;
use crate::sandbox::{Sandbox, SandboxPools};

pub struct Services {
    store: Store,
    auth: Auth,
    /// The authors' workers: sandbox runs from the editor.
    sandbox: Arc<Sandbox>,
    plans: plans::PlanContext,
}

impl Services {
    /// Plan previews and the executor get the plans' pool, everything else the authors'.
    pub fn new(store: Store, auth: Auth, pools: &SandboxPools) -> Services {
        let plans = plans::PlanContext {
            executor: Executor::new(auth.clone(), pools.plans.clone()),
            auth: auth.clone(),
            sandbox: pools.plans.clone(),
            executes: true,
            review: berth_core::plan::Review::default(),
        };
        Services {
            store,
            auth,
            sandbox: pools.authors.clone(),
            plans,
        }
    }

    /// How many approvals new plans need (`--plan-approvals`; default 1).
    pub fn with_plan_approvals(mut self, required: u32) -> Services {
        self.plans.review = berth_core::plan::Review { required };
        self
    }

    /// What runs executing plans in this process.
    pub fn executor(&self) -> &Arc<Executor> {
        &self.plans.executor
    }

    pub fn plan_context(&self) -> &plans::PlanContext {
        &self.plans
    }
}

/// Who acts on a plan, with the role the guard established.
fn acting(caller: &Caller) -> Result<plans::Acting, AppError> {
    let role = caller
        .role
        .parse()
        .map_err(|_| AppError::Forbidden(format!("unknown role {:?}", caller.role)))?;
    Ok(plans::Acting::new(actor(caller), &caller.username, role))
}

/// Who acts, for the audit log.
fn actor(caller: &Caller) -> Actor {
    Actor::user(caller.user_id, &caller.username, caller.address.clone())
}

#[async_trait::async_trait]
impl Backend for Services {
    async fn cluster_view(&self, snapshot_id: Option<i64>) -> Result<ClusterView, BerthError> {
        Ok(cluster::cluster_view(&self.store, snapshot_id).await?)
    }

    async fn change_password(&self, caller: &Caller, current: String, new: String) -> Result<(), BerthError> {
        Ok(accounts::change_password(&self.auth, caller, &current, &new).await?)
    }

    async fn list_tokens(&self, caller: &Caller) -> Result<Vec<TokenView>, BerthError> {
        Ok(accounts::list_tokens(&self.auth, caller).await?)
    }

    async fn create_token(&self, caller: &Caller, name: String) -> Result<CreatedToken, BerthError> {
        Ok(accounts::create_token(&self.auth, caller, &name).await?)
    }

    async fn revoke_token(&self, caller: &Caller, id: i64) -> Result<(), BerthError> {
        Ok(accounts::revoke_token(&self.auth, caller, id).await?)
    }

    async fn list_users(&self) -> Result<Vec<UserView>, BerthError> {
        Ok(accounts::list_users(&self.auth).await?)
    }

    async fn revoke_user_token(&self, caller: &Caller, username: String, id: i64) -> Result<(), BerthError> {
        Ok(accounts::revoke_token_of(&self.auth, &actor(caller), &username, id).await?)
    }

    async fn add_user(
        &self,
        caller: &Caller,
        username: String,
        role: String,
        password: String,
    ) -> Result<(), BerthError> {
        Ok(accounts::add_user(&self.auth, caller, &username, &role, &password).await?)
    }

    async fn change_user(
        &self,
        caller: &Caller,
        username: String,
        role: Option<String>,
        disabled: Option<bool>,
        password: Option<String>,
    ) -> Result<(), BerthError> {
        Ok(accounts::change_user(
            &self.auth,
            caller,
            &username,
            role.as_deref(),
            disabled,
            password.as_deref(),
        )
        .await?)
    }

    async fn audit_log(&self, query: AuditQuery) -> Result<AuditPage, BerthError> {
        Ok(accounts::audit_log(&self.store, query).await?)
    }

    async fn list_scriptlets(&self) -> Result<Vec<ScriptletSummary>, BerthError> {
        Ok(scriptlets::list(&self.store).await?)
    }

    async fn create_scriptlet(
        &self,
        caller: &Caller,
        name: String,
        source: String,
        message: String,
    ) -> Result<ScriptletView, BerthError> {
        Ok(scriptlets::create(&self.auth, &actor(caller), &name, &source, &message).await?)
    }

    async fn scriptlet(&self, id: i64, revision: Option<i64>) -> Result<ScriptletView, BerthError> {
        Ok(scriptlets::view(&self.store, id, revision).await?)
    }

    async fn save_revision(
        &self,
        caller: &Caller,
        id: i64,
        source: String,
        message: String,
    ) -> Result<RevisionView, BerthError> {
        Ok(scriptlets::revise(&self.auth, &actor(caller), id, &source, &message).await?)
    }

    async fn scriptlet_diff(&self, id: i64, from: i64, to: i64) -> Result<DiffView, BerthError> {
        Ok(scriptlets::diff(&self.store, id, from, to).await?)
    }

    async fn scriptlet_templates(&self) -> Result<Vec<TemplateView>, BerthError> {
        Ok(scriptlets::templates())
    }

    async fn sandbox_setup(&self, snapshot_id: Option<i64>) -> Result<SandboxSetup, BerthError> {
        Ok(sandbox::setup(&self.store, snapshot_id).await?)
    }

    async fn sandbox_run(&self, source: String, scenario: Scenario) -> Result<SandboxRun, BerthError> {
        Ok(sandbox::run(&self.store, &self.sandbox, &source, &scenario).await?)
    }

    async fn run_cases(
        &self,
        source: String,
        snapshot_id: Option<i64>,
        incus_version: String,
        cases: String,
    ) -> Result<CasesRun, BerthError> {
        Ok(assurance::cases_for_editor(
            &self.store,
            &self.sandbox,
            source,
            snapshot_id,
            incus_version,
            &cases,
        )
        .await?)
    }

    async fn fuzz(
        &self,
        source: String,
        snapshot_id: Option<i64>,
        incus_versions: Vec<String>,
        state: String,
    ) -> Result<FuzzRound, BerthError> {
        Ok(assurance::fuzz_for_editor(
            &self.store,
            &self.sandbox,
            source,
            snapshot_id,
            incus_versions,
            &state,
        )
        .await?)
    }

    async fn matrix_run(&self, source: String, query: MatrixQuery) -> Result<MatrixView, BerthError> {
        Ok(matrix::run_for_page(&self.store, &self.sandbox, source, &query).await?)
    }

    async fn impact_setup(&self) -> Result<ImpactSetup, BerthError> {
        Ok(impact::setup(&self.store).await?)
    }

    async fn completion_schema(&self, incus_version: String) -> Result<String, BerthError> {
        let version = crate::params::incus_version::given_or_default(Some(&incus_version))?;
        let schema = berth_core::engine::schema::schema(version);
        serde_json::to_string(&schema).map_err(|error| AppError::BadRequest(error.to_string()).into())
    }

    async fn list_snapshots(&self) -> Result<Vec<SnapshotSummary>, BerthError> {
        Ok(snapshots::list(&self.store).await?)
    }

    async fn upload_snapshot(&self, caller: &Caller, text: String) -> Result<SnapshotSummary, BerthError> {
        Ok(snapshots::upload(&self.auth, &actor(caller), &text)
            .await?
            .snapshot)
    }

    async fn delete_snapshot(&self, caller: &Caller, id: i64) -> Result<(), BerthError> {
        Ok(snapshots::delete(&self.auth, &actor(caller), id).await?)
    }

    async fn list_connections(&self) -> Result<Vec<ConnectionView>, BerthError> {
        Ok(connections::list(&self.store).await?)
    }

    async fn add_connection(
        &self,
        caller: &Caller,
        new: NewConnection,
    ) -> Result<ConnectionView, BerthError> {
        Ok(connections::add(&self.auth, &actor(caller), &new).await?)
    }

    async fn delete_connection(&self, caller: &Caller, name: String) -> Result<(), BerthError> {
        Ok(connections::delete(&self.auth, &actor(caller), &name).await?)
    }

    async fn capture(&self, caller: &Caller, connection: String) -> Result<SnapshotSummary, BerthError> {
        Ok(connections::capture_now(&self.auth, &actor(caller), &connection)
            .await?
            .snapshot)
    }

    async fn set_decision_log(
        &self,
        caller: &Caller,
        connection: String,
        on: bool,
    ) -> Result<ConnectionView, BerthError> {
        Ok(connections::set_decision_log(&self.auth, &actor(caller), &connection, on).await?)
    }

    async fn decisions_page(&self, query: DecisionQuery) -> Result<DecisionsPageData, BerthError> {
        Ok(decisions::page(&self.store, &query).await?)
    }

    async fn list_plans(&self) -> Result<Vec<PlanSummary>, BerthError> {
        Ok(plans::list(&self.store).await?)
    }

    async fn plan(&self, id: i64) -> Result<PlanView, BerthError> {
        Ok(plans::view(&self.store, id).await?)
    }

    async fn plan_timeline(&self, caller: &Caller, id: i64) -> Result<Vec<AuditEntryView>, BerthError> {
        Ok(plans::timeline(&self.store, id, acting(caller)?.role).await?)
    }

    async fn plan_builder(
        &self,
        connection: Option<String>,
        snapshot: Option<i64>,
    ) -> Result<PlanBuilderSetup, BerthError> {
        Ok(plans::builder(&self.store, connection, snapshot).await?)
    }

    async fn create_plan(&self, caller: &Caller, new: NewPlan) -> Result<PlanView, BerthError> {
        Ok(plans::create(&self.plans, &acting(caller)?, &new).await?)
    }

    async fn edit_plan(
        &self,
        caller: &Caller,
        id: i64,
        moves: Vec<MoveSpec>,
    ) -> Result<PlanView, BerthError> {
        Ok(plans::edit(&self.plans, &acting(caller)?, id, &moves).await?)
    }

    async fn plan_action(
        &self,
        caller: &Caller,
        id: i64,
        action: PlanAction,
    ) -> Result<PlanView, BerthError> {
        Ok(plans::act(&self.plans, &acting(caller)?, id, action).await?)
    }

    async fn comment_plan(
        &self,
        caller: &Caller,
        id: i64,
        position: Option<usize>,
        body: String,
    ) -> Result<PlanView, BerthError> {
        Ok(plans::comment(&self.plans, &acting(caller)?, id, position, &body).await?)
    }

    async fn skip_move(
        &self,
        caller: &Caller,
        id: i64,
        position: usize,
        reason: String,
    ) -> Result<PlanView, BerthError> {
        Ok(plans::skip_move(&self.plans, &acting(caller)?, id, position, &reason).await?)
    }
}
