//! The fixed shape of the demo cluster: its members, groups, projects and profiles.
//!
//! Chosen so that every candidate rule of Incus has a member or project to act on:
//! an evacuated member, an offline one, a `scheduler.instance=manual` one, a
//! `scheduler.instance=group` one, an `aarch64` one; a `restricted=true` project with
//! `restricted.cluster.groups` and `restricted.cluster.target=block`, a project with
//! `restricted.cluster.groups` but not `restricted`, and one with `features.profiles=false`.

pub(super) struct MemberSpec {
    pub name: &'static str,
    pub rack: &'static str,
    pub extra_groups: &'static [&'static str],
    pub architecture: &'static str,
    pub threads: u64,
    pub memory_gib: u64,
    pub disk_gib: u64,
    pub status: &'static str,
    pub message: &'static str,
    pub scheduler: Option<&'static str>,
    pub roles: &'static [&'static str],
    pub address: &'static str,
    pub cpu_model: &'static str,
}

const ONLINE: &str = "Online";
const FULLY: &str = "Fully operational";
const EPYC: &str = "AMD EPYC 7543 32-Core Processor";
const XEON: &str = "Intel(R) Xeon(R) Gold 6342 CPU @ 2.80GHz";
const XEON_D: &str = "Intel(R) Xeon(R) D-2146NT CPU @ 2.30GHz";
const ALTRA: &str = "Ampere(R) Altra(R) Processor Q80-30";

/// The hardware of each rack; members override what differs.
const RACK_A: MemberSpec = MemberSpec {
    name: "",
    rack: "rack-a",
    extra_groups: &[],
    architecture: "x86_64",
    threads: 64,
    memory_gib: 512,
    disk_gib: 7680,
    status: ONLINE,
    message: FULLY,
    scheduler: None,
    roles: &[],
    address: "",
    cpu_model: EPYC,
};
const RACK_B: MemberSpec = MemberSpec {
    rack: "rack-b",
    threads: 48,
    memory_gib: 384,
    disk_gib: 3840,
    cpu_model: XEON,
    ..RACK_A
};
const EDGE: MemberSpec = MemberSpec {
    rack: "edge",
    threads: 16,
    memory_gib: 64,
    disk_gib: 960,
    cpu_model: XEON_D,
    ..RACK_A
};

pub(super) const MEMBERS: &[MemberSpec] = &[
    MemberSpec {
        name: "hv-a01",
        address: "192.0.2.11",
        extra_groups: &["nvme"],
        roles: &["database-leader", "database"],
        ..RACK_A
    },
    MemberSpec {
        name: "hv-a02",
        address: "192.0.2.12",
        extra_groups: &["nvme"],
        roles: &["database"],
        ..RACK_A
    },
    MemberSpec {
        name: "hv-a03",
        address: "192.0.2.13",
        status: "Evacuated",
        message: "Unavailable due to maintenance",
        ..RACK_A
    },
    MemberSpec {
        name: "hv-a04",
        address: "192.0.2.14",
        ..RACK_A
    },
    MemberSpec {
        name: "hv-a05",
        address: "192.0.2.15",
        memory_gib: 384,
        ..RACK_A
    },
    MemberSpec {
        name: "hv-b01",
        address: "192.0.2.21",
        extra_groups: &["nvme"],
        roles: &["database"],
        ..RACK_B
    },
    MemberSpec {
        name: "hv-b02",
        address: "192.0.2.22",
        extra_groups: &["nvme"],
        roles: &["database-standby"],
        ..RACK_B
    },
    MemberSpec {
        name: "hv-b03",
        address: "192.0.2.23",
        ..RACK_B
    },
    MemberSpec {
        name: "hv-b04",
        address: "192.0.2.24",
        status: "Offline",
        message: "No heartbeat for 1m47.203s (2026-11-20 08:58:13.512 +0000 UTC)",
        ..RACK_B
    },
    MemberSpec {
        name: "hv-b05",
        address: "192.0.2.25",
        memory_gib: 256,
        scheduler: Some("manual"),
        ..RACK_B
    },
    MemberSpec {
        name: "hv-e01",
        address: "192.0.2.31",
        roles: &["database-standby"],
        ..EDGE
    },
    MemberSpec {
        name: "hv-e02",
        address: "192.0.2.32",
        ..EDGE
    },
    MemberSpec {
        name: "hv-e03",
        address: "192.0.2.33",
        scheduler: Some("group"),
        ..EDGE
    },
    MemberSpec {
        name: "hv-e04",
        address: "192.0.2.34",
        architecture: "aarch64",
        threads: 80,
        memory_gib: 256,
        disk_gib: 1920,
        cpu_model: ALTRA,
        ..EDGE
    },
];

pub(super) struct GroupSpec {
    pub name: &'static str,
    pub description: &'static str,
}

pub(super) const GROUPS: &[GroupSpec] = &[
    GroupSpec {
        name: "default",
        description: "Default cluster group",
    },
    GroupSpec {
        name: "rack-a",
        description: "Rack A: general purpose (EPYC, 512 GiB)",
    },
    GroupSpec {
        name: "rack-b",
        description: "Rack B: CI and batch (Xeon, 384 GiB)",
    },
    GroupSpec {
        name: "edge",
        description: "Edge servers, including the arm64 builder",
    },
    GroupSpec {
        name: "nvme",
        description: "Members with local NVMe storage",
    },
];

pub(super) struct ProjectSpec {
    pub name: &'static str,
    pub description: &'static str,
    pub config: &'static [(&'static str, &'static str)],
    pub instances: usize,
    pub apps: &'static [&'static str],
    pub teams: &'static [&'static str],
    /// Profiles instances may add after `default`, if the project has them.
    pub extra_profiles: &'static [&'static str],
}

pub(super) const PROJECTS: &[ProjectSpec] = &[
    ProjectSpec {
        name: "default",
        description: "Default Incus project",
        config: &[
            ("features.images", "true"),
            ("features.networks", "true"),
            ("features.profiles", "true"),
            ("features.storage.buckets", "true"),
            ("features.storage.volumes", "true"),
        ],
        instances: 100,
        apps: &[
            "dns",
            "ntp",
            "monitoring",
            "logging",
            "bastion",
            "ldap",
            "proxy",
            "arm-builder",
        ],
        teams: &["infra", "ops"],
        extra_profiles: &["small", "large"],
    },
    ProjectSpec {
        name: "web",
        description: "Customer-facing web services",
        config: &[
            ("features.images", "true"),
            ("features.profiles", "true"),
            ("features.storage.volumes", "true"),
            ("limits.instances", "150"),
            ("user.owner", "team-web"),
        ],
        instances: 100,
        apps: &["frontend", "api", "worker", "cache", "search"],
        teams: &["web"],
        extra_profiles: &["web-app"],
    },
    ProjectSpec {
        name: "ci",
        description: "CI runners: restricted to rack B",
        config: &[
            ("features.images", "false"),
            ("features.profiles", "true"),
            ("restricted", "true"),
            ("restricted.cluster.groups", "rack-b"),
            ("restricted.cluster.target", "block"),
            ("restricted.containers.nesting", "allow"),
            ("limits.cpu", "400"),
        ],
        instances: 55,
        apps: &["runner", "builder", "artifact-cache"],
        teams: &["release", "qa"],
        extra_profiles: &[],
    },
    ProjectSpec {
        name: "legacy",
        description: "Old workloads sharing the default project's profiles and images",
        config: &[("features.images", "false"), ("features.profiles", "false")],
        instances: 25,
        apps: &["erp", "intranet", "fileshare"],
        teams: &["it"],
        extra_profiles: &["small"],
    },
    ProjectSpec {
        name: "data",
        description: "Databases and pipelines, kept on rack A and NVMe members",
        config: &[
            ("features.images", "false"),
            ("features.profiles", "true"),
            ("restricted.cluster.groups", "rack-a, nvme"),
        ],
        instances: 40,
        apps: &["postgres", "kafka", "clickhouse", "etl"],
        teams: &["data"],
        extra_profiles: &["db"],
    },
];

pub(super) struct ProfileSpec {
    pub project: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub config: &'static [(&'static str, &'static str)],
    /// Whether it carries the root disk and NIC every instance needs.
    pub base_devices: bool,
}

pub(super) const PROFILES: &[ProfileSpec] = &[
    ProfileSpec {
        project: "default",
        name: "default",
        description: "Default Incus profile",
        config: &[],
        base_devices: true,
    },
    ProfileSpec {
        project: "default",
        name: "small",
        description: "1 CPU, 1 GiB",
        config: &[("limits.cpu", "1"), ("limits.memory", "1GiB")],
        base_devices: false,
    },
    ProfileSpec {
        project: "default",
        name: "large",
        description: "8 CPUs, 32 GiB",
        config: &[("limits.cpu", "8"), ("limits.memory", "32GiB")],
        base_devices: false,
    },
    ProfileSpec {
        project: "web",
        name: "default",
        description: "Default Incus profile for project web",
        config: &[],
        base_devices: true,
    },
    ProfileSpec {
        project: "web",
        name: "web-app",
        description: "Web application defaults",
        config: &[
            ("limits.cpu", "2"),
            ("limits.memory", "4GiB"),
            ("user.monitoring", "prometheus"),
        ],
        base_devices: false,
    },
    ProfileSpec {
        project: "ci",
        name: "default",
        description: "Default Incus profile for project ci",
        config: &[
            ("limits.cpu", "4"),
            ("limits.memory", "8GiB"),
            ("security.nesting", "true"),
        ],
        base_devices: true,
    },
    ProfileSpec {
        project: "data",
        name: "default",
        description: "Default Incus profile for project data",
        config: &[],
        base_devices: true,
    },
    ProfileSpec {
        project: "data",
        name: "db",
        description: "Database servers",
        config: &[
            ("limits.cpu", "8"),
            ("limits.memory", "64GiB"),
            ("user.backup", "nightly"),
        ],
        base_devices: false,
    },
];

/// Incus's API extensions relevant to placement and moves, as a 6.0.4 server lists them
/// (a subset of its full list, in its order).
pub(super) const API_EXTENSIONS: &[&str] = &[
    "storage_zfs_remove_snapshots",
    "container_host_shutdown_timeout",
    "clustering",
    "clustering_join",
    "projects",
    "resources",
    "clustering_config",
    "clustering_architecture",
    "resources_system",
    "cluster_internal_copy",
    "clustering_groups",
    "clustering_evacuation",
    "projects_restricted_cluster_target",
    "cluster_member_state",
    "instance_all_projects",
    "clustering_evacuation_live",
    "instance_allow_inconsistent_copy",
    "instance_project_move",
    "operation_wait",
    "instance_pool_move",
    "certificate_token",
    "clustering_evacuation_mode",
    "instance_move_config",
    "instances_placement_scriptlet",
    "profiles_all_projects",
    "instances_scriptlet_get_instances",
    "instances_scriptlet_get_cluster_members",
    "instances_scriptlet_get_project",
    "clustering_evacuation_stop_options",
    "instances_scriptlet_get_instances_count",
    "auth_tls_jwt",
    "oidc",
    "authorization_scriptlet",
];

pub(super) struct ImageSpec {
    /// Projects holding a copy; a project without `features.images` uses `default`'s.
    pub projects: &'static [&'static str],
    pub aliases: &'static [&'static str],
    pub os: &'static str,
    pub release: &'static str,
    pub architecture: &'static str,
    /// `container` or `virtual-machine`.
    pub image_type: &'static str,
    pub size_mib: u64,
}

/// The images the demo's projects create from: `default` (also serving `ci`, `legacy` and
/// `data`, which have `features.images=false`) and `web` (which has its own).
pub(super) const IMAGES: &[ImageSpec] = &[
    ImageSpec {
        projects: &["default", "web"],
        aliases: &["debian/12", "debian/bookworm"],
        os: "Debian",
        release: "12",
        architecture: "x86_64",
        image_type: "container",
        size_mib: 92,
    },
    ImageSpec {
        projects: &["default"],
        aliases: &["debian/12/arm64"],
        os: "Debian",
        release: "12",
        architecture: "aarch64",
        image_type: "container",
        size_mib: 88,
    },
    ImageSpec {
        projects: &["default"],
        aliases: &["debian/12/vm"],
        os: "Debian",
        release: "12",
        architecture: "x86_64",
        image_type: "virtual-machine",
        size_mib: 412,
    },
    ImageSpec {
        projects: &["default"],
        aliases: &["ubuntu/24.04"],
        os: "Ubuntu",
        release: "24.04",
        architecture: "x86_64",
        image_type: "container",
        size_mib: 128,
    },
    ImageSpec {
        projects: &["default"],
        aliases: &["ubuntu/24.04/arm64"],
        os: "Ubuntu",
        release: "24.04",
        architecture: "aarch64",
        image_type: "container",
        size_mib: 121,
    },
    ImageSpec {
        projects: &["web"],
        aliases: &["alpine/3.22"],
        os: "Alpine",
        release: "3.22",
        architecture: "x86_64",
        image_type: "container",
        size_mib: 3,
    },
];
