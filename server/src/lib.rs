//! The `berth` server: everything that does IO.
//!
//! - [`cli`]: the command line (`berth serve`, …) and its configuration.
//! - [`serve`]: starting and stopping the web server; [`demo`]: what `serve --demo` stores.
//! - [`capture`]: a live cluster read into a snapshot.
//! - [`snapshot_cli`]: `berth snapshot capture|import|export|list`.
//! - [`simulate_cli`]: `berth simulate`, the predicted scriptlet calls as JSON.
//! - [`check`]: `berth check`, Incus's verdict on a scriptlet for authors and CI, its golden
//!   cases and its reason × version matrix ([`matrix_cli`]; [`matrix`]: the matrix's
//!   simulations on the sandbox workers); [`coverage_cli`]: `--coverage` and `--lcov` of the
//!   commands that run one.
//! - [`fuzz`]: fuzz campaigns run round by round on the sandbox workers; [`fuzz_cli`]: `berth
//!   fuzz`.
//! - [`impact`]: impact replays split across the sandbox workers; [`impact_cli`]: `berth
//!   impact`.
//! - [`sandbox`]: scriptlets run in `berth worker` processes under hard limits.
//! - [`http`]: the axum router: Leptos pages and server functions, `/healthz`, `/readyz`, `/metrics`, static assets.
//! - [`services`]: the [`berth_app::backend::Backend`] implementation pages call into; maps
//!   the domain to the UI's wire types.
//! - [`db`]: the store on SQLite or PostgreSQL (migrations, snapshots, accounts, audit, copy);
//!   [`store_cli`]: `berth store copy`.
//! - [`incus`]: the Incus REST client (unix socket, HTTPS with a client certificate);
//!   [`remote`]: the client for a connection, its key opened with the store's secret key.
//! - [`auth`]: accounts, sessions, API tokens; [`audit`]: the audit log's writer;
//!   [`user_cli`]: `berth user add|list|set-role|passwd`; [`connection_cli`]: `berth connection
//!   add|list|remove`.
//! - [`plans`]: a plan's own operations (load, state changes, fresh state, assessment,
//!   staleness), below both [`services::plans`] (the review and the views) and [`executor`]
//!   (carrying plans out on the cluster, one lease-holding process per plan); [`plan_cli`]:
//!   `berth plan …`.
//! - [`decisions`]: the decision log: one listener per connection across replicas records
//!   the placements the cluster makes, with gaps, reconciliation and predictions;
//!   [`decisions_cli`]: `berth decisions list|tail|replay`.
//! - [`tls`]: Berth's own HTTPS (`--tls-cert`); [`clock`]: the time, movable in tests.
//! - [`site`]: finding the built web assets.
//! - [`error`]: `AppError`, the one error type of request handling, and its HTTP mapping;
//!   [`params`]: times and Incus versions as requests name them.
//! - [`metrics`]: the Prometheus families of `GET /metrics`, counted where things happen.
//! - [`cpu`]: CPU-heavy work a request triggers, run off the async runtime a few at a time.
//!
//! The domain rules live in `berth-core`; this crate only moves data in and out.

pub mod audit;
pub mod auth;
pub mod capture;
pub mod causes;
pub mod check;
pub mod cli;
pub mod clock;
pub mod connection_cli;
pub mod coverage_cli;
pub mod cpu;
pub mod db;
pub mod decisions;
pub mod decisions_cli;
pub mod demo;
pub mod error;
pub mod executor;
pub mod fuzz;
pub mod fuzz_cli;
pub mod http;
pub mod impact;
pub mod impact_cli;
pub mod incus;
pub mod matrix;
pub mod matrix_cli;
pub mod metrics;
pub mod params;
pub mod plan_cli;
pub mod plans;
pub mod remote;
pub mod sandbox;
pub mod secrets;
pub mod serve;
pub mod services;
pub mod simulate_cli;
pub mod site;
pub mod snapshot_cli;
pub mod store_cli;
pub mod tls;
pub mod user_cli;
