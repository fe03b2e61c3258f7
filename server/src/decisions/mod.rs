//! The decision log on the server: for each connection with the log on, one listener across
//! all replicas (the holder of the lease `decisions:NAME`) keeps the cluster's event stream
//! open, records every placement the cluster makes with the scriptlet's lines, predicts each
//! with Berth's simulator, and records every time the stream was not held as a gap that a
//! capture then reconciles.
//!
//! - this file: [`DecisionLog`], which `serve` starts: it looks for connections with the log
//!   on every few seconds, runs a listener for those whose lease it gets, stops them when the
//!   log is turned off or Berth shuts down, and prunes what is older than the retention;
//! - `options.rs`: `--decision-capture-interval`, `--decision-retention`;
//! - `listener.rs`: one connection's listener (its streams, its lease, its gaps);
//! - `streams.rs`: the event streams of one connection (one member's socket, or every
//!   member's HTTPS endpoint), reconnected with backoff;
//! - `recorder.rs`: the tracker's placements written to the store in batches, with the
//!   revision that ran (what the ingest benchmark measures);
//! - `captures.rs`: captures through a connection, stored, with the cluster's scriptlet kept
//!   as a revision;
//! - `reconcile.rs`: a gap closed by a capture: instances seen later;
//! - `predict.rs`: each decision's prediction, in the authors' sandbox workers.
//!
//! Like the plan executor, this imports nothing from the services: they call it.

mod captures;
mod listener;
mod options;
pub mod predict;
mod reconcile;
pub mod recorder;
mod streams;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use crate::auth::Auth;
use crate::sandbox::Sandbox;

pub use captures::keep_capture;
pub use options::DecisionArgs;

/// How often `serve` looks for connections to listen to (after a replica died, or an admin
/// turned a log on).
const LOOK_EVERY: Duration = Duration::from_secs(2);
/// How often what is older than the retention is removed.
const PRUNE_EVERY: Duration = Duration::from_secs(600);

/// Why a listener stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Keep going.
    Run,
    /// An admin turned the log off: no gap.
    Disabled,
    /// Berth shuts down: the next start records a gap from now.
    Shutdown,
}

/// What the listeners of this process share.
pub struct DecisionLog {
    auth: Auth,
    /// The authors' workers: predictions wait behind authors, never behind plans.
    sandbox: Arc<Sandbox>,
    options: DecisionArgs,
    /// This process, as lease holder.
    holder: String,
    /// The listeners running here, each with the switch that stops it.
    running: Mutex<HashMap<String, Running>>,
}

/// A listener running here: the switch that stops it, and its task.
type Running = (watch::Sender<Stop>, tokio::task::JoinHandle<()>);

impl DecisionLog {
    pub fn new(auth: Auth, sandbox: Arc<Sandbox>, options: DecisionArgs) -> Arc<DecisionLog> {
        let mut nonce = [0u8; 6];
        getrandom::fill(&mut nonce).expect("the OS has randomness");
        Arc::new(DecisionLog {
            auth,
            sandbox,
            options,
            holder: format!("{}-{}", std::process::id(), hex::encode(nonce)),
            running: Mutex::new(HashMap::new()),
        })
    }

    /// This process's name as a lease holder.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// Looks for connections to listen to every few seconds, and prunes now and then.
    pub fn spawn(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let log = self.clone();
        tokio::spawn(async move {
            let mut pruned_at: Option<tokio::time::Instant> = None;
            loop {
                if let Err(error) = log.look().await {
                    tracing::warn!(%error, "cannot look for connections with the decision log on");
                }
                if pruned_at.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
                    pruned_at = Some(tokio::time::Instant::now());
                    log.prune().await;
                }
                tokio::time::sleep(LOOK_EVERY).await;
            }
        })
    }

    /// Starts a listener for each connection with the log on that nobody here listens to (it
    /// runs only if it gets the lease), and stops those whose log was turned off.
    async fn look(self: &Arc<Self>) -> Result<(), crate::db::StoreError> {
        let enabled = self.auth.store().decision_log_connections().await?;
        let mut running = self.running.lock().expect("not poisoned");
        running.retain(|connection, (stop, task)| {
            if task.is_finished() {
                return false;
            }
            if !enabled.contains(connection) {
                let _ = stop.send(Stop::Disabled);
            }
            true
        });
        for connection in enabled {
            if running.contains_key(&connection) {
                continue;
            }
            let (stop, stopped) = watch::channel(Stop::Run);
            let log = self.clone();
            let name = connection.clone();
            let task = tokio::spawn(async move {
                if let Err(error) = listener::run(&log, &name, stopped).await {
                    tracing::warn!(connection = name, %error, "the decision log's listener stopped on an error; it starts again");
                }
            });
            running.insert(connection, (stop, task));
        }
        Ok(())
    }

    /// Stops every listener of this process for a shutdown, each recording that it stopped
    /// (so the next start knows where its gap begins), and waits for them a moment.
    pub async fn shutdown(&self) {
        let tasks: Vec<_> = {
            let mut running = self.running.lock().expect("not poisoned");
            running
                .drain()
                .map(|(_, (stop, task))| {
                    let _ = stop.send(Stop::Shutdown);
                    task
                })
                .collect()
        };
        for task in tasks {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
    }

    async fn prune(&self) {
        let before = self.auth.clock().now_ms() - crate::clock::millis(self.options.decision_retention);
        match self.auth.store().prune_decisions(before).await {
            Ok((0, 0, 0)) => {}
            Ok((decisions, gaps, captures)) => {
                tracing::info!(
                    decisions,
                    gaps,
                    captures,
                    "decisions older than the retention removed"
                )
            }
            Err(error) => tracing::warn!(%error, "cannot remove decisions older than the retention"),
        }
    }
}

/// The lease of a connection's listener.
pub fn lease_name(connection: &str) -> String {
    format!("decisions:{connection}")
}
