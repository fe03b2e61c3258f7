//! Incus's event stream: `GET /1.0/events?type=lifecycle,logging&all-projects=true` upgraded
//! to a websocket, each message one event in Incus's JSON (`berth_core::decisions::event`).
//!
//! The websocket runs over the same transport as the client's requests: the unix socket, or a
//! TLS connection made from the client's own configuration (its client certificate, the
//! pinned server certificate or CA). Over HTTPS a stream can be opened to any member's URL:
//! a member sends its own events and forwards the others', but forwards another member's
//! `info` lines only when it runs with `--verbose` or `--debug` (`events.Server.Inject`), so
//! the decision log opens one stream per member and keeps each member's own events from it.
//!
//! A stream that stays silent is checked: a ping every [`PING_EVERY`]; no frame at all for
//! [`SILENCE`] ends it, as a member that died without closing its connections would.

use std::pin::Pin;
use std::time::Duration;

use berth_core::decisions::IncusEvent;
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::{IncusClient, IncusError, Transport};

/// Lifecycle events and log lines of every project.
pub const EVENTS_PATH: &str = "/1.0/events?type=lifecycle,logging&all-projects=true";

/// How long opening a stream may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
const PING_EVERY: Duration = Duration::from_secs(10);
/// No frame (an event, a pong) for this long: the member is gone.
const SILENCE: Duration = Duration::from_secs(35);
/// The largest event accepted. A cluster in debug mode logs every API answer it sends as one
/// `debug` line (a capture's instance list included): those come through the stream too.
const MAX_MESSAGE_BYTES: usize = 128 << 20;

trait Connection: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Connection for T {}

/// An open event stream.
pub struct EventStream {
    socket: WebSocketStream<Pin<Box<dyn Connection>>>,
    /// For messages.
    remote: String,
    pinged: tokio::time::Instant,
    /// When the last frame came.
    heard: tokio::time::Instant,
}

/// Why a stream ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEnd {
    /// Incus closed it, or the connection broke: the reason, for the gap's detail.
    Lost(String),
}

impl std::fmt::Display for StreamEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StreamEnd::Lost(reason) => f.write_str(reason),
        }
    }
}

impl IncusClient {
    /// Opens the event stream of the member behind this client, or of the member at
    /// `member_url` (HTTPS only; its URL as `GET /1.0/cluster/members` gives it).
    pub async fn events(&self, member_url: Option<&str>) -> Result<EventStream, IncusError> {
        let remote = member_url.unwrap_or(&self.base).trim_end_matches('/').to_owned();
        let unreachable = |message: String| IncusError::Unreachable {
            remote: remote.clone(),
            message,
        };
        let (connection, url): (Pin<Box<dyn Connection>>, String) = match &self.transport {
            Transport::Unix(path) => {
                let socket = tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::UnixStream::connect(path))
                    .await
                    .map_err(|_| unreachable("no answer".into()))?
                    .map_err(|error| unreachable(error.to_string()))?;
                (Box::pin(socket), format!("ws://incus{EVENTS_PATH}"))
            }
            Transport::Https { config } => {
                let parsed = url::Url::parse(&remote).map_err(|error| unreachable(error.to_string()))?;
                let host = parsed
                    .host_str()
                    .ok_or_else(|| unreachable("no host in the URL".into()))?
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_owned();
                let port = parsed.port().unwrap_or(8443);
                let name = rustls::pki_types::ServerName::try_from(host.clone())
                    .map_err(|error| unreachable(error.to_string()))?;
                let connect = async {
                    let tcp = tokio::net::TcpStream::connect((host.as_str(), port)).await?;
                    tokio_rustls::TlsConnector::from(config.clone())
                        .connect(name, tcp)
                        .await
                };
                let tls = tokio::time::timeout(CONNECT_TIMEOUT, connect)
                    .await
                    .map_err(|_| unreachable("no answer".into()))?
                    .map_err(|error| unreachable(error.to_string()))?;
                (Box::pin(tls), format!("wss://{host}:{port}{EVENTS_PATH}"))
            }
        };
        let request = url
            .into_client_request()
            .map_err(|error| unreachable(error.to_string()))?;
        let config = WebSocketConfig::default()
            .max_message_size(Some(MAX_MESSAGE_BYTES))
            .max_frame_size(Some(MAX_MESSAGE_BYTES));
        let handshake = tokio_tungstenite::client_async_with_config(request, connection, Some(config));
        let (socket, _response) = tokio::time::timeout(CONNECT_TIMEOUT, handshake)
            .await
            .map_err(|_| unreachable("no answer to the event stream's handshake".into()))?
            .map_err(|error| match error {
                tokio_tungstenite::tungstenite::Error::Http(response) if response.status() == 403 => {
                    IncusError::Untrusted {
                        remote: remote.clone(),
                    }
                }
                other => unreachable(format!("the event stream was refused: {other}")),
            })?;
        let now = tokio::time::Instant::now();
        Ok(EventStream {
            socket,
            remote,
            pinged: now,
            heard: now,
        })
    }
}

impl EventStream {
    /// The next event; `Err` when the stream ended (it is not read again). A message that is
    /// no event is skipped (logged).
    pub async fn next(&mut self) -> Result<IncusEvent, StreamEnd> {
        loop {
            let ping_at = self.pinged + PING_EVERY;
            let silent_at = self.heard + SILENCE;
            let frame = tokio::select! {
                frame = self.socket.next() => frame,
                () = tokio::time::sleep_until(ping_at) => {
                    self.pinged = tokio::time::Instant::now();
                    if let Err(error) = self.socket.send(Message::Ping(Vec::new().into())).await {
                        return Err(StreamEnd::Lost(format!("{}: {error}", self.remote)));
                    }
                    continue;
                }
                () = tokio::time::sleep_until(silent_at) => {
                    return Err(StreamEnd::Lost(format!(
                        "{}: nothing received for {} s",
                        self.remote,
                        SILENCE.as_secs()
                    )));
                }
            };
            self.heard = tokio::time::Instant::now();
            let message = match frame {
                None => return Err(StreamEnd::Lost(format!("{}: the stream was closed", self.remote))),
                Some(Err(error)) => return Err(StreamEnd::Lost(format!("{}: {error}", self.remote))),
                Some(Ok(message)) => message,
            };
            let text = match &message {
                Message::Text(text) => text.as_str(),
                Message::Binary(bytes) => match std::str::from_utf8(bytes) {
                    Ok(text) => text,
                    Err(_) => continue,
                },
                Message::Close(frame) => {
                    return Err(StreamEnd::Lost(format!(
                        "{}: Incus closed the stream{}",
                        self.remote,
                        frame
                            .as_ref()
                            .map(|f| format!(" ({})", f.reason))
                            .unwrap_or_default()
                    )))
                }
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
            };
            match serde_json::from_str::<IncusEvent>(text) {
                Ok(event) => return Ok(event),
                Err(error) => {
                    tracing::debug!(remote = %self.remote, %error, "an event stream message that is no event, skipped");
                }
            }
        }
    }

    /// Closes the stream (best effort).
    pub async fn close(mut self) {
        let _ = self.socket.close(None).await;
    }
}
