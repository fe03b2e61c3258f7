//! A snapshot: everything Berth knows about one cluster at one moment, in the versioned
//! `berth.snapshot/v1` JSON format.
//!
//! Snapshots are immutable once made. Their identity is the SHA-256 of their canonical JSON
//! ([`Snapshot::content_hash`]), so importing the same capture twice stores it once.
//! [`Snapshot::from_json`] is the only way in from untrusted bytes: it checks the format tag
//! and the cross-references, so everything downstream may assume a consistent snapshot.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::model::{
    ClusterGroup, ClusterMember, ClusterMemberState, Image, Instance, Operation, Profile, Project, Resources,
    Server,
};

/// The format tag every snapshot document carries.
pub const SNAPSHOT_FORMAT: &str = "berth.snapshot/v1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Always [`SNAPSHOT_FORMAT`].
    pub format: String,
    /// When the capture was taken (RFC 3339, UTC).
    pub captured_at: String,
    pub source: SnapshotSource,
    /// `GET /1.0`.
    pub server: Server,
    /// `GET /1.0/cluster/members?recursion=1`, in Incus's order.
    pub members: Vec<ClusterMember>,
    /// `GET /1.0/cluster/members/{name}/state` by member name; absent for members that
    /// could not answer (offline), with the reason in `capture_errors`.
    #[serde(default)]
    pub member_state: BTreeMap<String, ClusterMemberState>,
    /// `GET /1.0/resources?target={name}` by member name; absent like `member_state`.
    #[serde(default)]
    pub member_resources: BTreeMap<String, Resources>,
    #[serde(default)]
    pub cluster_groups: Vec<ClusterGroup>,
    pub projects: Vec<Project>,
    #[serde(default)]
    pub profiles: Vec<Profile>,
    pub instances: Vec<Instance>,
    /// `GET /1.0/images?recursion=1&all-projects=true`. Snapshots taken before images were
    /// captured have none: a create from an image then has no architecture, as before.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<Image>,
    /// Pending operations (the ones that matter are instance creations).
    #[serde(default)]
    pub operations: Vec<Operation>,
    /// Requests that failed during capture; recorded instead of aborting it.
    #[serde(default)]
    pub capture_errors: Vec<CaptureError>,
}

/// Where a snapshot came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotSource {
    /// `demo`, `capture` or `upload`.
    pub kind: String,
    /// A human-readable name for the snapshot.
    pub name: String,
    /// The endpoint captured from (never credentials), when `kind` is `capture`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaptureError {
    /// The request path, e.g. `/1.0/cluster/members/m3/state`.
    pub request: String,
    pub status_code: u16,
    pub error: String,
}

/// Why a document is not a usable snapshot. Each message names the offending object.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SnapshotError {
    #[error("not valid snapshot JSON at line {line}, column {column}: {message}")]
    Json {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("unsupported snapshot format {found:?} (expected {SNAPSHOT_FORMAT:?})")]
    UnsupportedFormat { found: String },
    #[error("the snapshot has no cluster members")]
    NoMembers,
    #[error("{kind} {name:?} appears more than once")]
    Duplicate { kind: &'static str, name: String },
    #[error("instance {instance:?} is located on {member:?}, which is not a member of the cluster")]
    UnknownLocation { instance: String, member: String },
    #[error("instance {instance:?} belongs to project {project:?}, which the snapshot does not contain")]
    UnknownProject { instance: String, project: String },
    #[error("cluster group {group:?} lists {member:?}, which is not a member of the cluster")]
    UnknownGroupMember { group: String, member: String },
    #[error("image {fingerprint:?} belongs to project {project:?}, which the snapshot does not contain")]
    UnknownImageProject { fingerprint: String, project: String },
}

impl Snapshot {
    /// Parses and validates an untrusted snapshot document.
    pub fn from_json(text: &str) -> Result<Snapshot, SnapshotError> {
        // Read the format tag first, so a document of another format is named as such rather
        // than reported as a missing field.
        #[derive(Deserialize)]
        struct FormatOnly {
            format: Option<String>,
        }
        let tag: FormatOnly = serde_json::from_str(text).map_err(json_error)?;
        let found = tag.format.unwrap_or_default();
        if found != SNAPSHOT_FORMAT {
            return Err(SnapshotError::UnsupportedFormat { found });
        }
        let snapshot: Snapshot = serde_json::from_str(text).map_err(json_error)?;
        snapshot.validate()?;
        Ok(snapshot)
    }

    /// The canonical JSON of the snapshot.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a snapshot always serializes")
    }

    /// Hex SHA-256 of [`Snapshot::to_json`]: the snapshot's identity.
    pub fn content_hash(&self) -> String {
        hex::encode(Sha256::digest(self.to_json().as_bytes()))
    }

    /// Checks the cross-references a capture from a real cluster always satisfies.
    pub fn validate(&self) -> Result<(), SnapshotError> {
        if self.members.is_empty() {
            return Err(SnapshotError::NoMembers);
        }
        let members = unique(
            "cluster member",
            self.members.iter().map(|m| m.server_name.as_str()),
        )?;
        let projects = unique("project", self.projects.iter().map(|p| p.name.as_str()))?;
        unique(
            "cluster group",
            self.cluster_groups.iter().map(|g| g.name.as_str()),
        )?;
        for group in &self.cluster_groups {
            if let Some(member) = group.members.iter().find(|m| !members.contains(m.as_str())) {
                return Err(SnapshotError::UnknownGroupMember {
                    group: group.name.clone(),
                    member: member.clone(),
                });
            }
        }
        // The same image may be in several projects (each project with `features.images` has
        // its own copy), but only once in each.
        let mut image_keys = BTreeSet::new();
        for image in &self.images {
            if !projects.contains(image.project.as_str()) {
                return Err(SnapshotError::UnknownImageProject {
                    fingerprint: image.fingerprint.clone(),
                    project: image.project.clone(),
                });
            }
            if !image_keys.insert((image.project.as_str(), image.fingerprint.as_str())) {
                return Err(SnapshotError::Duplicate {
                    kind: "image",
                    name: format!("{}/{}", image.project, image.fingerprint),
                });
            }
        }
        let mut instance_keys = BTreeSet::new();
        for instance in &self.instances {
            let key = format!("{}/{}", instance.project, instance.name);
            if !projects.contains(instance.project.as_str()) {
                return Err(SnapshotError::UnknownProject {
                    instance: key,
                    project: instance.project.clone(),
                });
            }
            if !members.contains(instance.location.as_str()) {
                return Err(SnapshotError::UnknownLocation {
                    instance: key,
                    member: instance.location.clone(),
                });
            }
            if !instance_keys.insert(key.clone()) {
                return Err(SnapshotError::Duplicate {
                    kind: "instance",
                    name: key,
                });
            }
        }
        Ok(())
    }

    pub fn member(&self, name: &str) -> Option<&ClusterMember> {
        self.members.iter().find(|member| member.server_name == name)
    }

    pub fn project(&self, name: &str) -> Option<&Project> {
        self.projects.iter().find(|project| project.name == name)
    }

    /// The version Incus reports (`environment.server_version`), e.g. `6.0.4`.
    pub fn incus_version(&self) -> &str {
        &self.server.environment.server_version
    }
}

fn unique<'a>(
    kind: &'static str,
    names: impl Iterator<Item = &'a str>,
) -> Result<BTreeSet<&'a str>, SnapshotError> {
    let mut seen = BTreeSet::new();
    for name in names {
        if !seen.insert(name) {
            return Err(SnapshotError::Duplicate {
                kind,
                name: name.to_owned(),
            });
        }
    }
    Ok(seen)
}

fn json_error(error: serde_json::Error) -> SnapshotError {
    SnapshotError::Json {
        line: error.line(),
        column: error.column(),
        message: error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo_json() -> String {
        crate::demo::demo_snapshot().to_json()
    }

    #[test]
    fn demo_round_trips_through_json_with_the_same_hash() {
        let original = crate::demo::demo_snapshot();
        let reparsed = Snapshot::from_json(&original.to_json()).expect("demo is valid");
        assert_eq!(reparsed, original);
        assert_eq!(reparsed.content_hash(), original.content_hash());
    }

    #[test]
    fn rejects_another_format_by_name() {
        let text = demo_json().replacen(SNAPSHOT_FORMAT, "berth.snapshot/v9", 1);
        assert_eq!(
            Snapshot::from_json(&text),
            Err(SnapshotError::UnsupportedFormat {
                found: "berth.snapshot/v9".into()
            })
        );
    }

    #[test]
    fn rejects_broken_json_with_its_position() {
        let error = Snapshot::from_json("{\n  \"format\": \"berth.snapshot/v1\",\n  oops\n}").unwrap_err();
        assert!(matches!(error, SnapshotError::Json { line: 3, .. }), "{error:?}");
    }

    #[test]
    fn rejects_an_instance_on_an_unknown_member() {
        let mut snapshot = crate::demo::demo_snapshot();
        snapshot.instances[0].location = "ghost".into();
        let error = Snapshot::from_json(&snapshot.to_json()).unwrap_err();
        assert!(matches!(error, SnapshotError::UnknownLocation { ref member, .. } if member == "ghost"));
        assert!(error.to_string().contains("\"ghost\", which is not a member"));
    }

    #[test]
    fn rejects_duplicate_instances_and_unknown_projects() {
        let mut snapshot = crate::demo::demo_snapshot();
        let copy = snapshot.instances[0].clone();
        snapshot.instances.push(copy);
        assert!(matches!(
            snapshot.validate(),
            Err(SnapshotError::Duplicate { kind: "instance", .. })
        ));

        let mut snapshot = crate::demo::demo_snapshot();
        snapshot.instances[0].project = "nowhere".into();
        assert!(matches!(
            snapshot.validate(),
            Err(SnapshotError::UnknownProject { .. })
        ));
    }

    #[test]
    fn images_must_be_in_a_known_project_and_unique_there() {
        let mut snapshot = crate::demo::demo_snapshot();
        let image = snapshot.images[0].clone();
        let mut elsewhere = image.clone();
        elsewhere.project = "nowhere".into();
        snapshot.images.push(elsewhere);
        let error = Snapshot::from_json(&snapshot.to_json()).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "image {:?} belongs to project \"nowhere\", which the snapshot does not contain",
                image.fingerprint
            )
        );

        let mut snapshot = crate::demo::demo_snapshot();
        snapshot.images.push(image.clone());
        let error = Snapshot::from_json(&snapshot.to_json()).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "image \"{}/{}\" appears more than once",
                image.project, image.fingerprint
            )
        );

        // The same fingerprint in another project is another copy, as Incus lists it.
        let mut snapshot = crate::demo::demo_snapshot();
        let other_project = snapshot
            .projects
            .iter()
            .find(|p| p.name != image.project && !snapshot.images.iter().any(|i| i.project == p.name))
            .unwrap()
            .name
            .clone();
        snapshot.images.push(crate::model::Image {
            project: other_project,
            ..image
        });
        Snapshot::from_json(&snapshot.to_json()).expect("one copy per project is fine");
    }

    #[test]
    fn a_snapshot_from_before_images_were_captured_loads_and_keeps_its_hash() {
        let mut snapshot = crate::demo::demo_snapshot();
        snapshot.images.clear();
        let text = snapshot.to_json();
        assert!(!text.contains("\"images\""), "no images key when there are none");
        let loaded = Snapshot::from_json(&text).expect("loads without images");
        assert!(loaded.images.is_empty());
        // Its identity is the hash of the bytes it was stored with.
        assert_eq!(
            loaded.content_hash(),
            hex::encode(Sha256::digest(text.as_bytes()))
        );
    }

    #[test]
    fn accepts_a_capture_with_missing_optional_sections() {
        let text = r#"{"format":"berth.snapshot/v1","captured_at":"2026-11-25T08:00:00Z",
            "source":{"kind":"upload","name":"tiny"},"server":{},
            "members":[{"server_name":"m1","status":"Online"}],"projects":[{"name":"default"}],
            "instances":[{"name":"a1","project":"default","location":"m1","type":"container"}]}"#;
        let snapshot = Snapshot::from_json(text).expect("minimal snapshot loads");
        assert_eq!(snapshot.instances[0].instance_type, "container");
        assert!(snapshot.member_state.is_empty());
    }
}
