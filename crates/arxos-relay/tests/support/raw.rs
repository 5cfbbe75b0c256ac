//! Test support: a client speaking the raw wire protocol (join, peer, sync, ephemeral) to a
//! relay, with a plain Automerge document and sync state, so tests see every frame the relay
//! sends and in which order.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::missing_panics_doc
)] // test-only helpers

use std::time::Duration;

use arxos_sync::protocol::payload::{ArxPayload, RefusedChange};
use arxos_sync::protocol::{EphemeralMessage, JoinMessage, PeerMetadata, SyncPayload};
use arxos_sync::{DocumentId, InviteCode, PeerId, WireMessage};
use automerge::Automerge;
use automerge::sync::{self, SyncDoc};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long one frame may take to arrive before a test gives up.
pub const FRAME_TIMEOUT: Duration = Duration::from_secs(10);

/// One raw connection to a relay room.
pub struct RawPeer {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub me: PeerId,
    pub relay: PeerId,
    pub doc_id: DocumentId,
    pub doc: Automerge,
    pub state: sync::State,
    /// Refusals the relay reported to us.
    pub refused: Vec<RefusedChange>,
    /// Every Arxos payload received, in order.
    pub payloads: Vec<ArxPayload>,
    count: u64,
}

impl RawPeer {
    /// Connects, sends `join` and reads the `peer` answer (which must be the first frame).
    pub async fn connect(code: &InviteCode, name: &str) -> Self {
        let (ws, _) = tokio::time::timeout(
            FRAME_TIMEOUT,
            tokio_tungstenite::connect_async(code.ws_url()),
        )
        .await
        .expect("connect in time")
        .expect("WebSocket upgrade");
        let mut peer = Self {
            ws,
            me: PeerId(format!("{name}-{}", std::process::id())),
            relay: PeerId(String::new()),
            doc_id: code.document_id,
            doc: Automerge::new(),
            state: sync::State::new(),
            refused: Vec::new(),
            payloads: Vec::new(),
            count: 0,
        };
        peer.send(&WireMessage::Join(JoinMessage {
            sender_id: peer.me.clone(),
            peer_metadata: PeerMetadata::default(),
            supported_protocol_versions: vec!["1".into()],
        }))
        .await;
        match peer.next().await {
            Some(WireMessage::Peer(p)) => peer.relay = p.sender_id,
            other => panic!("expected `peer` first, got {other:?}"),
        }
        peer
    }

    pub async fn send(&mut self, msg: &WireMessage) {
        self.ws
            .send(Message::Binary(msg.encode().into()))
            .await
            .expect("send frame");
    }

    /// The next protocol message, or `None` when the connection closed. Panics after
    /// [`FRAME_TIMEOUT`].
    pub async fn next(&mut self) -> Option<WireMessage> {
        self.next_within(FRAME_TIMEOUT)
            .await
            .expect("a frame from the relay in time")
    }

    /// The next protocol message within `wait`: `Err(())` when none came, `Ok(None)` when the
    /// connection closed.
    pub async fn next_within(&mut self, wait: Duration) -> Result<Option<WireMessage>, ()> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let frame = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .map_err(|_| ())?;
            match frame {
                Some(Ok(Message::Binary(bytes))) => {
                    return Ok(Some(
                        WireMessage::decode(&bytes).expect("well-formed frame"),
                    ));
                }
                Some(Ok(Message::Close(_)) | Err(_)) | None => return Ok(None),
                Some(Ok(_)) => {}
            }
        }
    }

    /// The next message, which must be an Arxos payload in an `ephemeral` message.
    pub async fn next_payload(&mut self) -> ArxPayload {
        match self.next().await {
            Some(WireMessage::Ephemeral(e)) => ArxPayload::decode(&e.data).expect("arx payload"),
            other => panic!("expected an ephemeral Arxos payload, got {other:?}"),
        }
    }

    /// Sends an Arxos payload to the relay.
    pub async fn send_payload(&mut self, payload: &ArxPayload) {
        self.count += 1;
        let msg = WireMessage::Ephemeral(EphemeralMessage {
            sender_id: self.me.clone(),
            target_id: self.relay.clone(),
            document_id: self.doc_id,
            session_id: format!("session-{}", self.me),
            count: self.count,
            data: payload.encode().unwrap(),
        });
        self.send(&msg).await;
    }

    /// Handles one incoming message: sync messages update the document, payloads are kept.
    fn handle(&mut self, msg: WireMessage) {
        match msg {
            WireMessage::Sync(p) => {
                let message = sync::Message::decode(&p.data).expect("sync message");
                self.doc
                    .receive_sync_message(&mut self.state, message)
                    .expect("apply sync message");
            }
            WireMessage::Ephemeral(e) => {
                if let Ok(payload) = ArxPayload::decode(&e.data) {
                    if let ArxPayload::Refused { changes } = &payload {
                        self.refused.extend(changes.iter().cloned());
                    }
                    self.payloads.push(payload);
                }
            }
            WireMessage::Error(e) => panic!("relay closed the session: {}", e.message),
            _ => {}
        }
    }

    /// Runs the sync protocol until nothing is left to send and the relay has been quiet for
    /// `quiet` (bounded by `max`).
    pub async fn sync_until_quiet(&mut self, quiet: Duration, max: Duration) {
        let deadline = tokio::time::Instant::now() + max;
        loop {
            assert!(
                tokio::time::Instant::now() < deadline,
                "sync did not settle within {max:?}"
            );
            let mut sent = false;
            if let Some(message) = self.doc.generate_sync_message(&mut self.state) {
                let msg = WireMessage::Sync(SyncPayload {
                    sender_id: self.me.clone(),
                    target_id: self.relay.clone(),
                    document_id: self.doc_id,
                    data: message.encode(),
                });
                self.send(&msg).await;
                sent = true;
            }
            match self.next_within(quiet).await {
                Ok(Some(msg)) => self.handle(msg),
                Ok(None) => panic!("relay closed the connection"),
                Err(()) if !sent => return,
                Err(()) => {}
            }
        }
    }

    /// Runs the sync protocol until the relay refuses something (bounded by `max`). A stock
    /// Automerge peer would go on answering the relay's `need` for the refused heads forever;
    /// the Arxos client stops offering refused changes, and so do we, by stopping here.
    pub async fn sync_until_refused(&mut self, max: Duration) {
        let deadline = tokio::time::Instant::now() + max;
        while self.refused.is_empty() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "nothing was refused within {max:?}"
            );
            if let Some(message) = self.doc.generate_sync_message(&mut self.state) {
                let msg = WireMessage::Sync(SyncPayload {
                    sender_id: self.me.clone(),
                    target_id: self.relay.clone(),
                    document_id: self.doc_id,
                    data: message.encode(),
                });
                self.send(&msg).await;
            }
            match self.next_within(FRAME_TIMEOUT).await {
                Ok(Some(msg)) => self.handle(msg),
                Ok(None) => panic!("relay closed the connection"),
                Err(()) => panic!("the relay went quiet without refusing anything"),
            }
        }
    }

    /// Keeps reading (and handling) messages for `wait`.
    pub async fn listen(&mut self, wait: Duration) {
        let deadline = tokio::time::Instant::now() + wait;
        while let Some(left) = deadline.checked_duration_since(tokio::time::Instant::now()) {
            match self.next_within(left).await {
                Ok(Some(msg)) => self.handle(msg),
                Ok(None) => panic!("relay closed the connection"),
                Err(()) => return,
            }
        }
    }
}
