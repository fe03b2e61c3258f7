//! Connections to Incus clusters (an admin's to configure) and capturing a snapshot through
//! one. The client key is stored and used here; it is never returned, logged or audited.

use berth_app::types::{ConnectionView, NewConnection};
use serde_json::json;

use super::snapshots::{self, Stored};
use crate::audit::{Actor, AuditKind};
use crate::auth::Auth;
use crate::capture::capture;
use crate::clock::rfc3339;
use crate::db::{ConnectionRecord, Store};
use crate::error::AppError;
use crate::incus::{fingerprint_of_pem, IncusClient, ServerTrust};

const MAX_NAME_CHARS: usize = 64;

fn view_of(record: &ConnectionRecord) -> ConnectionView {
    let (credential, trust) = if record.remote.starts_with("unix://") {
        ("unix socket".to_owned(), "file permissions".to_owned())
    } else {
        let trust = if let Some(fingerprint) = &record.server_fingerprint {
            format!(
                "fingerprint {}…",
                fingerprint.chars().take(16).collect::<String>()
            )
        } else if record.server_cert.is_some() {
            "server certificate".to_owned()
        } else {
            "CA".to_owned()
        };
        ("client certificate".to_owned(), trust)
    };
    ConnectionView {
        name: record.name.clone(),
        remote: record.remote.clone(),
        credential,
        trust,
        created_by: record.created_by.clone(),
        created_at: rfc3339(record.created_at),
    }
}

fn text(field: &Option<String>) -> Option<String> {
    field
        .as_ref()
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}

/// The client for a stored connection (or one about to be).
pub fn client_for(record: &ConnectionRecord) -> Result<IncusClient, AppError> {
    let refused = |error: crate::incus::IncusError| AppError::BadRequest(error.to_string());
    if let Some(path) = record.remote.strip_prefix("unix://") {
        return IncusClient::unix(std::path::Path::new(path)).map_err(refused);
    }
    if !record.remote.starts_with("https://") {
        return Err(AppError::BadRequest(format!(
            "the remote is unix:///PATH or https://HOST:PORT, not {:?}",
            record.remote
        )));
    }
    let (Some(cert), Some(key)) = (&record.client_cert, &record.client_key) else {
        return Err(AppError::BadRequest(
            "an HTTPS connection needs a client certificate and its key".into(),
        ));
    };
    let trust = if let Some(pem) = &record.server_cert {
        ServerTrust::Fingerprint(fingerprint_of_pem(pem.as_bytes()).map_err(refused)?)
    } else if let Some(fingerprint) = &record.server_fingerprint {
        ServerTrust::Fingerprint(fingerprint.clone())
    } else if let Some(pem) = &record.server_ca {
        ServerTrust::CaPem(pem.as_bytes().to_vec())
    } else {
        return Err(AppError::BadRequest(
            "an HTTPS connection needs a way to trust the server: its certificate, its fingerprint \
             or a CA (Incus's certificate is self-signed, so Berth must be told which one to trust)"
                .into(),
        ));
    };
    IncusClient::https_pem(&record.remote, cert.as_bytes(), key.as_bytes(), trust).map_err(refused)
}

pub async fn list(store: &Store) -> Result<Vec<ConnectionView>, AppError> {
    Ok(store.list_connections().await?.iter().map(view_of).collect())
}

/// The record a connection is stored as: its remote without a trailing `/`, empty fields
/// absent, and over the unix socket no certificates (the file permissions are the credential:
/// certificates given by mistake are not kept).
fn record_of(new: &NewConnection, created_by: String, created_at: i64) -> ConnectionRecord {
    let remote = new.remote.trim().trim_end_matches('/').to_owned();
    let https = |field: &Option<String>| text(field).filter(|_| remote.starts_with("https://"));
    ConnectionRecord {
        name: new.name.trim().to_owned(),
        client_cert: https(&new.client_cert),
        client_key: https(&new.client_key),
        server_cert: https(&new.server_cert),
        server_ca: https(&new.server_ca),
        server_fingerprint: https(&new.server_fingerprint),
        remote,
        created_by,
        created_at,
    }
}

/// The client for a connection given now and not stored (`berth snapshot capture`).
pub fn client_of(new: &NewConnection) -> Result<IncusClient, AppError> {
    client_for(&record_of(new, String::new(), 0))
}

/// Adds a connection after checking that it is complete and its certificates parse (it is not
/// dialled: the cluster may be down while it is configured).
pub async fn add(auth: &Auth, actor: &Actor, new: &NewConnection) -> Result<ConnectionView, AppError> {
    let name = new.name.trim();
    if name.is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(AppError::BadRequest(format!(
            "a connection name is 1 to {MAX_NAME_CHARS} letters, digits, '-', '_' or '.'"
        )));
    }
    let remote = new.remote.trim().trim_end_matches('/');
    let trusts = [&new.server_cert, &new.server_ca, &new.server_fingerprint]
        .into_iter()
        .filter(|field| text(field).is_some())
        .count();
    if remote.starts_with("https://") && trusts != 1 {
        return Err(AppError::BadRequest(
            "give exactly one of the server certificate, its fingerprint or a CA".into(),
        ));
    }
    let created_by = actor
        .user
        .as_ref()
        .map_or("command line".into(), |(_, name)| name.clone());
    let record = record_of(new, created_by, auth.clock().now_ms());
    client_for(&record)?;
    if !auth.store().insert_connection(&record).await? {
        return Err(AppError::Conflict(format!(
            "a connection named {name:?} exists already"
        )));
    }
    auth.audit()
        .record(
            actor,
            AuditKind::ConnectionAdded,
            Some(name),
            json!({ "remote": record.remote, "credential": view_of(&record).credential }),
        )
        .await?;
    Ok(view_of(&record))
}

pub async fn delete(auth: &Auth, actor: &Actor, name: &str) -> Result<(), AppError> {
    if !auth.store().delete_connection(name).await? {
        return Err(AppError::NotFound(format!("there is no connection {name:?}")));
    }
    auth.audit()
        .record(actor, AuditKind::ConnectionDeleted, Some(name), json!({}))
        .await?;
    Ok(())
}

/// Reads the cluster behind the connection now and stores the snapshot.
pub async fn capture_now(auth: &Auth, actor: &Actor, name: &str) -> Result<Stored, AppError> {
    let record = auth
        .store()
        .connection(name)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("there is no connection {name:?}")))?;
    let client = client_for(&record)?;
    let captured_at = rfc3339(auth.clock().now_ms());
    let snapshot = capture(&client, &record.remote, captured_at)
        .await
        .map_err(|error| AppError::Upstream(format!("capture from {name} failed: {error}")))?;
    let stored = snapshots::store(auth, actor, &snapshot).await?;
    tracing::info!(
        connection = name,
        snapshot.id = stored.snapshot.id,
        members = snapshot.members.len(),
        instances = snapshot.instances.len(),
        "captured"
    );
    Ok(stored)
}
