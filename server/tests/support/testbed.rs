//! The real Incus test bed for tests that talk to Incus.
//!
//! `testbed()` runs `scripts/testbed.sh up` once per test process (it is idempotent and takes
//! a few seconds when the cluster already runs). A developer may skip these tests locally
//! with `BERTH_SKIP_TESTBED=1`; under CI (`CI` set) that is refused, so CI always runs them.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

pub struct TestBed {
    pub dir: PathBuf,
}

impl TestBed {
    pub fn members(&self) -> [&'static str; 3] {
        ["m1", "m2", "m3"]
    }

    pub fn socket(&self, member: &str) -> PathBuf {
        self.dir.join("members").join(member).join("unix.socket")
    }

    pub fn https_url(&self, member: &str) -> String {
        format!("https://127.0.0.1{}:8443", member.trim_start_matches('m'))
    }

    /// The certificate every member serves (one per cluster).
    pub fn cluster_certificate(&self) -> PathBuf {
        self.dir.join("members/m1/cluster.crt")
    }

    pub fn client_certificate(&self) -> PathBuf {
        self.dir.join("tls/client.crt")
    }

    pub fn client_key(&self) -> PathBuf {
        self.dir.join("tls/client.key")
    }
}

/// The running test bed, or `None` when the developer chose to skip Incus tests.
pub fn testbed() -> Option<&'static TestBed> {
    static TESTBED: OnceLock<Option<TestBed>> = OnceLock::new();
    TESTBED.get_or_init(bring_up).as_ref()
}

fn bring_up() -> Option<TestBed> {
    if std::env::var_os("BERTH_SKIP_TESTBED").is_some_and(|v| v == "1") {
        assert!(
            std::env::var_os("CI").is_none(),
            "BERTH_SKIP_TESTBED is not honoured under CI"
        );
        eprintln!("BERTH_SKIP_TESTBED=1: skipping a test that needs the Incus test bed");
        return None;
    }
    let status = testbed_up();
    assert!(status.success(), "scripts/testbed.sh up failed: {status}");
    let dir = std::env::var_os("BERTH_TESTBED_DIR")
        .map_or_else(|| PathBuf::from("/tmp/berth-testbed"), PathBuf::from);
    Some(TestBed { dir })
}

/// Runs `scripts/testbed.sh up`, which starts any member that is not running.
///
/// Live tests run under `flock /tmp/berth-testbed.lock cargo test …`, and every child inherits
/// the locked descriptor: a daemon started from here would hold the lock for as long as it
/// runs, and every later `flock` would wait for ever. So the script runs with the inherited
/// descriptors above stderr closed.
pub fn testbed_up() -> std::process::ExitStatus {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("server/ has a parent");
    Command::new("bash")
        .arg("-c")
        .arg(r#"for fd in /proc/$$/fd/*; do fd=${fd##*/}; [ "$fd" -gt 2 ] && eval "exec $fd>&-"; done 2>/dev/null; exec "$0" up"#)
        .arg(repo.join("scripts/testbed.sh"))
        .status()
        .expect("cannot run scripts/testbed.sh")
}

/// A new self-signed client certificate and key (PEM) in `dir`, as `openssl` makes them for
/// Incus: not trusted by the cluster until added.
pub fn new_client_certificate(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join(format!("{name}.crt")), dir.join(format!("{name}.key")));
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:secp384r1",
            "-nodes",
            "-days",
            "1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .args(["-subj", &format!("/CN={name}")])
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl runs");
    assert!(status.success(), "openssl could not make a certificate");
    (cert, key)
}
