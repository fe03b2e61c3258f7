//! The `request` Incus builds for each reason (`incus-placement.md` §1.3), for instances that
//! exist; a new instance's request is built by `create`.

use super::BehaviourProfile;
use crate::engine::PlacementRequest;
use crate::model::{expand_profiles, Config, Devices, Instance};
use crate::Snapshot;

/// Config and devices expanded with `profiles` looked up in `profile_project`, then the
/// instance's own keys on top; a missing profile is Incus's error.
pub(super) fn expand(
    state: &Snapshot,
    profile_project: &str,
    profiles: &[String],
    config: &Config,
    devices: &Devices,
) -> Result<(Config, Devices), String> {
    expand_profiles(&state.profiles, profile_project, profiles, config, devices).map_err(|e| e.to_string())
}

/// The relocation request as the profile fills it: type and architecture empty; from P3 the
/// local config and devices expanded with the target project's same-named profiles (looked
/// up in the target project literally, not its profile project).
pub(crate) fn relocation_request(
    profile: BehaviourProfile,
    state: &Snapshot,
    instance: &Instance,
    request_project: &str,
    target_project: &str,
) -> Result<PlacementRequest, String> {
    let (config, devices, profiles) = if profile.relocation_expands_target_profiles() {
        let (config, devices) = expand(
            state,
            target_project,
            &instance.profiles,
            &instance.config,
            &instance.devices,
        )?;
        (config, devices, instance.profiles.clone())
    } else {
        (
            instance.expanded_config.clone(),
            instance.expanded_devices.clone(),
            Vec::new(),
        )
    };
    Ok(PlacementRequest {
        reason: "relocation".into(),
        project: request_project.to_owned(),
        name: instance.name.clone(),
        config,
        devices,
        profiles,
        ..PlacementRequest::default()
    })
}

/// The request Incus builds for an instance it moves by itself (evacuation, rebalance): its
/// real type and architecture, expanded config and devices.
pub(crate) fn existing_instance_request(instance: &Instance, reason: &str) -> PlacementRequest {
    PlacementRequest {
        reason: reason.into(),
        project: instance.project.clone(),
        name: instance.name.clone(),
        instance_type: instance.instance_type.clone(),
        architecture: instance.architecture.clone(),
        config: instance.expanded_config.clone(),
        devices: instance.expanded_devices.clone(),
        profiles: instance.profiles.clone(),
        ..PlacementRequest::default()
    }
}

/// The architecture filter for an existing instance: its own, when known.
pub(super) fn architectures_of(instance: &Instance) -> Option<Vec<String>> {
    (!instance.architecture.is_empty()).then(|| vec![instance.architecture.clone()])
}
