//! `berth store copy --from URL --to URL`: move a deployment between databases (SQLite to
//! PostgreSQL when a team outgrows one process, and back), everything included. The
//! destination is migrated first and must hold no rows; the copy is one transaction. Both
//! stores record it (`store.copied`, by the command line): the destination in the copy's
//! transaction, the source once the copy is committed, so a copy of a store never goes
//! unnoticed in it.

use anyhow::Context;
use clap::Subcommand;
use serde_json::json;

use crate::audit::{Actor, Audit, AuditKind};
use crate::clock::Clock;
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
    // URLs as `Display` shows them: never with a password.
    let detail = json!({ "from": from.to_string(), "to": to.to_string() });
    let actor = Actor::command_line();
    let entry = Audit::new(destination.clone(), Clock::system()).entry(
        &actor,
        AuditKind::StoreCopied,
        None,
        detail.clone(),
    );
    let report = source
        .copy_into(&destination, &entry)
        .await
        .with_context(|| format!("cannot copy {from} into {to}"))?;
    let mut detail = detail;
    detail["rows"] = report.rows();
    Audit::new(source.clone(), Clock::system())
        .record(&actor, AuditKind::StoreCopied, None, detail)
        .await
        .with_context(|| format!("copied, but cannot record the copy in {from}'s audit log"))?;
    for (table, rows) in &report.tables {
        println!("{table}\t{rows}");
    }
    eprintln!("copied {from} into {to}");
    source.close().await;
    destination.close().await;
    Ok(())
}
