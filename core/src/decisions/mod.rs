//! The decision log's domain: what the placements a cluster really made were, read from
//! Incus's own events, and how Berth asks its simulator the same requests. No IO: the server
//! feeds events and the time in, and stores what comes out.
//!
//! - [`event`]: Incus's event format and what Berth reads of it (what 6.0.4 emits for each
//!   operation is written there, as recorded on the test bed).
//! - [`runs`]: which placement a scriptlet's log lines belong to.
//! - [`tracker`]: from events to [`tracker::Placement`]s (and later corrections), with where
//!   each instance is ([`whereabouts`]).
//! - [`reconcile`]: after a gap, what a fresh capture shows that the events did not.
//! - [`asked`]: the request a placement answered, as the simulator is asked it again, and the
//!   prediction beside reality.
//! - `time`: Incus's timestamps.

pub mod asked;
pub mod event;
pub mod reconcile;
pub mod runs;
mod time;
pub mod tracker;
pub mod whereabouts;

pub use event::IncusEvent;
pub use time::parse_rfc3339_ns;
pub use tracker::{Output, Placement, Reason, Tracker};
pub use whereabouts::Whereabouts;

#[cfg(test)]
mod tests;
