//! `berth decisions list|tail|replay`: the decision log on the server's machine, read from the
//! store (`berth serve` records it). `list` prints a page of decisions (newest first; `--json`:
//! `/api/v1/decisions`'s answer), `tail` each decision as it is recorded and predicted until
//! Ctrl-C, `replay` the recorded decisions a filter selects against another revision, printed as
//! `berth impact` prints a replay. Exit codes: 0 done, 1 a revision that does not compile, 2
//! usage or IO errors.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use berth_app::types::{DecisionQuery, LoggedDecision};
use clap::Subcommand;

use crate::db::StoreArgs;
use crate::error::AppError;
use crate::sandbox::{Sandbox, SandboxArgs, SimulationArgs};
use crate::services::decisions::{self, ReplayRequest, Tail};
use crate::services::impact::RevisionRef;

#[derive(Debug, Subcommand)]
pub enum DecisionsCommand {
    /// The recorded decisions, newest first: one line each (`--json`: the API's document).
    List {
        #[command(flatten)]
        filter: FilterArgs,
        /// At most this many (default 50, at most 500).
        #[arg(long)]
        limit: Option<u32>,
        /// Continue after a page (its `next`).
        #[arg(long)]
        cursor: Option<String>,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Each decision as it is recorded, then again when it is predicted (Ctrl-C ends).
    Tail {
        #[command(flatten)]
        filter: FilterArgs,
        /// One JSON document per line.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Replays recorded decisions against another revision: the decisions that change, then
    /// `N instances, C changed, E new errors` (as `berth impact`).
    Replay {
        /// The revision: `SCRIPTLET_ID/NUMBER` (a saved revision) or a scriptlet file.
        #[arg(long)]
        revision: String,
        /// Which decisions: `KEY=VALUE` with `connection`, `project`, `member`, `instance`,
        /// `reason`, `outcome`, `since`, `until` (repeatable).
        #[arg(long = "filter", value_name = "KEY=VALUE")]
        filters: Vec<String>,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        sandbox: SandboxArgs,
        #[command(flatten)]
        simulation: SimulationArgs,
    },
}

/// The filters `list` and `tail` take as options.
#[derive(Debug, Clone, clap::Args)]
pub struct FilterArgs {
    /// The connection whose decisions to show.
    #[arg(long)]
    pub connection: Option<String>,
    #[arg(long)]
    pub project: Option<String>,
    /// Where instances landed.
    #[arg(long)]
    pub member: Option<String>,
    #[arg(long)]
    pub instance: Option<String>,
    /// `new`, `relocation`, `evacuation`, `restore`, `rebalance`.
    #[arg(long)]
    pub reason: Option<String>,
    /// `agrees`, `differs`, `unpredicted`, `pending`.
    #[arg(long)]
    pub outcome: Option<String>,
    /// From this time (RFC 3339 or `YYYY-MM-DD`).
    #[arg(long)]
    pub since: Option<String>,
    /// Until this time (a date: its whole day).
    #[arg(long)]
    pub until: Option<String>,
}

impl FilterArgs {
    fn query(&self) -> DecisionQuery {
        DecisionQuery {
            connection: self.connection.clone(),
            project: self.project.clone(),
            member: self.member.clone(),
            instance: self.instance.clone(),
            reason: self.reason.clone(),
            outcome: self.outcome.clone(),
            since: self.since.clone(),
            until: self.until.clone(),
            limit: None,
            cursor: None,
        }
    }
}

/// The query `--filter KEY=VALUE …` names.
fn query_of(filters: &[String]) -> anyhow::Result<DecisionQuery> {
    let mut query = DecisionQuery::default();
    for filter in filters {
        let (key, value) = filter
            .split_once('=')
            .with_context(|| format!("--filter {filter}: KEY=VALUE"))?;
        let value = Some(value.to_owned());
        match key {
            "connection" => query.connection = value,
            "project" => query.project = value,
            "member" => query.member = value,
            "instance" => query.instance = value,
            "reason" => query.reason = value,
            "outcome" => query.outcome = value,
            "since" => query.since = value,
            "until" => query.until = value,
            other => anyhow::bail!(
                "--filter {other}=…: connection, project, member, instance, reason, outcome, since or until"
            ),
        }
    }
    Ok(query)
}

pub async fn run(command: DecisionsCommand) -> anyhow::Result<u8> {
    match command {
        DecisionsCommand::List {
            filter,
            limit,
            cursor,
            json,
            store,
        } => {
            let opened = open(&store).await?;
            let query = DecisionQuery {
                limit,
                cursor,
                ..filter.query()
            };
            let page = decisions::list(&opened, &query).await.map_err(refused)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&page)?);
            } else {
                for decision in &page.decisions {
                    println!("{}", line(decision));
                }
                if let Some(next) = &page.next {
                    println!("more: --cursor {next}");
                }
            }
            Ok(0)
        }
        DecisionsCommand::Tail { filter, json, store } => {
            let opened = open(&store).await?;
            let mut tail = Tail::from_now(&opened, &filter.query()).await.map_err(refused)?;
            loop {
                for decision in tail.next(&opened).await.map_err(refused)? {
                    if json {
                        println!("{}", serde_json::to_string(&decision)?);
                    } else {
                        println!("{}", line(&decision));
                    }
                }
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => return Ok(0),
                    () = tokio::time::sleep(Duration::from_millis(250)) => {}
                }
            }
        }
        DecisionsCommand::Replay {
            revision,
            filters,
            json,
            store,
            sandbox,
            simulation,
        } => {
            let opened = open(&store).await?;
            let request = ReplayRequest {
                revision: revision_of(&revision)?,
                filter: query_of(&filters)?,
            };
            let program = std::env::current_exe().context("cannot find the berth executable")?;
            let workers = Sandbox::new(sandbox.config_with(program, &simulation));
            match decisions::replay(&opened, &workers, &request).await {
                Ok(impact) => {
                    crate::impact_cli::print(&impact, json)?;
                    Ok(0)
                }
                Err(AppError::Scriptlet(diagnostic)) => {
                    eprintln!("{}", diagnostic.to_line(&revision));
                    Ok(1)
                }
                Err(error) => Err(refused(error)),
            }
        }
    }
}

async fn open(store: &StoreArgs) -> anyhow::Result<crate::db::Store> {
    store
        .open()
        .await
        .with_context(|| format!("cannot open the store in {}", store.describe()))
}

fn refused(error: AppError) -> anyhow::Error {
    anyhow::anyhow!("{error}")
}

/// `4/3` (scriptlet 4, revision 3), or a file's text.
fn revision_of(text: &str) -> anyhow::Result<RevisionRef> {
    if let Some((scriptlet, number)) = text.split_once('/') {
        if let (Ok(scriptlet), Ok(revision)) = (scriptlet.parse(), number.parse()) {
            return Ok(RevisionRef::Saved { scriptlet, revision });
        }
    }
    let path = PathBuf::from(text);
    let source = std::fs::read_to_string(&path)
        .with_context(|| format!("--revision {text}: neither SCRIPTLET/NUMBER nor a readable file"))?;
    Ok(RevisionRef::Source { source })
}

/// `TIME CONNECTION PROJECT/INSTANCE REASON → MEMBER  OUTCOME (revision N)`, and the
/// scriptlet's lines below, indented.
fn line(decision: &LoggedDecision) -> String {
    let outcome = match (&decision.predicted, decision.agrees) {
        (_, Some(true)) => "agrees".to_owned(),
        (Some(predicted), Some(false)) => format!(
            "differs: Berth predicted {}",
            predicted
                .member
                .clone()
                .or_else(|| predicted.error.clone())
                .unwrap_or_default()
        ),
        (Some(predicted), None) => predicted.error.clone().unwrap_or_else(|| "not predicted".into()),
        (None, _) => "pending".to_owned(),
    };
    let revision = decision
        .revision
        .as_ref()
        .map(|r| format!(" (revision {} of {})", r.number, r.name))
        .unwrap_or_default();
    let seen_later = if decision.seen_later { " [seen later]" } else { "" };
    let mut text = format!(
        "{} {} {}/{} {} → {}  {outcome}{revision}{seen_later}",
        decision.time,
        decision.connection,
        decision.project,
        decision.instance,
        decision.reason,
        decision.member.as_deref().unwrap_or("?"),
    );
    for log in &decision.logs {
        text.push_str(&format!("\n    {}: {}", log.level, log.message));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_revision_is_a_saved_one_or_a_file() {
        assert!(matches!(
            revision_of("4/3").unwrap(),
            RevisionRef::Saved {
                scriptlet: 4,
                revision: 3
            }
        ));
        assert!(revision_of("/nowhere/x.star").is_err());
    }

    #[test]
    fn filters_are_the_apis() {
        let query = query_of(&["connection=lab".into(), "outcome=differs".into()]).unwrap();
        assert_eq!(query.connection.as_deref(), Some("lab"));
        assert_eq!(query.outcome.as_deref(), Some("differs"));
        assert!(query_of(&["colour=red".into()]).is_err());
        assert!(query_of(&["connection".into()]).is_err());
    }
}
