//! Services behind the UI: the implementation of [`berth_app::backend::Backend`].
//!
//! Each method loads what it needs from the store, asks `berth-core` for anything derived,
//! and maps the result to the UI's wire types (plain functions: `From` cannot be implemented
//! between two foreign types).

mod cluster;

use berth_app::backend::Backend;
use berth_app::error::BerthError;
use berth_app::types::ClusterView;

use crate::db::Store;

pub struct Services {
    store: Store,
}

impl Services {
    pub fn new(store: Store) -> Services {
        Services { store }
    }
}

#[async_trait::async_trait]
impl Backend for Services {
    async fn cluster_view(&self, snapshot_id: Option<i64>) -> Result<ClusterView, BerthError> {
        Ok(cluster::cluster_view(&self.store, snapshot_id).await?)
    }
}
