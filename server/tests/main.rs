//! The server's integration tests, linked as one binary: each suite is a module, a file beside
//! this one, and runs alone with `cargo test -p berth-server --test integration -- SUITE::`.
//!
//! One binary rather than one per file because each links the whole server (about 200 MB
//! unoptimized): thirty of them filled a CI machine's disk, and linking them took minutes of
//! `make test`. `scripts/test.sh` runs the suites on the Incus test bed one after another (each
//! holds its own locks on the cluster), and the rest together.

mod support;

mod access;
mod accounts;
mod assurance;
mod capture;
mod cli;
mod confinement;
mod coverage;
mod decisions;
mod decisions_live;
mod fuzz;
mod http;
mod impact;
mod library;
mod matrix;
mod metrics;
mod oidc;
mod plans_live;
mod postgres;
mod redaction;
mod review;
mod sandbox;
mod scriptlet_live;
mod secrets;
mod serve;
mod simulate_live;
mod store;
mod templates;
mod testbed;
mod tidy;
