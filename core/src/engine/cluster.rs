//! A snapshot prepared for scriptlets: every object the builtins hand out, marshalled once,
//! so an evaluation only clones shared pointers.

use std::collections::BTreeMap;

use super::go_value::GoValue;
use super::marshal;
use crate::model::{ClusterMember, SchedulerMode};
use crate::Snapshot;

pub struct PreparedCluster {
    pub(crate) members: Vec<PreparedMember>,
    pub(crate) instances: Vec<PreparedInstance>,
    pub(crate) projects: BTreeMap<String, GoValue>,
    /// Pending instance creations: (project, member).
    pub(crate) pending_creates: Vec<(String, String)>,
    /// The member that answered the capture's `GET /1.0`.
    pub(crate) server_name: String,
}

pub(crate) struct PreparedMember {
    pub model: ClusterMember,
    pub value: GoValue,
    pub state: Option<GoValue>,
    pub resources: Option<GoValue>,
}

pub(crate) struct PreparedInstance {
    pub project: String,
    pub location: String,
    pub value: GoValue,
}

impl PreparedCluster {
    pub fn new(snapshot: &Snapshot) -> PreparedCluster {
        let members = snapshot
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
            .map(|instance| PreparedInstance {
                project: instance.project.clone(),
                location: instance.location.clone(),
                value: marshal::instance(instance),
            })
            .collect();
        let projects = snapshot
            .projects
            .iter()
            .map(|project| (project.name.clone(), marshal::project(project)))
            .collect();
        let pending_creates = snapshot
            .operations
            .iter()
            .filter(|operation| operation.is_pending_create())
            .map(|operation| {
                let project = operation
                    .resources
                    .get("instances")
                    .and_then(|urls| urls.first())
                    .and_then(|url| url.split_once("?project=").map(|(_, project)| project.to_owned()))
                    .unwrap_or_else(|| "default".to_owned());
                (project, operation.location.clone())
            })
            .collect();
        PreparedCluster {
            members,
            instances,
            projects,
            pending_creates,
            server_name: snapshot.server.environment.server_name.clone(),
        }
    }

    pub(crate) fn member(&self, name: &str) -> Option<&PreparedMember> {
        self.members
            .iter()
            .find(|member| member.model.server_name == name)
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
            .filter(|member| matches!(member.model.status.as_str(), "Online" | "Blocked"))
            .filter(|member| match member.model.scheduler() {
                SchedulerMode::All => true,
                SchedulerMode::Manual => false,
                SchedulerMode::Group => group.is_some_and(|group| member.model.in_group(group)),
            })
            .filter(|member| group.is_none_or(|group| member.model.in_group(group)))
            .collect()
    }
}
