//! The cluster as a cumulative simulation has changed it so far: the snapshot the simulator
//! reads and the prepared cluster the scriptlet reads, kept in step. Every change goes through
//! here, so the prepared cluster is updated for what changed instead of prepared again per call.

use crate::engine::PreparedCluster;
use crate::model::{Instance, MemberStatus};
use crate::Snapshot;

pub(super) struct Working {
    snapshot: Snapshot,
    cluster: PreparedCluster,
}

impl Working {
    /// `cluster` must have been prepared from `snapshot`.
    pub fn new(snapshot: &Snapshot, cluster: &PreparedCluster) -> Working {
        Working {
            snapshot: snapshot.clone(),
            cluster: cluster.clone(),
        }
    }

    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    pub fn cluster(&self) -> &PreparedCluster {
        &self.cluster
    }

    /// The position of `project/name` in the instance list.
    pub fn instance_index(&self, project: &str, name: &str) -> Option<usize> {
        self.snapshot
            .instances
            .iter()
            .position(|i| i.project == project && i.name == name)
    }

    pub fn add_instance(&mut self, instance: Instance) {
        let index = self.snapshot.instances.len();
        self.cluster.set_instance(index, &instance);
        self.snapshot.instances.push(instance);
    }

    /// Changes the instance at `index` (moved, project changed, volatile keys).
    pub fn update_instance(&mut self, index: usize, change: impl FnOnce(&mut Instance)) {
        change(&mut self.snapshot.instances[index]);
        self.cluster.set_instance(index, &self.snapshot.instances[index]);
    }

    pub fn set_member_status(&mut self, name: &str, status: MemberStatus) {
        if let Some(member) = self.snapshot.members.iter_mut().find(|m| m.server_name == name) {
            member.status = status.clone();
        }
        self.cluster.set_member_status(name, status);
    }
}
