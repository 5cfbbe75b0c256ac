//! The room task alone, on tokio's paused clock: presence goes out on the leading edge of a
//! quiet tick and is coalesced to one batch per tick under load.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests

use std::sync::Arc;
use std::time::Duration;

use arxos_sync::protocol::EphemeralMessage;
use arxos_sync::protocol::payload::{ArxPayload, Presence};
use arxos_sync::{DocumentId, Grant, PeerId, Role, WireMessage};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::{ConnId, JoinInfo, Outbound, RoomCmd, RoomContext, run_room};
use crate::metrics::Metrics;
use crate::storage::{DocStorage, FileStorage, RoomSettings};

const TICK: Duration = Duration::from_secs(1);

struct Peer {
    conn: ConnId,
    id: PeerId,
    out: mpsc::Receiver<Outbound>,
}

struct Harness {
    doc: DocumentId,
    tx: mpsc::Sender<RoomCmd>,
    _shutdown: watch::Sender<bool>,
    _dir: tempfile::TempDir,
}

impl Harness {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let storage = FileStorage::open(dir.path()).unwrap();
        let doc = DocumentId::random();
        storage.create_room(doc, &RoomSettings::default()).unwrap();
        let (shutdown, shutdown_rx) = watch::channel(false);
        let ctx = RoomContext {
            cluster: None,
            storage: Arc::new(storage),
            metrics: Arc::new(Metrics::default()),
            relay_peer: PeerId::random("relay"),
            session_id: "test".into(),
            lock_ttl: Duration::from_mins(5),
            presence_tick: TICK,
            compact_every: 1000,
            idle_unload: Duration::from_hours(1),
            shutdown: shutdown_rx,
        };
        let (tx, rx) = mpsc::channel(64);
        tokio::spawn(run_room(doc, RoomSettings::default(), ctx, rx));
        Self {
            doc,
            tx,
            _shutdown: shutdown,
            _dir: dir,
        }
    }

    async fn join(&self, conn: ConnId) -> Peer {
        let (out, rx) = mpsc::channel(64);
        let peer = PeerId::random("peer");
        self.tx
            .send(RoomCmd::Join(JoinInfo {
                conn,
                peer: peer.clone(),
                role: Role::Editor,
                grant: Grant::default(),
                label: String::new(),
                invite: format!("invite{conn}"),
                out,
            }))
            .await
            .unwrap();
        Peer {
            conn,
            id: peer,
            out: rx,
        }
    }

    async fn move_cursor(&self, from: &Peer, sent_at_us: u64) {
        let data = ArxPayload::Presence(Presence {
            user: "mover".into(),
            sent_at_us,
            ..Presence::default()
        })
        .encode()
        .unwrap();
        let msg = EphemeralMessage {
            sender_id: from.id.clone(),
            target_id: PeerId::random("relay"),
            document_id: self.doc,
            session_id: "s".into(),
            count: sent_at_us,
            data,
        };
        self.tx
            .send(RoomCmd::Ephemeral {
                conn: from.conn,
                msg,
            })
            .await
            .unwrap();
    }
}

/// The next presence batch `peer` receives: its entries' `sent_at_us`, and when it arrived.
async fn next_batch(peer: &mut Peer) -> (Vec<u64>, Instant) {
    loop {
        let out = tokio::time::timeout(Duration::from_mins(1), peer.out.recv())
            .await
            .expect("a presence batch within a minute")
            .expect("the room is running");
        let Outbound::Frame(bytes) = out else {
            panic!("closed: {out:?}");
        };
        let Ok(WireMessage::Ephemeral(e)) = WireMessage::decode(&bytes) else {
            continue;
        };
        if let Ok(ArxPayload::PresenceBatch { entries, .. }) = ArxPayload::decode(&e.data) {
            let sent = entries.iter().map(|e| e.presence.sent_at_us).collect();
            return (sent, Instant::now());
        }
    }
}

/// Nothing else (no presence batch) is waiting for `peer`.
fn no_batch_waiting(peer: &mut Peer) -> bool {
    while let Ok(out) = peer.out.try_recv() {
        if let Outbound::Frame(bytes) = out
            && let Ok(WireMessage::Ephemeral(e)) = WireMessage::decode(&bytes)
            && let Ok(ArxPayload::PresenceBatch { .. }) = ArxPayload::decode(&e.data)
        {
            return false;
        }
    }
    true
}

#[tokio::test(start_paused = true)]
async fn a_lone_update_goes_out_at_once_and_a_burst_waits_for_the_tick() {
    let room = Harness::start();
    let mover = room.join(1).await;
    let mut watcher = room.join(2).await;
    // Let the room load and settle past a whole tick of quiet.
    tokio::time::sleep(TICK * 3).await;
    assert!(no_batch_waiting(&mut watcher));

    // A lone update after a quiet tick: forwarded at once, not at the next tick.
    let sent = Instant::now();
    room.move_cursor(&mover, 1).await;
    let (entries, at) = next_batch(&mut watcher).await;
    assert_eq!(entries, vec![1]);
    assert!(at - sent < TICK / 10, "took {:?}", at - sent);
    let first = at;

    // A burst right after: held for the rest of the tick, then only the latest goes out.
    for n in 2..=5 {
        room.move_cursor(&mover, n).await;
        tokio::time::sleep(TICK / 10).await;
    }
    let (entries, at) = next_batch(&mut watcher).await;
    assert_eq!(
        entries,
        vec![5],
        "the burst is coalesced to its latest update"
    );
    assert!(
        at - first >= TICK,
        "a second batch within one tick ({:?})",
        at - first
    );
    assert!(at - first < TICK + TICK / 10, "late: {:?}", at - first);
    assert!(no_batch_waiting(&mut watcher));

    // Quiet for a tick again: the next update is immediate again.
    tokio::time::sleep(TICK * 2).await;
    let sent = Instant::now();
    room.move_cursor(&mover, 6).await;
    let (entries, at) = next_batch(&mut watcher).await;
    assert_eq!(entries, vec![6]);
    assert!(at - sent < TICK / 10, "took {:?}", at - sent);
}

#[tokio::test(start_paused = true)]
async fn steady_movers_get_one_batch_per_tick() {
    let room = Harness::start();
    let a = room.join(1).await;
    let b = room.join(2).await;
    let mut watcher = room.join(3).await;
    tokio::time::sleep(TICK * 3).await;
    assert!(no_batch_waiting(&mut watcher));
    // Both move every tenth of a tick for five ticks.
    let start = Instant::now();
    let mut n = 0;
    let mut batches = Vec::new();
    while Instant::now() - start < TICK * 5 {
        n += 1;
        room.move_cursor(&a, n * 2).await;
        room.move_cursor(&b, n * 2 + 1).await;
        tokio::time::sleep(TICK / 10).await;
        while let Ok(batch) = tokio::time::timeout(Duration::ZERO, next_batch(&mut watcher)).await {
            batches.push(batch);
        }
    }
    // The leading edge, then one per tick: never two within a tick.
    assert!(
        (5..=6).contains(&batches.len()),
        "{} batches",
        batches.len()
    );
    for pair in batches.windows(2) {
        assert!(pair[1].1 - pair[0].1 >= TICK);
    }
}
