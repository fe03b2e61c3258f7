//! `GET /1.0/projects?recursion=1` and `GET /1.0/profiles?recursion=1&all-projects=true`.

use serde::{Deserialize, Serialize};

use super::nullable::{null_as_default, null_entries_as_default};
use super::{Config, Devices};

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Project {
    pub name: String,
    pub description: String,
    #[serde(deserialize_with = "null_as_default")]
    pub config: Config,
    #[serde(deserialize_with = "null_as_default")]
    pub used_by: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Profile {
    pub name: String,
    /// The project the profile is defined in (`all-projects=true` adds it).
    pub project: String,
    pub description: String,
    #[serde(deserialize_with = "null_as_default")]
    pub config: Config,
    #[serde(deserialize_with = "null_entries_as_default")]
    pub devices: Devices,
    #[serde(deserialize_with = "null_as_default")]
    pub used_by: Vec<String>,
}

/// What a project's configuration says about where its instances may go and what they share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectRestrictions {
    /// `restricted=true`: the `restricted.*` keys are enforced on explicit targets.
    pub restricted: bool,
    /// `restricted.cluster.groups`, comma-split and trimmed. Incus applies it to the candidate
    /// list whenever it is set, even without `restricted=true`.
    pub cluster_groups: Vec<String>,
    /// `restricted.cluster.target` (`allow` or `block`), when set.
    pub cluster_target: Option<String>,
    /// `features.profiles`: false means the project uses the `default` project's profiles.
    pub own_profiles: bool,
    /// `features.images`: false means the project uses the `default` project's images.
    pub own_images: bool,
}

impl Project {
    pub fn restrictions(&self) -> ProjectRestrictions {
        let flag = |key: &str| self.config.get(key).is_some_and(|value| value == "true");
        let cluster_groups = self
            .config
            .get("restricted.cluster.groups")
            .map(|raw| {
                raw.split(',')
                    .map(str::trim)
                    .filter(|group| !group.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        ProjectRestrictions {
            restricted: flag("restricted"),
            cluster_groups,
            cluster_target: self.config.get("restricted.cluster.target").cloned(),
            // The default project always has its own profiles and images.
            own_profiles: self.name == "default" || flag("features.profiles"),
            own_images: self.name == "default" || flag("features.images"),
        }
    }

    /// The project whose profiles this project's instances use (`ProfileProjectFromRecord`).
    pub fn profile_project(&self) -> &str {
        if self.restrictions().own_profiles {
            &self.name
        } else {
            "default"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(name: &str, config: &[(&str, &str)]) -> Project {
        Project {
            name: name.into(),
            config: config
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Project::default()
        }
    }

    #[test]
    fn restrictions_split_and_trim_cluster_groups() {
        let restricted = project(
            "ci",
            &[
                ("restricted", "true"),
                ("restricted.cluster.groups", " rack-b, ,edge "),
            ],
        );
        let restrictions = restricted.restrictions();
        assert!(restrictions.restricted);
        assert_eq!(restrictions.cluster_groups, vec!["rack-b", "edge"]);
        assert!(!restrictions.own_profiles);
    }

    #[test]
    fn profiles_come_from_default_without_features_profiles() {
        assert_eq!(
            project("legacy", &[("features.profiles", "false")]).profile_project(),
            "default"
        );
        assert_eq!(
            project("web", &[("features.profiles", "true")]).profile_project(),
            "web"
        );
        assert_eq!(project("default", &[]).profile_project(), "default");
    }
}

/// A profile named by an instance that its profile project does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Requested profile {0:?} doesn't exist")]
pub struct MissingProfile(pub String);

/// Config and devices as Incus expands them: the named profiles in order, looked up among
/// `profiles` in `profile_project`, then the instance's own keys on top. A device is replaced
/// whole by a later one of the same name (its keys are not merged), as Incus does.
pub fn expand_profiles(
    profiles: &[Profile],
    profile_project: &str,
    names: &[String],
    config: &Config,
    devices: &Devices,
) -> Result<(Config, Devices), MissingProfile> {
    let mut expanded_config = Config::new();
    let mut expanded_devices = Devices::new();
    for name in names {
        let profile = profiles
            .iter()
            .find(|p| p.project == profile_project && &p.name == name)
            .ok_or_else(|| MissingProfile(name.clone()))?;
        expanded_config.extend(profile.config.clone());
        expanded_devices.extend(profile.devices.clone());
    }
    expanded_config.extend(config.clone());
    expanded_devices.extend(devices.clone());
    Ok((expanded_config, expanded_devices))
}
