//! A room's part in a cluster of relay nodes: applying the changes other nodes appended,
//! merging their clients' presence into ours, and leases through the cluster's KV.
//!
//! Changes from other nodes are durable already (they are in the stream), so they skip
//! vetting and persisting: the room applies them and syncs them to its peers at the next
//! fan-out, like a peer's changes, and never appends them again. While a batch of our own is
//! being persisted they wait with the deferred sync messages, because syncing them would
//! also reveal our own changes before they are durable.
//!
//! Presence: what our peers did goes out to the other nodes once per tick (the batch we
//! broadcast, without what came from elsewhere); what theirs did joins our next broadcast.
//! Every node with the room open is heard at least every [`PRESENCE_HEARTBEAT`]; one silent
//! for [`NODE_SILENCE`] is taken for dead (killed, cut off) and its clients' presence is
//! dropped as if they had left, since a dead node never says so.
//!
//! Locks: requests go to the KV ([`crate::cluster::link`]) and the grant or denial comes
//! back as an event; the lock table mirrors the KV for hard-lock checks and for the table
//! every client sees.

use std::collections::{BTreeMap, BTreeSet};

use arxos_sync::protocol::payload::{ArxPayload, LockEntry, Presence, PresenceEntry};
use automerge::Change;
use tokio::time::Instant;

use super::locks::Holder;
use super::{ConnId, NewChange, Outbound, Room, RoomCmd, fastsync};
#[cfg(doc)]
use crate::cluster::link::PRESENCE_HEARTBEAT;
use crate::cluster::link::{LeaseValue, LinkHandle, NODE_SILENCE, RemoteEvent, RoomLink};

/// Opens the room's link to the other nodes (`None` on a single relay); the reason for the
/// joining peers when the cluster cannot be reached.
pub(super) async fn open_link(
    id: arxos_sync::DocumentId,
    ctx: &super::RoomContext,
) -> Result<Option<RoomLink>, String> {
    let Some(cluster) = &ctx.cluster else {
        return Ok(None);
    };
    // Boxed: its retries make the future large, and the room's task should not carry it.
    match Box::pin(crate::cluster::link::open_room(cluster, id)).await {
        Ok(link) => Ok(Some(link)),
        Err(err) => {
            tracing::error!(room = %id, %err, "cannot reach the cluster; room refused");
            Err(format!(
                "room {id} is unavailable: the relay cannot reach the cluster ({err})"
            ))
        }
    }
}

/// The origin of changes from other nodes: no connection of ours has number 0, so none of
/// our peers is spared them as their author.
const OTHER_NODES: ConnId = 0;

/// What a room keeps of the other nodes.
pub(super) struct Remote {
    link: LinkHandle,
    /// Latest presence of the other nodes' peers, by peer id.
    presence: BTreeMap<String, Presence>,
    dirty: BTreeSet<String>,
    gone: Vec<String>,
    /// Each other node heard on the presence subject: when last, and its peers with presence.
    nodes: BTreeMap<String, (Instant, BTreeSet<String>)>,
    /// Changes from other nodes applied since the last fan-out.
    ready: Vec<NewChange>,
}

impl Remote {
    pub(super) fn new(link: LinkHandle) -> Self {
        Self {
            link,
            presence: BTreeMap::new(),
            dirty: BTreeSet::new(),
            gone: Vec::new(),
            nodes: BTreeMap::new(),
            ready: Vec::new(),
        }
    }

    /// Whether presence from other nodes waits for a broadcast.
    pub(super) fn presence_waiting(&self) -> bool {
        !self.dirty.is_empty() || !self.gone.is_empty()
    }

    /// Everyone's presence on other nodes, for a newcomer.
    pub(super) fn presence_entries(&self) -> impl Iterator<Item = PresenceEntry> + '_ {
        self.presence.iter().map(|(peer, p)| PresenceEntry {
            peer: peer.clone(),
            presence: p.clone(),
        })
    }

    /// Publishes our batch to the other nodes, then adds theirs to it.
    pub(super) fn exchange_presence(
        &mut self,
        entries: &mut Vec<PresenceEntry>,
        gone: &mut Vec<String>,
    ) {
        if !entries.is_empty() || !gone.is_empty() {
            self.link.publish_presence(entries.clone(), gone.clone());
        }
        for peer in std::mem::take(&mut self.dirty) {
            if let Some(presence) = self.presence.get(&peer) {
                entries.push(PresenceEntry {
                    peer,
                    presence: presence.clone(),
                });
            }
        }
        gone.append(&mut self.gone);
    }

    /// The changes from other nodes to fan out now.
    pub(super) fn take_ready(&mut self) -> Vec<NewChange> {
        std::mem::take(&mut self.ready)
    }

    fn holder(&self, conn: ConnId, peer: &str, user: &str) -> LeaseValue {
        LeaseValue {
            node: self.link.node.clone(),
            conn,
            peer: peer.to_owned(),
            user: user.to_owned(),
        }
    }
}

impl Room {
    /// Handles an event from the other nodes. Returns `false` when the room must close.
    pub(super) fn on_remote(&mut self, event: RemoteEvent, persisting: bool) -> bool {
        match event {
            RemoteEvent::Changes(chunks) => self.accept(RoomCmd::Remote(chunks), persisting),
            RemoteEvent::Presence {
                node,
                entries,
                gone,
            } => {
                let Some(remote) = self.remote.as_mut() else {
                    return true;
                };
                let (heard, peers) = remote
                    .nodes
                    .entry(node)
                    .or_insert_with(|| (Instant::now(), BTreeSet::new()));
                *heard = Instant::now();
                for entry in &entries {
                    peers.insert(entry.peer.clone());
                }
                for peer in &gone {
                    peers.remove(peer);
                }
                for entry in entries {
                    remote.dirty.insert(entry.peer.clone());
                    remote.presence.insert(entry.peer, entry.presence);
                }
                for peer in gone {
                    remote.dirty.remove(&peer);
                    if remote.presence.remove(&peer).is_some() {
                        remote.gone.push(peer);
                    }
                }
            }
            RemoteEvent::Lease {
                id,
                revision,
                lease,
            } => {
                let Some(node) = self.remote.as_ref().map(|r| r.link.node.clone()) else {
                    return true;
                };
                let held = lease.as_ref().map(|v| {
                    let holder = if v.node == node {
                        Holder::Here(v.conn)
                    } else {
                        Holder::Elsewhere
                    };
                    (holder, v.peer.as_str(), v.user.as_str())
                });
                if self.locks.mirror(&id, revision, held, Instant::now()) {
                    self.broadcast_locks();
                }
            }
            RemoteEvent::LockOutcome {
                holder,
                granted,
                denied,
            } => self.lock_outcome(&holder, granted, denied),
            RemoteEvent::Broken(reason) => {
                tracing::error!(room = %self.id, %reason, "the room lost the cluster; closing it");
                for peer in self.peers.values() {
                    let _ = peer.out.try_send(Outbound::Close(reason.clone()));
                }
                self.peers.clear();
                return false;
            }
        }
        true
    }

    /// Drops the presence of every peer of a node silent for [`NODE_SILENCE`] (announced as
    /// gone with the next broadcast), except peers connected here now: a client of a dead node
    /// that moved to this one is present through us.
    pub(super) fn expire_silent_nodes(&mut self, now: Instant) {
        let Some(remote) = self.remote.as_mut() else {
            return;
        };
        let silent: Vec<String> = remote
            .nodes
            .iter()
            .filter(|(_, (heard, _))| now.duration_since(*heard) >= NODE_SILENCE)
            .map(|(node, _)| node.clone())
            .collect();
        for node in silent {
            let Some((_, peers)) = remote.nodes.remove(&node) else {
                continue;
            };
            tracing::info!(room = %self.id, %node, peers = peers.len(), "another relay node went silent; its clients' presence dropped");
            for peer in peers {
                remote.dirty.remove(&peer);
                if remote.presence.remove(&peer).is_some()
                    && !self.peers.values().any(|p| p.peer.0 == peer)
                {
                    remote.gone.push(peer);
                }
            }
        }
    }

    /// Applies changes another node appended; they reach our peers with the next fan-out.
    pub(super) fn ingest_remote(&mut self, chunks: Vec<Vec<u8>>) {
        let mut fresh = Vec::new();
        for chunk in chunks {
            match Change::from_bytes(chunk.clone()) {
                Ok(change) if !fastsync::has_change(&mut self.doc, &change.hash()) => {
                    fresh.push((change, chunk));
                }
                Ok(_) => {}
                Err(err) => {
                    tracing::error!(room = %self.id, %err, "a change from another node does not parse; skipped");
                }
            }
        }
        if fresh.is_empty() {
            return;
        }
        let changes: Vec<Change> = fresh.iter().map(|(c, _)| c.clone()).collect();
        if let Err(err) = self.doc.apply_changes(changes) {
            tracing::error!(room = %self.id, %err, "changes from another node do not apply");
            return;
        }
        let applied: Vec<NewChange> = fresh
            .into_iter()
            .filter(|(c, _)| fastsync::has_change(&mut self.doc, &c.hash()))
            .map(|(c, bytes)| NewChange {
                hash: c.hash(),
                bytes,
                origin: OTHER_NODES,
                via: None,
            })
            .collect();
        if let Some(remote) = self.remote.as_mut() {
            remote.ready.extend(applied);
        }
        self.needs_sync = true;
    }

    /// Handles a lock payload through the cluster's KV; gives the payload back when this is
    /// not a cluster room or not a lock message.
    pub(super) fn cluster_locks(
        &mut self,
        conn: ConnId,
        peer: &str,
        user: &str,
        payload: ArxPayload,
    ) -> Option<ArxPayload> {
        let Some(remote) = self.remote.as_ref() else {
            return Some(payload);
        };
        let holder = remote.holder(conn, peer, user);
        match payload {
            ArxPayload::LockRequest { ids } if ids.len() <= super::MAX_LOCK_IDS => {
                if !remote.link.request(holder, ids.clone()) {
                    let held = ids
                        .into_iter()
                        .map(|id| LockEntry {
                            id,
                            holder_peer: String::new(),
                            holder_user: "(locks busy, retry)".into(),
                            expires_in_ms: 0,
                        })
                        .collect();
                    self.send_payload(conn, &ArxPayload::LockDeny { held });
                }
            }
            ArxPayload::LockRenew { ids } if ids.len() <= super::MAX_LOCK_IDS => {
                let held = self.locks.held_by(conn, &ids);
                self.locks.renew(conn, &ids, Instant::now());
                if !held.is_empty() {
                    remote.link.renew(holder, held);
                }
            }
            ArxPayload::LockRelease { ids } if ids.len() <= super::MAX_LOCK_IDS => {
                let held = self.locks.held_by(conn, &ids);
                remote.link.release(holder, held);
                if self.locks.release(conn, &ids) {
                    self.broadcast_locks();
                }
            }
            other => return Some(other),
        }
        None
    }

    /// Releases in the KV every lease `conn` holds (it is leaving).
    pub(super) fn release_cluster_leases(&mut self, conn: ConnId) {
        if let Some(remote) = self.remote.as_ref() {
            let held = self.locks.held_by(conn, &[]);
            if !held.is_empty() {
                remote.link.release(remote.holder(conn, "", ""), held);
            }
        }
    }

    fn lock_outcome(
        &mut self,
        holder: &LeaseValue,
        granted: Vec<(String, u64)>,
        denied: Vec<LockEntry>,
    ) {
        let conn = holder.conn;
        if !self.peers.contains_key(&conn) {
            // Gone while the KV answered: give back what it was granted.
            if let Some(remote) = self.remote.as_ref() {
                let ids = granted.into_iter().map(|(id, _)| id).collect();
                remote.link.release(holder.clone(), ids);
            }
            return;
        }
        let now = Instant::now();
        let mut ids = Vec::with_capacity(granted.len());
        for (id, revision) in granted {
            self.locks.mirror(
                &id,
                revision,
                Some((Holder::Here(conn), &holder.peer, &holder.user)),
                now,
            );
            ids.push(id);
        }
        if !ids.is_empty() {
            let ttl_ms = self.locks.ttl().as_millis() as u64;
            self.send_payload(conn, &ArxPayload::LockGrant { ids, ttl_ms });
            self.broadcast_locks();
        }
        if !denied.is_empty() {
            self.send_payload(conn, &ArxPayload::LockDeny { held: denied });
        }
    }
}
