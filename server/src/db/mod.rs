//! The SQLite store: one file, `berth.db`, in the data directory: snapshots (`snapshots.rs`),
//! accounts, sessions and API tokens (`accounts.rs`), the audit log (`audit.rs`).
//!
//! Migrations in `migrations/` are embedded in the binary and applied at start. A database
//! that a newer Berth has migrated further than this binary knows is refused rather than
//! used: this binary cannot know what the newer schema means.

mod accounts;
mod audit;
mod cache;
mod snapshots;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub use accounts::{SessionRecord, TokenRecord, UserChange, UserRecord};
pub use audit::{AuditEntry, AuditFilter, NewAuditEntry};
pub use cache::StoredSnapshot;
pub use snapshots::SnapshotRow;

use cache::SnapshotCache;

/// Parsed snapshots kept in memory: each may be a whole large cluster.
const SNAPSHOT_CACHE: usize = 4;

/// `--data-dir`, declared once for every command that opens the store.
#[derive(Debug, Clone, clap::Args)]
pub struct DataDir {
    /// Directory for Berth's data (the SQLite database `berth.db`); created if missing.
    #[arg(
        id = "data_dir",
        long = "data-dir",
        env = "BERTH_DATA_DIR",
        default_value = "berth-data"
    )]
    pub path: PathBuf,
}

impl DataDir {
    pub async fn open(&self) -> Result<Store, StoreError> {
        Store::open(&self.path).await
    }
}

static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

/// The database file inside the data directory.
pub const DATABASE_FILE: &str = "berth.db";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the data directory {path}: {source}")]
    DataDir { path: PathBuf, source: std::io::Error },
    #[error(
        "the database {path} has schema version {found}, newer than this Berth knows ({known}); \
         it was written by a newer Berth: run that version, or choose another --data-dir"
    )]
    SchemaTooNew { path: PathBuf, found: i64, known: i64 },
    #[error("the store holds something this Berth cannot read: {0}")]
    Corrupt(String),
    #[error("stored snapshot {id} cannot be read: {message}")]
    CorruptSnapshot { id: i64, message: String },
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// A handle to the store; cheap to clone (a connection pool and a shared snapshot cache).
#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
    snapshots: Arc<SnapshotCache>,
}

impl Store {
    /// Opens (creating if needed) the database in `data_dir` and brings its schema up to date.
    pub async fn open(data_dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::DataDir {
            path: data_dir.to_owned(),
            source,
        })?;
        let path = data_dir.join(DATABASE_FILE);
        let options = SqliteConnectOptions::from_str("sqlite://")?
            .filename(&path)
            .create_if_missing(true)
            // WAL: readers never block the writer, and a crash loses no committed transaction.
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        refuse_newer_schema(&pool, &path).await?;
        MIGRATOR.run(&pool).await?;
        Ok(Store {
            pool,
            snapshots: Arc::new(SnapshotCache::new(SNAPSHOT_CACHE)),
        })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// A cheap query that proves the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// The newest schema version this binary can migrate to.
pub fn known_schema_version() -> i64 {
    MIGRATOR
        .iter()
        .map(|migration| migration.version)
        .max()
        .unwrap_or(0)
}

async fn refuse_newer_schema(pool: &SqlitePool, path: &Path) -> Result<(), StoreError> {
    let has_migrations: Option<(String,)> =
        sqlx::query_as("SELECT name FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'")
            .fetch_optional(pool)
            .await?;
    if has_migrations.is_none() {
        return Ok(());
    }
    let (found,): (Option<i64>,) = sqlx::query_as("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
        .fetch_one(pool)
        .await?;
    let known = known_schema_version();
    match found {
        Some(found) if found > known => Err(StoreError::SchemaTooNew {
            path: path.to_owned(),
            found,
            known,
        }),
        _ => Ok(()),
    }
}
