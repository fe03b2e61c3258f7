//! A fresh database for each test, on SQLite (a temporary directory) or PostgreSQL (a new
//! database in the throw-away cluster of `scripts/postgres.sh`, started on first use).
//!
//! `BERTH_TEST_DATABASE=postgres` makes [`super::TestApp`] use PostgreSQL (`make test` runs
//! the HTTP suites once on each); the store suite runs every test on both regardless.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use berth_server::db::{DatabaseUrl, Store};
use sqlx::Connection;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The backend the HTTP suites use: `BERTH_TEST_DATABASE` (`sqlite`, the default, or
    /// `postgres`).
    pub fn from_env() -> Backend {
        match std::env::var("BERTH_TEST_DATABASE").as_deref() {
            Ok("postgres") => Backend::Postgres,
            Ok("sqlite") | Err(_) => Backend::Sqlite,
            Ok(other) => panic!("BERTH_TEST_DATABASE={other}: use sqlite or postgres"),
        }
    }
}

/// A database of its own for one test; a SQLite one is deleted with it.
pub struct TestDatabase {
    pub url: DatabaseUrl,
    pub backend: Backend,
    /// The URL as text (for `berth --database`).
    pub text: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDatabase {
    pub async fn fresh(backend: Backend) -> TestDatabase {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temporary directory");
                let text = format!("sqlite://{}", dir.path().join("berth.db").display());
                TestDatabase {
                    url: DatabaseUrl::parse(&text).unwrap(),
                    backend,
                    text,
                    _dir: Some(dir),
                }
            }
            Backend::Postgres => {
                let text = new_postgres_database().await;
                TestDatabase {
                    url: DatabaseUrl::parse(&text).unwrap(),
                    backend,
                    text,
                    _dir: None,
                }
            }
        }
    }

    /// A database at a given URL (kept, not deleted).
    pub fn at(text: &str) -> TestDatabase {
        let url = DatabaseUrl::parse(text).unwrap();
        let backend = match url.kind() {
            berth_server::db::DatabaseKind::Sqlite => Backend::Sqlite,
            berth_server::db::DatabaseKind::Postgres => Backend::Postgres,
        };
        TestDatabase {
            url,
            backend,
            text: text.to_owned(),
            _dir: None,
        }
    }

    pub async fn open(&self) -> Store {
        Store::connect(&self.url).await.expect("the store opens")
    }
}

/// The admin URL of the test cluster: `BERTH_TEST_POSTGRES_URL`, or the one
/// `scripts/postgres.sh up` starts.
fn postgres_admin_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        if let Ok(url) = std::env::var("BERTH_TEST_POSTGRES_URL") {
            return url;
        }
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/postgres.sh");
        let output = Command::new("flock")
            // `-o`: the lock is not inherited by the PostgreSQL server the script starts, which
            // would hold it for as long as it runs.
            .args(["-o", "/tmp/berth-postgres.lock"])
            .arg(&script)
            .arg("up")
            .output()
            .expect("cannot run scripts/postgres.sh");
        assert!(
            output.status.success(),
            "scripts/postgres.sh up failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .last()
            .expect("the script prints the URL")
            .to_owned()
    })
}

/// Creates a new, empty database in the test cluster; its URL.
async fn new_postgres_database() -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    sqlx::any::install_default_drivers();
    let admin = postgres_admin_url();
    let name = format!(
        "berth_test_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    );
    let mut connection = sqlx::AnyConnection::connect(admin)
        .await
        .unwrap_or_else(|error| panic!("cannot reach the test PostgreSQL at {admin}: {error}"));
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut connection)
        .await
        .expect("a test database is created");
    connection.close().await.ok();
    let mut url = url::Url::parse(admin).unwrap();
    url.set_path(&format!("/{name}"));
    url.to_string()
}
