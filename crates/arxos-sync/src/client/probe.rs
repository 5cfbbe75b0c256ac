//! One look at the relay behind an invite, syncing nothing (`arxos sync diagnose`): connect
//! with the invite, join, read the relay's `peer` and `arx/room-info` answers, time one
//! WebSocket ping, leave. It tells whether anything answers at the relay's address, whether
//! the relay accepts the invite and as what, which plan the room holds, and the relay's clock.
//!
//! It goes through the engine's own connection and handshake code (`transport`, `session`),
//! so what it reports is what a real session would meet.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt as _, StreamExt as _};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use super::ClientConfig;
use super::engine::SessionEnd;
use super::session::{room_info, wait_peer};
use super::transport::{Ws, connect_checked};
use crate::invite::{Grant, InviteCode, Role};
use crate::protocol::{JoinMessage, PROTOCOL_VERSION, PeerId, PeerMetadata, WireMessage};

/// What the relay answered to a probe.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Probe {
    /// The relay's base address.
    pub relay: String,
    /// Our role in the room, as the relay says (older relays do not say).
    pub role: Option<Role>,
    /// Our write grant, when the invite narrows it.
    pub grant: Option<Grant>,
    /// The plan the room holds (`None` while it holds none).
    pub plan_id: Option<String>,
    /// One WebSocket ping's round trip, in milliseconds (`None` when the pong did not come
    /// back in time: the rest of the probe still stands).
    pub rtt_ms: Option<f64>,
    /// Our wall clock when the join was sent, Unix milliseconds.
    pub sent_at_ms: u64,
    /// The relay's wall clock when it sent the room info (older relays do not say).
    pub relay_time_ms: Option<u64>,
    /// Our wall clock when the room info arrived.
    pub received_at_ms: u64,
}

/// Why a probe failed, by how far it got.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// Nothing answered at the relay's address (no route, connection refused, no answer in
    /// time), or the address or the TLS settings cannot work.
    #[error("{0}")]
    Unreachable(String),
    /// The relay answered and turned us away: the invite is bad, expired or revoked (or the
    /// relay limits us); the text says which.
    #[error("{0}")]
    Refused(String),
    /// The connection opened but the handshake did not complete (the relay closed it, the
    /// room would not open, no answer in time).
    #[error("{0}")]
    Handshake(String),
}

fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn reason(end: SessionEnd) -> String {
    // The other ends are ones the engine chooses itself (shutdown...): never a handshake's.
    if let SessionEnd::Rejected(r) | SessionEnd::Lost { reason: r, .. } = end {
        r
    } else {
        "the connection ended".into()
    }
}

/// Probes the relay behind `invite`; `timeout` bounds the whole probe, so a relay that is
/// down, or a firewall that drops packets, costs at most that long. `tls_ca`: extra CA
/// certificates (PEM) to trust for a `wss://` relay.
pub async fn probe(
    invite: &InviteCode,
    timeout: Duration,
    tls_ca: Option<&Path>,
) -> Result<Probe, ProbeError> {
    let deadline = Instant::now() + timeout;
    let secs = timeout.as_secs_f64();
    let mut config = ClientConfig::new(invite.clone(), "");
    config.connect_timeout = timeout;
    config.tls_ca = tls_ca.map(Path::to_owned);
    let mut ws = match connect_checked(&config, invite).await {
        Ok(ws) => ws,
        Err(f) if f.answered => return Err(ProbeError::Refused(reason(f.end))),
        Err(_) if Instant::now() >= deadline => {
            return Err(ProbeError::Unreachable(format!(
                "cannot reach {}: no answer within {secs:.0} s",
                invite.relay
            )));
        }
        Err(f) => return Err(ProbeError::Unreachable(reason(f.end))),
    };
    let me = PeerId::random("arxos-probe");
    let out = handshake(&mut ws, invite, &me, deadline, secs).await;
    // Say goodbye either way, but never wait long for it: the verdict is already known.
    let leave = async {
        if out.is_ok() {
            let bye = WireMessage::Leave { sender_id: me };
            let _ = ws.send(Message::Binary(bye.encode().into())).await;
        }
        let _ = ws.close(None).await;
    };
    let _ = tokio::time::timeout(Duration::from_millis(500), leave).await;
    out
}

async fn handshake(
    ws: &mut Ws,
    invite: &InviteCode,
    me: &PeerId,
    deadline: Instant,
    secs: f64,
) -> Result<Probe, ProbeError> {
    let late = || {
        ProbeError::Handshake(format!(
            "{} accepted the connection but did not finish the handshake within {secs:.0} s",
            invite.relay
        ))
    };
    let join = WireMessage::Join(JoinMessage {
        sender_id: me.clone(),
        peer_metadata: PeerMetadata {
            storage_id: None,
            // A probe keeps nothing.
            is_ephemeral: true,
        },
        supported_protocol_versions: vec![PROTOCOL_VERSION.into()],
    });
    let sent_at_ms = wall_ms();
    ws.send(Message::Binary(join.encode().into()))
        .await
        .map_err(|e| ProbeError::Handshake(format!("the connection broke: {e}")))?;
    match tokio::time::timeout_at(deadline, wait_peer(ws)).await {
        Err(_) => return Err(late()),
        Ok(Err(SessionEnd::Rejected(r))) => return Err(ProbeError::Refused(r)),
        Ok(Err(end)) => return Err(ProbeError::Handshake(reason(end))),
        Ok(Ok(_relay_peer)) => {}
    }
    let info = match tokio::time::timeout_at(deadline, room_info(ws)).await {
        Err(_) => return Err(late()),
        Ok(Err(end)) => return Err(ProbeError::Handshake(reason(end))),
        Ok(Ok(info)) => info,
    };
    let received_at_ms = wall_ms();
    let rtt_ms = ping(ws, deadline).await;
    Ok(Probe {
        relay: invite.relay.clone(),
        role: info.role,
        grant: info.grant,
        plan_id: info.plan_id,
        rtt_ms,
        sent_at_ms,
        relay_time_ms: info.time_ms,
        received_at_ms,
    })
}

/// One ping's round trip, skipping whatever else of the room arrives meanwhile (the lock
/// table, presence, the relay's first sync message).
async fn ping(ws: &mut Ws, deadline: Instant) -> Option<f64> {
    let payload = b"arxos-probe".to_vec();
    let sent = Instant::now();
    ws.send(Message::Ping(payload.clone().into())).await.ok()?;
    let pong = async {
        while let Some(Ok(frame)) = ws.next().await {
            match frame {
                Message::Pong(p) if p.as_ref() == payload.as_slice() => return true,
                Message::Close(_) => return false,
                _ => {}
            }
        }
        false
    };
    match tokio::time::timeout_at(deadline, pong).await {
        // Rounded to microseconds: the digits below are noise.
        Ok(true) => Some((sent.elapsed().as_secs_f64() * 1e6).round() / 1000.0),
        Ok(false) | Err(_) => None,
    }
}
