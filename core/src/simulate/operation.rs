//! The operations the simulator understands, in the JSON shape `berth simulate --op` takes.

use serde::{Deserialize, Deserializer, Serialize};

use crate::model::{Config, Devices};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Operation {
    /// `POST /1.0/instances?project=P[&target=T]`.
    Create(Box<CreateOperation>),
    /// `POST /1.0/instances/N?project=P[&target=T]` with `{"migration": true, "project": P2}`.
    Move(MoveOperation),
    /// `incus cluster evacuate M` (migrate mode).
    Evacuate { member: String },
    /// `incus cluster restore M`.
    Restore { member: String },
    /// One instance considered by automatic rebalancing (7.0+, `cluster.rebalance.*`).
    Rebalance { project: String, name: String },
}

/// The body of `POST /1.0/instances` (`api.InstancesPost`), the fields placement reads.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CreateOperation {
    pub project: String,
    pub name: String,
    /// `""`, a member, or `@group`.
    #[serde(default)]
    pub target: String,
    /// `container` (the default) or `virtual-machine`.
    #[serde(default, rename = "type", deserialize_with = "empty_as_none")]
    pub instance_type: Option<String>,
    /// The cloud instance-type shorthand (`incus create --type c2-m4`), merged into `config`.
    #[serde(
        default,
        rename = "instance_type",
        skip_serializing_if = "Option::is_none",
        deserialize_with = "empty_as_none"
    )]
    pub cloud_instance_type: Option<String>,
    /// `None`: the image's or copied instance's profiles, else `default`. `Some([])`: none.
    #[serde(default)]
    pub profiles: Option<Vec<String>>,
    #[serde(default)]
    pub config: Config,
    /// The instance's own devices, each replacing a profile device of the same name whole
    /// (`incus create -d root,size=…` sends the profile's device with the key overridden).
    #[serde(default, skip_serializing_if = "Devices::is_empty")]
    pub devices: Devices,
    #[serde(default, skip_serializing_if = "is_false")]
    pub ephemeral: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// The architecture the request names (`api.InstancesPost.architecture`); Incus only uses
    /// it for `none` sources, image creates take the image's.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub architecture: String,
    #[serde(default)]
    pub source: CreateSource,
    /// The member that receives the request (where the scriptlet runs); default: the member
    /// the snapshot was taken from (also for `""`).
    #[serde(default, deserialize_with = "empty_as_none")]
    pub via: Option<String>,
}

/// The body of a move.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MoveOperation {
    pub project: String,
    pub name: String,
    /// The project to move into. Absent, `""` and `project` itself all mean the same project,
    /// as `incus move NAME --target M` without `--target-project`; `""` reads as absent.
    #[serde(default, deserialize_with = "empty_as_none")]
    pub target_project: Option<String>,
    #[serde(default)]
    pub target: String,
}

impl MoveOperation {
    /// The project the instance ends up in.
    pub fn destination_project(&self) -> &str {
        match self.target_project.as_deref() {
            None | Some("") => &self.project,
            Some(project) => project,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    Image,
    /// An empty instance (`incus create --empty`); also what an absent source means here.
    #[default]
    None,
    Copy,
}

impl SourceKind {
    /// `request.source.type`.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Image => "image",
            SourceKind::None => "none",
            SourceKind::Copy => "copy",
        }
    }
}

/// `api.InstanceSource`, the fields placement reads.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CreateSource {
    #[serde(default, rename = "type")]
    pub kind: SourceKind,
    /// For `image`: the image alias (the same as `alias`, kept for older operations); for
    /// `copy`: the instance copied.
    #[serde(default)]
    pub source: Option<String>,
    /// The image alias, resolved in the project's image project.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// A fingerprint or a unique prefix of one; it wins over `alias`, as in Incus. The
    /// `incus` command sends the full fingerprint (and no alias) for a local image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// The project of the instance copied; absent or `""`: the new instance's project.
    #[serde(default, deserialize_with = "empty_as_none")]
    pub project: Option<String>,
}

impl CreateSource {
    /// The alias of an image source: `alias`, else the older `source`.
    pub fn image_alias(&self) -> Option<&str> {
        self.alias
            .as_deref()
            .or(self.source.as_deref())
            .filter(|alias| !alias.is_empty())
    }

    pub fn image_fingerprint(&self) -> Option<&str> {
        self.fingerprint.as_deref().filter(|f| !f.is_empty())
    }
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// A field whose `""` means the same as its absence (its default), as Incus reads it.
fn empty_as_none<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    let value = Option::<String>::deserialize(deserializer)?;
    Ok(value.filter(|text| !text.is_empty()))
}
