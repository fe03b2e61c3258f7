//! One instance moved by automatic rebalancing (7.0+, `api_cluster_rebalance.go`).

use super::place::{first, Call, Run, Step, NO_MEMBER};
use super::request::{architectures_of, existing_instance_request};
use crate::placement::{CandidateQuery, Exclusion};

impl Run<'_> {
    /// The candidates are the members less loaded than the instance's own that its project
    /// may use, least loaded first; the scriptlet runs on the leader; without a choice the
    /// least loaded one is taken.
    pub(super) fn rebalance(&mut self, project: &str, name: &str) -> Step {
        let simulator = self.simulator;
        let key = format!("{project}/{name}");
        if !simulator.profile.has_rebalance() {
            self.fail(
                &key,
                format!("Incus {} has no automatic rebalancing (7.0+)", simulator.version),
            );
            return Ok(());
        }
        let Some(index) = self.working.instance_index(project, name) else {
            self.fail(&key, "Instance not found");
            return Ok(());
        };
        let state = self.working.snapshot();
        let instance = state.instances[index].clone();
        let destination = state.project(project).cloned().unwrap_or_default();
        let counts = state.instance_counts();
        let own_load = counts.get(instance.location.as_str()).copied().unwrap_or(0);
        let found = self.candidates(&CandidateQuery {
            project: Some(&destination),
            group: None,
            architectures: architectures_of(&instance),
        });
        let mut excluded = found.excluded;
        let mut list = Vec::new();
        for member in found.members {
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
        let call = Call {
            instance: key.clone(),
            runs_on: leader,
            request: existing_instance_request(&instance, "rebalance"),
            candidates: list,
            excluded,
            fixed: false,
            validation_only: false,
        };
        match self.place(call, first)? {
            Ok(member) => {
                self.working
                    .update_instance(index, |moved| moved.location = member.clone());
                self.placed(&key, &member, project);
            }
            Err(error) if error == NO_MEMBER => self.fail(&key, "No less loaded member to rebalance to"),
            Err(error) => self.fail(&key, error),
        }
        Ok(())
    }
}
