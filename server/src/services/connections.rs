//! Connections to Incus clusters (an admin's to configure) and capturing a snapshot through
//! one. The client key is sealed and opened here only (`secrets`): sealed with the secret key
//! file before it is stored, opened by `remote::client_for` into the TLS configuration. It is never
//! returned, logged or audited.
//!
//! At start, every command given the key file calls [`unlock`]: keys an older Berth stored in
//! the clear are sealed, and the keys that do not open with this file are reported (`serve`
//! refuses to start with them). [`rekey`] seals every key again under a new key, all at once.

use berth_app::types::{ConnectionView, NewConnection};
use serde_json::json;

use super::snapshots::{self, Stored};
use crate::audit::{Actor, Audit, AuditKind};
use crate::auth::Auth;
use crate::capture::capture;
use crate::clock::{rfc3339, Clock};
use crate::db::{ClientKeyChange, ConnectionRecord, Store, StoreError};
use crate::error::AppError;
use crate::incus::IncusClient;
use crate::remote::{client_for, client_with};
use crate::secrets::{self, ClientKey, SealError, SecretKey, StoredForm};

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
        decision_log: record.decision_log == 1,
    }
}

fn text(field: &Option<String>) -> Option<String> {
    field
        .as_ref()
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}

pub async fn list(store: &Store) -> Result<Vec<ConnectionView>, AppError> {
    Ok(store.list_connections().await?.iter().map(view_of).collect())
}

/// The record a connection is stored as, without its client key (returned beside it, in the
/// clear, for the caller to seal): its remote without a trailing `/`, empty fields absent, and
/// over the unix socket no certificates (the file permissions are the credential:
/// certificates given by mistake are not kept).
fn record_of(
    new: &NewConnection,
    created_by: String,
    created_at: i64,
) -> (ConnectionRecord, Option<ClientKey>) {
    let remote = new.remote.trim().trim_end_matches('/').to_owned();
    let https = |field: &Option<String>| text(field).filter(|_| remote.starts_with("https://"));
    let client_key = https(&new.client_key).map(ClientKey::new);
    let record = ConnectionRecord {
        name: new.name.trim().to_owned(),
        client_cert: https(&new.client_cert),
        client_key: None,
        server_cert: https(&new.server_cert),
        server_ca: https(&new.server_ca),
        server_fingerprint: https(&new.server_fingerprint),
        remote,
        created_by,
        created_at,
        decision_log: i64::from(new.decision_log),
    };
    (record, client_key)
}

/// The client for a connection given now and not stored (`berth snapshot capture`).
pub fn client_of(new: &NewConnection) -> Result<IncusClient, AppError> {
    let (record, client_key) = record_of(new, String::new(), 0);
    client_with(&record, client_key.as_ref())
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
    let (mut record, client_key) = record_of(new, created_by, auth.clock().now_ms());
    client_with(&record, client_key.as_ref())?;
    if let Some(client_key) = &client_key {
        record.client_key = Some(secrets::seal(
            auth.store().sealing_key()?,
            &record.name,
            client_key,
        ));
    }
    let entry = auth.audit().entry(
        actor,
        AuditKind::ConnectionAdded,
        Some(name),
        json!({
            "remote": record.remote,
            "credential": view_of(&record).credential,
            "decision_log": new.decision_log,
        }),
    );
    if !auth.store().insert_connection(&record, &entry).await? {
        return Err(AppError::Conflict(format!(
            "a connection named {name:?} exists already"
        )));
    }
    Ok(view_of(&record))
}

pub async fn delete(auth: &Auth, actor: &Actor, name: &str) -> Result<(), AppError> {
    let entry = auth
        .audit()
        .entry(actor, AuditKind::ConnectionDeleted, Some(name), json!({}));
    if !auth.store().delete_connection(name, &entry).await? {
        return Err(AppError::NotFound(format!("there is no connection {name:?}")));
    }
    Ok(())
}

/// Turns the decision log of connection `name` on or off (an admin's), audited in the same
/// transaction; the connection as it is now. The listeners of every replica notice within
/// their next look (`decisions::DecisionLog`).
pub async fn set_decision_log(
    auth: &Auth,
    actor: &Actor,
    name: &str,
    on: bool,
) -> Result<ConnectionView, AppError> {
    let entry = auth.audit().entry(
        actor,
        AuditKind::ConnectionDecisionLog,
        Some(name),
        json!({ "decision_log": on }),
    );
    if !auth.store().set_decision_log(name, on, &entry).await? {
        return Err(AppError::NotFound(format!("there is no connection {name:?}")));
    }
    let record = auth
        .store()
        .connection(name)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("there is no connection {name:?}")))?;
    Ok(view_of(&record))
}

/// What [`unlock`] found in the store.
#[derive(Debug, Default)]
pub struct KeyCheck {
    /// Connections whose key an older Berth stored in the clear, sealed now.
    pub sealed: Vec<String>,
    /// Connections whose key does not open with this key file, with the reason.
    pub unreadable: Vec<SealError>,
}

/// The store with `key` as its sealing key, after sealing every client key still in the
/// clear (each in its own transaction with its `connection.key_sealed` entry, by the command
/// line) and trying every sealed one.
pub async fn unlock(store: Store, key: SecretKey, clock: Clock) -> Result<(Store, KeyCheck), AppError> {
    let store = store.with_sealing_key(key);
    let key = store.sealing_key()?;
    let audit = Audit::new(store.clone(), clock);
    let mut check = KeyCheck::default();
    for record in store.list_connections().await? {
        let Some(stored) = &record.client_key else {
            continue;
        };
        match StoredForm::of(stored) {
            StoredForm::Clear => {
                let change = ClientKeyChange {
                    connection: record.name.clone(),
                    from: stored.clone(),
                    to: secrets::seal(key, &record.name, &ClientKey::new(stored.clone())),
                };
                let entry = audit.entry(
                    &Actor::command_line(),
                    AuditKind::ConnectionKeySealed,
                    Some(&record.name),
                    json!({ "key_id": key.id() }),
                );
                if store.replace_client_keys(&[change], &entry).await? {
                    check.sealed.push(record.name.clone());
                    continue;
                }
                // Another replica sealed it at the same moment: with the same key file, if
                // replicas share it as they must.
                let sealed_meanwhile = store.connection(&record.name).await?;
                if let Some(stored) = sealed_meanwhile.and_then(|record| record.client_key) {
                    if let Err(error) = secrets::open(key, &record.name, &stored) {
                        check.unreadable.push(error);
                    }
                }
            }
            StoredForm::Sealed { .. } | StoredForm::Unknown { .. } => {
                if let Err(error) = secrets::open(key, &record.name, stored) {
                    check.unreadable.push(error);
                }
            }
        }
    }
    Ok((store, check))
}

/// Seals every stored client key again under `new_key`, all in one transaction with the
/// `connection.rekeyed` entry. Refused when a key does not open with the store's key (nothing
/// is changed) or when a connection changed meanwhile. Returns how many keys were sealed
/// again. Replacing the key file is the caller's: the database is only ever sealed with a key
/// that is already in a file.
pub async fn rekey(
    store: &Store,
    audit: &Audit,
    actor: &Actor,
    new_key: &SecretKey,
) -> Result<usize, AppError> {
    let key = store.sealing_key()?;
    let mut changes = Vec::new();
    for record in store.list_connections().await? {
        let Some(stored) = &record.client_key else {
            continue;
        };
        let client_key = secrets::open(key, &record.name, stored).map_err(StoreError::from)?;
        changes.push(ClientKeyChange {
            connection: record.name.clone(),
            from: stored.clone(),
            to: secrets::seal(new_key, &record.name, &client_key),
        });
    }
    let entry = audit.entry(
        actor,
        AuditKind::ConnectionsRekeyed,
        None,
        json!({
            "connections": changes.iter().map(|change| change.connection.clone()).collect::<Vec<_>>(),
            "from_key_id": key.id(),
            "to_key_id": new_key.id(),
        }),
    );
    if !store.replace_client_keys(&changes, &entry).await? {
        return Err(AppError::Conflict(
            "a connection changed during the rekey: nothing was changed, run it again".into(),
        ));
    }
    Ok(changes.len())
}

/// Reads the cluster behind the connection now and stores the snapshot.
pub async fn capture_now(auth: &Auth, actor: &Actor, name: &str) -> Result<Stored, AppError> {
    let record = auth
        .store()
        .connection(name)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("there is no connection {name:?}")))?;
    let client = client_for(auth.store(), &record)?;
    let started_at = auth.clock().now_ms();
    let snapshot = capture(&client, &record.remote, rfc3339(started_at))
        .await
        .map_err(|error| AppError::Upstream(format!("capture from {name} failed: {error}")))?;
    let stored = snapshots::store(auth, actor, &snapshot).await?;
    // The decision log predicts on the newest capture through the connection: this one too.
    crate::decisions::keep_capture(
        auth,
        name,
        &snapshot,
        stored.snapshot.id,
        started_at,
        auth.clock().now_ms(),
    )
    .await?;
    tracing::info!(
        connection = name,
        snapshot.id = stored.snapshot.id,
        members = snapshot.members.len(),
        instances = snapshot.instances.len(),
        "captured"
    );
    Ok(stored)
}
