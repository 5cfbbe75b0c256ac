//! One WebSocket session, once [`super::upgrade`] has authenticated it: the `join`/`peer`
//! handshake, limits (frame size, rate, idle), and relaying messages between the socket and
//! its room.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::time::Instant;

use arxos_sync::protocol::{ErrorMessage, PROTOCOL_VERSION, PeerMessage, PeerMetadata};
use arxos_sync::{PeerId, WireMessage};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::Role as WsRole;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use super::Shared;
use crate::invites::InviteRecord;
use crate::room::{ConnId, JoinInfo, Outbound, RoomCmd};
use crate::storage::RoomSettings;

/// Per-connection outbound queue length; a peer that falls this far behind is dropped.
const OUTBOUND_QUEUE: usize = 1024;

/// A token bucket: `rate` per second, up to `burst`.
struct TokenBucket {
    tokens: f64,
    rate: f64,
    burst: f64,
    last: Instant,
}

impl TokenBucket {
    fn new(rate: u32, burst: u32) -> Self {
        Self {
            tokens: f64::from(burst),
            rate: f64::from(rate),
            burst: f64::from(burst),
            last: Instant::now(),
        }
    }

    fn take(&mut self) -> bool {
        let now = Instant::now();
        let elapsed = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

struct Session {
    shared: Arc<Shared>,
    conn: ConnId,
    record: InviteRecord,
    settings: RoomSettings,
    ws: WebSocketStream<WsIo>,
    peer: Option<PeerId>,
    room: Option<mpsc::Sender<RoomCmd>>,
}

/// The connection once hyper has handed it over after the `101`.
pub(crate) type WsIo = hyper_util::rt::TokioIo<hyper::upgrade::Upgraded>;

/// Runs an upgraded (already authenticated) session until either side closes.
pub(crate) async fn serve_ws(
    shared: Arc<Shared>,
    io: WsIo,
    record: InviteRecord,
    settings: RoomSettings,
) {
    let limits = &shared.config.limits;
    let config = arxos_sync::protocol::ws_config()
        .max_message_size(Some(limits.max_frame_bytes))
        .max_frame_size(Some(limits.max_frame_bytes));
    let ws = WebSocketStream::from_raw_socket(io, WsRole::Server, Some(config)).await;
    let conn = shared.next_conn.fetch_add(1, Ordering::Relaxed);
    shared.metrics.connections_total.inc();
    shared.metrics.connections_open.inc();
    let mut session = Session {
        shared: Arc::clone(&shared),
        conn,
        record,
        settings,
        ws,
        peer: None,
        room: None,
    };
    session.run().await;
    if let Some(room) = session.room.take() {
        let _ = room.send(RoomCmd::Leave { conn }).await;
    }
    shared.metrics.connections_open.dec();
}

enum Step {
    Continue,
    Stop,
}

impl Session {
    async fn run(&mut self) {
        let limits = self.shared.config.limits.clone();
        let (out_tx, mut out_rx) = mpsc::channel::<Outbound>(OUTBOUND_QUEUE);
        let mut out_tx = Some(out_tx);
        let mut bucket = TokenBucket::new(limits.messages_per_sec, limits.burst);
        let mut last_seen = Instant::now();
        let join_deadline = tokio::time::Instant::now() + limits.handshake_timeout;
        let mut ping =
            tokio::time::interval((limits.idle_timeout / 3).max(Duration::from_millis(100)));
        ping.reset();
        let mut shutdown = self.shared.shutdown.clone();
        let mut revocations = self.shared.revocations.subscribe();
        // The session ends when its invite expires.
        let expires = self.record.expires_at;
        let expires_in = expires.map_or(Duration::from_hours(24), |at| {
            Duration::from_secs(at.saturating_sub(crate::invites::unix_now()))
        });
        let expiry = tokio::time::sleep(expires_in);
        tokio::pin!(expiry);
        loop {
            tokio::select! {
                frame = self.ws.next() => {
                    let step = match frame {
                        None => Step::Stop,
                        Some(Err(err)) => self.on_ws_error(err).await,
                        Some(Ok(msg)) => {
                            last_seen = Instant::now();
                            self.on_frame(msg, &mut bucket, &mut out_tx).await
                        }
                    };
                    if matches!(step, Step::Stop) { break; }
                }
                out = out_rx.recv(), if self.room.is_some() => {
                    match out {
                        Some(Outbound::Frame(bytes)) => {
                            let write = self.write_queued(bytes, &mut out_rx);
                            match tokio::time::timeout(limits.write_timeout, write).await {
                                Ok(true) => {}
                                Ok(false) => break,
                                Err(_) => { self.stuck(limits.write_timeout); break; }
                            }
                        }
                        Some(Outbound::Close(reason)) => { self.fail(&reason).await; break; }
                        None => { self.fail("dropped by the room").await; break; }
                    }
                }
                _ = ping.tick() => {
                    if last_seen.elapsed() >= limits.idle_timeout {
                        self.fail("idle timeout").await;
                        break;
                    }
                    let ping = self.ws.send(Message::Ping(Vec::new().into()));
                    match tokio::time::timeout(limits.write_timeout, ping).await {
                        Ok(Ok(())) => {}
                        Ok(Err(_)) => break,
                        Err(_) => { self.stuck(limits.write_timeout); break; }
                    }
                }
                () = tokio::time::sleep_until(join_deadline), if self.peer.is_none() => {
                    self.fail("no join message in time").await;
                    break;
                }
                () = &mut expiry, if expires.is_some() => {
                    self.fail("invite expired").await;
                    break;
                }
                revoked = revocations.recv() => {
                    let ours = match revoked {
                        Ok(id) => id == self.record.id,
                        // Missed some: look ours up.
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => self
                            .shared
                            .invites
                            .list(Some(self.record.doc_id))
                            .iter()
                            .any(|r| r.id == self.record.id && r.revoked),
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => false,
                    };
                    if ours {
                        self.fail("invite revoked").await;
                        break;
                    }
                }
                changed = shutdown.changed() => {
                    if changed.is_err() || *shutdown.borrow() {
                        let _ = self.ws.close(None).await;
                        break;
                    }
                }
            }
        }
    }

    async fn on_ws_error(&mut self, err: WsError) -> Step {
        match err {
            WsError::Capacity(e) => self.fail(&format!("message too large: {e}")).await,
            WsError::Protocol(e) => self.fail(&format!("WebSocket protocol error: {e}")).await,
            WsError::Utf8(_) => self.fail("invalid UTF-8 in a text frame").await,
            other => tracing::debug!(conn = self.conn, %other, "connection ended"),
        }
        Step::Stop
    }

    /// Sends an `error` message and a close frame.
    /// Writes `first` and whatever else is already queued, with one flush: a burst of frames
    /// costs one system call instead of one each. Returns `false` when the connection ends.
    async fn write_queued(
        &mut self,
        first: Vec<u8>,
        out_rx: &mut mpsc::Receiver<Outbound>,
    ) -> bool {
        let mut next = Some(first);
        let mut written = 0;
        while let Some(bytes) = next.take() {
            self.shared.metrics.messages_out_total.inc();
            self.shared
                .metrics
                .bytes_out_total
                .inc_by(bytes.len() as u64);
            if self.ws.feed(Message::Binary(bytes.into())).await.is_err() {
                return false;
            }
            written += 1;
            if written >= 64 {
                break;
            }
            match out_rx.try_recv() {
                Ok(Outbound::Frame(bytes)) => next = Some(bytes),
                Ok(Outbound::Close(reason)) => {
                    let _ = self.ws.flush().await;
                    self.fail(&reason).await;
                    return false;
                }
                Err(_) => {}
            }
        }
        self.ws.flush().await.is_ok()
    }

    async fn fail(&mut self, reason: &str) {
        self.shared.metrics.protocol_errors_total.inc();
        tracing::info!(conn = self.conn, peer = ?self.peer, reason, "closing connection");
        let msg = WireMessage::Error(ErrorMessage {
            sender_id: self.shared.relay_peer.clone(),
            target_id: self.peer.clone(),
            message: reason.to_owned(),
        });
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            let _ = self.ws.send(Message::Binary(msg.encode().into())).await;
            let _ = self.ws.close(None).await;
        })
        .await;
    }

    async fn send_msg(&mut self, msg: &WireMessage) -> bool {
        let bytes = msg.encode();
        self.shared.metrics.messages_out_total.inc();
        self.shared
            .metrics
            .bytes_out_total
            .inc_by(bytes.len() as u64);
        let limit = self.shared.config.limits.write_timeout;
        if let Ok(sent) =
            tokio::time::timeout(limit, self.ws.send(Message::Binary(bytes.into()))).await
        {
            sent.is_ok()
        } else {
            self.stuck(limit);
            false
        }
    }

    /// Gives up on a peer whose socket took nothing for `waited`: it stopped reading. Nothing
    /// more is written (it would wait the same way); dropping the session closes the socket
    /// and frees the frames queued for it, and the room forgets the peer.
    fn stuck(&self, waited: Duration) {
        self.shared.metrics.protocol_errors_total.inc();
        tracing::info!(
            conn = self.conn,
            peer = ?self.peer,
            waited_secs = waited.as_secs_f64(),
            "closing connection: it takes nothing (a client that stopped reading)"
        );
    }

    async fn on_frame(
        &mut self,
        msg: Message,
        bucket: &mut TokenBucket,
        out_tx: &mut Option<mpsc::Sender<Outbound>>,
    ) -> Step {
        let bytes = match msg {
            Message::Binary(b) => b,
            Message::Text(_) => {
                self.fail("text frames are not part of the protocol").await;
                return Step::Stop;
            }
            Message::Close(_) => return Step::Stop,
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => return Step::Continue,
        };
        self.shared.metrics.messages_in_total.inc();
        self.shared
            .metrics
            .bytes_in_total
            .inc_by(bytes.len() as u64);
        if !bucket.take() {
            self.fail("rate limit exceeded").await;
            return Step::Stop;
        }
        let received = Instant::now();
        let msg = match WireMessage::decode(&bytes) {
            Ok(m) => m,
            Err(err) => {
                self.fail(&format!("malformed message: {err}")).await;
                return Step::Stop;
            }
        };
        let doc = self.record.doc_id;
        match msg {
            WireMessage::Join(join) => self.on_join(join, out_tx).await,
            _ if self.peer.is_none() => {
                self.fail("expected a join message first").await;
                Step::Stop
            }
            WireMessage::Request(p) | WireMessage::Sync(p) => {
                if p.document_id != doc {
                    let reply = WireMessage::DocUnavailable {
                        sender_id: self.shared.relay_peer.clone(),
                        target_id: p.sender_id,
                        document_id: p.document_id,
                    };
                    return if self.send_msg(&reply).await {
                        Step::Continue
                    } else {
                        Step::Stop
                    };
                }
                self.forward_to_room(RoomCmd::Sync {
                    conn: self.conn,
                    data: p.data,
                    received,
                })
                .await
            }
            WireMessage::Ephemeral(e) => {
                if e.document_id != doc {
                    return Step::Continue;
                }
                self.forward_to_room(RoomCmd::Ephemeral {
                    conn: self.conn,
                    msg: e,
                })
                .await
            }
            WireMessage::Leave { .. } | WireMessage::Error(_) => Step::Stop,
            WireMessage::Peer(_)
            | WireMessage::DocUnavailable { .. }
            | WireMessage::Unknown { .. } => Step::Continue,
        }
    }

    async fn on_join(
        &mut self,
        join: arxos_sync::protocol::JoinMessage,
        out_tx: &mut Option<mpsc::Sender<Outbound>>,
    ) -> Step {
        let doc = self.record.doc_id;
        if self.peer.is_some() {
            self.fail("duplicate join").await;
            return Step::Stop;
        }
        if !join
            .supported_protocol_versions
            .iter()
            .any(|v| v == PROTOCOL_VERSION)
        {
            self.fail("unsupported protocol version").await;
            return Step::Stop;
        }
        let peer_msg = WireMessage::Peer(PeerMessage {
            sender_id: self.shared.relay_peer.clone(),
            target_id: join.sender_id.clone(),
            peer_metadata: PeerMetadata {
                storage_id: None,
                is_ephemeral: false,
            },
            selected_protocol_version: PROTOCOL_VERSION.into(),
        });
        if !self.send_msg(&peer_msg).await {
            return Step::Stop;
        }
        let Some(out) = out_tx.take() else {
            return Step::Stop;
        };
        let room = self.shared.rooms.get_or_open(doc, self.settings.clone());
        let info = JoinInfo {
            conn: self.conn,
            peer: join.sender_id.clone(),
            role: self.record.role,
            grant: self.record.grant.clone(),
            label: self.record.label.clone(),
            invite: self.record.id.clone(),
            out,
        };
        if room.send(RoomCmd::Join(info)).await.is_err() {
            self.fail("room unavailable, retry").await;
            return Step::Stop;
        }
        tracing::debug!(conn = self.conn, peer = %join.sender_id, room = %doc, role = %self.record.role, "joined");
        self.peer = Some(join.sender_id);
        self.room = Some(room);
        Step::Continue
    }

    async fn forward_to_room(&mut self, cmd: RoomCmd) -> Step {
        let Some(room) = &self.room else {
            return Step::Stop;
        };
        if room.send(cmd).await.is_err() {
            self.fail("room closed, reconnect").await;
            return Step::Stop;
        }
        Step::Continue
    }
}
