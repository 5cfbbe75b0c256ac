//! Automerge's sync protocol, pipelined and without its whole-history walks, for the relay's
//! star topology.
//!
//! `automerge` 0.12's `receive_sync_message` walks the entire change graph on every message
//! (to trim `sent_hashes`), and `generate_sync_message` computes clocks, bloom filters and a
//! change list even when it then sends nothing. It also assumes one message in flight at a
//! time: an acknowledgement of an older message clears `in_flight`, so the next generation
//! re-sends our heads, which the peer answers again. In a room of a hundred editors nearly
//! every acknowledgement is of an older message, and the relay spent its time in those walks.
//!
//! [`PeerSync`] keeps automerge's [`State`] (so the full protocol can take over at any point)
//! plus a log of what it sent in which message, and offers:
//! - [`PeerSync::receive`]: what `receive_sync_message` does, except that `sent_hashes` is
//!   trimmed from the send log instead of a graph walk, and an acknowledgement of an *older*
//!   message leaves the newer one in flight (its answer is still coming);
//! - [`PeerSync::nothing_to_send`]: exactly when `generate_sync_message` would return `None`;
//! - [`PeerSync::send_new`]: the message for a peer we already sent everything up to our
//!   previous heads, built from the new changes' bytes;
//! - [`PeerSync::respond`] and [`PeerSync::generate`]: the usual entry points for a client,
//!   taking the fast path when it applies and the full protocol otherwise.

use std::collections::{BTreeSet, HashSet, VecDeque};

use automerge::sync::{
    BloomFilter, Capability, ChunkList, Have, Message, MessageFlags, MessageVersion, State, SyncDoc,
};
use automerge::{AutoCommit, Automerge, AutomergeError, ChangeHash, ReadDoc};

/// How long a client may hold back a plain acknowledgement, so that one answer covers every
/// message that arrived meanwhile (what it sends anyway, and answers the peer waits for, go
/// out at once). Fan-out never waits for acknowledgements, so this costs no latency.
pub const ACK_DELAY: std::time::Duration = std::time::Duration::from_millis(25);

/// Most `sent_hashes` kept per peer before they are dropped wholesale (dropping only risks
/// re-sending a change the peer already has, which Automerge ignores).
const MAX_SENT_HASHES: usize = 4096;
/// Most messages remembered in the send log; older ones only lose exact trimming.
const MAX_LOG: usize = 1024;

/// A document the fast paths can drive: automerge's two document types.
pub trait Replica {
    /// The current heads.
    fn heads(&mut self) -> Vec<ChangeHash>;
    /// Which of `hashes` we lack, plus the missing dependencies of any queued change.
    fn missing(&mut self, hashes: &[ChangeHash]) -> Vec<ChangeHash>;
    /// Applies encoded changes (queued when their dependencies are missing).
    fn apply(&mut self, changes: &[u8]) -> Result<(), AutomergeError>;
    /// The full protocol's next message.
    fn generate(&mut self, state: &mut State) -> Option<Message>;

    /// Whether we have every one of `hashes` and no queued change waits for anything.
    fn knows(&mut self, hashes: &[ChangeHash]) -> bool {
        self.missing(hashes).is_empty()
    }
}

impl Replica for Automerge {
    fn heads(&mut self) -> Vec<ChangeHash> {
        self.get_heads()
    }
    fn missing(&mut self, hashes: &[ChangeHash]) -> Vec<ChangeHash> {
        self.get_missing_deps(hashes)
    }
    fn apply(&mut self, changes: &[u8]) -> Result<(), AutomergeError> {
        self.load_incremental(changes).map(drop)
    }
    fn generate(&mut self, state: &mut State) -> Option<Message> {
        self.generate_sync_message(state)
    }
}

impl Replica for AutoCommit {
    fn heads(&mut self) -> Vec<ChangeHash> {
        self.get_heads()
    }
    fn missing(&mut self, hashes: &[ChangeHash]) -> Vec<ChangeHash> {
        self.get_missing_deps(hashes)
    }
    fn apply(&mut self, changes: &[u8]) -> Result<(), AutomergeError> {
        self.load_incremental(changes).map(drop)
    }
    fn generate(&mut self, state: &mut State) -> Option<Message> {
        self.sync().generate_sync_message(state)
    }
}

/// One entry of the send log: our heads after a message, and the changes it carried.
#[derive(Debug, Clone)]
struct Sent {
    heads: Vec<ChangeHash>,
    hashes: Vec<ChangeHash>,
}

/// Sync state for one peer: automerge's [`State`] plus a log of recent messages.
#[derive(Debug, Clone, Default)]
pub struct PeerSync {
    /// Automerge's state; persist it with [`State::encode`] as usual.
    pub state: State,
    log: VecDeque<Sent>,
    /// Our heads up to which the peer has, or was sent, everything of ours: changes since are
    /// local ones not yet announced. Empty when unknown.
    covered: Vec<ChangeHash>,
    /// Changes sent since [`PeerSync::take_sent_count`] last asked.
    sent_count: usize,
}

impl From<State> for PeerSync {
    fn from(state: State) -> Self {
        Self {
            state,
            log: VecDeque::new(),
            covered: Vec::new(),
            sent_count: 0,
        }
    }
}

impl PeerSync {
    /// A fresh state.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies a message from the peer, as `receive_sync_message` would.
    pub fn receive(
        &mut self,
        doc: &mut impl Replica,
        message: Message,
    ) -> Result<(), AutomergeError> {
        let before = doc.heads();
        let Message {
            heads,
            changes,
            need,
            have,
            flags,
            ..
        } = message;
        let state = &mut self.state;
        if let Some(flags) = flags {
            // Same capability bookkeeping as automerge: the flags section implies V2 support.
            let mut caps = vec![Capability::MessageV2];
            if flags.contains(MessageFlags::SUPPORTS_SYNC_RESET) {
                caps.push(Capability::SyncReset);
            }
            state.their_capabilities = Some(caps);
            if flags.contains(MessageFlags::SYNC_RESET) {
                state.sent_hashes.clear();
                self.log.clear();
            }
            state.peer_read_only = flags.contains(MessageFlags::READ_ONLY);
        }
        let now = if !changes.is_empty() && !state.read_only {
            doc.apply(&join(&changes))?;
            let after = doc.heads();
            state.shared_heads = advance_heads(&before, &after, &state.shared_heads);
            after
        } else {
            before.clone()
        };
        let last_sync = have
            .first()
            .map(|h| h.last_sync.as_slice())
            .unwrap_or_default();
        self.trim_sent(&heads, last_sync, &now);
        // What arrived came from the peer: if it had everything of ours before, it still does.
        if (!self.covered.is_empty() && self.covered == before) || heads == now {
            self.covered.clone_from(&now);
        }
        let state = &mut self.state;
        if changes.is_empty() && heads == before {
            state.last_sent_heads.clone_from(&heads);
        }
        let missing = doc.missing(&heads);
        let known: Vec<ChangeHash> = heads
            .iter()
            .filter(|h| !missing.contains(h))
            .copied()
            .collect();
        let all_known = known.len() == heads.len();
        if all_known {
            state.shared_heads.clone_from(&heads);
            if heads.is_empty() {
                // The peer lost everything: start over.
                state.last_sent_heads.clear();
                state.sent_hashes.clear();
                self.log.clear();
            }
        } else {
            let mut shared: Vec<ChangeHash> = state.shared_heads.clone();
            shared.extend(known);
            shared.sort();
            shared.dedup();
            state.shared_heads = shared;
        }
        // An acknowledgement of an older message: the answer to our latest one is still to
        // come, so it stays in flight (automerge would re-send our heads, and be answered).
        let stale_ack = changes.is_empty()
            && need.is_empty()
            && !heads.is_empty()
            && missing.is_empty()
            && state.have_responded
            && heads != state.last_sent_heads
            && have
                .first()
                .is_none_or(|h| h.last_sync.is_empty() || doc.knows(&h.last_sync));
        let state = &mut self.state;
        state.in_flight = stale_ack;
        state.their_have = Some(have);
        state.their_heads = Some(heads);
        state.their_need = Some(need);
        Ok(())
    }

    /// Drops from `sent_hashes` what the peer is now known to have: everything when it has our
    /// heads, and everything up to the message whose heads it names, as its heads or as the
    /// heads it last synced with us (`last_sync`: a peer that has made changes of its own since
    /// names those among its heads, but still names our message's heads there).
    fn trim_sent(
        &mut self,
        their_heads: &[ChangeHash],
        last_sync: &[ChangeHash],
        our_heads: &[ChangeHash],
    ) {
        let sent = &mut self.state.sent_hashes;
        if their_heads == our_heads {
            sent.clear();
            self.log.clear();
            return;
        }
        if let Some(pos) = self.log.iter().rposition(|s| {
            s.heads == their_heads || (!last_sync.is_empty() && s.heads == last_sync)
        }) {
            for entry in self.log.drain(..=pos) {
                for hash in &entry.hashes {
                    sent.remove(hash);
                }
            }
        }
        sent.retain(|h| !their_heads.contains(h));
        if sent.len() > MAX_SENT_HASHES {
            sent.clear();
            self.log.clear();
        }
    }

    /// How many changes went out since the last call (a message may pack several changes into
    /// one compressed chunk, so its chunk count is not this).
    pub fn take_sent_count(&mut self) -> usize {
        std::mem::take(&mut self.sent_count)
    }

    fn record(&mut self, hashes: Vec<ChangeHash>) {
        self.covered.clone_from(&self.state.last_sent_heads);
        self.sent_count += hashes.len();
        if self.log.len() >= MAX_LOG {
            self.log.pop_front();
        }
        self.log.push_back(Sent {
            heads: self.state.last_sent_heads.clone(),
            hashes,
        });
    }

    /// Whether `generate_sync_message` would return `None` with our heads `our_heads`.
    pub fn nothing_to_send(&self, our_heads: &[ChangeHash]) -> bool {
        let s = &self.state;
        s.have_responded
            && s.last_sent_heads == our_heads
            && (s.in_flight
                || (s.their_heads.as_deref() == Some(our_heads)
                    && s.their_need.as_ref().is_none_or(Vec::is_empty)))
    }

    /// The full protocol's next message (recorded in the send log).
    pub fn generate(&mut self, doc: &mut impl Replica) -> Option<Message> {
        let before: BTreeSet<ChangeHash> = self.state.sent_hashes.clone();
        let message = doc.generate(&mut self.state)?;
        let new = self
            .state
            .sent_hashes
            .iter()
            .filter(|h| !before.contains(h))
            .copied()
            .collect();
        self.record(new);
        Some(message)
    }

    /// The cheap equivalent of `generate_sync_message` for a peer we already sent everything
    /// up to `before` (our heads when we last sent), when `new_changes` are all the changes
    /// since `before` the peer may lack, in causal order, taking us to `after`. Changes for
    /// which `peer_has` is true (e.g. the peer's own) are not sent.
    ///
    /// The message carries those changes, our heads, and a `have` whose bloom filter covers
    /// the changes the peer may not know we have (`sent_hashes` plus the new ones). It only
    /// ever claims changes we have, so the peer never withholds one we need. Updates the
    /// state the way generating would. `None` when the shortcut does not apply.
    pub fn send_new(
        &mut self,
        doc: &mut impl Replica,
        before: &[ChangeHash],
        after: &[ChangeHash],
        new_changes: &[(ChangeHash, Vec<u8>)],
        peer_has: impl Fn(&ChangeHash) -> bool,
    ) -> Option<Message> {
        let state = &self.state;
        let applies = state.have_responded
            && !state.needs_reset
            && !state.read_only
            && !state.peer_read_only
            && !before.is_empty()
            && state.last_sent_heads == before
            && state.their_need.as_ref().is_none_or(Vec::is_empty);
        if !applies {
            return None;
        }
        let their_heads = state.their_heads.clone()?;
        // Anything we cannot vouch for (their heads, our shared heads, their last sync)
        // means the full protocol must ask or reset.
        if !doc.knows(&their_heads) || !doc.knows(&state.shared_heads) {
            return None;
        }
        if let Some(first) = state.their_have.as_ref().and_then(|h| h.first())
            && !doc.knows(&first.last_sync)
        {
            return None;
        }
        let to_send: Vec<&(ChangeHash, Vec<u8>)> = new_changes
            .iter()
            .filter(|(h, _)| !their_heads.contains(h) && !peer_has(h))
            .collect();
        let ours: Vec<ChangeHash> = state
            .sent_hashes
            .iter()
            .copied()
            .chain(new_changes.iter().map(|(h, _)| *h))
            .collect();
        let mut flags = MessageFlags::new();
        flags.set(MessageFlags::SUPPORTS_SYNC_RESET);
        let message = Message {
            heads: after.to_vec(),
            need: Vec::new(),
            have: vec![Have {
                last_sync: state.shared_heads.clone(),
                bloom: BloomFilter::from_hashes(ours.iter()),
            }],
            changes: ChunkList::from(to_send.iter().map(|(_, b)| b.clone()).collect::<Vec<_>>()),
            flags: Some(flags),
            version: MessageVersion::V1,
        };
        let state = &mut self.state;
        state.have_responded = true;
        state.last_sent_heads = after.to_vec();
        state.sent_hashes.extend(to_send.iter().map(|(h, _)| *h));
        state.in_flight = true;
        self.record(to_send.iter().map(|(h, _)| *h).collect());
        Some(message)
    }

    /// The answer to what we received (call it at once, or later to coalesce answers): the
    /// fast path when the peer has everything of ours, the full protocol otherwise.
    pub fn respond(&mut self, doc: &mut impl Replica) -> Option<Message> {
        // An answer is an announcement of no new local changes.
        let heads = doc.heads();
        self.send_local(doc, &heads, &[])
    }

    /// The message announcing local changes: `before` are our heads before they were made and
    /// `new_changes` are exactly those changes, in order.
    pub fn send_local(
        &mut self,
        doc: &mut impl Replica,
        before: &[ChangeHash],
        new_changes: &[(ChangeHash, Vec<u8>)],
    ) -> Option<Message> {
        let heads = doc.heads();
        if self.nothing_to_send(&heads) {
            return None;
        }
        if self.covered == before {
            let sent = self.state.last_sent_heads.clone();
            if let Some(message) = self.send_new(doc, &sent, &heads, new_changes, |_| false) {
                return Some(message);
            }
        }
        self.generate(doc)
    }

    /// Whether an answer should go out now rather than be coalesced: the peer asked for
    /// something, or we lack something it named.
    pub fn answer_now(&self, doc: &mut impl Replica) -> bool {
        self.state
            .their_need
            .as_ref()
            .is_some_and(|n| !n.is_empty())
            || self
                .state
                .their_heads
                .as_ref()
                .is_some_and(|h| !doc.knows(h))
            || !self.state.have_responded
    }
}

/// Whether the document holds the change `hash` (applied, not merely queued).
pub fn has_change(doc: &mut impl Replica, hash: &ChangeHash) -> bool {
    !doc.missing(std::slice::from_ref(hash)).contains(hash)
}

/// The hashes of the changes in a message, or `None` when a chunk is not only changes (a
/// whole compressed document, as automerge sends to a peer far behind).
pub fn change_hashes(chunks: &ChunkList) -> Option<Vec<ChangeHash>> {
    crate::chunks::changes_in(chunks).map(|changes| changes.iter().map(|(c, _)| c.hash()).collect())
}

fn join(chunks: &ChunkList) -> Vec<u8> {
    let mut out = Vec::with_capacity(chunks.iter().map(<[u8]>::len).sum());
    for chunk in chunks.iter() {
        out.extend_from_slice(chunk);
    }
    out
}

/// Automerge's rule for moving the shared heads when changes arrive: the new heads plus the
/// old shared heads that are still heads.
fn advance_heads(old: &[ChangeHash], new: &[ChangeHash], shared: &[ChangeHash]) -> Vec<ChangeHash> {
    let mut out: HashSet<ChangeHash> = new.iter().filter(|h| !old.contains(h)).copied().collect();
    out.extend(shared.iter().filter(|h| new.contains(h)).copied());
    let mut out: Vec<ChangeHash> = out.into_iter().collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests;
