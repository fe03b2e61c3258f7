//! The event streams of one connection, each kept open by a task of its own that reconnects
//! with backoff, all feeding one channel: the events, and when each stream went down and came
//! back up (what the listener records gaps from).
//!
//! Over the unix socket there is one stream, the member behind the socket: the other members'
//! events come forwarded by it (their `info` lines only when that member runs with `--verbose`
//! or `--debug`). Over HTTPS there is one stream per member, each kept to that member's own
//! events (`location`), so that every member's scriptlet lines arrive whatever its verbosity.

use std::sync::Arc;
use std::time::Duration;

use berth_core::decisions::IncusEvent;
use tokio::sync::mpsc;

use crate::clock::Clock;
use crate::incus::IncusClient;

/// Waits between attempts to reconnect: doubling from the first, up to the last.
const BACKOFF_FIRST: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// Which stream: a member's (HTTPS), or the connection's one stream (`None`).
pub(super) type StreamKey = Option<String>;

pub(super) enum StreamMessage {
    Event(Box<IncusEvent>),
    /// The stream is open since `since_ms`: what it sends from then on is whole.
    Up {
        key: StreamKey,
        since_ms: i64,
    },
    /// The stream broke at `at_ms`.
    Down {
        key: StreamKey,
        at_ms: i64,
        reason: String,
    },
}

/// One stream to open: its key, and the member URL to open it to (HTTPS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct StreamTarget {
    pub key: StreamKey,
    pub url: Option<String>,
}

/// The tasks of a connection's streams; dropping this stops them.
pub(super) struct Streams {
    tasks: Vec<(StreamKey, tokio::task::JoinHandle<()>)>,
}

impl Streams {
    pub fn new() -> Streams {
        Streams { tasks: Vec::new() }
    }

    /// Starts a stream for `target` (unless one runs for its key).
    pub fn start(
        &mut self,
        client: Arc<IncusClient>,
        target: StreamTarget,
        clock: Clock,
        sender: mpsc::Sender<StreamMessage>,
    ) {
        if self.tasks.iter().any(|(key, _)| *key == target.key) {
            return;
        }
        let key = target.key.clone();
        let task = tokio::spawn(keep_open(client, target, clock, sender));
        self.tasks.push((key, task));
    }
}

impl Drop for Streams {
    fn drop(&mut self) {
        for (_, task) in &self.tasks {
            task.abort();
        }
    }
}

/// Keeps one stream open until the receiver is gone.
async fn keep_open(
    client: Arc<IncusClient>,
    target: StreamTarget,
    clock: Clock,
    sender: mpsc::Sender<StreamMessage>,
) {
    let mut backoff = BACKOFF_FIRST;
    // Whether the last attempt failed without having been up (one Down per outage).
    let mut down = false;
    loop {
        match client.events(target.url.as_deref()).await {
            Ok(mut stream) => {
                backoff = BACKOFF_FIRST;
                let up = StreamMessage::Up {
                    key: target.key.clone(),
                    since_ms: clock.now_ms(),
                };
                if sender.send(up).await.is_err() {
                    return;
                }
                let reason = loop {
                    match stream.next().await {
                        Ok(event) => {
                            // A member's stream keeps that member's own events: the others'
                            // come from their own streams.
                            if target
                                .key
                                .as_ref()
                                .is_some_and(|member| *member != event.location)
                            {
                                continue;
                            }
                            if sender.send(StreamMessage::Event(Box::new(event))).await.is_err() {
                                return;
                            }
                        }
                        Err(end) => break end.to_string(),
                    }
                };
                stream.close().await;
                let message = StreamMessage::Down {
                    key: target.key.clone(),
                    at_ms: clock.now_ms(),
                    reason,
                };
                if sender.send(message).await.is_err() {
                    return;
                }
                down = true;
            }
            Err(error) => {
                if !down {
                    down = true;
                    let message = StreamMessage::Down {
                        key: target.key.clone(),
                        at_ms: clock.now_ms(),
                        reason: error.to_string(),
                    };
                    if sender.send(message).await.is_err() {
                        return;
                    }
                }
                tracing::debug!(stream = ?target.key, %error, "cannot open the event stream; trying again");
            }
        }
        if sender.is_closed() {
            return;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}
