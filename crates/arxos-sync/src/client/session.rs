//! One connection to the relay: the handshake (join, peer, the room's plan), then the loop that
//! exchanges sync messages, presence and locks until the connection ends.

use std::time::Duration;

use arxos_doc::ChangeSet;
use automerge::sync;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message;

use super::engine::{
    STALL_AFTER, SessionEnd, Tracked, refresh_status, save_sync_state, sleep_until_some, stopped,
    unix_now_us, until_paused,
};
mod ephemeral;
mod heartbeat;

use super::transport::Ws;
use super::{ChangeOrigin, ClientConfig, ClientEvent, ConnectionState, EngineCmd, Shared, lock};
use crate::fastsync::{ACK_DELAY, PeerSync, Replica, change_hashes};
use crate::invite::InviteCode;
use crate::protocol::payload::{ArxPayload, Presence, PresenceStatus};
use crate::protocol::{
    EphemeralMessage, JoinMessage, PROTOCOL_VERSION, PeerId, PeerMetadata, SyncPayload, WireMessage,
};
use crate::store::relay_key;

/// What the stall check compares: pending count, the relay's heads, ours.
type Progress = (
    usize,
    Option<Vec<automerge::ChangeHash>>,
    Vec<automerge::ChangeHash>,
);

#[allow(clippy::struct_excessive_bools)] // independent session flags, not a state machine
struct Session<'a> {
    shared: &'a Shared,
    config: &'a ClientConfig,
    invite: &'a InviteCode,
    ws: Ws,
    relay_peer: PeerId,
    sync: PeerSync,
    ephemeral_id: String,
    count: u64,
    dirty: bool,
    held_locks: bool,
    heartbeat: Duration,
    heartbeat_changed: bool,
    was_synced: bool,
    /// When the held-back acknowledgement is due.
    ack_due: Option<tokio::time::Instant>,
}

pub(super) async fn session(
    shared: &Shared,
    config: &ClientConfig,
    invite: &InviteCode,
    cmd_rx: &mut mpsc::Receiver<EngineCmd>,
    shutdown: &mut watch::Receiver<bool>,
) -> SessionEnd {
    let mut ws = match super::transport::connect(config, invite).await {
        Ok(ws) => ws,
        Err(end) => return end,
    };
    let join = WireMessage::Join(JoinMessage {
        sender_id: shared.peer_id.clone(),
        peer_metadata: PeerMetadata {
            storage_id: None,
            is_ephemeral: false,
        },
        supported_protocol_versions: vec![PROTOCOL_VERSION.into()],
    });
    if let Err(err) = ws.send(Message::Binary(join.encode().into())).await {
        return SessionEnd::Lost {
            reason: err.to_string(),
            was_synced: false,
        };
    }
    let relay_peer = match tokio::time::timeout(config.connect_timeout, wait_peer(&mut ws)).await {
        Ok(Ok(peer)) => peer,
        Ok(Err(end)) => return end,
        Err(_) => {
            return SessionEnd::Lost {
                reason: "no answer to join".into(),
                was_synced: false,
            };
        }
    };
    // Which plan the room holds: an unrelated file must not be sent (or merged) into it.
    let early = match tokio::time::timeout(config.connect_timeout, room_info(&mut ws)).await {
        Ok(Ok(info)) => {
            if let Some(end) = check_plan(shared, config, info.plan_id.as_deref()) {
                let _ = ws.close(None).await;
                return end;
            }
            shared.status.send_modify(|s| {
                s.role = info.role;
                s.grant = info.grant;
            });
            info.early
        }
        Ok(Err(end)) => return end,
        Err(_) => {
            return SessionEnd::Lost {
                reason: "the relay did not say which plan the room holds".into(),
                was_synced: false,
            };
        }
    };
    let key = relay_key(&invite.relay, invite.document_id);
    let state = lock(&shared.meta)
        .relays
        .get(&key)
        .and_then(|r| hex::decode(&r.sync_state).ok())
        .and_then(|b| sync::State::decode(&b).ok())
        .unwrap_or_default();
    let mut session = Session {
        shared,
        config,
        invite,
        ws,
        relay_peer,
        sync: PeerSync::from(state),
        ephemeral_id: crate::invite::new_secret(),
        count: 0,
        dirty: false,
        held_locks: false,
        heartbeat: config.heartbeat,
        heartbeat_changed: false,
        was_synced: false,
        ack_due: None,
    };
    tracing::info!(relay = %invite.relay, doc = %invite.document_id, "connected");
    for frame in early {
        if let Err(end) = session.on_message(&frame).await {
            return end;
        }
    }
    session.run(cmd_rx, shutdown).await
}

/// What the relay said of the room and of us, and the frames that came before it.
pub(super) struct RoomInfo {
    pub(super) plan_id: Option<String>,
    pub(super) role: Option<crate::invite::Role>,
    pub(super) grant: Option<crate::invite::Grant>,
    /// The relay's wall clock when it sent the room info (`arxos sync diagnose`'s skew).
    pub(super) time_ms: Option<u64>,
    pub(super) early: Vec<Vec<u8>>,
}

/// Reads frames up to the relay's room info; returns it with any other frames that came
/// first (kept for the session).
pub(super) async fn room_info(ws: &mut Ws) -> Result<RoomInfo, SessionEnd> {
    let mut early = Vec::new();
    while let Some(frame) = ws.next().await {
        let frame = frame.map_err(|e| SessionEnd::Lost {
            reason: e.to_string(),
            was_synced: false,
        })?;
        let Message::Binary(bytes) = frame else {
            continue;
        };
        let decoded = WireMessage::decode(&bytes);
        if let Ok(WireMessage::Error(e)) = &decoded {
            // The room would not open (damaged storage, shutting down): say why, and retry.
            return Err(SessionEnd::Lost {
                reason: format!("relay error: {}", e.message),
                was_synced: false,
            });
        }
        if let Ok(WireMessage::Ephemeral(e)) = decoded
            && let Ok(ArxPayload::RoomInfo {
                plan_id,
                role,
                grant,
                time_ms,
            }) = ArxPayload::decode(&e.data)
        {
            return Ok(RoomInfo {
                plan_id,
                role,
                grant,
                time_ms,
                early,
            });
        }
        early.push(bytes.to_vec());
    }
    Err(SessionEnd::Lost {
        reason: "relay closed during handshake".into(),
        was_synced: false,
    })
}

/// Refuses to sync a file whose plan is not the room's (before anything is sent).
fn check_plan(shared: &Shared, config: &ClientConfig, room: Option<&str>) -> Option<SessionEnd> {
    let room = room?;
    let ours = lock(&shared.live).doc.plan_id().map(str::to_owned)?;
    if ours == room {
        return None;
    }
    let _ = shared.events.send(ClientEvent::WrongPlan {
        ours: ours.clone(),
        room: room.to_owned(),
    });
    Some(SessionEnd::Rejected(format!(
        "{} holds plan {ours}, but the session holds plan {room}: nothing was sent (clone the session into a new file to work on it)",
        config.file.display()
    )))
}

pub(super) async fn wait_peer(ws: &mut Ws) -> Result<PeerId, SessionEnd> {
    while let Some(frame) = ws.next().await {
        let frame = frame.map_err(|e| SessionEnd::Lost {
            reason: e.to_string(),
            was_synced: false,
        })?;
        if let Message::Binary(bytes) = frame {
            match WireMessage::decode(&bytes) {
                Ok(WireMessage::Peer(p)) => return Ok(p.sender_id),
                Ok(WireMessage::Error(e)) => return Err(SessionEnd::Rejected(e.message)),
                Ok(_) => {}
                Err(err) => {
                    return Err(SessionEnd::Lost {
                        reason: format!("bad message from relay: {err}"),
                        was_synced: false,
                    });
                }
            }
        }
    }
    Err(SessionEnd::Lost {
        reason: "relay closed during handshake".into(),
        was_synced: false,
    })
}

impl Session<'_> {
    fn lost(&self, reason: impl Into<String>) -> SessionEnd {
        SessionEnd::Lost {
            reason: reason.into(),
            was_synced: self.was_synced,
        }
    }

    /// Leaves the session when auto-sync was paused meanwhile (checked before anything of
    /// ours goes out).
    async fn leave_if_paused(&mut self, paused: &watch::Receiver<bool>) -> Option<SessionEnd> {
        if !*paused.borrow() {
            return None;
        }
        tracing::info!("auto-sync paused; leaving the session");
        self.leave().await;
        Some(SessionEnd::Paused)
    }

    async fn run(
        &mut self,
        cmd_rx: &mut mpsc::Receiver<EngineCmd>,
        shutdown: &mut watch::Receiver<bool>,
    ) -> SessionEnd {
        if let Err(end) = self.announce().await {
            return end;
        }
        if let Err(end) = self.send_sync(true).await {
            return end;
        }
        refresh_status(self.shared, Some(&self.sync.state), true);
        let mut persist_tick = tokio::time::interval(self.config.persist_debounce);
        let mut heartbeat = tokio::time::interval(self.heartbeat);
        // Safety net: if we stay behind without any progress for a while, start over with a
        // fresh connection (fresh sync states on both sides) instead of waiting forever.
        let mut stall_check = tokio::time::interval(STALL_AFTER / 4);
        stall_check.reset();
        let mut progress: Progress = (usize::MAX, None, Vec::new());
        let mut last_progress = tokio::time::Instant::now();
        let mut paused = self.shared.paused.subscribe();
        heartbeat.reset();
        let end = loop {
            if self.heartbeat_changed {
                self.heartbeat_changed = false;
                heartbeat = tokio::time::interval(self.heartbeat);
                heartbeat.reset();
            }
            tokio::select! {
                frame = self.ws.next() => {
                    let result = match frame {
                        None | Some(Ok(Message::Close(_))) => Err(self.lost("relay closed the connection")),
                        Some(Err(err)) => Err(self.lost(err.to_string())),
                        Some(Ok(Message::Binary(bytes))) => self.on_message(&bytes).await,
                        Some(Ok(Message::Pong(stamp))) => {
                            self.on_pong(&stamp);
                            Ok(())
                        }
                        Some(Ok(_)) => Ok(()),
                    };
                    if let Err(end) = result { break end; }
                }
                () = sleep_until_some(self.ack_due) => {
                    if let Some(end) = self.leave_if_paused(&paused).await { break end; }
                    let answer = {
                        let mut live = lock(&self.shared.live);
                        self.sync.respond(&mut Tracked { doc: &mut live.doc, changes: ChangeSet::default() })
                    };
                    self.ack_due = None;
                    if let Err(end) = self.send_message(answer, false).await { break end; }
                }
                () = self.shared.local_change.notified() => {
                    self.dirty = true;
                    // A pause and an edit right after it wake this select together, and it
                    // picks either: the edit must not go out once the pause was asked for.
                    if let Some(end) = self.leave_if_paused(&paused).await { break end; }
                    if let Err(end) = self.send_sync(false).await { break end; }
                    refresh_status(self.shared, Some(&self.sync.state), true);
                }
                cmd = cmd_rx.recv() => {
                    let Some(EngineCmd::Send(payload)) = cmd else { break SessionEnd::Shutdown };
                    if let Err(end) = self.send_payload(&payload).await { break end; }
                }
                () = self.shared.presence_ready.notified() => {
                    // The latest only: whatever was set while we were writing is replaced.
                    let latest = lock(&self.shared.presence_out).take();
                    if let Some(presence) = latest
                        && let Err(end) = self.send_payload(&ArxPayload::Presence(presence)).await
                    {
                        break end;
                    }
                }
                _ = persist_tick.tick() => {
                    if self.dirty {
                        self.dirty = false;
                        save_sync_state(self.shared, self.config, Some(&self.sync.state));
                    }
                }
                _ = stall_check.tick() => {
                    if self.stalled(&mut progress, &mut last_progress) {
                        tracing::warn!("sync made no progress; reconnecting");
                        break self.lost("sync stalled; reconnecting");
                    }
                }
                _ = heartbeat.tick() => {
                    if let Err(end) = self.heartbeat().await { break end; }
                }
                () = stopped(shutdown) => {
                    self.leave().await;
                    break SessionEnd::Shutdown;
                }
                () = until_paused(&mut paused, true) => {
                    tracing::info!("auto-sync paused; leaving the session");
                    self.leave().await;
                    break SessionEnd::Paused;
                }
                () = self.shared.restart.notified() => {
                    tracing::info!("sync state reset; connecting again");
                    self.leave().await;
                    break SessionEnd::Restart;
                }
            }
        };
        save_sync_state(self.shared, self.config, Some(&self.sync.state));
        end
    }

    /// Whether we stayed behind without any progress for [`STALL_AFTER`]; `progress` is
    /// what was seen last (pending count, the relay's heads, ours) and since when.
    fn stalled(&self, progress: &mut Progress, since: &mut tokio::time::Instant) -> bool {
        let (behind, pending) = {
            let status = self.shared.status.borrow();
            (status.state == ConnectionState::Syncing, status.pending)
        };
        let now = (
            pending,
            self.sync.state.their_heads.clone(),
            lock(&self.shared.live).doc.heads(),
        );
        if now == *progress {
            behind && since.elapsed() >= STALL_AFTER
        } else {
            *progress = now;
            *since = tokio::time::Instant::now();
            false
        }
    }

    /// Says goodbye, so the others see us leave at once rather than time out.
    async fn leave(&mut self) {
        let leave = WireMessage::Leave {
            sender_id: self.shared.peer_id.clone(),
        };
        let _ = self.ws.send(Message::Binary(leave.encode().into())).await;
        let _ = self.ws.close(None).await;
    }

    /// Tells the session who we are, so `arxos who` and the editor's people panel list every
    /// live member, scripts included. The relay fills in our role from the invite.
    async fn announce(&mut self) -> Result<(), SessionEnd> {
        let own = lock(&self.shared.own_presence).clone();
        let presence = match own {
            Some(own) => Presence {
                sent_at_us: unix_now_us(),
                ..own
            },
            None => Presence {
                user: self.config.identity.name.clone(),
                color: self.config.identity.color.clone(),
                status: PresenceStatus::Online,
                client: Some(self.config.client_kind.clone()),
                sent_at_us: unix_now_us(),
                ..Presence::default()
            },
        };
        self.send_payload(&ArxPayload::Presence(presence)).await
    }

    async fn send_frame(&mut self, msg: &WireMessage) -> Result<(), SessionEnd> {
        let bytes = msg.encode();
        self.ws
            .send(Message::Binary(bytes.into()))
            .await
            .map_err(|e| self.lost(e.to_string()))
    }

    /// Sends what the relay lacks (the full protocol; local changes come at human pace).
    async fn send_sync(&mut self, first: bool) -> Result<(), SessionEnd> {
        let (message, empty_doc) = {
            let mut live = lock(&self.shared.live);
            let heads = live.doc.heads();
            if self.sync.nothing_to_send(&heads) {
                return Ok(());
            }
            let mut doc = Tracked {
                doc: &mut live.doc,
                changes: ChangeSet::default(),
            };
            (self.sync.generate(&mut doc), heads.is_empty())
        };
        self.send_message(message, first && empty_doc).await
    }

    async fn send_message(
        &mut self,
        message: Option<sync::Message>,
        request: bool,
    ) -> Result<(), SessionEnd> {
        let Some(message) = message else {
            return Ok(());
        };
        tracing::debug!(
            peer = %self.shared.peer_id,
            heads = ?message.heads,
            changes = message.changes.len(),
            need = ?message.need,
            "sync message to the relay"
        );
        // Every message carries our heads: it acknowledges whatever was held back.
        self.ack_due = None;
        let n = self.sync.take_sent_count();
        let payload = SyncPayload {
            sender_id: self.shared.peer_id.clone(),
            target_id: self.relay_peer.clone(),
            document_id: self.invite.document_id,
            data: message.encode(),
        };
        let msg = if request {
            WireMessage::Request(payload)
        } else {
            WireMessage::Sync(payload)
        };
        self.send_frame(&msg).await?;
        if n > 0 {
            self.shared.status.send_modify(|s| s.sent_changes += n);
        }
        Ok(())
    }

    async fn send_payload(&mut self, payload: &ArxPayload) -> Result<(), SessionEnd> {
        let data = match payload.encode() {
            Ok(d) => d,
            Err(err) => {
                tracing::error!(%err, "payload encoding failed");
                return Ok(());
            }
        };
        self.count += 1;
        let msg = WireMessage::Ephemeral(EphemeralMessage {
            sender_id: self.shared.peer_id.clone(),
            target_id: self.relay_peer.clone(),
            document_id: self.invite.document_id,
            session_id: self.ephemeral_id.clone(),
            count: self.count,
            data,
        });
        self.send_frame(&msg).await
    }

    async fn on_message(&mut self, bytes: &[u8]) -> Result<(), SessionEnd> {
        let msg = WireMessage::decode(bytes)
            .map_err(|e| self.lost(format!("bad message from relay: {e}")))?;
        match msg {
            WireMessage::Sync(p) | WireMessage::Request(p) => self.on_sync(&p.data).await,
            WireMessage::Ephemeral(e) => {
                self.on_ephemeral(&e.data);
                Ok(())
            }
            WireMessage::DocUnavailable { .. } => Err(SessionEnd::Rejected(
                "the relay does not have this document".into(),
            )),
            WireMessage::Error(e) => Err(self.lost(format!("relay error: {}", e.message))),
            _ => Ok(()),
        }
    }

    async fn on_sync(&mut self, data: &[u8]) -> Result<(), SessionEnd> {
        let message =
            sync::Message::decode(data).map_err(|e| self.lost(format!("bad sync message: {e}")))?;
        tracing::debug!(
            peer = %self.shared.peer_id,
            heads = ?message.heads,
            changes = message.changes.len(),
            need = ?message.need,
            "sync message from the relay"
        );
        let (count, changes, answer) = {
            let mut live = lock(&self.shared.live);
            let incoming = change_hashes(&message.changes);
            let mut doc = Tracked {
                doc: &mut live.doc,
                changes: ChangeSet::default(),
            };
            let before = doc.heads();
            self.sync
                .receive(&mut doc, message)
                .map_err(|e| SessionEnd::Lost {
                    reason: format!("cannot apply relay changes: {e}"),
                    was_synced: self.was_synced,
                })?;
            let after = doc.heads();
            let count = if before == after {
                0
            } else if let Some(hashes) = incoming {
                hashes.len()
            } else {
                doc.doc.changes_after(&before).len()
            };
            let answer = if self.sync.answer_now(&mut doc) || !self.was_synced {
                self.ack_due = None;
                self.sync.respond(&mut doc)
            } else {
                // A plain acknowledgement: coalesce it with whatever else arrives shortly.
                self.ack_due
                    .get_or_insert_with(|| tokio::time::Instant::now() + ACK_DELAY);
                None
            };
            let changes = std::mem::take(&mut doc.changes);
            if before != after {
                // Saved even when nothing visible changed: the file must hold every change.
                live.changed(&changes);
            }
            (count, changes, answer)
        };
        if count > 0 || !changes.is_empty() {
            self.shared
                .status
                .send_modify(|s| s.received_changes += count);
            let _ = self.shared.events.send(ClientEvent::Changed {
                origin: ChangeOrigin::Remote,
                changes,
                count,
            });
        }
        // Acknowledgements move the shared heads: persist them too.
        self.dirty = true;
        self.send_message(answer, false).await?;
        refresh_status(self.shared, Some(&self.sync.state), true);
        if matches!(
            self.shared.status.borrow().state,
            ConnectionState::Connected | ConnectionState::Conflict
        ) {
            self.was_synced = true;
        }
        Ok(())
    }
}
