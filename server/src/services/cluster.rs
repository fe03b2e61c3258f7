//! The Cluster page's data: one snapshot, as [`ClusterView`].

use berth_app::types::{Capacity, ClusterView, CpuLoad, GroupView, MemberView, ProjectView, SnapshotSummary};
use berth_core::model::SchedulerMode;
use berth_core::Snapshot;

use crate::db::{SnapshotRow, Store};
use crate::error::AppError;

/// The view of a snapshot: per-member usage over all its instances, derived off the async
/// runtime ([`crate::cpu`]; the snapshot is parsed there too, by the store).
pub async fn cluster_view(store: &Store, snapshot_id: Option<i64>) -> Result<ClusterView, AppError> {
    let (snapshot, history, index) = chosen_snapshot(store, snapshot_id).await?;
    Ok(crate::cpu::run(move || view_of(&snapshot, &history[index], &history)).await)
}

/// The snapshot asked for (`None`: the newest), parsed, with the history of stored snapshots
/// and its place in it.
pub(super) async fn chosen_snapshot(
    store: &Store,
    snapshot_id: Option<i64>,
) -> Result<(Snapshot, Vec<SnapshotRow>, usize), AppError> {
    let history = store.list_snapshots().await?;
    let index = match snapshot_id {
        Some(id) => history.iter().position(|row| row.id == id),
        None => (!history.is_empty()).then_some(0),
    }
    .ok_or_else(|| match snapshot_id {
        Some(id) => AppError::NotFound(format!("there is no snapshot {id}")),
        None => AppError::NotFound(
            "no snapshot is stored yet: upload or capture one, or start berth with --demo".into(),
        ),
    })?;
    let id = history[index].id;
    let snapshot = store
        .load_snapshot(id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("there is no snapshot {id}")))?;
    Ok((snapshot, history, index))
}

pub(super) fn summary_of(row: &SnapshotRow) -> SnapshotSummary {
    SnapshotSummary {
        id: row.id,
        name: row.name.clone(),
        source: row.source_kind.clone(),
        captured_at: row.captured_at.clone(),
        incus_version: row.incus_version.clone(),
        short_hash: row.content_hash.chars().take(12).collect(),
        member_count: row.member_count as usize,
        instance_count: row.instance_count as usize,
    }
}

fn view_of(snapshot: &Snapshot, row: &SnapshotRow, history: &[SnapshotRow]) -> ClusterView {
    ClusterView {
        snapshot: summary_of(row),
        history: history.iter().map(summary_of).collect(),
        groups: snapshot
            .cluster_groups
            .iter()
            .map(|group| GroupView {
                name: group.name.clone(),
                description: group.description.clone(),
                members: group.members.clone(),
            })
            .collect(),
        members: snapshot
            .members
            .iter()
            .map(|member| {
                let usage = snapshot.member_usage(member);
                MemberView {
                    name: member.server_name.clone(),
                    status: member.status.to_string(),
                    message: member.message.clone(),
                    architecture: member.architecture.clone(),
                    roles: member.roles.clone(),
                    groups: member.groups.clone(),
                    failure_domain: member.failure_domain.clone(),
                    scheduler: match member.scheduler() {
                        SchedulerMode::All => "all",
                        SchedulerMode::Manual => "manual",
                        SchedulerMode::Group => "group",
                    }
                    .into(),
                    instances: usage.instances,
                    running: usage.running,
                    pending_creates: usage.pending_creates,
                    cpu: usage
                        .load_1m
                        .zip(usage.cpu_threads)
                        .map(|(load_1m, threads)| CpuLoad { load_1m, threads }),
                    memory: usage
                        .memory_used
                        .zip(usage.memory_total)
                        .map(|(used, total)| Capacity { used, total }),
                    disk: usage
                        .disk_used
                        .zip(usage.disk_total)
                        .map(|(used, total)| Capacity { used, total }),
                }
            })
            .collect(),
        projects: snapshot
            .projects
            .iter()
            .map(|project| {
                let restrictions = project.restrictions();
                ProjectView {
                    name: project.name.clone(),
                    description: project.description.clone(),
                    instances: snapshot
                        .instances
                        .iter()
                        .filter(|i| i.project == project.name)
                        .count(),
                    restricted: restrictions.restricted,
                    cluster_groups: restrictions.cluster_groups,
                    cluster_target: restrictions.cluster_target,
                    own_profiles: restrictions.own_profiles,
                    own_images: restrictions.own_images,
                }
            })
            .collect(),
        capture_errors: snapshot
            .capture_errors
            .iter()
            .map(|error| format!("{} → {} {}", error.request, error.status_code, error.error))
            .collect(),
    }
}
