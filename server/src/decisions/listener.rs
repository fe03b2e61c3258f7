//! One connection's listener: while this process holds the lease `decisions:NAME`, its event
//! streams feed the tracker, placements are recorded as they settle, every stream that breaks
//! leaves a gap that a capture closes once the streams are back, the cluster's scriptlet is
//! read again whenever its configuration changes, and the cluster is captured now and then.
//!
//! A gap is recorded whenever the stream was not held: `disconnect` while this listener runs
//! (from when its stream broke), `handover` when it took over from a holder that stopped
//! renewing its lease (from that holder's last moment with a whole stream, `alive_at`),
//! `restart` when Berth was stopped with the log on. A gap is closed by a capture made once
//! every stream is open again: what it shows that the log did not know is recorded as seen
//! later (`reconcile.rs`).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use berth_core::decisions::tracker::evacuated_members;
use berth_core::decisions::{Tracker, Whereabouts};
use berth_core::model::{ClusterMember, Instance, Server};
use tokio::sync::{mpsc, watch};

use super::captures::{capture_through, keep_scriptlet, Captured};
use super::reconcile::{known_at, record_seen_later};
use super::recorder::Recorder;
use super::streams::{StreamKey, StreamMessage, StreamTarget, Streams};
use super::{lease_name, predict, DecisionLog, Stop};
use crate::clock::millis;
use crate::db::{LeaseGrant, NewGap, Store};
use crate::error::AppError;
use crate::incus::IncusClient;

/// How long a lease lasts without renewal: a listener that dies is replaced within this.
const LEASE_TTL: Duration = Duration::from_secs(15);
/// How often settled placements are released and written.
const TICK: Duration = Duration::from_millis(100);
/// How long to wait before trying a failed capture again.
const CAPTURE_RETRY: Duration = Duration::from_secs(5);
/// Lookups of placed instances in flight at once (more are skipped: the predictor reads the
/// instance itself).
const MAX_LOOKUPS: usize = 16;

/// A gap being recorded.
struct OpenGap {
    id: i64,
    /// The stream it is about.
    key: StreamKey,
    /// Whether this listener knew where the instances were when it began (else the store
    /// says: another holder's, or Berth's, time before this listener).
    known_here: bool,
    started_at: i64,
    /// Since when the stream is open again.
    back_since: Option<i64>,
}

/// Runs the listener of `connection` if this process gets its lease, until it is stopped, the
/// lease is lost, or an error (the supervisor starts it again).
pub(super) async fn run(
    log: &Arc<DecisionLog>,
    connection: &str,
    mut stop: watch::Receiver<Stop>,
) -> Result<(), AppError> {
    let store = log.auth.store().clone();
    let lease = lease_name(connection);
    let now = log.auth.clock().now_ms();
    let Some(grant) = store
        .acquire_lease(&lease, &log.holder, now, millis(LEASE_TTL))
        .await?
    else {
        return Ok(());
    };
    let record = store
        .connection(connection)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("there is no connection {connection:?}")))?;
    let client = Arc::new(crate::remote::client_for(&store, &record)?);
    tracing::info!(
        connection,
        holder = log.holder,
        generation = grant.generation,
        "the decision log listens"
    );
    let previous = store.start_listening(connection, &log.holder, now).await?;
    let mut session = Session {
        log: log.clone(),
        store: store.clone(),
        connection: connection.to_owned(),
        client,
        tracker: Tracker::new(Whereabouts::default(), 1),
        recorder: Recorder::new(store.clone(), connection),
        gaps: Vec::new(),
        up: BTreeSet::new(),
        keys: BTreeSet::new(),
        baseline: false,
        capture_failed_at: None,
        lookups: Arc::new(AtomicUsize::new(0)),
    };
    if let Some(previous) = previous {
        let reason = match previous.state.as_str() {
            "listening" if previous.holder == log.holder => {
                Some(("restart", "this listener stopped on an error".to_owned()))
            }
            "listening" => Some((
                "handover",
                format!("the listener {} stopped renewing its lease", previous.holder),
            )),
            "stopped" => Some(("restart", "Berth was stopped with the log on".to_owned())),
            _ => None,
        };
        if let Some((reason, detail)) = reason {
            session
                .open_gap(None, reason, detail, previous.alive_at, false)
                .await?;
        }
    }
    let ended = session.listen(&mut stop, grant).await;
    let end = match ended {
        Ok(end) => end,
        Err(error) => {
            // Nothing is lost: the next start records the gap from `alive_at`.
            session.recorder.take(session.tracker.flush());
            let _ = session.recorder.flush(log.auth.clock().now_ms()).await;
            return Err(error);
        }
    };
    session.finish(end, grant).await
}

/// How `listen` ended.
enum End {
    Stopped(Stop),
    LeaseLost,
}

struct Session {
    log: Arc<DecisionLog>,
    store: Store,
    connection: String,
    client: Arc<IncusClient>,
    tracker: Tracker,
    recorder: Recorder,
    gaps: Vec<OpenGap>,
    /// Streams open now, and every stream there is.
    up: BTreeSet<StreamKey>,
    keys: BTreeSet<StreamKey>,
    /// Whether a capture has given the tracker where the instances are.
    baseline: bool,
    capture_failed_at: Option<tokio::time::Instant>,
    lookups: Arc<AtomicUsize>,
}

impl Session {
    fn now(&self) -> i64 {
        self.log.auth.clock().now_ms()
    }

    async fn listen(&mut self, stop: &mut watch::Receiver<Stop>, grant: LeaseGrant) -> Result<End, AppError> {
        let (sender, mut messages) = mpsc::channel::<StreamMessage>(8192);
        let (found_sender, mut found) = mpsc::channel::<Instance>(256);
        let mut streams = Streams::new();
        for target in self.targets().await {
            self.keys.insert(target.key.clone());
            streams.start(
                self.client.clone(),
                target,
                self.log.auth.clock().clone(),
                sender.clone(),
            );
        }
        let predictor = tokio::spawn(predict::run(
            self.log.clone(),
            self.connection.clone(),
            self.client.clone(),
        ));
        let _predictor = AbortOnDrop(predictor);
        let mut tick = tokio::time::interval(TICK);
        let mut heartbeat = tokio::time::interval(LEASE_TTL / 3);
        let every = self
            .log
            .options
            .decision_capture_interval
            .max(Duration::from_secs(1));
        let mut captures = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        loop {
            tokio::select! {
                changed = stop.changed() => {
                    let why = if changed.is_err() { Stop::Shutdown } else { *stop.borrow() };
                    if why != Stop::Run {
                        return Ok(End::Stopped(why));
                    }
                }
                Some(message) = messages.recv() => self.on_stream(message, &found_sender).await?,
                Some(instance) = found.recv() => self.tracker.found(instance),
                _ = tick.tick() => {
                    let now = self.now();
                    let outputs = self.tracker.tick(now * 1_000_000);
                    self.take(outputs).await;
                    if self.recorder.backlog() > 0 {
                        self.recorder.flush(now).await?;
                    }
                    self.close_gaps_when_back(&mut streams, &sender).await?;
                }
                _ = heartbeat.tick() => {
                    let now = self.now();
                    let held = self
                        .store
                        .renew_lease(&lease_name(&self.connection), &self.log.holder, grant.generation, now, millis(LEASE_TTL))
                        .await?;
                    if !held {
                        return Ok(End::LeaseLost);
                    }
                    if self.gaps.is_empty() && self.baseline {
                        self.store.listener_alive(&self.connection, &self.log.holder, now).await?;
                    }
                }
                _ = captures.tick() => {
                    if self.baseline && self.gaps.is_empty() {
                        match capture_through(&self.log.auth, &self.connection, &self.client).await {
                            Ok(captured) => {
                                self.note_revision(&captured);
                                self.start_new_members(&captured, &mut streams, &sender);
                            }
                            Err(error) => tracing::warn!(connection = self.connection, %error, "the decision log's capture failed"),
                        }
                    }
                }
            }
        }
    }

    /// The streams to open: over HTTPS one per member (as Incus lists them), else one.
    async fn targets(&self) -> Vec<StreamTarget> {
        let single = vec![StreamTarget { key: None, url: None }];
        if self.client.is_unix() {
            return single;
        }
        match self
            .client
            .get::<Vec<ClusterMember>>("/1.0/cluster/members?recursion=1")
            .await
        {
            Ok(members) if !members.is_empty() => members
                .into_iter()
                .filter(|m| !m.url.is_empty())
                .map(|m| StreamTarget {
                    key: Some(m.server_name),
                    url: Some(m.url),
                })
                .collect(),
            Ok(_) => single,
            Err(error) => {
                tracing::warn!(connection = self.connection, %error, "cannot list the members: one stream to the connection's address");
                single
            }
        }
    }

    fn start_new_members(
        &mut self,
        captured: &Captured,
        streams: &mut Streams,
        sender: &mpsc::Sender<StreamMessage>,
    ) {
        if self.keys.contains(&None) {
            return;
        }
        for member in &captured.snapshot.members {
            let key = Some(member.server_name.clone());
            if member.url.is_empty() || self.keys.contains(&key) {
                continue;
            }
            self.keys.insert(key.clone());
            streams.start(
                self.client.clone(),
                StreamTarget {
                    key,
                    url: Some(member.url.clone()),
                },
                self.log.auth.clock().clone(),
                sender.clone(),
            );
        }
    }

    async fn on_stream(
        &mut self,
        message: StreamMessage,
        found: &mpsc::Sender<Instance>,
    ) -> Result<(), AppError> {
        match message {
            StreamMessage::Event(event) => {
                let (outputs, lookup) = self.tracker.push(&event, self.now() * 1_000_000);
                self.take(outputs).await;
                if let Some(lookup) = lookup {
                    self.look_up(lookup.project, lookup.instance, found.clone());
                }
            }
            StreamMessage::Up { key, since_ms } => {
                self.up.insert(key.clone());
                for gap in self.gaps.iter_mut().filter(|g| g.key == key || g.key.is_none()) {
                    gap.back_since = Some(gap.back_since.map_or(since_ms, |b| b.max(since_ms)));
                }
            }
            StreamMessage::Down { key, at_ms, reason } => {
                self.up.remove(&key);
                if !self.gaps.iter().any(|g| g.key == key && g.back_since.is_none()) {
                    tracing::warn!(connection = self.connection, stream = ?key, reason, "the event stream broke: a gap begins");
                    self.open_gap(key, "disconnect", reason, at_ms, self.baseline)
                        .await?;
                }
            }
        }
        Ok(())
    }

    /// Reads a placed instance now (its config for the prediction, where it landed), unless
    /// too many reads are in flight.
    fn look_up(&self, project: String, instance: String, found: mpsc::Sender<Instance>) {
        if self.lookups.fetch_add(1, Ordering::SeqCst) >= MAX_LOOKUPS {
            self.lookups.fetch_sub(1, Ordering::SeqCst);
            return;
        }
        let (client, lookups) = (self.client.clone(), self.lookups.clone());
        tokio::spawn(async move {
            if let Some(read) = predict::look_up(&client, &project, &instance).await {
                let _ = found.send(read).await;
            }
            lookups.fetch_sub(1, Ordering::SeqCst);
        });
    }

    /// Takes the tracker's outputs: placements and corrections to the recorder; a change of
    /// the cluster's configuration is read at once, so that what follows it gets the new
    /// revision.
    async fn take(&mut self, outputs: Vec<berth_core::decisions::Output>) {
        for at_ns in self.recorder.take(outputs) {
            match self.client.get::<Server>("/1.0").await {
                Ok(server) => {
                    let text = server.placement_scriptlet().unwrap_or_default().to_owned();
                    match keep_scriptlet(&self.log.auth, &self.connection, &text).await {
                        Ok(revision) => self.recorder.revision_since(
                            at_ns.div_euclid(1_000_000),
                            (revision.scriptlet_id, revision.number),
                        ),
                        Err(error) => {
                            tracing::warn!(connection = self.connection, %error, "cannot keep the cluster's scriptlet")
                        }
                    }
                }
                Err(error) => {
                    tracing::warn!(connection = self.connection, %error, "cannot read the cluster's configuration after it changed")
                }
            }
        }
    }

    async fn open_gap(
        &mut self,
        key: StreamKey,
        reason: &str,
        detail: String,
        started_at: i64,
        known_here: bool,
    ) -> Result<(), AppError> {
        let id = self
            .store
            .open_gap(&NewGap {
                connection: self.connection.clone(),
                member: key.clone(),
                reason: reason.to_owned(),
                detail,
                started_at,
            })
            .await?;
        let back_since =
            (key.is_none() && !self.up.is_empty() && self.up.len() == self.keys.len()).then(|| self.now());
        self.gaps.push(OpenGap {
            id,
            key,
            known_here,
            started_at,
            back_since,
        });
        Ok(())
    }

    fn all_up(&self) -> bool {
        !self.keys.is_empty() && self.keys.iter().all(|key| self.up.contains(key))
    }

    /// Once every stream is open: the first capture (where the instances are), and a capture
    /// for the gaps whose streams are back, which closes them.
    async fn close_gaps_when_back(
        &mut self,
        streams: &mut Streams,
        sender: &mpsc::Sender<StreamMessage>,
    ) -> Result<(), AppError> {
        let waiting = !self.baseline || self.gaps.iter().any(|g| g.back_since.is_some());
        if !waiting || !self.all_up() {
            return Ok(());
        }
        if self
            .capture_failed_at
            .is_some_and(|at| at.elapsed() < CAPTURE_RETRY)
        {
            return Ok(());
        }
        // Every stream is open since this moment at the latest: the capture sees all that
        // came before it, the stream all that came after.
        let captured = match capture_through(&self.log.auth, &self.connection, &self.client).await {
            Ok(captured) => captured,
            Err(error) => {
                tracing::warn!(connection = self.connection, %error, "cannot capture the cluster; trying again");
                self.capture_failed_at = Some(tokio::time::Instant::now());
                return Ok(());
            }
        };
        self.capture_failed_at = None;
        self.note_revision(&captured);
        self.start_new_members(&captured, streams, sender);
        let revision = self.recorder.revision_at(captured.finished_at);
        let ready: Vec<OpenGap> = {
            let (ready, open): (Vec<OpenGap>, Vec<OpenGap>) = std::mem::take(&mut self.gaps)
                .into_iter()
                .partition(|g| g.back_since.is_some());
            self.gaps = open;
            ready
        };
        for gap in ready {
            let back_since = gap.back_since.expect("partitioned");
            // This listener knew the cluster before its stream broke, and since it came back.
            let known = match gap.known_here {
                true => Some(self.tracker.whereabouts().clone()),
                false => known_at(&self.store, &self.connection, gap.started_at).await?,
            };
            let seen = match &known {
                Some(known) => Some(
                    record_seen_later(
                        &self.store,
                        &self.connection,
                        gap.id,
                        known,
                        &captured.snapshot,
                        back_since,
                        captured.finished_at,
                        revision,
                    )
                    .await? as i64,
                ),
                // Nothing known from before it: nothing to compare the capture with.
                None => None,
            };
            self.store
                .close_gap(gap.id, back_since, Some(captured.finished_at), seen)
                .await?;
            tracing::info!(
                connection = self.connection,
                gap = gap.id,
                snapshot.id = captured.snapshot_id,
                seen_later = ?seen,
                "a gap is closed"
            );
        }
        self.tracker.set_whereabouts(Whereabouts::of(&captured.snapshot));
        self.tracker.set_evacuated(
            evacuated_members(&captured.snapshot),
            captured.finished_at * 1_000_000,
        );
        self.baseline = true;
        if self.gaps.is_empty() {
            // Whole from this capture on: a holder that dies before its next heartbeat leaves
            // a gap that starts after it, and the capture is what that gap is compared with.
            self.store
                .listener_alive(&self.connection, &self.log.holder, self.now())
                .await?;
        }
        Ok(())
    }

    fn note_revision(&mut self, captured: &Captured) {
        if let Some(revision) = captured.revision {
            self.recorder
                .revision_since(captured.finished_at, (revision.scriptlet_id, revision.number));
        }
    }

    /// Writes what is left and how the listener stopped.
    async fn finish(mut self, end: End, grant: LeaseGrant) -> Result<(), AppError> {
        let now = self.now();
        let rest = self.tracker.flush();
        self.take(rest).await;
        self.recorder.flush(now).await?;
        let stop = match end {
            End::LeaseLost => {
                tracing::warn!(
                    connection = self.connection,
                    "the decision log's lease was lost: another replica listens"
                );
                return Ok(());
            }
            End::Stopped(stop) => stop,
        };
        let state = match stop {
            Stop::Disabled => "disabled",
            _ => "stopped",
        };
        // The stream was whole until now, or until the first gap still open.
        let alive_at = self.gaps.iter().map(|g| g.started_at).min().unwrap_or(now);
        for gap in &self.gaps {
            self.store.close_gap(gap.id, now, None, None).await?;
        }
        self.store
            .stop_listening(&self.connection, &self.log.holder, state, alive_at)
            .await?;
        self.store
            .release_lease(&lease_name(&self.connection), &self.log.holder, grant.generation)
            .await?;
        tracing::info!(
            connection = self.connection,
            state,
            "the decision log stopped listening"
        );
        Ok(())
    }
}

/// Aborts a task when dropped (the predictor ends with its listener).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
