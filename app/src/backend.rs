//! The seam between the UI and the server (`ssr` only).
//!
//! `server` depends on this crate to render it, so this crate cannot name `server`'s types.
//! Instead it declares what server functions need as a trait; `server` implements it and
//! provides an `Arc<dyn Backend>` as Leptos context for every request.

use std::sync::Arc;

use leptos::prelude::use_context;

use crate::error::BerthError;
use crate::types::ClusterView;

#[async_trait::async_trait]
pub trait Backend: Send + Sync + 'static {
    async fn cluster_view(&self, snapshot_id: Option<i64>) -> Result<ClusterView, BerthError>;
}

pub type SharedBackend = Arc<dyn Backend>;

/// The backend of the current request.
pub fn backend() -> Result<SharedBackend, BerthError> {
    use_context::<SharedBackend>()
        .ok_or_else(|| BerthError::Internal("the backend is not available to this request".into()))
}
