//! Server functions: arguments in, one `Backend` call, result out. No SQL, no rules.
//!
//! Who may call which is the server's access table (`server/src/http/access.rs`), checked
//! before any of these runs. Those that change something are POSTs sent with the session's
//! CSRF token ([`CsrfClient`]); reads are GETs.

use leptos::prelude::*;
use leptos::server_fn::codec::{GetUrl, Json};

use crate::csrf::CsrfClient;
use crate::error::BerthError;
use crate::types::{
    AuditEntryView, AuditPage, AuditQuery, CasesRun, ClusterView, ConnectionView, CreatedToken,
    DecisionQuery, DecisionsPageData, DiffView, FuzzRound, ImpactSetup, MatrixQuery, MatrixView, MoveSpec,
    NewPlan, PlanBuilderSetup, PlanSummary, PlanView, RevisionView, SandboxRun, SandboxSetup, Scenario,
    ScriptletSummary, ScriptletView, SignInOptions, SnapshotSummary, TemplateView, TokenView, UserView,
    Viewer,
};

/// The Cluster page's data for one snapshot (`None`: the newest). A GET, so it is cacheable
/// and safe: it changes nothing.
#[server(input = GetUrl, endpoint = "cluster_view")]
pub async fn get_cluster_view(snapshot_id: Option<i64>) -> Result<ClusterView, BerthError> {
    crate::backend::answered(async move { crate::backend::backend()?.cluster_view(snapshot_id).await }).await
}

/// Who is signed in (`None`: nobody), for the user menu and to hide what the role may not do.
#[server(input = GetUrl, endpoint = "viewer")]
pub async fn get_viewer() -> Result<Option<Viewer>, BerthError> {
    Ok(crate::backend::caller().map(|caller| Viewer {
        username: caller.username,
        role: caller.role,
        actions: caller.actions,
    }))
}

/// How one may sign in (the login page's single sign-on button); public, as the page is.
#[server(input = GetUrl, endpoint = "sign_in_options")]
pub async fn get_sign_in_options() -> Result<SignInOptions, BerthError> {
    Ok(use_context::<SignInOptions>().unwrap_or_default())
}

/// Changes the signed-in user's password; their other sessions end.
#[server(endpoint = "change_password", client = CsrfClient)]
pub async fn change_password(current: String, new: String, confirm: String) -> Result<(), BerthError> {
    crate::backend::answered(async move {
        if new != confirm {
            return Err(BerthError::BadRequest(
                "the new password and its confirmation differ".into(),
            ));
        }
        let caller = crate::backend::signed_in()?;
        crate::backend::backend()?
            .change_password(&caller, current, new)
            .await
    })
    .await
}

#[server(input = GetUrl, endpoint = "list_tokens")]
pub async fn list_tokens() -> Result<Vec<TokenView>, BerthError> {
    crate::backend::answered(async move {
        let caller = crate::backend::signed_in()?;
        crate::backend::backend()?.list_tokens(&caller).await
    })
    .await
}

/// Creates an API token for the signed-in user; the answer holds its value, shown once.
#[server(endpoint = "create_token", client = CsrfClient)]
pub async fn create_token(name: String) -> Result<CreatedToken, BerthError> {
    crate::backend::answered(async move {
        let caller = crate::backend::signed_in()?;
        crate::backend::backend()?.create_token(&caller, name).await
    })
    .await
}

#[server(endpoint = "revoke_token", client = CsrfClient)]
pub async fn revoke_token(id: i64) -> Result<(), BerthError> {
    crate::backend::answered(async move {
        let caller = crate::backend::signed_in()?;
        crate::backend::backend()?.revoke_token(&caller, id).await
    })
    .await
}

#[server(input = GetUrl, endpoint = "list_users")]
pub async fn list_users() -> Result<Vec<UserView>, BerthError> {
    crate::backend::answered(async move { crate::backend::backend()?.list_users().await }).await
}

/// Revokes one of a user's API tokens (admins).
#[server(endpoint = "revoke_user_token", client = CsrfClient)]
pub async fn revoke_user_token(username: String, id: i64) -> Result<(), BerthError> {
    crate::backend::answered(async move {
        let caller = crate::backend::signed_in()?;
        crate::backend::backend()?
            .revoke_user_token(&caller, username, id)
            .await
    })
    .await
}

#[server(endpoint = "add_user", client = CsrfClient)]
pub async fn add_user(username: String, role: String, password: String) -> Result<(), BerthError> {
    crate::backend::answered(async move {
        let caller = crate::backend::signed_in()?;
        crate::backend::backend()?
            .add_user(&caller, username, role, password)
            .await
    })
    .await
}

/// An admin's change to a user; empty fields are left as they are.
#[server(endpoint = "change_user", client = CsrfClient)]
pub async fn change_user(
    username: String,
    role: Option<String>,
    disabled: Option<bool>,
    password: Option<String>,
) -> Result<(), BerthError> {
    crate::backend::answered(async move {
        let caller = crate::backend::signed_in()?;
        let password = password.filter(|password| !password.is_empty());
        let role = role.filter(|role| !role.is_empty());
        crate::backend::backend()?
            .change_user(&caller, username, role, disabled, password)
            .await
    })
    .await
}

#[server(input = GetUrl, endpoint = "audit_log")]
pub async fn audit_log(query: AuditQuery) -> Result<AuditPage, BerthError> {
    crate::backend::answered(async move { crate::backend::backend()?.audit_log(query).await }).await
}

#[server(input = GetUrl, endpoint = "list_scriptlets")]
pub async fn list_scriptlets() -> Result<Vec<ScriptletSummary>, BerthError> {
    crate::backend::answered(async move { crate::backend::backend()?.list_scriptlets().await }).await
}

/// Creates a scriptlet; the answer is the new scriptlet (the editor opens on it).
#[server(endpoint = "create_scriptlet", client = CsrfClient)]
pub async fn create_scriptlet(
    name: String,
    source: String,
    message: String,
) -> Result<ScriptletView, BerthError> {
    crate::backend::answered(async move {
        let caller = crate::backend::signed_in()?;
        crate::backend::backend()?
            .create_scriptlet(&caller, name, source, message)
            .await
    })
    .await
}

#[server(input = GetUrl, endpoint = "get_scriptlet")]
pub async fn get_scriptlet(id: i64, revision: Option<i64>) -> Result<ScriptletView, BerthError> {
    crate::backend::answered(async move { crate::backend::backend()?.scriptlet(id, revision).await }).await
}

#[server(endpoint = "save_revision", client = CsrfClient)]
pub async fn save_revision(id: i64, source: String, message: String) -> Result<RevisionView, BerthError> {
    crate::backend::answered(async move {
        let caller = crate::backend::signed_in()?;
        crate::backend::backend()?
            .save_revision(&caller, id, source, message)
            .await
    })
    .await
}

#[server(input = GetUrl, endpoint = "scriptlet_diff")]
pub async fn scriptlet_diff(id: i64, from: i64, to: i64) -> Result<DiffView, BerthError> {
    crate::backend::answered(async move { crate::backend::backend()?.scriptlet_diff(id, from, to).await })
        .await
}

/// The template library (`templates/`), for the new-scriptlet picker.
#[server(input = GetUrl, endpoint = "scriptlet_templates")]
pub async fn list_scriptlet_templates() -> Result<Vec<TemplateView>, BerthError> {
    crate::backend::answered(async move { crate::backend::backend()?.scriptlet_templates().await }).await
}

#[server(input = GetUrl, endpoint = "sandbox_setup")]
pub async fn get_sandbox_setup(snapshot_id: Option<i64>) -> Result<SandboxSetup, BerthError> {
    crate::backend::answered(async move { crate::backend::backend()?.sandbox_setup(snapshot_id).await }).await
}

#[server(input = GetUrl, endpoint = "impact_setup")]
pub async fn get_impact_setup() -> Result<ImpactSetup, BerthError> {
    crate::backend::answered(async move { crate::backend::backend()?.impact_setup().await }).await
}

/// Runs the scriptlet on the scenario. A POST (the scriptlet may be long), though it changes
/// nothing.
#[server(endpoint = "sandbox_run", client = CsrfClient)]
pub async fn run_sandbox(source: String, scenario: Scenario) -> Result<SandboxRun, BerthError> {
    crate::backend::answered(async move { crate::backend::backend()?.sandbox_run(source, scenario).await })
        .await
}

/// Runs golden cases (`cases`: their JSON, as `berth check --cases` reads it) on a snapshot,
/// with the lines they ran. A POST: the scriptlet and the cases may be long.
#[server(endpoint = "run_cases", client = CsrfClient)]
pub async fn run_cases(
    source: String,
    snapshot_id: Option<i64>,
    incus_version: String,
    cases: String,
) -> Result<CasesRun, BerthError> {
    crate::backend::answered(async move {
        crate::backend::backend()?
            .run_cases(source, snapshot_id, incus_version, cases)
            .await
    })
    .await
}

/// Fuzzes the scriptlet for a few seconds: a new campaign (`state` empty) or the one an earlier
/// answer's `state` describes. `incus_versions` as the author writes them, comma-separated
/// (empty: the snapshot's; a text, since an empty list would not reach the server as a form).
#[server(endpoint = "fuzz_scriptlet", client = CsrfClient)]
pub async fn fuzz_scriptlet(
    source: String,
    snapshot_id: Option<i64>,
    incus_versions: String,
    state: String,
) -> Result<FuzzRound, BerthError> {
    let incus_versions: Vec<String> = incus_versions
        .split(',')
        .map(|version| version.trim().to_owned())
        .filter(|version| !version.is_empty())
        .collect();
    crate::backend::answered(async move {
        crate::backend::backend()?
            .fuzz(source, snapshot_id, incus_versions, state)
            .await
    })
    .await
}

/// The scriptlet's reason × version matrix on a snapshot. A POST (the scriptlet may be long),
/// though it changes nothing.
#[server(endpoint = "matrix_run", client = CsrfClient)]
pub async fn run_matrix(source: String, query: MatrixQuery) -> Result<MatrixView, BerthError> {
    crate::backend::answered(async move { crate::backend::backend()?.matrix_run(source, query).await }).await
}

#[server(input = GetUrl, endpoint = "completion_schema")]
pub async fn completion_schema(incus_version: String) -> Result<String, BerthError> {
    crate::backend::answered(async move { crate::backend::backend()?.completion_schema(incus_version).await })
        .await
}

#[server(input = GetUrl, endpoint = "list_snapshots")]
pub async fn list_snapshots() -> Result<Vec<SnapshotSummary>, BerthError> {
    crate::backend::answered(async move { crate::backend::backend()?.list_snapshots().await }).await
}

/// Stores an uploaded snapshot file (its text); a file that is not a usable snapshot is
/// refused with the reason.
#[server(endpoint = "upload_snapshot", client = CsrfClient)]
pub async fn upload_snapshot(text: String) -> Result<SnapshotSummary, BerthError> {
    crate::backend::answered(async move {
        let caller = crate::backend::signed_in()?;
        crate::backend::backend()?.upload_snapshot(&caller, text).await
    })
    .await
}

#[server(endpoint = "delete_snapshot", client = CsrfClient)]
pub async fn delete_snapshot(id: i64) -> Result<(), BerthError> {
    crate::backend::answered(async move {
        let caller = crate::backend::signed_in()?;
        crate::backend::backend()?.delete_snapshot(&caller, id).await
    })
    .await
}

#[server(input = GetUrl, endpoint = "list_connections")]
pub async fn list_connections() -> Result<Vec<ConnectionView>, BerthError> {
    crate::backend::answered(async move { crate::backend::backend()?.list_connections().await }).await
}

/// Adds a connection; the fields are those of [`NewConnection`], flat so a plain form can send
/// them (empty ones are absent).
#[server(endpoint = "add_connection", client = CsrfClient)]
pub async fn add_connection(
    name: String,
    remote: String,
    client_cert: String,
    client_key: String,
    server_cert: String,
    server_ca: String,
    server_fingerprint: String,
) -> Result<ConnectionView, BerthError> {
    crate::backend::answered(async move {
        let caller = crate::backend::signed_in()?;
        let connection = crate::types::NewConnection {
            name,
            remote,
            client_cert: Some(client_cert),
            client_key: Some(client_key),
            server_cert: Some(server_cert),
            server_ca: Some(server_ca),
            server_fingerprint: Some(server_fingerprint),
            decision_log: false,
        };
        crate::backend::backend()?
            .add_connection(&caller, connection)
            .await
    })
    .await
}

#[server(endpoint = "delete_connection", client = CsrfClient)]
pub async fn delete_connection(name: String) -> Result<(), BerthError> {
    crate::backend::answered(async move {
        let caller = crate::backend::signed_in()?;
        crate::backend::backend()?.delete_connection(&caller, name).await
    })
    .await
}

/// Captures the cluster behind a connection now; the answer is the stored snapshot.
#[server(endpoint = "capture_snapshot", client = CsrfClient)]
pub async fn capture_snapshot(connection: String) -> Result<SnapshotSummary, BerthError> {
    crate::backend::answered(async move {
        let caller = crate::backend::signed_in()?;
        crate::backend::backend()?.capture(&caller, connection).await
    })
    .await
}

#[server(input = GetUrl, endpoint = "list_plans")]
pub async fn list_plans() -> Result<Vec<PlanSummary>, BerthError> {
    crate::backend::answered(async move { crate::backend::backend()?.list_plans().await }).await
}

#[server(input = GetUrl, endpoint = "get_plan")]
pub async fn get_plan(id: i64) -> Result<PlanView, BerthError> {
    crate::backend::answered(async move { crate::backend::backend()?.plan(id).await }).await
}

/// The audit entries of one plan, oldest first.
#[server(input = GetUrl, endpoint = "plan_timeline")]
pub async fn plan_timeline(id: i64) -> Result<Vec<AuditEntryView>, BerthError> {
    crate::backend::answered(async move {
        let caller = crate::backend::signed_in()?;
        crate::backend::backend()?.plan_timeline(&caller, id).await
    })
    .await
}

/// The instances a plan can be built from: stored snapshot `snapshot`, else the newest capture
/// of `connection` (`None`: the first connection), else the newest snapshot.
#[server(input = GetUrl, endpoint = "plan_builder")]
pub async fn plan_builder(
    connection: Option<String>,
    snapshot: Option<i64>,
) -> Result<PlanBuilderSetup, BerthError> {
    crate::backend::answered(async move {
        let connection = connection.filter(|name| !name.is_empty());
        crate::backend::backend()?
            .plan_builder(connection, snapshot)
            .await
    })
    .await
}

/// Saves a new draft; the answer is the plan (the page opens on it). JSON: the moves are a list
/// of objects.
#[server(input = Json, endpoint = "create_plan", client = CsrfClient)]
pub async fn create_plan(new: NewPlan) -> Result<PlanView, BerthError> {
    crate::backend::answered(async move {
        let caller = crate::backend::signed_in()?;
        crate::backend::backend()?.create_plan(&caller, new).await
    })
    .await
}

/// Replaces a plan's moves; an approved plan goes back to review.
#[server(input = Json, endpoint = "edit_plan", client = CsrfClient)]
pub async fn edit_plan(id: i64, moves: Vec<MoveSpec>) -> Result<PlanView, BerthError> {
    crate::backend::answered(async move {
        let caller = crate::backend::signed_in()?;
        crate::backend::backend()?.edit_plan(&caller, id, moves).await
    })
    .await
}

/// One plan action as the signed-in user.
#[cfg(feature = "ssr")]
async fn plan_action(id: i64, action: crate::types::PlanAction) -> Result<PlanView, BerthError> {
    crate::backend::answered(async move {
        let caller = crate::backend::signed_in()?;
        crate::backend::backend()?.plan_action(&caller, id, action).await
    })
    .await
}

/// Previews every move on the connection's newest snapshot: verdicts, decisions, load.
#[server(endpoint = "preview_plan", client = CsrfClient)]
pub async fn preview_plan(id: i64) -> Result<PlanView, BerthError> {
    plan_action(id, crate::types::PlanAction::Preview).await
}

#[server(endpoint = "submit_plan", client = CsrfClient)]
pub async fn submit_plan(id: i64) -> Result<PlanView, BerthError> {
    plan_action(id, crate::types::PlanAction::Submit).await
}

/// Approves the version of the plan the page showed (a plan changed since is refused).
#[server(endpoint = "approve_plan", client = CsrfClient)]
pub async fn approve_plan(id: i64, version: i64) -> Result<PlanView, BerthError> {
    plan_action(
        id,
        crate::types::PlanAction::Approve {
            version: Some(version),
        },
    )
    .await
}

#[server(endpoint = "request_plan_changes", client = CsrfClient)]
pub async fn request_plan_changes(id: i64) -> Result<PlanView, BerthError> {
    plan_action(id, crate::types::PlanAction::RequestChanges).await
}

/// Starts executing an approved plan; the moves run on the server (follow them on the plan's
/// page or its event stream).
#[server(endpoint = "execute_plan", client = CsrfClient)]
pub async fn execute_plan(id: i64) -> Result<PlanView, BerthError> {
    plan_action(id, crate::types::PlanAction::Execute).await
}

#[server(endpoint = "cancel_plan", client = CsrfClient)]
pub async fn cancel_plan(id: i64) -> Result<PlanView, BerthError> {
    plan_action(id, crate::types::PlanAction::Cancel).await
}

/// A new draft that moves the instances back; the answer is that draft.
#[server(endpoint = "reverse_plan", client = CsrfClient)]
pub async fn reverse_plan(id: i64) -> Result<PlanView, BerthError> {
    plan_action(id, crate::types::PlanAction::Reverse).await
}

/// A comment on the plan, or on its move `position` (from 1; empty: the plan). Flat fields, so
/// a plain form can send it.
#[server(endpoint = "comment_plan", client = CsrfClient)]
pub async fn comment_plan(id: i64, body: String, position: Option<String>) -> Result<PlanView, BerthError> {
    crate::backend::answered(async move {
        let caller = crate::backend::signed_in()?;
        let position = match position.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
            None => None,
            Some(text) => Some(
                text.parse::<usize>()
                    .map_err(|_| BerthError::BadRequest(format!("{text:?} is not a move number")))?,
            ),
        };
        crate::backend::backend()?
            .comment_plan(&caller, id, position, body)
            .await
    })
    .await
}

/// Skips a pending move (numbered from 1) with a reason.
#[server(endpoint = "skip_plan_move", client = CsrfClient)]
pub async fn skip_plan_move(id: i64, position: usize, reason: String) -> Result<PlanView, BerthError> {
    crate::backend::answered(async move {
        let caller = crate::backend::signed_in()?;
        crate::backend::backend()?
            .skip_move(&caller, id, position, reason)
            .await
    })
    .await
}

/// The Decisions page's data for its filters: a page of decisions, the agreement, the gaps.
#[server(input = GetUrl, endpoint = "decisions_page")]
pub async fn get_decisions_page(query: DecisionQuery) -> Result<DecisionsPageData, BerthError> {
    crate::backend::answered(async move { crate::backend::backend()?.decisions_page(query).await }).await
}

/// Turns a connection's decision log on or off (admins).
#[server(endpoint = "set_decision_log", client = CsrfClient)]
pub async fn set_decision_log(connection: String, on: bool) -> Result<ConnectionView, BerthError> {
    crate::backend::answered(async move {
        let caller = crate::backend::signed_in()?;
        crate::backend::backend()?
            .set_decision_log(&caller, connection, on)
            .await
    })
    .await
}
