//! Figures derived from a snapshot: how loaded each member is and how many instances it holds.
//!
//! Instance counts here are the ones Incus sorts candidates by: every instance located on the
//! member, whatever its project or status, plus pending creations.

use std::collections::BTreeMap;

use crate::model::ClusterMember;
use crate::Snapshot;

/// Load and capacity of one member. Fractions are `None` when the snapshot has no state or
/// resources for the member (it was offline during capture).
#[derive(Debug, Clone, PartialEq)]
pub struct MemberUsage {
    pub instances: usize,
    pub running: usize,
    pub pending_creates: usize,
    pub cpu_threads: Option<u64>,
    /// 1-minute load average.
    pub load_1m: Option<f64>,
    pub memory_used: Option<u64>,
    pub memory_total: Option<u64>,
    /// Summed over the member's storage pools.
    pub disk_used: Option<u64>,
    pub disk_total: Option<u64>,
}

impl MemberUsage {
    /// 1-minute load per CPU thread, capped at 1.
    pub fn cpu_fraction(&self) -> Option<f64> {
        match (self.load_1m, self.cpu_threads) {
            (Some(load), Some(threads)) if threads > 0 => Some((load / threads as f64).min(1.0)),
            _ => None,
        }
    }

    pub fn memory_fraction(&self) -> Option<f64> {
        fraction(self.memory_used, self.memory_total)
    }

    pub fn disk_fraction(&self) -> Option<f64> {
        fraction(self.disk_used, self.disk_total)
    }
}

fn fraction(used: Option<u64>, total: Option<u64>) -> Option<f64> {
    match (used, total) {
        (Some(used), Some(total)) if total > 0 => Some(used as f64 / total as f64),
        _ => None,
    }
}

impl Snapshot {
    /// Instances per member name (members without instances are absent).
    pub fn instance_counts(&self) -> BTreeMap<&str, usize> {
        let mut counts = BTreeMap::new();
        for instance in &self.instances {
            *counts.entry(instance.location.as_str()).or_default() += 1;
        }
        counts
    }

    pub fn member_usage(&self, member: &ClusterMember) -> MemberUsage {
        let name = member.server_name.as_str();
        let on_member = self.instances.iter().filter(|instance| instance.location == name);
        let (instances, running) = on_member.fold((0, 0), |(all, running), instance| {
            (all + 1, running + usize::from(instance.is_running()))
        });
        let pending_creates = self
            .operations
            .iter()
            .filter(|operation| operation.location == name && operation.is_pending_create())
            .count();
        let state = self.member_state.get(name);
        let resources = self.member_resources.get(name);
        let pools = state.map(|state| state.storage_pools.values());
        MemberUsage {
            instances,
            running,
            pending_creates,
            cpu_threads: resources.map(|r| r.cpu.total),
            load_1m: state.and_then(|s| s.sysinfo.load_averages.first().copied()),
            memory_used: resources.map(|r| r.memory.used),
            memory_total: resources.map(|r| r.memory.total),
            disk_used: pools.clone().map(|pools| pools.map(|pool| pool.space.used).sum()),
            disk_total: pools.map(|pools| pools.map(|pool| pool.space.total).sum()),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::demo::demo_snapshot;

    #[test]
    fn counts_add_up_to_all_instances() {
        let snapshot = demo_snapshot();
        let total: usize = snapshot.instance_counts().values().sum();
        assert_eq!(total, snapshot.instances.len());
        let by_usage: usize = snapshot
            .members
            .iter()
            .map(|m| snapshot.member_usage(m).instances)
            .sum();
        assert_eq!(by_usage, snapshot.instances.len());
    }

    #[test]
    fn an_offline_member_has_counts_but_no_figures() {
        let snapshot = demo_snapshot();
        let offline = snapshot
            .members
            .iter()
            .find(|m| m.status == crate::model::MemberStatus::Offline)
            .unwrap();
        let usage = snapshot.member_usage(offline);
        assert!(usage.instances > 0);
        assert_eq!(usage.memory_fraction(), None);
        assert_eq!(usage.cpu_fraction(), None);
    }

    #[test]
    fn online_members_have_fractions_between_zero_and_one() {
        let snapshot = demo_snapshot();
        for member in snapshot
            .members
            .iter()
            .filter(|m| m.status == crate::model::MemberStatus::Online)
        {
            let usage = snapshot.member_usage(member);
            for fraction in [
                usage.cpu_fraction(),
                usage.memory_fraction(),
                usage.disk_fraction(),
            ] {
                let fraction = fraction.expect("online members have state and resources");
                assert!(
                    (0.0..=1.0).contains(&fraction),
                    "{} {fraction}",
                    member.server_name
                );
            }
        }
    }
}
