//! Cheap paths around two costs of `automerge` 0.12's sync protocol that grow with document
//! history: receiving any message walks the entire change graph (to trim `sent_hashes`), and
//! generating a message builds a bloom filter and change list even when it then returns
//! nothing. A relay fanning out to a hundred peers pays both on every acknowledgement.
//!
//! [`receive_ack`] handles the most common message, an acknowledgement naming heads we have
//! and carrying no changes, with the state updates automerge makes, without the graph walk.
//! [`nothing_to_send`] predicts when `generate_sync_message` would return `None`.
//! [`fan_out`] builds the message for a peer that had exactly our previous heads from the
//! new changes' bytes, without re-extracting them from the document for every peer.

use automerge::ChangeHash;
use automerge::sync::{
    BloomFilter, Capability, ChunkList, Have, Message, MessageFlags, MessageVersion, State,
};

/// Most `sent_hashes` kept per peer before they are dropped wholesale (dropping only risks
/// re-sending a change the peer already has, which Automerge ignores).
const MAX_SENT_HASHES: usize = 4096;

/// Applies `message` to `state` if it carries no changes and every head it names is one we
/// have (`heads_known`, e.g. `|h| doc.get_missing_deps(h).is_empty()`); returns the message back, untouched, otherwise (then use
/// `receive_sync_message`).
///
/// The state ends up as `receive_sync_message` leaves it, except that `sent_hashes` is trimmed
/// approximately (the peer's heads are removed, everything when it has all our heads) instead
/// of by walking the whole change graph.
pub fn receive_ack(
    state: &mut State,
    our_heads: &[ChangeHash],
    heads_known: impl FnOnce(&[ChangeHash]) -> bool,
    message: Message,
) -> Result<(), Box<Message>> {
    if !message.changes.is_empty() || message.heads.is_empty() || !heads_known(&message.heads) {
        return Err(Box::new(message));
    }
    state.in_flight = false;
    if let Some(flags) = message.flags {
        let mut caps = vec![Capability::MessageV2];
        if flags.contains(MessageFlags::SUPPORTS_SYNC_RESET) {
            caps.push(Capability::SyncReset);
        }
        state.their_capabilities = Some(caps);
        if flags.contains(MessageFlags::SYNC_RESET) {
            state.sent_hashes.clear();
        }
        state.peer_read_only = flags.contains(MessageFlags::READ_ONLY);
    }
    if message.heads == our_heads || state.sent_hashes.len() > MAX_SENT_HASHES {
        state.sent_hashes.clear();
    } else {
        state.sent_hashes.retain(|h| !message.heads.contains(h));
    }
    if message.heads == our_heads {
        state.last_sent_heads.clone_from(&message.heads);
    }
    state.shared_heads.clone_from(&message.heads);
    state.their_have = Some(message.have);
    state.their_heads = Some(message.heads);
    state.their_need = Some(message.need);
    Ok(())
}

/// Whether `generate_sync_message` would return `None`: the peer already has exactly our
/// heads, needs nothing, and we already told it our heads.
pub fn nothing_to_send(state: &State, our_heads: &[ChangeHash]) -> bool {
    state.have_responded
        && state.last_sent_heads == our_heads
        && state.their_heads.as_deref() == Some(our_heads)
        && state.their_need.as_ref().is_none_or(Vec::is_empty)
}

/// A cheaper equivalent of `generate_sync_message` for the relay's fan-out: we already sent
/// this peer everything up to `before` (our heads when we last sent), and `new_changes` are
/// exactly the changes since `before`, in causal order, taking us to `after`.
///
/// Sends the new changes the peer is not known to have, our heads, and a `have` whose bloom
/// filter covers the changes the peer may not have seen from us (`sent_hashes` plus the new
/// ones). It only ever claims changes we have, so the peer never withholds one we need; at
/// worst it re-sends one we have, which Automerge ignores. Updates `state` the way generating
/// would. `None` when the shortcut does not apply; then use the full protocol.
///
/// `known(hashes)` must say whether we have every one of `hashes`.
pub fn fan_out(
    state: &mut State,
    before: &[ChangeHash],
    after: &[ChangeHash],
    new_changes: &[(ChangeHash, Vec<u8>)],
    mut known: impl FnMut(&[ChangeHash]) -> bool,
) -> Option<Message> {
    let applies = state.have_responded
        && !state.needs_reset
        && !state.read_only
        && !state.peer_read_only
        && !before.is_empty()
        && !new_changes.is_empty()
        && state.last_sent_heads == before
        && state.their_need.as_ref().is_none_or(Vec::is_empty);
    if !applies {
        return None;
    }
    let their_heads = state.their_heads.clone()?;
    if !known(&their_heads) || !known(&state.shared_heads) {
        return None;
    }
    if let Some(first) = state.their_have.as_ref().and_then(|h| h.first())
        && !known(&first.last_sync)
    {
        return None;
    }
    let their_bloom = state
        .their_have
        .as_ref()
        .and_then(|h| h.first())
        .map(|h| &h.bloom);
    let to_send: Vec<&(ChangeHash, Vec<u8>)> = new_changes
        .iter()
        .filter(|(h, _)| {
            !their_heads.contains(h) && !their_bloom.is_some_and(|b| b.contains_hash(h))
        })
        .collect();
    let mut ours: Vec<ChangeHash> = state.sent_hashes.iter().copied().collect();
    ours.extend(new_changes.iter().map(|(h, _)| *h));
    let bloom = BloomFilter::from_hashes(ours.iter());
    let mut flags = MessageFlags::new();
    flags.set(MessageFlags::SUPPORTS_SYNC_RESET);
    let message = Message {
        heads: after.to_vec(),
        need: Vec::new(),
        have: vec![Have {
            last_sync: state.shared_heads.clone(),
            bloom,
        }],
        changes: ChunkList::from(to_send.iter().map(|(_, b)| b.clone()).collect::<Vec<_>>()),
        flags: Some(flags),
        version: MessageVersion::V1,
    };
    state.have_responded = true;
    state.last_sent_heads = after.to_vec();
    state.sent_hashes.extend(to_send.iter().map(|(h, _)| *h));
    state.in_flight = true;
    Some(message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::sync::SyncDoc;
    use automerge::transaction::Transactable;
    use automerge::{AutoCommit, ROOT};
    use proptest::prelude::*;

    /// One message from `from` to `to`; returns whether anything was sent.
    fn step(
        from: &mut AutoCommit,
        fs: &mut State,
        to: &mut AutoCommit,
        ts: &mut State,
        fast: bool,
    ) -> bool {
        let heads = from.get_heads();
        if fast && nothing_to_send(fs, &heads) {
            assert!(
                from.sync().generate_sync_message(fs).is_none(),
                "prediction was wrong"
            );
            return false;
        }
        let shortcut = if fast && !fs.last_sent_heads.is_empty() && fs.last_sent_heads != heads {
            let before = fs.last_sent_heads.clone();
            let batch: Vec<(ChangeHash, Vec<u8>)> = from
                .get_changes(&before)
                .iter()
                .map(|c| (c.hash(), c.raw_bytes().to_vec()))
                .collect();
            let mut probe = from.clone();
            fan_out(fs, &before, &heads, &batch, |h| {
                probe.get_missing_deps(h).is_empty()
            })
        } else {
            None
        };
        let Some(msg) = shortcut.or_else(|| from.sync().generate_sync_message(fs)) else {
            return false;
        };
        let to_heads = to.get_heads();
        let msg = if fast {
            match receive_ack(ts, &to_heads, |h| to.get_missing_deps(h).is_empty(), msg) {
                Ok(()) => return true,
                Err(msg) => *msg,
            }
        } else {
            msg
        };
        to.sync().receive_sync_message(ts, msg).unwrap();
        true
    }

    /// Runs the sync loop between two documents using the fast paths where they apply.
    fn sync_pair(
        a: &mut AutoCommit,
        sa: &mut State,
        b: &mut AutoCommit,
        sb: &mut State,
        fast: bool,
    ) {
        for _ in 0..50 {
            let ab = step(a, sa, b, sb, fast);
            let ba = step(b, sb, a, sa, fast);
            if !ab && !ba {
                return;
            }
        }
        panic!("sync did not settle");
    }

    #[test]
    fn fan_out_matches_the_full_protocol() {
        let mut hub = AutoCommit::new();
        // Enough history that three new changes stay under automerge's "send the whole
        // document" threshold (a third of the history).
        for i in 0..12_i64 {
            hub.put(ROOT, "seed", i).unwrap();
            hub.commit();
        }
        let mut peer = AutoCommit::new();
        let (mut hs, mut ps) = (State::new(), State::new());
        sync_pair(&mut hub, &mut hs, &mut peer, &mut ps, false);
        let before = hub.get_heads();
        for i in 0..3_i64 {
            hub.put(ROOT, format!("k{i}"), i).unwrap();
            hub.commit();
        }
        let after = hub.get_heads();
        let new: Vec<(ChangeHash, Vec<u8>)> = hub
            .get_changes(&before)
            .iter()
            .map(|c| (c.hash(), c.raw_bytes().to_vec()))
            .collect();
        let mut reference = hs.clone();
        let expected = hub.sync().generate_sync_message(&mut reference).unwrap();
        let mut probe = hub.clone();
        let msg = fan_out(&mut hs, &before, &after, &new, |h| {
            probe.get_missing_deps(h).is_empty()
        })
        .expect("peer is caught up");
        assert_eq!(msg.heads, expected.heads);
        assert_eq!(hs.sent_hashes, reference.sent_hashes);
        assert_eq!(hs.last_sent_heads, reference.last_sent_heads);
        peer.sync().receive_sync_message(&mut ps, msg).unwrap();
        assert_eq!(peer.get_heads(), after);
        sync_pair(&mut hub, &mut hs, &mut peer, &mut ps, true);
        assert_eq!(peer.get_heads(), hub.get_heads());
        // Not caught up: no shortcut.
        assert!(fan_out(&mut State::new(), &before, &after, &new, |_| true).is_none());
    }

    proptest! {
        #[test]
        fn fast_paths_converge_like_the_full_protocol(
            edits in proptest::collection::vec((any::<bool>(), 0_u8..6, any::<i32>(), any::<bool>()), 1..40)
        ) {
            let mut a = AutoCommit::new();
            let mut b = AutoCommit::new();
            let (mut sa, mut sb) = (State::new(), State::new());
            for (on_a, key, value, sync_now) in edits {
                let doc = if on_a { &mut a } else { &mut b };
                doc.put(ROOT, format!("k{key}"), i64::from(value)).unwrap();
                doc.commit();
                if sync_now {
                    sync_pair(&mut a, &mut sa, &mut b, &mut sb, true);
                    prop_assert_eq!(a.get_heads(), b.get_heads());
                }
            }
            sync_pair(&mut a, &mut sa, &mut b, &mut sb, true);
            prop_assert_eq!(a.get_heads(), b.get_heads());
            // Still in a consistent state for the full protocol afterwards.
            a.put(ROOT, "after", 1_i64).unwrap();
            a.commit();
            sync_pair(&mut a, &mut sa, &mut b, &mut sb, false);
            prop_assert_eq!(a.get_heads(), b.get_heads());
        }
    }
}
