//! A simulation's calls as the matrix shows them: for each, what the scriptlet did
//! ([`CallOutcome`]), judged by what it did rather than by what Incus made of it, with a note
//! where Incus's answer is not plain from the outcome.

use super::{CallOutcome, MatrixCall, PlannedSimulation, Situation};
use crate::engine::{BuiltinCall, ErrorKind};
use crate::simulate::{Operation, Outcome, SimulatedCall, Simulation};

/// What a cell shows of its simulation.
pub(super) struct Classified {
    pub calls: Vec<MatrixCall>,
    pub placed: Option<String>,
    pub failed: Option<String>,
    pub stopped: Option<String>,
}

/// The engine's trace of a `set_target` the member of which was not a candidate: raised (6.7,
/// 6.0.3 and later) or ignored (before).
const NOT_A_CANDIDATE_RAISED: &str = "error: not a candidate";
const NOT_A_CANDIDATE_IGNORED: &str = "ignored: not a candidate";

/// The calls of `simulation` that belong to the cell, classified. `is_member` says whether a
/// name is a member of the cluster (a `set_target` argument that is not one is no name, and
/// may be anything the scriptlet read: it is kept out of the `member` field).
pub(super) fn classify(
    planned: &PlannedSimulation,
    simulation: &Simulation,
    is_member: &dyn Fn(&str) -> bool,
) -> Classified {
    let placed_key = placed_instance(planned);
    // An evacuation calls once per instance of the member: the calls up to the instance's own
    // (those before it change what it sees, and a failure among them stops the evacuation).
    let mut calls: &[SimulatedCall] = &simulation.calls;
    if planned.situation == Situation::Evacuate {
        if let Some(own) = calls.iter().position(|call| call.instance == placed_key) {
            calls = &calls[..=own];
        }
    }
    let outcome = simulation
        .outcomes
        .iter()
        .find(|outcome| outcome_instance(outcome) == placed_key)
        .or_else(|| {
            simulation
                .outcomes
                .iter()
                .find(|outcome| matches!(outcome, Outcome::Failed { .. }))
        });
    let (placed, failed) = match outcome {
        Some(Outcome::Placed { member, .. }) => (Some(member.clone()), None),
        Some(Outcome::Failed { error, .. }) => (None, Some(error.clone())),
        None => (None, None),
    };
    Classified {
        calls: calls
            .iter()
            .map(|call| classify_call(&planned.version, &placed_key, call, is_member))
            .collect(),
        placed,
        failed,
        stopped: simulation.stopped.clone(),
    }
}

/// The instance whose outcome the cell shows: the created one for the `create*` situations,
/// else the representative itself.
fn placed_instance(planned: &PlannedSimulation) -> String {
    match planned.operations.first() {
        Some(Operation::Create(create)) => format!("{}/{}", create.project, create.name),
        _ => planned.instance.clone(),
    }
}

fn outcome_instance(outcome: &Outcome) -> &str {
    match outcome {
        Outcome::Placed { instance, .. } | Outcome::Failed { instance, .. } => instance,
    }
}

fn classify_call(
    version: &str,
    placed_key: &str,
    call: &SimulatedCall,
    is_member: &dyn Fn(&str) -> bool,
) -> MatrixCall {
    let mut shown = MatrixCall {
        instance: (call.instance != placed_key).then(|| call.instance.clone()),
        reason: call.reason.clone(),
        project: call.project.clone(),
        candidates: call.candidates.len(),
        outcome: CallOutcome::NoTarget,
        member: None,
        error: None,
        line: None,
        validation_only: call.validation_only,
        note: None,
    };
    let non_candidate = call
        .trace
        .iter()
        .rev()
        .find(|traced| traced.builtin == "set_target" && traced.result.starts_with(NOT_A_CANDIDATE_IGNORED))
        .or_else(|| {
            call.trace
                .iter()
                .rev()
                .find(|traced| traced.builtin == "set_target" && traced.result == NOT_A_CANDIDATE_RAISED)
        });
    match (&call.error, &call.target) {
        (Some(error), _) => {
            let raised_for_non_candidate = call.trace.last().is_some_and(|traced| {
                traced.builtin == "set_target" && traced.result == NOT_A_CANDIDATE_RAISED
            });
            shown.error = Some(error.message.clone());
            shown.line = error.line;
            shown.outcome = if is_limit(error.kind) {
                CallOutcome::Limit
            } else if raised_for_non_candidate {
                let named = named_member(call.trace.last().expect("just looked at"), is_member);
                shown.member = named;
                shown.note = Some(format!(
                    "Incus {version} refuses a member that is not a candidate: the operation fails"
                ));
                CallOutcome::NonCandidate
            } else {
                CallOutcome::Error
            };
        }
        (None, Some(member)) => {
            shown.outcome = CallOutcome::Member;
            shown.member = Some(member.clone());
        }
        (None, None) => {
            if let Some(traced) = non_candidate {
                shown.outcome = CallOutcome::NonCandidate;
                shown.member = named_member(traced, is_member);
                shown.note = Some(format!(
                    "Incus {version} ignores a member that is not a candidate and places the instance by its own rule"
                ));
            }
        }
    }
    if shown.outcome == CallOutcome::NonCandidate && shown.member.is_none() {
        // Not a member's name: whatever the scriptlet passed, said in the note (free text,
        // which answers redact), never in the `member` field (a name, which they keep).
        let argument = non_candidate
            .map(|traced| traced.arguments.as_str())
            .unwrap_or_default();
        let note = shown.note.take().unwrap_or_default();
        shown.note = Some(format!(
            "set_target({argument}) names no member of the cluster. {note}"
        ));
    }
    shown
}

fn is_limit(kind: Option<ErrorKind>) -> bool {
    matches!(
        kind,
        Some(
            ErrorKind::StepLimit
                | ErrorKind::HeapLimit
                | ErrorKind::StackOverflow
                | ErrorKind::Timeout
                | ErrorKind::MemoryLimit
        )
    )
}

/// The member a traced `set_target` named (its argument is the name as a quoted string), when
/// the cluster has a member of that name.
fn named_member(traced: &BuiltinCall, is_member: &dyn Fn(&str) -> bool) -> Option<String> {
    let name = traced
        .arguments
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))?;
    is_member(name).then(|| name.to_owned())
}
