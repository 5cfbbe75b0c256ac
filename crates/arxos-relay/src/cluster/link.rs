//! A room's link to the other relay nodes: the changes they append, their clients' presence
//! and the lock leases of the room, as [`RemoteEvent`]s for the room task; and this node's
//! presence and lease operations going out.
//!
//! [`open_room`] subscribes to everything *before* the room loads its log, so nothing
//! published in between is missed (what arrives twice, Automerge applies once). Changes are
//! followed from the stream position the room's log had when the link opened, with an
//! ordered consumer that resumes where it stopped after a NATS outage. Lease operations run
//! one at a time per room, in the order the room issued them, so a release never overtakes
//! the grant it releases.

use std::time::Duration;

use arxos_sync::DocumentId;
use arxos_sync::protocol::payload::{ArxPayload, LockEntry, PresenceEntry};
use async_nats::jetstream::consumer::{DeliverPolicy, pull::OrderedConfig};
use async_nats::jetstream::kv::{CreateErrorKind, Operation};
use async_nats::jetstream::stream::LastRawMessageErrorKind;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tokio::sync::mpsc;

use super::{Cluster, NODE_HEADER, changes_subject, log::unframe, presence_subject};
use crate::room::ConnId;

/// Events of one room queued for its task; past this the followers wait (backpressure).
const EVENTS: usize = 1024;
/// Presence batches waiting to be published; past this the oldest news is dropped (presence
/// is only ever the latest state, and the next batch carries it again).
const PRESENCE_QUEUE: usize = 64;
/// Lease operations waiting for the KV.
const LOCK_QUEUE: usize = 1024;
/// A node with a room open publishes at least this often on the room's presence subject (an
/// empty batch when nothing changed), so that the other nodes can tell it is alive.
pub(crate) const PRESENCE_HEARTBEAT: Duration = Duration::from_secs(2);
/// A node not heard on a room's presence subject for this long is taken for dead: the other
/// nodes drop its clients' presence (a killed node never says that they left).
pub(crate) const NODE_SILENCE: Duration = Duration::from_secs(7);

/// Something other nodes did to the room, or the outcome of this node's lease operation.
#[derive(Debug)]
pub(crate) enum RemoteEvent {
    /// Changes another node appended (durable already): apply, sync to our peers, never append.
    Changes(Vec<Vec<u8>>),
    /// Another node's presence batch (empty: its heartbeat).
    Presence {
        /// The node that sent it.
        node: String,
        entries: Vec<PresenceEntry>,
        gone: Vec<String>,
    },
    /// A lease of the room changed in the KV (`None`: released or deleted), at `revision`.
    Lease {
        id: String,
        revision: u64,
        lease: Option<LeaseValue>,
    },
    /// What the KV answered to a lock request of `holder`.
    LockOutcome {
        holder: LeaseValue,
        granted: Vec<(String, u64)>,
        denied: Vec<LockEntry>,
    },
    /// The link stopped for good: the room can no longer hear the other nodes.
    Broken(String),
}

/// A lease as stored in the KV: who holds it, through which node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LeaseValue {
    pub(crate) node: String,
    pub(crate) conn: ConnId,
    pub(crate) peer: String,
    pub(crate) user: String,
}

/// A lease operation of this node.
enum LockOp {
    Request {
        holder: LeaseValue,
        ids: Vec<String>,
    },
    Renew {
        holder: LeaseValue,
        ids: Vec<String>,
    },
    Release {
        holder: LeaseValue,
        ids: Vec<String>,
    },
}

/// What the room keeps to talk to the other nodes.
#[derive(Clone)]
pub(crate) struct LinkHandle {
    pub(crate) node: String,
    presence: mpsc::Sender<Vec<u8>>,
    locks: mpsc::Sender<LockOp>,
}

/// A room's open link: its events, its handle, and the tasks behind them (stopped on drop).
pub(crate) struct RoomLink {
    pub(crate) events: mpsc::Receiver<RemoteEvent>,
    pub(crate) handle: LinkHandle,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for RoomLink {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// A lease's KV key: `<doc>.<element id>`, the id's bytes outside `[A-Za-z0-9_-]` written as
/// `=XX` (KV keys allow few characters, and a `.` would split the key).
pub(crate) fn lease_key(doc: DocumentId, id: &str) -> String {
    let mut key = format!("{doc}.");
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
            key.push(char::from(b));
        } else {
            key.push('=');
            key.push_str(&hex::encode_upper([b]));
        }
    }
    key
}

/// The element id in a lease key made by [`lease_key`].
pub(crate) fn lease_id(key: &str) -> Option<String> {
    let (_, enc) = key.split_once('.')?;
    let mut out = Vec::new();
    let bytes = enc.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' {
            let hex = enc.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn node_of(headers: Option<&async_nats::HeaderMap>) -> Option<String> {
    headers
        .and_then(|h| h.get(NODE_HEADER))
        .map(|v| v.as_str().to_owned())
}

/// Opens the room's link; an error (NATS unreachable) refuses the room with the reason.
pub(crate) async fn open_room(cluster: &Arc<Cluster>, doc: DocumentId) -> Result<RoomLink, String> {
    let (tx, events) = mpsc::channel(EVENTS);
    let subject = changes_subject(doc);
    // Follow from just after the log's last message now: the room's load reads up to there
    // (or further; the overlap is applied once).
    let start = crate::cluster::retrying("reading the room's log position", || async {
        match cluster
            .stream
            .get_last_raw_message_by_subject(&subject)
            .await
        {
            Ok(message) => Ok(message.sequence + 1),
            Err(e) if e.kind() == LastRawMessageErrorKind::NoMessageFound => Ok(1),
            Err(e) => Err(e.to_string()),
        }
    })
    .await?;
    let changes = follow_from(cluster, doc, start).await?;
    let presence_sub = cluster
        .client
        .subscribe(presence_subject(doc))
        .await
        .map_err(|e| format!("subscribing to presence: {e}"))?;
    let leases = crate::cluster::retrying("watching the room's leases", || {
        cluster.locks.watch(format!("{doc}.>"))
    })
    .await?;
    let (presence, presence_rx) = mpsc::channel(PRESENCE_QUEUE);
    let (locks, locks_rx) = mpsc::channel(LOCK_QUEUE);
    let tasks = vec![
        tokio::spawn(follow_changes(
            Arc::clone(cluster),
            changes,
            start,
            doc,
            tx.clone(),
        )),
        tokio::spawn(follow_presence(
            presence_sub,
            cluster.node.clone(),
            tx.clone(),
        )),
        tokio::spawn(follow_leases(Arc::clone(cluster), doc, leases, tx.clone())),
        tokio::spawn(publish_presence(
            Arc::clone(cluster),
            presence_subject(doc),
            presence_rx,
        )),
        tokio::spawn(run_lock_ops(Arc::clone(cluster), doc, locks_rx, tx)),
    ];
    Ok(RoomLink {
        events,
        handle: LinkHandle {
            node: cluster.node.clone(),
            presence,
            locks,
        },
        tasks,
    })
}

/// An ordered consumer of the room's log from stream sequence `start`.
async fn follow_from(
    cluster: &Cluster,
    doc: DocumentId,
    start: u64,
) -> Result<async_nats::jetstream::consumer::pull::Ordered, String> {
    crate::cluster::retrying("following the room's log", || async {
        let consumer = cluster
            .stream
            .create_consumer(OrderedConfig {
                filter_subject: changes_subject(doc),
                deliver_policy: DeliverPolicy::ByStartSequence {
                    start_sequence: start,
                },
                ..OrderedConfig::default()
            })
            .await
            .map_err(|e| e.to_string())?;
        consumer.messages().await.map_err(|e| e.to_string())
    })
    .await
}

/// How long a follower waits before it opens its consumer or watch again after an error.
const RESUME_AFTER: Duration = Duration::from_millis(500);

/// Applies what other nodes append to the room's log. After any error (a NATS restart loses
/// the consumer) it opens a new consumer right after the last message it handled, until that
/// works: the room misses nothing, however long the outage.
async fn follow_changes(
    cluster: Arc<Cluster>,
    first: async_nats::jetstream::consumer::pull::Ordered,
    mut next: u64,
    doc: DocumentId,
    tx: mpsc::Sender<RemoteEvent>,
) {
    let mut changes = Some(first);
    loop {
        let Some(messages) = changes.as_mut() else {
            tokio::time::sleep(RESUME_AFTER).await;
            match follow_from(&cluster, doc, next).await {
                Ok(messages) => {
                    tracing::info!(room = %doc, from = next, "following the room's log again");
                    changes = Some(messages);
                }
                Err(err) => tracing::warn!(room = %doc, %err, "cannot follow the room's log yet"),
            }
            continue;
        };
        let message = match messages.next().await {
            Some(Ok(message)) => message,
            Some(Err(err)) => {
                tracing::warn!(room = %doc, %err, "following the room's log: interrupted; resuming");
                changes = None;
                continue;
            }
            None => {
                changes = None;
                continue;
            }
        };
        let seq = message.info().map_or(next, |i| i.stream_sequence);
        next = next.max(seq + 1);
        if node_of(message.headers.as_ref()).as_deref() == Some(cluster.node.as_str()) {
            continue; // our own, applied when our clients sent it
        }
        let Some(chunks) = unframe(&message.payload) else {
            tracing::error!(room = %doc, seq, "a message in the room's log is not a framed change batch; skipped");
            continue;
        };
        if tx.send(RemoteEvent::Changes(chunks)).await.is_err() {
            return; // the room closed
        }
    }
}

async fn follow_presence(
    mut sub: async_nats::Subscriber,
    node: String,
    tx: mpsc::Sender<RemoteEvent>,
) {
    while let Some(message) = sub.next().await {
        let from = node_of(message.headers.as_ref()).unwrap_or_default();
        if from == node {
            continue;
        }
        match ArxPayload::decode(&message.payload) {
            Ok(ArxPayload::PresenceBatch { entries, gone }) => {
                if tx
                    .send(RemoteEvent::Presence {
                        node: from,
                        entries,
                        gone,
                    })
                    .await
                    .is_err()
                {
                    return;
                }
            }
            Ok(_) | Err(_) => {
                tracing::warn!(subject = %message.subject, bytes = message.payload.len(), "a presence message that is not a presence batch; ignored");
            }
        }
    }
}

/// Mirrors the room's leases; after an error it watches again from the revision after the
/// last one it handled.
async fn follow_leases(
    cluster: Arc<Cluster>,
    doc: DocumentId,
    first: async_nats::jetstream::kv::Watch,
    tx: mpsc::Sender<RemoteEvent>,
) {
    let mut watch = Some(first);
    let mut next = 0;
    loop {
        let Some(entries) = watch.as_mut() else {
            tokio::time::sleep(RESUME_AFTER).await;
            let key = format!("{doc}.>");
            let reopened = if next == 0 {
                crate::cluster::attempt(cluster.locks.watch(key)).await
            } else {
                crate::cluster::attempt(cluster.locks.watch_from_revision(key, next)).await
            };
            match reopened {
                Ok(w) => watch = Some(w),
                Err(err) => tracing::warn!(room = %doc, %err, "cannot watch the room's leases yet"),
            }
            continue;
        };
        let entry = match entries.next().await {
            Some(Ok(entry)) => entry,
            Some(Err(err)) => {
                tracing::warn!(room = %doc, %err, "lease watch interrupted; resuming");
                watch = None;
                continue;
            }
            None => {
                watch = None;
                continue;
            }
        };
        next = next.max(entry.revision + 1);
        let Some(id) = lease_id(&entry.key) else {
            tracing::warn!(key = %entry.key, "a lease key that names no element; ignored");
            continue;
        };
        let lease = match entry.operation {
            Operation::Put => match serde_json::from_slice::<LeaseValue>(&entry.value) {
                Ok(lease) => Some(lease),
                Err(err) => {
                    tracing::warn!(key = %entry.key, %err, "a lease that does not parse; ignored");
                    continue;
                }
            },
            Operation::Delete | Operation::Purge => None,
        };
        let event = RemoteEvent::Lease {
            id,
            revision: entry.revision,
            lease,
        };
        if tx.send(event).await.is_err() {
            return;
        }
    }
}

/// Publishes this node's presence batches, and an empty one when a [`PRESENCE_HEARTBEAT`]
/// passed without any (the other nodes' sign that this node is alive).
async fn publish_presence(cluster: Arc<Cluster>, subject: String, mut rx: mpsc::Receiver<Vec<u8>>) {
    let heartbeat = ArxPayload::PresenceBatch {
        entries: Vec::new(),
        gone: Vec::new(),
    }
    .encode()
    .unwrap_or_default();
    loop {
        let payload = match tokio::time::timeout(PRESENCE_HEARTBEAT, rx.recv()).await {
            Ok(Some(payload)) => payload,
            Ok(None) => return, // the room closed
            Err(_) => heartbeat.clone(),
        };
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(NODE_HEADER, cluster.node.as_str());
        if let Err(err) = cluster
            .client
            .publish_with_headers(subject.clone(), headers, payload.into())
            .await
        {
            tracing::warn!(%err, "publishing presence failed");
        }
    }
}

/// Milliseconds until a lease written at `created` ends, judged by the wall clock.
fn expires_in_ms(created: &async_nats::jetstream::kv::Entry, ttl: Duration) -> u64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let written = u128::try_from(created.created.unix_timestamp_nanos()).unwrap_or(0);
    let age_ms = now.saturating_sub(written) / 1_000_000;
    u64::try_from((ttl.as_millis()).saturating_sub(age_ms)).unwrap_or(0)
}

async fn run_lock_ops(
    cluster: Arc<Cluster>,
    doc: DocumentId,
    mut rx: mpsc::Receiver<LockOp>,
    tx: mpsc::Sender<RemoteEvent>,
) {
    let kv = &cluster.locks;
    while let Some(op) = rx.recv().await {
        match op {
            LockOp::Request { holder, ids } => {
                let mut granted = Vec::new();
                let mut denied = Vec::new();
                for id in ids {
                    match acquire(&cluster, doc, &id, &holder).await {
                        Ok(Ok(revision)) => granted.push((id, revision)),
                        Ok(Err(entry)) => denied.push(entry),
                        Err(err) => {
                            tracing::error!(room = %doc, element = %id, %err, "cannot take a lease; denied");
                            denied.push(LockEntry {
                                id,
                                holder_peer: String::new(),
                                holder_user: "(locks unavailable)".into(),
                                expires_in_ms: 0,
                            });
                        }
                    }
                }
                let outcome = RemoteEvent::LockOutcome {
                    holder,
                    granted,
                    denied,
                };
                if tx.send(outcome).await.is_err() {
                    return;
                }
            }
            LockOp::Renew { holder, ids } => {
                for id in ids {
                    if let Ok(Err(other)) = acquire(&cluster, doc, &id, &holder).await {
                        tracing::info!(room = %doc, element = %id, holder = %other.holder_user, "lease lost before its renewal");
                    }
                }
            }
            LockOp::Release { holder, ids } => {
                for id in ids {
                    let key = lease_key(doc, &id);
                    match kv.entry(key.as_str()).await {
                        Ok(Some(entry)) if entry.operation == Operation::Put => {
                            let ours = serde_json::from_slice::<LeaseValue>(&entry.value)
                                .is_ok_and(|v| v.node == holder.node && v.conn == holder.conn);
                            if ours
                                && let Err(err) = kv
                                    .delete_expect_revision(key.as_str(), Some(entry.revision))
                                    .await
                            {
                                tracing::info!(room = %doc, element = %id, %err, "lease release raced; it expires by itself");
                            }
                        }
                        Ok(_) => {}
                        Err(err) => {
                            tracing::warn!(room = %doc, element = %id, %err, "cannot release a lease; it expires by itself");
                        }
                    }
                }
            }
        }
    }
}

/// Takes (or renews) the lease on `id` for `holder`: `Ok(Ok(revision))` when it is ours now,
/// `Ok(Err(entry))` when someone else holds it. Only revision-checked writes: a create that
/// fails if the key exists, or an update at the revision just read.
async fn acquire(
    cluster: &Cluster,
    doc: DocumentId,
    id: &str,
    holder: &LeaseValue,
) -> Result<Result<u64, LockEntry>, String> {
    let kv = &cluster.locks;
    let key = lease_key(doc, id);
    let value: bytes::Bytes = serde_json::to_vec(holder)
        .map_err(|e| e.to_string())?
        .into();
    // Two attempts: a lease that expired or was released between our read and our write
    // makes the first fail without anyone holding it.
    for _ in 0..2 {
        match kv.create(key.as_str(), value.clone()).await {
            Ok(revision) => return Ok(Ok(revision)),
            Err(e) if e.kind() == CreateErrorKind::AlreadyExists => {}
            Err(e) => return Err(e.to_string()),
        }
        let Some(entry) = kv.entry(key.as_str()).await.map_err(|e| e.to_string())? else {
            continue;
        };
        if entry.operation != Operation::Put {
            continue;
        }
        let current: LeaseValue =
            serde_json::from_slice(&entry.value).map_err(|e| e.to_string())?;
        if current.node == holder.node && current.conn == holder.conn {
            match kv.update(key.as_str(), value.clone(), entry.revision).await {
                Ok(revision) => return Ok(Ok(revision)),
                Err(_) => continue,
            }
        }
        return Ok(Err(LockEntry {
            id: id.to_owned(),
            holder_peer: current.peer.clone(),
            holder_user: current.user.clone(),
            expires_in_ms: expires_in_ms(&entry, cluster.lock_ttl),
        }));
    }
    Err("the lease changed hands twice while being taken".into())
}

impl LinkHandle {
    /// Publishes this node's presence batch (its own peers only) to the other nodes.
    pub(crate) fn publish_presence(&self, entries: Vec<PresenceEntry>, gone: Vec<String>) {
        let payload = ArxPayload::PresenceBatch { entries, gone };
        match payload.encode() {
            Ok(bytes) => {
                if self.presence.try_send(bytes).is_err() {
                    tracing::debug!("presence publisher busy; this batch is skipped");
                }
            }
            Err(err) => tracing::error!(%err, "presence encoding failed"),
        }
    }

    fn queue(&self, op: LockOp) -> bool {
        self.locks.try_send(op).is_ok()
    }

    /// Asks the KV for leases on `ids`; the outcome comes back as [`RemoteEvent::LockOutcome`].
    /// `false` when too many lease operations wait (the request is then denied at once).
    pub(crate) fn request(&self, holder: LeaseValue, ids: Vec<String>) -> bool {
        self.queue(LockOp::Request { holder, ids })
    }

    /// Renews `holder`'s leases on `ids` (re-taking them when they lapsed and are free).
    pub(crate) fn renew(&self, holder: LeaseValue, ids: Vec<String>) {
        if !self.queue(LockOp::Renew { holder, ids }) {
            tracing::warn!("lease operations backed up; a renewal was skipped");
        }
    }

    /// Releases `holder`'s leases on `ids`.
    pub(crate) fn release(&self, holder: LeaseValue, ids: Vec<String>) {
        if !self.queue(LockOp::Release { holder, ids }) {
            tracing::warn!("lease operations backed up; leases expire by themselves");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_keys_are_valid_kv_keys_and_round_trip() {
        let doc = DocumentId::random();
        for id in ["e1", "outlet:R45-23", "a.b c/é", "=="] {
            let key = lease_key(doc, id);
            let (_, rest) = key.split_once('.').unwrap();
            assert!(
                rest.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_-=".contains(&b)),
                "{key}"
            );
            assert_eq!(lease_id(&key).as_deref(), Some(id));
        }
    }
}
