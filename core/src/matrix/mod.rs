//! The reason × version matrix: for a scriptlet and a snapshot, each Incus version asked for ×
//! each [`Situation`] that leads to scriptlet calls, with one representative instance of the
//! snapshot per situation, the calls Incus would make (reason, project, candidate count) and
//! what the scriptlet does with each ([`CallOutcome`]). Cells that differ between versions are
//! marked, and [`lints`] are drawn from the whole.
//!
//! A matrix is a list of independent simulations whose results are merged, so that the
//! scriptlet never runs where the matrix is assembled:
//! 1. [`plan`] (here, wherever): the versions, the representative instance of each situation
//!    ([`pick`]: chosen by a rule, or named by the user) and the operations that put it in
//!    that situation, one [`PlannedSimulation`] per version × situation;
//! 2. [`run_simulation`] (in a sandbox worker): one planned simulation, its calls classified
//!    ([`classify`]), as a [`SimulationRun`];
//! 3. [`merge`] (here again): the runs, in any order, into the [`Matrix`] with its marks and
//!    lints.
//!
//! Whatever a run learns later (line coverage, say) travels in its [`SimulationRun`] and is
//! added up in [`merge`].

mod classify;
mod lints;
mod merge;
mod pick;
mod run;
mod situation;
mod versions;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use merge::merge;
pub use pick::{plan, PlanError};
pub use run::{run_simulation, SimulationRun};
pub use situation::{Situation, UnknownSituation};
pub use versions::{
    checked_versions, default_versions, parse_versions, MatrixVersion, VersionsError, MAX_VERSIONS,
};

use crate::simulate::Operation;

/// The instance the user chose per situation (`PROJECT/NAME`); the others are chosen by rule.
pub type Picks = BTreeMap<Situation, String>;

/// What to simulate: every version × situation, each with its operations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// The versions as asked for, in order.
    pub versions: Vec<String>,
    pub simulations: Vec<PlannedSimulation>,
    /// Situations left out, with the reason (no instance of the snapshot fits, or no version
    /// asked for sends it).
    pub skipped: Vec<Skipped>,
}

/// One cell to compute: a version, a situation and the operations that put the situation's
/// instance in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedSimulation {
    /// As asked for (`6.6`), which is how the matrix names it.
    pub version: String,
    /// The version the engine and the simulator imitate (`6.6.0`).
    pub incus_version: String,
    pub situation: Situation,
    /// `PROJECT/NAME` of the representative instance.
    pub instance: String,
    pub operations: Vec<Operation>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    pub situation: Situation,
    pub reason: String,
}

/// The matrix: `berth check --matrix --json` and `POST /api/v1/scriptlets/matrix`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Matrix {
    /// The versions as asked for, in order (the columns).
    pub versions: Vec<String>,
    /// Situation by situation (in [`Situation::ALL`]'s order), each in the versions' order.
    pub cells: Vec<Cell>,
    pub lints: Vec<Lint>,
    pub skipped: Vec<Skipped>,
}

/// One version × situation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    /// As asked for.
    pub version: String,
    pub situation: Situation,
    /// `PROJECT/NAME` of the representative instance.
    pub instance: String,
    /// The calls Incus makes, in order (none: Incus does not call the scriptlet here).
    pub calls: Vec<MatrixCall>,
    /// The calls (or how the cell ended) are not those most versions of the situation show.
    pub differs: bool,
    /// What was simulated (`berth simulate`'s operations), to open in the sandbox.
    pub operations: Vec<Operation>,
    /// Where Incus puts the instance in the end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placed: Option<String>,
    /// Incus's error for the operation, when it fails (the scriptlet's, or another refusal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
    /// This version refuses the scriptlet when it is set (`LINE:COL: message`): no call runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    /// The simulation was cut short (its budget, or its worker's memory or time limit): a
    /// limit, like a call's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
}

/// One scriptlet call and what the scriptlet did with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatrixCall {
    /// `PROJECT/NAME` of the instance placed, when it is not the cell's (an evacuation places
    /// the instances before it first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    pub reason: String,
    /// `request.project`.
    pub project: String,
    /// How many candidate members the call offers.
    pub candidates: usize,
    pub outcome: CallOutcome,
    /// `member`: the candidate chosen; `non_candidate`: the member named, when the cluster has
    /// one of that name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    /// `error`, `limit`, and `non_candidate` where Incus raises: the message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Where the error was raised (1-based), when it has a place in the source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// Incus ignores the choice: the member is fixed, the call can only veto.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub validation_only: bool,
    /// What Incus does with what the scriptlet did, where it is not plain from the outcome.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// What the scriptlet did with one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallOutcome {
    /// `set_target` on a candidate.
    Member,
    /// Returned without `set_target`: Incus's default placement.
    NoTarget,
    /// Raised or failed.
    Error,
    /// `set_target` on a member that is not a candidate: an error from 6.7 / 6.0.3 on, silently
    /// Incus's default placement before.
    NonCandidate,
    /// A bound Berth sets hit: steps, heap, call depth, time, memory.
    Limit,
}

impl CallOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            CallOutcome::Member => "member",
            CallOutcome::NoTarget => "no_target",
            CallOutcome::Error => "error",
            CallOutcome::NonCandidate => "non_candidate",
            CallOutcome::Limit => "limit",
        }
    }

    /// `error`, `non_candidate` and `limit` fail the matrix (`berth check --matrix` exits 1).
    pub fn fails(self) -> bool {
        matches!(
            self,
            CallOutcome::Error | CallOutcome::NonCandidate | CallOutcome::Limit
        )
    }
}

/// A warning drawn from the whole matrix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lint {
    /// `unhandled-reason` or `raises-on-single-candidate`.
    pub code: String,
    pub message: String,
    /// The versions (as asked for) and situations whose cells show it.
    pub versions: Vec<String>,
    pub situations: Vec<Situation>,
}

impl Cell {
    /// A failing call, a version that refuses the scriptlet, or a simulation cut short.
    pub fn fails(&self) -> bool {
        self.refused.is_some() || self.stopped.is_some() || self.calls.iter().any(|call| call.outcome.fails())
    }
}

impl Matrix {
    /// Whether `berth check --matrix` exits 1: any cell fails.
    pub fn fails(&self) -> bool {
        self.cells.iter().any(Cell::fails)
    }

    /// `N cells, C calls, F failing (error E, non_candidate N, limit L), D differing, W lints`.
    pub fn summary(&self) -> String {
        let calls: Vec<&MatrixCall> = self.cells.iter().flat_map(|cell| &cell.calls).collect();
        let count = |outcome: CallOutcome| calls.iter().filter(|call| call.outcome == outcome).count();
        let refused_or_stopped = self
            .cells
            .iter()
            .filter(|cell| cell.refused.is_some() || cell.stopped.is_some())
            .count();
        let mut summary = format!(
            "{} cells, {} calls, {} failing cells (error {}, non_candidate {}, limit {}",
            self.cells.len(),
            calls.len(),
            self.cells.iter().filter(|cell| cell.fails()).count(),
            count(CallOutcome::Error),
            count(CallOutcome::NonCandidate),
            count(CallOutcome::Limit),
        );
        if refused_or_stopped > 0 {
            summary.push_str(&format!(", refused or stopped {refused_or_stopped}"));
        }
        summary.push_str(&format!(
            "), {} differing, {} lints",
            self.cells.iter().filter(|cell| cell.differs).count(),
            self.lints.len()
        ));
        summary
    }
}

#[cfg(test)]
mod tests;
