//! The cluster behind a plan's connection, captured now (not stored): what a preview is made on
//! and what the executor checks before each move.

use berth_core::Snapshot;

use crate::auth::Auth;
use crate::capture::capture;
use crate::clock::rfc3339;
use crate::error::AppError;
use crate::incus::IncusClient;
use crate::remote::client_for;

/// Reads of the cluster before a preview or a move give up after this many failures.
const CAPTURE_ATTEMPTS: u32 = 3;

/// Captures the cluster behind `connection` now, with the client that read it.
pub async fn fresh_state(auth: &Auth, connection: &str) -> Result<(Snapshot, IncusClient), AppError> {
    let record = auth
        .store()
        .connection(connection)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("there is no connection {connection:?}")))?;
    let client = client_for(auth.store(), &record)?;
    // A cluster that just lost a connection between members answers one capture with an error
    // and the next one whole: a failed read is tried again before the step is given up.
    let mut attempt = 1;
    loop {
        match capture(&client, &record.remote, rfc3339(auth.clock().now_ms())).await {
            Ok(snapshot) => return Ok((snapshot, client)),
            Err(error) if attempt < CAPTURE_ATTEMPTS => {
                tracing::warn!(connection, attempt, %error, "capture failed; trying again");
                attempt += 1;
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
            Err(error) => {
                return Err(AppError::Upstream(format!(
                    "capture from {connection} failed: {error}"
                )))
            }
        }
    }
}
