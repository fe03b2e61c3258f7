//! The reason × version matrix as `POST /api/v1/scriptlets/matrix` and the editor's Matrix tab
//! ask for it: a scriptlet (a text, or a saved revision), a stored snapshot, the versions
//! (default: the snapshot's own, 6.6 and 7.0) and the instances the user chose per situation;
//! planned off the async runtime (proportional to the snapshot), run on the authors' sandbox
//! workers (`crate::matrix`), and redacted like every answer built from a snapshot: what the
//! scriptlet raised, the notes and the simulated operations' config can quote its secrets.
//! Asked for, the lines the simulations ran come with it (the editor's gutter).

use std::collections::BTreeMap;

use berth_app::types::{MatrixQuery, MatrixView};
use berth_core::matrix::{
    checked_versions, default_versions, plan, MatrixVersion, Picks, Situation, VersionsError,
};
use berth_core::redact::redact_json;
use berth_core::Snapshot;
use serde::Deserialize;
use serde_json::Value;

use super::assurance::CoverageAnswer;
use super::scriptlets;
use crate::db::Store;
use crate::error::AppError;
use crate::sandbox::{JobSnapshot, Sandbox};

/// `POST /api/v1/scriptlets/matrix`: `source`, or `scriptlet` with an optional `revision`
/// (default: the newest).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatrixRequest {
    pub snapshot_id: i64,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub scriptlet: Option<i64>,
    #[serde(default)]
    pub revision: Option<i64>,
    /// As the matrix names them (`6.6`); absent or empty: the snapshot's own, 6.6 and 7.0.
    #[serde(default)]
    pub versions: Vec<String>,
    /// `PROJECT/NAME` per situation id, instead of the instance the matrix picks.
    #[serde(default)]
    pub instances: BTreeMap<Situation, String>,
    /// Also answer the lines the matrix's simulations ran (`coverage`, as the cases' route
    /// answers it).
    #[serde(default)]
    pub coverage: bool,
}

/// The matrix as JSON (`berth check --matrix --json`'s document), redacted.
pub async fn run(store: &Store, sandbox: &Sandbox, request: &MatrixRequest) -> Result<Value, AppError> {
    let source = source_of(store, request).await?;
    let stored = store
        .stored_snapshot(request.snapshot_id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("there is no snapshot {}", request.snapshot_id)))?;
    let given = request
        .versions
        .iter()
        .filter(|version| !version.trim().is_empty())
        .map(|version| MatrixVersion::parse(version))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| AppError::BadRequest(error.to_string()))?;
    let picks: Picks = request.instances.clone();
    let snapshot_id = stored.id;
    // Parsing and planning are proportional to the snapshot: off the async runtime.
    let json = stored.clone();
    let planned = crate::cpu::run(move || {
        let snapshot = Snapshot::from_json(&json.json).map_err(|error| {
            AppError::Unprocessable(format!("snapshot {snapshot_id} cannot be read: {error}"))
        })?;
        let versions = if given.is_empty() {
            default_versions(&snapshot)
        } else {
            checked_versions(given)
        }
        .map_err(|error| match error {
            VersionsError::Bad(_) | VersionsError::UnreadableSnapshotVersion(_) => {
                AppError::BadRequest(error.to_string())
            }
            _ => AppError::Unprocessable(error.to_string()),
        })?;
        plan(&snapshot, &versions, &picks).map_err(|error| AppError::Unprocessable(error.to_string()))
    })
    .await?;
    let (matrix, coverage) = crate::matrix::run_covered(
        sandbox,
        JobSnapshot::new(&stored.content_hash, &stored.json),
        &source,
        &planned,
        request.coverage,
    )
    .await?;
    let mut answer = serde_json::to_value(&matrix).expect("a matrix serializes");
    if let Some(coverage) = coverage {
        answer["coverage"] =
            serde_json::to_value(CoverageAnswer::from(coverage)).expect("coverage serializes");
    }
    redact_json(&mut answer, &stored.secrets);
    Ok(answer)
}

/// The Matrix tab's run: the editor's text on the page's snapshot (default: the newest), as the
/// page shows it (each cell's operations as the sandbox's `ops` text).
pub async fn run_for_page(
    store: &Store,
    sandbox: &Sandbox,
    source: String,
    query: &MatrixQuery,
) -> Result<MatrixView, AppError> {
    let snapshot_id = super::sandbox::snapshot_or_newest(store, query.snapshot_id).await?;
    let mut instances = BTreeMap::new();
    for line in query.picks.lines().map(str::trim).filter(|line| !line.is_empty()) {
        let (situation, instance) = line
            .split_once('=')
            .ok_or_else(|| AppError::Unprocessable(format!("{line:?}: expected SITUATION=PROJECT/NAME")))?;
        let situation = situation
            .trim()
            .parse::<Situation>()
            .map_err(|error| AppError::Unprocessable(error.to_string()))?;
        let instance = instance.trim();
        if !instance.is_empty() {
            instances.insert(situation, instance.to_owned());
        }
    }
    let request = MatrixRequest {
        snapshot_id,
        source: Some(source),
        versions: query.versions.split(',').map(str::to_owned).collect(),
        instances,
        coverage: true,
        ..MatrixRequest::default()
    };
    let mut answer = run(store, sandbox, &request).await?;
    for cell in answer["cells"].as_array_mut().into_iter().flatten() {
        cell["operations"] = Value::String(cell["operations"].to_string());
    }
    serde_json::from_value(answer)
        .map_err(|error| AppError::BadRequest(format!("unexpected matrix: {error}")))
}

/// The text given, or the saved revision named.
async fn source_of(store: &Store, request: &MatrixRequest) -> Result<String, AppError> {
    match (&request.source, request.scriptlet, request.revision) {
        (Some(source), None, None) => Ok(source.clone()),
        (None, Some(id), revision) => Ok(scriptlets::view(store, id, revision).await?.source),
        (Some(_), Some(_), _) => Err(AppError::Unprocessable(
            "give the scriptlet as source or as scriptlet (and revision), not both".into(),
        )),
        (None, None, _) => Err(AppError::Unprocessable(
            "give the scriptlet: source, or scriptlet (and revision)".into(),
        )),
        (Some(_), None, Some(_)) => Err(AppError::Unprocessable(
            "a revision of which scriptlet? (scriptlet)".into(),
        )),
    }
}
