//! The Incus client against the real test bed: the unix socket and HTTPS with a client
//! certificate, with the server pinned by fingerprint.

use crate::support;

use berth_core::model::{ClusterMember, Server};
use berth_server::incus::{fingerprint_of_pem, IncusClient, IncusError, ServerTrust};

const MEMBERS: &str = "/1.0/cluster/members?recursion=1";

fn names_and_statuses(members: &[ClusterMember]) -> Vec<(String, String)> {
    let mut pairs: Vec<_> = members
        .iter()
        .map(|m| (m.server_name.clone(), m.status.to_string()))
        .collect();
    pairs.sort();
    pairs
}

fn expected() -> Vec<(String, String)> {
    ["m1", "m2", "m3"]
        .iter()
        .map(|m| (m.to_string(), "Online".to_string()))
        .collect()
}

fn pinned(bed: &support::TestBed) -> ServerTrust {
    let pem = std::fs::read(bed.cluster_certificate()).unwrap();
    ServerTrust::Fingerprint(fingerprint_of_pem(&pem).unwrap())
}

#[tokio::test]
async fn reads_the_members_over_the_unix_socket() {
    let Some(bed) = support::testbed() else { return };
    let client = IncusClient::unix(&bed.socket("m1")).unwrap();
    let members: Vec<ClusterMember> = client.get(MEMBERS).await.unwrap();
    assert_eq!(names_and_statuses(&members), expected());
    assert_eq!(members.iter().filter(|m| m.is_leader()).count(), 1);
    let groups: Vec<_> = members.iter().map(|m| m.groups.clone()).collect();
    assert!(
        groups.iter().all(|g| g.contains(&"default".to_string())),
        "{groups:?}"
    );
}

#[tokio::test]
async fn reads_the_members_over_https_from_every_member_with_a_client_certificate() {
    let Some(bed) = support::testbed() else { return };
    for member in bed.members() {
        let client = IncusClient::https(
            &bed.https_url(member),
            &bed.client_certificate(),
            &bed.client_key(),
            pinned(bed),
        )
        .unwrap();
        let server: Server = client.get("/1.0").await.unwrap();
        assert_eq!(server.environment.server_name, member);
        assert_eq!(server.environment.server_version, "6.0.4");
        assert!(server.has_extension("instances_placement_scriptlet"));
        let members: Vec<ClusterMember> = client.get(MEMBERS).await.unwrap();
        assert_eq!(names_and_statuses(&members), expected(), "via {member}");
    }
}

#[tokio::test]
async fn a_server_with_another_certificate_is_refused() {
    let Some(bed) = support::testbed() else { return };
    let wrong = ServerTrust::Fingerprint("00".repeat(32));
    let client = IncusClient::https(
        &bed.https_url("m2"),
        &bed.client_certificate(),
        &bed.client_key(),
        wrong,
    )
    .unwrap();
    let error = client.get::<Vec<ClusterMember>>(MEMBERS).await.unwrap_err();
    assert!(matches!(error, IncusError::Unreachable { .. }), "{error:?}");
    assert!(error.to_string().contains("does not match the pinned"), "{error}");
}

#[tokio::test]
async fn an_untrusted_client_certificate_gets_a_clear_error() {
    let Some(bed) = support::testbed() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = support::new_client_certificate(dir.path(), "stranger");
    let client = IncusClient::https(&bed.https_url("m1"), &cert, &key, pinned(bed)).unwrap();
    let error = client.get::<Vec<ClusterMember>>(MEMBERS).await.unwrap_err();
    assert!(matches!(error, IncusError::Untrusted { .. }), "{error:?}");
}

/// Incus answers a wait that outlasts its timeout with an error, the operation still running;
/// `wait_until_done` reads the operation then and waits on to its end.
#[tokio::test]
async fn an_operation_longer_than_one_wait_is_waited_on_to_its_end() {
    let Some(bed) = support::testbed() else { return };
    let name = format!("wait-{}", std::process::id());
    let launched = support::incus_cli::incus(bed, &["launch", "busybox", &name, "--target", "m1"]);
    assert!(
        launched.status.success(),
        "{}",
        String::from_utf8_lossy(&launched.stderr)
    );
    let client = IncusClient::unix(&bed.socket("m1")).unwrap();
    let sleep = |seconds: &str| {
        serde_json::json!({
            "command": ["sleep", seconds],
            "wait-for-websocket": false,
            "interactive": false,
            "record-output": false,
        })
    };
    let exec = format!("/1.0/instances/{name}/exec");

    let first = client.post_async(&exec, &sleep("4")).await.unwrap();
    let error = client.wait_operation(&first, 1).await.unwrap_err();
    assert!(error.to_string().contains("context deadline exceeded"), "{error}");

    let second = client.post_async(&exec, &sleep("3")).await.unwrap();
    let started = std::time::Instant::now();
    let done = client.wait_until_done(&second, 1).await.unwrap();
    assert_eq!(done.status, "Success", "{done:?}");
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(2),
        "it waited for the end"
    );

    support::incus_cli::incus(bed, &["delete", "--force", &name]);
}
