//! Rooms: one task per loaded document holding the Automerge document, a sync state per
//! peer, the lock table and the latest presence of every peer.
//!
//! The room processes commands in batches. Incoming changes are vetted ([`policy`]),
//! applied, and appended to storage (fsync) *before* any sync message goes out, so every head
//! a peer ever sees from the relay is durable.
//!
//! Presence is coalesced: each peer's latest presence waits in the room, and the room
//! broadcasts what changed at most once per presence tick. An update that arrives when the
//! last broadcast is a tick or more ago goes out at once (the leading edge: a lone cursor is
//! not held for a tick); one that arrives sooner waits for the tick since that broadcast, by
//! when later updates of the same peer have replaced it. So the fan-out rate stays bounded
//! by the tick however fast peers move, and a cursor waits at most one tick.
//!
//! A joining peer first hears which plan the room holds (`arx/room-info`), before locks,
//! presence or any sync message, so its client can stop before syncing an unrelated file.
//!
//! In a cluster ([`crate::cluster`]) the room also hears the other relay nodes serving it
//! ([`cluster`]): it opens its link to them before loading, so nothing they append in between
//! is missed.

mod cluster;
mod compaction;
mod locks;
pub(crate) mod policy;
mod refusal;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use arxos_sync::fastsync::{self, PeerSync};
use arxos_sync::protocol::payload::{ArxPayload, Presence, PresenceEntry, RefusedChange};
use arxos_sync::protocol::{EphemeralMessage, SyncPayload};
use arxos_sync::{DocumentId, Grant, PeerId, Role, WireMessage};
use automerge::sync::{self, ChunkList};
use automerge::{Automerge, ChangeHash};
use tokio::sync::{mpsc, watch};

use crate::cluster::link::{RemoteEvent, RoomLink};
use crate::metrics::Metrics;
use crate::storage::{DocStorage, RoomSettings};

use locks::LockTable;
use policy::{Writer, plan_id, vet, writes_root};

/// Identifies one connection within the relay.
pub type ConnId = u64;

/// Most ids one lock message may name.
const MAX_LOCK_IDS: usize = 1024;
/// Commands handled per batch before flushing (persist + fan out).
const BATCH: usize = 512;
/// Sync commands held back while a batch is being persisted before we stop reading commands.
const MAX_DEFERRED: usize = 4 * BATCH;

type PersistTask = tokio::task::JoinHandle<Result<(), crate::storage::StorageError>>;

/// Waits for the in-flight persist, or forever when there is none.
async fn persisted(
    task: &mut Option<PersistTask>,
) -> Result<Result<(), crate::storage::StorageError>, tokio::task::JoinError> {
    match task {
        Some(handle) => handle.await,
        None => std::future::pending().await,
    }
}

/// A frame for a connection's writer.
#[derive(Debug)]
pub(crate) enum Outbound {
    /// An encoded protocol message.
    Frame(Vec<u8>),
    /// Send an `error` with this text and close.
    Close(String),
}

/// A connection joining a room.
pub(crate) struct JoinInfo {
    pub(crate) conn: ConnId,
    pub(crate) peer: PeerId,
    pub(crate) role: Role,
    pub(crate) grant: Grant,
    pub(crate) label: String,
    /// The public id of the invite the connection came through.
    pub(crate) invite: String,
    pub(crate) out: mpsc::Sender<Outbound>,
}

/// Commands from connections to their room.
pub(crate) enum RoomCmd {
    Join(JoinInfo),
    Sync {
        conn: ConnId,
        data: Vec<u8>,
        received: Instant,
    },
    Ephemeral {
        conn: ConnId,
        msg: EphemeralMessage,
    },
    Leave {
        conn: ConnId,
    },
    /// Changes another relay node appended (durable there already).
    Remote(Vec<Vec<u8>>),
}

/// What every room shares with the relay.
#[derive(Clone)]
pub(crate) struct RoomContext {
    pub(crate) storage: Arc<dyn DocStorage>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) relay_peer: PeerId,
    pub(crate) session_id: String,
    pub(crate) lock_ttl: Duration,
    pub(crate) presence_tick: Duration,
    pub(crate) compact_every: usize,
    pub(crate) idle_unload: Duration,
    pub(crate) shutdown: watch::Receiver<bool>,
    /// The other relay nodes serving the same rooms; `None` on a single relay.
    pub(crate) cluster: Option<Arc<crate::cluster::Cluster>>,
}

/// The loaded rooms.
pub(crate) struct Rooms {
    open: Mutex<HashMap<DocumentId, mpsc::Sender<RoomCmd>>>,
    ctx: RoomContext,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl Rooms {
    pub(crate) fn new(ctx: RoomContext) -> Arc<Self> {
        Arc::new(Self {
            open: Mutex::new(HashMap::new()),
            ctx,
            tasks: Mutex::new(Vec::new()),
        })
    }

    fn open_map(&self) -> std::sync::MutexGuard<'_, HashMap<DocumentId, mpsc::Sender<RoomCmd>>> {
        self.open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The room's command channel, loading the room when needed.
    pub(crate) fn get_or_open(
        self: &Arc<Self>,
        doc: DocumentId,
        settings: RoomSettings,
    ) -> mpsc::Sender<RoomCmd> {
        let mut open = self.open_map();
        if let Some(tx) = open.get(&doc).filter(|tx| !tx.is_closed()) {
            return tx.clone();
        }
        let (tx, rx) = mpsc::channel(4096);
        open.insert(doc, tx.clone());
        let rooms = Arc::clone(self);
        let ctx = self.ctx.clone();
        let handle = tokio::spawn(async move {
            ctx.metrics.rooms_open.inc();
            run_room(doc, settings, ctx.clone(), rx).await;
            ctx.metrics.rooms_open.dec();
            let mut open = rooms.open_map();
            if open.get(&doc).is_some_and(mpsc::Sender::is_closed) {
                open.remove(&doc);
            }
        });
        let mut tasks = self
            .tasks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        tasks.retain(|t| !t.is_finished());
        tasks.push(handle);
        tx
    }

    /// Waits for every room task to finish (after shutdown was signalled).
    pub(crate) async fn join_all(&self) {
        let tasks: Vec<_> = std::mem::take(
            &mut *self
                .tasks
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        for task in tasks {
            if let Err(err) = task.await {
                tracing::error!(%err, "room task failed");
            }
        }
    }
}

struct PeerState {
    peer: PeerId,
    grant: Grant,
    /// The invite it came through (its role and label too), recorded beside every change
    /// it brings.
    via: Arc<Via>,
    out: mpsc::Sender<Outbound>,
    sync: PeerSync,
    /// Whether the peer asked for the document (only then do we send it sync messages).
    syncing: bool,
    /// We heard from the peer since we last generated a message for it.
    heard: bool,
    /// Its changes that were neither applied nor refused.
    unapplied: refusal::Unapplied,
}

/// A change the room accepted, and the connection it came from (which need not get it back).
struct NewChange {
    hash: ChangeHash,
    bytes: Vec<u8>,
    origin: ConnId,
    /// The invite it came through (`None` for changes another relay node accepted and
    /// recorded).
    via: Option<Arc<Via>>,
}

/// The invite a connection came through: what the relay records as the verified origin of
/// each change it accepts from that connection.
#[derive(Debug)]
struct Via {
    invite: String,
    label: String,
    role: Role,
    peer: String,
}

struct Room {
    id: DocumentId,
    doc: Automerge,
    settings: RoomSettings,
    ctx: RoomContext,
    count: u64,
    peers: BTreeMap<ConnId, PeerState>,
    locks: LockTable,
    presence: BTreeMap<ConnId, Presence>,
    presence_dirty: BTreeSet<ConnId>,
    presence_gone: Vec<String>,
    /// When presence was last broadcast (a tick after it, the next broadcast may go).
    presence_sent: Option<Instant>,
    /// When the held-back presence goes out; `None` when nothing waits.
    presence_due: Option<Instant>,
    refused: HashMap<ChangeHash, String>,
    /// What the refused changes were built on, so a refused peer is left quiet.
    refused_deps: refusal::RefusedDeps,
    to_persist: Vec<NewChange>,
    /// The batch being persisted (revealed to peers once durable).
    persisting_batch: Vec<NewChange>,
    /// Sync commands that arrived while a batch was being persisted.
    deferred: VecDeque<RoomCmd>,
    /// Our heads when sync messages last went out (the base of the next fan-out).
    flushed_heads: Vec<ChangeHash>,
    oldest_unflushed: Option<Instant>,
    needs_sync: bool,
    appended_since_compact: usize,
    empty_since: Option<Instant>,
    /// The other relay nodes, in a cluster.
    remote: Option<cluster::Remote>,
}

/// The wall clock in milliseconds since the Unix epoch, for `arx/room-info`: clients compare
/// it with theirs to find clock skew. Deliberately `SystemTime`, not the tokio `Instant` every
/// other relay clock uses: skew is about the calendar time stamped into changes.
fn wall_clock_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// How much a stored change counts towards compaction: one per started 256 bytes. Automerge
/// replays a logged change op by op into the loaded snapshot, at a cost per op that grows with
/// the document, while the same ops compacted load in one pass; so a whole-plan edit (hundreds
/// of kilobytes in one change) must trigger compaction as surely as a thousand small ones.
fn change_weight(bytes: usize) -> usize {
    1 + bytes / 256
}

/// Loads a room's document and refused list, and the compaction weight of its change log;
/// the reason, for the joining peers, when storage fails or holds what does not load (the
/// files are left untouched for recovery: a room that started anyway would compact its
/// partial document over them).
async fn load_room(
    id: DocumentId,
    ctx: &RoomContext,
) -> Result<(Automerge, HashMap<ChangeHash, String>, usize), String> {
    let storage = Arc::clone(&ctx.storage);
    let loaded = tokio::task::spawn_blocking(move || storage.load(id)).await;
    let chunks = match loaded {
        Ok(Ok(chunks)) => chunks,
        Ok(Err(err)) => {
            tracing::error!(room = %id, %err, "cannot load room; its files are left as they are");
            return Err(format!("room {id} cannot be loaded: {err}"));
        }
        Err(err) => {
            tracing::error!(room = %id, %err, "room loader panicked");
            return Err(format!("room {id} cannot be loaded"));
        }
    };
    let storage = Arc::clone(&ctx.storage);
    let refused: HashMap<ChangeHash, String> =
        match tokio::task::spawn_blocking(move || storage.load_refused(id)).await {
            Ok(Ok(list)) => list
                .into_iter()
                .filter_map(|(h, r)| h.parse().ok().map(|h| (h, r)))
                .collect(),
            Ok(Err(err)) => {
                tracing::error!(room = %id, %err, "cannot load refused changes");
                HashMap::new()
            }
            Err(err) => {
                tracing::error!(room = %id, %err, "refused loader failed");
                HashMap::new()
            }
        };
    let mut doc = Automerge::new();
    for (n, chunk) in chunks.iter().enumerate() {
        if let Err(err) = doc.load_incremental(chunk) {
            // The first chunk is the snapshot when there is one; either way, the stored
            // history is damaged and serving part of it would invite a compaction over it.
            tracing::error!(room = %id, %err, chunk = n, "stored data does not load; room refused, files left as they are");
            return Err(format!(
                "room {id} cannot be loaded: its stored chunk {n} is corrupt ({err}); the relay left its files as they are for recovery"
            ));
        }
    }
    tracing::info!(room = %id, chunks = chunks.len(), heads = doc.get_heads().len(), "room loaded");
    // The first chunk is the snapshot; what follows is the log compaction would fold in.
    let logged = chunks.iter().skip(1).map(|c| change_weight(c.len())).sum();
    Ok((doc, refused, logged))
}

async fn run_room(
    id: DocumentId,
    settings: RoomSettings,
    ctx: RoomContext,
    mut rx: mpsc::Receiver<RoomCmd>,
) {
    // Before the load: what other nodes append meanwhile arrives through the link.
    let mut link = match cluster::open_link(id, &ctx).await {
        Ok(link) => link,
        Err(reason) => return fail_all(&mut rx, &reason).await,
    };
    let (doc, refused, logged_weight) = match load_room(id, &ctx).await {
        Ok(loaded) => loaded,
        Err(reason) => return fail_all(&mut rx, &reason).await,
    };
    let mut room = Room::new(id, doc, settings, &ctx, refused, logged_weight);
    room.remote = link
        .as_mut()
        .map(|l| cluster::Remote::new(l.handle.clone()));
    // A long log, or one with big changes, is folded in before the next restart replays it.
    let mut compacting = None;
    room.start_compaction(&mut compacting);
    // Housekeeping (lock leases, unloading); presence has its own deadline.
    let mut tick = tokio::time::interval(ctx.presence_tick);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut shutdown = ctx.shutdown.clone();
    // Group commit without stalling the room: while a batch is fsynced, presence, locks and
    // joins carry on and new sync messages wait; once durable, the batch is revealed.
    let mut persisting: Option<PersistTask> = None;
    loop {
        tokio::select! {
            cmd = rx.recv(), if room.deferred.len() < MAX_DEFERRED => {
                let Some(cmd) = cmd else { break };
                room.accept(cmd, persisting.is_some());
                let mut n = 1;
                while n < BATCH {
                    match rx.try_recv() {
                        Ok(cmd) => { room.accept(cmd, persisting.is_some()); n += 1; }
                        Err(_) => break,
                    }
                }
                room.persist_or_fan_out(&mut persisting);
            }
            result = persisted(&mut persisting) => {
                persisting = None;
                if !room.persist_done(result) {
                    break;
                }
                room.fan_out_all();
                while let Some(cmd) = room.deferred.pop_front() {
                    room.handle(cmd);
                }
                persisting = room.start_persist();
                if persisting.is_none() {
                    room.fan_out_all();
                }
                if persisting.is_none() {
                    room.start_compaction(&mut compacting);
                }
            }
            event = next_remote(link.as_mut()), if room.deferred.len() < MAX_DEFERRED => {
                if !room.on_remote(event, persisting.is_some()) {
                    break;
                }
                room.persist_or_fan_out(&mut persisting);
            }
            done = compaction::compacted(&mut compacting) => {
                compacting = None;
                room.compaction_done(done);
                if persisting.is_none() {
                    room.start_compaction(&mut compacting);
                }
            }
            () = sleep_until_some(room.presence_due) => room.broadcast_presence(),
            _ = tick.tick() => {
                room.on_tick();
                if room.empty_since.is_some_and(|t| t.elapsed() >= ctx.idle_unload) {
                    rx.close();
                    // Commands that raced with the close are handled before we go.
                    while let Ok(cmd) = rx.try_recv() {
                        room.handle(cmd);
                    }
                    if room.peers.is_empty() {
                        break;
                    }
                }
            }
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    for peer in room.peers.values() {
                        let _ = peer.out.try_send(Outbound::Close("relay shutting down".into()));
                    }
                    break;
                }
            }
        }
        // After a whole batch of commands: one broadcast carries every update in it.
        room.schedule_presence();
    }
    room.close(persisting, compacting).await;
    tracing::info!(room = %id, "room closed");
}

/// The next event from the other nodes, or never on a single relay.
async fn next_remote(link: Option<&mut RoomLink>) -> RemoteEvent {
    match link {
        Some(link) => link.events.recv().await.unwrap_or_else(|| {
            RemoteEvent::Broken("the relay's link to the cluster closed".into())
        }),
        None => std::future::pending().await,
    }
}

/// Sleeps until `at`, or forever when there is nothing to wait for.
async fn sleep_until_some(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Refuses every queued join when the room cannot load.
async fn fail_all(rx: &mut mpsc::Receiver<RoomCmd>, reason: &str) {
    rx.close();
    while let Some(cmd) = rx.recv().await {
        if let RoomCmd::Join(join) = cmd {
            let _ = join.out.try_send(Outbound::Close(reason.to_owned()));
        }
    }
}

/// Whether any chunk is (or depends on) a refused change, or cannot be checked cheaply.
fn touches_refused(chunks: &ChunkList, refused: &HashMap<ChangeHash, String>) -> bool {
    if refused.is_empty() {
        return false;
    }
    match arxos_sync::chunks::changes_in(chunks) {
        Some(changes) => changes.iter().any(|(change, _)| {
            refused.contains_key(&change.hash())
                || change.deps().iter().any(|d| refused.contains_key(d))
        }),
        // Not only changes (e.g. a compressed document chunk): take the careful path.
        None => true,
    }
}

/// The changes in `chunks` that `doc` lacks, parsed, with their bytes; `None` when a chunk is
/// not only changes (a whole document: then we ask the document after applying it).
fn new_changes(
    doc: &mut Automerge,
    chunks: &ChunkList,
) -> Option<Vec<(automerge::Change, Vec<u8>)>> {
    let mut changes = arxos_sync::chunks::changes_in(chunks)?;
    changes.retain(|(c, _)| !fastsync::has_change(doc, &c.hash()));
    Some(changes)
}

/// Whether every change's dependencies are in `doc` or come before it among `changes`.
fn deps_known(doc: &mut Automerge, changes: &[(automerge::Change, Vec<u8>)]) -> bool {
    let mut earlier = std::collections::HashSet::new();
    changes.iter().all(|(change, _)| {
        let known = change
            .deps()
            .iter()
            .all(|d| earlier.contains(d) || fastsync::has_change(doc, d));
        earlier.insert(change.hash());
        known
    })
}

/// Changes in `chunks` that could not be applied because they build on a refused change (their
/// dependency is not in the message): they are refused too, so their author hears of them.
fn stranded_on_refused(
    chunks: &ChunkList,
    before: &HashMap<ChangeHash, String>,
    now: &[(ChangeHash, String)],
) -> Vec<(ChangeHash, String)> {
    let mut bad: std::collections::HashSet<ChangeHash> = before.keys().copied().collect();
    bad.extend(now.iter().map(|(h, _)| *h));
    let changes = arxos_sync::chunks::changes_in(chunks).unwrap_or_default();
    let mut out = Vec::new();
    // Chunks arrive in causal order; one pass catches chains of dependents.
    for (change, _) in changes {
        let hash = change.hash();
        if bad.contains(&hash) {
            continue;
        }
        if let Some(dep) = change.deps().iter().find(|d| bad.contains(d)) {
            out.push((hash, format!("depends on refused change {dep}")));
            bad.insert(hash);
        }
    }
    out
}

impl Room {
    fn new(
        id: DocumentId,
        doc: Automerge,
        settings: RoomSettings,
        ctx: &RoomContext,
        refused: HashMap<ChangeHash, String>,
        logged_weight: usize,
    ) -> Self {
        let flushed_heads = doc.get_heads();
        Room {
            id,
            doc,
            locks: LockTable::new(ctx.lock_ttl),
            settings,
            ctx: ctx.clone(),
            count: 0,
            peers: BTreeMap::new(),
            presence: BTreeMap::new(),
            presence_dirty: BTreeSet::new(),
            presence_gone: Vec::new(),
            presence_sent: None,
            presence_due: None,
            refused,
            refused_deps: refusal::RefusedDeps::default(),
            to_persist: Vec::new(),
            persisting_batch: Vec::new(),
            deferred: VecDeque::new(),
            flushed_heads,
            oldest_unflushed: None,
            needs_sync: false,
            appended_since_compact: logged_weight,
            empty_since: Some(Instant::now()),
            remote: None,
        }
    }

    fn record_refused(&self, refused: &[(ChangeHash, String)]) {
        let entries: Vec<(String, String)> = refused
            .iter()
            .map(|(h, r)| (h.to_string(), r.clone()))
            .collect();
        let storage = Arc::clone(&self.ctx.storage);
        let id = self.id;
        // Best effort and off the room task: losing this only means a re-judgement later.
        tokio::task::spawn_blocking(move || {
            if let Err(err) = storage.record_refused(id, &entries) {
                tracing::error!(room = %id, %err, "cannot record refused changes");
            }
        });
    }

    /// Handles a command now, or defers it when it may change the document while a batch
    /// is being persisted.
    fn accept(&mut self, cmd: RoomCmd, persisting: bool) {
        if persisting && matches!(cmd, RoomCmd::Sync { .. } | RoomCmd::Remote(_)) {
            self.deferred.push_back(cmd);
        } else {
            self.handle(cmd);
        }
    }

    fn handle(&mut self, cmd: RoomCmd) {
        match cmd {
            RoomCmd::Join(join) => self.join(join),
            RoomCmd::Sync {
                conn,
                data,
                received,
            } => self.on_sync(conn, &data, received),
            RoomCmd::Ephemeral { conn, msg } => self.on_ephemeral(conn, &msg),
            RoomCmd::Leave { conn } => self.remove_peer(conn),
            RoomCmd::Remote(chunks) => self.ingest_remote(chunks),
        }
    }

    fn join(&mut self, join: JoinInfo) {
        let conn = join.conn;
        let (join_role, join_grant) = (join.role, join.grant.clone());
        self.empty_since = None;
        self.peers.insert(
            conn,
            PeerState {
                via: Arc::new(Via {
                    invite: join.invite,
                    label: join.label,
                    role: join.role,
                    peer: join.peer.to_string(),
                }),
                peer: join.peer,
                grant: join.grant,
                out: join.out,
                sync: PeerSync::new(),
                syncing: false,
                heard: false,
                unapplied: refusal::Unapplied::default(),
            },
        );
        // Which plan this is comes first: the connection wrote only its `peer` message so far,
        // and this frame leads its queue, ahead of everything else of the room.
        let info = ArxPayload::RoomInfo {
            plan_id: plan_id(&self.doc),
            role: Some(join_role),
            grant: join_grant.is_narrowed().then_some(join_grant),
            time_ms: Some(wall_clock_ms()),
        };
        self.send_payload(conn, &info);
        // Bring the newcomer up to date with locks and everyone's presence.
        let now = Instant::now();
        let table = ArxPayload::LockTable {
            locks: self.locks.entries(now),
            hard: self.settings.hard_locks,
        };
        self.send_payload(conn, &table);
        let entries: Vec<PresenceEntry> = self
            .presence
            .iter()
            .filter(|(c, _)| **c != conn)
            .filter_map(|(c, p)| {
                self.peers.get(c).map(|peer| PresenceEntry {
                    peer: peer.peer.0.clone(),
                    presence: p.clone(),
                })
            })
            .chain(
                self.remote
                    .iter()
                    .flat_map(cluster::Remote::presence_entries),
            )
            .collect();
        if !entries.is_empty() {
            self.send_payload(
                conn,
                &ArxPayload::PresenceBatch {
                    entries,
                    gone: Vec::new(),
                },
            );
        }
    }

    fn remove_peer(&mut self, conn: ConnId) {
        let Some(peer) = self.peers.remove(&conn) else {
            return;
        };
        if self.presence.remove(&conn).is_some() {
            self.presence_gone.push(peer.peer.0.clone());
        }
        self.presence_dirty.remove(&conn);
        self.release_cluster_leases(conn);
        if self.locks.release(conn, &[]) {
            self.broadcast_locks();
        }
        if self.peers.is_empty() {
            self.empty_since = Some(Instant::now());
        }
    }

    fn kick(&mut self, conn: ConnId, reason: &str) {
        self.ctx.metrics.protocol_errors_total.inc();
        if let Some(peer) = self.peers.get(&conn) {
            tracing::info!(room = %self.id, peer = %peer.peer, reason, "closing peer");
            let _ = peer.out.try_send(Outbound::Close(reason.to_owned()));
        }
        self.remove_peer(conn);
    }

    fn send(&mut self, conn: ConnId, frame: Vec<u8>) {
        let Some(peer) = self.peers.get(&conn) else {
            return;
        };
        match peer.out.try_send(Outbound::Frame(frame)) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.kick(conn, "too slow: outbound queue full");
            }
            Err(mpsc::error::TrySendError::Closed(_)) => self.remove_peer(conn),
        }
    }

    fn ephemeral_frame(&mut self, target: &PeerId, data: Vec<u8>) -> Vec<u8> {
        self.count += 1;
        WireMessage::Ephemeral(EphemeralMessage {
            sender_id: self.ctx.relay_peer.clone(),
            target_id: target.clone(),
            document_id: self.id,
            session_id: self.ctx.session_id.clone(),
            count: self.count,
            data,
        })
        .encode()
    }

    fn send_payload(&mut self, conn: ConnId, payload: &ArxPayload) {
        let data = match payload.encode() {
            Ok(data) => data,
            Err(err) => {
                tracing::error!(%err, "payload encoding failed");
                return;
            }
        };
        let Some(target) = self.peers.get(&conn).map(|p| p.peer.clone()) else {
            return;
        };
        let frame = self.ephemeral_frame(&target, data);
        self.send(conn, frame);
    }

    /// Sends `payload` to every peer; it is encoded once, and only the frame around it (the
    /// target and sequence number) is per peer.
    fn broadcast_payload(&mut self, payload: &ArxPayload) -> usize {
        let data = match payload.encode() {
            Ok(data) => data,
            Err(err) => {
                tracing::error!(%err, "payload encoding failed");
                return 0;
            }
        };
        let targets: Vec<(ConnId, PeerId)> = self
            .peers
            .iter()
            .map(|(c, p)| (*c, p.peer.clone()))
            .collect();
        for (conn, target) in &targets {
            let frame = self.ephemeral_frame(target, data.clone());
            self.send(*conn, frame);
        }
        targets.len()
    }

    fn broadcast_locks(&mut self) {
        let table = ArxPayload::LockTable {
            locks: self.locks.entries(Instant::now()),
            hard: self.settings.hard_locks,
        };
        self.broadcast_payload(&table);
    }

    fn on_sync(&mut self, conn: ConnId, data: &[u8], received: Instant) {
        let message = match sync::Message::decode(data) {
            Ok(m) => m,
            Err(err) => return self.kick(conn, &format!("invalid sync message: {err}")),
        };
        let now = Instant::now();
        let hard = self.settings.hard_locks && self.locks.others_hold_any(conn, now);
        let Some(peer) = self.peers.get_mut(&conn) else {
            return;
        };
        peer.syncing = true;
        peer.heard = true;
        let before = self.doc.get_heads();
        let writer = Writer {
            role: peer.via.role,
            grant: &peer.grant,
        };
        let mut refused = Vec::new();
        let new_changes = new_changes(&mut self.doc, &message.changes);
        // Once the room holds a document, a change writing to its root (or a chunk we cannot
        // read change by change) may be another plan's: it is judged in full, whoever sent it.
        let may_replant = !before.is_empty()
            && new_changes
                .as_ref()
                .is_none_or(|changes| changes.iter().any(|(c, _)| writes_root(c)));
        // A change whose dependency we lack would wait in the document's queue; such a
        // message is judged in full, which asks the peer for what is missing by name.
        let fast = message.changes.is_empty()
            || (writer.is_unrestricted()
                && !hard
                && !may_replant
                && new_changes
                    .as_ref()
                    .is_some_and(|changes| deps_known(&mut self.doc, changes))
                && !touches_refused(&message.changes, &self.refused));
        // What a refusal below may need to know of the changes it refuses.
        let seen_deps: Vec<(ChangeHash, Vec<ChangeHash>)> = if fast {
            Vec::new()
        } else {
            new_changes
                .iter()
                .flatten()
                .map(|(c, _)| (c.hash(), c.deps().to_vec()))
                .collect()
        };
        let incoming = new_changes.map(|changes| {
            changes
                .into_iter()
                .map(|(c, bytes)| (c.hash(), bytes))
                .collect::<Vec<_>>()
        });
        let result = if fast {
            peer.sync.receive(&mut self.doc, message)
        } else {
            let mut scratch = self.doc.clone();
            for chunk in message.changes.iter() {
                if let Err(err) = scratch.load_incremental(chunk) {
                    return self.kick(conn, &format!("invalid changes: {err}"));
                }
            }
            let incoming = scratch.get_changes(&before);
            let locks = &self.locks;
            let check_lock = |id: &str| {
                if hard {
                    locks.held_by_other(id, conn, now)
                } else {
                    None
                }
            };
            let vetted = vet(&self.doc, incoming, &writer, &self.refused, &check_lock);
            refused = vetted.refused;
            refused.extend(stranded_on_refused(
                &message.changes,
                &self.refused,
                &refused,
            ));
            let applied = self.doc.apply_changes(vetted.accepted);
            let mut stripped = message;
            stripped.changes = ChunkList::empty();
            // The peer's changes are applied already, so the stripped message looks like an
            // acknowledgement of our heads; we never sent those heads: keep what we did send,
            // or the author would never get the acknowledgement of its own changes.
            let last_sent = peer.sync.state.last_sent_heads.clone();
            applied
                .and_then(|()| peer.sync.receive(&mut self.doc, stripped))
                .map(|()| peer.sync.state.last_sent_heads = last_sent)
        };
        if let Err(err) = result {
            return self.kick(conn, &format!("sync failed: {err}"));
        }
        if !refused.is_empty() {
            self.report_refused(conn, &refused, seen_deps);
        }
        // Each change new to us is now applied, refused, or queued for a missing dependency.
        let not_applied = incoming.as_ref().map(|incoming| {
            incoming.len()
                - incoming
                    .iter()
                    .filter(|(h, _)| self.refused.contains_key(h))
                    .count()
        });
        let new = self.applied_since(&before, incoming, conn);
        let unapplied = not_applied.map_or(0, |n| n.saturating_sub(new.len()) as u64);
        self.settle_peer(conn, unapplied);
        if !new.is_empty() {
            self.to_persist.extend(new);
            self.oldest_unflushed.get_or_insert(received);
        }
        self.needs_sync = true;
    }

    /// Remembers changes just refused (durably, and what they were built on), counts them and
    /// tells their author.
    fn report_refused(
        &mut self,
        conn: ConnId,
        refused: &[(ChangeHash, String)],
        seen_deps: Vec<(ChangeHash, Vec<ChangeHash>)>,
    ) {
        self.ctx
            .metrics
            .refused_changes_total
            .inc_by(refused.len() as u64);
        tracing::info!(room = %self.id, count = refused.len(), "refused changes");
        let changes = refused
            .iter()
            .map(|(hash, reason)| RefusedChange {
                hash: hash.to_string(),
                reason: reason.clone(),
            })
            .collect();
        for (hash, reason) in refused {
            self.refused
                .entry(*hash)
                .or_insert_with(|| format!("previously refused: {reason}"));
        }
        self.refused_deps.learn(seen_deps, &self.refused);
        self.record_refused(refused);
        self.send_payload(conn, &ArxPayload::Refused { changes });
    }

    /// After a peer's message: its heads without what we refused (so we ask nothing of it
    /// that we will never take), and `unapplied`, the changes it sent that we neither applied
    /// nor refused, counted and logged.
    fn settle_peer(&mut self, conn: ConnId, unapplied: u64) {
        if let Some(peer) = self.peers.get_mut(&conn) {
            self.refused_deps
                .settle(&mut peer.sync.state, &self.doc, &self.refused);
            if unapplied > 0 {
                self.ctx.metrics.unapplied_changes_total.inc_by(unapplied);
            }
            if peer.unapplied.add(unapplied) {
                tracing::warn!(
                    room = %self.id,
                    peer = %peer.peer,
                    label = %peer.via.label,
                    count = peer.unapplied.total(),
                    "changes received but neither applied nor refused (queued for a dependency the peer has not sent)"
                );
            }
        }
    }

    /// The changes applied since `before` from `conn`: the message's own bytes when we know
    /// them by hash (only those applied, neither refused nor queued for a missing dependency),
    /// else read back from the document.
    fn applied_since(
        &mut self,
        before: &[ChangeHash],
        incoming: Option<Vec<(ChangeHash, Vec<u8>)>>,
        conn: ConnId,
    ) -> Vec<NewChange> {
        if self.doc.get_heads() == before {
            return Vec::new();
        }
        let via = self.peers.get(&conn).map(|p| Arc::clone(&p.via));
        match incoming {
            Some(incoming) => incoming
                .into_iter()
                .filter(|(h, _)| fastsync::has_change(&mut self.doc, h))
                .map(|(hash, bytes)| NewChange {
                    hash,
                    bytes,
                    origin: conn,
                    via: via.clone(),
                })
                .collect(),
            None => self
                .doc
                .get_changes(before)
                .iter()
                .map(|c| NewChange {
                    hash: c.hash(),
                    bytes: c.raw_bytes().to_vec(),
                    origin: conn,
                    via: via.clone(),
                })
                .collect(),
        }
    }

    fn on_ephemeral(&mut self, conn: ConnId, msg: &EphemeralMessage) {
        let now = Instant::now();
        let Ok(payload) = ArxPayload::decode(&msg.data) else {
            // Another application's ephemeral data: gossip it to the other peers untouched.
            let targets: Vec<(ConnId, PeerId)> = self
                .peers
                .iter()
                .filter(|(c, _)| **c != conn)
                .map(|(c, p)| (*c, p.peer.clone()))
                .collect();
            for (target_conn, target) in targets {
                let frame = WireMessage::Ephemeral(EphemeralMessage {
                    target_id: target,
                    ..msg.clone()
                })
                .encode();
                self.send(target_conn, frame);
            }
            return;
        };
        let Some(peer) = self.peers.get(&conn) else {
            return;
        };
        let user = self
            .presence
            .get(&conn)
            .map(|p| p.user.clone())
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| {
                if peer.via.label.is_empty() {
                    peer.peer.0.clone()
                } else {
                    peer.via.label.clone()
                }
            });
        let peer_id = peer.peer.0.clone();
        let role = peer.via.role;
        let Some(payload) = self.cluster_locks(conn, &peer_id, &user, payload) else {
            return;
        };
        match payload {
            ArxPayload::Presence(mut presence) => {
                // The role others see is the invite's, whatever the client claims.
                presence.role = Some(role.to_string());
                self.presence.insert(conn, presence);
                self.presence_dirty.insert(conn);
            }
            ArxPayload::LockRequest { ids } if ids.len() <= MAX_LOCK_IDS => {
                let outcome = self.locks.request(conn, &peer_id, &user, &ids, now);
                if !outcome.granted.is_empty() {
                    let ttl_ms = self.locks.ttl().as_millis() as u64;
                    self.send_payload(
                        conn,
                        &ArxPayload::LockGrant {
                            ids: outcome.granted,
                            ttl_ms,
                        },
                    );
                    self.broadcast_locks();
                }
                if !outcome.denied.is_empty() {
                    self.send_payload(
                        conn,
                        &ArxPayload::LockDeny {
                            held: outcome.denied,
                        },
                    );
                }
            }
            ArxPayload::LockRenew { ids } if ids.len() <= MAX_LOCK_IDS => {
                self.locks.renew(conn, &ids, now);
            }
            ArxPayload::LockRelease { ids } if ids.len() <= MAX_LOCK_IDS => {
                if self.locks.release(conn, &ids) {
                    self.broadcast_locks();
                }
            }
            ArxPayload::LockRequest { .. }
            | ArxPayload::LockRenew { .. }
            | ArxPayload::LockRelease { .. } => self.kick(conn, "too many ids in one lock message"),
            other => {
                tracing::debug!(?other, "ignoring relay-only payload from a client");
            }
        }
    }

    fn on_tick(&mut self) {
        let now = Instant::now();
        if self.locks.expire(now) {
            self.broadcast_locks();
        }
        self.expire_silent_nodes(now);
        self.schedule_presence();
    }

    /// Broadcasts waiting presence now when the last broadcast is a tick or more ago (the
    /// leading edge), else makes sure it goes a tick after that one.
    fn schedule_presence(&mut self) {
        if !self.presence_waiting() {
            return;
        }
        let now = Instant::now();
        match self.presence_sent.map(|at| at + self.ctx.presence_tick) {
            Some(next) if next > now => {
                self.presence_due.get_or_insert(next);
            }
            _ => self.broadcast_presence(),
        }
    }

    /// Sends every peer the presence that changed since the last broadcast, and who left.
    /// Whether presence (ours, or another node's) waits for a broadcast.
    fn presence_waiting(&self) -> bool {
        !self.presence_dirty.is_empty()
            || !self.presence_gone.is_empty()
            || self
                .remote
                .as_ref()
                .is_some_and(cluster::Remote::presence_waiting)
    }

    fn broadcast_presence(&mut self) {
        self.presence_due = None;
        if !self.presence_waiting() {
            return;
        }
        self.presence_sent = Some(Instant::now());
        let mut entries: Vec<PresenceEntry> = std::mem::take(&mut self.presence_dirty)
            .into_iter()
            .filter_map(|conn| {
                let presence = self.presence.get(&conn)?.clone();
                let peer = self.peers.get(&conn)?.peer.0.clone();
                Some(PresenceEntry { peer, presence })
            })
            .collect();
        let mut gone = std::mem::take(&mut self.presence_gone);
        if let Some(remote) = self.remote.as_mut() {
            remote.exchange_presence(&mut entries, &mut gone);
            if entries.is_empty() && gone.is_empty() {
                return;
            }
        }
        let payload = ArxPayload::PresenceBatch { entries, gone };
        let sent = self.broadcast_payload(&payload);
        self.ctx.metrics.presence_batches_total.inc_by(sent as u64);
    }

    /// Unless a persist is in flight: starts persisting what is new, or, when nothing is,
    /// sends every peer what it lacks.
    fn persist_or_fan_out(&mut self, persisting: &mut Option<PersistTask>) {
        if persisting.is_none() {
            *persisting = self.start_persist();
            if persisting.is_none() {
                self.fan_out_all();
            }
        }
    }

    /// Starts persisting the changes applied since the last persist, if any.
    fn start_persist(&mut self) -> Option<PersistTask> {
        if self.to_persist.is_empty() {
            return None;
        }
        self.persisting_batch = std::mem::take(&mut self.to_persist);
        let changes: Vec<Vec<u8>> = self
            .persisting_batch
            .iter()
            .map(|c| c.bytes.clone())
            .collect();
        let at_ms = wall_clock_ms();
        let origins: Vec<crate::storage::Origin> = self
            .persisting_batch
            .iter()
            .filter_map(|c| {
                let via = c.via.as_ref()?;
                Some(crate::storage::Origin {
                    change: c.hash.to_string(),
                    invite: via.invite.clone(),
                    label: via.label.clone(),
                    role: via.role,
                    peer: via.peer.clone(),
                    at_ms,
                })
            })
            .collect();
        let storage = Arc::clone(&self.ctx.storage);
        let id = self.id;
        Some(tokio::task::spawn_blocking(move || {
            // Origins first: an acknowledged change always has its origin on record.
            if !origins.is_empty() {
                storage.record_origins(id, &origins)?;
            }
            storage.append(id, &changes)
        }))
    }

    /// Accounts for a finished persist. Returns `false` when the room must close.
    fn persist_done(
        &mut self,
        result: Result<Result<(), crate::storage::StorageError>, tokio::task::JoinError>,
    ) -> bool {
        let failure = match result {
            Ok(Ok(())) => None,
            Ok(Err(err)) => Some(err.to_string()),
            Err(err) => Some(err.to_string()),
        };
        if let Some(err) = failure {
            // Nothing unpersisted may be revealed: drop every peer and the in-memory room.
            tracing::error!(room = %self.id, %err, "persisting changes failed; closing room");
            for peer in self.peers.values() {
                let _ = peer.out.try_send(Outbound::Close(format!(
                    "relay storage failure, nothing acknowledged: {err}"
                )));
            }
            self.peers.clear();
            return false;
        }
        let n = self.persisting_batch.len();
        self.ctx.metrics.changes_accepted_total.inc_by(n as u64);
        self.appended_since_compact += self
            .persisting_batch
            .iter()
            .map(|c| change_weight(c.bytes.len()))
            .sum::<usize>();
        true
    }

    /// Settles everything before the room goes: the persist in flight, the commands held
    /// back for it, a running compaction; then persists the rest and compacts on this task,
    /// so the next start loads one snapshot.
    async fn close(
        &mut self,
        persisting: Option<PersistTask>,
        mut compacting: Option<compaction::Compaction>,
    ) {
        if let Some(task) = persisting
            && self.persist_done(task.await)
        {
            self.fan_out_all();
        }
        while let Some(cmd) = self.deferred.pop_front() {
            self.handle(cmd);
        }
        self.finish_compaction(&mut compacting).await;
        self.flush().await;
        if self.appended_since_compact > 0 {
            self.compact().await;
        }
    }

    /// Persists new changes, then sends sync messages. Returns `false` when the room must close.
    async fn flush(&mut self) -> bool {
        if let Some(task) = self.start_persist()
            && !self.persist_done(task.await)
        {
            return false;
        }
        self.fan_out_all();
        true
    }

    /// Sends every peer what it lacks. Only call when everything applied is durable.
    fn fan_out_all(&mut self) {
        let mut batch = std::mem::take(&mut self.persisting_batch);
        if let Some(remote) = self.remote.as_mut() {
            batch.extend(remote.take_ready());
        }
        if self.needs_sync {
            self.needs_sync = false;
            let heads = self.doc.get_heads();
            let before = std::mem::replace(&mut self.flushed_heads, heads.clone());
            let new: Vec<(ChangeHash, Vec<u8>)> =
                batch.iter().map(|c| (c.hash, c.bytes.clone())).collect();
            let conns: Vec<ConnId> = self
                .peers
                .iter()
                .filter(|(_, p)| p.syncing)
                .map(|(c, _)| *c)
                .collect();
            for conn in conns {
                let Some(peer) = self.peers.get_mut(&conn) else {
                    continue;
                };
                // Same heads and nothing new from the peer: the protocol would repeat its last
                // answer (nothing, or nothing while a message is in flight).
                let unchanged = !peer.heard && peer.sync.state.last_sent_heads == heads;
                peer.heard = false;
                if unchanged || peer.sync.nothing_to_send(&heads) {
                    continue;
                }
                // A peer's own changes are not echoed back to it.
                let own = |h: &ChangeHash| batch.iter().any(|c| c.origin == conn && c.hash == *h);
                let message = if new.is_empty() {
                    None
                } else {
                    peer.sync
                        .send_new(&mut self.doc, &before, &heads, &new, own)
                };
                let data = message
                    .or_else(|| peer.sync.generate(&mut self.doc))
                    .map(sync::Message::encode);
                if let Some(data) = data {
                    let frame = WireMessage::Sync(SyncPayload {
                        sender_id: self.ctx.relay_peer.clone(),
                        target_id: peer.peer.clone(),
                        document_id: self.id,
                        data,
                    })
                    .encode();
                    self.send(conn, frame);
                }
            }
        }
        if let Some(t) = self.oldest_unflushed.take() {
            self.ctx.metrics.observe_propagation(t.elapsed());
        }
    }
}
