//! One simulation run, and the step every operation shares: candidates → scriptlet call →
//! the scriptlet's choice or Incus's default → a member or Incus's failure.

use super::budget::stopped_message;
use super::working::Working;
use super::{ExcludedMember, Mode, Operation, Outcome, SimulatedCall, Simulation, Simulator};
use crate::engine::{Diagnostic, ErrorKind, PlacementCall, PlacementRequest, PreparedCluster};
use crate::placement::{candidates_by_load, CandidateQuery, Candidates, Exclusion};
use crate::Snapshot;

/// The budget ran out before a call: the whole simulation stops (recorded in
/// `Simulation::stopped`).
pub(super) struct Stopped;

/// What an operation step returns: `Err` only when the simulation must stop.
pub(super) type Step = Result<(), Stopped>;

/// A member, or the error Incus answers with.
pub(super) type Placed = Result<String, String>;

/// One scriptlet call as Incus would make it.
pub(super) struct Call {
    /// `PROJECT/NAME` of the instance placed.
    pub instance: String,
    /// The member whose Incus runs the scriptlet.
    pub runs_on: String,
    pub request: PlacementRequest,
    pub candidates: Vec<String>,
    pub excluded: Vec<(String, Exclusion)>,
    /// The member is fixed (an explicit member target, the kept member): before 6.6 Incus
    /// makes no call then.
    pub fixed: bool,
    /// Incus ignores the choice: the call can only veto.
    pub validation_only: bool,
}

pub(super) enum CallResult {
    /// No call: no scriptlet, or a fixed member before 6.6.
    NotMade,
    Chose(String),
    NoChoice,
    /// The scriptlet failed; Incus's error.
    Failed(String),
}

pub(super) struct Run<'r> {
    pub simulator: &'r Simulator<'r>,
    pub working: Working<'r>,
    pub simulation: Simulation,
    operations: &'r [Operation],
    /// The operation running.
    current: usize,
    /// Calls made before the current operation plus those it was expected to make.
    expected_by_current: usize,
}

/// What [`Run::candidates_for_existing`] reads of an instance (project, `@group`,
/// architecture): on an unchanged cluster, instances with the same key have the same candidates.
pub(super) type ExistingCandidatesKey = (String, Option<String>, String);

pub(super) fn existing_candidates_key(instance: &crate::model::Instance) -> ExistingCandidatesKey {
    (
        instance.project.clone(),
        instance.config.get("volatile.cluster.group").cloned(),
        instance.architecture.clone(),
    )
}

impl<'r> Run<'r> {
    pub fn new(
        simulator: &'r Simulator<'r>,
        snapshot: &'r mut Snapshot,
        cluster: &'r mut PreparedCluster,
        operations: &'r [Operation],
    ) -> Run<'r> {
        Run {
            simulator,
            working: Working::new(snapshot, cluster),
            simulation: Simulation {
                incus_version: simulator.version.to_string(),
                profile: simulator.profile,
                mode: simulator.mode,
                calls: Vec::new(),
                outcomes: Vec::new(),
                stopped: None,
            },
            operations,
            current: 0,
            expected_by_current: 0,
        }
    }

    /// For a run driven from outside [`Run::run`] (one placement per instance): the calls it
    /// expects to make, for the message when its budget stops it.
    pub fn expect_calls(&mut self, calls: usize) {
        self.expected_by_current = calls;
    }

    pub fn finish(self) -> Simulation {
        self.simulation
    }

    pub fn run(mut self) -> Simulation {
        for (index, operation) in self.operations.iter().enumerate() {
            self.current = index;
            self.expected_by_current = self.simulation.calls.len() + self.expected_calls(operation);
            let step = match operation {
                Operation::Create(create) => self.create(create),
                Operation::Move(relocation) => self.relocate(relocation),
                Operation::Evacuate { member } => self.evacuate(member),
                Operation::Restore { member } => self.restore(member),
                Operation::Rebalance { project, name } => self.rebalance(project, name),
            };
            if step.is_err() {
                break;
            }
        }
        self.simulation
    }

    /// The calls `operation` would make on the cluster as it stands (see `Simulation::stopped`).
    fn expected_calls(&self, operation: &Operation) -> usize {
        let simulator = self.simulator;
        if simulator.scriptlet.is_none() {
            return 0;
        }
        let state = self.working.snapshot();
        match operation {
            Operation::Create(_) => 1,
            Operation::Move(relocation) => {
                let cross_project = relocation.destination_project() != relocation.project;
                let twice = simulator.profile.second_call_from_internal_copy()
                    || (simulator.mode == Mode::Corrected && simulator.profile.calls_for_fixed_member());
                1 + usize::from(cross_project && twice)
            }
            Operation::Evacuate { member } => {
                state.instances.iter().filter(|i| &i.location == member).count()
            }
            Operation::Restore { member } => state
                .instances
                .iter()
                .filter(|i| i.config.get("volatile.evacuate.origin") == Some(member))
                .count(),
            Operation::Rebalance { .. } => usize::from(simulator.profile.has_rebalance()),
        }
    }

    /// Incus's candidates on the cluster as the simulation has changed it, with member loads
    /// from the prepared cluster's index rather than a count of every instance per call.
    pub fn candidates(&self, query: &CandidateQuery) -> Candidates {
        let cluster = self.working.cluster();
        candidates_by_load(self.working.snapshot(), query, |member| {
            cluster.instance_count_on(member)
        })
    }

    /// The candidates Incus offers an instance it places again by itself (evacuation,
    /// re-create): its project's restrictions, the `@group` it was created with
    /// (`volatile.cluster.group`) and its architecture, as [`existing_candidates_key`] names them.
    pub fn candidates_for_existing(&self, instance: &crate::model::Instance) -> Candidates {
        let (project_name, group, _architecture) = existing_candidates_key(instance);
        let project = self
            .working
            .snapshot()
            .project(&project_name)
            .cloned()
            .unwrap_or_else(|| crate::model::Project {
                name: project_name,
                ..crate::model::Project::default()
            });
        self.candidates(&CandidateQuery {
            project: Some(&project),
            group: group.as_deref(),
            architectures: super::request::architectures_of(instance),
        })
    }

    pub fn fail(&mut self, instance: &str, error: impl Into<String>) {
        self.simulation.outcomes.push(Outcome::Failed {
            instance: instance.to_owned(),
            error: error.into(),
        });
    }

    pub fn placed(&mut self, instance: &str, member: &str, project: &str) {
        self.simulation.outcomes.push(Outcome::Placed {
            instance: instance.to_owned(),
            member: member.to_owned(),
            project: project.to_owned(),
        });
    }

    /// One scriptlet call, recorded and evaluated against the working cluster with its own
    /// time limit; the simulation stops first when its budget is spent.
    pub fn call(&mut self, call: Call) -> Result<CallResult, Stopped> {
        let simulator = self.simulator;
        let Some(scriptlet) = simulator.scriptlet else {
            return Ok(CallResult::NotMade);
        };
        if call.fixed && !simulator.profile.calls_for_fixed_member() {
            return Ok(CallResult::NotMade);
        }
        if simulator.deadlines.budget_spent() {
            let made = self.simulation.calls.len();
            let later: usize = self
                .operations
                .get(self.current + 1..)
                .unwrap_or_default()
                .iter()
                .map(|operation| self.expected_calls(operation))
                .sum();
            let planned = self.expected_by_current.max(made + 1) + later;
            self.simulation.stopped = Some(stopped_message(made, planned, simulator.deadlines.budget()));
            return Err(Stopped);
        }
        let placement = PlacementCall {
            request: &call.request,
            candidates: &call.candidates,
            local_member: &call.runs_on,
        };
        let cancelled = simulator.deadlines.start_call();
        let evaluation =
            scriptlet.evaluate(self.working.cluster(), &placement, &simulator.limits, &*cancelled);
        drop(cancelled);
        let result = match (&evaluation.error, &evaluation.target) {
            (Some(error), _) => CallResult::Failed(scriptlet_failure(error)),
            (None, Some(member)) => CallResult::Chose(member.clone()),
            (None, None) => CallResult::NoChoice,
        };
        self.simulation.calls.push(SimulatedCall {
            instance: call.instance,
            reason: call.request.reason.clone(),
            project: call.request.project.clone(),
            runs_on: call.runs_on,
            candidates: call.candidates,
            excluded: call
                .excluded
                .into_iter()
                .map(|(member, reason)| ExcludedMember {
                    member,
                    reason: reason.to_string(),
                })
                .collect(),
            validation_only: call.validation_only,
            logs: evaluation.logs,
            trace: evaluation.trace,
            target: evaluation.target,
            error: evaluation.error,
            request: call.request,
        });
        Ok(result)
    }

    /// The placement step: the call, then the scriptlet's choice (ignored by a validation-only
    /// call), else `default` of the candidates, else "Couldn't find a cluster member".
    pub fn place(
        &mut self,
        call: Call,
        default: impl FnOnce(&[String]) -> Option<String>,
    ) -> Result<Placed, Stopped> {
        let candidates = call.candidates.clone();
        let validation_only = call.validation_only;
        let chosen = match self.call(call)? {
            CallResult::Failed(error) => return Ok(Err(error)),
            CallResult::Chose(member) if !validation_only => Some(member),
            _ => None,
        };
        Ok(chosen
            .or_else(|| default(&candidates))
            .ok_or_else(|| NO_MEMBER.to_owned()))
    }
}

/// Incus's error when no member is left to place on.
pub(super) const NO_MEMBER: &str = "Couldn't find a cluster member for the instance";

/// Incus's default for a new or evacuated instance: the least loaded candidate.
pub(super) fn first(candidates: &[String]) -> Option<String> {
    candidates.first().cloned()
}

/// The error Incus returns when the scriptlet fails (`instance_placement.go`).
fn scriptlet_failure(error: &Diagnostic) -> String {
    match error.kind {
        Some(ErrorKind::ReturnValue) => format!("Failed instance placement scriptlet: {}", error.message),
        _ => format!(
            "Failed instance placement scriptlet: Failed to run: {}",
            error.message
        ),
    }
}
