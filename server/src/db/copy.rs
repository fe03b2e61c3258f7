//! Copying a whole store into another database (`berth store copy`): SQLite to PostgreSQL when
//! a team outgrows one process, and back. Every table, every row, the same ids; the
//! destination must be empty. Values are copied as they are stored: connections' client keys
//! stay sealed (the copy opens with the same secret key file). The copy's audit entry is the
//! destination's last row, in the copy's transaction.

use sqlx::any::AnyRow;
use sqlx::{Acquire, Row};

use super::audit::append_in;
use super::{DatabaseKind, NewAuditEntry, Store, StoreError};

/// A column's type, as both schemas declare it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    Integer,
    Text,
}

use ColumnType::{Integer, Text};

/// Every table with its columns, parents before children (foreign keys hold at every insert).
/// `store.rs`'s tests check this against the schema of both databases, so a new column cannot
/// be left behind by a copy.
pub const TABLES: &[(&str, &[(&str, ColumnType)])] = &[
    (
        "users",
        &[
            ("id", Integer),
            ("username", Text),
            ("role", Text),
            ("password_hash", Text),
            ("disabled", Integer),
            ("created_at", Integer),
            ("password_changed_at", Integer),
            ("external_id", Text),
        ],
    ),
    (
        "sessions",
        &[
            ("id_hash", Text),
            ("user_id", Integer),
            ("csrf_token", Text),
            ("created_at", Integer),
            ("last_seen_at", Integer),
            ("address", Text),
        ],
    ),
    (
        "api_tokens",
        &[
            ("id", Integer),
            ("user_id", Integer),
            ("name", Text),
            ("token_hash", Text),
            ("created_at", Integer),
            ("last_used_at", Integer),
            ("revoked_at", Integer),
        ],
    ),
    (
        "oidc_logins",
        &[
            ("state_hash", Text),
            ("browser_hash", Text),
            ("next", Text),
            ("client_address", Text),
            ("created_at", Integer),
        ],
    ),
    (
        "login_limits",
        &[
            ("scope", Text),
            ("name", Text),
            ("window_start", Integer),
            ("attempts", Integer),
            ("refused", Integer),
        ],
    ),
    (
        "snapshots",
        &[
            ("id", Integer),
            ("content_hash", Text),
            ("name", Text),
            ("source_kind", Text),
            ("captured_at", Text),
            ("incus_version", Text),
            ("member_count", Integer),
            ("instance_count", Integer),
            ("body", Text),
            ("stored_at", Text),
        ],
    ),
    (
        "scriptlets",
        &[
            ("id", Integer),
            ("name", Text),
            ("created_by", Text),
            ("created_at", Integer),
        ],
    ),
    (
        "scriptlet_revisions",
        &[
            ("scriptlet_id", Integer),
            ("number", Integer),
            ("source", Text),
            ("message", Text),
            ("author", Text),
            ("created_at", Integer),
        ],
    ),
    (
        "connections",
        &[
            ("name", Text),
            ("remote", Text),
            ("client_cert", Text),
            ("client_key", Text),
            ("server_cert", Text),
            ("server_ca", Text),
            ("server_fingerprint", Text),
            ("created_by", Text),
            ("created_at", Integer),
            ("decision_log", Integer),
        ],
    ),
    (
        "audit_log",
        &[
            ("id", Integer),
            ("at", Integer),
            ("actor_id", Integer),
            ("actor", Text),
            ("kind", Text),
            ("subject", Text),
            ("detail", Text),
            ("address", Text),
        ],
    ),
    (
        "leases",
        &[
            ("name", Text),
            ("holder", Text),
            ("generation", Integer),
            ("acquired_at", Integer),
            ("expires_at", Integer),
        ],
    ),
    (
        "plans",
        &[
            ("id", Integer),
            ("name", Text),
            ("connection", Text),
            ("author", Text),
            ("state", Text),
            ("stop_on_failure", Integer),
            ("required_approvals", Integer),
            ("preview", Text),
            ("preview_snapshot", Integer),
            ("previewed_at", Integer),
            ("superseded", Text),
            ("reverse_of", Integer),
            ("created_at", Integer),
            ("updated_at", Integer),
            ("version", Integer),
            ("snapshot_id", Integer),
        ],
    ),
    (
        "plan_moves",
        &[
            ("plan_id", Integer),
            ("position", Integer),
            ("project", Text),
            ("name", Text),
            ("target_project", Text),
            ("target", Text),
            ("from_member", Text),
            ("state", Text),
            ("detail", Text),
            ("decision", Text),
            ("operation", Text),
            ("started_at", Integer),
            ("finished_at", Integer),
        ],
    ),
    (
        "plan_approvals",
        &[
            ("plan_id", Integer),
            ("username", Text),
            ("approved_at", Integer),
            ("version", Integer),
        ],
    ),
    (
        "plan_contributors",
        &[
            ("plan_id", Integer),
            ("username", Text),
            ("contribution", Text),
            ("at", Integer),
        ],
    ),
    (
        "plan_comments",
        &[
            ("id", Integer),
            ("plan_id", Integer),
            ("position", Integer),
            ("author", Text),
            ("body", Text),
            ("created_at", Integer),
        ],
    ),
    (
        "plan_rollouts",
        &[
            ("plan_id", Integer),
            ("scriptlet_id", Integer),
            ("revision", Integer),
            ("source", Text),
            ("live_at_preview", Text),
            ("impact", Text),
            ("previous", Text),
            ("previous_revision", Integer),
            ("state", Text),
            ("detail", Text),
            ("started_at", Integer),
            ("finished_at", Integer),
        ],
    ),
    (
        "decisions",
        &[
            ("id", Integer),
            ("connection", Text),
            ("at", Integer),
            ("recorded_at", Integer),
            ("updated_at", Integer),
            ("operation", Text),
            ("reason", Text),
            ("project", Text),
            ("instance", Text),
            ("member", Text),
            ("from_project", Text),
            ("from_member", Text),
            ("runs_on", Text),
            ("logs", Text),
            ("seen_later", Integer),
            ("gap_id", Integer),
            ("revision_scriptlet", Integer),
            ("revision", Integer),
            ("request", Text),
            ("snapshot_id", Integer),
            ("predicted_revision", Integer),
            ("predicted_member", Text),
            ("predicted_error", Text),
            ("predicted_candidates", Text),
            ("agrees", Integer),
            ("unpredictable", Text),
            ("predicted_at", Integer),
        ],
    ),
    (
        "decision_gaps",
        &[
            ("id", Integer),
            ("connection", Text),
            ("member", Text),
            ("reason", Text),
            ("detail", Text),
            ("started_at", Integer),
            ("ended_at", Integer),
            ("reconciled_at", Integer),
            ("seen_later", Integer),
        ],
    ),
    (
        "decision_listeners",
        &[
            ("connection", Text),
            ("holder", Text),
            ("state", Text),
            ("since", Integer),
            ("alive_at", Integer),
            ("scriptlet_id", Integer),
        ],
    ),
    (
        "connection_captures",
        &[
            ("connection", Text),
            ("snapshot_id", Integer),
            ("started_at", Integer),
            ("finished_at", Integer),
        ],
    ),
];

/// One value of a row, typed as its column.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Cell {
    Integer(Option<i64>),
    Text(Option<String>),
}

/// How many rows of each table were copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyReport {
    pub tables: Vec<(&'static str, u64)>,
}

impl CopyReport {
    /// `{"TABLE": ROWS, …}`, for the audit log.
    pub fn rows(&self) -> serde_json::Value {
        self.tables
            .iter()
            .map(|(table, rows)| ((*table).to_owned(), serde_json::Value::from(*rows)))
            .collect::<serde_json::Map<_, _>>()
            .into()
    }
}

fn select_all(table: &str, columns: &[(&str, ColumnType)]) -> String {
    let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
    format!("SELECT {} FROM {table} ORDER BY {}", names.join(", "), names[0])
}

fn read_row(row: &AnyRow, columns: &[(&str, ColumnType)]) -> Result<Vec<Cell>, StoreError> {
    columns
        .iter()
        .enumerate()
        .map(|(index, (_, kind))| {
            Ok(match kind {
                Integer => Cell::Integer(row.try_get(index)?),
                Text => Cell::Text(row.try_get(index)?),
            })
        })
        .collect()
}

impl Store {
    /// Every row of `table` (one of [`TABLES`]), ordered by its first column.
    pub async fn table_rows(&self, table: &str) -> Result<Vec<Vec<Cell>>, StoreError> {
        let (_, columns) = TABLES
            .iter()
            .find(|(name, _)| *name == table)
            .ok_or_else(|| StoreError::Location(format!("no table {table}")))?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(select_all(table, columns)))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(|row| read_row(row, columns)).collect()
    }

    /// Every table of this database's schema but the migrations' own (for checking [`TABLES`]).
    pub async fn table_names(&self) -> Result<Vec<String>, StoreError> {
        let query = match self.kind {
            DatabaseKind::Sqlite => {
                "SELECT name FROM sqlite_master WHERE type = 'table'
                 AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations' ORDER BY name"
            }
            DatabaseKind::Postgres => {
                "SELECT table_name::TEXT FROM information_schema.tables
                 WHERE table_schema = current_schema() AND table_name <> '_sqlx_migrations' ORDER BY table_name"
            }
        };
        let names: Vec<(String,)> = sqlx::query_as(query).fetch_all(self.pool()).await?;
        Ok(names.into_iter().map(|(name,)| name).collect())
    }

    /// The columns a table has in this database, by name (for checking [`TABLES`]).
    pub async fn table_columns(&self, table: &str) -> Result<Vec<String>, StoreError> {
        let query = match self.kind {
            DatabaseKind::Sqlite => "SELECT name FROM pragma_table_info($1) ORDER BY cid",
            DatabaseKind::Postgres => {
                "SELECT column_name::TEXT FROM information_schema.columns
                 WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position"
            }
        };
        let names: Vec<(String,)> = sqlx::query_as(query).bind(table).fetch_all(self.pool()).await?;
        Ok(names.into_iter().map(|(name,)| name).collect())
    }

    /// Copies every table of `self` into `destination`, which must hold no rows, in one
    /// transaction that ends with `audit` (its detail gets `rows`, per table): a failed copy
    /// leaves the destination empty.
    pub async fn copy_into(
        &self,
        destination: &Store,
        audit: &NewAuditEntry,
    ) -> Result<CopyReport, StoreError> {
        let mut occupied = Vec::new();
        for (table, _) in TABLES {
            let count: (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
                .fetch_one(destination.pool())
                .await?;
            if count.0 > 0 {
                occupied.push(format!("{} rows in {table}", count.0));
            }
        }
        if !occupied.is_empty() {
            return Err(StoreError::DestinationNotEmpty(
                destination.kind_name().to_owned(),
                occupied.join(", "),
            ));
        }

        let mut connection = destination.pool().acquire().await?;
        let mut transaction = connection.begin().await?;
        let mut report = CopyReport { tables: Vec::new() };
        for (table, columns) in TABLES {
            let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
            let placeholders: Vec<String> = (1..=columns.len()).map(|n| format!("${n}")).collect();
            let insert = format!(
                "INSERT INTO {table} ({}) VALUES ({})",
                names.join(", "),
                placeholders.join(", ")
            );
            let rows = sqlx::query(sqlx::AssertSqlSafe(select_all(table, columns)))
                .fetch_all(self.pool())
                .await?;
            for row in &rows {
                let mut query = sqlx::query(sqlx::AssertSqlSafe(insert.clone()));
                for cell in read_row(row, columns)? {
                    query = match cell {
                        Cell::Integer(value) => query.bind(value),
                        Cell::Text(value) => query.bind(value),
                    };
                }
                query.execute(&mut *transaction).await?;
            }
            report.tables.push((*table, rows.len() as u64));
        }
        if destination.kind == DatabaseKind::Postgres {
            // Identity columns continue after the copied ids.
            for (table, columns) in TABLES {
                if columns[0] == ("id", Integer) {
                    sqlx::query(sqlx::AssertSqlSafe(format!(
                        "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
                         (SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)"
                    )))
                    .execute(&mut *transaction)
                    .await?;
                }
            }
        }
        let mut entry = audit.clone();
        entry.detail["rows"] = report.rows();
        append_in(&mut transaction, &entry).await?;
        transaction.commit().await?;
        Ok(report)
    }

    fn kind_name(&self) -> &'static str {
        match self.kind {
            DatabaseKind::Sqlite => "SQLite database",
            DatabaseKind::Postgres => "PostgreSQL database",
        }
    }
}
