//! How the engine reaches a relay: a TCP connection (TLS for `wss://`), or a pipe to a relay
//! in the same process (a hosting app's own replica, and the deterministic collaboration
//! tests, which run relay and clients on one thread with a virtual clock).

use std::io;
use std::sync::Arc;

use tokio::io::DuplexStream;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::either::Either;

use super::ClientConfig;
use super::engine::SessionEnd;
use crate::invite::InviteCode;

/// Opens a pipe to a relay in this process (e.g. `arxos_relay::MemoryConnector::connect`).
#[derive(Clone)]
pub struct Dial(Arc<dyn Fn() -> io::Result<DuplexStream> + Send + Sync>);

impl Dial {
    /// Dials with `f`.
    pub fn new(f: impl Fn() -> io::Result<DuplexStream> + Send + Sync + 'static) -> Self {
        Self(Arc::new(f))
    }
}

impl std::fmt::Debug for Dial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Dial(in-process)")
    }
}

/// A connection to the relay, below the WebSocket: TCP, or the in-process pipe.
pub(crate) type ClientStream = Either<TcpStream, DuplexStream>;

pub(crate) type Ws = WebSocketStream<MaybeTlsStream<ClientStream>>;

fn lost(reason: String) -> SessionEnd {
    SessionEnd::Lost {
        reason,
        was_synced: false,
    }
}

/// The stream under the WebSocket: the in-process pipe, or TCP to the invite's host.
async fn open(
    config: &ClientConfig,
    invite: &InviteCode,
    url: &str,
) -> Result<ClientStream, SessionEnd> {
    if let Some(dial) = &config.dial {
        return (dial.0)()
            .map(Either::Right)
            .map_err(|e| lost(format!("cannot reach {}: {e}", invite.relay)));
    }
    let request = url
        .into_client_request()
        .map_err(|e| SessionEnd::Rejected(format!("bad relay address {url}: {e}")))?;
    let uri = request.uri();
    let host = uri
        .host()
        .ok_or_else(|| SessionEnd::Rejected(format!("bad relay address {url}: no host")))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = uri
        .port_u16()
        .unwrap_or(if uri.scheme_str() == Some("wss") {
            443
        } else {
            80
        });
    let tcp = TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| lost(format!("cannot reach {}: {e}", invite.relay)))?;
    // Nagle off: small sync and presence frames must not wait for delayed ACKs.
    let _ = tcp.set_nodelay(true);
    Ok(Either::Left(tcp))
}

/// Connects and upgrades to a WebSocket, within the connect timeout per address: the
/// invite's, then its other addresses ([`InviteCode::also`]), then each of
/// [`ClientConfig::fallback_relays`] while none could be reached. A refused invite
/// (401/403/404) ends the engine (every address serves the same invites); anything else is
/// retried.
pub(crate) async fn connect(config: &ClientConfig, invite: &InviteCode) -> Result<Ws, SessionEnd> {
    let mut tried = vec![invite.relay.as_str()];
    let mut last = match connect_checked(config, invite).await {
        Ok(ws) => return Ok(ws),
        Err(f) => f.end,
    };
    if config.dial.is_some() {
        return Err(last);
    }
    for relay in invite.also.iter().chain(&config.fallback_relays) {
        if matches!(last, SessionEnd::Rejected(_)) {
            break;
        }
        if tried.contains(&relay.as_str()) {
            continue;
        }
        tried.push(relay);
        let at = InviteCode {
            relay: relay.clone(),
            ..invite.clone()
        };
        match connect_checked(config, &at).await {
            Ok(ws) => {
                tracing::info!(%relay, "connected through a fallback relay address");
                return Ok(ws);
            }
            Err(f) => last = f.end,
        }
    }
    Err(last)
}

/// Why [`connect_checked`] failed, and whether anything at the relay's address answered: a
/// diagnosis tells "nothing there" from "the relay said no" (the engine only needs the end).
pub(super) struct ConnectFailure {
    pub(super) end: SessionEnd,
    /// An HTTP answer came back (the relay, or something at its address, is up).
    pub(super) answered: bool,
}

/// [`connect`], saying whether the relay answered when it fails.
pub(super) async fn connect_checked(
    config: &ClientConfig,
    invite: &InviteCode,
) -> Result<Ws, ConnectFailure> {
    let silent = |end| ConnectFailure {
        end,
        answered: false,
    };
    let url = invite.ws_url();
    let connector = if url.starts_with("wss://") {
        match crate::tls::client_config(config.tls_ca.as_deref()) {
            Ok(tls) => Some(tokio_tungstenite::Connector::Rustls(tls)),
            Err(err) => return Err(silent(SessionEnd::Rejected(err.to_string()))),
        }
    } else {
        None
    };
    let attempt = async {
        let stream = open(config, invite, &url).await.map_err(silent)?;
        tokio_tungstenite::client_async_tls_with_config(
            url.as_str(),
            stream,
            Some(crate::protocol::ws_config()),
            connector,
        )
        .await
        .map_err(|e| ConnectFailure {
            answered: matches!(e, WsError::Http(_)),
            end: upgrade_error(invite, e),
        })
    };
    match tokio::time::timeout(config.connect_timeout, attempt).await {
        Err(_) => Err(silent(lost("connection timed out".into()))),
        Ok(Err(failure)) => Err(failure),
        Ok(Ok((ws, _))) => Ok(ws),
    }
}

fn upgrade_error(invite: &InviteCode, err: WsError) -> SessionEnd {
    let WsError::Http(response) = err else {
        return lost(format!("cannot reach {}: {err}", invite.relay));
    };
    let status = response.status();
    let body = response
        .headers()
        .get("x-arxos-reason")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| {
            response
                .body()
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).trim().to_owned())
        })
        .unwrap_or_default();
    let reason = format!("{} {body}", status.as_u16());
    if matches!(status.as_u16(), 401 | 403 | 404) {
        SessionEnd::Rejected(format!("the relay refused the invite ({})", reason.trim()))
    } else {
        lost(reason)
    }
}
