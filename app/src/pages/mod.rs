//! One page per file; every route is listed in `App` (`lib.rs`).

pub mod audit;
pub mod cluster;
pub mod decisions;
pub mod impact;
pub mod login;
pub mod not_found;
pub mod plans;
pub mod scriptlets;
pub mod settings;
pub mod snapshots;
