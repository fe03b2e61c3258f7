//! `GET /1.0/images?recursion=1&all-projects=true`: what a create from an image resolves its
//! `source` against, and where the architecture of a new instance comes from.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::nullable::null_as_default;

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Image {
    pub fingerprint: String,
    /// The project the image belongs to (`all-projects=true` listings name it).
    pub project: String,
    #[serde(deserialize_with = "null_as_default")]
    pub aliases: Vec<ImageAlias>,
    pub architecture: String,
    /// `container` or `virtual-machine`.
    #[serde(rename = "type")]
    pub image_type: String,
    pub public: bool,
    #[serde(deserialize_with = "null_as_default")]
    pub properties: BTreeMap<String, String>,
    pub size: u64,
    pub created_at: String,
    /// Profiles a create from this image gets when its request names none (`instancesPost`).
    #[serde(deserialize_with = "null_as_default")]
    pub profiles: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ImageAlias {
    pub name: String,
    pub description: String,
}
