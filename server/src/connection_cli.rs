//! `berth connection add|list|set|remove|rekey`: the clusters Berth captures from (and, with plans,
//! moves instances in), configured on the server's machine. The authority is access to the data
//! directory and the secret key file; every change is in the audit log, marked as made on the
//! command line. Exit codes: 0 done, 1 refused (a name taken, an incomplete HTTPS connection,
//! no such connection, a key that does not open), 2 usage or a file that cannot be read.
//!
//! [`open_secret_key`] is what every command handling client keys (`serve`, `berth plan …`,
//! these) does first: the key file read (or created), keys in the clear sealed.

use std::path::{Path, PathBuf};

use anyhow::Context;
use berth_app::types::NewConnection;
use clap::Subcommand;

use crate::audit::{Actor, Audit};
use crate::auth::{Auth, AuthConfig};
use crate::clock::Clock;
use crate::db::{Store, StoreArgs};
use crate::error::AppError;
use crate::secrets::key_file::{self, SecretKeyArgs};
use crate::secrets::SecretKey;
use crate::services::connections::{self, KeyCheck};

#[derive(Debug, Subcommand)]
pub enum ConnectionCommand {
    /// Add a connection: a unix socket, or HTTPS with a client certificate the cluster trusts and
    /// one way to trust the server. The files are read and kept in the store (the key sealed with
    /// the secret key file: every replica may need it); it is never shown again.
    Add {
        name: String,
        #[command(flatten)]
        connection: ConnectionArgs,
        /// Record every placement the cluster makes from now on (the decision log): `berth
        /// serve` listens to its events.
        #[arg(long)]
        decision_log: bool,
        #[command(flatten)]
        store: KeyedStoreArgs,
    },
    /// List connections: name, remote, credential, trust (and `decision log` when it is on).
    List {
        #[command(flatten)]
        store: KeyedStoreArgs,
    },
    /// Change a connection: turn its decision log on or off.
    Set {
        name: String,
        /// `on`: `berth serve` records every placement the cluster makes; `off`: it stops.
        #[arg(long, value_name = "on|off", value_parser = ["on", "off"])]
        decision_log: String,
        #[command(flatten)]
        store: KeyedStoreArgs,
    },
    /// Remove a connection.
    Remove {
        name: String,
        #[command(flatten)]
        store: KeyedStoreArgs,
    },
    /// Seal every connection's client key again under a new secret key, in one transaction. By
    /// default a new key replaces the secret key file, whose old key is kept as FILE.old; stop
    /// every Berth using the store first, and give every replica the new file.
    Rekey {
        /// Seal with the key in this file instead (a new key is written there when it does not
        /// exist) and leave the current file as it is; then start Berth with this file.
        #[arg(long, value_name = "FILE")]
        new_key_file: Option<PathBuf>,
        #[command(flatten)]
        store: KeyedStoreArgs,
    },
}

/// The store and its secret key file.
#[derive(Debug, Clone, clap::Args)]
pub struct KeyedStoreArgs {
    #[command(flatten)]
    pub data_dir: StoreArgs,
    #[command(flatten)]
    pub secret_key: SecretKeyArgs,
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
            decision_log: false,
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

/// The store with its secret key: the key file read (created, mode 0600, when missing and
/// nothing in the store is sealed), and every client key an older Berth stored in the clear
/// sealed with it. The check says which stored keys do not open with this file.
pub async fn open_secret_key(
    store: Store,
    data_dir: &StoreArgs,
    args: &SecretKeyArgs,
) -> anyhow::Result<(Store, KeyCheck)> {
    let sealed_with = store.client_key_sealers().await?;
    let (key, created) = args.read_or_create(data_dir, &sealed_with)?;
    if created {
        tracing::info!(
            secret_key.file = %args.path(data_dir).display(),
            secret_key.id = key.id(),
            "created the secret key file: give every replica this file and keep a copy apart from the database's backups"
        );
    }
    let (store, check) = connections::unlock(store, key, Clock::system())
        .await
        .map_err(|error| anyhow::anyhow!("cannot seal the connections' client keys: {error}"))?;
    for name in &check.sealed {
        tracing::info!(
            connection = name,
            "sealed a client key an older Berth stored in the clear"
        );
    }
    Ok((store, check))
}

/// Runs the command; `Ok(1)` when Berth refuses it (the reason on stderr).
pub async fn run(command: ConnectionCommand) -> anyhow::Result<u8> {
    let keyed = match &command {
        ConnectionCommand::Add { store, .. }
        | ConnectionCommand::List { store }
        | ConnectionCommand::Set { store, .. }
        | ConnectionCommand::Remove { store, .. }
        | ConnectionCommand::Rekey { store, .. } => store.clone(),
    };
    let data_dir = &keyed.data_dir;
    let store = data_dir
        .open()
        .await
        .with_context(|| format!("cannot open the store in {}", data_dir.describe()))?;
    // Listing and removing need no client key: a lost or wrong key file must not keep anyone
    // from removing the connections it cannot open. Adding with a wrong key would seal the
    // store's keys with two keys.
    let needs_key = matches!(
        command,
        ConnectionCommand::Add { .. } | ConnectionCommand::Rekey { .. }
    );
    let (store, check) = match open_secret_key(store.clone(), data_dir, &keyed.secret_key).await {
        Ok(opened) => opened,
        Err(error) if !needs_key => {
            eprintln!("berth: warning: {error:#}");
            (store, KeyCheck::default())
        }
        Err(error) => return Err(error),
    };
    for unreadable in &check.unreadable {
        eprintln!("berth: warning: {unreadable}");
    }
    if needs_key && !check.unreadable.is_empty() {
        eprintln!("berth: nothing was changed: every stored client key must open with the key file first");
        return Ok(1);
    }
    let auth = Auth::new(store.clone(), Clock::system(), AuthConfig::default());
    let actor = Actor::command_line();
    let outcome = match command {
        ConnectionCommand::Add {
            name,
            connection,
            decision_log,
            ..
        } => {
            let mut new = connection.read(&name)?;
            new.decision_log = decision_log;
            connections::add(&auth, &actor, &new).await.map(|added| {
                let log = if added.decision_log {
                    ", decision log on"
                } else {
                    ""
                };
                println!(
                    "added {} ({}, {}{log})",
                    added.name, added.credential, added.trust
                );
            })
        }
        ConnectionCommand::List { .. } => connections::list(&store).await.map(|list| {
            for connection in list {
                // The decision log's column only when it is on: the four columns stay as
                // scripts read them.
                let log = if connection.decision_log {
                    "\tdecision log"
                } else {
                    ""
                };
                println!(
                    "{}\t{}\t{}\t{}{log}",
                    connection.name, connection.remote, connection.credential, connection.trust
                );
            }
        }),
        ConnectionCommand::Set {
            name, decision_log, ..
        } => {
            let on = decision_log == "on";
            connections::set_decision_log(&auth, &actor, &name, on)
                .await
                .map(|changed| {
                    let state = if changed.decision_log { "on" } else { "off" };
                    println!("{}: decision log {state}", changed.name);
                })
        }
        ConnectionCommand::Remove { name, .. } => connections::delete(&auth, &actor, &name)
            .await
            .map(|()| println!("removed {name}")),
        ConnectionCommand::Rekey { new_key_file, .. } => {
            return rekey(&store, &keyed, new_key_file.as_deref()).await;
        }
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

/// `berth connection rekey`: the new key is in a file before the database is sealed with it,
/// and the current file is replaced (its key kept beside it) only after the database is.
async fn rekey(store: &Store, keyed: &KeyedStoreArgs, new_key_file: Option<&Path>) -> anyhow::Result<u8> {
    let current_path = keyed.secret_key.path(&keyed.data_dir);
    let current_id = store.sealing_key()?.id().to_owned();
    // The new key, read back from its file; and the file to remove if the database refuses.
    let (new_key, written) = match new_key_file {
        Some(path) if path.exists() => (key_file::read(path)?, None),
        Some(path) => {
            key_file::write_new(path, &SecretKey::generate())?;
            (key_file::read(path)?, Some(path.to_owned()))
        }
        None => {
            let staged = key_file::stage(&current_path, &SecretKey::generate())?;
            (key_file::read(&staged)?, Some(staged))
        }
    };
    if new_key.id() == current_id {
        eprintln!(
            "berth: {} holds the current key: name a file with another key, or a new file",
            new_key.describe()
        );
        return Ok(1);
    }
    let audit = Audit::new(store.clone(), Clock::system());
    let sealed = match connections::rekey(store, &audit, &Actor::command_line(), &new_key).await {
        Ok(sealed) => sealed,
        Err(error) => {
            if let Some(path) = &written {
                key_file::remove_if_present(path)?;
            }
            return match error {
                AppError::Store(error) => Err(error.into()),
                refused => {
                    eprintln!("berth: {refused}");
                    Ok(1)
                }
            };
        }
    };
    match new_key_file {
        Some(path) => println!(
            "sealed {sealed} client keys with key {} of {}; start Berth with --secret-key-file {} \
             (the key in {} opens none of them now)",
            new_key.id(),
            path.display(),
            path.display(),
            current_path.display()
        ),
        None => {
            let old = key_file::install(&current_path)?;
            println!(
                "sealed {sealed} client keys with the new key {} in {}; the previous key \
                 {current_id} is kept in {} (it opens none of them now)",
                new_key.id(),
                current_path.display(),
                old.display()
            );
        }
    }
    eprintln!(
        "Give every replica the new key file; a Berth running now still holds the previous key: restart it."
    );
    Ok(0)
}
