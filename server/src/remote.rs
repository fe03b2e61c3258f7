//! The Incus client for a connection, stored or given now: its remote (unix socket or HTTPS),
//! how the server is trusted, and its client key, opened with the store's secret key only here
//! and only into the TLS configuration. Below the services and the plan layer, which both
//! reach the cluster through it.

use crate::db::{ConnectionRecord, Store, StoreError};
use crate::error::AppError;
use crate::incus::{fingerprint_of_pem, IncusClient, ServerTrust};
use crate::secrets::{self, ClientKey};

/// The client for a stored connection: its client key opened with the store's secret key. A
/// key that does not open is a server fault (500, logged with the reason, which names the key
/// file), not the caller's.
pub fn client_for(store: &Store, record: &ConnectionRecord) -> Result<IncusClient, AppError> {
    let client_key = match &record.client_key {
        Some(stored) => {
            Some(secrets::open(store.sealing_key()?, &record.name, stored).map_err(StoreError::from)?)
        }
        None => None,
    };
    client_with(record, client_key.as_ref())
}

/// The client for `record`'s remote with `client_key` in the clear (the record's own column
/// is not read).
pub(crate) fn client_with(
    record: &ConnectionRecord,
    client_key: Option<&ClientKey>,
) -> Result<IncusClient, AppError> {
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
    let (Some(cert), Some(key)) = (&record.client_cert, client_key) else {
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
    IncusClient::https_pem(&record.remote, cert.as_bytes(), key.pem().as_bytes(), trust).map_err(refused)
}
