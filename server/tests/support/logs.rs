//! Every test process that builds a [`super::TestApp`] writes the server's logs, at debug level
//! and finer for Berth, to `target/tmp/test-logs/BINARY-PID.log`, and the secrets its tests
//! create (passwords, session ids, CSRF and API tokens) to `BINARY-PID.secrets`.
//! `scripts/check-secrets.sh`, run by `make test` after every suite, fails if any secret
//! appears in any log.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Mutex, Once, OnceLock};

static SECRETS: OnceLock<Mutex<File>> = OnceLock::new();

fn base() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("test-logs");
    std::fs::create_dir_all(&dir).expect("the test log directory can be created");
    let binary = std::env::current_exe()
        .ok()
        .and_then(|path| path.file_stem().map(|stem| stem.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "test".into());
    dir.join(format!("{binary}-{}", std::process::id()))
}

/// Starts writing this process's logs to its file (once).
pub fn capture() {
    static START: Once = Once::new();
    START.call_once(|| {
        let log = File::create(base().with_extension("log")).expect("the log file can be created");
        let filter = tracing_subscriber::EnvFilter::new("debug,berth_server=trace,tower_http=trace");
        // Another subscriber may be set already (a test of its own): then that one logs.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(false)
            .with_writer(Mutex::new(log))
            .try_init();
    });
}

/// Records a secret a test created, for the check over all logs.
pub fn secret(value: &str) {
    let file = SECRETS.get_or_init(|| {
        let path = base().with_extension("secrets");
        Mutex::new(
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .expect("the secrets file can be created"),
        )
    });
    writeln!(file.lock().unwrap(), "{value}").expect("the secret is recorded");
}

/// What this process has logged so far (for a test that something was not logged).
pub fn written() -> String {
    std::fs::read_to_string(base().with_extension("log")).unwrap_or_default()
}

/// A log file for a `berth` process a test starts (its stderr), checked like the rest.
pub fn child_log() -> File {
    static CHILDREN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let number = CHILDREN.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let base = base();
    let name = format!(
        "{}-child{number}.log",
        base.file_name().unwrap().to_string_lossy()
    );
    File::create(base.with_file_name(name)).expect("the child's log file can be created")
}
