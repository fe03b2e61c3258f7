//! The cluster as a cumulative simulation has changed it so far: the snapshot the simulator
//! reads and the prepared cluster the scriptlet reads, kept in step. Every change goes through
//! here, so the prepared cluster is updated for what changed instead of prepared again per call.
//!
//! The simulation changes the caller's snapshot and prepared cluster in place and undoes its
//! changes when it ends (on drop, so a panic unwinding through it restores them too): copying a
//! 20,000-instance snapshot per simulation would cost more than the simulation.

use crate::engine::{Checkpoint, PreparedCluster};
use crate::model::{Instance, MemberStatus, Operation};
use crate::Snapshot;

pub(super) struct Working<'w> {
    snapshot: &'w mut Snapshot,
    cluster: &'w mut PreparedCluster,
    /// Where the prepared cluster goes back to.
    checkpoint: Checkpoint,
    /// Instances in the snapshot before the simulation; later ones were added by it.
    instances: usize,
    /// Operations in the snapshot before the simulation; later ones were added by it.
    operations: usize,
    /// What the simulation replaced in the snapshot, oldest first.
    undo: Vec<Undo>,
}

enum Undo {
    Instance { index: usize, instance: Box<Instance> },
    MemberStatus { index: usize, status: MemberStatus },
}

impl<'w> Working<'w> {
    /// `cluster` must have been prepared from `snapshot`.
    pub fn new(snapshot: &'w mut Snapshot, cluster: &'w mut PreparedCluster) -> Working<'w> {
        Working {
            checkpoint: cluster.checkpoint(),
            instances: snapshot.instances.len(),
            operations: snapshot.operations.len(),
            snapshot,
            cluster,
            undo: Vec::new(),
        }
    }

    pub fn snapshot(&self) -> &Snapshot {
        self.snapshot
    }

    pub fn cluster(&self) -> &PreparedCluster {
        self.cluster
    }

    /// The position of `project/name` in the instance list.
    pub fn instance_index(&self, project: &str, name: &str) -> Option<usize> {
        self.snapshot
            .instances
            .iter()
            .position(|i| i.project == project && i.name == name)
    }

    /// A created instance, and its finished create operation, which Incus keeps counting as
    /// pending for 5 s (`Operation::counts_as_pending_create`): a sequence's operations are
    /// taken to follow each other within that.
    pub fn add_instance(&mut self, instance: Instance) {
        let index = self.snapshot.instances.len();
        self.cluster.set_instance(index, &instance);
        self.cluster
            .add_finished_create(&instance.project, &instance.location);
        self.snapshot.operations.push(finished_create(&instance));
        self.snapshot.instances.push(instance);
    }

    /// Changes the instance at `index` (moved, project changed, volatile keys).
    pub fn update_instance(&mut self, index: usize, change: impl FnOnce(&mut Instance)) {
        let instance = &mut self.snapshot.instances[index];
        if index < self.instances {
            self.undo.push(Undo::Instance {
                index,
                instance: Box::new(instance.clone()),
            });
        }
        change(instance);
        self.cluster.set_instance(index, instance);
    }

    pub fn set_member_status(&mut self, name: &str, status: MemberStatus) {
        if let Some(index) = self.snapshot.members.iter().position(|m| m.server_name == name) {
            let old = std::mem::replace(&mut self.snapshot.members[index].status, status.clone());
            self.undo.push(Undo::MemberStatus { index, status: old });
        }
        self.cluster.set_member_status(name, status);
    }
}

impl Drop for Working<'_> {
    fn drop(&mut self) {
        while let Some(undo) = self.undo.pop() {
            match undo {
                Undo::Instance { index, instance } => self.snapshot.instances[index] = *instance,
                Undo::MemberStatus { index, status } => self.snapshot.members[index].status = status,
            }
        }
        self.snapshot.instances.truncate(self.instances);
        self.snapshot.operations.truncate(self.operations);
        self.cluster.rollback(self.checkpoint);
    }
}

/// The operation Incus records for a create that succeeded, as `GET /1.0/operations` lists it.
fn finished_create(instance: &Instance) -> Operation {
    let url = match instance.project.as_str() {
        "default" => format!("/1.0/instances/{}", instance.name),
        project => format!("/1.0/instances/{}?project={project}", instance.name),
    };
    Operation {
        class: "task".into(),
        description: "Creating instance".into(),
        status: "Success".into(),
        status_code: 200,
        location: instance.location.clone(),
        resources: [("instances".to_owned(), vec![url])].into_iter().collect(),
        ..Operation::default()
    }
}
