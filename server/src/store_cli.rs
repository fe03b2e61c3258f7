//! `berth store copy --from URL --to URL`: move a deployment between databases (SQLite to
//! PostgreSQL when a team outgrows one process, and back), everything included. The
//! destination is migrated first and must hold no rows; the copy is one transaction.

use anyhow::Context;
use clap::Subcommand;

use crate::db::{DatabaseUrl, Store};

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Copy every table (users, sessions, API tokens, snapshots, the audit log) into an empty
    /// database. Stop the Berth using the source first: what it writes during the copy is not
    /// copied.
    Copy {
        /// The database to copy: `sqlite://PATH` or `postgres://…`.
        #[arg(long)]
        from: String,
        /// The database to fill; created tables, no rows.
        #[arg(long)]
        to: String,
    },
}

pub async fn run(command: StoreCommand) -> anyhow::Result<()> {
    let StoreCommand::Copy { from, to } = command;
    let (from, to) = (DatabaseUrl::parse(&from)?, DatabaseUrl::parse(&to)?);
    anyhow::ensure!(from != to, "--from and --to are the same database");
    let source = Store::connect(&from)
        .await
        .with_context(|| format!("cannot open {from}"))?;
    let destination = Store::connect(&to)
        .await
        .with_context(|| format!("cannot open {to}"))?;
    let report = source
        .copy_into(&destination)
        .await
        .with_context(|| format!("cannot copy {from} into {to}"))?;
    for (table, rows) in &report.tables {
        println!("{table}\t{rows}");
    }
    eprintln!("copied {from} into {to}");
    source.close().await;
    destination.close().await;
    Ok(())
}
