//! The Incus REST objects Berth reads, one module per kind of object.
//!
//! Field names and types follow Incus's JSON (`shared/api/*.go` upstream) so that a captured
//! response deserializes 1:1. Every field has a default: Incus omits some of them
//! (`omitempty`), older versions lack others, and a snapshot must still load. Every list and
//! map also reads `null` as empty ([`nullable`]): Go writes an empty slice or map that way.
//! Parts of a response that Berth does not interpret are kept as [`serde_json::Value`]
//! (for example most of `/1.0/resources`), so a capture round-trips without loss.

mod group;
mod image;
mod instance;
mod member;
pub mod nullable;
mod project;
mod server;

pub use group::ClusterGroup;
pub use image::{Image, ImageAlias};
pub use instance::{Instance, Operation, OperationsByStatus};
pub use member::{
    ClusterMember, ClusterMemberState, CpuResources, MemberStatus, MemoryResources, Resources, SchedulerMode,
    StoragePoolSpace, StoragePoolState, SysInfo,
};
pub use project::{expand_profiles, MissingProfile, Profile, Project, ProjectRestrictions};
pub use server::{Server, ServerEnvironment};

use std::collections::BTreeMap;

/// A `config` map as Incus sends it: string keys to string values, sorted by key.
pub type Config = BTreeMap<String, String>;

/// A `devices` map: device name to the device's own string map.
pub type Devices = BTreeMap<String, BTreeMap<String, String>>;
