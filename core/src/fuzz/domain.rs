//! What a fuzzed call may be made of: the snapshot's projects (with the profiles their
//! profile project holds and the images their image project holds), instances, members and
//! groups; the Incus versions of the run; and the config the scriptlet may read: keys it
//! names or the snapshot uses, with the scriptlet's own literals, the snapshot's values and
//! odd values. Built once per worker and run, read by `decode`.

use std::collections::{BTreeMap, BTreeSet};

use crate::engine::IncusVersion;
use crate::model::{Image, Project};
use crate::Snapshot;

/// Values no sane config would hold, and some that look sane but are not what a scriptlet
/// expects (numbers where a name goes, units where a number goes, lists, blanks).
const ODD_VALUES: [&str; 18] = [
    "",
    " ",
    "0",
    "-1",
    "1",
    "abc",
    "1.5",
    "99999999999999999999",
    "true",
    "false",
    "none",
    "1GiB",
    "0-3",
    "a,b,,c",
    "ü",
    "null",
    "2048MB",
    "@",
];

pub struct Domain {
    pub(crate) versions: Vec<IncusVersion>,
    /// How each version was given (`6.6`), for the cases.
    pub(crate) version_names: Vec<String>,
    pub(crate) projects: Vec<ProjectChoice>,
    /// Positions in the snapshot's instance list.
    pub(crate) instances: Vec<usize>,
    pub(crate) members: Vec<String>,
    pub(crate) groups: Vec<String>,
    /// The member the snapshot was taken from (where creates arrive).
    pub(crate) server_name: String,
    /// Instances per member, as Incus sorts candidates.
    pub(crate) loads: BTreeMap<String, usize>,
    pub(crate) keys: Vec<ConfigKey>,
    /// The scriptlet's string and integer literals, and each integer ± 1.
    pub(crate) literals: Vec<String>,
    pub(crate) odd: Vec<String>,
}

pub(crate) struct ProjectChoice {
    pub project: Project,
    /// Profiles defined in its profile project.
    pub profiles: Vec<String>,
    /// Images in its image project.
    pub images: Vec<Image>,
    /// Positions in the snapshot's instance list of its instances.
    pub instances: Vec<usize>,
}

pub(crate) struct ConfigKey {
    pub key: String,
    /// Values the snapshot's instances and profiles give it (a few).
    pub values: Vec<String>,
}

/// Distinct values kept per key from the snapshot.
const VALUES_PER_KEY: usize = 12;

impl Domain {
    /// `literals`: the scriptlet's (`engine::literals`); `versions`: the versions to fuzz,
    /// with how each was written.
    pub fn new(snapshot: &Snapshot, literals: &[String], versions: &[(IncusVersion, String)]) -> Domain {
        let projects = snapshot
            .projects
            .iter()
            .map(|project| {
                let profile_project = project.profile_project();
                let image_project = if project.restrictions().own_images {
                    project.name.as_str()
                } else {
                    "default"
                };
                ProjectChoice {
                    profiles: snapshot
                        .profiles
                        .iter()
                        .filter(|profile| profile.project == profile_project)
                        .map(|profile| profile.name.clone())
                        .collect(),
                    images: snapshot
                        .images
                        .iter()
                        .filter(|image| image.project == image_project)
                        .cloned()
                        .collect(),
                    instances: snapshot
                        .instances
                        .iter()
                        .enumerate()
                        .filter(|(_, instance)| instance.project == project.name)
                        .map(|(index, _)| index)
                        .collect(),
                    project: project.clone(),
                }
            })
            .collect();

        let mut values: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let configs = snapshot
            .instances
            .iter()
            .map(|instance| &instance.config)
            .chain(snapshot.profiles.iter().map(|profile| &profile.config));
        for config in configs {
            for (key, value) in config {
                // Volatile keys are Incus's own bookkeeping; none is a choice a request makes.
                if key.starts_with("volatile.") && key != "volatile.cluster.group" {
                    continue;
                }
                let kept = values.entry(key.clone()).or_default();
                if kept.len() < VALUES_PER_KEY {
                    kept.insert(value.clone());
                }
            }
        }
        for literal in literals {
            if looks_like_config_key(literal) {
                values.entry(literal.clone()).or_default();
            }
        }
        let keys = values
            .into_iter()
            .map(|(key, values)| ConfigKey {
                key,
                values: values.into_iter().collect(),
            })
            .collect();

        let mut dictionary: Vec<String> = Vec::new();
        for literal in literals {
            dictionary.push(literal.clone());
            if let Ok(number) = literal.parse::<i64>() {
                dictionary.push((number - 1).to_string());
                dictionary.push((number + 1).to_string());
            }
        }
        let mut seen = BTreeSet::new();
        dictionary.retain(|literal| seen.insert(literal.clone()));

        let members: Vec<String> = snapshot.members.iter().map(|m| m.server_name.clone()).collect();
        let mut odd: Vec<String> = ODD_VALUES.iter().map(|v| v.to_string()).collect();
        odd.extend(members.iter().take(2).cloned());
        odd.extend(snapshot.projects.iter().take(2).map(|p| p.name.clone()));
        Domain {
            versions: versions.iter().map(|(version, _)| *version).collect(),
            version_names: versions.iter().map(|(_, name)| name.clone()).collect(),
            projects,
            instances: (0..snapshot.instances.len()).collect(),
            members,
            groups: snapshot.cluster_groups.iter().map(|g| g.name.clone()).collect(),
            server_name: snapshot.server.environment.server_name.clone(),
            loads: snapshot
                .instance_counts()
                .into_iter()
                .map(|(member, count)| (member.to_owned(), count))
                .collect(),
            keys,
            literals: dictionary,
            odd,
        }
    }

    /// The versions of the run, as written.
    pub fn versions(&self) -> &[String] {
        &self.version_names
    }
}

/// `user.tier`, `limits.memory`: what a config key looks like (a literal that is one is a key
/// the scriptlet reads, most likely).
fn looks_like_config_key(text: &str) -> bool {
    let Some((namespace, rest)) = text.split_once('.') else {
        return false;
    };
    !namespace.is_empty()
        && !rest.is_empty()
        && namespace.chars().all(|c| c.is_ascii_lowercase() || c == '-')
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

#[cfg(test)]
mod tests {
    use super::looks_like_config_key;

    #[test]
    fn config_keys_are_told_from_other_strings() {
        for key in [
            "user.tier",
            "limits.memory",
            "volatile.cluster.group",
            "cloud-init.user-data",
        ] {
            assert!(looks_like_config_key(key), "{key}");
        }
        for other in ["gold", "1.5", "hv-a01", "user.", ".x", "Some text."] {
            assert!(!looks_like_config_key(other), "{other}");
        }
    }
}
