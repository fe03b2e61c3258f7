//! A snapshot prepared for scriptlets: every object the builtins hand out, marshalled once,
//! so an evaluation only clones shared pointers.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};

use starlark::values::{FrozenHeap, FrozenHeapRef};

use super::go_value::GoValue;
use super::marshal;
use crate::model::{ClusterMember, Instance, MemberStatus, SchedulerMode};
use crate::Snapshot;

/// Cloning is cheap next to preparing: the values are shared pointers into the frozen heaps.
#[derive(Clone)]
pub struct PreparedCluster {
    pub(crate) members: Vec<PreparedMember>,
    /// Member names to their index: every builtin that names a member looks it up.
    member_index: HashMap<String, usize>,
    /// `get_instances` results, in snapshot order.
    instances: Vec<GoValue>,
    /// Indexes into `instances`: scriptlets filter by project and member on every call.
    by_project: BTreeMap<String, Vec<usize>>,
    by_location: BTreeMap<String, Vec<usize>>,
    pub(crate) projects: BTreeMap<String, GoValue>,
    /// The instance creations Incus counts as pending (`get_instances_count(pending=True)`):
    /// the snapshot's, then those of the simulation so far.
    pub(crate) pending_creates: Vec<PendingCreate>,
    /// The member that answered the capture's `GET /1.0`.
    pub(crate) server_name: String,
    /// `(project, location)` of each instance, to keep the indexes right when it changes.
    instance_keys: Vec<(String, String)>,
    /// Where every value above lives, converted once (see [`GoValue::Frozen`]): the heap of
    /// the preparation, then one small heap per [`PreparedCluster::set_instance`].
    frozen_heaps: Vec<FrozenHeapRef>,
    /// What [`PreparedCluster::rollback`] restores: the values the updates replaced.
    undo: Vec<Undo>,
    /// This state's identity: new for every prepared cluster and every update, and restored
    /// by a rollback (the state is then the same again). Memoized scriptlet functions keep
    /// their results per generation.
    generation: u64,
}

/// A generation no cluster state has had.
fn next_generation() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

#[derive(Clone)]
enum Undo {
    Instance {
        index: usize,
        value: GoValue,
        key: (String, String),
    },
    Member {
        index: usize,
        model: ClusterMember,
        value: GoValue,
    },
}

/// A point [`PreparedCluster::rollback`] returns to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoint {
    generation: u64,
    instances: usize,
    heaps: usize,
    undo: usize,
    pending_creates: usize,
}

/// An instance creation Incus still has in its `operations` table, which it counts as pending
/// (`Operation::counts_as_pending_create`).
#[derive(Clone)]
pub(crate) struct PendingCreate {
    pub project: String,
    pub location: String,
    pub progress: CreateProgress,
}

/// How far a [`PendingCreate`] is: what a prediction that counts it must say.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum CreateProgress {
    /// Under way when the snapshot was taken.
    Running,
    /// Finished shortly before the snapshot was taken: Incus counts it until 5 s after it
    /// finished, so a call at the snapshot's time counts it and a later one may not.
    FinishedBeforeSnapshot,
    /// Made earlier in the same simulated sequence: counted as if the operations ran back to
    /// back, within the 5 s Incus keeps counting a finished create.
    FinishedInSimulation,
}

#[derive(Clone)]
pub(crate) struct PreparedMember {
    pub model: ClusterMember,
    pub value: GoValue,
    pub state: Option<GoValue>,
    pub resources: Option<GoValue>,
}

impl PreparedCluster {
    pub fn new(snapshot: &Snapshot) -> PreparedCluster {
        let heap = FrozenHeap::new();
        let frozen = |value: GoValue| GoValue::Frozen(value.freeze(&heap));
        let members: Vec<PreparedMember> = snapshot
            .members
            .iter()
            .map(|member| PreparedMember {
                model: member.clone(),
                value: marshal::member(member),
                state: snapshot
                    .member_state
                    .get(&member.server_name)
                    .map(marshal::member_state),
                resources: snapshot
                    .member_resources
                    .get(&member.server_name)
                    .map(marshal::resources),
            })
            .collect();
        let instances = snapshot
            .instances
            .iter()
            .map(|instance| frozen(marshal::instance(instance)))
            .collect();
        let mut by_project: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        let mut by_location: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        let mut instance_keys = Vec::with_capacity(snapshot.instances.len());
        for (index, instance) in snapshot.instances.iter().enumerate() {
            by_project
                .entry(instance.project.clone())
                .or_default()
                .push(index);
            by_location
                .entry(instance.location.clone())
                .or_default()
                .push(index);
            instance_keys.push((instance.project.clone(), instance.location.clone()));
        }
        let projects = snapshot
            .projects
            .iter()
            .map(|project| (project.name.clone(), frozen(marshal::project(project))))
            .collect();
        let pending_creates = snapshot
            .operations
            .iter()
            .filter(|operation| operation.counts_as_pending_create())
            .map(|operation| PendingCreate {
                project: operation.instance_project().to_owned(),
                location: operation.location.clone(),
                progress: if operation.is_finished() {
                    CreateProgress::FinishedBeforeSnapshot
                } else {
                    CreateProgress::Running
                },
            })
            .collect();
        PreparedCluster {
            member_index: members
                .iter()
                .enumerate()
                .map(|(index, member)| (member.model.server_name.clone(), index))
                .collect(),
            members,
            instances,
            by_project,
            by_location,
            projects,
            pending_creates,
            server_name: snapshot.server.environment.server_name.clone(),
            instance_keys,
            frozen_heaps: vec![heap.into_ref()],
            undo: Vec::new(),
            generation: next_generation(),
        }
    }

    /// Makes `instance` the one at `index` of the snapshot's instance list: replaced (moved,
    /// reconfigured), or appended when `index` is the current length. A cumulative simulation
    /// calls this for what an operation changed instead of preparing the whole cluster again.
    ///
    /// # Panics
    /// When `index` is past the end.
    pub fn set_instance(&mut self, index: usize, instance: &Instance) {
        assert!(
            index <= self.instances.len(),
            "instance index {index} out of range"
        );
        self.generation = next_generation();
        let heap = FrozenHeap::new();
        let value = GoValue::Frozen(marshal::instance(instance).freeze(&heap));
        self.frozen_heaps.push(heap.into_ref());
        let key = (instance.project.clone(), instance.location.clone());
        if index == self.instances.len() {
            self.instances.push(value);
            self.instance_keys.push(key.clone());
            self.index_instance(index, key);
        } else {
            let (value, key) = self.replace_instance(index, value, key);
            self.undo.push(Undo::Instance { index, value, key });
        }
    }

    /// A member's status changed (an evacuation or a restore).
    pub fn set_member_status(&mut self, name: &str, status: MemberStatus) {
        if let Some(&index) = self.member_index.get(name) {
            self.generation = next_generation();
            let member = &mut self.members[index];
            let model = member.model.clone();
            member.model.status = status;
            let value = std::mem::replace(&mut member.value, marshal::member(&member.model));
            self.undo.push(Undo::Member { index, model, value });
        }
    }

    /// A create a simulation made finished on `member` in `project`: Incus counts it as pending
    /// for 5 s more ([`CreateProgress::FinishedInSimulation`]).
    pub fn add_finished_create(&mut self, project: &str, member: &str) {
        self.generation = next_generation();
        self.pending_creates.push(PendingCreate {
            project: project.to_owned(),
            location: member.to_owned(),
            progress: CreateProgress::FinishedInSimulation,
        });
    }

    /// Where [`PreparedCluster::rollback`] can come back to.
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            generation: self.generation,
            instances: self.instances.len(),
            heaps: self.frozen_heaps.len(),
            undo: self.undo.len(),
            pending_creates: self.pending_creates.len(),
        }
    }

    /// Undoes every update since `checkpoint`, so a cached prepared cluster serves the next
    /// simulation as it was, without the cost of a copy.
    pub fn rollback(&mut self, checkpoint: Checkpoint) {
        while self.undo.len() > checkpoint.undo {
            match self.undo.pop().expect("longer than the checkpoint") {
                Undo::Instance { index, value, key } => {
                    self.replace_instance(index, value, key);
                }
                Undo::Member { index, model, value } => {
                    self.members[index].model = model;
                    self.members[index].value = value;
                }
            }
        }
        for index in (checkpoint.instances..self.instances.len()).rev() {
            let (project, location) = self.instance_keys.pop().expect("one key per instance");
            remove_sorted(&mut self.by_project, &project, index);
            remove_sorted(&mut self.by_location, &location, index);
        }
        self.instances.truncate(checkpoint.instances);
        self.pending_creates.truncate(checkpoint.pending_creates);
        self.frozen_heaps.truncate(checkpoint.heaps);
        self.generation = checkpoint.generation;
    }

    /// The identity of this state (see the field).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Puts `value` at `index` under `key`; the previous value and key.
    fn replace_instance(
        &mut self,
        index: usize,
        value: GoValue,
        key: (String, String),
    ) -> (GoValue, (String, String)) {
        let old_value = std::mem::replace(&mut self.instances[index], value);
        let old_key = std::mem::replace(&mut self.instance_keys[index], key.clone());
        remove_sorted(&mut self.by_project, &old_key.0, index);
        remove_sorted(&mut self.by_location, &old_key.1, index);
        self.index_instance(index, key);
        (old_value, old_key)
    }

    fn index_instance(&mut self, index: usize, (project, location): (String, String)) {
        insert_sorted(&mut self.by_project, project, index);
        insert_sorted(&mut self.by_location, location, index);
    }

    /// The heaps an evaluation must reference before it reads any prepared value.
    pub(crate) fn frozen_heaps(&self) -> &[FrozenHeapRef] {
        &self.frozen_heaps
    }

    pub(crate) fn member(&self, name: &str) -> Option<&PreparedMember> {
        self.member_index.get(name).map(|&index| &self.members[index])
    }

    /// Instances of a project and/or on a member (`None`: any), in snapshot order.
    pub(crate) fn instances_of(&self, project: Option<&str>, location: Option<&str>) -> Vec<&GoValue> {
        fn index_of<'i>(index: &'i BTreeMap<String, Vec<usize>>, key: &str) -> &'i [usize] {
            index.get(key).map_or(&[], Vec::as_slice)
        }
        let chosen: Vec<usize> = match (project, location) {
            (Some(project), Some(location)) => {
                let in_project = index_of(&self.by_project, project);
                let on_member = index_of(&self.by_location, location);
                let (short, long) = if in_project.len() <= on_member.len() {
                    (in_project, on_member)
                } else {
                    (on_member, in_project)
                };
                short
                    .iter()
                    .copied()
                    .filter(|index| long.binary_search(index).is_ok())
                    .collect()
            }
            (Some(project), None) => index_of(&self.by_project, project).to_vec(),
            (None, Some(location)) => index_of(&self.by_location, location).to_vec(),
            (None, None) => (0..self.instances.len()).collect(),
        };
        chosen.into_iter().map(|index| &self.instances[index]).collect()
    }

    /// How many instances are on `member` (pending creations not included).
    pub fn instance_count_on(&self, member: &str) -> usize {
        self.by_location.get(member).map_or(0, Vec::len)
    }

    /// The member a scriptlet runs on when the caller does not say.
    pub fn default_location(&self) -> &str {
        &self.server_name
    }

    /// `get_cluster_members(group)`: Incus's candidate filter without architecture and project
    /// (`GetCandidateMembers`): online (or blocked) members that take automatic placement.
    pub(crate) fn schedulable_members(&self, group: Option<&str>) -> Vec<&PreparedMember> {
        self.members
            .iter()
            .filter(|member| member.model.status.takes_instances())
            .filter(|member| match member.model.scheduler() {
                SchedulerMode::All => true,
                SchedulerMode::Manual => false,
                SchedulerMode::Group => group.is_some_and(|group| member.model.in_group(group)),
            })
            .filter(|member| group.is_none_or(|group| member.model.in_group(group)))
            .collect()
    }
}

fn remove_sorted(index: &mut BTreeMap<String, Vec<usize>>, key: &str, position: usize) {
    if let Some(positions) = index.get_mut(key) {
        if let Ok(at) = positions.binary_search(&position) {
            positions.remove(at);
        }
    }
}

fn insert_sorted(index: &mut BTreeMap<String, Vec<usize>>, key: String, position: usize) {
    let positions = index.entry(key).or_default();
    if let Err(at) = positions.binary_search(&position) {
        positions.insert(at, position);
    }
}
