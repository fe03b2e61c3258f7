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
    /// The request is not acceptable as sent (400).
    #[error("{0}")]
    BadRequest(String),
    /// Something went wrong on the server; the details are in its log (500).
    #[error("{0}")]
    Internal(String),
    /// The server function call itself failed (network, encoding).
    #[error("{0}")]
    Call(String),
}

impl BerthError {
    pub fn status_code(&self) -> u16 {
        match self {
            BerthError::NotFound(_) => 404,
            BerthError::BadRequest(_) => 400,
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
