//! Capturing the real test bed: over the unix socket and HTTPS, through the CLI into the store
//! and out again redacted, with a member offline, and while creates, copies and moves run.

use crate::support;

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_core::model::{ClusterMember, MemberStatus};
use berth_core::Snapshot;
use berth_server::capture::capture;
use berth_server::incus::{fingerprint_of_pem, IncusClient, ServerTrust};
use support::TestBed;

/// The offline test stops a member; the others need all three up.
static MEMBERS_UP: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

fn incus(bed: &TestBed, args: &[&str]) {
    let output = Command::new("incus")
        .env("INCUS_DIR", bed.dir.join("members/m1"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "incus {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn berth(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(args)
        .output()
        .unwrap()
}

#[tokio::test]
async fn unix_socket_and_https_captures_agree_and_hold_every_project() {
    let Some(bed) = support::testbed() else { return };
    let _up = MEMBERS_UP.read().await;
    let name = format!("cap-{}", std::process::id());
    incus(
        bed,
        &[
            "create",
            "--empty",
            &name,
            "--project",
            "proj-b",
            "--target",
            "m2",
            "-c",
            "user.app=web",
        ],
    );

    let unix = IncusClient::unix(&bed.socket("m1")).unwrap();
    let over_unix = capture(&unix, "unix", "2026-11-25T00:00:00Z".into())
        .await
        .unwrap();
    let pem = std::fs::read(bed.cluster_certificate()).unwrap();
    let https = IncusClient::https(
        &bed.https_url("m3"),
        &bed.client_certificate(),
        &bed.client_key(),
        ServerTrust::Fingerprint(fingerprint_of_pem(&pem).unwrap()),
    )
    .unwrap();
    let over_https = capture(&https, "https", "2026-11-25T00:00:00Z".into())
        .await
        .unwrap();
    incus(bed, &["delete", &name, "--project", "proj-b"]);

    for snapshot in [&over_unix, &over_https] {
        let members: Vec<_> = snapshot.members.iter().map(|m| m.server_name.as_str()).collect();
        assert_eq!(members, ["m1", "m2", "m3"]);
        assert!(
            snapshot.capture_errors.is_empty(),
            "{:?}",
            snapshot.capture_errors
        );
        assert_eq!(snapshot.member_state.len(), 3);
        assert_eq!(snapshot.member_resources.len(), 3);
        assert!(snapshot.member_resources["m1"].cpu.total > 0);
        let proj_r = snapshot.project("proj-r").unwrap().restrictions();
        assert!(proj_r.restricted);
        assert_eq!(proj_r.cluster_groups, vec!["gA"]);
        let groups: Vec<_> = snapshot.cluster_groups.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(groups, ["default", "gA", "gB"]);
        let created = snapshot
            .instances
            .iter()
            .find(|i| i.name == name)
            .expect("the new instance is captured");
        assert_eq!(
            (created.project.as_str(), created.location.as_str()),
            ("proj-b", "m2")
        );
        assert_eq!(created.expanded_config["user.app"], "web");
        assert!(snapshot
            .profiles
            .iter()
            .any(|p| p.project == "proj-b" && p.name == "default"));
        assert_eq!(snapshot.incus_version(), "6.0.4");
        assert!(snapshot.server.has_extension("instances_placement_scriptlet"));
        // The test bed's busybox image is in `default` and, copied, in proj-b (which has
        // `features.images`); the other projects use default's.
        let busybox: Vec<_> = snapshot
            .images
            .iter()
            .filter(|image| image.aliases.iter().any(|alias| alias.name == "busybox"))
            .collect();
        let mut projects: Vec<_> = busybox.iter().map(|image| image.project.as_str()).collect();
        projects.sort();
        assert_eq!(projects, ["default", "proj-b"]);
        for image in busybox {
            assert_eq!(image.architecture, "x86_64");
            assert_eq!(image.image_type, "container");
            assert_eq!(image.fingerprint.len(), 64);
            assert_eq!(image.properties["os"], "busybox");
        }
    }
    assert_eq!(over_unix.members, over_https.members);
    // Other tests create instances meanwhile, so only this test's own instance is compared.
}

#[test]
fn the_cli_captures_stores_and_exports_redacted() {
    let Some(bed) = support::testbed() else { return };
    let _up = MEMBERS_UP.blocking_read();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cluster.json");
    let data = dir.path().join("data");
    let socket = format!("unix://{}", bed.socket("m2").display());
    let name = format!("secret-{}", std::process::id());
    incus(
        bed,
        &[
            "create",
            "--empty",
            &name,
            "-c",
            "environment.API_TOKEN=hunter2-secret",
        ],
    );
    let output = berth(&[
        "snapshot",
        "capture",
        "--remote",
        &socket,
        "-o",
        file.to_str().unwrap(),
    ]);
    incus(bed, &["delete", &name]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(std::fs::read_to_string(&file).unwrap().contains("hunter2-secret"));

    let import = berth(&[
        "snapshot",
        "import",
        file.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    assert!(
        import.status.success(),
        "{}",
        String::from_utf8_lossy(&import.stderr)
    );
    assert_eq!(String::from_utf8(import.stdout).unwrap().trim(), "1");
    let again = berth(&[
        "snapshot",
        "import",
        file.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    assert!(String::from_utf8_lossy(&again.stderr).contains("already stored as snapshot 1"));

    let list = berth(&["snapshot", "list", "--data-dir", data.to_str().unwrap()]);
    assert!(String::from_utf8(list.stdout)
        .unwrap()
        .contains("capture\tIncus 6.0.4\t3 members"));

    let exported = dir.path().join("shared.json");
    let export = berth(&[
        "snapshot",
        "export",
        "latest",
        "--redact",
        "-o",
        exported.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    assert!(
        export.status.success(),
        "{}",
        String::from_utf8_lossy(&export.stderr)
    );
    let shared = Snapshot::from_json(&std::fs::read_to_string(&exported).unwrap()).unwrap();
    assert_eq!(shared.members.len(), 3);
    let instance = shared.instances.iter().find(|i| i.name == name).unwrap();
    assert_eq!(instance.config["environment.API_TOKEN"], "[redacted: 14 bytes]");
    assert!(!std::fs::read_to_string(&exported)
        .unwrap()
        .contains("hunter2-secret"));
}

#[test]
fn the_cli_refuses_https_without_a_way_to_trust_the_server() {
    let Some(bed) = support::testbed() else { return };
    let output = berth(&[
        "snapshot",
        "capture",
        "--remote",
        &bed.https_url("m1"),
        "--client-cert",
        bed.client_certificate().to_str().unwrap(),
        "--client-key",
        bed.client_key().to_str().unwrap(),
        "-o",
        "/dev/null",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("Incus's certificate is self-signed"));
}

#[tokio::test]
async fn a_restricted_client_certificate_is_refused_with_the_reason() {
    let Some(bed) = support::testbed() else { return };
    let _up = MEMBERS_UP.read().await;
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = support::new_client_certificate(dir.path(), "berth-restricted");
    let name = format!("restricted-{}", std::process::id());
    incus(
        bed,
        &[
            "config",
            "trust",
            "add-certificate",
            cert.to_str().unwrap(),
            "--name",
            &name,
            "--restricted",
            "--projects",
            "proj-a,proj-b",
        ],
    );
    let pem = std::fs::read(bed.cluster_certificate()).unwrap();
    let client = IncusClient::https(
        &bed.https_url("m1"),
        &cert,
        &key,
        ServerTrust::Fingerprint(fingerprint_of_pem(&pem).unwrap()),
    )
    .unwrap();
    let result = capture(&client, "https", String::new()).await;
    let fingerprint = fingerprint_of_pem(&std::fs::read(&cert).unwrap()).unwrap();
    incus(bed, &["config", "trust", "remove", &fingerprint[..12]]);
    let error = result.unwrap_err().to_string();
    assert!(
        error.starts_with("the client certificate is restricted to the projects proj-a, proj-b"),
        "{error}"
    );
}

/// Restarts a stopped member when the test ends, whatever happened.
struct Restart;

impl Drop for Restart {
    fn drop(&mut self) {
        assert!(support::testbed_up().success(), "the test bed did not come back");
    }
}

#[tokio::test]
async fn a_cluster_with_an_offline_member_is_captured_with_the_failures_recorded() {
    let Some(bed) = support::testbed() else { return };
    let _alone = MEMBERS_UP.write().await;
    let pid = std::fs::read_to_string(bed.dir.join("members/m3/incusd.pid")).unwrap();
    let _restart = Restart;
    assert!(Command::new("kill")
        .args(["-TERM", pid.trim()])
        .status()
        .unwrap()
        .success());

    // Incus marks a member offline after `cluster.offline_threshold` (20 s) without heartbeat.
    let client = IncusClient::unix(&bed.socket("m1")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let members: Vec<ClusterMember> = client.get("/1.0/cluster/members?recursion=1").await.unwrap();
        if members
            .iter()
            .any(|m| m.server_name == "m3" && m.status == MemberStatus::Offline)
        {
            break;
        }
        assert!(Instant::now() < deadline, "m3 never showed as offline");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let snapshot = capture(&client, "unix", "2026-11-25T00:00:00Z".into())
        .await
        .unwrap();
    assert_eq!(snapshot.member("m3").unwrap().status, MemberStatus::Offline);
    assert!(!snapshot.member_state.contains_key("m3"));
    assert!(snapshot.member_state.contains_key("m1") && snapshot.member_state.contains_key("m2"));
    let failed: Vec<_> = snapshot
        .capture_errors
        .iter()
        .map(|e| (e.request.as_str(), e.status_code))
        .collect();
    assert_eq!(
        failed,
        [
            ("/1.0/cluster/members/m3/state", 500),
            ("/1.0/resources?target=m3", 500)
        ],
        "{:#?}",
        snapshot.capture_errors
    );
}

/// Deletes what the busy-cluster test made, whatever happened.
struct CleanUp<'a> {
    bed: &'a TestBed,
    prefix: String,
    token: String,
}

impl Drop for CleanUp<'_> {
    fn drop(&mut self) {
        use support::incus_cli::incus;
        for project in ["default", "proj-b"] {
            let list = incus(self.bed, &["list", "--project", project, "-f", "csv", "-c", "n"]);
            for name in String::from_utf8_lossy(&list.stdout).lines() {
                if name.starts_with(&self.prefix) {
                    incus(self.bed, &["delete", "-f", name, "--project", project]);
                }
            }
        }
        incus(self.bed, &["cluster", "revoke-token", &self.token]);
    }
}

/// Creates from the image, copies, moves and deletes instances until `stop`, in two projects.
fn keep_the_cluster_busy(bed: &TestBed, prefix: &str, stop: &AtomicBool) -> Vec<String> {
    use support::incus_cli::incus;
    let mut failures = Vec::new();
    let mut run = |args: &[&str]| {
        let output = incus(bed, args);
        if !output.status.success() {
            failures.push(format!(
                "incus {args:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            ));
        }
    };
    let mut round = 0;
    while !stop.load(Ordering::Relaxed) {
        round += 1;
        let (first, copy, other) = (
            format!("{prefix}-{round}"),
            format!("{prefix}-{round}-copy"),
            format!("{prefix}-{round}-b"),
        );
        run(&["create", "busybox", &first, "--target", "m2", "-q"]);
        run(&["copy", &first, &copy, "--target", "m3", "-q"]);
        run(&["move", &copy, "--target", "m1", "-q"]);
        run(&[
            "create",
            "busybox",
            &other,
            "--project",
            "proj-b",
            "--target",
            "m3",
            "-q",
        ]);
        run(&["delete", "-f", &first, &copy, "-q"]);
        run(&["delete", "-f", &other, "--project", "proj-b", "-q"]);
    }
    failures
}

/// Incus sends `null` for empty lists in operations (a join token's `"cluster": null`) and for
/// an operation's metadata; captures taken while operations start, run and finish must all
/// succeed and be valid snapshots.
#[tokio::test(flavor = "multi_thread")]
async fn a_busy_cluster_is_captured_while_creates_copies_and_moves_run() {
    let Some(bed) = support::testbed() else { return };
    let _up = MEMBERS_UP.read().await;
    let prefix = format!("busy-{}", std::process::id());
    // An open join token is an operation whose resource list is empty, which Incus sends as
    // `null`: it is listed in every capture below.
    let token = format!("{prefix}-joiner");
    let _clean_up = CleanUp {
        bed,
        prefix: prefix.clone(),
        token: token.clone(),
    };
    incus(bed, &["cluster", "add", &token, "-q"]);

    let stop = Arc::new(AtomicBool::new(false));
    let worker = {
        let (stop, prefix) = (stop.clone(), prefix.clone());
        std::thread::spawn(move || keep_the_cluster_busy(bed, &prefix, &stop))
    };
    let client = IncusClient::unix(&bed.socket("m1")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(180);
    let (mut captures, mut saw_own_operation) = (0, false);
    let result = loop {
        let snapshot = match capture(&client, "unix", "2026-11-29T00:00:00Z".into()).await {
            Ok(snapshot) => snapshot,
            Err(error) => break Err(format!("capture {}: {error}", captures + 1)),
        };
        captures += 1;
        let reloaded = Snapshot::from_json(&snapshot.to_json());
        if reloaded.as_ref() != Ok(&snapshot) {
            break Err(format!("capture {captures} does not reload: {reloaded:?}"));
        }
        if !snapshot
            .operations
            .iter()
            .any(|op| op.resources.get("cluster").is_some_and(Vec::is_empty))
        {
            break Err(format!(
                "capture {captures} lacks the join token: {:?}",
                snapshot.operations
            ));
        }
        saw_own_operation |= snapshot.operations.iter().any(|op| {
            op.resources
                .values()
                .flatten()
                .any(|resource| resource.contains(&prefix))
        });
        if (saw_own_operation && captures >= 10) || Instant::now() > deadline {
            break Ok(());
        }
    };
    stop.store(true, Ordering::Relaxed);
    let failures = worker.join().expect("the busy worker does not panic");
    result.unwrap();
    assert!(
        saw_own_operation,
        "none of {captures} captures saw a create, copy or move running"
    );
    assert!(failures.is_empty(), "{failures:#?}");
}

#[tokio::test]
async fn a_connection_configured_over_the_api_captures_the_test_bed_and_keeps_its_key() {
    let Some(bed) = support::testbed() else { return };
    // Alone on the test bed: captures running in parallel with the other tests' have been
    // refused by Incus mid-handshake on this 2-core machine.
    let _up = MEMBERS_UP.write().await;
    let app = support::TestApp::empty().await;
    let read = |path: std::path::PathBuf| std::fs::read_to_string(path).unwrap();
    let key = read(bed.client_key());
    let https = serde_json::json!({
        "name": "bed-https",
        "remote": bed.https_url("m2"),
        "client_cert": read(bed.client_certificate()),
        "client_key": key,
        "server_cert": read(bed.cluster_certificate()),
    });
    let unix = serde_json::json!({
        "name": "bed-unix",
        "remote": format!("unix://{}", bed.socket("m1").display()),
    });
    for connection in [&https, &unix] {
        let added = app
            .send_as(
                &app.admin,
                axum::http::Method::POST,
                "/api/v1/connections",
                Some(connection.clone()),
            )
            .await;
        assert_eq!(added.status, axum::http::StatusCode::CREATED, "{}", added.body);
        assert!(!added.body.contains("PRIVATE KEY"));
    }
    let mut stored = Vec::new();
    for name in ["bed-https", "bed-unix"] {
        let captured = app
            .send_as(
                &app.admin,
                axum::http::Method::POST,
                &format!("/api/v1/connections/{name}/capture"),
                None,
            )
            .await;
        assert!(captured.status.is_success(), "{name}: {}", captured.body);
        assert_eq!(captured.json()["member_count"], 3, "{}", captured.body);
        stored.push(captured.json()["id"].as_i64().unwrap());
    }
    let listed = app
        .send_as(&app.admin, axum::http::Method::GET, "/api/v1/connections", None)
        .await;
    assert!(!listed.body.contains("PRIVATE KEY") && !listed.body.contains(key.trim()));
    let audit = app
        .send_as(&app.admin, axum::http::Method::GET, "/api/v1/audit", None)
        .await;
    assert!(audit.body.contains("connection.added") && !audit.body.contains("PRIVATE KEY"));
    let ids: Vec<i64> = app
        .store
        .list_snapshots()
        .await
        .unwrap()
        .iter()
        .map(|row| row.id)
        .collect();
    assert!(stored.iter().all(|id| ids.contains(id)), "{stored:?} in {ids:?}");
}

#[tokio::test]
async fn berth_connection_add_configures_a_connection_that_captures() {
    let Some(bed) = support::testbed() else { return };
    // Alone on the test bed: captures running in parallel with the other tests' have been
    // refused by Incus mid-handshake on this 2-core machine.
    let _up = MEMBERS_UP.write().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().display().to_string();
    let run = |args: &[&str]| {
        let output = berth(&[args, &["--data-dir", &data]].concat());
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let url = bed.https_url("m3");
    let (cert, key, server) = (
        bed.client_certificate().display().to_string(),
        bed.client_key().display().to_string(),
        bed.cluster_certificate().display().to_string(),
    );
    let https = [
        "connection",
        "add",
        "bed",
        "--remote",
        &url,
        "--client-cert",
        &cert,
        "--client-key",
        &key,
        "--server-cert",
        &server,
    ];
    let (code, stdout, stderr) = run(&https);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout, "added bed (client certificate, server certificate)\n");
    let (code, _, stderr) = run(&https);
    assert_eq!(
        (code, stderr.trim()),
        (Some(1), "berth: a connection named \"bed\" exists already")
    );
    let (code, _, stderr) = run(&["connection", "add", "x", "--remote", "https://127.0.0.1:1"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("exactly one of the server certificate"),
        "{stderr}"
    );
    let (code, _, stderr) = run(&[
        "connection",
        "add",
        "x",
        "--remote",
        &url,
        "--client-cert",
        "/nonexistent",
        "--client-key",
        &key,
        "--server-cert",
        &server,
    ]);
    assert_eq!(code, Some(2), "{stderr}");
    let (code, stdout, _) = run(&["connection", "list"]);
    assert_eq!(
        (code, stdout),
        (
            Some(0),
            format!("bed\t{url}\tclient certificate\tserver certificate\n")
        )
    );

    // What the command stored captures the cluster (its key opened with the key file the
    // command created in the data directory), and its key is in no audit entry.
    let key =
        berth_server::secrets::key_file::read(&dir.path().join(berth_server::secrets::KEY_FILE)).unwrap();
    let store = berth_server::db::Store::open(dir.path())
        .await
        .unwrap()
        .with_sealing_key(key);
    let auth = berth_server::auth::Auth::new(
        store.clone(),
        berth_server::clock::Clock::system(),
        berth_server::auth::AuthConfig::default(),
    );
    let actor = berth_server::audit::Actor::command_line();
    let stored = berth_server::services::connections::capture_now(&auth, &actor, "bed")
        .await
        .unwrap();
    assert_eq!(stored.snapshot.member_count, 3);
    let audit = store
        .audit_entries(&berth_server::db::AuditFilter {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(audit.iter().any(|entry| entry.kind == "connection.added"));
    assert!(audit.iter().all(|entry| !entry.detail.contains("PRIVATE KEY")));
    store.close().await;

    let (code, stdout, _) = run(&["connection", "remove", "bed"]);
    assert_eq!((code, stdout), (Some(0), "removed bed\n".to_owned()));
    let (code, _, stderr) = run(&["connection", "remove", "bed"]);
    assert_eq!(
        (code, stderr.trim()),
        (Some(1), "berth: there is no connection \"bed\"")
    );
}

/// Incus 6.0.4 accepts connections on its unix socket one at a time, reading a new one's first
/// bytes before it accepts the next: a connection that a client opens and leaves unused keeps
/// every later connection to that socket waiting. Berth's HTTP client did just that when its
/// requests ran side by side (an idle connection served a request whose own new connection then
/// sat unused in the pool until it expired, 90 s later), so a capture could wait on itself, and
/// hold up everyone else's, for 90 s: about one round in five of six captures made at once did.
/// Rounds of captures side by side must each end at once; the bound only keeps a regression
/// from hanging the suite.
#[tokio::test]
async fn captures_side_by_side_never_wait_on_an_unused_connection() {
    let Some(bed) = support::testbed() else { return };
    let _up = MEMBERS_UP.read().await;
    let remote = format!("unix://{}", bed.socket("m1").display());
    let dir = tempfile::tempdir().unwrap();
    for round in 0..24 {
        let mut captures: Vec<std::process::Child> = (0..6)
            .map(|index| {
                Command::new(env!("CARGO_BIN_EXE_berth"))
                    .args(["snapshot", "capture", "--remote", &remote, "-o"])
                    .arg(dir.path().join(format!("{index}.json")))
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut stalled = false;
        for capture in &mut captures {
            loop {
                if let Some(status) = capture.try_wait().unwrap() {
                    assert!(status.success(), "round {round}: a capture failed");
                    break;
                }
                if Instant::now() > deadline {
                    stalled = true;
                    let _ = capture.kill();
                    let _ = capture.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        assert!(
            !stalled,
            "round {round}: captures waited 20 s on the Incus socket"
        );
    }
}
