//! JSON read in the browser the one way it is read everywhere else in it.
//!
//! serde_json's generic reader makes a copy of a type's whole deserializer per input kind:
//! `from_str` (a `StrRead`) and `from_slice` (a `SliceRead`) are two copies in the wasm. Server
//! functions decode their answers with `from_slice`, so everything here does too: an event
//! stream's `PlanView` then costs nothing more than the server function's (about 20 KB of the
//! plan page's gzip, measured). `app/clippy.toml` turns `serde_json::from_str` away in this crate.

use serde::de::DeserializeOwned;

/// `serde_json::from_str`, read as bytes (see the module).
pub fn from_json<T: DeserializeOwned>(text: &str) -> serde_json::Result<T> {
    serde_json::from_slice(text.as_bytes())
}
