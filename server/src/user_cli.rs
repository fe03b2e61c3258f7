//! `berth user add|list|set-role|passwd`: accounts managed on the server's machine. The
//! authority is access to the data directory; every change is in the audit log, marked as
//! made on the command line.

use std::io::{BufRead, IsTerminal};

use anyhow::Context;
use berth_core::access::Role;
use clap::Subcommand;

use crate::audit::Actor;
use crate::auth::{Auth, AuthConfig};
use crate::clock::{rfc3339, Clock};
use crate::db::StoreArgs;

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user. The password is asked for on a terminal, else read from stdin's first line.
    Add {
        name: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// Read the password from stdin's first line even on a terminal.
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        data_dir: StoreArgs,
    },
    /// List users: name, role, state.
    List {
        #[command(flatten)]
        data_dir: StoreArgs,
    },
    /// Change a user's role.
    SetRole {
        name: String,
        #[arg(value_parser = parse_role)]
        role: Role,
        #[command(flatten)]
        data_dir: StoreArgs,
    },
    /// Set a user's password (ends their sessions, revokes their API tokens). Asked for on a
    /// terminal, else read from stdin.
    Passwd {
        name: String,
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        data_dir: StoreArgs,
    },
}

fn parse_role(name: &str) -> Result<Role, String> {
    name.parse()
        .map_err(|error: berth_core::access::UnknownRole| error.to_string())
}

pub async fn run(command: UserCommand) -> anyhow::Result<()> {
    let data_dir = match &command {
        UserCommand::Add { data_dir, .. }
        | UserCommand::List { data_dir }
        | UserCommand::SetRole { data_dir, .. }
        | UserCommand::Passwd { data_dir, .. } => data_dir,
    };
    let store = data_dir
        .open()
        .await
        .with_context(|| format!("cannot open the store in {}", data_dir.describe()))?;
    let auth = Auth::new(store.clone(), Clock::system(), AuthConfig::default());
    let actor = Actor::command_line();
    match command {
        UserCommand::Add {
            name,
            role,
            password_stdin,
            ..
        } => {
            let password = read_password(&format!("Password for {name}: "), password_stdin)?;
            auth.add_user(&actor, &name, role, &password).await?;
            println!("added {name} ({role})");
        }
        UserCommand::List { .. } => {
            for user in auth.list_users().await? {
                let state = if user.disabled { "disabled" } else { "active" };
                println!(
                    "{}\t{}\t{state}\tsince {}",
                    user.username,
                    user.role,
                    rfc3339(user.created_at)
                );
            }
        }
        UserCommand::SetRole { name, role, .. } => {
            auth.change_user(&actor, &name, Some(role), None, None).await?;
            println!("{name} is now {role}");
        }
        UserCommand::Passwd {
            name, password_stdin, ..
        } => {
            let password = read_password(&format!("New password for {name}: "), password_stdin)?;
            auth.change_user(&actor, &name, None, None, Some(&password))
                .await?;
            println!(
                "password of {name} changed; their sessions have ended and their API tokens are revoked"
            );
        }
    }
    store.close().await;
    Ok(())
}

/// A password: asked twice without echo on a terminal, otherwise stdin's first line.
fn read_password(prompt: &str, from_stdin: bool) -> anyhow::Result<String> {
    if !from_stdin && std::io::stdin().is_terminal() {
        let password = rpassword::prompt_password(prompt).context("cannot read the password")?;
        let again = rpassword::prompt_password("Again: ").context("cannot read the password")?;
        anyhow::ensure!(password == again, "the two passwords differ");
        return Ok(password);
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from stdin")?;
    let password = line.trim_end_matches(['\n', '\r']).to_owned();
    anyhow::ensure!(!password.is_empty(), "no password on stdin");
    Ok(password)
}
