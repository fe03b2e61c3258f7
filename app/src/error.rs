//! `BerthError`: the one error type server functions return to the browser.
//!
//! It carries a message fit for users and nothing internal: the server logs the details and
//! converts its own errors into this type in one place (`server/src/error.rs`).

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum BerthError {
    /// The thing asked for does not exist (404).
    #[error("{0}")]
    NotFound(String),
    /// Nobody is signed in, or the session is over (401).
    #[error("{0}")]
    Unauthenticated(String),
    /// The signed-in role may not do this (403).
    #[error("{0}")]
    Forbidden(String),
    /// The request is not acceptable as sent (400).
    #[error("{0}")]
    BadRequest(String),
    /// Incus refused or could not be reached (502); its message as received.
    #[error("{0}")]
    Upstream(String),
    /// Something went wrong on the server; the details are in its log (500).
    #[error("{0}")]
    Internal(String),
    /// The server function call itself failed (network, encoding).
    #[error("{0}")]
    Call(String),
}

/// A part of the page in a wasm module of its own that could not be loaded (the network).
#[cfg(feature = "hydrate")]
impl From<leptos::wasm_split::SplitLoaderError> for BerthError {
    fn from(_: leptos::wasm_split::SplitLoaderError) -> Self {
        BerthError::Call("this part of Berth could not be loaded: check the connection and try again".into())
    }
}

impl BerthError {
    pub fn status_code(&self) -> u16 {
        match self {
            BerthError::NotFound(_) => 404,
            BerthError::BadRequest(_) => 400,
            BerthError::Unauthenticated(_) => 401,
            BerthError::Forbidden(_) => 403,
            BerthError::Upstream(_) => 502,
            BerthError::Internal(_) | BerthError::Call(_) => 500,
        }
    }
}

impl FromServerFnError for BerthError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        BerthError::Call(value.to_string())
    }
}
