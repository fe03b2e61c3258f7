//! Impact replays as the API and the Impact page ask for them: which snapshot, which two
//! revisions (a text, a saved revision, or the snapshot's live scriptlet), which scenario and
//! which instances; resolved against the store, then run by [`crate::impact::Replay`].

use std::sync::Arc;

use berth_app::types::{ImpactSetup, ScriptletChoice};
use berth_core::engine::IncusVersion;
use berth_core::impact::{Impact, Scenario, Scope};
use berth_core::Snapshot;
use serde::{Deserialize, Serialize};

use super::cluster::summary_of;
use crate::db::{Store, StoredSnapshot};
use crate::error::AppError;
use crate::impact::Replay;
use crate::params::incus_version;
use crate::sandbox::JobSnapshot;

/// One side of a replay.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum RevisionRef {
    /// A scriptlet's text as given (empty: Incus's default placement).
    Source { source: String },
    /// A saved revision.
    Saved { scriptlet: i64, revision: i64 },
    /// The snapshot's own scriptlet (`instances.placement.scriptlet`).
    Live { live: bool },
}

/// `POST /api/v1/impact`.
#[derive(Debug, Clone, Deserialize)]
pub struct ImpactRequest {
    pub snapshot_id: i64,
    pub from: RevisionRef,
    pub to: RevisionRef,
    #[serde(default)]
    pub scenario: Scenario,
    #[serde(default)]
    pub scope: Scope,
    /// Default: the version the snapshot's cluster runs.
    pub incus_version: Option<String>,
}

/// The Impact page's shareable URL, `/impact?snapshot=S&scriptlet=ID&from=N&to=N|live…`, and
/// the query of its event stream.
#[derive(Debug, Clone, Deserialize)]
pub struct ImpactLink {
    pub snapshot: i64,
    pub scriptlet: Option<i64>,
    /// A revision number of `scriptlet`, or `live`.
    pub from: String,
    pub to: String,
    #[serde(default)]
    pub scenario: Scenario,
    #[serde(default)]
    pub scope: Scope,
}

impl ImpactLink {
    pub fn request(&self) -> Result<ImpactRequest, AppError> {
        let side = |text: &str| -> Result<RevisionRef, AppError> {
            if text == "live" {
                return Ok(RevisionRef::Live { live: true });
            }
            let revision = text
                .parse::<i64>()
                .map_err(|_| AppError::BadRequest(format!("revision {text:?}: a revision number or live")))?;
            let scriptlet = self.scriptlet.ok_or_else(|| {
                AppError::BadRequest(format!("revision {revision} of which scriptlet? (scriptlet=ID)"))
            })?;
            Ok(RevisionRef::Saved { scriptlet, revision })
        };
        Ok(ImpactRequest {
            snapshot_id: self.snapshot,
            from: side(&self.from)?,
            to: side(&self.to)?,
            scenario: self.scenario,
            scope: self.scope.clone(),
            incus_version: None,
        })
    }
}

/// A replay resolved against the store, ready to run.
pub struct Prepared {
    stored: Arc<StoredSnapshot>,
    snapshot: Snapshot,
    version: IncusVersion,
    from: String,
    to: String,
    scenario: Scenario,
    scope: Scope,
}

impl Prepared {
    pub async fn resolve(store: &Store, request: &ImpactRequest) -> Result<Prepared, AppError> {
        let stored = store
            .stored_snapshot(request.snapshot_id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("there is no snapshot {}", request.snapshot_id)))?;
        let version = incus_version::given_or_snapshots(request.incus_version.as_deref(), &stored)?;
        // A large cluster's JSON takes a while to parse: off the async runtime.
        let json = stored.clone();
        let snapshot = crate::cpu::run(move || Snapshot::from_json(&json.json))
            .await
            .map_err(|error| {
                AppError::Unprocessable(format!("snapshot {} cannot be read: {error}", stored.id))
            })?;
        let from = source_of(store, &snapshot, &request.from).await?;
        let to = source_of(store, &snapshot, &request.to).await?;
        Ok(Prepared {
            stored,
            snapshot,
            version,
            from,
            to,
            scenario: request.scenario,
            scope: request.scope.clone(),
        })
    }

    pub fn replay(&self) -> Replay<'_> {
        Replay {
            snapshot: &self.snapshot,
            job_snapshot: JobSnapshot::new(&self.stored.content_hash, &self.stored.json),
            version: self.version,
            from: &self.from,
            to: &self.to,
            scenario: self.scenario,
            scope: self.scope.clone(),
            coverage: false,
        }
    }
}

async fn source_of(store: &Store, snapshot: &Snapshot, side: &RevisionRef) -> Result<String, AppError> {
    match side {
        RevisionRef::Source { source } => Ok(source.clone()),
        RevisionRef::Live { .. } => Ok(snapshot
            .server
            .placement_scriptlet()
            .unwrap_or_default()
            .to_owned()),
        RevisionRef::Saved { scriptlet, revision } => store
            .revision(*scriptlet, *revision)
            .await?
            .map(|row| row.source)
            .ok_or_else(|| AppError::NotFound(format!("scriptlet {scriptlet} has no revision {revision}"))),
    }
}

/// The replay and its summary line, as the API answers and the event stream ends.
#[derive(Debug, Serialize)]
pub struct ImpactAnswer<'a> {
    #[serde(flatten)]
    pub impact: &'a Impact,
    pub summary: String,
}

impl<'a> ImpactAnswer<'a> {
    pub fn of(impact: &'a Impact) -> ImpactAnswer<'a> {
        ImpactAnswer {
            impact,
            summary: impact.summary(),
        }
    }
}

/// What the Impact page offers: snapshots, scriptlets and their revisions.
pub async fn setup(store: &Store) -> Result<ImpactSetup, AppError> {
    let snapshots = store.list_snapshots().await?;
    Ok(ImpactSetup {
        snapshots: snapshots.iter().map(summary_of).collect(),
        scriptlets: scriptlet_choices(store).await?,
    })
}

/// Every scriptlet with its revisions (number and message), newest first.
pub(crate) async fn scriptlet_choices(store: &Store) -> Result<Vec<ScriptletChoice>, AppError> {
    let mut scriptlets = Vec::new();
    for row in store.list_scriptlets().await? {
        let revisions = store.revisions(row.id).await?;
        scriptlets.push(ScriptletChoice {
            id: row.id,
            name: row.name.clone(),
            revisions: revisions.iter().map(|r| (r.number, r.message.clone())).collect(),
        });
    }
    Ok(scriptlets)
}
