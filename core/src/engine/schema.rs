//! A machine-readable description of what a scriptlet can use, for the editor's completion
//! and hover: the builtins (signature, documentation, availability per Incus version and API
//! extension) and the fields of `request`, candidate members and builtin results.

use serde::Serialize;

use super::version::IncusVersion;

#[derive(Debug, Clone, Serialize)]
pub struct CompletionSchema {
    pub incus_version: String,
    pub builtins: Vec<BuiltinDoc>,
    pub types: Vec<TypeDoc>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BuiltinDoc {
    pub name: &'static str,
    /// As written in a call, with Incus's positional order.
    pub signature: &'static str,
    pub returns: &'static str,
    pub doc: &'static str,
    /// The API extension that announces it, if any.
    pub api_extension: Option<&'static str>,
    /// Whether the chosen Incus version has it.
    pub available: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct TypeDoc {
    /// The Go type name, which `type()` returns.
    pub name: &'static str,
    pub doc: &'static str,
    pub fields: Vec<FieldDoc>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FieldDoc {
    pub name: &'static str,
    #[serde(rename = "type")]
    pub field_type: &'static str,
    pub doc: &'static str,
}

fn field(name: &'static str, field_type: &'static str, doc: &'static str) -> FieldDoc {
    FieldDoc {
        name,
        field_type,
        doc,
    }
}

pub fn schema(version: IncusVersion) -> CompletionSchema {
    let builtin = |name, signature, returns, doc, api_extension, available| BuiltinDoc {
        name,
        signature,
        returns,
        doc,
        api_extension,
        available,
    };
    let builtins = vec![
        builtin("log_info", "log_info(*messages)", "None", "Writes to the Incus log at info level. Arguments are joined with no separator; strings as they are, other values as their repr.", None, true),
        builtin("log_warn", "log_warn(*messages)", "None", "Like log_info, at warning level.", None, true),
        builtin("log_error", "log_error(*messages)", "None", "Like log_info, at error level.", None, true),
        builtin("set_target", "set_target(member_name)", "None", "Places the instance on this member, which must be one of candidate_members (an error otherwise since 6.0.3/6.7). Without a call, Incus uses its own choice.", None, true),
        builtin("get_cluster_member_resources", "get_cluster_member_resources(member_name)", "Resources", "The member's /1.0/resources. Only candidates and the member the scriptlet runs on; otherwise \"Invalid member name\" (a string before 6.0.5/6.12, an error since).", None, true),
        builtin("get_cluster_member_state", "get_cluster_member_state(member_name)", "ClusterMemberState", "The member's /1.0/cluster/members/NAME/state (sysinfo, storage pools). Same member restriction as get_cluster_member_resources.", Some("cluster_member_state"), true),
        builtin("get_instance_resources", "get_instance_resources()", "InstanceResources", "CPU cores, memory and root disk size the request asks for, from its config and devices. VM defaults apply only when request.type is \"virtual-machine\" (relocation requests have type \"\").", None, true),
        builtin("get_instances", "get_instances(project=None, location=None)", "list[Instance]", "Instances from the database, optionally of one project and/or member. Project first when positional. No runtime status (status is \"\").", Some("instances_scriptlet_get_instances"), true),
        builtin("get_instances_count", "get_instances_count(project=None, location=None, pending=False)", "int", "Number of instances; pending=True adds instance creations in progress and those finished in the last 5 s (Incus still counts them).", Some("instances_scriptlet_get_instances_count"), version.has_get_instances_count()),
        builtin("get_cluster_members", "get_cluster_members(group=None)", "list[ClusterMember]", "Members that take automatic placement (online, not scheduler.instance=manual; group-scheduled ones only when their group is named), optionally of one group.", Some("instances_scriptlet_get_cluster_members"), true),
        builtin("get_project", "get_project(name)", "Project", "A project with its config.", Some("instances_scriptlet_get_project"), true),
    ];
    let mut request_fields = vec![
        field(
            "reason",
            "string",
            "new, evacuation, relocation or rebalance (7.0+)",
        ),
        field(
            "project",
            "string",
            "The project the instance will belong to (the target project of a move).",
        ),
        field("name", "string", "Instance name (the current name on a move)."),
        field(
            "type",
            "string",
            "container, virtual-machine, or \"\" on relocation.",
        ),
        field(
            "architecture",
            "string",
            "Set only when an image is known; \"\" on relocation.",
        ),
        field(
            "config",
            "dict[string, string]",
            "Config expanded with the profiles.",
        ),
        field(
            "devices",
            "dict[string, dict[string, string]]",
            "Devices expanded with the profiles.",
        ),
        field("profiles", "list[string]", "Profile names."),
        field("ephemeral", "bool", ""),
        field("stateful", "bool", ""),
        field("description", "string", ""),
        field("restore", "string", ""),
        field("instance_type", "string", "Cloud instance type such as t1.micro."),
        field("start", "bool", ""),
        field(
            "source",
            "InstanceSource",
            "Where the instance comes from (image, copy, none).",
        ),
    ];
    if version.has_disk_only() {
        request_fields.push(field("disk_only", "bool", ""));
    }
    let types = vec![
        TypeDoc { name: "InstancePlacement", doc: "The `request` argument.", fields: request_fields },
        TypeDoc {
            name: "InstanceSource",
            doc: "request.source",
            fields: vec![
                field("type", "string", "image, copy, none, migration…"),
                field("alias", "string", ""),
                field("fingerprint", "string", ""),
                field("properties", "dict[string, string]", ""),
                field("server", "string", ""),
                field("protocol", "string", ""),
                field("source", "string", "Source instance of a copy."),
                field("project", "string", "Source project of a copy."),
                field("mode", "string", ""),
                field("live", "bool", ""),
                field("instance_only", "bool", ""),
                field("refresh", "bool", ""),
            ],
        },
        TypeDoc {
            name: "ClusterMember",
            doc: "An element of `candidate_members` or of get_cluster_members().",
            fields: vec![
                field("server_name", "string", "The member's name; pass it to set_target."),
                field("url", "string", ""),
                field("database", "bool", ""),
                field("status", "string", "Online, Offline, Evacuated, Evacuating, Restoring or Blocked."),
                field("message", "string", ""),
                field("architecture", "string", "e.g. x86_64, aarch64"),
                field("roles", "list[string]", ""),
                field("failure_domain", "string", ""),
                field("description", "string", ""),
                field("config", "dict[string, string]", "Member config, e.g. scheduler.instance, user.*"),
                field("groups", "list[string]", "Cluster groups."),
            ],
        },
        TypeDoc {
            name: "Resources",
            doc: "get_cluster_member_resources(); `load` is a keyword: use getattr(r, \"load\").",
            fields: vec![
                field("cpu", "ResourcesCPU", "cpu.total: number of threads"),
                field("memory", "ResourcesMemory", "memory.total and memory.used in bytes"),
                field("gpu", "ResourcesGPU", ""),
                field("network", "ResourcesNetwork", ""),
                field("storage", "ResourcesStorage", ""),
                field("usb", "ResourcesUSB", ""),
                field("pci", "ResourcesPCI", ""),
                field("system", "ResourcesSystem", ""),
                field("load", "ResourcesLoad", "Average1Min, Average5Min, Average10Min, Processes"),
            ],
        },
        TypeDoc {
            name: "ClusterMemberState",
            doc: "get_cluster_member_state()",
            fields: vec![
                field("sysinfo", "ClusterMemberSysInfo", "uptime, load_averages, total_ram, free_ram, shared_ram, buffered_ram, total_swap, free_swap, processes"),
                field("storage_pools", "dict[string, StoragePoolState]", "space.used/total, inodes.used/total per pool"),
            ],
        },
        TypeDoc {
            name: "InstanceResources",
            doc: "get_instance_resources()",
            fields: vec![
                field("cpu_cores", "int", ""),
                field("memory_size", "int", "bytes"),
                field("root_disk_size", "int", "bytes"),
            ],
        },
        TypeDoc {
            name: "Instance",
            doc: "An element of get_instances().",
            fields: vec![
                field("name", "string", ""),
                field("project", "string", ""),
                field("location", "string", "The member it is on."),
                field("type", "string", ""),
                field("architecture", "string", ""),
                field("config", "dict[string, string]", ""),
                field("devices", "dict[string, dict[string, string]]", ""),
                field("expanded_config", "dict[string, string]", ""),
                field("expanded_devices", "dict[string, dict[string, string]]", ""),
                field("profiles", "list[string]", ""),
                field("description", "string", ""),
                field("ephemeral", "bool", ""),
                field("stateful", "bool", ""),
                field("status", "string", "Always \"\": the database has no runtime status."),
                field("created_at", "Time", "An empty object upstream."),
            ],
        },
        TypeDoc {
            name: "Project",
            doc: "get_project()",
            fields: vec![
                field("name", "string", ""),
                field("description", "string", ""),
                field("config", "dict[string, string]", "e.g. restricted.cluster.groups"),
                field("used_by", "list[string]", ""),
            ],
        },
    ];
    CompletionSchema {
        incus_version: version.to_string(),
        builtins,
        types,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::BUILTIN_NAMES;

    #[test]
    fn documents_every_builtin_once() {
        let schema = schema(IncusVersion::DEFAULT);
        let names: Vec<_> = schema.builtins.iter().map(|b| b.name).collect();
        assert_eq!(names, BUILTIN_NAMES.to_vec());
    }

    #[test]
    fn availability_follows_the_version() {
        let old = schema("6.0.2".parse().unwrap());
        let count = old
            .builtins
            .iter()
            .find(|b| b.name == "get_instances_count")
            .unwrap();
        assert!(!count.available);
        let new = schema("6.0.5".parse().unwrap());
        let request = new.types.iter().find(|t| t.name == "InstancePlacement").unwrap();
        assert!(request.fields.iter().any(|f| f.name == "disk_only"));
    }
}
