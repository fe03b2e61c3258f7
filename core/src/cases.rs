//! Golden cases for a scriptlet, like `opa test`: something to run and what must come of it.
//! `berth check FILE --snapshot S --cases CASES.json` runs them in CI.
//!
//! A case runs either an operation (`"op"`, as `berth simulate` takes it), judged on its
//! simulation, or one placement call made directly (`"call"`: the request, the candidates,
//! where it runs, the members whose status differs from the snapshot's, the Incus version),
//! judged on its evaluation: what `berth fuzz` writes for each failure it finds, since a
//! fuzzed call need not be one an operation on the snapshot would make. Expectations: a
//! member, an error containing a text, or `"placed": true` (no error, and a candidate chosen
//! or none set); without any, the case must simply succeed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::engine::{
    Evaluation, IncusVersion, Limits, PlacementCall, PlacementRequest, PreparedCluster, Scriptlet,
};
use crate::model::MemberStatus;
use crate::simulate::{Deadlines, Mode, Operation, Outcome, Simulation, Simulator};
use crate::Snapshot;

/// One case: `{"name", "op": {…} | "call": {…}, "expect": {"member"?, "error"?, "placed"?}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "CaseFile", into = "CaseFile")]
pub struct Case {
    pub name: String,
    pub subject: Subject,
    pub expect: Expectation,
}

/// What a case runs.
#[derive(Debug, Clone, PartialEq)]
pub enum Subject {
    Operation(Operation),
    Call(Box<DirectCall>),
}

/// Without any field, the case must simply succeed.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    /// Where every instance the operation places must land (a call: the member it chooses).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    /// A text the error must contain (the operation or call must fail).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// No call raised an error or set a target outside its candidates (a candidate chosen, or
    /// none and Incus chooses).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub placed: bool,
}

/// One placement call made directly, as Incus would make it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectCall {
    /// The Incus version the call needs (`6.6`); absent: the one the cases run with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incus_version: Option<String>,
    pub request: PlacementRequest,
    /// Candidate member names, in the order Incus passes them.
    pub candidates: Vec<String>,
    /// The member whose Incus runs the scriptlet; absent: the member the snapshot was taken
    /// from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runs_on: Option<String>,
    /// Members whose status the call sees changed from the snapshot's (`{"hv-a03":
    /// "Evacuated"}`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub member_status: BTreeMap<String, MemberStatus>,
}

/// A case as [`Case::compact`] writes it; it reads back as the same [`Case`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompactCase {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub op: Option<Operation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call: Option<CompactCall>,
    pub expect: Expectation,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompactCall {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incus_version: Option<String>,
    /// The request's fields that are not empty.
    pub request: serde_json::Value,
    pub candidates: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runs_on: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub member_status: BTreeMap<String, MemberStatus>,
}

/// A case as its JSON has it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    op: Option<Operation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    call: Option<Box<DirectCall>>,
    #[serde(default)]
    expect: Expectation,
}

impl TryFrom<CaseFile> for Case {
    type Error = String;

    fn try_from(file: CaseFile) -> Result<Case, String> {
        let subject = match (file.op, file.call) {
            (Some(op), None) => Subject::Operation(op),
            (None, Some(call)) => Subject::Call(call),
            _ => return Err(format!("case {:?}: give either \"op\" or \"call\"", file.name)),
        };
        if file.expect.placed && file.expect.error.is_some() {
            return Err(format!(
                "case {:?}: \"placed\" and \"error\" cannot both be expected",
                file.name
            ));
        }
        Ok(Case {
            name: file.name,
            subject,
            expect: file.expect,
        })
    }
}

impl From<Case> for CaseFile {
    fn from(case: Case) -> CaseFile {
        let (op, call) = match case.subject {
            Subject::Operation(op) => (Some(op), None),
            Subject::Call(call) => (None, Some(call)),
        };
        CaseFile {
            name: case.name,
            op,
            call,
            expect: case.expect,
        }
    }
}

impl Case {
    /// The case as `berth fuzz --out` writes it: a direct call's request without the fields
    /// it leaves empty (they read back as empty); config values kept as they are, empty ones
    /// too. Serialized, its fields keep the format's order (`name` first).
    pub fn compact(&self) -> CompactCase {
        let file = CaseFile::from(self.clone());
        CompactCase {
            name: file.name,
            op: file.op,
            call: file.call.map(|call| {
                let mut request = serde_json::to_value(&call.request).expect("a request serializes");
                if let serde_json::Value::Object(fields) = &mut request {
                    if let Some(serde_json::Value::Object(source)) = fields.get_mut("source") {
                        source.retain(|_, field| !is_empty(field));
                    }
                    fields.retain(|_, field| !is_empty(field));
                }
                CompactCall {
                    incus_version: call.incus_version,
                    request,
                    candidates: call.candidates,
                    runs_on: call.runs_on,
                    member_status: call.member_status,
                }
            }),
            expect: file.expect,
        }
    }

    /// The Incus version the case runs under: its call's own, else `default`.
    pub fn version(&self, default: IncusVersion) -> Result<IncusVersion, String> {
        match &self.subject {
            Subject::Call(call) => match &call.incus_version {
                Some(text) => text
                    .parse()
                    .map_err(|error| format!("case {:?}: {error}", self.name)),
                None => Ok(default),
            },
            Subject::Operation(_) => Ok(default),
        }
    }

    /// Runs the case with `scriptlet` (compiled for [`Case::version`]) on `snapshot` and its
    /// prepared `cluster` (both changed while it runs and put back): `Ok` when it holds,
    /// otherwise what happened instead, in words.
    pub fn run(
        &self,
        scriptlet: Option<&Scriptlet>,
        version: IncusVersion,
        limits: &Limits,
        deadlines: &dyn Deadlines,
        snapshot: &mut Snapshot,
        cluster: &mut PreparedCluster,
    ) -> Result<(), String> {
        match &self.subject {
            Subject::Operation(op) => {
                let mut simulator = Simulator::new(scriptlet, version, Mode::Upstream);
                simulator.limits = *limits;
                let simulator = simulator.with_deadlines(deadlines);
                let simulation = simulator.run_in_place(snapshot, cluster, std::slice::from_ref(op));
                judge(self, &simulation)
            }
            Subject::Call(call) => {
                let Some(scriptlet) = scriptlet else {
                    // No scriptlet: Incus places by itself, nothing can fail.
                    return judge_call(self, None);
                };
                call.check_members(snapshot)?;
                let cancelled = deadlines.start_call();
                let evaluation = call.evaluate(scriptlet, cluster, limits, &*cancelled, None);
                judge_call(self, Some(&evaluation))
            }
        }
    }
}

impl DirectCall {
    /// Every member the call names must be one of the snapshot's.
    pub fn check_members(&self, snapshot: &Snapshot) -> Result<(), String> {
        let named = self
            .candidates
            .iter()
            .chain(&self.runs_on)
            .chain(self.member_status.keys());
        match named.into_iter().find(|name| snapshot.member(name).is_none()) {
            Some(unknown) => Err(format!("{unknown} is not a member of the snapshot")),
            None => Ok(()),
        }
    }

    /// Evaluates the call on `cluster` with its members' statuses changed, then puts the
    /// cluster back; with `counts`, the statements it ran (see
    /// [`Scriptlet::evaluate_counted`]).
    pub fn evaluate(
        &self,
        scriptlet: &Scriptlet,
        cluster: &mut PreparedCluster,
        limits: &Limits,
        cancelled: &dyn Fn() -> bool,
        counts: Option<&mut crate::engine::StatementCounts>,
    ) -> Evaluation {
        let checkpoint = (!self.member_status.is_empty()).then(|| cluster.checkpoint());
        for (member, status) in &self.member_status {
            cluster.set_member_status(member, status.clone());
        }
        let local_member = self
            .runs_on
            .clone()
            .unwrap_or_else(|| cluster.default_location().to_owned());
        let call = PlacementCall {
            request: &self.request,
            candidates: &self.candidates,
            local_member: &local_member,
        };
        let evaluation = match counts {
            Some(counts) => scriptlet.evaluate_counted(cluster, &call, limits, cancelled, counts),
            None => scriptlet.evaluate(cluster, &call, limits, cancelled),
        };
        if let Some(checkpoint) = checkpoint {
            cluster.rollback(checkpoint);
        }
        evaluation
    }
}

fn is_empty(value: &serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::Null => true,
        Value::Bool(flag) => !flag,
        Value::String(text) => text.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(fields) => fields.is_empty(),
        Value::Number(_) => false,
    }
}

/// `Ok` when an operation's case holds; otherwise what happened instead, in words.
pub fn judge(case: &Case, simulation: &Simulation) -> Result<(), String> {
    if let Some(stopped) = &simulation.stopped {
        return Err(stopped.clone());
    }
    if case.expect.placed {
        for call in &simulation.calls {
            if let Some(error) = &call.error {
                return Err(format!(
                    "{}: the scriptlet failed: {}",
                    call.instance, error.message
                ));
            }
            let outside = call.trace.iter().find(|builtin| {
                builtin.builtin == "set_target" && builtin.result.contains("not a candidate")
            });
            if let Some(set_target) = outside {
                return Err(format!(
                    "{}: set_target({}) named a member that is not a candidate",
                    call.instance, set_target.arguments
                ));
            }
        }
    }
    if simulation.outcomes.is_empty() {
        return Err("nothing was placed".into());
    }
    for outcome in &simulation.outcomes {
        match (outcome, &case.expect) {
            (
                Outcome::Failed { instance, error },
                Expectation {
                    error: Some(wanted), ..
                },
            ) => {
                if !error.contains(wanted.as_str()) {
                    return Err(format!(
                        "{instance} failed with {error:?}, not an error containing {wanted:?}"
                    ));
                }
            }
            (Outcome::Failed { instance, error }, _) => {
                return Err(format!("{instance} failed: {error}"));
            }
            (
                Outcome::Placed { instance, member, .. },
                Expectation {
                    error: Some(wanted), ..
                },
            ) => {
                return Err(format!(
                    "{instance} was placed on {member}, not refused with an error containing {wanted:?}"
                ));
            }
            (
                Outcome::Placed { instance, member, .. },
                Expectation {
                    member: Some(wanted), ..
                },
            ) => {
                if member != wanted {
                    return Err(format!("{instance} was placed on {member}, not on {wanted}"));
                }
            }
            (Outcome::Placed { .. }, _) => {}
        }
    }
    Ok(())
}

/// `Ok` when a direct call's case holds on its `evaluation` (`None`: there is no scriptlet,
/// Incus placed by itself); otherwise what happened instead.
pub fn judge_call(case: &Case, evaluation: Option<&Evaluation>) -> Result<(), String> {
    let (target, error, outside) = match evaluation {
        Some(evaluation) => (
            evaluation.target.as_deref(),
            evaluation.error.as_ref(),
            evaluation.non_candidate.as_deref(),
        ),
        None => (None, None, None),
    };
    if let Some(wanted) = &case.expect.error {
        return match error {
            Some(error) if error.message.contains(wanted.as_str()) => Ok(()),
            Some(error) => Err(format!(
                "the call failed with {:?}, not an error containing {wanted:?}",
                error.message
            )),
            None => Err(format!(
                "the call did not fail (chose {}), not an error containing {wanted:?}",
                target.unwrap_or("none")
            )),
        };
    }
    if let Some(error) = error {
        return Err(format!("the call failed: {}", error.message));
    }
    if case.expect.placed {
        if let Some(member) = outside {
            return Err(format!(
                "set_target({member:?}) named a member that is not a candidate"
            ));
        }
    }
    if let Some(wanted) = &case.expect.member {
        if target != Some(wanted.as_str()) {
            return Err(format!(
                "the call chose {}, not {wanted}",
                target.unwrap_or("none")
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
