//! The placement simulator: for an operation and a behaviour profile, the ordered scriptlet
//! calls Incus makes (where, why, for which project, with which candidates and why the other
//! members are not among them), each evaluated by the engine, and the outcome; and beside it
//! the corrected cross-project move of `product.md`. Sequences are cumulative: each operation
//! sees the effects of the ones before, in the snapshot and in the prepared cluster the
//! scriptlet reads (both kept in step by [`working`]).
//!
//! Facts: `incus-placement.md` §2 (reasons, candidate rules), §3 (move flow, the call table per
//! profile). Where the table is UNVERIFIED upstream (P4's combined move) the simulator follows
//! the reading of the code the document gives.
//!
//! Map: [`operation`] (what can be simulated), [`place`] (one scriptlet call and the placement
//! step every operation shares), [`target`] (`CheckTarget`), [`request`] (requests for
//! existing instances), [`create`] with [`image`] and [`instance_type`], [`relocate`] (moves),
//! [`evacuate`] (evacuation and restore), [`rebalance`], [`recreate`] (an existing
//! instance placed as new, for impact replays), [`budget`] (time limits).

mod budget;
mod create;
mod evacuate;
mod image;
mod instance_type;
mod operation;
mod place;
mod profile;
mod rebalance;
mod recreate;
mod relocate;
mod request;
mod target;
mod working;

use serde::{Deserialize, Serialize};

pub use budget::{Deadlines, NoDeadlines};
pub use operation::{CreateOperation, CreateSource, MoveOperation, Operation, SourceKind};
pub use profile::BehaviourProfile;
pub(crate) use request::{existing_instance_request, relocation_request};

use crate::engine::{
    BuiltinCall, Diagnostic, IncusVersion, Limits, LogLine, PlacementRequest, PreparedCluster, Scriptlet,
};
use crate::Snapshot;
use place::Run;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// What the cluster's Incus does.
    Upstream,
    /// Berth's corrected cross-project move: one relocation call for the target project with
    /// every eligible member, then the one-member validation call Incus still makes.
    Corrected,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Simulation {
    pub incus_version: String,
    pub profile: BehaviourProfile,
    pub mode: Mode,
    pub calls: Vec<SimulatedCall>,
    pub outcomes: Vec<Outcome>,
    /// Set when the simulation's budget ran out before a call: `simulation stopped after N of
    /// M calls: budget of S s`. N is the calls made; M is N plus the calls still expected
    /// when it stopped: what the stopped operation was expected to make when it began (one
    /// per create, move or rebalance, two for a cross-project move that calls twice, one per
    /// instance to evacuate or restore) less those it made, plus the same count for each
    /// later operation on the cluster as it stood. Absent when the simulation ran to its end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimulatedCall {
    /// `PROJECT/NAME` of the instance placed.
    pub instance: String,
    pub reason: String,
    /// `request.project`.
    pub project: String,
    /// The member whose Incus runs the scriptlet.
    pub runs_on: String,
    pub candidates: Vec<String>,
    pub excluded: Vec<ExcludedMember>,
    /// Incus ignores this call's choice: it can only veto (a fixed member).
    pub validation_only: bool,
    pub logs: Vec<LogLine>,
    pub trace: Vec<BuiltinCall>,
    pub target: Option<String>,
    pub error: Option<Diagnostic>,
    pub request: PlacementRequest,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExcludedMember {
    pub member: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Outcome {
    Placed {
        instance: String,
        member: String,
        project: String,
    },
    Failed {
        instance: String,
        error: String,
    },
}

pub struct Simulator<'s> {
    pub scriptlet: Option<&'s Scriptlet>,
    pub version: IncusVersion,
    pub profile: BehaviourProfile,
    pub mode: Mode,
    pub limits: Limits,
    /// Per-call time limits and the simulation's budget; default [`NoDeadlines`].
    pub deadlines: &'s dyn Deadlines,
}

impl<'s> Simulator<'s> {
    pub fn new(scriptlet: Option<&'s Scriptlet>, version: IncusVersion, mode: Mode) -> Simulator<'s> {
        Simulator {
            scriptlet,
            version,
            profile: BehaviourProfile::of(version),
            mode,
            limits: Limits::default(),
            deadlines: &NoDeadlines,
        }
    }

    pub fn with_deadlines(mut self, deadlines: &'s dyn Deadlines) -> Simulator<'s> {
        self.deadlines = deadlines;
        self
    }

    /// Runs `operations` in order against a copy of `snapshot`.
    pub fn run(&self, snapshot: &Snapshot, operations: &[Operation]) -> Simulation {
        let mut cluster = PreparedCluster::new(snapshot);
        self.run_in_place(&mut snapshot.clone(), &mut cluster, operations)
    }

    /// As [`Simulator::run`], with `cluster` prepared from `snapshot` by the caller: both are
    /// copied, not changed.
    pub fn run_prepared(
        &self,
        snapshot: &Snapshot,
        cluster: &PreparedCluster,
        operations: &[Operation],
    ) -> Simulation {
        self.run_in_place(&mut snapshot.clone(), &mut cluster.clone(), operations)
    }

    /// As [`Simulator::run_prepared`] without the copies, for a caller that keeps prepared
    /// clusters (a worker, by content hash): the simulation changes `snapshot` and `cluster` as
    /// it goes and puts both back as they were before it returns.
    pub fn run_in_place(
        &self,
        snapshot: &mut Snapshot,
        cluster: &mut PreparedCluster,
        operations: &[Operation],
    ) -> Simulation {
        Run::new(self, snapshot, cluster, operations).run()
    }
}

#[cfg(test)]
mod tests;
