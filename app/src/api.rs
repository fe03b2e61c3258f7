//! Server functions: arguments in, one `Backend` call, result out. No SQL, no rules.

use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;

use crate::error::BerthError;
use crate::types::ClusterView;

/// The Cluster page's data for one snapshot (`None`: the newest). A GET, so it is cacheable
/// and safe: it changes nothing.
#[server(input = GetUrl, endpoint = "cluster_view")]
pub async fn get_cluster_view(snapshot_id: Option<i64>) -> Result<ClusterView, BerthError> {
    crate::backend::backend()?.cluster_view(snapshot_id).await
}
