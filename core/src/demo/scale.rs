//! Scaled copies of the demo cluster, for measuring Berth on large clusters
//! (`berth snapshot demo --members N --instances M`, `scripts/scale-snapshots.sh`).
//!
//! A scaled copy reuses the demo's shapes rather than inventing new ones: member `i` is a
//! replica of demo member `i mod 14` (same rack, groups, architecture, scheduler mode and
//! status), instance `j` a replica of demo instance `j mod 320` placed on a replica of the
//! member its original runs on. So every instance still satisfies the candidate rules it was
//! placed under (architecture, project group restrictions, pinned groups, manual members),
//! and every rule still has members and projects to act on. Member memory varies between
//! replicas (½× to 2× the original, used memory scaled alike), so free memory differs from
//! member to member. Like the demo, the result depends only on its arguments.

use std::collections::BTreeMap;

use super::demo_snapshot;
use super::rng::DemoRng;
use crate::model::{ClusterMember, Instance};
use crate::snapshot::CaptureError;
use crate::Snapshot;

/// The demo cluster scaled to `members` members (at least the demo's 14) and `instances`
/// instances (any number; the first 320 are the demo's own when `instances` ≥ 320).
pub fn scaled(members: usize, instances: usize, seed: u64) -> Snapshot {
    let demo = demo_snapshot();
    let mut rng = DemoRng::new(seed);
    let templates = demo.members.len();
    let member_count = members.max(templates);

    // Replica `r` of template `t` is member `r * templates + t`; replica 0 keeps the demo's name.
    let replica_name = |template: &ClusterMember, replica: usize| {
        if replica == 0 {
            template.server_name.clone()
        } else {
            format!("{}-r{replica:02}", template.server_name)
        }
    };
    let replicas_of = |template: usize| (member_count - template).div_ceil(templates);

    let mut scaled_members = Vec::with_capacity(member_count);
    let mut member_state = BTreeMap::new();
    let mut member_resources = BTreeMap::new();
    let mut capture_errors = Vec::new();
    for index in 0..member_count {
        let (template, replica) = (index % templates, index / templates);
        let original = &demo.members[template];
        let mut member = original.clone();
        member.server_name = replica_name(original, replica);
        if replica > 0 {
            member.url = format!(
                "https://10.{}.{}.{}:8443",
                index / 62_500,
                index / 250 % 250,
                index % 250 + 1
            );
            // One leader and a few database members, as in the demo.
            member.roles.clear();
            member.database = false;
        }
        let memory_factor = if replica == 0 {
            1.0
        } else {
            *rng.pick(&[0.5, 1.0, 1.0, 1.5, 2.0])
        };
        if let Some(state) = demo.member_state.get(&original.server_name) {
            let mut state = state.clone();
            let used = state.sysinfo.total_ram - state.sysinfo.free_ram;
            state.sysinfo.total_ram = (state.sysinfo.total_ram as f64 * memory_factor) as u64;
            state.sysinfo.free_ram = state
                .sysinfo
                .total_ram
                .saturating_sub((used as f64 * memory_factor.min(1.0)) as u64);
            member_state.insert(member.server_name.clone(), state);
        }
        if let Some(resources) = demo.member_resources.get(&original.server_name) {
            let mut resources = resources.clone();
            let memory = &mut resources.memory;
            memory.total = (memory.total as f64 * memory_factor) as u64;
            memory.used = ((memory.used as f64 * memory_factor.min(1.0)) as u64).min(memory.total);
            member_resources.insert(member.server_name.clone(), resources);
        }
        for error in demo.capture_errors.iter().filter(|error| {
            error.request.contains(&format!("/{}/", original.server_name))
                || error.request.ends_with(&format!("={}", original.server_name))
        }) {
            capture_errors.push(CaptureError {
                request: error.request.replace(&original.server_name, &member.server_name),
                ..error.clone()
            });
        }
        scaled_members.push(member);
    }

    let template_of: BTreeMap<&str, usize> = demo
        .members
        .iter()
        .enumerate()
        .map(|(index, member)| (member.server_name.as_str(), index))
        .collect();
    let replica_location = |name: &str, replica: usize| {
        let template = template_of[name];
        replica_name(&demo.members[template], replica % replicas_of(template))
    };
    let mut scaled_instances = Vec::with_capacity(instances);
    for index in 0..instances {
        let (original, copy) = (
            &demo.instances[index % demo.instances.len()],
            index / demo.instances.len(),
        );
        let mut instance: Instance = original.clone();
        if copy > 0 {
            instance.name = format!("{}-c{copy:02}", original.name);
            let replica = rng.below(replicas_of(template_of[original.location.as_str()]) as u64) as usize;
            instance.location = replica_location(&original.location, replica);
            for config in [&mut instance.config, &mut instance.expanded_config] {
                if let Some(origin) = config.get_mut("volatile.evacuate.origin") {
                    *origin = replica_location(origin, replica);
                }
                if config.contains_key("volatile.uuid") {
                    config.insert("volatile.uuid".into(), rng.uuid());
                }
            }
        }
        scaled_instances.push(instance);
    }

    let mut cluster_groups = demo.cluster_groups.clone();
    for group in &mut cluster_groups {
        group.members = scaled_members
            .iter()
            .filter(|member| member.in_group(&group.name))
            .map(|member| member.server_name.clone())
            .collect();
    }
    let mut snapshot = demo;
    snapshot.source.name = format!("Demo cluster scaled to {member_count} members, {instances} instances");
    snapshot.members = scaled_members;
    snapshot.member_state = member_state;
    snapshot.member_resources = member_resources;
    snapshot.cluster_groups = cluster_groups;
    snapshot.instances = scaled_instances;
    snapshot.capture_errors = capture_errors;
    snapshot
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::MemberStatus;

    #[test]
    fn is_deterministic_and_valid() {
        let first = scaled(100, 5_000, 7);
        assert_eq!(first.content_hash(), scaled(100, 5_000, 7).content_hash());
        assert_ne!(first.content_hash(), scaled(100, 5_000, 8).content_hash());
        let reparsed = Snapshot::from_json(&first.to_json()).expect("a valid snapshot");
        assert_eq!(reparsed, first);
        assert_eq!(first.members.len(), 100);
        assert_eq!(first.instances.len(), 5_000);
    }

    #[test]
    fn keeps_the_demos_rules_and_varies_memory() {
        let snapshot = scaled(60, 2_000, 1);
        for instance in &snapshot.instances {
            let member = snapshot.member(&instance.location).unwrap();
            assert_eq!(member.architecture, instance.architecture, "{}", instance.name);
            let groups = snapshot
                .project(&instance.project)
                .unwrap()
                .restrictions()
                .cluster_groups;
            assert!(
                groups.is_empty() || member.groups.iter().any(|g| groups.contains(g)),
                "{}/{} on {}",
                instance.project,
                instance.name,
                member.server_name
            );
        }
        assert_eq!(snapshot.members.iter().filter(|m| m.is_leader()).count(), 1);
        let offline = snapshot
            .members
            .iter()
            .filter(|m| m.status == MemberStatus::Offline)
            .count();
        assert!(offline >= 4, "{offline}");
        assert_eq!(snapshot.capture_errors.len(), offline * 2);
        let totals: std::collections::BTreeSet<u64> = snapshot
            .member_resources
            .values()
            .map(|r| r.memory.total)
            .collect();
        assert!(totals.len() >= 6, "{totals:?}");
        for group in &snapshot.cluster_groups {
            assert!(!group.members.is_empty(), "{}", group.name);
        }
    }
}
