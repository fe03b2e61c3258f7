//! The snapshot's objects as Incus marshals them for a scriptlet: Go type names, Go field
//! order (embedded structs flattened first), every field present.

use crate::engine::go_value::{from_json, GoObject, GoValue};
use crate::engine::request::PlacementRequest;
use crate::engine::version::IncusVersion;
use crate::model::{ClusterMember, ClusterMemberState, Instance, Project, Resources};

pub fn request(request: &PlacementRequest, version: IncusVersion) -> GoValue {
    let source = &request.source;
    let source = GoObject::new("InstanceSource")
        .field("type", source.source_type.as_str())
        .field("certificate", source.certificate.as_str())
        .field("alias", source.alias.as_str())
        .field("fingerprint", source.fingerprint.as_str())
        .field("properties", GoValue::map(&source.properties))
        .field("server", source.server.as_str())
        .field("secret", source.secret.as_str())
        .field("protocol", source.protocol.as_str())
        .field("base-image", source.base_image.as_str())
        .field("mode", source.mode.as_str())
        .field("operation", source.operation.as_str())
        .field("secrets", GoValue::map(&source.secrets))
        .field("source", source.source.as_str())
        .field("live", source.live)
        .field("instance_only", source.instance_only)
        .field("refresh", source.refresh)
        .field("refresh_exclude_older", source.refresh_exclude_older)
        .field("project", source.project.as_str())
        .field("allow_inconsistent", source.allow_inconsistent);
    let mut object = GoObject::new("InstancePlacement")
        .field("architecture", request.architecture.as_str())
        .field("config", GoValue::map(&request.config))
        .field("devices", devices(&request.devices))
        .field("ephemeral", request.ephemeral)
        .field("profiles", GoValue::strings(&request.profiles))
        .field("restore", request.restore.as_str())
        .field("stateful", request.stateful)
        .field("description", request.description.as_str())
        .field("name", request.name.as_str())
        .field("source", source)
        .field("instance_type", request.cloud_instance_type.as_str())
        .field("type", request.instance_type.as_str())
        .field("start", request.start);
    if version.has_disk_only() {
        object = object.field("disk_only", request.disk_only);
    }
    object
        .field("reason", request.reason.as_str())
        .field("project", request.project.as_str())
        .into_value()
}

pub fn member(member: &ClusterMember) -> GoValue {
    GoObject::new("ClusterMember")
        .field("roles", GoValue::strings(&member.roles))
        .field("failure_domain", member.failure_domain.as_str())
        .field("description", member.description.as_str())
        .field("config", GoValue::map(&member.config))
        .field("groups", GoValue::strings(&member.groups))
        .field("server_name", member.server_name.as_str())
        .field("url", member.url.as_str())
        .field("database", member.database)
        .field("status", member.status.as_str())
        .field("message", member.message.as_str())
        .field("architecture", member.architecture.as_str())
        .into_value()
}

/// An instance as `get_instances` returns it: from the database, so without runtime status,
/// and with `time.Time` fields as empty `Time` objects.
pub fn instance(instance: &Instance) -> GoValue {
    GoObject::new("Instance")
        .field("architecture", instance.architecture.as_str())
        .field("config", GoValue::map(&instance.config))
        .field("devices", devices(&instance.devices))
        .field("ephemeral", instance.ephemeral)
        .field("profiles", GoValue::strings(&instance.profiles))
        .field("stateful", instance.stateful)
        .field("description", instance.description.as_str())
        .field("created_at", GoObject::new("Time"))
        .field("expanded_config", GoValue::map(&instance.expanded_config))
        .field("expanded_devices", devices(&instance.expanded_devices))
        .field("name", instance.name.as_str())
        .field("status", "")
        .field("status_code", 0u64)
        .field("last_used_at", GoObject::new("Time"))
        .field("location", instance.location.as_str())
        .field("type", instance.instance_type.as_str())
        .field("project", instance.project.as_str())
        .into_value()
}

pub fn project(project: &Project) -> GoValue {
    GoObject::new("Project")
        .field("config", GoValue::map(&project.config))
        .field("description", project.description.as_str())
        .field("name", project.name.as_str())
        .field("used_by", GoValue::strings(&project.used_by))
        .into_value()
}

pub fn member_state(state: &ClusterMemberState) -> GoValue {
    let json = serde_json::to_value(state).expect("member state serializes");
    from_json(&json, "", &|path| match path {
        "" => Some("ClusterMemberState"),
        "sysinfo" => Some("ClusterMemberSysInfo"),
        "storage_pools" => None,
        "storage_pools{}" => Some("StoragePoolState"),
        "storage_pools{}.space" => Some("ResourcesStoragePoolSpace"),
        "storage_pools{}.inodes" => Some("ResourcesStoragePoolInodes"),
        _ => Some("Object"),
    })
}

pub fn resources(resources: &Resources) -> GoValue {
    let json = serde_json::to_value(resources).expect("resources serialize");
    from_json(&json, "", &resource_type)
}

pub fn instance_resources(cpu_cores: u64, memory_size: u64, root_disk_size: u64) -> GoValue {
    GoObject::new("InstanceResources")
        .field("cpu_cores", cpu_cores)
        .field("memory_size", memory_size)
        .field("root_disk_size", root_disk_size)
        .into_value()
}

fn devices(devices: &crate::model::Devices) -> GoValue {
    GoValue::Map(
        devices
            .iter()
            .map(|(name, device)| (name.clone(), GoValue::map(device)))
            .collect(),
    )
}

/// Go type names of `api.Resources`' nested structs by JSON path.
fn resource_type(path: &str) -> Option<&'static str> {
    Some(match path {
        "" => "Resources",
        "cpu" => "ResourcesCPU",
        "cpu.sockets[]" => "ResourcesCPUSocket",
        "cpu.sockets[].cache[]" => "ResourcesCPUCache",
        "cpu.sockets[].cores[]" => "ResourcesCPUCore",
        "cpu.sockets[].cores[].threads[]" => "ResourcesCPUThread",
        "memory" => "ResourcesMemory",
        "memory.nodes[]" => "ResourcesMemoryNode",
        "gpu" => "ResourcesGPU",
        "gpu.cards[]" => "ResourcesGPUCard",
        "network" => "ResourcesNetwork",
        "network.cards[]" => "ResourcesNetworkCard",
        "storage" => "ResourcesStorage",
        "storage.disks[]" => "ResourcesStorageDisk",
        "storage.disks[].partitions[]" => "ResourcesStorageDiskPartition",
        "usb" => "ResourcesUSB",
        "usb.devices[]" => "ResourcesUSBDevice",
        "pci" => "ResourcesPCI",
        "pci.devices[]" => "ResourcesPCIDevice",
        "system" => "ResourcesSystem",
        "system.firmware" => "ResourcesSystemFirmware",
        "system.chassis" => "ResourcesSystemChassis",
        "system.motherboard" => "ResourcesSystemMotherboard",
        "load" => "ResourcesLoad",
        "serial" => "ResourcesSerial",
        "serial.devices[]" => "ResourcesSerialDevice",
        _ => "Object",
    })
}
