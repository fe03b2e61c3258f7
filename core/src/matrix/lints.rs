//! Lints drawn from a whole matrix, each naming the versions and situations that show it:
//! - `unhandled-reason`: the scriptlet branches on `request.reason` and never names a reason
//!   its versions send (7.x's `rebalance`, 6.6's `new` for a moved instance's copy, …), so
//!   that reason falls through to whatever its last branch does;
//! - `raises-on-single-candidate`: it raises on a call offering one candidate while it places
//!   calls offering several, though Incus makes one-candidate calls to validate a member
//!   already chosen (a `--target`, a kept member, 6.6's copy), and a raise fails the operation.

use std::collections::BTreeSet;

use super::{CallOutcome, Cell, Lint, Situation};

pub(super) fn draw(cells: &[Cell], versions: &[String], handled: Option<&BTreeSet<String>>) -> Vec<Lint> {
    let mut lints = Vec::new();
    if let Some(handled) = handled {
        lints.extend(unhandled_reasons(cells, versions, handled));
    }
    lints.extend(raises_on_single_candidate(cells, versions));
    lints
}

/// Reasons Incus sends, in the order Incus introduced them, then any other.
const REASONS: [&str; 4] = ["new", "relocation", "evacuation", "rebalance"];

fn unhandled_reasons(cells: &[Cell], versions: &[String], handled: &BTreeSet<String>) -> Vec<Lint> {
    let mut sent: Vec<String> = REASONS.iter().map(|reason| reason.to_string()).collect();
    for call in cells.iter().flat_map(|cell| &cell.calls) {
        if !sent.contains(&call.reason) {
            sent.push(call.reason.clone());
        }
    }
    let named = handled
        .iter()
        .map(|reason| format!("{reason:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    sent.into_iter()
        .filter(|reason| !handled.contains(reason))
        .filter_map(|reason| {
            let showing: Vec<&Cell> = cells
                .iter()
                .filter(|cell| cell.calls.iter().any(|call| call.reason == reason))
                .collect();
            let (versions, situations) = where_shown(&showing, versions)?;
            Some(Lint {
                code: "unhandled-reason".into(),
                message: format!(
                    "the scriptlet branches on request.reason (it names {named}) but never handles {reason:?}, \
                     which Incus {} sends ({}): such calls fall through to its last branch",
                    versions.join(", "),
                    ids(&situations),
                ),
                versions,
                situations,
            })
        })
        .collect()
}

fn raises_on_single_candidate(cells: &[Cell], versions: &[String]) -> Option<Lint> {
    let places_several = cells
        .iter()
        .flat_map(|cell| &cell.calls)
        .any(|call| call.candidates > 1 && !call.outcome.fails());
    if !places_several {
        // It raises (or worse) wherever it runs: the failing cells say so already.
        return None;
    }
    let showing: Vec<&Cell> = cells
        .iter()
        .filter(|cell| {
            cell.calls
                .iter()
                .any(|call| call.candidates == 1 && call.outcome == CallOutcome::Error)
        })
        .collect();
    let (versions, situations) = where_shown(&showing, versions)?;
    let detail = situations
        .iter()
        .map(|situation| {
            let on: Vec<&str> = showing
                .iter()
                .filter(|cell| cell.situation == *situation)
                .map(|cell| cell.version.as_str())
                .collect();
            format!("{situation} on {}", on.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ");
    Some(Lint {
        code: "raises-on-single-candidate".into(),
        message: format!(
            "the scriptlet raises on calls that offer a single candidate ({detail}) while it places calls \
             that offer several: Incus makes one-candidate calls to validate a member already chosen \
             (a --target, a kept member, 6.6's copy of a moved instance), and a raise fails the operation"
        ),
        versions,
        situations,
    })
}

/// The versions (in the matrix's order) and situations of `showing`; `None` when it is empty.
fn where_shown(showing: &[&Cell], order: &[String]) -> Option<(Vec<String>, Vec<Situation>)> {
    if showing.is_empty() {
        return None;
    }
    let versions = order
        .iter()
        .filter(|version| showing.iter().any(|cell| &cell.version == *version))
        .cloned()
        .collect();
    let situations = Situation::ALL
        .into_iter()
        .filter(|situation| showing.iter().any(|cell| cell.situation == *situation))
        .collect();
    Some((versions, situations))
}

fn ids(situations: &[Situation]) -> String {
    situations
        .iter()
        .map(|situation| situation.id())
        .collect::<Vec<_>>()
        .join(", ")
}
