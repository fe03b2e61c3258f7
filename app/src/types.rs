//! The wire types pages display, named for what they show. The server builds them from the
//! domain (`server/src/services/`); the UI never sees `berth-core` types. A feature's own
//! types live in a module of their own (`decisions`).

use serde::{Deserialize, Serialize};

mod decisions;

pub use decisions::{
    AgreementView, DecisionList, DecisionQuery, DecisionsPageData, GapView, LoggedDecision, PredictedView,
    RevisionRef,
};

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

/// How one may sign in besides a local account: the single sign-on's name on the login
/// page's button (`None`: no single sign-on). The server provides it as context.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SignInOptions {
    pub single_sign_on: Option<String>,
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
    /// An account of the identity provider (single sign-on): it has no password in Berth.
    pub external: bool,
    pub created_at: String,
    /// Their unrevoked API tokens.
    pub tokens: Vec<TokenView>,
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

/// A scriptlet as listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScriptletSummary {
    pub id: i64,
    pub name: String,
    pub created_by: String,
    /// The newest revision's number.
    pub revisions: i64,
    pub updated_at: String,
    pub updated_by: String,
}

/// A starting scriptlet of the template library (`templates/`), as the new-scriptlet picker
/// offers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateView {
    /// Its file name, the `?template=` of `/scriptlets/new`, and the name it is saved under.
    pub name: String,
    pub title: String,
    /// What it does, in one line.
    pub summary: String,
    pub source: String,
}

/// One saved revision, without its text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RevisionView {
    pub number: i64,
    pub message: String,
    pub author: String,
    pub created_at: String,
}

/// One revision with its text (`GET /api/v1/scriptlets/{id}/revisions/{n}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RevisionText {
    pub scriptlet_id: i64,
    #[serde(flatten)]
    pub revision: RevisionView,
    pub source: String,
}

/// A scriptlet with one revision's text (the newest unless another was asked for) and the
/// list of all its revisions, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScriptletView {
    pub id: i64,
    pub name: String,
    pub created_by: String,
    pub revision: i64,
    pub source: String,
    pub revisions: Vec<RevisionView>,
}

/// A line diff between two revisions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiffView {
    pub from: i64,
    pub to: i64,
    pub lines: Vec<DiffLine>,
    pub added: usize,
    pub removed: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiffLine {
    /// `same`, `added` or `removed`.
    pub kind: String,
    /// 1-based line numbers in the older and the newer text.
    pub old_line: Option<usize>,
    pub new_line: Option<usize>,
    pub text: String,
}

/// A connection to an Incus cluster as shown (never its client key).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectionView {
    pub name: String,
    pub remote: String,
    /// How Berth proves itself: `unix socket` or `client certificate`.
    pub credential: String,
    /// How Berth trusts the server: `file permissions`, `fingerprint …`, `certificate`, `CA`.
    pub trust: String,
    pub created_by: String,
    pub created_at: String,
    /// Whether the decision log listens to its cluster.
    #[serde(default)]
    pub decision_log: bool,
}

/// A new connection, as an admin enters it. PEM texts, not file names: the server keeps them
/// (the client key sealed). `Debug` shows no client key.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NewConnection {
    pub name: String,
    /// `unix:///var/lib/incus/unix.socket` or `https://HOST:PORT`.
    pub remote: String,
    pub client_cert: Option<String>,
    pub client_key: Option<String>,
    pub server_cert: Option<String>,
    pub server_ca: Option<String>,
    pub server_fingerprint: Option<String>,
    /// Turn the decision log on at once.
    #[serde(default)]
    pub decision_log: bool,
}

impl std::fmt::Debug for NewConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewConnection")
            .field("name", &self.name)
            .field("remote", &self.remote)
            .field("client_cert", &self.client_cert.as_ref().map(|_| "[certificate]"))
            .field("client_key", &self.client_key.as_ref().map(|_| "[redacted]"))
            .field("server_cert", &self.server_cert.as_ref().map(|_| "[certificate]"))
            .field("server_ca", &self.server_ca.as_ref().map(|_| "[certificate]"))
            .field("server_fingerprint", &self.server_fingerprint)
            .field("decision_log", &self.decision_log)
            .finish()
    }
}

/// What the sandbox offers to pick from on one snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SandboxSetup {
    pub snapshot: SnapshotSummary,
    pub snapshots: Vec<SnapshotSummary>,
    pub instances: Vec<InstanceChoice>,
    pub projects: Vec<String>,
    pub members: Vec<String>,
    pub groups: Vec<String>,
    /// Versions the simulator imitates, newest last.
    pub versions: Vec<String>,
    /// The placement scriptlet set on the cluster when the snapshot was taken (empty: none).
    pub live_scriptlet: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceChoice {
    pub project: String,
    pub name: String,
    pub member: String,
    pub status: String,
}

/// A sandbox scenario as in the page's URL.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Scenario {
    pub snapshot_id: Option<i64>,
    /// `create`, `move`, `evacuate`, `restore` (default `create`).
    pub kind: String,
    pub project: String,
    pub name: String,
    pub target_project: String,
    /// Empty (Incus's choice), a member, or `@group`.
    pub target: String,
    /// For evacuate and restore.
    pub member: String,
    /// Empty: the snapshot's version.
    pub incus_version: String,
    /// Operations as JSON (a cumulative sequence); when set, the fields above are ignored.
    pub ops: String,
    /// One placement call as JSON (a golden case's `call`, e.g. a fuzz finding), evaluated
    /// directly; when set, the fields above are ignored.
    #[serde(default)]
    pub call: String,
}

/// A diagnostic of the scriptlet, where it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiagnosticView {
    /// `error` or `warning`.
    pub severity: String,
    pub code: Option<String>,
    pub message: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub rendered: String,
}

/// One run of the sandbox: the scriptlet's diagnostics and, when it compiles, what Incus would
/// do (and, for moves, what Berth's corrected move would do).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SandboxRun {
    pub incus_version: String,
    pub diagnostics: Vec<DiagnosticView>,
    /// The operations run, as JSON (what `berth simulate --op` takes).
    pub ops: Vec<String>,
    pub upstream: Option<SimulationView>,
    /// For scenarios with a cross-project move.
    pub corrected: Option<SimulationView>,
    /// How upstream and corrected differ, in sentences.
    pub differences: Vec<String>,
    /// The scenario cannot run (unknown instance, bad operations JSON…).
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimulationView {
    pub incus_version: String,
    pub profile: String,
    pub mode: String,
    pub calls: Vec<CallView>,
    pub outcomes: Vec<OutcomeView>,
    #[serde(default)]
    pub stopped: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallView {
    pub instance: String,
    pub reason: String,
    pub project: String,
    pub runs_on: String,
    pub candidates: Vec<String>,
    pub excluded: Vec<ExcludedView>,
    pub validation_only: bool,
    pub logs: Vec<LogView>,
    pub trace: Vec<TraceView>,
    pub target: Option<String>,
    pub error: Option<DiagnosticView>,
    /// Selected request fields, as `field = value` (the whole request is in the API's answer).
    #[serde(default)]
    pub request: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExcludedView {
    pub member: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogView {
    pub level: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceView {
    pub builtin: String,
    pub arguments: String,
    pub result: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutcomeView {
    pub instance: String,
    pub member: Option<String>,
    pub project: Option<String>,
    pub error: Option<String>,
}

/// One move as a plan's author gives it (`berth plan create --moves FILE.json`, the builder,
/// `POST /api/v1/plans`): `target` is empty (automatic), a member or `@group`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MoveSpec {
    pub project: String,
    pub name: String,
    pub target_project: String,
    #[serde(default)]
    pub target: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NewPlan {
    pub name: String,
    /// The connection the plan executes on (and, without `snapshot_id`, is previewed against
    /// fresh captures of); may be empty for a plan drafted on a snapshot alone.
    #[serde(default)]
    pub connection: String,
    /// A stored snapshot to draft, preview and review the plan on (the demo included);
    /// executing it still needs a connection, whose fresh capture must agree with the review.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_id: Option<i64>,
    /// The moves; empty for a rollout.
    #[serde(default)]
    pub moves: Vec<MoveSpec>,
    /// Instead of moves: set this scriptlet revision on the connection's cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<RolloutSpec>,
    /// Stop at the first failed move (default) or go on with the others.
    #[serde(default = "yes")]
    pub stop_on_failure: bool,
}

fn yes() -> bool {
    true
}

/// A plan step "set scriptlet revision R on connection C".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RolloutSpec {
    pub scriptlet: i64,
    pub revision: i64,
}

/// A plan's rollout step as shown: what it sets, its impact replay, how it went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RolloutView {
    pub scriptlet: i64,
    pub scriptlet_name: String,
    pub revision: i64,
    /// `pending`, `running`, `succeeded` or `failed`.
    pub state: String,
    /// Incus's error, verbatim.
    pub error: Option<String>,
    /// The cluster's scriptlet before, kept as this revision of the same scriptlet.
    pub previous_revision: Option<i64>,
    /// The impact replay of the cluster's scriptlet against this revision, from the preview.
    pub impact: Option<ImpactView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanSummary {
    pub id: i64,
    pub name: String,
    pub connection: String,
    pub author: String,
    pub state: String,
    pub moves: usize,
    pub blocked: usize,
    pub updated_at: String,
}

/// A plan as the API, `berth plan status --json` and the Plans pages show it. The first fields
/// (`id`, `state`, `moves` with `project`, `name`, `target_project`, `target`, `verdict`,
/// `reasons`, `decision`, `state`, `error`) are a contract for scripts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanView {
    pub id: i64,
    pub state: String,
    /// Changes with every edit, new preview and supersede; an approval is for one version
    /// (`POST /api/v1/plans/{id}/approve` with `{"version": V}`).
    pub version: i64,
    pub moves: Vec<PlanMoveView>,
    pub name: String,
    /// The connection it executes on; empty for a plan drafted on a snapshot alone.
    pub connection: String,
    /// The stored snapshot it is previewed on, when not fresh captures of its connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_id: Option<i64>,
    pub author: String,
    /// Every account that created the plan or changed what it will run: none of them may
    /// approve it.
    #[serde(default)]
    pub contributors: Vec<String>,
    pub stop_on_failure: bool,
    pub required_approvals: u32,
    /// Who approved this version.
    pub approvals: Vec<String>,
    /// The snapshot the preview was made on; `None` before the first preview.
    pub preview: Option<PreviewStamp>,
    /// Why the plan was superseded, when it was.
    pub superseded: Option<String>,
    /// While it executes: the error its executor last stopped on, when nothing happened since
    /// (the cluster out of reach); the plan resumes where it stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interrupted: Option<String>,
    /// The plan this one reverses.
    pub reverse_of: Option<i64>,
    /// Instances per member before and after the plan, as previewed.
    pub load: Vec<LoadView>,
    /// The plan's one step when it rolls out a scriptlet revision instead of moving instances.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<RolloutView>,
    pub comments: Vec<CommentView>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreviewStamp {
    pub snapshot_id: i64,
    pub snapshot_hash: String,
    pub incus_version: String,
    pub previewed_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanMoveView {
    pub project: String,
    pub name: String,
    pub target_project: String,
    pub target: String,
    /// `ready`, `warning` or `blocked`; `None` before a preview.
    pub verdict: Option<String>,
    pub reasons: Vec<String>,
    /// The member Berth's one placement decision chose.
    pub decision: Option<String>,
    /// `pending`, `skipped`, `running`, `succeeded` or `failed`.
    pub state: String,
    /// Incus's error, verbatim, when the move failed.
    pub error: Option<String>,
    /// Why the move was skipped.
    pub skipped: Option<String>,
    /// Where the instance was when the move was previewed (or executed).
    pub from_member: Option<String>,
    pub chosen_by: Option<String>,
    pub candidates: Vec<String>,
    pub excluded: Vec<ExcludedView>,
    pub scriptlet_logs: Vec<String>,
    /// The scriptlet calls Incus itself still makes.
    pub incus_calls: Vec<IncusCallView>,
    pub started_at: Option<String>,
    pub duration_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncusCallView {
    pub reason: String,
    pub project: String,
    pub candidates: Vec<String>,
    pub outcome: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadView {
    pub member: String,
    pub before: usize,
    pub after: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommentView {
    pub author: String,
    /// The move (numbered from 1) the comment is about; `None` for the plan.
    pub position: Option<usize>,
    pub body: String,
    pub at: String,
}

/// What a user does to a plan (one endpoint each under `/api/v1/plans/{id}/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanAction {
    Preview,
    Submit,
    /// The version the approver saw (`None`: refused, an approval is for one version).
    Approve {
        version: Option<i64>,
    },
    RequestChanges,
    Execute,
    Cancel,
    Reverse,
}

impl PlanAction {
    pub fn as_str(self) -> &'static str {
        match self {
            PlanAction::Preview => "preview",
            PlanAction::Submit => "submit",
            PlanAction::Approve { .. } => "approve",
            PlanAction::RequestChanges => "request_changes",
            PlanAction::Execute => "execute",
            PlanAction::Cancel => "cancel",
            PlanAction::Reverse => "reverse",
        }
    }
}

/// The instances a plan can be built from: a stored snapshot (the chosen one, else the newest
/// capture of the chosen connection, else the newest).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanBuilderSetup {
    pub connections: Vec<String>,
    /// The connection chosen (the plan executes on it), if any.
    #[serde(default)]
    pub connection: Option<String>,
    /// Every stored snapshot, newest first.
    #[serde(default)]
    pub snapshots: Vec<SnapshotSummary>,
    /// The snapshot the instances are read from.
    pub snapshot_id: Option<i64>,
    pub instances: Vec<BuilderInstance>,
    pub projects: Vec<String>,
    pub members: Vec<String>,
    pub groups: Vec<String>,
    /// Scriptlets with their revisions, for a rollout plan.
    #[serde(default)]
    pub scriptlets: Vec<ScriptletChoice>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BuilderInstance {
    pub project: String,
    pub name: String,
    pub member: String,
    pub status: String,
    /// `user.KEY=VALUE` labels.
    pub labels: Vec<String>,
}

/// What the Impact page offers to pick from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImpactSetup {
    /// Newest first.
    pub snapshots: Vec<SnapshotSummary>,
    pub scriptlets: Vec<ScriptletChoice>,
}

/// A scriptlet and its revisions (number, message), newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScriptletChoice {
    pub id: i64,
    pub name: String,
    pub revisions: Vec<(i64, String)>,
}

/// An impact replay as `/api/v1/impact` answers it and its event stream ends with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImpactView {
    pub scenario: String,
    pub scope: String,
    pub instances: usize,
    pub changed: Vec<ChangedDecisionView>,
    pub new_errors: usize,
    pub vanished_errors: usize,
    pub load: Vec<MemberLoadView>,
    #[serde(default)]
    pub stopped: Vec<String>,
    /// `N instances, C changed, E new errors`.
    pub summary: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangedDecisionView {
    /// `PROJECT/NAME`.
    pub instance: String,
    pub location: String,
    pub from: DecisionView,
    pub to: DecisionView,
}

/// One revision's answer: a member or Incus's error, and the candidates it was offered.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DecisionView {
    pub member: Option<String>,
    pub error: Option<String>,
    pub candidates: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberLoadView {
    pub member: String,
    pub current: usize,
    pub from: usize,
    pub to: usize,
}

/// How far a replay is (`progress` events).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ImpactProgress {
    pub shards_done: usize,
    pub shards: usize,
    pub instances_done: usize,
    pub instances: usize,
}

/// The lines a run of the scriptlet covered: the summary line and, for the editor's gutter,
/// the lines that ran and those that never did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CoverageView {
    /// `coverage: P% of lines (L of M)`.
    pub summary: String,
    pub run: Vec<u32>,
    pub unrun: Vec<u32>,
}

/// Golden cases run in the sandbox.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CasesRun {
    pub incus_version: String,
    pub passed: usize,
    pub failed: usize,
    pub cases: Vec<CaseResultView>,
    pub coverage: Option<CoverageView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseResultView {
    pub name: String,
    pub passed: bool,
    /// What happened instead, when it failed.
    pub message: Option<String>,
}

/// A fuzz campaign so far (the editor runs it a few seconds at a time).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FuzzRound {
    pub incus_versions: Vec<String>,
    pub seed: u64,
    pub rounds: u64,
    pub calls: u64,
    /// This request's calls per second.
    pub calls_per_second: f64,
    pub failures: Vec<FuzzFailureView>,
    pub coverage: Option<CoverageView>,
    /// The campaign's state, as JSON, to hand back to continue it.
    pub state: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FuzzFailureView {
    pub number: usize,
    /// `error`, `non_candidate` or `limit`.
    pub kind: String,
    pub message: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub incus_version: Option<String>,
    pub after_calls: u64,
    /// The golden case that replays it, as JSON.
    pub case: String,
    /// Its call alone, as JSON (the sandbox's `call` scenario).
    pub call: String,
    /// The call in words: reason, project, name, candidates.
    pub summary: String,
}

/// What the editor's Matrix tab asks: the snapshot (`None`: the newest), the versions as the
/// user wrote them (comma-separated; empty: the snapshot's own, 6.6 and 7.0) and the instance
/// chosen per situation (`situation=project/name`, one per line; the others are picked).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MatrixQuery {
    pub snapshot_id: Option<i64>,
    pub versions: String,
    pub picks: String,
}

/// The reason × version matrix (`POST /api/v1/scriptlets/matrix`'s JSON, redacted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatrixView {
    /// The columns, as asked for.
    pub versions: Vec<String>,
    /// Situation by situation, each in the versions' order.
    pub cells: Vec<MatrixCellView>,
    pub lints: Vec<MatrixLintView>,
    pub skipped: Vec<MatrixSkippedView>,
    /// The lines the matrix's simulations ran, for the editor's gutter.
    #[serde(default)]
    pub coverage: Option<CoverageView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatrixCellView {
    pub version: String,
    /// `create`, `create-member`, `create-group`, `move-member`, `move-project`,
    /// `move-project-member`, `evacuate` or `rebalance`.
    pub situation: String,
    /// `PROJECT/NAME` of the representative instance.
    pub instance: String,
    pub calls: Vec<MatrixCallView>,
    /// Unlike what most versions of the situation show.
    pub differs: bool,
    /// The operations simulated, as the sandbox's `ops` JSON (to open the cell there).
    pub operations: String,
    #[serde(default)]
    pub placed: Option<String>,
    #[serde(default)]
    pub failed: Option<String>,
    /// The version refuses the scriptlet when it is set.
    #[serde(default)]
    pub refused: Option<String>,
    /// The simulation was cut short (a limit).
    #[serde(default)]
    pub stopped: Option<String>,
}

impl MatrixCellView {
    /// A failing call, a refusal or a simulation cut short.
    pub fn fails(&self) -> bool {
        self.refused.is_some() || self.stopped.is_some() || self.calls.iter().any(MatrixCallView::fails)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatrixCallView {
    /// Set when the call places another instance than the cell's (an evacuation's earlier ones).
    #[serde(default)]
    pub instance: Option<String>,
    pub reason: String,
    pub project: String,
    pub candidates: usize,
    /// `member`, `no_target`, `error`, `non_candidate` or `limit`.
    pub outcome: String,
    #[serde(default)]
    pub member: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub line: Option<usize>,
    #[serde(default)]
    pub validation_only: bool,
    #[serde(default)]
    pub note: Option<String>,
}

impl MatrixCallView {
    /// `error`, `non_candidate` and `limit` fail.
    pub fn fails(&self) -> bool {
        matches!(self.outcome.as_str(), "error" | "non_candidate" | "limit")
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatrixLintView {
    pub code: String,
    pub message: String,
    pub versions: Vec<String>,
    pub situations: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatrixSkippedView {
    pub situation: String,
    pub reason: String,
}
