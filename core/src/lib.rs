//! Berth's domain: what an Incus cluster looks like to the placement logic, with no IO.
//!
//! - [`access`]: roles and the table of which role may take which action.
//! - [`model`]: the Incus REST objects Berth reads (members, groups, projects, profiles,
//!   instances, operations), with field names exactly as Incus's JSON has them.
//! - [`snapshot`]: an immutable capture of one cluster in the `berth.snapshot/v1` format,
//!   its validation and its content hash.
//! - [`redact`]: secret-looking config values replaced for sharing a snapshot.
//! - [`placement`]: Incus's candidate rules, with the reason for every excluded member.
//! - [`simulate`]: the scriptlet calls Incus makes for an operation, per behaviour profile,
//!   and Berth's corrected cross-project move.
//! - [`usage`]: derived figures (instance counts, CPU/memory/disk use per member).
//! - [`units`]: Incus size strings (`4GiB`) as bytes.
//! - [`demo`]: the built-in demo cluster, generated deterministically.
//! - [`engine`]: the Incus-compatible placement scriptlet engine (validation, evaluation,
//!   builtins, fidelity lints, completion schema).
//! - [`plan`]: migration plans: their moves, the life of a plan and of each move, and the
//!   preview (verdicts, the corrected decision, what changed since).
//! - [`impact`]: impact replay: what a new scriptlet revision changes, instance by instance.
//! - [`cases`]: golden cases for a scriptlet (`berth check --cases`), judged on a simulation
//!   or, for a single placement call, on its evaluation.
//! - [`coverage`]: line and branch coverage of a scriptlet, merged, as a percentage and lcov.
//! - [`fuzz`]: the coverage-guided fuzzer: placement calls decoded from bytes, mutated,
//!   steered by coverage, failures shrunk to golden cases; deterministic for a seed.
//! - [`decisions`]: the decision log: placements the cluster really made, read from its events.
//! - [`matrix`]: the reason × version matrix: every situation that calls a scriptlet, on every
//!   version asked for, with what the scriptlet does with each call, and the lints drawn from it.
//! - [`templates`]: the library of starting scriptlets (`templates/`), with their golden cases.
//!
//! Nothing here reads files, talks to the network, looks at the clock or the environment:
//! times and inputs are arguments, so every function is deterministic and testable in isolation.

pub mod access;
pub mod cases;
pub mod coverage;
pub mod decisions;
pub mod demo;
pub mod engine;
pub mod fuzz;
pub mod impact;
pub mod matrix;
pub mod model;
pub mod placement;
pub mod plan;
pub mod redact;
pub mod simulate;
pub mod snapshot;
pub mod templates;
pub mod units;
pub mod usage;

pub use snapshot::{Snapshot, SnapshotError, SNAPSHOT_FORMAT};
