//! Incus's `CheckTarget`: what a request's `?target=` points at, and whether the project may
//! use it.

use crate::model::Project;
use crate::Snapshot;

/// Where a request's `?target=` points, after `CheckTarget`.
pub(super) enum Target {
    Any,
    Member(String),
    Group(String),
}

/// A member or `@group` target must exist and, in a restricted project, be allowed by
/// `restricted.cluster.groups`.
pub(super) fn check_target(state: &Snapshot, project: &Project, target: &str) -> Result<Target, String> {
    let restrictions = project.restrictions();
    let limited = restrictions.restricted && !restrictions.cluster_groups.is_empty();
    if target.is_empty() {
        return Ok(Target::Any);
    }
    if let Some(group) = target.strip_prefix('@') {
        if !state.cluster_groups.iter().any(|g| g.name == group) {
            return Err(format!("Cluster group not found: {group}"));
        }
        if limited && !restrictions.cluster_groups.iter().any(|g| g == group) {
            return Err(format!(
                "Project isn't allowed to use this cluster group: {group:?}"
            ));
        }
        return Ok(Target::Group(group.to_owned()));
    }
    let Some(member) = state.member(target) else {
        return Err(format!("Cluster member not found: {target}"));
    };
    if limited
        && !member
            .groups
            .iter()
            .any(|g| restrictions.cluster_groups.contains(g))
    {
        return Err(format!(
            "Project isn't allowed to use this cluster member: {target:?}"
        ));
    }
    Ok(Target::Member(target.to_owned()))
}
