//! A move: to another member, another project, or both (`incus-placement.md` §3), and Berth's
//! corrected cross-project move.

use super::operation::MoveOperation;
use super::place::{Call, CallResult, Run, Step};
use super::request::{architectures_of, relocation_request};
use super::target::{check_target, Target};
use super::{BehaviourProfile, Mode};
use crate::engine::PlacementRequest;
use crate::model::{Instance, MemberStatus};
use crate::placement::{CandidateQuery, Exclusion};

impl Run<'_> {
    pub(super) fn relocate(&mut self, relocation: &MoveOperation) -> Step {
        let simulator = self.simulator;
        let key = format!("{}/{}", relocation.project, relocation.name);
        let prepared = match self.prepare_move(relocation) {
            Ok(prepared) => prepared,
            Err(error) => {
                self.fail(&key, error);
                return Ok(());
            }
        };
        let PreparedMove {
            index,
            instance,
            candidates: list,
            excluded,
            validation_only,
            request,
        } = prepared;
        let (project, name, target) = (
            relocation.project.as_str(),
            relocation.name.as_str(),
            relocation.target.as_str(),
        );
        let target_project = relocation.destination_project();
        let cross_project = target_project != project;
        let corrected_cross = simulator.mode == Mode::Corrected && cross_project;
        let current = instance.location.clone();
        let call = Call {
            instance: key.clone(),
            runs_on: current.clone(),
            request: request.clone(),
            candidates: list,
            excluded,
            fixed: validation_only,
            validation_only,
        };
        let member = if corrected_cross && target.is_empty() {
            // Keep the current member when it is eligible (no data movement), else the least
            // loaded; the scriptlet's choice wins.
            self.place(call, |list| {
                if list.contains(&current) {
                    Some(current.clone())
                } else {
                    list.first().cloned()
                }
            })?
        } else if validation_only {
            self.place(call, |list| list.first().cloned())?
        } else {
            self.place(call, |list| list.iter().find(|m| **m != current).cloned())?
        };
        let member = match member {
            Ok(member) => member,
            Err(error) => {
                self.fail(&key, error);
                return Ok(());
            }
        };
        if corrected_cross {
            // Incus still validates the chosen member with a one-member call.
            let mut validation = request.clone();
            validation.project = target_project.to_owned();
            let check = self.call(Call {
                instance: key.clone(),
                runs_on: current.clone(),
                request: validation,
                candidates: vec![member.clone()],
                excluded: Vec::new(),
                fixed: true,
                validation_only: true,
            })?;
            if let CallResult::Failed(error) = check {
                self.fail(&key, error);
                return Ok(());
            }
        }
        if let Some(error) = self.move_refusal(&instance, &member, relocation) {
            self.fail(&key, error);
            return Ok(());
        }
        if simulator.profile.second_call_from_internal_copy() && cross_project {
            let mut copy_request = request;
            copy_request.reason = "new".into();
            copy_request.project = target_project.to_owned();
            copy_request.source.source_type = "copy".into();
            copy_request.source.source = name.to_owned();
            copy_request.source.project = project.to_owned();
            let copy = self.call(Call {
                instance: key.clone(),
                runs_on: current.clone(),
                request: copy_request,
                candidates: vec![member.clone()],
                excluded: Vec::new(),
                fixed: false,
                validation_only: false,
            })?;
            if let CallResult::Failed(error) = copy {
                self.fail(&key, error);
                return Ok(());
            }
        }
        // P4 (UNVERIFIED): a move that changes member and project keeps the source project.
        let final_project = if simulator.profile == BehaviourProfile::P4
            && simulator.mode == Mode::Upstream
            && member != current
        {
            project.to_owned()
        } else {
            target_project.to_owned()
        };
        self.working.update_instance(index, |moved| {
            moved.location = member.clone();
            moved.project = final_project.clone();
            if let Some(group) = target.strip_prefix('@') {
                if !cross_project {
                    moved
                        .config
                        .insert("volatile.cluster.group".into(), group.to_owned());
                }
            }
        });
        self.placed(&key, &member, &final_project);
        Ok(())
    }

    /// Everything Incus checks before the call: the instance, the target project and its
    /// profiles, the target; the candidates and the relocation request.
    fn prepare_move(&self, relocation: &MoveOperation) -> Result<PreparedMove, String> {
        let simulator = self.simulator;
        let (project, name, target) = (
            relocation.project.as_str(),
            relocation.name.as_str(),
            relocation.target.as_str(),
        );
        let target_project = relocation.destination_project();
        let state = self.working.snapshot();
        let index = self
            .working
            .instance_index(project, name)
            .ok_or("Instance not found")?;
        let instance = state.instances[index].clone();
        let destination = state
            .project(target_project)
            .ok_or_else(|| format!("Project not found: {target_project}"))?;
        let cross_project = target_project != project;
        if !cross_project && target.is_empty() {
            return Err("Nothing to move: no target member and no target project".into());
        }
        if cross_project && instance.is_running() {
            return Err("Instance must be stopped to be moved across projects".into());
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
                return Err(format!("Requested profile \"{missing}\" doesn't exist"));
            }
        }
        let corrected_cross = simulator.mode == Mode::Corrected && cross_project;
        // First check: the requested member, or the current one, against the target project.
        // The corrected move without a target skips it: one decision among every member
        // eligible for the target project.
        let first_check = if target.is_empty() {
            instance.location.as_str()
        } else {
            target
        };
        let fixed = if target.starts_with('@') || (corrected_cross && target.is_empty()) {
            None
        } else {
            check_target(state, destination, first_check).ok()
        };
        let (candidates, excluded, validation_only) = match fixed {
            Some(Target::Member(member)) => (vec![member], Vec::new(), true),
            _ => {
                let group = match check_target(state, destination, target)? {
                    Target::Group(group) => Some(group),
                    _ => None,
                };
                let found = self.candidates(&CandidateQuery {
                    project: Some(destination),
                    group: group.as_deref(),
                    architectures: architectures_of(&instance),
                });
                (found.members, found.excluded, false)
            }
        };
        let request_project = if simulator.profile.relocation_uses_target_project() || corrected_cross {
            target_project
        } else {
            project
        };
        let request = relocation_request(
            simulator.profile,
            state,
            &instance,
            request_project,
            target_project,
        )?;
        Ok(PreparedMove {
            index,
            instance,
            candidates,
            excluded,
            validation_only,
            request,
        })
    }

    /// What Incus refuses once the member is known.
    fn move_refusal(&self, instance: &Instance, member: &str, relocation: &MoveOperation) -> Option<String> {
        let (current, name, target) = (
            instance.location.as_str(),
            instance.name.as_str(),
            relocation.target.as_str(),
        );
        let target_project = relocation.destination_project();
        let cross_project = target_project != relocation.project;
        let state = self.working.snapshot();
        // Any target, a group included, that resolves to where the instance already is.
        if !target.is_empty() && member == current {
            return Some("Requested target server is the same as current server".into());
        }
        if member != current && instance.is_running() {
            // A running container moves by live migration, which needs CRIU on the source;
            // Incus packages do not install it, so this is what a cluster usually answers.
            return Some(
                "Unable to perform live container migration. CRIU isn't installed on the source server"
                    .into(),
            );
        }
        if state
            .member(member)
            .is_some_and(|m| m.status == MemberStatus::Offline)
        {
            return Some("Target cluster member is offline".into());
        }
        if cross_project
            && state
                .instances
                .iter()
                .any(|i| i.project == target_project && i.name == name)
        {
            return Some("UNIQUE constraint failed: instances.project_id, instances.name".into());
        }
        None
    }
}

struct PreparedMove {
    /// The instance's position in the working snapshot.
    index: usize,
    instance: Instance,
    candidates: Vec<String>,
    excluded: Vec<(String, Exclusion)>,
    validation_only: bool,
    request: PlacementRequest,
}
