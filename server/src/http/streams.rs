//! Event streams that end: a server-sent event stream (`/api/v1/plans/{id}/events`,
//! `/api/v1/impact/events`) outlives the request that the guard checked, so it is watched.
//!
//! - Every few seconds ([`StreamLimits::recheck`]) the credential that opened it is checked
//!   again through `Auth::current`: a session signed out, expired or of a disabled user, a
//!   token revoked, or a role that may no longer take the route's action ends the stream.
//! - It lasts at most [`StreamLimits::lifetime`] (by the server's clock, checked at the same
//!   ticks); a browser's `EventSource` simply reconnects, through the guard again.
//! - A user holds at most [`StreamLimits::per_user`] at once; the next is refused with 429.
//!   The count is per process, kept in memory (each replica allows as many): a stream is a
//!   connection to this process, and the limit is about what one user can hold open here.
//!
//! Handlers take [`OpenStreams`] from the state, [`OpenStreams::open`] a [`Watch`] before they
//! answer, and hand their stream to [`Watch::guard`].

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use berth_core::access::Action;
use futures::{Stream, StreamExt};

use crate::auth::{Auth, Principal};
use crate::clock::millis;
use crate::error::AppError;

/// How long streams may live, how many one user may hold, how often they are checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamLimits {
    pub lifetime: Duration,
    pub per_user: usize,
    pub recheck: Duration,
}

impl Default for StreamLimits {
    fn default() -> StreamLimits {
        StreamLimits {
            lifetime: Duration::from_secs(3600),
            per_user: 8,
            recheck: Duration::from_secs(5),
        }
    }
}

/// When a refused client may try again: by then a stream whose page was closed has been
/// noticed (its keep-alive comment, every 15 s, fails to be written) and has given its place
/// back.
const RETRY_AFTER: Duration = Duration::from_secs(15);

/// The event streams open in this process, per user; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct OpenStreams {
    limits: StreamLimits,
    per_user: Arc<Mutex<HashMap<i64, usize>>>,
}

impl OpenStreams {
    pub fn new(limits: StreamLimits) -> OpenStreams {
        OpenStreams {
            limits,
            per_user: Arc::default(),
        }
    }

    /// A place for one more stream of `principal`, watched for `action`; 429 when the user
    /// holds as many as allowed.
    pub fn open(&self, auth: &Auth, principal: &Principal, action: Action) -> Result<Watch, AppError> {
        let mut per_user = self.per_user.lock().expect("the stream count is never poisoned");
        let open = per_user.entry(principal.user_id).or_default();
        if *open >= self.limits.per_user {
            return Err(AppError::RateLimited {
                message: format!(
                    "you have {} event streams open already: close a page that follows a plan or a replay",
                    self.limits.per_user
                ),
                retry_after: RETRY_AFTER,
            });
        }
        *open += 1;
        Ok(Watch {
            _place: Place {
                per_user: self.per_user.clone(),
                user_id: principal.user_id,
            },
            auth: auth.clone(),
            principal: principal.clone(),
            action,
            opened_at: auth.clock().now_ms(),
            lifetime_ms: millis(self.limits.lifetime),
            recheck: self.limits.recheck,
        })
    }

    /// How many streams `user_id` holds open now.
    pub fn open_of(&self, user_id: i64) -> usize {
        let per_user = self.per_user.lock().expect("the stream count is never poisoned");
        per_user.get(&user_id).copied().unwrap_or(0)
    }
}

/// One stream's place in the count, given back when the stream is dropped (ended by the
/// server, or its client gone).
#[derive(Debug)]
struct Place {
    per_user: Arc<Mutex<HashMap<i64, usize>>>,
    user_id: i64,
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut per_user = self.per_user.lock().expect("the stream count is never poisoned");
        if let Some(open) = per_user.get_mut(&self.user_id) {
            *open -= 1;
            if *open == 0 {
                per_user.remove(&self.user_id);
            }
        }
    }
}

/// What one stream is watched for; see the module's documentation.
#[derive(Debug)]
pub struct Watch {
    /// Held, not read: dropping the watch (with its stream) gives the place back.
    _place: Place,
    auth: Auth,
    principal: Principal,
    action: Action,
    opened_at: i64,
    lifetime_ms: i64,
    recheck: Duration,
}

impl Watch {
    /// `events`, ended at the first check that finds the stream should end.
    pub fn guard<S>(self, events: S) -> impl Stream<Item = S::Item> + Send + 'static
    where
        S: Stream + Send + 'static,
        S::Item: Send,
    {
        let start = tokio::time::Instant::now() + self.recheck;
        let ticks = tokio::time::interval_at(start, self.recheck);
        let events: Pin<Box<dyn Stream<Item = S::Item> + Send>> = Box::pin(events);
        futures::stream::unfold(
            (events, ticks, self),
            |(mut events, mut ticks, watch)| async move {
                loop {
                    tokio::select! {
                        item = events.next() => return item.map(|item| (item, (events, ticks, watch))),
                        _ = ticks.tick() => {
                            if let Some(reason) = watch.reason_to_end().await {
                                tracing::info!(
                                    user = watch.principal.username,
                                    reason,
                                    "an event stream ends"
                                );
                                return None;
                            }
                        }
                    }
                }
            },
        )
    }

    /// Why the stream must end now, if it must.
    async fn reason_to_end(&self) -> Option<&'static str> {
        if self.auth.clock().now_ms() - self.opened_at >= self.lifetime_ms {
            return Some("its lifetime is over");
        }
        match self.auth.current(&self.principal).await {
            Ok(Some(current)) if current.role.may(self.action) => None,
            Ok(Some(_)) => Some("its user's role no longer allows it"),
            Ok(None) => Some("its session or token has ended"),
            Err(error) => {
                tracing::warn!(%error, "cannot check an event stream's credential: it ends");
                Some("its credential could not be checked")
            }
        }
    }
}
