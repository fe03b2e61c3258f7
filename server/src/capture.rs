//! Capturing a live cluster into a snapshot: every read of `incus-placement.md` §4.a, the
//! cluster-wide ones at once and the per-member ones in parallel with a bound. A member that
//! cannot answer (offline: its state and resources calls fail with 500) is recorded in
//! `capture_errors` instead of failing the capture. A member the cluster calls online is asked
//! again before its failure is recorded: right after another member goes offline, Incus may
//! answer a forwarded request with a passing 500 while the cluster rearranges its database roles.

use std::collections::BTreeMap;
use std::time::Duration;

use berth_core::model::{
    ClusterGroup, ClusterMember, ClusterMemberState, Image, Instance, MemberStatus, OperationsByStatus,
    Profile, Project, Resources, Server,
};
use berth_core::snapshot::{CaptureError, SnapshotSource};
use berth_core::{Snapshot, SnapshotError, SNAPSHOT_FORMAT};
use futures::stream::{self, StreamExt};

use crate::incus::{api_path, IncusClient, IncusError};

/// Per-member requests in flight at once.
const PARALLEL_MEMBER_REQUESTS: usize = 8;

/// Waits before asking an online member again; an offline member is asked once.
const ONLINE_MEMBER_RETRIES: [Duration; 2] = [Duration::from_millis(300), Duration::from_secs(1)];

#[derive(Debug, thiserror::Error)]
pub enum CaptureFailed {
    #[error(transparent)]
    Incus(#[from] IncusError),
    #[error("Incus at {0} is not a cluster; Berth reads clusters")]
    NotClustered(String),
    #[error(
        "the client certificate is restricted to the projects {}: a snapshot must see every project; \
         capture with an unrestricted certificate or over the unix socket",
        .0.join(", ")
    )]
    RestrictedCertificate(Vec<String>),
    #[error("unexpected answer to GET /1.0: {0}")]
    BadServerInfo(String),
    #[error("the captured data is inconsistent: {0}")]
    Inconsistent(#[from] SnapshotError),
}

/// Reads the cluster behind `client`. `remote` names the endpoint in the snapshot (never
/// credentials); `captured_at` is the capture time (RFC 3339).
pub async fn capture(
    client: &IncusClient,
    remote: &str,
    captured_at: String,
) -> Result<Snapshot, CaptureFailed> {
    let started = std::time::Instant::now();
    let captured = read_cluster(client, remote, captured_at).await;
    crate::metrics::metrics()
        .capture_duration
        .with_label_values(&[if captured.is_ok() { "ok" } else { "error" }])
        .observe(started.elapsed().as_secs_f64());
    captured
}

/// [`capture`], untimed.
async fn read_cluster(
    client: &IncusClient,
    remote: &str,
    captured_at: String,
) -> Result<Snapshot, CaptureFailed> {
    let (server, members, groups, projects, profiles, instances, images, operations) = tokio::join!(
        client.get::<serde_json::Value>("/1.0"),
        client.get::<Vec<ClusterMember>>("/1.0/cluster/members?recursion=1"),
        client.get::<Vec<ClusterGroup>>("/1.0/cluster/groups?recursion=1"),
        client.get::<Vec<Project>>("/1.0/projects?recursion=1"),
        client.get::<Vec<Profile>>("/1.0/profiles?recursion=1&all-projects=true"),
        client.get::<Vec<Instance>>("/1.0/instances?recursion=1&all-projects=true"),
        client.get::<Vec<Image>>("/1.0/images?recursion=1&all-projects=true"),
        client.get::<OperationsByStatus>("/1.0/operations?recursion=1&all-projects=true"),
    );
    let raw_server = server?;
    refuse_restricted_certificate(client, &raw_server).await?;
    let server: Server = serde_json::from_value(raw_server)
        .map_err(|error| CaptureFailed::BadServerInfo(error.to_string()))?;
    if !server.environment.server_clustered {
        return Err(CaptureFailed::NotClustered(remote.to_owned()));
    }
    let members = members?;

    let mut member_state = BTreeMap::new();
    let mut member_resources = BTreeMap::new();
    let mut capture_errors = Vec::new();
    let names: Vec<(String, bool)> = members
        .iter()
        .map(|member| (member.server_name.clone(), member.status == MemberStatus::Online))
        .collect();
    let mut replies = stream::iter(names)
        .map(|(name, online)| async move {
            let state_path = api_path(&["cluster", "members", &name, "state"], &[]);
            let resources_path = api_path(&["resources"], &[("target", &name)]);
            let (state, resources) = tokio::join!(
                read_member::<ClusterMemberState>(client, &state_path, online),
                read_member::<Resources>(client, &resources_path, online),
            );
            (name, (state_path, state), (resources_path, resources))
        })
        .buffer_unordered(PARALLEL_MEMBER_REQUESTS);
    while let Some((name, (state_path, state), (resources_path, resources))) = replies.next().await {
        match state {
            Ok(state) => {
                member_state.insert(name.clone(), state);
            }
            Err(error) => capture_errors.push(capture_error(state_path, error)),
        }
        match resources {
            Ok(resources) => {
                member_resources.insert(name, resources);
            }
            Err(error) => capture_errors.push(capture_error(resources_path, error)),
        }
    }
    drop(replies);
    capture_errors.sort_by(|a, b| a.request.cmp(&b.request));

    // Unfinished operations (pending instance creations count as load) and the finished
    // creations Incus still counts as pending for 5 s (`Operation::counts_as_pending_create`).
    let operations = operations?.for_snapshot();
    let snapshot = Snapshot {
        format: SNAPSHOT_FORMAT.into(),
        captured_at,
        source: SnapshotSource {
            kind: "capture".into(),
            name: format!("{} ({})", server.environment.server_name, remote),
            remote: Some(remote.to_owned()),
        },
        server,
        members,
        member_state,
        member_resources,
        cluster_groups: groups?,
        projects: projects?,
        profiles: profiles?,
        instances: instances?,
        images: images?,
        operations,
        capture_errors,
    };
    snapshot.validate()?;
    Ok(snapshot)
}

/// One per-member read; an online member's failure is asked again (module doc).
async fn read_member<T: serde::de::DeserializeOwned>(
    client: &IncusClient,
    path: &str,
    online: bool,
) -> Result<T, IncusError> {
    let mut waits = ONLINE_MEMBER_RETRIES.iter().filter(|_| online);
    loop {
        match client.get::<T>(path).await {
            Err(error) if is_passing(&error) => match waits.next() {
                Some(wait) => tokio::time::sleep(*wait).await,
                None => return Err(error),
            },
            answer => return answer,
        }
    }
}

/// A server error may pass; a refusal (4xx), an unreachable endpoint (every other read failed
/// too) or a bad answer will not.
fn is_passing(error: &IncusError) -> bool {
    matches!(error, IncusError::Api { status, .. } if *status >= 500)
}

/// A certificate restricted to some projects sees only those: the snapshot would look whole
/// and be wrong. Over TLS, `auth_user_name` is the certificate's fingerprint.
async fn refuse_restricted_certificate(
    client: &IncusClient,
    server: &serde_json::Value,
) -> Result<(), CaptureFailed> {
    #[derive(serde::Deserialize)]
    struct TrustEntry {
        #[serde(default)]
        restricted: bool,
        #[serde(default)]
        projects: Vec<String>,
    }
    if server["auth_user_method"] != "tls" {
        return Ok(());
    }
    let Some(fingerprint) = server["auth_user_name"].as_str() else {
        return Ok(());
    };
    match client
        .get::<TrustEntry>(&api_path(&["certificates", fingerprint], &[]))
        .await
    {
        Ok(entry) if entry.restricted => Err(CaptureFailed::RestrictedCertificate(entry.projects)),
        // Not restricted, or not readable (then the project lists will tell).
        _ => Ok(()),
    }
}

fn capture_error(request: String, error: IncusError) -> CaptureError {
    let status_code = match &error {
        IncusError::Api { status, .. } => *status,
        _ => 0,
    };
    let error = match error {
        IncusError::Api { message, .. } => message,
        other => other.to_string(),
    };
    CaptureError {
        request,
        status_code,
        error,
    }
}
