//! A client for the Incus REST API, over the unix socket or over HTTPS with a TLS client
//! certificate.
//!
//! Incus clusters share one self-signed server certificate whose names rarely match the
//! address used, so HTTPS trust is either a pinned SHA-256 fingerprint of that certificate
//! or a CA file (see [`tls`]). The client key never leaves this process and is never logged.

mod events;
mod paths;
mod tls;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::causes::with_causes;

pub use events::{EventStream, StreamEnd, EVENTS_PATH};
pub use paths::{api_path, instance_path};
pub use tls::{fingerprint_of_pem, ServerTrust};

#[derive(Debug, thiserror::Error)]
pub enum IncusError {
    #[error("cannot read {path}: {source}")]
    ReadFile { path: PathBuf, source: std::io::Error },
    #[error("invalid TLS configuration: {0}")]
    Tls(String),
    #[error("cannot reach Incus at {remote}: {message}")]
    Unreachable { remote: String, message: String },
    #[error("Incus at {remote} does not trust this client certificate (add it with `incus config trust add-certificate`)")]
    Untrusted { remote: String },
    #[error("Incus answered {status} to {path}: {message}")]
    Api {
        path: String,
        status: u16,
        message: String,
    },
    #[error("unexpected answer from Incus to {path}: {message}")]
    Decode { path: String, message: String },
}

/// How long Berth waits for one answer of Incus (an operation wait: this beyond the wait's own
/// timeout). Incus answers reads in milliseconds; a member that stops answering becomes an
/// error that names the request instead of a page or a plan that waits forever.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

/// The envelope every Incus response comes in.
#[derive(Debug, Deserialize)]
struct Envelope<T> {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    error_code: u16,
    #[serde(default)]
    error: String,
    /// The operation of an `async` answer.
    #[serde(default)]
    operation: String,
    metadata: Option<T>,
}

pub struct IncusClient {
    http: reqwest::Client,
    base: String,
    /// For messages: the socket path or URL, never credentials.
    remote: String,
    /// How to open other connections than HTTP requests (the event stream's websocket).
    transport: Transport,
}

/// Where the client connects, for what reqwest does not do (a websocket).
#[derive(Clone)]
enum Transport {
    Unix(PathBuf),
    /// The TLS configuration holds the client key, opened once into it (`remote.rs`).
    Https {
        config: Arc<rustls::ClientConfig>,
    },
}

impl IncusClient {
    /// Talks to the daemon behind a unix socket (full admin access by file permission).
    pub fn unix(socket: &Path) -> Result<IncusClient, IncusError> {
        let http = client_builder()
            .unix_socket(socket)
            // No idle connections: Incus (6.0.4) accepts on its unix socket one connection at
            // a time and reads a new one's first bytes before accepting the next (looking for
            // `STARTTLS`: `StarttlsListener.Accept`, internal/server/endpoints/listeners/
            // starttls.go). A pooled connection opened for a request that another connection
            // served sends nothing until the pool drops it, 90 s later, and every client of
            // that socket, `incus` included, waits that long (seen on the test bed: captures
            // made side by side hung 90 s and 180 s, their requests queued unaccepted on the
            // socket). A connection per request is cheap on a local socket.
            .pool_max_idle_per_host(0)
            .build()
            .map_err(|error| IncusError::Tls(error.to_string()))?;
        Ok(IncusClient {
            http,
            base: "http://incus".into(),
            remote: format!("unix://{}", socket.display()),
            transport: Transport::Unix(socket.to_owned()),
        })
    }

    /// Talks to `url` (e.g. `https://127.0.0.11:8443`) as the holder of the client
    /// certificate and key (PEM files), trusting the server as `trust` says.
    pub fn https(
        url: &str,
        client_cert: &Path,
        client_key: &Path,
        trust: ServerTrust,
    ) -> Result<IncusClient, IncusError> {
        IncusClient::https_pem(url, &read(client_cert)?, &read(client_key)?, trust)
    }

    /// As [`IncusClient::https`], with the certificate and key given as PEM text (a stored
    /// connection's).
    pub fn https_pem(
        url: &str,
        client_cert: &[u8],
        client_key: &[u8],
        trust: ServerTrust,
    ) -> Result<IncusClient, IncusError> {
        let config = tls::client_config(client_cert, client_key, trust)?;
        let http = client_builder()
            .use_preconfigured_tls(config.clone())
            .build()
            .map_err(|error| IncusError::Tls(error.to_string()))?;
        let base = url.trim_end_matches('/').to_owned();
        Ok(IncusClient {
            http,
            remote: base.clone(),
            base,
            transport: Transport::Https {
                config: Arc::new(config),
            },
        })
    }

    /// The remote, for messages (a socket path or URL).
    pub fn remote(&self) -> &str {
        &self.remote
    }

    /// Whether this client speaks to one member over its unix socket (other members are out
    /// of reach: their events come forwarded).
    pub fn is_unix(&self) -> bool {
        matches!(self.transport, Transport::Unix(_))
    }

    /// `GET path` and the response's `metadata`, e.g. `get("/1.0/cluster/members?recursion=1")`.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, IncusError> {
        self.get_within(path, ANSWER_TIMEOUT).await
    }

    async fn get_within<T: DeserializeOwned>(&self, path: &str, timeout: Duration) -> Result<T, IncusError> {
        let envelope: Envelope<T> = self.send(reqwest::Method::GET, path, None, timeout).await?;
        envelope.metadata.ok_or_else(|| IncusError::Decode {
            path: path.into(),
            message: "no metadata".into(),
        })
    }

    /// `POST path` with `body` for an asynchronous answer: the operation's path
    /// (`/1.0/operations/UUID`). A synchronous refusal is an [`IncusError::Api`] with Incus's
    /// message.
    pub async fn post_async(&self, path: &str, body: &serde_json::Value) -> Result<String, IncusError> {
        let envelope: Envelope<serde_json::Value> = self
            .send(reqwest::Method::POST, path, Some(body), ANSWER_TIMEOUT)
            .await?;
        if envelope.operation.is_empty() {
            return Err(IncusError::Decode {
                path: path.into(),
                message: format!("a {} answer without an operation", envelope.kind),
            });
        }
        Ok(envelope.operation)
    }

    /// `PATCH path` with `body`, answered synchronously (e.g. `PATCH /1.0` with server config
    /// keys, which Incus merges into its configuration). A refusal is an [`IncusError::Api`]
    /// with Incus's message.
    pub async fn patch(&self, path: &str, body: &serde_json::Value) -> Result<(), IncusError> {
        let _: Envelope<serde_json::Value> = self
            .send(reqwest::Method::PATCH, path, Some(body), ANSWER_TIMEOUT)
            .await?;
        Ok(())
    }

    /// Waits up to `timeout_s` for an operation to end and returns it. Incus answers the wait
    /// with 200 as soon as it starts: the outcome is the operation's `status` and `err`.
    pub async fn wait_operation(
        &self,
        operation: &str,
        timeout_s: u64,
    ) -> Result<OperationStatus, IncusError> {
        let patience = ANSWER_TIMEOUT + Duration::from_secs(timeout_s);
        self.get_within(&format!("{operation}/wait?timeout={timeout_s}"), patience)
            .await
    }

    /// Waits until the operation ends, in waits of `each_s` seconds, and returns it (`Success`,
    /// `Failure` or `Cancelled`, with its `err`). Incus answers a wait that outlasts its timeout
    /// with an error ("context deadline exceeded", HTTP 500) rather than with the operation
    /// still running: the operation is then read, and waited on again while it runs.
    pub async fn wait_until_done(&self, operation: &str, each_s: u64) -> Result<OperationStatus, IncusError> {
        loop {
            let status = match self.wait_operation(operation, each_s).await {
                Ok(status) => status,
                Err(wait_error) => match self.get::<OperationStatus>(operation).await {
                    Ok(status) => status,
                    Err(_) => return Err(wait_error),
                },
            };
            if !matches!(status.status.as_str(), "Running" | "Pending") {
                return Ok(status);
            }
        }
    }

    async fn send<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&serde_json::Value>,
        timeout: Duration,
    ) -> Result<Envelope<T>, IncusError> {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .timeout(timeout);
        if let Some(body) = body {
            request = request.json(body);
        }
        let started = std::time::Instant::now();
        let unreachable = |error: reqwest::Error| IncusError::Unreachable {
            remote: self.remote.clone(),
            message: if error.is_timeout() {
                format!("no answer to {method} {path} within {} s", timeout.as_secs())
            } else {
                with_causes(&error)
            },
        };
        let response = request.send().await.map_err(unreachable)?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(unreachable)?;
        tracing::debug!(%method, path, status, elapsed_ms = started.elapsed().as_millis() as u64, "Incus answered");
        let envelope: Envelope<T> = serde_json::from_slice(&bytes).map_err(|error| IncusError::Decode {
            path: path.into(),
            message: format!("HTTP {status}: {error}"),
        })?;
        if envelope.kind == "error" {
            if envelope.error_code == 403 && envelope.error.contains("not authorized") {
                return Err(IncusError::Untrusted {
                    remote: self.remote.clone(),
                });
            }
            return Err(IncusError::Api {
                path: path.into(),
                status: envelope.error_code,
                message: envelope.error,
            });
        }
        Ok(envelope)
    }
}

/// An operation as `GET /1.0/operations/UUID[/wait]` gives it (the fields Berth reads).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct OperationStatus {
    pub id: String,
    /// `Running`, `Success`, `Failure`, `Cancelled`.
    pub status: String,
    #[serde(default)]
    pub err: String,
}

fn client_builder() -> reqwest::ClientBuilder {
    // reqwest checks for a process-wide TLS provider even when it is given a configuration
    // or speaks plain HTTP over a socket; this process's provider is ring.
    let _already_installed = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
}

fn read(path: &Path) -> Result<Vec<u8>, IncusError> {
    std::fs::read(path).map_err(|source| IncusError::ReadFile {
        path: path.to_owned(),
        source,
    })
}
