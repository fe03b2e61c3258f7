//! The representative instance of each situation and the operations that put it there.
//!
//! By default the first instance of the snapshot (in its order) that fits the situation as a
//! user would meet it:
//! - every situation: an instance on an online member;
//! - `create*`: the instance is the template of a new one (its project, type, architecture,
//!   profiles, own config and devices; an empty instance, so no image lookup can fail first);
//!   `create-member` targets its member, `create-group` a group of its member that its project
//!   may use (another than `default` when there is one);
//! - `move-*`: a stopped instance (a running one cannot change project, and a running container
//!   cannot change member without CRIU); `move-member` targets the least loaded other member
//!   that takes instances of its project; `move-project` a project that has the instance's
//!   profiles and accepts its member (so the member is kept); `move-project-member` such a
//!   project's least loaded candidate other than its member;
//! - `evacuate`: the first instance of its member, so that its own call is the evacuation's
//!   first, on a member whose instances have somewhere else to go;
//! - `rebalance`: an instance whose member is more loaded than another candidate of its project.
//!
//! An instance the user names is taken as it is (a running one's move fails as Incus refuses
//! it), as long as the situation can be built for it at all.

use std::collections::{BTreeMap, HashMap};

use super::{MatrixVersion, Picks, Plan, PlannedSimulation, Situation, Skipped};
use crate::model::{Instance, MemberStatus, Project};
use crate::placement::{candidates_by_load, CandidateQuery};
use crate::simulate::{CreateOperation, MoveOperation, Operation};
use crate::Snapshot;

/// Why a plan cannot be made from what the user asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("{situation}: there is no instance {instance} in the snapshot (expected PROJECT/NAME)")]
    UnknownInstance { situation: Situation, instance: String },
    #[error("{situation}: {instance} does not fit: {reason}")]
    Unfit {
        situation: Situation,
        instance: String,
        reason: String,
    },
}

/// Every version × situation to simulate, each situation with its instance. A situation no
/// version asked for has (`rebalance` before 7.0), or that no instance fits, is skipped.
pub fn plan(snapshot: &Snapshot, versions: &[MatrixVersion], picks: &Picks) -> Result<Plan, PlanError> {
    let cluster = Cluster::new(snapshot);
    let mut simulations = Vec::new();
    let mut skipped = Vec::new();
    for situation in Situation::ALL {
        let sending: Vec<&MatrixVersion> = versions
            .iter()
            .filter(|version| situation.exists_in(version.profile()))
            .collect();
        if sending.is_empty() {
            skipped.push(Skipped {
                situation,
                reason: "no version asked for gets into it (automatic rebalancing is 7.0+)".into(),
            });
            continue;
        }
        let chosen = match picks.get(&situation) {
            Some(named) => {
                let instance = cluster.find(named).ok_or_else(|| PlanError::UnknownInstance {
                    situation,
                    instance: named.clone(),
                })?;
                let operations =
                    cluster
                        .operations(situation, instance)
                        .map_err(|reason| PlanError::Unfit {
                            situation,
                            instance: named.clone(),
                            reason,
                        })?;
                Some((key_of(instance), operations))
            }
            None => cluster.representative(situation),
        };
        let Some((instance, operations)) = chosen else {
            skipped.push(Skipped {
                situation,
                reason: format!("no instance of the snapshot fits: {}", requirement(situation)),
            });
            continue;
        };
        for version in sending {
            simulations.push(PlannedSimulation {
                version: version.given.clone(),
                incus_version: version.version.to_string(),
                situation,
                instance: instance.clone(),
                operations: operations.clone(),
            });
        }
    }
    Ok(Plan {
        versions: versions.iter().map(|version| version.given.clone()).collect(),
        simulations,
        skipped,
    })
}

/// What the default pick looks for, in words.
fn requirement(situation: Situation) -> &'static str {
    match situation {
        Situation::Create | Situation::CreateMember => "an instance on an online member",
        Situation::CreateGroup => "an instance on an online member in a cluster group its project may use",
        Situation::MoveMember => "a stopped instance with another member that takes instances of its project",
        Situation::MoveProject => {
            "a stopped instance and another project that has its profiles and accepts its member"
        }
        Situation::MoveProjectMember => {
            "a stopped instance and another project that has its profiles and another member for it"
        }
        Situation::Evacuate => "an instance on an online member whose instances can go elsewhere",
        Situation::Rebalance => "an instance on a member more loaded than another candidate of its project",
    }
}

fn key_of(instance: &Instance) -> String {
    format!("{}/{}", instance.project, instance.name)
}

/// The snapshot with what picking reads often: instance counts and each member's first
/// instance, computed once (the candidate rules would count every instance per query).
struct Cluster<'s> {
    snapshot: &'s Snapshot,
    counts: BTreeMap<&'s str, usize>,
    /// Each member's first instance, by position.
    first_on: HashMap<&'s str, usize>,
}

impl<'s> Cluster<'s> {
    fn new(snapshot: &'s Snapshot) -> Cluster<'s> {
        let mut first_on = HashMap::new();
        for (index, instance) in snapshot.instances.iter().enumerate() {
            first_on.entry(instance.location.as_str()).or_insert(index);
        }
        Cluster {
            snapshot,
            counts: snapshot.instance_counts(),
            first_on,
        }
    }

    fn find(&self, key: &str) -> Option<&'s Instance> {
        let (project, name) = key.split_once('/')?;
        self.snapshot
            .instances
            .iter()
            .find(|instance| instance.project == project && instance.name == name)
    }

    /// The first instance that fits `situation` by default, with its operations.
    fn representative(&self, situation: Situation) -> Option<(String, Vec<Operation>)> {
        self.snapshot
            .instances
            .iter()
            .enumerate()
            .filter(|(index, instance)| self.fits(situation, *index, instance))
            .find_map(|(_, instance)| {
                self.operations(situation, instance)
                    .ok()
                    .map(|operations| (key_of(instance), operations))
            })
    }

    /// What the default pick asks of an instance beyond what its operations need.
    fn fits(&self, situation: Situation, index: usize, instance: &Instance) -> bool {
        let online = self
            .snapshot
            .member(&instance.location)
            .is_some_and(|member| member.status == MemberStatus::Online);
        let stopped = instance.status == "Stopped";
        online
            && match situation {
                Situation::MoveMember | Situation::MoveProjectMember => stopped,
                Situation::MoveProject => {
                    stopped
                        && self
                            .other_projects(instance)
                            .any(|project| self.candidates(project, instance).contains(&instance.location))
                }
                Situation::Evacuate => {
                    self.first_on.get(instance.location.as_str()) == Some(&index)
                        && self
                            .candidates(self.project_of(instance), instance)
                            .iter()
                            .any(|member| *member != instance.location)
                }
                Situation::Rebalance => {
                    let own = self.load(&instance.location);
                    self.candidates(self.project_of(instance), instance)
                        .iter()
                        .any(|member| self.load(member) < own)
                }
                Situation::Create | Situation::CreateMember | Situation::CreateGroup => true,
            }
    }

    /// The operations that put `instance` in `situation`, or why they cannot be built.
    fn operations(&self, situation: Situation, instance: &Instance) -> Result<Vec<Operation>, String> {
        let operation = match situation {
            Situation::Create => Operation::Create(Box::new(self.create_like(instance, String::new()))),
            Situation::CreateMember => {
                Operation::Create(Box::new(self.create_like(instance, instance.location.clone())))
            }
            Situation::CreateGroup => {
                let group = self
                    .group_for(instance)
                    .ok_or("its member is in no cluster group its project may use")?;
                Operation::Create(Box::new(self.create_like(instance, format!("@{group}"))))
            }
            Situation::MoveMember => {
                let target = self
                    .other_member(self.project_of(instance), instance)
                    .ok_or("no other member takes instances of its project")?;
                Operation::Move(MoveOperation {
                    project: instance.project.clone(),
                    name: instance.name.clone(),
                    target_project: None,
                    target,
                })
            }
            Situation::MoveProject => {
                let projects: Vec<&Project> = self.other_projects(instance).collect();
                let keeping = projects
                    .iter()
                    .find(|project| self.candidates(project, instance).contains(&instance.location))
                    .or(projects.first())
                    .ok_or("no other project has its profiles")?;
                Operation::Move(MoveOperation {
                    project: instance.project.clone(),
                    name: instance.name.clone(),
                    target_project: Some(keeping.name.clone()),
                    target: String::new(),
                })
            }
            Situation::MoveProjectMember => {
                let (project, target) = self
                    .other_projects(instance)
                    .find_map(|project| Some((project, self.other_member(project, instance)?)))
                    .ok_or("no other project that has its profiles has another member for it")?;
                Operation::Move(MoveOperation {
                    project: instance.project.clone(),
                    name: instance.name.clone(),
                    target_project: Some(project.name.clone()),
                    target,
                })
            }
            Situation::Evacuate => Operation::Evacuate {
                member: instance.location.clone(),
            },
            Situation::Rebalance => Operation::Rebalance {
                project: instance.project.clone(),
                name: instance.name.clone(),
            },
        };
        Ok(vec![operation])
    }

    /// A create in the instance's project shaped like it, named after it (a scriptlet that
    /// reads name prefixes sees the same one), with `target`.
    fn create_like(&self, instance: &Instance, target: String) -> CreateOperation {
        CreateOperation {
            project: instance.project.clone(),
            name: self.unused_name(&instance.project, &instance.name),
            target,
            instance_type: Some(instance.instance_type.clone()).filter(|t| !t.is_empty()),
            profiles: Some(instance.profiles.clone()),
            config: instance
                .config
                .iter()
                .filter(|(key, _)| !key.starts_with("volatile."))
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect(),
            devices: instance.devices.clone(),
            ephemeral: instance.ephemeral,
            description: instance.description.clone(),
            architecture: instance.architecture.clone(),
            ..CreateOperation::default()
        }
    }

    /// `NAME-new`, or `NAME-new-2`, … : a name no instance of the project has.
    fn unused_name(&self, project: &str, name: &str) -> String {
        let taken = |candidate: &str| {
            self.snapshot
                .instances
                .iter()
                .any(|i| i.project == project && i.name == candidate)
        };
        let base = format!("{name}-new");
        (1..)
            .map(|n| {
                if n == 1 {
                    base.clone()
                } else {
                    format!("{base}-{n}")
                }
            })
            .find(|candidate| !taken(candidate))
            .expect("some name is free")
    }

    /// A group of the instance's member that its project may use: another than `default` when
    /// there is one.
    fn group_for(&self, instance: &Instance) -> Option<String> {
        let member = self.snapshot.member(&instance.location)?;
        let allowed = self.project_of(instance).restrictions().cluster_groups;
        let usable: Vec<&String> = member
            .groups
            .iter()
            .filter(|group| allowed.is_empty() || allowed.contains(group))
            .collect();
        usable
            .iter()
            .find(|group| group.as_str() != "default")
            .or(usable.first())
            .map(|group| group.to_string())
    }

    /// Projects other than the instance's that have each of its profiles (Incus looks them up
    /// in the target project by name).
    fn other_projects<'a>(&'a self, instance: &'a Instance) -> impl Iterator<Item = &'s Project> + 'a {
        self.snapshot.projects.iter().filter(move |project| {
            project.name != instance.project
                && instance.profiles.iter().all(|profile| {
                    self.snapshot
                        .profiles
                        .iter()
                        .any(|p| p.project == project.name && &p.name == profile)
                })
        })
    }

    fn project_of(&self, instance: &Instance) -> &'s Project {
        self.snapshot
            .project(&instance.project)
            .expect("a validated snapshot's instances are in known projects")
    }

    /// The least loaded member other than the instance's that `project` offers it.
    fn other_member(&self, project: &Project, instance: &Instance) -> Option<String> {
        self.candidates(project, instance)
            .into_iter()
            .find(|member| *member != instance.location)
    }

    /// Incus's candidates for the instance in `project`, least loaded first.
    fn candidates(&self, project: &Project, instance: &Instance) -> Vec<String> {
        let architectures = (!instance.architecture.is_empty()).then(|| vec![instance.architecture.clone()]);
        candidates_by_load(
            self.snapshot,
            &CandidateQuery {
                project: Some(project),
                group: None,
                architectures,
            },
            |member| self.load(member),
        )
        .members
    }

    fn load(&self, member: &str) -> usize {
        self.counts.get(member).copied().unwrap_or(0)
    }
}
