//! `berth connection add|list|remove`: the clusters Berth captures from (and, with plans, moves
//! instances in), configured on the server's machine. The authority is access to the data
//! directory; every change is in the audit log, marked as made on the command line. Exit codes:
//! 0 done, 1 refused (a name taken, an incomplete HTTPS connection, no such connection), 2 usage
//! or a file that cannot be read.

use std::path::{Path, PathBuf};

use anyhow::Context;
use berth_app::types::NewConnection;
use clap::Subcommand;

use crate::audit::Actor;
use crate::auth::{Auth, AuthConfig};
use crate::clock::Clock;
use crate::db::StoreArgs;
use crate::error::AppError;
use crate::services::connections;

#[derive(Debug, Subcommand)]
pub enum ConnectionCommand {
    /// Add a connection: a unix socket, or HTTPS with a client certificate the cluster trusts and
    /// one way to trust the server. The files are read and kept in the store (the key too: every
    /// replica may need it); it is never shown again.
    Add {
        name: String,
        #[command(flatten)]
        connection: ConnectionArgs,
        #[command(flatten)]
        data_dir: StoreArgs,
    },
    /// List connections: name, remote, credential, trust.
    List {
        #[command(flatten)]
        data_dir: StoreArgs,
    },
    /// Remove a connection.
    Remove {
        name: String,
        #[command(flatten)]
        data_dir: StoreArgs,
    },
}

/// Where a cluster is and how Berth proves itself and trusts it: the flags of `berth connection
/// add` and `berth snapshot capture`.
#[derive(Debug, Clone, clap::Args)]
pub struct ConnectionArgs {
    /// `unix:///var/lib/incus/unix.socket` or `https://HOST:PORT`.
    #[arg(long)]
    pub remote: String,
    /// TLS client certificate (PEM) trusted by the cluster; HTTPS only.
    #[arg(long, requires = "client_key")]
    pub client_cert: Option<PathBuf>,
    /// Its private key (PEM); never logged or shown.
    #[arg(long, requires = "client_cert")]
    pub client_key: Option<PathBuf>,
    /// Trust exactly this server certificate (PEM), e.g. the cluster's `cluster.crt`.
    #[arg(long, conflicts_with_all = ["server_fingerprint", "server_ca"])]
    pub server_cert: Option<PathBuf>,
    /// Trust exactly the server certificate with this SHA-256 fingerprint (hex).
    #[arg(long, conflicts_with = "server_ca")]
    pub server_fingerprint: Option<String>,
    /// Verify the server against these CA certificates (PEM), names included.
    #[arg(long)]
    pub server_ca: Option<PathBuf>,
}

impl ConnectionArgs {
    /// The connection named `name`, its files read.
    pub fn read(&self, name: &str) -> anyhow::Result<NewConnection> {
        Ok(NewConnection {
            name: name.to_owned(),
            remote: self.remote.clone(),
            client_cert: read(&self.client_cert)?,
            client_key: read(&self.client_key)?,
            server_cert: read(&self.server_cert)?,
            server_ca: read(&self.server_ca)?,
            server_fingerprint: self.server_fingerprint.clone(),
        })
    }
}

fn read(path: &Option<PathBuf>) -> anyhow::Result<Option<String>> {
    path.as_deref()
        .map(|path: &Path| {
            std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
        })
        .transpose()
}

/// Runs the command; `Ok(1)` when Berth refuses it (the reason on stderr).
pub async fn run(command: ConnectionCommand) -> anyhow::Result<u8> {
    let data_dir = match &command {
        ConnectionCommand::Add { data_dir, .. }
        | ConnectionCommand::List { data_dir }
        | ConnectionCommand::Remove { data_dir, .. } => data_dir,
    };
    let store = data_dir
        .open()
        .await
        .with_context(|| format!("cannot open the store in {}", data_dir.describe()))?;
    let auth = Auth::new(store.clone(), Clock::system(), AuthConfig::default());
    let actor = Actor::command_line();
    let outcome = match command {
        ConnectionCommand::Add { name, connection, .. } => {
            let new = connection.read(&name)?;
            connections::add(&auth, &actor, &new).await.map(|added| {
                println!("added {} ({}, {})", added.name, added.credential, added.trust);
            })
        }
        ConnectionCommand::List { .. } => connections::list(&store).await.map(|list| {
            for connection in list {
                println!(
                    "{}\t{}\t{}\t{}",
                    connection.name, connection.remote, connection.credential, connection.trust
                );
            }
        }),
        ConnectionCommand::Remove { name, .. } => connections::delete(&auth, &actor, &name)
            .await
            .map(|()| println!("removed {name}")),
    };
    match outcome {
        Ok(()) => Ok(0),
        Err(AppError::Store(error)) => Err(error.into()),
        Err(refused) => {
            eprintln!("berth: {refused}");
            Ok(1)
        }
    }
}
