//! The scriptlet worker's confinement, tried from inside real workers: a worker cannot read
//! the database file, connect anywhere or start a process, each layer (seccomp, Landlock)
//! refuses on its own, and a worker started by `berth serve` keeps nothing of the server's
//! environment. The attempts are the worker's own (`Job::Probe`), made in the worker loop after
//! the confinement every worker applies, not in a copy of it.
//!
//! These tests need a kernel with seccomp and Landlock (ABI 6 or later), as the test machines
//! have; elsewhere the Landlock assertions fail and say which ABI the kernel has.

use crate::support;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};

use berth_server::db::Store;
use berth_server::sandbox::protocol::{Attempt, Job, ProbeJob, ProbeReport, Reply};
use berth_server::sandbox::{ConfinementReport, Sandbox, SandboxConfig};
use support::process::{site, Server};

const BERTH: &str = env!("CARGO_BIN_EXE_berth");
const EPERM: i32 = 1;
const EACCES: i32 = 13;

/// A real store's database file (migrated), and a listener nobody should reach.
struct Targets {
    _dir: tempfile::TempDir,
    database: std::path::PathBuf,
    listener: TcpListener,
}

impl Targets {
    async fn new() -> Targets {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).await.unwrap();
        store.close().await;
        let database = dir.path().join("berth.db");
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        // What the worker is refused, this process may do: the refusals are the confinement's.
        assert!(std::fs::read(&database).unwrap().starts_with(b"SQLite format 3"));
        drop(TcpStream::connect(listener.local_addr().unwrap()).unwrap());
        listener.accept().expect("this process connects");
        Targets {
            _dir: dir,
            database,
            listener,
        }
    }

    fn job(&self) -> ProbeJob {
        ProbeJob {
            read: self.database.display().to_string(),
            connect: self.listener.local_addr().unwrap().to_string(),
            execute: BERTH.to_owned(),
        }
    }

    /// No connection reached the listener.
    fn assert_untouched(&self) {
        let accepted = self.listener.accept();
        assert!(
            matches!(&accepted, Err(error) if error.kind() == std::io::ErrorKind::WouldBlock),
            "{accepted:?}"
        );
    }
}

fn refused_with(attempt: &Attempt) -> Option<i32> {
    match attempt {
        Attempt::Refused { errno, .. } => *errno,
        Attempt::Done => None,
    }
}

fn assert_all_refused(report: &ProbeReport, errno: i32) {
    for (what, attempt) in [
        ("read", &report.read),
        ("connect", &report.connect),
        ("execute", &report.execute),
    ] {
        assert_eq!(refused_with(attempt), Some(errno), "{what}: {attempt:?}");
    }
}

#[tokio::test]
async fn a_pool_worker_cannot_read_the_database_connect_or_start_a_process() {
    let targets = Targets::new().await;
    let sandbox = Sandbox::new(SandboxConfig::new(BERTH.into()));
    let confinement = sandbox.start().await.unwrap();
    assert!(confinement.is_complete(), "{}", confinement.summary());

    let report = sandbox.probe_confinement(targets.job()).await.unwrap();
    // The seccomp filter answers first: the calls never reach the kernel's checks.
    assert_all_refused(&report, EPERM);
    targets.assert_untouched();
    // This process's environment (cargo's variables, the test database's URL) stayed here.
    assert!(std::env::vars_os().count() > 0);
    assert_eq!(report.environment, Vec::<String>::new());

    // The worker still works after its refusals.
    let verdict = sandbox
        .check(
            "def instance_placement(request, candidate_members):\n    pass\n",
            berth_core::engine::IncusVersion::DEFAULT,
        )
        .await
        .unwrap();
    assert!(verdict.accepted, "{:?}", verdict.errors);
}

/// A worker started by hand with one layer only (`--only`), probed over its stdin.
fn probe_with_only(layer: &str, job: &ProbeJob) -> (ConfinementReport, ProbeReport) {
    let mut child = Command::new(BERTH)
        .args(["worker", "--memory-bytes", "1073741824", "--cpu-seconds", "60"])
        .args(["--confinement", "best-effort", "--only", layer])
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let Reply::Ready(confinement) = serde_json::from_str(&line).unwrap() else {
        panic!("not ready: {line}")
    };
    writeln!(
        stdin,
        "{}",
        serde_json::to_string(&Job::Probe(job.clone())).unwrap()
    )
    .unwrap();
    line.clear();
    stdout.read_line(&mut line).unwrap();
    let Reply::Probed(report) = serde_json::from_str(&line).unwrap() else {
        panic!("not a probe's reply: {line}")
    };
    drop(stdin);
    assert!(child.wait().unwrap().success());
    (confinement, report)
}

#[tokio::test]
async fn each_layer_refuses_on_its_own() {
    let targets = Targets::new().await;

    let (confinement, report) = probe_with_only("landlock", &targets.job());
    let domain = confinement.landlock.as_ref().expect("a Landlock domain");
    assert!(domain.abi >= 6, "this kernel has Landlock ABI {}", domain.abi);
    assert!(confinement.seccomp.is_err());
    // Landlock lets the calls through to the kernel, which refuses the access itself.
    assert_all_refused(&report, EACCES);
    targets.assert_untouched();

    let (confinement, report) = probe_with_only("seccomp", &targets.job());
    assert_eq!(confinement.seccomp, Ok(()));
    assert!(confinement.landlock.is_err());
    assert_all_refused(&report, EPERM);
    targets.assert_untouched();
}

/// The worker processes `berth serve` started (children of any of its threads).
fn workers_of(server: u32) -> Vec<u32> {
    let mut workers = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{server}/task")).unwrap() {
        let children = std::fs::read_to_string(task.unwrap().path().join("children")).unwrap_or_default();
        workers.extend(children.split_whitespace().map(|pid| pid.parse::<u32>().unwrap()));
    }
    workers.retain(|pid| {
        let command = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        command.split(|byte| *byte == 0).nth(1) == Some(b"worker".as_slice())
    });
    workers
}

fn status_line(pid: u32, key: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix(key))
        .map(|value| value.trim().to_owned())
        .unwrap_or_else(|| panic!("no {key} in {status}"))
}

#[test]
fn workers_of_a_server_keep_nothing_of_its_environment() {
    let dir = tempfile::tempdir().unwrap();
    let site = site(dir.path());
    let database = format!("sqlite://{}", dir.path().join("berth.db").display());
    let secret = "a-secret-only-the-server-may-know";
    support::logs::secret(secret);
    // The data directory too: the secret key file goes there (not into the working directory).
    let data = dir.path().display().to_string();
    let env = [
        ("BERTH_DATABASE_URL", database.as_str()),
        ("BERTH_DATA_DIR", data.as_str()),
        ("BERTH_TEST_SECRET", secret),
    ];
    let server = Server::start_with_env(&["--demo", "--listen", "127.0.0.1:0", "--site-root", &site], &env);
    server.wait_until_running();
    // The server uses the variable: the store is where it says.
    assert!(Path::new(&dir.path().join("berth.db")).exists());

    // It started one worker per pool (the authors' and the plans') before listening.
    let workers = workers_of(server.id());
    assert_eq!(workers.len(), 2, "{workers:?}");
    for worker in workers {
        let environment = std::fs::read(format!("/proc/{worker}/environ")).unwrap();
        assert!(
            environment.is_empty(),
            "{}",
            String::from_utf8_lossy(&environment)
        );
        assert_eq!(status_line(worker, "NoNewPrivs:"), "1");
        // 2: a seccomp filter is in force (two: clone3's and the allow-list).
        assert_eq!(status_line(worker, "Seccomp:"), "2");
        assert_eq!(status_line(worker, "Seccomp_filters:"), "2");
    }
}
