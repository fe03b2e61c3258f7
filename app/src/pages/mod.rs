//! One page per file; every route is listed in `App` (`lib.rs`).

pub mod cluster;
pub mod not_found;
