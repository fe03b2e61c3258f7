//! Shared helpers for the server's integration tests.
//!
//! - [`testbed`]: the real Incus cluster of `scripts/testbed.sh`, brought up once per test
//!   process.
//! - [`TestApp`]: the HTTP router over a fresh SQLite store, driven with `oneshot`.

#[allow(dead_code)]
mod app;
#[allow(dead_code)]
pub mod database;
#[allow(dead_code)]
pub mod incus_cli;
#[allow(dead_code)]
pub mod logs;
#[allow(dead_code)]
pub mod process;
#[allow(dead_code)]
mod testbed;

// Each test binary uses a different part of this module.
#[allow(unused_imports)]
pub use app::{password_of, Client, TestApp, TestResponse, HOST, ORIGIN};
#[allow(unused_imports)]
pub use testbed::{new_client_certificate, testbed, testbed_up, TestBed};
