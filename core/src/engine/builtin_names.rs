//! The names a placement scriptlet can use without defining them: Incus's 11 placement
//! builtins and go.starlark.net's universe. Its own module so that the builtins and the
//! dialect rules both use it without depending on each other.

use super::diagnostic::{Diagnostic, ErrorKind};

/// The names Incus predeclares for placement scriptlets (`load/load.go`).
pub const BUILTIN_NAMES: [&str; 11] = [
    "log_info",
    "log_warn",
    "log_error",
    "set_target",
    "get_cluster_member_resources",
    "get_cluster_member_state",
    "get_instance_resources",
    "get_instances",
    "get_instances_count",
    "get_cluster_members",
    "get_project",
];

/// go.starlark.net's universe: the only names besides the builtins a scriptlet may use
/// (`set` only where the version allows it).
pub const GO_UNIVERSE: [&str; 33] = [
    "None",
    "True",
    "False",
    "abs",
    "all",
    "any",
    "bool",
    "bytes",
    "chr",
    "dict",
    "dir",
    "enumerate",
    "fail",
    "float",
    "getattr",
    "hasattr",
    "hash",
    "int",
    "len",
    "list",
    "max",
    "min",
    "ord",
    "print",
    "range",
    "repr",
    "reversed",
    "set",
    "sorted",
    "str",
    "tuple",
    "type",
    "zip",
];

/// A builtin or universe name.
pub fn is_known(name: &str) -> bool {
    BUILTIN_NAMES.contains(&name) || GO_UNIVERSE.contains(&name)
}

/// Incus's message for a builtin used before the placement call binds it (validation runs
/// the top level with no builtins bound).
pub fn uninitialized(name: &str) -> Diagnostic {
    Diagnostic::error(
        ErrorKind::Validation,
        format!("predeclared variable {name} is uninitialized"),
    )
}
