//! Connection keys at rest, as an administrator and an attacker with a copy of the database
//! would meet them, on both databases: `berth connection add` stores the TLS client key sealed
//! (no PEM in the SQLite file's bytes or the PostgreSQL row), it opens with the secret key file
//! and with nothing else (a wrong, missing or too open file is refused with a message that says
//! what to do), `berth connection rekey` seals everything again and the old key opens nothing,
//! a key an older Berth stored in the clear is sealed at start, and `berth store copy` carries
//! ciphertext that opens with the same key file.

use crate::support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use axum::http::StatusCode;
use berth_server::db::{ConnectionRecord, Store};
use berth_server::remote::client_for;
use berth_server::secrets::key_file;
use support::database::{Backend, TestDatabase};
use support::process::{berth, text};

/// Runs each named test (an `async fn(Backend)`) once on SQLite and once on PostgreSQL.
macro_rules! on_both_databases {
    ($($test:ident),* $(,)?) => {
        $(
            mod $test {
                use super::*;

                #[tokio::test]
                async fn sqlite() {
                    super::$test(Backend::Sqlite).await;
                }

                #[tokio::test]
                async fn postgres() {
                    super::$test(Backend::Postgres).await;
                }
            }
        )*
    };
}

on_both_databases!(
    a_client_key_is_stored_sealed_and_opens_with_its_key_file_only,
    a_wrong_missing_or_open_key_file_is_refused_with_what_to_do,
    rekey_seals_every_key_again_and_the_old_key_opens_nothing,
    a_key_an_older_berth_stored_in_the_clear_is_sealed_at_start,
    a_store_copy_carries_ciphertext_that_opens_with_the_same_key_file,
);

/// A deployment as `berth` commands see it: a data directory (the key file's default place,
/// and SQLite's database) and, on PostgreSQL, the database.
struct Deployment {
    data: tempfile::TempDir,
    database: Option<TestDatabase>,
    /// A client certificate and its key (PEM files) for HTTPS connections.
    cert: PathBuf,
    key: PathBuf,
}

impl Deployment {
    async fn new(backend: Backend) -> Deployment {
        let data = tempfile::tempdir().unwrap();
        let database = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(TestDatabase::fresh(Backend::Postgres).await),
        };
        let (cert, key) = support::new_client_certificate(data.path(), "client");
        for line in key_lines(&key) {
            support::logs::secret(&line);
        }
        Deployment {
            data,
            database,
            cert,
            key,
        }
    }

    fn dir(&self) -> &Path {
        self.data.path()
    }

    fn key_file(&self) -> PathBuf {
        self.dir().join(key_file::KEY_FILE)
    }

    /// `berth ARGS` on this deployment (its data directory and database).
    fn berth(&self, args: &[&str]) -> Output {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--data-dir", self.dir().to_str().unwrap()]);
        if let Some(database) = &self.database {
            all.extend(["--database", &database.text]);
        }
        berth(&all, "")
    }

    fn add_https(&self, name: &str, extra: &[&str]) -> Output {
        let mut args = vec![
            "connection",
            "add",
            name,
            "--remote",
            "https://192.0.2.1:8443",
            "--client-cert",
            self.cert.to_str().unwrap(),
            "--client-key",
            self.key.to_str().unwrap(),
            "--server-cert",
            self.cert.to_str().unwrap(),
        ];
        args.extend(extra);
        self.berth(&args)
    }

    async fn store(&self) -> Store {
        match &self.database {
            Some(database) => database.open().await,
            None => {
                TestDatabase::at(&format!("sqlite://{}", self.dir().join("berth.db").display()))
                    .open()
                    .await
            }
        }
    }

    /// Every byte the database keeps: the SQLite files, or PostgreSQL's rows as text.
    async fn stored_bytes(&self) -> Vec<u8> {
        match &self.database {
            None => {
                let mut bytes = Vec::new();
                for entry in std::fs::read_dir(self.dir()).unwrap() {
                    let path = entry.unwrap().path();
                    if path
                        .file_name()
                        .unwrap()
                        .to_string_lossy()
                        .starts_with("berth.db")
                    {
                        bytes.extend(std::fs::read(&path).unwrap());
                    }
                }
                bytes
            }
            Some(_) => {
                let store = self.store().await;
                let mut bytes = Vec::new();
                for (table, _) in berth_server::db::copy::TABLES {
                    bytes.extend(format!("{:?}", store.table_rows(table).await.unwrap()).into_bytes());
                }
                bytes
            }
        }
    }
}

/// The lines of a PEM key file that carry key material.
fn key_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .map(str::to_owned)
        .collect()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

fn assert_ok(output: &Output) {
    assert!(
        output.status.success(),
        "{}{}",
        text(&output.stdout),
        text(&output.stderr)
    );
}

/// The stored connection, and whether its key opens with the key in `file`.
async fn opens_with(store: Store, name: &str, file: &Path) -> Result<(), String> {
    let record = store.connection(name).await.unwrap().unwrap();
    let store = store.with_sealing_key(key_file::read(file).unwrap());
    client_for(&store, &record)
        .map(|_| ())
        .map_err(|error| match error {
            berth_server::error::AppError::Store(error) => error.to_string(),
            other => panic!("not a key problem: {other}"),
        })
}

async fn a_client_key_is_stored_sealed_and_opens_with_its_key_file_only(backend: Backend) {
    let deployment = Deployment::new(backend).await;
    assert!(!deployment.key_file().exists());
    assert_ok(&deployment.add_https("prod", &[]));
    let mode = std::fs::metadata(deployment.key_file())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600, "the key file is its owner's alone");

    let bytes = deployment.stored_bytes().await;
    assert!(!bytes.is_empty());
    for line in key_lines(&deployment.key) {
        assert!(!contains(&bytes, &line), "the database holds the client key");
    }
    assert!(!contains(&bytes, "PRIVATE KEY"));
    let store = deployment.store().await;
    let record = store.connection("prod").await.unwrap().unwrap();
    let sealed = record.client_key.clone().unwrap();
    let key_id = key_file::read(&deployment.key_file()).unwrap().id().to_owned();
    assert!(sealed.starts_with(&format!("v1:{key_id}:")), "{sealed}");
    assert!(contains(&bytes, &sealed), "the check reads where the key is");

    let printed = format!("{record:?}");
    assert!(
        !printed.contains(&sealed) && printed.contains("[sealed with key"),
        "{printed}"
    );
    let pem = std::fs::read_to_string(&deployment.key).unwrap();
    let new = berth_app::types::NewConnection {
        client_key: Some(pem.clone()),
        ..Default::default()
    };
    assert!(!format!("{new:?}").contains(key_lines(&deployment.key)[0].as_str()));

    opens_with(store, "prod", &deployment.key_file()).await.unwrap();
    let listed = deployment.berth(&["connection", "list"]);
    assert_ok(&listed);
    assert_eq!(
        text(&listed.stdout),
        "prod\thttps://192.0.2.1:8443\tclient certificate\tserver certificate\n"
    );
}

async fn a_wrong_missing_or_open_key_file_is_refused_with_what_to_do(backend: Backend) {
    let deployment = Deployment::new(backend).await;
    assert_ok(&deployment.add_https("prod", &[]));
    let right = key_file::read(&deployment.key_file()).unwrap().id().to_owned();

    // Another key: adding is refused (the store would hold keys sealed with two keys), and so
    // is serving; both say which connection, which keys, and what to do.
    let other = deployment.dir().join("other.key");
    key_file::write_new(&other, &berth_server::secrets::SecretKey::generate()).unwrap();
    let wrong = key_file::read(&other).unwrap().id().to_owned();
    let refused = deployment.add_https("lab", &["--secret-key-file", other.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused.stderr));
    let said = text(&refused.stderr);
    assert!(
        said.contains(&format!(
            "the secret key file {} does not decrypt connection \"prod\"",
            other.display()
        )),
        "{said}"
    );
    assert!(
        said.contains(&right) && said.contains(&wrong) && said.contains("Restore"),
        "{said}"
    );
    let site = support::process::site(deployment.dir());
    let serve = deployment.berth(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--site-root",
        &site,
        "--secret-key-file",
        other.to_str().unwrap(),
    ]);
    assert!(!serve.status.success());
    assert!(
        text(&serve.stderr).contains("does not decrypt connection \"prod\""),
        "{}",
        text(&serve.stderr)
    );
    assert!(deployment
        .store()
        .await
        .connection("lab")
        .await
        .unwrap()
        .is_none());

    // Read by others: refused until it is its owner's alone.
    let file = deployment.key_file();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let open = deployment.add_https("lab", &[]);
    assert!(!open.status.success());
    assert!(
        text(&open.stderr).contains(&format!("chmod 600 {}", file.display())),
        "{}",
        text(&open.stderr)
    );
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();

    // Missing while sealed keys need it: not replaced by a new key.
    let moved = deployment.dir().join("moved.key");
    std::fs::rename(&file, &moved).unwrap();
    let missing = deployment.add_https("lab", &[]);
    assert!(!missing.status.success());
    let said = text(&missing.stderr);
    assert!(said.contains("does not exist") && said.contains(&right), "{said}");
    assert!(!file.exists(), "no new key was made");
    // Listing and removing need no key: a lost file does not pin a connection.
    assert_ok(&deployment.berth(&["connection", "list"]));
    std::fs::rename(&moved, &file).unwrap();
    assert_ok(&deployment.add_https("lab", &[]));
    assert_ok(&deployment.berth(&[
        "connection",
        "remove",
        "lab",
        "--secret-key-file",
        other.to_str().unwrap(),
    ]));
}

async fn rekey_seals_every_key_again_and_the_old_key_opens_nothing(backend: Backend) {
    let deployment = Deployment::new(backend).await;
    assert_ok(&deployment.add_https("prod", &[]));
    assert_ok(&deployment.add_https("staging", &[]));
    assert_ok(&deployment.berth(&["connection", "add", "lab", "--remote", "unix:///run/incus.socket"]));
    let file = deployment.key_file();
    let before = key_file::read(&file).unwrap().id().to_owned();

    let rekeyed = deployment.berth(&["connection", "rekey"]);
    assert_ok(&rekeyed);
    let after = key_file::read(&file).unwrap().id().to_owned();
    assert_ne!(before, after);
    let old = key_file::beside(&file, ".old");
    assert_eq!(
        key_file::read(&old).unwrap().id(),
        before,
        "the old key is kept beside"
    );
    assert!(
        text(&rekeyed.stdout).contains("sealed 2 client keys"),
        "{}",
        text(&rekeyed.stdout)
    );
    let store = deployment.store().await;
    assert_eq!(store.client_key_sealers().await.unwrap(), vec![after.clone()]);
    for name in ["prod", "staging"] {
        opens_with(store.clone(), name, &file).await.unwrap();
        let refused = opens_with(store.clone(), name, &old).await.unwrap_err();
        assert!(refused.contains("does not decrypt"), "{refused}");
    }
    let entries = store
        .audit_entries(&berth_server::db::AuditFilter {
            kind: Some("connection.rekeyed".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(entries.len(), 1);
    let detail: serde_json::Value = serde_json::from_str(&entries[0].detail).unwrap();
    assert_eq!(detail["from_key_id"], before);
    assert_eq!(detail["to_key_id"], after);
    assert_eq!(detail["connections"], serde_json::json!(["prod", "staging"]));
    assert_eq!(detail["via"], "command line");

    // To a file of its own: the current file is left as it is, the new one is made 0600.
    let elsewhere = deployment.dir().join("next.key");
    assert_ok(&deployment.berth(&[
        "connection",
        "rekey",
        "--new-key-file",
        elsewhere.to_str().unwrap(),
    ]));
    let mode = std::fs::metadata(&elsewhere).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(key_file::read(&file).unwrap().id(), after, "left as it was");
    opens_with(store.clone(), "prod", &elsewhere).await.unwrap();
    assert!(opens_with(store.clone(), "prod", &file).await.is_err());
    // The old file opens nothing now: commands with it say so and change nothing.
    let stale = deployment.add_https("other", &[]);
    assert_eq!(stale.status.code(), Some(1), "{}", text(&stale.stderr));
    assert!(
        text(&stale.stderr).contains("does not decrypt"),
        "{}",
        text(&stale.stderr)
    );
}

async fn a_key_an_older_berth_stored_in_the_clear_is_sealed_at_start(backend: Backend) {
    let deployment = Deployment::new(backend).await;
    // What an older Berth wrote: the PEM itself in the column.
    let pem = std::fs::read_to_string(&deployment.key).unwrap();
    let store = deployment.store().await;
    let record = ConnectionRecord {
        name: "old".into(),
        remote: "https://192.0.2.1:8443".into(),
        client_cert: Some(std::fs::read_to_string(&deployment.cert).unwrap()),
        client_key: Some(pem.clone()),
        server_cert: None,
        server_ca: None,
        server_fingerprint: Some("ab".repeat(32)),
        created_by: "root".into(),
        created_at: 1,
        decision_log: 0,
    };
    let added = berth_server::db::NewAuditEntry {
        at: 1,
        actor_id: None,
        actor: None,
        kind: "connection.added".into(),
        subject: Some("old".into()),
        detail: serde_json::json!({}),
        address: None,
    };
    assert!(store.insert_connection(&record, &added).await.unwrap());
    store.close().await;

    assert_ok(&deployment.berth(&["connection", "list"]));
    let store = deployment.store().await;
    let sealed = store
        .connection("old")
        .await
        .unwrap()
        .unwrap()
        .client_key
        .unwrap();
    let key_id = key_file::read(&deployment.key_file()).unwrap().id().to_owned();
    assert!(sealed.starts_with(&format!("v1:{key_id}:")), "{sealed}");
    opens_with(store.clone(), "old", &deployment.key_file())
        .await
        .unwrap();
    let entries = store.audit_of_subject("old").await.unwrap();
    assert_eq!(
        entries
            .iter()
            .map(|entry| entry.kind.as_str())
            .collect::<Vec<_>>(),
        ["connection.added", "connection.key_sealed"]
    );
    if backend == Backend::Sqlite {
        // SQLite's file itself no longer holds it (PostgreSQL keeps the replaced row version
        // until it is vacuumed: README says so).
        store.close().await;
        let bytes = deployment.stored_bytes().await;
        for line in key_lines(&deployment.key) {
            assert!(
                !contains(&bytes, &line),
                "the database file still holds the old key"
            );
        }
    }
}

async fn a_store_copy_carries_ciphertext_that_opens_with_the_same_key_file(backend: Backend) {
    // A SQLite deployment copied into a new database of `backend`.
    let deployment = Deployment::new(Backend::Sqlite).await;
    assert_ok(&deployment.add_https("prod", &[]));
    let destination = TestDatabase::fresh(backend).await;
    let from = format!("sqlite://{}", deployment.dir().join("berth.db").display());
    let copy = berth(&["store", "copy", "--from", &from, "--to", &destination.text], "");
    assert_ok(&copy);

    let source = deployment
        .store()
        .await
        .connection("prod")
        .await
        .unwrap()
        .unwrap();
    let copied_store = destination.open().await;
    let copied = copied_store.connection("prod").await.unwrap().unwrap();
    assert_eq!(copied.client_key, source.client_key, "the ciphertext, as it was");
    let rows = format!("{:?}", copied_store.table_rows("connections").await.unwrap());
    for line in key_lines(&deployment.key) {
        assert!(!rows.contains(&line));
    }
    opens_with(copied_store.clone(), "prod", &deployment.key_file())
        .await
        .unwrap();
    let copies = copied_store
        .audit_entries(&berth_server::db::AuditFilter {
            kind: Some("store.copied".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(copies.len(), 1);
    let detail: serde_json::Value = serde_json::from_str(&copies[0].detail).unwrap();
    assert_eq!(detail["rows"]["connections"], 1);
    assert_eq!(detail["via"], "command line");
}

/// Through the web: an admin's new connection is stored sealed with the server's key, and no
/// answer carries the key.
#[tokio::test]
async fn a_connection_added_through_the_api_is_stored_sealed() {
    let app = support::TestApp::empty().await;
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = support::new_client_certificate(dir.path(), "web");
    let pem = std::fs::read_to_string(&key).unwrap();
    for line in key_lines(&key) {
        support::logs::secret(&line);
    }
    let certificate = std::fs::read_to_string(&cert).unwrap();
    let added = app
        .post_json(
            "/api/v1/connections",
            &serde_json::json!({
                "name": "prod", "remote": "https://192.0.2.1:8443",
                "client_cert": certificate, "client_key": pem, "server_cert": certificate,
            }),
        )
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
    let listed = app.get("/api/v1/connections").await;
    for line in key_lines(&key) {
        assert!(!added.body.contains(&line) && !listed.body.contains(&line));
    }
    let record = app.store.connection("prod").await.unwrap().unwrap();
    let stored = record.client_key.clone().unwrap();
    assert!(
        stored.starts_with(&format!("v1:{}:", app.store.sealing_key().unwrap().id())),
        "{stored}"
    );
    assert!(client_for(&app.store, &record).is_ok());
}
