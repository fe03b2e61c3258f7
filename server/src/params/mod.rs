//! Values that requests name, parsed the same wherever they come from (`/api/v1`, the pages'
//! server functions, the command line): times (`time.rs`) and the Incus version a simulation
//! imitates (`incus_version.rs`). Below both `http/` and `services/`, which call them.

pub(crate) mod incus_version;
mod time;

pub use time::{parse_time, parse_until};
