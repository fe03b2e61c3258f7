//! The placement simulator: for an operation and a behaviour profile, the ordered scriptlet
//! calls Incus makes (where, why, for which project, with which candidates and why the other
//! members are not among them), each evaluated by the engine, and the outcome; and beside it
//! the corrected cross-project move of `product.md`. Sequences are cumulative: each operation
//! sees the effects of the ones before.
//!
//! Facts: `incus-placement.md` §2 (reasons, candidate rules), §3 (move flow, the call table per
//! profile). Where the table is UNVERIFIED upstream (P4's combined move) the simulator follows
//! the reading of the code the document gives.

mod operation;
mod profile;

use serde::{Deserialize, Serialize};

pub use operation::{CreateSource, Operation};
pub use profile::BehaviourProfile;

use crate::engine::{
    BuiltinCall, Diagnostic, ErrorKind, IncusVersion, Limits, LogLine, PlacementCall, PlacementRequest,
    PreparedCluster, Scriptlet,
};
use crate::model::{expand_profiles, Config, Devices, Instance, Project};
use crate::placement::{candidates, CandidateQuery, Exclusion};
use crate::Snapshot;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// What the cluster's Incus does.
    Upstream,
    /// Berth's corrected cross-project move: one relocation call for the target project with
    /// every eligible member, then the one-member validation call Incus still makes.
    Corrected,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Simulation {
    pub incus_version: String,
    pub profile: BehaviourProfile,
    pub mode: Mode,
    pub calls: Vec<SimulatedCall>,
    pub outcomes: Vec<Outcome>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
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

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExcludedMember {
    pub member: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
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
}

/// Where a request's `?target=` points, after Incus's `CheckTarget`.
enum Target {
    Any,
    Member(String),
    Group(String),
}

impl Simulator<'_> {
    pub fn new(scriptlet: Option<&Scriptlet>, version: IncusVersion, mode: Mode) -> Simulator<'_> {
        Simulator {
            scriptlet,
            version,
            profile: BehaviourProfile::of(version),
            mode,
            limits: Limits::default(),
        }
    }

    /// Runs `operations` in order against a copy of `snapshot`.
    pub fn run(&self, snapshot: &Snapshot, operations: &[Operation]) -> Simulation {
        let mut state = snapshot.clone();
        let mut simulation = Simulation {
            incus_version: self.version.to_string(),
            profile: self.profile,
            mode: self.mode,
            calls: Vec::new(),
            outcomes: Vec::new(),
        };
        for operation in operations {
            match operation {
                Operation::Create { .. } => self.create(&mut state, operation, &mut simulation),
                Operation::Move {
                    project,
                    name,
                    target_project,
                    target,
                } => {
                    let target_project = target_project.clone().unwrap_or_else(|| project.clone());
                    self.relocate(
                        &mut state,
                        project,
                        name,
                        &target_project,
                        target,
                        &mut simulation,
                    )
                }
                Operation::Evacuate { member } => self.evacuate(&mut state, member, &mut simulation),
                Operation::Restore { member } => self.restore(&mut state, member, &mut simulation),
                Operation::Rebalance { project, name } => {
                    self.rebalance(&mut state, project, name, &mut simulation)
                }
            }
        }
        simulation
    }

    /// One scriptlet call: recorded and evaluated; `None` when no scriptlet is set (Incus
    /// makes no call then).
    #[allow(clippy::too_many_arguments)]
    fn call(
        &self,
        state: &Snapshot,
        simulation: &mut Simulation,
        instance: &str,
        runs_on: &str,
        request: PlacementRequest,
        candidates: Vec<String>,
        excluded: Vec<(String, Exclusion)>,
        validation_only: bool,
    ) -> Option<Result<Option<String>, String>> {
        let scriptlet = self.scriptlet?;
        let cluster = PreparedCluster::new(state);
        let placement = PlacementCall {
            request: &request,
            candidates: &candidates,
            local_member: runs_on,
        };
        let evaluation = scriptlet.evaluate(&cluster, &placement, &self.limits, &|| false);
        let result = match &evaluation.error {
            Some(error) => Err(scriptlet_failure(error)),
            None => Ok(evaluation.target.clone()),
        };
        simulation.calls.push(SimulatedCall {
            instance: instance.to_owned(),
            reason: request.reason.clone(),
            project: request.project.clone(),
            runs_on: runs_on.to_owned(),
            candidates,
            excluded: excluded
                .into_iter()
                .map(|(member, reason)| ExcludedMember {
                    member,
                    reason: reason.to_string(),
                })
                .collect(),
            validation_only,
            logs: evaluation.logs,
            trace: evaluation.trace,
            target: evaluation.target,
            error: evaluation.error,
            request,
        });
        Some(result)
    }

    fn create(&self, state: &mut Snapshot, operation: &Operation, simulation: &mut Simulation) {
        let Operation::Create {
            project,
            name,
            target,
            instance_type,
            profiles,
            config,
            source,
            via,
        } = operation
        else {
            return;
        };
        let key = format!("{project}/{name}");
        let fail = |simulation: &mut Simulation, error: String| {
            simulation.outcomes.push(Outcome::Failed {
                instance: key.clone(),
                error,
            })
        };
        let Some(project_record) = state.project(project).cloned() else {
            return fail(simulation, format!("Project not found: {project}"));
        };
        if state
            .instances
            .iter()
            .any(|i| &i.project == project && &i.name == name)
        {
            return fail(simulation, "Instance name already in use".into());
        }
        let copied = (source.kind == "copy")
            .then(|| {
                let from_project = source.project.clone().unwrap_or_else(|| project.clone());
                let from = source.source.clone().unwrap_or_default();
                state
                    .instances
                    .iter()
                    .find(|i| i.project == from_project && i.name == from)
                    .cloned()
            })
            .flatten();
        if source.kind == "copy" && copied.is_none() {
            return fail(simulation, "Source instance not found".into());
        }
        let target = match check_target(state, &project_record, target) {
            Ok(target) => target,
            Err(error) => return fail(simulation, error),
        };
        let instance_type = instance_type
            .clone()
            .or_else(|| copied.as_ref().map(|c| c.instance_type.clone()))
            .unwrap_or_else(|| "container".into());
        let profiles = profiles
            .clone()
            .or_else(|| copied.as_ref().map(|c| c.profiles.clone()))
            .unwrap_or_else(|| vec!["default".into()]);
        let mut local_config = copied
            .as_ref()
            .map(|c| without_volatile(&c.config))
            .unwrap_or_default();
        local_config.extend(config.clone());
        let profile_project = project_record.profile_project().to_owned();
        let (expanded_config, expanded_devices) =
            match expand(state, &profile_project, &profiles, &local_config, &Devices::new()) {
                Ok(expanded) => expanded,
                Err(error) => return fail(simulation, error),
            };
        let architecture = copied
            .as_ref()
            .map(|c| c.architecture.clone())
            .unwrap_or_default();
        let request = PlacementRequest {
            reason: "new".into(),
            project: project.clone(),
            name: name.clone(),
            instance_type: instance_type.clone(),
            architecture: architecture.clone(),
            config: expanded_config.clone(),
            devices: expanded_devices.clone(),
            profiles: profiles.clone(),
            source: crate::engine::InstanceSource {
                source_type: source.kind.clone(),
                alias: if source.kind == "image" {
                    source.source.clone().unwrap_or_default()
                } else {
                    String::new()
                },
                source: if source.kind == "copy" {
                    source.source.clone().unwrap_or_default()
                } else {
                    String::new()
                },
                project: if source.kind == "copy" {
                    source.project.clone().unwrap_or_else(|| project.clone())
                } else {
                    String::new()
                },
                ..Default::default()
            },
            ..PlacementRequest::default()
        };
        let runs_on = via
            .clone()
            .unwrap_or_else(|| state.server.environment.server_name.clone());
        let architectures = (!architecture.is_empty()).then(|| vec![architecture.clone()]);
        let (list, excluded, fixed) = match &target {
            Target::Member(member) => (vec![member.clone()], Vec::new(), true),
            Target::Group(group) => {
                let found = candidates(
                    state,
                    &CandidateQuery {
                        project: Some(&project_record),
                        group: Some(group),
                        architectures,
                    },
                );
                (found.members, found.excluded, false)
            }
            Target::Any => {
                let found = candidates(
                    state,
                    &CandidateQuery {
                        project: Some(&project_record),
                        group: None,
                        architectures,
                    },
                );
                (found.members, found.excluded, false)
            }
        };
        let chosen = if fixed && !self.profile.calls_for_fixed_member() {
            Ok(None)
        } else {
            self.call(
                state,
                simulation,
                &key,
                &runs_on,
                request,
                list.clone(),
                excluded,
                false,
            )
            .unwrap_or(Ok(None))
        };
        let member = match chosen {
            Err(error) => return fail(simulation, error),
            Ok(Some(member)) => member,
            Ok(None) => match list.first() {
                Some(member) => member.clone(),
                None => {
                    return fail(
                        simulation,
                        "Couldn't find a cluster member for the instance".into(),
                    )
                }
            },
        };
        let mut created_config = local_config;
        if let Target::Group(group) = &target {
            created_config.insert("volatile.cluster.group".into(), group.clone());
        }
        state.instances.push(Instance {
            name: name.clone(),
            project: project.clone(),
            location: member.clone(),
            instance_type,
            status: "Stopped".into(),
            status_code: 102,
            architecture,
            profiles,
            config: created_config,
            expanded_config,
            expanded_devices,
            ..Instance::default()
        });
        simulation.outcomes.push(Outcome::Placed {
            instance: key,
            member,
            project: project.clone(),
        });
    }

    fn relocate(
        &self,
        state: &mut Snapshot,
        project: &str,
        name: &str,
        target_project: &str,
        target: &str,
        simulation: &mut Simulation,
    ) {
        let key = format!("{project}/{name}");
        let fail = |simulation: &mut Simulation, error: String| {
            simulation.outcomes.push(Outcome::Failed {
                instance: key.clone(),
                error,
            })
        };
        let Some(index) = state
            .instances
            .iter()
            .position(|i| i.project == project && i.name == name)
        else {
            return fail(simulation, "Instance not found".into());
        };
        let instance = state.instances[index].clone();
        let Some(destination) = state.project(target_project).cloned() else {
            return fail(simulation, format!("Project not found: {target_project}"));
        };
        let cross_project = target_project != project;
        if !cross_project && target.is_empty() {
            return fail(
                simulation,
                "Nothing to move: no target member and no target project".into(),
            );
        }
        if cross_project && instance.is_running() {
            return fail(
                simulation,
                "Instance must be stopped to be moved across projects".into(),
            );
        }
        // 6.0.4 looks the instance's profiles up in the target project literally, so a project
        // without its own profiles fails (incus-testbed §6).
        if cross_project {
            if let Some(missing) = instance.profiles.iter().find(|profile| {
                !state
                    .profiles
                    .iter()
                    .any(|p| p.project == target_project && &p.name == *profile)
            }) {
                return fail(
                    simulation,
                    format!("Requested profile \"{missing}\" doesn't exist"),
                );
            }
        }
        let current = instance.location.clone();
        // First check: the requested member, or the current one, against the target project.
        let first = if target.is_empty() {
            current.clone()
        } else {
            target.to_owned()
        };
        let fixed = if target.starts_with('@') {
            None
        } else {
            check_target(state, &destination, &first).ok()
        };
        let (list, excluded, validation_only) = match fixed {
            Some(Target::Member(member)) => (vec![member], Vec::new(), true),
            _ => {
                let group = match check_target(state, &destination, target) {
                    Ok(Target::Group(group)) => Some(group),
                    Ok(_) => None,
                    Err(error) => return fail(simulation, error),
                };
                let found = candidates(
                    state,
                    &CandidateQuery {
                        project: Some(&destination),
                        group: group.as_deref(),
                        architectures: architectures_of(&instance),
                    },
                );
                (found.members, found.excluded, false)
            }
        };
        let request_project = if self.profile.relocation_uses_target_project() {
            target_project
        } else {
            project
        };
        let request = match self.relocation_request(state, &instance, request_project, target_project) {
            Ok(request) => request,
            Err(error) => return fail(simulation, error),
        };

        let (list, excluded, validation_only) =
            if self.mode == Mode::Corrected && cross_project && target.is_empty() {
                // One decision among every member eligible for the target project.
                let found = candidates(
                    state,
                    &CandidateQuery {
                        project: Some(&destination),
                        group: None,
                        architectures: architectures_of(&instance),
                    },
                );
                (found.members, found.excluded, false)
            } else {
                (list, excluded, validation_only)
            };

        let calls_scriptlet = !validation_only || self.profile.calls_for_fixed_member();
        let chosen = if calls_scriptlet {
            let mut request = request.clone();
            if self.mode == Mode::Corrected && cross_project {
                request.project = target_project.to_owned();
            }
            self.call(
                state,
                simulation,
                &key,
                &current,
                request,
                list.clone(),
                excluded,
                validation_only,
            )
            .unwrap_or(Ok(None))
        } else {
            Ok(None)
        };
        let chosen = match chosen {
            Err(error) => return fail(simulation, error),
            Ok(chosen) => chosen,
        };
        let member = if validation_only {
            list[0].clone()
        } else if self.mode == Mode::Corrected && cross_project && target.is_empty() {
            // Keep the current member when it is eligible (no data movement), else the least
            // loaded; the scriptlet's choice wins.
            chosen.unwrap_or_else(|| {
                if list.contains(&current) {
                    current.clone()
                } else {
                    list.first().cloned().unwrap_or_default()
                }
            })
        } else {
            match chosen.or_else(|| list.iter().find(|m| **m != current).cloned()) {
                Some(member) => member,
                None => {
                    return fail(
                        simulation,
                        "Couldn't find a cluster member for the instance".into(),
                    )
                }
            }
        };
        if member.is_empty() {
            return fail(
                simulation,
                "Couldn't find a cluster member for the instance".into(),
            );
        }
        if self.mode == Mode::Corrected && cross_project && self.profile.calls_for_fixed_member() {
            // Incus still validates the chosen member with a one-member call.
            let mut validation = request.clone();
            validation.project = target_project.to_owned();
            if let Some(Err(error)) = self.call(
                state,
                simulation,
                &key,
                &current,
                validation,
                vec![member.clone()],
                Vec::new(),
                true,
            ) {
                return fail(simulation, error);
            }
        }
        // Any target, a group included, that resolves to where the instance already is.
        if !target.is_empty() && member == current {
            return fail(
                simulation,
                "Requested target server is the same as current server".into(),
            );
        }
        if member != current && instance.is_running() {
            return fail(
                simulation,
                // A running container moves by live migration, which needs CRIU on the source;
                // Incus packages do not install it, so this is what a cluster usually answers.
                "Unable to perform live container migration. CRIU isn't installed on the source server"
                    .into(),
            );
        }
        if let Some(status) = state.member(&member).map(|m| m.status.clone()) {
            if status == "Offline" {
                return fail(simulation, "Target cluster member is offline".into());
            }
        }
        if cross_project
            && state
                .instances
                .iter()
                .any(|i| i.project == target_project && i.name == name)
        {
            return fail(
                simulation,
                "UNIQUE constraint failed: instances.project_id, instances.name".into(),
            );
        }
        if self.profile.second_call_from_internal_copy() && cross_project {
            let mut copy_request = request.clone();
            copy_request.reason = "new".into();
            copy_request.project = target_project.to_owned();
            copy_request.source.source_type = "copy".into();
            copy_request.source.source = name.to_owned();
            copy_request.source.project = project.to_owned();
            if let Some(Err(error)) = self.call(
                state,
                simulation,
                &key,
                &current,
                copy_request,
                vec![member.clone()],
                Vec::new(),
                false,
            ) {
                return fail(simulation, error);
            }
        }
        // P4 (UNVERIFIED): a move that changes member and project keeps the source project.
        let final_project =
            if self.profile == BehaviourProfile::P4 && self.mode == Mode::Upstream && member != current {
                project.to_owned()
            } else {
                target_project.to_owned()
            };
        let moved = &mut state.instances[index];
        moved.location = member.clone();
        moved.project = final_project.clone();
        if let Some(group) = target.strip_prefix('@') {
            if !cross_project {
                moved
                    .config
                    .insert("volatile.cluster.group".into(), group.to_owned());
            }
        }
        simulation.outcomes.push(Outcome::Placed {
            instance: key,
            member,
            project: final_project,
        });
    }

    /// The relocation request as the profile fills it: type and architecture empty; from P3
    /// the local config and devices expanded with the target project's same-named profiles.
    fn relocation_request(
        &self,
        state: &Snapshot,
        instance: &Instance,
        request_project: &str,
        target_project: &str,
    ) -> Result<PlacementRequest, String> {
        let (config, devices, profiles) = if self.profile.relocation_expands_target_profiles() {
            let (config, devices) = expand(
                state,
                target_project,
                &instance.profiles,
                &instance.config,
                &instance.devices,
            )?;
            (config, devices, instance.profiles.clone())
        } else {
            (
                instance.expanded_config.clone(),
                instance.expanded_devices.clone(),
                Vec::new(),
            )
        };
        Ok(PlacementRequest {
            reason: "relocation".into(),
            project: request_project.to_owned(),
            name: instance.name.clone(),
            config,
            devices,
            profiles,
            ..PlacementRequest::default()
        })
    }

    fn evacuate(&self, state: &mut Snapshot, member_name: &str, simulation: &mut Simulation) {
        let Some(member_index) = member_index(state, member_name, simulation) else {
            return;
        };
        state.members[member_index].status = "Evacuating".into();
        let on_member: Vec<usize> = (0..state.instances.len())
            .filter(|&i| state.instances[i].location == member_name)
            .collect();
        for index in on_member {
            let instance = state.instances[index].clone();
            let key = format!("{}/{}", instance.project, instance.name);
            let project = state
                .project(&instance.project)
                .cloned()
                .unwrap_or_else(|| Project {
                    name: instance.project.clone(),
                    ..Project::default()
                });
            let group = instance.config.get("volatile.cluster.group").cloned();
            let found = candidates(
                state,
                &CandidateQuery {
                    project: Some(&project),
                    group: group.as_deref(),
                    architectures: architectures_of(&instance),
                },
            );
            let request = existing_instance_request(&instance, "evacuation");
            let chosen = self
                .call(
                    state,
                    simulation,
                    &key,
                    member_name,
                    request,
                    found.members.clone(),
                    found.excluded,
                    false,
                )
                .unwrap_or(Ok(None));
            let member = match chosen {
                Err(error) => Err(error),
                Ok(Some(member)) => Ok(member),
                Ok(None) => found
                    .members
                    .first()
                    .cloned()
                    .ok_or_else(|| "Couldn't find a cluster member for the instance".to_owned()),
            };
            match member {
                Ok(member) => {
                    let moved = &mut state.instances[index];
                    moved.location = member.clone();
                    moved
                        .config
                        .insert("volatile.evacuate.origin".into(), member_name.to_owned());
                    simulation.outcomes.push(Outcome::Placed {
                        instance: key,
                        member,
                        project: instance.project.clone(),
                    });
                }
                Err(error) => {
                    // The evacuation stops and the member goes back to its state.
                    state.members[member_index].status = "Online".into();
                    return simulation.outcomes.push(Outcome::Failed {
                        instance: key,
                        error: format!("Failed to evacuate instances: {error}"),
                    });
                }
            }
        }
        state.members[member_index].status = "Evacuated".into();
    }

    fn restore(&self, state: &mut Snapshot, member_name: &str, simulation: &mut Simulation) {
        let Some(member_index) = member_index(state, member_name, simulation) else {
            return;
        };
        state.members[member_index].status = "Online".into();
        let returning: Vec<usize> = (0..state.instances.len())
            .filter(|&i| {
                state.instances[i]
                    .config
                    .get("volatile.evacuate.origin")
                    .map(String::as_str)
                    == Some(member_name)
            })
            .collect();
        for index in returning {
            let instance = state.instances[index].clone();
            let key = format!("{}/{}", instance.project, instance.name);
            // Restoring moves each instance back with a relocation call fixed on the member.
            let request =
                match self.relocation_request(state, &instance, &instance.project, &instance.project) {
                    Ok(request) => request,
                    Err(error) => {
                        simulation.outcomes.push(Outcome::Failed { instance: key, error });
                        continue;
                    }
                };
            let outcome = if self.profile.calls_for_fixed_member() {
                self.call(
                    state,
                    simulation,
                    &key,
                    &instance.location,
                    request,
                    vec![member_name.to_owned()],
                    Vec::new(),
                    true,
                )
                .unwrap_or(Ok(None))
            } else {
                Ok(None)
            };
            match outcome {
                Err(error) => simulation.outcomes.push(Outcome::Failed { instance: key, error }),
                Ok(_) => {
                    let moved = &mut state.instances[index];
                    moved.location = member_name.to_owned();
                    moved.config.remove("volatile.evacuate.origin");
                    simulation.outcomes.push(Outcome::Placed {
                        instance: key,
                        member: member_name.to_owned(),
                        project: instance.project.clone(),
                    });
                }
            }
        }
    }
}

impl Simulator<'_> {
    /// One instance moved by rebalancing (`api_cluster_rebalance.go`): the candidates are the
    /// members less loaded than its own that its project may use, least loaded first; the
    /// scriptlet runs on the leader; without a choice the least loaded one is taken.
    fn rebalance(&self, state: &mut Snapshot, project: &str, name: &str, simulation: &mut Simulation) {
        let key = format!("{project}/{name}");
        if !self.profile.has_rebalance() {
            return simulation.outcomes.push(Outcome::Failed {
                instance: key,
                error: format!("Incus {} has no automatic rebalancing (7.0+)", self.version),
            });
        }
        let Some(index) = state
            .instances
            .iter()
            .position(|i| i.project == project && i.name == name)
        else {
            return simulation.outcomes.push(Outcome::Failed {
                instance: key,
                error: "Instance not found".into(),
            });
        };
        let instance = state.instances[index].clone();
        let destination = state.project(project).cloned().unwrap_or_default();
        let counts = state.instance_counts();
        let own_load = counts.get(instance.location.as_str()).copied().unwrap_or(0);
        let found = candidates(
            state,
            &CandidateQuery {
                project: Some(&destination),
                group: None,
                architectures: architectures_of(&instance),
            },
        );
        let (members, mut excluded): (Vec<String>, Vec<(String, Exclusion)>) =
            (found.members, found.excluded);
        let mut list = Vec::new();
        for member in members {
            let load = counts.get(member.as_str()).copied().unwrap_or(0);
            if member != instance.location && load < own_load {
                list.push(member);
            } else {
                excluded.push((
                    member,
                    Exclusion::NotLessLoaded {
                        instances: load,
                        source_instances: own_load,
                    },
                ));
            }
        }
        let leader = state
            .members
            .iter()
            .find(|m| m.is_leader())
            .map(|m| m.server_name.clone())
            .unwrap_or_else(|| state.server.environment.server_name.clone());
        let request = existing_instance_request(&instance, "rebalance");
        let chosen = self
            .call(
                state,
                simulation,
                &key,
                &leader,
                request,
                list.clone(),
                excluded,
                false,
            )
            .unwrap_or(Ok(None));
        match chosen.map(|chosen| chosen.or_else(|| list.first().cloned())) {
            Err(error) => simulation.outcomes.push(Outcome::Failed { instance: key, error }),
            Ok(None) => simulation.outcomes.push(Outcome::Failed {
                instance: key,
                error: "No less loaded member to rebalance to".into(),
            }),
            Ok(Some(member)) => {
                state.instances[index].location = member.clone();
                simulation.outcomes.push(Outcome::Placed {
                    instance: key,
                    member,
                    project: project.to_owned(),
                });
            }
        }
    }
}

/// The index of `member_name`, or a failed outcome saying it does not exist.
fn member_index(state: &Snapshot, member_name: &str, simulation: &mut Simulation) -> Option<usize> {
    let index = state.members.iter().position(|m| m.server_name == member_name);
    if index.is_none() {
        simulation.outcomes.push(Outcome::Failed {
            instance: format!("@{member_name}"),
            error: format!("Cluster member not found: {member_name}"),
        });
    }
    index
}

/// Incus's `CheckTarget`: a member or `@group` target must exist and, in a restricted project,
/// be allowed by `restricted.cluster.groups`.
fn check_target(state: &Snapshot, project: &Project, target: &str) -> Result<Target, String> {
    let restrictions = project.restrictions();
    let limited = restrictions.restricted && !restrictions.cluster_groups.is_empty();
    if target.is_empty() {
        return Ok(Target::Any);
    }
    if let Some(group) = target.strip_prefix('@') {
        if !state.cluster_groups.iter().any(|g| g.name == group) {
            return Err(format!("Cluster group not found: {group}"));
        }
        if limited && !restrictions.cluster_groups.iter().any(|g| g == group) {
            return Err(format!(
                "Project isn't allowed to use this cluster group: {group:?}"
            ));
        }
        return Ok(Target::Group(group.to_owned()));
    }
    let Some(member) = state.member(target) else {
        return Err(format!("Cluster member not found: {target}"));
    };
    if limited
        && !member
            .groups
            .iter()
            .any(|g| restrictions.cluster_groups.contains(g))
    {
        return Err(format!(
            "Project isn't allowed to use this cluster member: {target:?}"
        ));
    }
    Ok(Target::Member(target.to_owned()))
}

/// Config and devices expanded with `profiles` looked up in `profile_project`, then the
/// instance's own keys on top; a missing profile is Incus's error.
fn expand(
    state: &Snapshot,
    profile_project: &str,
    profiles: &[String],
    config: &Config,
    devices: &Devices,
) -> Result<(Config, Devices), String> {
    expand_profiles(&state.profiles, profile_project, profiles, config, devices).map_err(|e| e.to_string())
}

/// The request Incus builds for an instance it moves by itself (evacuation, rebalance): its
/// real type and architecture, expanded config and devices (`incus-placement.md` §1.3).
fn existing_instance_request(instance: &Instance, reason: &str) -> PlacementRequest {
    PlacementRequest {
        reason: reason.into(),
        project: instance.project.clone(),
        name: instance.name.clone(),
        instance_type: instance.instance_type.clone(),
        architecture: instance.architecture.clone(),
        config: instance.expanded_config.clone(),
        devices: instance.expanded_devices.clone(),
        profiles: instance.profiles.clone(),
        ..PlacementRequest::default()
    }
}

/// The architecture filter for an existing instance: its own, when known.
fn architectures_of(instance: &Instance) -> Option<Vec<String>> {
    (!instance.architecture.is_empty()).then(|| vec![instance.architecture.clone()])
}

fn without_volatile(config: &Config) -> Config {
    config
        .iter()
        .filter(|(k, _)| !k.starts_with("volatile."))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
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

#[cfg(test)]
mod tests;
