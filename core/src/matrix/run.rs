//! One planned simulation run where scriptlets may run (a sandbox worker): the scriptlet
//! compiled for the cell's version, the operations simulated on the worker's prepared cluster,
//! and the calls classified, as a [`SimulationRun`] for [`super::merge`].

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::classify::classify;
use super::{Cell, PlannedSimulation};
use crate::engine::{compile, reason_branches, Diagnostic, IncusVersion, Limits, PreparedCluster};
use crate::simulate::{Deadlines, Mode, Simulator};
use crate::Snapshot;

/// What one simulation of a matrix found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimulationRun {
    pub cell: Cell,
    /// Whether the scriptlet branches on `request.reason`, and the reasons it names where it
    /// does (the same in every run of a matrix; each run reads it, so that runs need no order).
    pub branches_on_reason: bool,
    pub handled_reasons: BTreeSet<String>,
}

/// Runs `planned` with `source` on `snapshot` and `cluster` (prepared from it), which are put
/// back as they were. Each compilation and call has the deadlines' time limit, the whole
/// simulation their budget.
pub fn run_simulation(
    planned: &PlannedSimulation,
    source: &str,
    limits: &Limits,
    deadlines: &dyn Deadlines,
    snapshot: &mut Snapshot,
    cluster: &mut PreparedCluster,
) -> SimulationRun {
    let mut cell = Cell::empty(planned);
    let reasons = reason_branches(source, &*deadlines.start_call());
    let run = |cell: Cell| SimulationRun {
        cell,
        branches_on_reason: reasons.branches,
        handled_reasons: reasons.handled.clone(),
    };
    let version = match planned.incus_version.parse::<IncusVersion>() {
        Ok(version) => version,
        Err(error) => {
            cell.refused = Some(error.to_string());
            return run(cell);
        }
    };
    let scriptlet = match compile(source, version, limits, &*deadlines.start_call()) {
        Ok(scriptlet) => scriptlet,
        Err(error) => {
            cell.refused = Some(refusal(&error));
            return run(cell);
        }
    };
    let mut simulator = Simulator::new(scriptlet.as_ref(), version, Mode::Upstream);
    simulator.limits = *limits;
    let simulation = simulator
        .with_deadlines(deadlines)
        .run_in_place(snapshot, cluster, &planned.operations);
    let is_member = |name: &str| snapshot.member(name).is_some();
    let classified = classify(planned, &simulation, &is_member);
    cell.calls = classified.calls;
    cell.placed = classified.placed;
    cell.failed = classified.failed;
    cell.stopped = classified.stopped;
    run(cell)
}

impl SimulationRun {
    /// The run of a simulation that ended before it could answer (its worker died or overran
    /// the time it had): its cell stopped with `reason`.
    pub fn cut_short(planned: &PlannedSimulation, reason: impl Into<String>) -> SimulationRun {
        let mut cell = Cell::empty(planned);
        cell.stopped = Some(reason.into());
        SimulationRun {
            cell,
            branches_on_reason: false,
            handled_reasons: BTreeSet::new(),
        }
    }
}

impl Cell {
    /// The cell of `planned` before anything ran.
    fn empty(planned: &PlannedSimulation) -> Cell {
        Cell {
            version: planned.version.clone(),
            situation: planned.situation,
            instance: planned.instance.clone(),
            calls: Vec::new(),
            differs: false,
            operations: planned.operations.clone(),
            placed: None,
            failed: None,
            refused: None,
            stopped: None,
        }
    }
}

/// `LINE:COL: message`, as `berth check` prints it without the file.
fn refusal(error: &Diagnostic) -> String {
    match (error.line, error.column) {
        (Some(line), Some(column)) => format!("{line}:{column}: {}", error.message),
        _ => error.message.clone(),
    }
}
