//! The decision log's wire types: what `/api/v1/decisions`, `berth decisions … --json` and the
//! Decisions page show. `LoggedDecision`'s fields `id`, `time`, `connection`, `project`,
//! `instance`, `reason`, `member`, `logs`, `revision`, `predicted` and `agrees` are the
//! issue's contract; the others say more.

use serde::{Deserialize, Serialize};

use super::LogView;

/// Which decisions to show, as the page's URL and the API's query have them (every field
/// narrows; times are `YYYY-MM-DD` or RFC 3339).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DecisionQuery {
    pub connection: Option<String>,
    pub project: Option<String>,
    pub member: Option<String>,
    pub instance: Option<String>,
    /// `new`, `relocation`, `evacuation`, `restore`, `rebalance`.
    pub reason: Option<String>,
    /// `agrees`, `differs`, `unpredicted`, `pending`.
    pub outcome: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    /// At most this many (default 50, at most 500); `limit=` (a form's empty field) is the
    /// default.
    #[serde(default, deserialize_with = "empty_or_number")]
    pub limit: Option<u32>,
    /// Where the previous page ended (its `next`).
    pub cursor: Option<String>,
}

/// A query's number, absent or empty alike (`?limit=` as a form with an empty field sends it);
/// a number in JSON too.
fn empty_or_number<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<u32>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Given {
        Number(u32),
        Text(String),
    }
    match Option::<Given>::deserialize(deserializer)? {
        None => Ok(None),
        Some(Given::Number(number)) => Ok(Some(number)),
        Some(Given::Text(text)) if text.trim().is_empty() => Ok(None),
        Some(Given::Text(text)) => text
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| serde::de::Error::custom(format!("limit {text:?} is not a number"))),
    }
}

/// One placement the cluster made, beside Berth's prediction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoggedDecision {
    pub id: i64,
    /// When it happened (Incus's time), RFC 3339 with milliseconds.
    pub time: String,
    pub connection: String,
    pub project: String,
    pub instance: String,
    pub reason: String,
    /// Where the instance landed (`null` while not known).
    pub member: Option<String>,
    /// The scriptlet's own lines, scrubbed of the snapshot's secret values.
    pub logs: Vec<LogView>,
    /// The revision of the connection's live scriptlet that ran.
    pub revision: Option<RevisionRef>,
    /// Berth's prediction; `null` while not made.
    pub predicted: Option<PredictedView>,
    /// `null`: not predicted (yet, or at all: `predicted.error` says why).
    pub agrees: Option<bool>,
    /// `agrees`, `differs`, `unpredicted`, `pending`.
    pub outcome: String,
    /// Incus's lifecycle action (`instance-created`, `instance-migrated`), or `seen-later`.
    pub operation: String,
    /// Found by the capture that closed a gap, not by an event.
    pub seen_later: bool,
    pub from_project: Option<String>,
    pub from_member: Option<String>,
    /// The member that ran the scriptlet, when its lines told.
    pub runs_on: Option<String>,
    /// The sandbox on the decision's snapshot, request and revision (one click); `null`
    /// without a prediction's snapshot.
    pub sandbox: Option<String>,
}

/// A revision of a scriptlet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevisionRef {
    pub scriptlet: i64,
    pub name: String,
    pub number: i64,
}

/// Berth's answer for the request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictedView {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    /// Incus's refusal as Berth predicted it, or why nothing could be predicted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The members Incus offered the scriptlet, least loaded first.
    #[serde(default)]
    pub candidates: Vec<String>,
    /// The snapshot it was predicted on, and the revision that snapshot had.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<i64>,
}

/// A page of decisions, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionList {
    pub decisions: Vec<LoggedDecision>,
    /// The cursor of the next page; `null` on the last.
    pub next: Option<String>,
}

/// How the decisions of a connection with one reason came out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgreementView {
    pub connection: String,
    pub reason: String,
    pub agrees: i64,
    pub differs: i64,
    pub unpredicted: i64,
    pub pending: i64,
    /// `agrees / (agrees + differs)`; `null` when nothing was compared.
    pub rate: Option<f64>,
}

/// A time the event stream was not held.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GapView {
    pub id: i64,
    pub connection: String,
    /// One member's stream, or `null`: the connection's.
    pub member: Option<String>,
    /// `disconnect`, `handover`, `restart`.
    pub reason: String,
    pub detail: String,
    pub started: String,
    /// `null`: still open.
    pub ended: Option<String>,
    pub reconciled: Option<String>,
    /// Instances the reconciliation recorded as seen later.
    pub seen_later: Option<i64>,
}

/// What the Decisions page shows: the page of decisions, the agreement, the gaps in the range,
/// and what the filters offer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionsPageData {
    pub list: DecisionList,
    pub agreement: Vec<AgreementView>,
    pub gaps: Vec<GapView>,
    /// Connections with the log on, and every connection.
    pub connections: Vec<(String, bool)>,
}
