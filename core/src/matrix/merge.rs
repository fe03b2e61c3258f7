//! The runs of a plan, in whatever order they finished, put together: cells in the matrix's
//! order, those that differ between versions marked, and the lints drawn.

use std::collections::BTreeSet;

use super::lints::draw;
use super::{CallOutcome, Cell, Matrix, Plan, SimulationRun, Situation};

/// The matrix of `plan` from its runs (one per planned simulation).
pub fn merge(plan: &Plan, runs: Vec<SimulationRun>) -> Matrix {
    let column = |version: &str| {
        plan.versions
            .iter()
            .position(|given| given == version)
            .unwrap_or(usize::MAX)
    };
    let branches = runs.iter().any(|run| run.branches_on_reason);
    let handled: BTreeSet<String> = runs
        .iter()
        .flat_map(|run| run.handled_reasons.iter().cloned())
        .collect();
    let mut cells: Vec<Cell> = runs.into_iter().map(|run| run.cell).collect();
    cells.sort_by_key(|cell| (cell.situation, column(&cell.version)));
    mark_differences(&mut cells);
    let lints = draw(&cells, &plan.versions, branches.then_some(&handled));
    Matrix {
        versions: plan.versions.clone(),
        cells,
        lints,
        skipped: plan.skipped.clone(),
    }
}

/// What two cells of one situation must share to be alike: each call's reason, project,
/// candidate count, outcome and member, and how the cell ended.
type Signature = (
    Vec<(String, String, usize, CallOutcome, Option<String>)>,
    Option<String>,
    bool,
    bool,
    bool,
);

fn signature(cell: &Cell) -> Signature {
    (
        cell.calls
            .iter()
            .map(|call| {
                (
                    call.reason.clone(),
                    call.project.clone(),
                    call.candidates,
                    call.outcome,
                    call.member.clone(),
                )
            })
            .collect(),
        cell.placed.clone(),
        cell.failed.is_some(),
        cell.refused.is_some(),
        cell.stopped.is_some(),
    )
}

/// In each situation, the cells unlike the one most versions show (ties: the earliest
/// version's) are marked: the column that behaves differently stands out, not every column.
fn mark_differences(cells: &mut [Cell]) {
    for situation in Situation::ALL {
        let indices: Vec<usize> = (0..cells.len())
            .filter(|&index| cells[index].situation == situation)
            .collect();
        let signatures: Vec<Signature> = indices.iter().map(|&index| signature(&cells[index])).collect();
        let Some(usual) = signatures
            .iter()
            .enumerate()
            .max_by_key(|(position, candidate)| {
                let alike = signatures.iter().filter(|other| other == candidate).count();
                (alike, std::cmp::Reverse(*position))
            })
            .map(|(_, usual)| usual.clone())
        else {
            continue;
        };
        for (&index, signature) in indices.iter().zip(&signatures) {
            cells[index].differs = *signature != usual;
        }
    }
}
