//! `berth snapshot capture|import|export|list`: snapshots between clusters, files and the store.
//! Importing is audited with the snapshot; an export with the secrets (without `--redact`) is
//! audited as the web's is, marked as made on the command line.

use std::path::{Path, PathBuf};

use anyhow::Context;
use berth_core::Snapshot;

use crate::audit::{Actor, Audit, AuditKind};
use crate::capture::capture;
use crate::clock::Clock;
use crate::connection_cli::ConnectionArgs;
use crate::db::StoreArgs;
use crate::incus::IncusClient;
use crate::services::connections;

#[derive(Debug, clap::Subcommand)]
pub enum SnapshotCommand {
    /// Read a live cluster into a snapshot file.
    Capture(CaptureArgs),
    /// Validate a snapshot file and store it (once: snapshots are identified by content).
    Import {
        file: PathBuf,
        #[command(flatten)]
        data_dir: StoreArgs,
    },
    /// Write a stored snapshot to a file.
    Export {
        /// A snapshot id (see `berth snapshot list`) or `latest`.
        snapshot: String,
        /// Where to write; `-` for standard output.
        #[arg(short, long, default_value = "-")]
        output: PathBuf,
        /// Replace the values of secret-looking config keys (cloud-init.*, environment.*, keys
        /// containing secret, password, token or key), keeping keys and sizes.
        #[arg(long)]
        redact: bool,
        #[command(flatten)]
        data_dir: StoreArgs,
    },
    /// Write the built-in demo snapshot, or a deterministic scaled copy of it, to a file
    /// (`scripts/scale-snapshots.sh`: the snapshots Berth's performance is measured on).
    #[command(hide = true)]
    Demo(DemoArgs),
    /// List stored snapshots, newest capture first.
    List {
        #[command(flatten)]
        data_dir: StoreArgs,
    },
}

#[derive(Debug, Clone, clap::Args)]
pub struct CaptureArgs {
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Where to write the snapshot; `-` for standard output.
    #[arg(short, long)]
    pub output: PathBuf,
}

#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// Members of the scaled copy (at least the demo's 14); without it, the demo itself.
    #[arg(long, requires = "instances")]
    pub members: Option<usize>,
    /// Instances of the scaled copy.
    #[arg(long, requires = "members")]
    pub instances: Option<usize>,
    /// The scaled copy's seed (which replica each copied instance lands on, member memory).
    /// With 3, the 100/5,000 copy has an online member with 59 instances (`hv-b02-r02`) and the
    /// 300/20,000 one with 70 (`hv-a01-r12`): the evacuations of issue 7.
    #[arg(long, default_value_t = 3)]
    pub seed: u64,
    /// Where to write the snapshot; `-` for standard output.
    #[arg(short, long, default_value = "-")]
    pub output: PathBuf,
}

pub async fn run(command: SnapshotCommand) -> anyhow::Result<()> {
    match command {
        SnapshotCommand::Capture(args) => {
            let client = connect(&args)?;
            let captured_at = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
            let snapshot = capture(&client, &args.connection.remote, captured_at).await?;
            write(&snapshot, &args.output)?;
            eprintln!(
                "captured {} members, {} instances ({} requests failed) from {}",
                snapshot.members.len(),
                snapshot.instances.len(),
                snapshot.capture_errors.len(),
                args.connection.remote
            );
        }
        SnapshotCommand::Import { file, data_dir } => {
            let text =
                std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let snapshot = Snapshot::from_json(&text)
                .with_context(|| format!("{} is not a usable snapshot", file.display()))?;
            let store = data_dir.open().await?;
            let entry =
                Audit::new(store.clone(), Clock::system()).snapshot_added(&Actor::command_line(), &snapshot);
            let (id, new) = store.insert_snapshot(&snapshot, &entry).await?;
            println!("{id}");
            eprintln!(
                "{} snapshot {id}",
                if new { "stored as" } else { "already stored as" }
            );
        }
        SnapshotCommand::Export {
            snapshot,
            output,
            redact,
            data_dir,
        } => {
            let store = data_dir.open().await?;
            let id = match snapshot.as_str() {
                "latest" => store
                    .list_snapshots()
                    .await?
                    .first()
                    .map(|row| row.id)
                    .context("no snapshot is stored")?,
                text => text
                    .parse()
                    .with_context(|| format!("{text:?} is not a snapshot id or `latest`"))?,
            };
            let stored = store
                .load_snapshot(id)
                .await?
                .with_context(|| format!("there is no snapshot {id}"))?;
            let stored = if redact {
                let (redacted, count) = stored.redacted();
                eprintln!("redacted {count} values");
                redacted
            } else {
                Audit::new(store.clone(), Clock::system())
                    .record(
                        &Actor::command_line(),
                        AuditKind::SnapshotExported,
                        Some(&stored.source.name),
                        serde_json::json!({
                            "snapshot_id": id,
                            "content_hash": stored.content_hash(),
                            "redacted": false,
                        }),
                    )
                    .await?;
                stored
            };
            write(&stored, &output)?;
        }
        SnapshotCommand::Demo(args) => {
            let snapshot = match (args.members, args.instances) {
                (Some(members), Some(instances)) => {
                    berth_core::demo::scale::scaled(members, instances, args.seed)
                }
                _ => berth_core::demo::demo_snapshot(),
            };
            write(&snapshot, &args.output)?;
        }
        SnapshotCommand::List { data_dir } => {
            let store = data_dir.open().await?;
            for row in store.list_snapshots().await? {
                println!(
                    "{}\t{}\t{}\tIncus {}\t{} members\t{} instances\t{}",
                    row.id,
                    row.captured_at,
                    row.source_kind,
                    row.incus_version,
                    row.member_count,
                    row.instance_count,
                    row.name
                );
            }
        }
    }
    Ok(())
}

/// The client for the cluster the flags name (the same checks as a stored connection's).
fn connect(args: &CaptureArgs) -> anyhow::Result<IncusClient> {
    let connection = args.connection.read("command line")?;
    connections::client_of(&connection).map_err(|refused| anyhow::anyhow!("{refused}"))
}

fn write(snapshot: &Snapshot, output: &Path) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(snapshot)?;
    if output == Path::new("-") {
        println!("{text}");
        return Ok(());
    }
    std::fs::write(output, text + "\n").with_context(|| format!("cannot write {}", output.display()))
}
