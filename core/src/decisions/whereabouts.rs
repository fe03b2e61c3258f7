//! Where each instance of a cluster is, as far as the decision log knows: a capture's
//! instances, kept up to date by the events that follow it. The listener reads from it where a
//! moved instance came from, and a reconciliation compares it with a fresh capture.

use std::collections::BTreeMap;

use crate::Snapshot;

/// `(project, name)` → member.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Whereabouts {
    instances: BTreeMap<(String, String), String>,
}

impl Whereabouts {
    /// The instances of a capture.
    pub fn of(snapshot: &Snapshot) -> Whereabouts {
        Whereabouts {
            instances: snapshot
                .instances
                .iter()
                .map(|i| ((i.project.clone(), i.name.clone()), i.location.clone()))
                .collect(),
        }
    }

    pub fn member_of(&self, project: &str, name: &str) -> Option<&str> {
        self.instances
            .get(&(project.to_owned(), name.to_owned()))
            .map(String::as_str)
    }

    pub fn place(&mut self, project: &str, name: &str, member: &str) {
        self.instances
            .insert((project.to_owned(), name.to_owned()), member.to_owned());
    }

    /// Forgets an instance; where it was.
    pub fn remove(&mut self, project: &str, name: &str) -> Option<String> {
        self.instances.remove(&(project.to_owned(), name.to_owned()))
    }

    pub fn rename(&mut self, project: &str, old_name: &str, name: &str) {
        if let Some(member) = self.remove(project, old_name) {
            self.place(project, name, &member);
        }
    }

    /// The projects other than `project` that hold an instance named `name`, with its member.
    pub fn elsewhere(&self, project: &str, name: &str) -> Vec<(String, String)> {
        self.instances
            .iter()
            .filter(|((p, n), _)| n == name && p != project)
            .map(|((p, _), member)| (p.clone(), member.clone()))
            .collect()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str, &str)> {
        self.instances
            .iter()
            .map(|((project, name), member)| (project.as_str(), name.as_str(), member.as_str()))
    }

    pub fn len(&self) -> usize {
        self.instances.len()
    }

    pub fn is_empty(&self) -> bool {
        self.instances.is_empty()
    }
}
