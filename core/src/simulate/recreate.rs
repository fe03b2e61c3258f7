//! An existing instance placed as if it were created now with its own config: the `new` call
//! Incus would make for `POST /1.0/instances` with the instance's type, architecture,
//! profiles, expanded config and devices, no target (its `@group`, recorded as
//! `volatile.cluster.group`, kept), on the cluster as it stands. What an impact replay asks of
//! each instance in its `new` scenario: each placement alone, none changing the cluster, so the
//! answers are independent of each other and of their order.

use std::collections::HashMap;

use super::place::{existing_candidates_key, first, Call, ExistingCandidatesKey, Run, Step};
use super::request::existing_instance_request;
use super::Simulator;
use crate::engine::PreparedCluster;
use crate::placement::Candidates;
use crate::Snapshot;

impl Simulator<'_> {
    /// One `new` call per instance of `instances` (positions in `snapshot.instances`), each on
    /// the unchanged cluster: the calls and an outcome per instance, in order. `cluster` must be
    /// prepared from `snapshot`; neither is changed.
    pub fn place_as_new(
        &self,
        snapshot: &mut Snapshot,
        cluster: &mut PreparedCluster,
        instances: &[usize],
    ) -> super::Simulation {
        let mut run = Run::new(self, snapshot, cluster, &[]);
        run.expect_calls(if self.scriptlet.is_some() {
            instances.len()
        } else {
            0
        });
        // The cluster does not change between these calls: instances that share a project,
        // `@group` and architecture share their candidates.
        let mut candidates = HashMap::new();
        for &index in instances {
            if run.recreate(index, &mut candidates).is_err() {
                break;
            }
        }
        run.finish()
    }
}

impl Run<'_> {
    fn recreate(&mut self, index: usize, known: &mut HashMap<ExistingCandidatesKey, Candidates>) -> Step {
        let state = self.working.snapshot();
        let Some(instance) = state.instances.get(index) else {
            return Ok(());
        };
        let key = format!("{}/{}", instance.project, instance.name);
        let found = known
            .entry(existing_candidates_key(instance))
            .or_insert_with(|| self.candidates_for_existing(instance))
            .clone();
        let mut request = existing_instance_request(instance, "new");
        request.ephemeral = instance.ephemeral;
        request.description = instance.description.clone();
        let call = Call {
            instance: key.clone(),
            // The request reaches the member the snapshot was taken from, as `incus create` on it.
            runs_on: state.server.environment.server_name.clone(),
            request,
            candidates: found.members,
            excluded: found.excluded,
            fixed: false,
            validation_only: false,
        };
        let project_name = instance.project.clone();
        match self.place(call, first)? {
            Ok(member) => self.placed(&key, &member, &project_name),
            Err(error) => self.fail(&key, error),
        }
        Ok(())
    }
}
