//! The store: one interface over SQLite (default: `berth.db` in the data directory) and
//! PostgreSQL (`--database postgres://…`, several Berth replicas on one database). Snapshots
//! (`snapshots.rs`), accounts, sessions and API tokens (`accounts.rs`), the sign-in limits'
//! counters (`login_limits.rs`), single sign-on's pending sign-ins and external accounts
//! (`oidc.rs`), the audit log (`audit.rs`), leases across replicas (`leases.rs`), migration plans (`plans.rs`, with the rollout step of `rollouts.rs`), the decision log
//! (`decisions.rs`, with its listeners, gaps and captures in `decision_listeners.rs`), and
//! copying a whole store from one database to another (`copy.rs`).
//!
//! One SQL text serves both databases: queries run through sqlx's `Any` driver with numbered
//! placeholders (`$1`, which SQLite reads by number too), and the schemas keep the same columns
//! with the same types (times are Unix milliseconds, flags 0/1 integers). Each database has its
//! own migrations (`migrations/sqlite`, `migrations/postgres`), embedded in the binary and
//! applied at start. A database that a newer Berth has migrated further than this binary knows is
//! refused rather than used: this binary cannot know what the newer schema means.

mod accounts;
mod audit;
mod cache;
mod connections;
pub mod copy;
mod decision_listeners;
mod decisions;
mod leases;
mod login_limits;
mod oidc;
mod plans;
mod rollouts;
mod scriptlets;
mod snapshots;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Once};
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Executor};

use crate::secrets::SecretKey;

pub use accounts::{
    EndedAccess, NewSessionRow, SessionRecord, TokenRecord, UserChange, UserRecord, UserUpdate,
};
pub use audit::{AuditEntry, AuditFilter, NewAuditEntry};
pub use cache::StoredSnapshot;
pub use connections::{ClientKeyChange, ConnectionRecord};
pub use copy::CopyReport;
pub use decision_listeners::{CaptureRow, GapRow, ListenerRow, LiveRevision, NewGap};
pub use decisions::{
    AgreementRow, DecisionCursor, DecisionFilter, DecisionRow, NewDecision, Outcome, PredictionWrite,
};
pub use leases::LeaseGrant;
pub use login_limits::{Admission, AttemptLimit, AttemptScope, Reservation};
pub use oidc::{
    ExternalAccount, ExternalSignIn, ExternalSignInEntries, NewOidcLogin, PendingBounds, PendingOidcLogin,
};
pub use plans::{
    ApprovalLost, ContributorRow, MoveChange, NewPlanRow, PlanCommentRow, PlanMoveRow, PlanRow, PlanWrite,
    PreviewWrite, ReviewFacts, StateChange,
};
pub use rollouts::{PlanRolloutRow, RolloutStart};
pub use scriptlets::{RevisionRow, ScriptletRow};
pub use snapshots::{SnapshotBody, SnapshotRow};

use cache::SnapshotCache;

/// Parsed snapshots kept in memory: each may be a whole large cluster.
const SNAPSHOT_CACHE: usize = 4;

/// Where the store is, declared once for every command that opens it: `--data-dir` (SQLite's
/// `berth.db` goes there) and `--database` (another database).
#[derive(Debug, Clone, clap::Args)]
pub struct StoreArgs {
    /// Directory for Berth's data (the SQLite database `berth.db` unless `--database` says
    /// otherwise); created if missing.
    #[arg(
        id = "data_dir",
        long = "data-dir",
        env = "BERTH_DATA_DIR",
        default_value = "berth-data"
    )]
    pub path: PathBuf,

    /// The database: `sqlite://PATH` or `postgres://USER:PASSWORD@HOST:PORT/DB` (TLS with
    /// `?sslmode=require` or `verify-full`). Default: `berth.db` in the data directory.
    #[arg(id = "database", long = "database", env = "BERTH_DATABASE_URL")]
    pub database: Option<String>,
}

impl StoreArgs {
    /// `--database`, unless absent or empty (an empty `BERTH_DATABASE_URL` means the default).
    fn database(&self) -> Option<&str> {
        self.database.as_deref().filter(|url| !url.trim().is_empty())
    }

    pub fn location(&self) -> Result<DatabaseUrl, StoreError> {
        match self.database() {
            Some(url) => DatabaseUrl::parse(url),
            None => DatabaseUrl::sqlite_in(&self.path),
        }
    }

    pub async fn open(&self) -> Result<Store, StoreError> {
        Store::connect(&self.location()?).await
    }

    /// Where the store is, for messages (never with a password).
    pub fn describe(&self) -> String {
        match self.database() {
            Some(url) => redact(url),
            None => self.path.display().to_string(),
        }
    }

    /// The option that names this store on a command line (for the commands Berth suggests).
    pub fn as_option(&self) -> String {
        match self.database() {
            Some(url) => format!("--database {}", redact(url)),
            None => format!("--data-dir {}", self.path.display()),
        }
    }
}

/// Which database a store is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseKind {
    Sqlite,
    Postgres,
}

/// A database's URL, checked. `Display` leaves out the password.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    url: url::Url,
    kind: DatabaseKind,
}

impl DatabaseUrl {
    pub fn parse(text: &str) -> Result<DatabaseUrl, StoreError> {
        let url = url::Url::parse(text)
            .map_err(|error| StoreError::Location(format!("`{}` is not a URL: {error}", redact(text))))?;
        let kind = match url.scheme() {
            "sqlite" => DatabaseKind::Sqlite,
            "postgres" | "postgresql" => DatabaseKind::Postgres,
            other => {
                return Err(StoreError::Location(format!(
                    "unsupported database `{other}:`; use sqlite://PATH or postgres://…"
                )))
            }
        };
        let mut location = DatabaseUrl { url, kind };
        if kind == DatabaseKind::Sqlite {
            // Created if missing, as the default database is.
            location.url.query_pairs_mut().append_pair("mode", "rwc");
        }
        Ok(location)
    }

    /// `berth.db` in `data_dir` (created if missing).
    pub fn sqlite_in(data_dir: &Path) -> Result<DatabaseUrl, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::DataDir {
            path: data_dir.to_owned(),
            source,
        })?;
        let dir = data_dir.canonicalize().map_err(|source| StoreError::DataDir {
            path: data_dir.to_owned(),
            source,
        })?;
        let mut url = url::Url::parse("sqlite://").expect("a valid URL");
        url.set_path(&dir.join(DATABASE_FILE).to_string_lossy());
        url.set_query(Some("mode=rwc"));
        Ok(DatabaseUrl {
            url,
            kind: DatabaseKind::Sqlite,
        })
    }

    pub fn kind(&self) -> DatabaseKind {
        self.kind
    }
}

impl std::fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&redact(self.url.as_str()))
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

/// A URL with its password replaced, for messages and logs.
fn redact(text: &str) -> String {
    match url::Url::parse(text) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("***"));
            url.to_string()
        }
        Ok(url) => url.to_string(),
        Err(_) => "(unreadable URL)".to_owned(),
    }
}

static SQLITE_MIGRATOR: Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATOR: Migrator = sqlx::migrate!("../migrations/postgres");

fn migrator(kind: DatabaseKind) -> &'static Migrator {
    match kind {
        DatabaseKind::Sqlite => &SQLITE_MIGRATOR,
        DatabaseKind::Postgres => &POSTGRES_MIGRATOR,
    }
}

/// The database file inside the data directory.
pub const DATABASE_FILE: &str = "berth.db";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A client key was to be sealed or opened by a process given no secret key file.
    #[error("this Berth was started without its secret key file, which connections' client keys need")]
    NoSecretKey,
    #[error(transparent)]
    Seal(#[from] crate::secrets::SealError),
    #[error("{0}")]
    Location(String),
    #[error("the destination {0} is not empty ({1}): copy only into a new database")]
    DestinationNotEmpty(String, String),
    #[error("cannot create the data directory {path}: {source}")]
    DataDir { path: PathBuf, source: std::io::Error },
    #[error(
        "the database {location} has schema version {found}, newer than this Berth knows ({known}); \
         it was written by a newer Berth: run that version, or choose another database"
    )]
    SchemaTooNew {
        location: String,
        found: i64,
        known: i64,
    },
    #[error("the store holds something this Berth cannot read: {0}")]
    Corrupt(String),
    #[error("stored snapshot {id} cannot be read: {message}")]
    CorruptSnapshot { id: i64, message: String },
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// How many connections the store's pool holds, how many of those are idle, and its maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUse {
    pub size: u32,
    pub idle: u32,
    pub max_connections: u32,
}

/// A handle to the store; cheap to clone (a connection pool, a shared snapshot cache, and the
/// secret key that seals connections' client keys when the process was given one).
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    kind: DatabaseKind,
    snapshots: Arc<SnapshotCache>,
    sealing_key: Option<Arc<SecretKey>>,
}

impl Store {
    /// Opens (creating if needed) the SQLite database in `data_dir` and brings its schema up to
    /// date.
    pub async fn open(data_dir: &Path) -> Result<Store, StoreError> {
        Store::connect(&DatabaseUrl::sqlite_in(data_dir)?).await
    }

    /// Connects to the database and brings its schema up to date.
    pub async fn connect(location: &DatabaseUrl) -> Result<Store, StoreError> {
        static DRIVERS: Once = Once::new();
        DRIVERS.call_once(sqlx::any::install_default_drivers);
        let options: AnyConnectOptions = location.url.as_str().parse()?;
        let kind = location.kind;
        let pool = AnyPoolOptions::new()
            .max_connections(match kind {
                DatabaseKind::Sqlite => 8,
                DatabaseKind::Postgres => 16,
            })
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |connection, _| {
                Box::pin(async move {
                    if kind == DatabaseKind::Sqlite {
                        // WAL: readers never block the writer, and a crash loses no committed
                        // transaction. Waiting on a busy writer beats failing. `secure_delete`:
                        // a replaced or deleted value (a client key an older Berth stored in the
                        // clear, sealed at start) is overwritten, not left in a free page.
                        connection
                            .execute(
                                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                                 PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; \
                                 PRAGMA secure_delete = ON;",
                            )
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        refuse_newer_schema(&pool, kind, location).await?;
        migrator(kind).run(&pool).await?;
        Ok(Store {
            pool,
            kind,
            snapshots: Arc::new(SnapshotCache::new(SNAPSHOT_CACHE)),
            sealing_key: None,
        })
    }

    /// This store with the secret key of its connections' client keys (the key file's; the
    /// store never holds it). Kept here so that everything holding the store can reach the
    /// key, while only `services/connections.rs` uses it.
    pub fn with_sealing_key(mut self, key: SecretKey) -> Store {
        self.sealing_key = Some(Arc::new(key));
        self
    }

    /// The secret key of connections' client keys.
    pub fn sealing_key(&self) -> Result<&SecretKey, StoreError> {
        self.sealing_key.as_deref().ok_or(StoreError::NoSecretKey)
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// A cheap query that proves the database answers.
    /// The connection pool's use now (for `berth_db_pool_*`).
    pub fn pool_use(&self) -> PoolUse {
        PoolUse {
            size: self.pool.size(),
            idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
            max_connections: self.pool.options().get_max_connections(),
        }
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// The newest schema version this binary can migrate to (both databases have the same).
pub fn known_schema_version() -> i64 {
    SQLITE_MIGRATOR
        .iter()
        .map(|migration| migration.version)
        .max()
        .unwrap_or(0)
}

async fn refuse_newer_schema(
    pool: &AnyPool,
    kind: DatabaseKind,
    location: &DatabaseUrl,
) -> Result<(), StoreError> {
    let has_migrations = match kind {
        DatabaseKind::Sqlite => "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
        DatabaseKind::Postgres => {
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = '_sqlx_migrations'"
        }
    };
    let (tables,): (i64,) = sqlx::query_as(has_migrations).fetch_one(pool).await?;
    if tables == 0 {
        return Ok(());
    }
    let (found,): (Option<i64>,) = sqlx::query_as("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
        .fetch_one(pool)
        .await?;
    let known = known_schema_version();
    match found {
        Some(found) if found > known => Err(StoreError::SchemaTooNew {
            location: location.to_string(),
            found,
            known,
        }),
        _ => Ok(()),
    }
}
