//! The decision log as users read it: the decisions through a filter (newest first, a cursor
//! for the next page), their agreement rate per connection and reason, the gaps, what changed
//! since a moment (the live tail), the way into the sandbox from a decision, and a replay of
//! recorded decisions against another revision (an authors' run, answered as impact replays
//! are). Shared by `/api/v1/decisions`, the Decisions page and `berth decisions`.
//!
//! Every answer is scrubbed of secret values: the scriptlet's lines, Berth's errors and the
//! sandbox's request (its config redacted by key) go through `berth_core::redact` with the
//! values of the decision's snapshot and of the instance's own configuration.

use std::collections::HashMap;
use std::sync::Arc;

use berth_app::types::{
    AgreementView, DecisionList, DecisionQuery, DecisionsPageData, GapView, LogView, LoggedDecision,
    PredictedView, RevisionRef,
};
use berth_core::decisions::asked::Predicted;
use berth_core::decisions::Reason;
use berth_core::engine::LogLine;
use berth_core::impact::{ChangedDecision, Decision, Impact, Scenario, Scope, ShardImpact};
use berth_core::redact::{redact_json, SecretValues};
use berth_core::simulate::CreateOperation;
use berth_core::Snapshot;

use crate::db::{
    AgreementRow, DecisionCursor, DecisionFilter, DecisionRow, GapRow, Outcome, Store, StoredSnapshot,
};
use crate::decisions::predict::{basis_of, Basis};
use crate::error::AppError;
use crate::params::{parse_time, parse_until};
use crate::sandbox::Sandbox;
use crate::services::impact::RevisionRef as ReplayedRevision;

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 500;
/// The most decisions one replay runs (each is one simulation in a worker).
pub const MAX_REPLAYED: u32 = 2_000;

/// The store's filter for a query; an unknown reason or outcome, or an unreadable time, is a
/// 400.
pub fn filter_of(query: &DecisionQuery) -> Result<DecisionFilter, AppError> {
    let given = |value: &Option<String>| {
        value
            .as_ref()
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let reason = given(&query.reason);
    if let Some(reason) = &reason {
        if Reason::parse(reason).is_none() {
            return Err(AppError::BadRequest(format!(
                "reason {reason:?}: new, relocation, evacuation, restore or rebalance"
            )));
        }
    }
    let outcome = match given(&query.outcome) {
        Some(text) => Some(Outcome::parse(&text).ok_or_else(|| {
            AppError::BadRequest(format!(
                "outcome {text:?}: agrees, differs, unpredicted or pending"
            ))
        })?),
        None => None,
    };
    Ok(DecisionFilter {
        connection: given(&query.connection),
        project: given(&query.project),
        member: given(&query.member),
        instance: given(&query.instance),
        reason,
        outcome,
        since: given(&query.since).map(|t| parse_time(&t)).transpose()?,
        until: given(&query.until).map(|t| parse_until(&t)).transpose()?,
    })
}

/// `AT.ID`, where a page ended.
fn cursor_of(text: &str) -> Result<DecisionCursor, AppError> {
    let bad = || AppError::BadRequest(format!("cursor {text:?} is not one a page gave"));
    let (at, id) = text.split_once('.').ok_or_else(bad)?;
    Ok(DecisionCursor {
        at: at.parse().map_err(|_| bad())?,
        id: id.parse().map_err(|_| bad())?,
    })
}

/// A page of decisions matching `query`, newest first.
pub async fn list(store: &Store, query: &DecisionQuery) -> Result<DecisionList, AppError> {
    let filter = filter_of(query)?;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let cursor = query
        .cursor
        .as_deref()
        .filter(|c| !c.is_empty())
        .map(cursor_of)
        .transpose()?;
    // One more than asked: whether there is a next page.
    let mut rows = store.decisions(&filter, cursor, limit + 1).await?;
    let next = (rows.len() > limit as usize).then(|| {
        rows.truncate(limit as usize);
        let last = rows.last().expect("a full page");
        format!("{}.{}", last.at, last.id)
    });
    Ok(DecisionList {
        decisions: views(store, &rows).await?,
        next,
    })
}

/// How the decisions matching `query` came out, per connection and reason.
pub async fn agreement(store: &Store, query: &DecisionQuery) -> Result<Vec<AgreementView>, AppError> {
    let filter = filter_of(query)?;
    Ok(store
        .agreement(&filter)
        .await?
        .into_iter()
        .map(agreement_of)
        .collect())
}

fn agreement_of(row: AgreementRow) -> AgreementView {
    let compared = row.agrees + row.differs;
    AgreementView {
        rate: (compared > 0).then(|| row.agrees as f64 / compared as f64),
        connection: row.connection,
        reason: row.reason,
        agrees: row.agrees,
        differs: row.differs,
        unpredicted: row.unpredicted,
        pending: row.pending,
    }
}

/// The gaps of the query's connection (all: none named) in its time range, newest first.
pub async fn gaps(store: &Store, query: &DecisionQuery) -> Result<Vec<GapView>, AppError> {
    let filter = filter_of(query)?;
    let rows = store
        .gaps(filter.connection.as_deref(), filter.since, filter.until, 200)
        .await?;
    Ok(rows.into_iter().map(gap_of).collect())
}

fn gap_of(row: GapRow) -> GapView {
    GapView {
        id: row.id,
        connection: row.connection,
        member: row.member,
        reason: row.reason,
        detail: row.detail,
        started: time_of(row.started_at),
        ended: row.ended_at.map(time_of),
        reconciled: row.reconciled_at.map(time_of),
        seen_later: row.seen_later,
    }
}

/// Everything the Decisions page shows for `query`.
pub async fn page(store: &Store, query: &DecisionQuery) -> Result<DecisionsPageData, AppError> {
    let connections = store
        .list_connections()
        .await?
        .into_iter()
        .map(|record| (record.name, record.decision_log == 1))
        .collect();
    Ok(DecisionsPageData {
        list: list(store, query).await?,
        agreement: agreement(store, query).await?,
        gaps: gaps(store, query).await?,
        connections,
    })
}

/// The live tail: decisions matching a filter as they are recorded and predicted, each
/// time it changes, in the order they changed.
pub struct Tail {
    filter: DecisionFilter,
    after: (i64, i64),
}

impl Tail {
    /// A tail from now on.
    pub async fn from_now(store: &Store, query: &DecisionQuery) -> Result<Tail, AppError> {
        Ok(Tail {
            filter: filter_of(query)?,
            after: store.last_decision_change().await?,
        })
    }

    /// What changed since the last call.
    pub async fn next(&mut self, store: &Store) -> Result<Vec<LoggedDecision>, AppError> {
        let rows = store
            .decisions_changed_after(&self.filter, self.after.0, self.after.1, 200)
            .await?;
        if let Some(last) = rows.last() {
            self.after = (last.updated_at, last.id);
        }
        views(store, &rows).await
    }
}

/// Decisions as they are answered: scrubbed, with their revisions named.
pub async fn views(store: &Store, rows: &[DecisionRow]) -> Result<Vec<LoggedDecision>, AppError> {
    let mut names: HashMap<i64, String> = HashMap::new();
    let mut secrets: HashMap<String, Option<Arc<StoredSnapshot>>> = HashMap::new();
    let mut views = Vec::with_capacity(rows.len());
    for row in rows {
        let revision = match (row.revision_scriptlet, row.revision) {
            (Some(scriptlet), Some(number)) => {
                if let std::collections::hash_map::Entry::Vacant(slot) = names.entry(scriptlet) {
                    let name = store
                        .scriptlet(scriptlet)
                        .await?
                        .map(|s| s.name)
                        .unwrap_or_default();
                    slot.insert(name);
                }
                Some(RevisionRef {
                    scriptlet,
                    name: names[&scriptlet].clone(),
                    number,
                })
            }
            _ => None,
        };
        let snapshot = snapshot_of(store, row, &mut secrets).await?;
        let scrubber = Scrubber::of(snapshot.as_deref(), row);
        views.push(view_of(row, revision, &scrubber));
    }
    Ok(views)
}

/// The stored snapshot whose secret values a decision is scrubbed of: the one it was
/// predicted on, else the connection's newest capture.
async fn snapshot_of(
    store: &Store,
    row: &DecisionRow,
    known: &mut HashMap<String, Option<Arc<StoredSnapshot>>>,
) -> Result<Option<Arc<StoredSnapshot>>, AppError> {
    let key = match row.snapshot_id {
        Some(id) => id.to_string(),
        None => format!("latest:{}", row.connection),
    };
    if let Some(found) = known.get(&key) {
        return Ok(found.clone());
    }
    let id = match row.snapshot_id {
        Some(id) => Some(id),
        None => store
            .capture_before(&row.connection, None)
            .await?
            .map(|capture| capture.snapshot_id),
    };
    let stored = match id {
        Some(id) => store.stored_snapshot(id).await?,
        None => None,
    };
    known.insert(key, stored.clone());
    Ok(stored)
}

/// A decision's secret values: its snapshot's and its instance's own.
struct Scrubber<'a> {
    snapshot: Option<&'a SecretValues>,
    own: SecretValues,
}

impl<'a> Scrubber<'a> {
    fn of(snapshot: Option<&'a StoredSnapshot>, row: &DecisionRow) -> Scrubber<'a> {
        let own = row
            .request
            .as_deref()
            .and_then(|json| serde_json::from_str::<CreateOperation>(json).ok())
            .map(|create| SecretValues::of_configs([&create.config]))
            .unwrap_or_default();
        Scrubber {
            snapshot: snapshot.map(|s| &s.secrets),
            own,
        }
    }

    fn text(&self, text: &str) -> String {
        let once = match self.snapshot {
            Some(secrets) => secrets.scrub(text).into_owned(),
            None => text.to_owned(),
        };
        self.own.scrub(&once).into_owned()
    }

    fn json(&self, value: &mut serde_json::Value) {
        if let Some(secrets) = self.snapshot {
            redact_json(value, secrets);
        }
        redact_json(value, &self.own);
    }
}

fn time_of(ms: i64) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    humantime::format_rfc3339_millis(time).to_string()
}

fn view_of(row: &DecisionRow, revision: Option<RevisionRef>, scrubber: &Scrubber<'_>) -> LoggedDecision {
    let logs: Vec<LogLine> = serde_json::from_str(&row.logs).unwrap_or_default();
    let outcome = Outcome::of(row);
    let predicted = match outcome {
        Outcome::Pending => None,
        Outcome::Unpredicted => Some(PredictedView {
            member: None,
            error: row
                .unpredictable
                .as_deref()
                .map(|why| scrubber.text(&format!("could not be predicted: {why}"))),
            candidates: Vec::new(),
            snapshot: row.snapshot_id,
            revision: row.predicted_revision,
        }),
        Outcome::Agrees | Outcome::Differs => Some(PredictedView {
            member: row.predicted_member.clone(),
            error: row.predicted_error.as_deref().map(|error| scrubber.text(error)),
            candidates: row
                .predicted_candidates
                .as_deref()
                .and_then(|json| serde_json::from_str(json).ok())
                .unwrap_or_default(),
            snapshot: row.snapshot_id,
            revision: row.predicted_revision,
        }),
    };
    LoggedDecision {
        id: row.id,
        time: time_of(row.at),
        connection: row.connection.clone(),
        project: row.project.clone(),
        instance: row.instance.clone(),
        reason: row.reason.clone(),
        member: row.member.clone(),
        logs: logs
            .iter()
            .map(|line| LogView {
                level: line.level.as_str().to_owned(),
                message: scrubber.text(&line.message),
            })
            .collect(),
        revision,
        predicted,
        agrees: match outcome {
            Outcome::Agrees => Some(true),
            Outcome::Differs => Some(false),
            _ => None,
        },
        outcome: outcome.as_str().to_owned(),
        operation: row.operation.clone(),
        seen_later: row.seen_later == 1,
        from_project: row.from_project.clone(),
        from_member: row.from_member.clone(),
        runs_on: row.runs_on.clone(),
        sandbox: row
            .snapshot_id
            .map(|_| format!("/api/v1/decisions/{}/sandbox", row.id)),
    }
}

/// The editor's URL with the decision's snapshot, its request (after the placements applied
/// before it) and the revision that ran: one click from a decision into the sandbox. The
/// request's config is redacted by key, as every answer built from a snapshot is.
pub async fn sandbox_link(store: &Store, id: i64) -> Result<String, AppError> {
    let row = store
        .decision(id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("there is no decision {id}")))?;
    let create: Option<CreateOperation> = row
        .request
        .as_deref()
        .and_then(|json| serde_json::from_str(json).ok());
    let basis = basis_of(store, &row, create.as_ref())
        .await?
        .map_err(|why| AppError::NotFound(format!("decision {id} has no sandbox: {why}")))?;
    let mut ops = serde_json::to_value(&basis.operations).expect("operations serialize");
    let mut known = HashMap::new();
    let snapshot = snapshot_of(store, &row, &mut known).await?;
    Scrubber::of(snapshot.as_deref(), &row).json(&mut ops);
    let scriptlet = match (row.revision_scriptlet, row.revision) {
        (Some(scriptlet), Some(number)) => format!("/scriptlets/{scriptlet}?rev={number}&"),
        _ => "/scriptlets/new?".to_owned(),
    };
    let query = serde_urlencoded::to_string([
        ("snapshot", basis.snapshot_id.to_string()),
        ("ops", ops.to_string()),
    ])
    .expect("a query encodes");
    Ok(format!("{scriptlet}{query}"))
}

/// `POST /api/v1/decisions/replay`: recorded decisions replayed against another revision.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct ReplayRequest {
    pub revision: ReplayedRevision,
    #[serde(default)]
    pub filter: DecisionQuery,
}

/// Replays the decisions `request.filter` selects (newest first, at most [`MAX_REPLAYED`])
/// against the revision: for each, what the cluster decided and what the revision would have
/// decided for the same request on the same basis as its prediction. The answer is an impact
/// replay's: changed decisions with both candidate lists, new and vanished errors, member load
/// as the newest snapshot has it and with the replayed placements where the cluster put them
/// (before) and where the revision would (after); decisions that cannot be replayed
/// (no capture before them, the instance's configuration never read) are counted in `stopped`.
pub async fn replay(store: &Store, sandbox: &Sandbox, request: &ReplayRequest) -> Result<Impact, AppError> {
    let source = revision_text(store, &request.revision).await?;
    let filter = filter_of(&request.filter)?;
    let rows = store.decisions(&filter, None, MAX_REPLAYED).await?;
    let mut bases: Vec<(DecisionRow, Basis)> = Vec::new();
    let mut unreplayable: HashMap<String, usize> = HashMap::new();
    for row in rows {
        let create: Option<CreateOperation> = row
            .request
            .as_deref()
            .and_then(|json| serde_json::from_str(json).ok());
        match basis_of(store, &row, create.as_ref()).await? {
            Ok(basis) => bases.push((row, basis)),
            Err(why) => *unreplayable.entry(why).or_default() += 1,
        }
    }
    // A revision that does not compile is the request's fault, said once.
    if let Some((_, basis)) = bases.first() {
        let report = sandbox.check(&source, basis.version).await?;
        if let Some(error) = report.errors.into_iter().next() {
            return Err(AppError::Scriptlet(error));
        }
    }
    // Member load as the newest snapshot among them has it.
    let mut impact = match bases.iter().max_by_key(|(row, _)| (row.at, row.id)) {
        Some((_, basis)) => {
            let stored = basis.stored.clone();
            let newest = crate::cpu::run(move || Snapshot::from_json(&stored.json))
                .await
                .map_err(|error| AppError::Unprocessable(format!("a snapshot cannot be read: {error}")))?;
            Impact::new(&newest, Scenario::New, Scope::All)
        }
        None => Impact {
            scenario: Scenario::New,
            scope: Scope::All,
            instances: 0,
            changed: Vec::new(),
            new_errors: 0,
            vanished_errors: 0,
            load: Vec::new(),
            stopped: Vec::new(),
        },
    };
    let mut secrets: Vec<Arc<StoredSnapshot>> = Vec::new();
    // A moved instance leaves its member's count in the snapshot, as far as it holds one.
    let mut held: HashMap<String, usize> = impact
        .load
        .iter()
        .map(|l| (l.member.clone(), l.current))
        .collect();
    for (row, basis) in &bases {
        let landed = row.member.clone().unwrap_or_default();
        let to = match basis.simulate(sandbox, &source).await? {
            Ok(predicted) => predicted,
            Err(why) => {
                *unreplayable.entry(why).or_default() += 1;
                continue;
            }
        };
        let mut shard = shard_of(row, &landed, to);
        if let Some(from) = row
            .from_member
            .as_ref()
            .filter(|_| row.reason != Reason::New.as_str())
        {
            if let Some(count) = held.get_mut(from).filter(|count| **count > 0) {
                *count -= 1;
                shard.located.insert(from.clone(), 1);
            }
        }
        impact.add(shard);
        if !secrets.iter().any(|s| s.id == basis.stored.id) {
            secrets.push(basis.stored.clone());
        }
    }
    for stored in &secrets {
        impact.scrub_secrets(&stored.secrets);
    }
    let mut reasons: Vec<(String, usize)> = unreplayable.into_iter().collect();
    reasons.sort();
    impact.stopped.extend(
        reasons
            .into_iter()
            .map(|(why, count)| format!("{count} decisions not replayed: {why}")),
    );
    Ok(impact)
}

/// One replayed decision as an impact replay's shard of one instance.
fn shard_of(row: &DecisionRow, landed: &str, to: Predicted) -> ShardImpact {
    let location = row.from_member.clone().unwrap_or_else(|| landed.to_owned());
    let from = Decision {
        member: Some(landed.to_owned()),
        error: None,
        candidates: to.candidates.clone(),
    };
    let to = Decision {
        member: to.member,
        error: to.error,
        candidates: to.candidates,
    };
    // Where it was is counted by the caller (only a move leaves a member the snapshot has it
    // on); the load adds it where the cluster put it and where the revision would.
    let mut shard = ShardImpact {
        instances: 1,
        ..ShardImpact::default()
    };
    shard.placed_from.insert(landed.to_owned(), 1);
    shard
        .placed_to
        .insert(to.member.clone().unwrap_or_else(|| location.clone()), 1);
    if from.member != to.member || to.error.is_some() {
        shard.new_errors += usize::from(to.error.is_some());
        shard.changed.push(ChangedDecision {
            instance: format!("{}/{}", row.project, row.instance),
            location,
            from,
            to,
        });
    }
    shard
}

async fn revision_text(store: &Store, revision: &ReplayedRevision) -> Result<String, AppError> {
    match revision {
        ReplayedRevision::Source { source } => Ok(source.clone()),
        ReplayedRevision::Saved { scriptlet, revision } => store
            .revision(*scriptlet, *revision)
            .await?
            .map(|row| row.source)
            .ok_or_else(|| AppError::NotFound(format!("scriptlet {scriptlet} has no revision {revision}"))),
        ReplayedRevision::Live { .. } => Err(AppError::BadRequest(
            "a replay of recorded decisions needs a revision: {\"scriptlet\": ID, \"revision\": N} or {\"source\": TEXT}"
                .into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_is_the_place_a_page_ended() {
        assert_eq!(
            cursor_of("1796475348488.12").unwrap(),
            DecisionCursor {
                at: 1_796_475_348_488,
                id: 12
            }
        );
        for bad in ["", "12", "a.b", "1.2.3"] {
            assert!(cursor_of(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_filter_refuses_what_it_cannot_read() {
        let query = |reason: &str, outcome: &str, since: &str| DecisionQuery {
            reason: Some(reason.into()),
            outcome: Some(outcome.into()),
            since: Some(since.into()),
            ..DecisionQuery::default()
        };
        let filter = filter_of(&query("evacuation", "differs", "2026-12-05")).unwrap();
        assert_eq!(filter.reason.as_deref(), Some("evacuation"));
        assert_eq!(filter.outcome, Some(Outcome::Differs));
        assert_eq!(filter.since, Some(1_796_428_800_000));
        assert!(filter_of(&query("moved", "", "")).is_err());
        assert!(filter_of(&query("", "maybe", "")).is_err());
        assert!(filter_of(&query("", "", "yesterday")).is_err());
        // Empty fields (a form's) are no filter.
        assert_eq!(filter_of(&query("", "", "")).unwrap(), DecisionFilter::default());
    }

    #[test]
    fn a_replayed_decision_that_lands_elsewhere_is_a_changed_decision() {
        let row = DecisionRow {
            id: 1,
            connection: "lab".into(),
            at: 0,
            recorded_at: 0,
            updated_at: 0,
            operation: "instance-created".into(),
            reason: "new".into(),
            project: "web".into(),
            instance: "api-1".into(),
            member: Some("m1".into()),
            from_project: None,
            from_member: None,
            runs_on: None,
            logs: "[]".into(),
            seen_later: 0,
            gap_id: None,
            revision_scriptlet: None,
            revision: None,
            request: None,
            snapshot_id: None,
            predicted_revision: None,
            predicted_member: None,
            predicted_error: None,
            predicted_candidates: None,
            agrees: None,
            unpredictable: None,
            predicted_at: None,
        };
        let elsewhere = Predicted {
            member: Some("m2".into()),
            error: None,
            candidates: vec!["m1".into(), "m2".into()],
        };
        let shard = shard_of(&row, "m1", elsewhere);
        assert_eq!(shard.changed.len(), 1);
        assert_eq!(shard.changed[0].from.summary(), "m1");
        assert_eq!(shard.changed[0].to.summary(), "m2");
        let same = Predicted {
            member: Some("m1".into()),
            ..Predicted::default()
        };
        assert!(shard_of(&row, "m1", same).changed.is_empty());
    }
}
