//! The fast paths against automerge's own protocol: same messages where they overlap, and
//! convergence of a pipelined star (a hub fanning out to spokes with messages in flight).

use std::collections::VecDeque;

use automerge::transaction::Transactable;
use automerge::{AutoCommit, Automerge, ROOT, ReadDoc};
use proptest::prelude::*;

use super::*;

fn bytes_of(doc: &mut AutoCommit, before: &[ChangeHash]) -> Vec<(ChangeHash, Vec<u8>)> {
    doc.get_changes(before)
        .iter()
        .map(|c| (c.hash(), c.raw_bytes().to_vec()))
        .collect()
}

/// One message from `from` to `to` (stop-and-wait); returns whether anything was sent.
fn step(from: &mut AutoCommit, fs: &mut PeerSync, to: &mut AutoCommit, ts: &mut PeerSync) -> bool {
    let heads = from.get_heads();
    if fs.nothing_to_send(&heads) {
        let mut probe = fs.state.clone();
        assert!(
            from.sync().generate_sync_message(&mut probe).is_none(),
            "nothing_to_send was wrong"
        );
        return false;
    }
    let before = fs.state.last_sent_heads.clone();
    let message = if before.is_empty() || before == heads {
        fs.generate(from)
    } else {
        let new = bytes_of(from, &before);
        fs.send_new(from, &before, &heads, &new, |_| false)
            .or_else(|| fs.generate(from))
    };
    let Some(message) = message else {
        return false;
    };
    ts.receive(to, message).unwrap();
    true
}

fn sync_pair(a: &mut AutoCommit, sa: &mut PeerSync, b: &mut AutoCommit, sb: &mut PeerSync) {
    for _ in 0..50 {
        let ab = step(a, sa, b, sb);
        let ba = step(b, sb, a, sa);
        if !ab && !ba {
            return;
        }
    }
    panic!("sync did not settle");
}

#[test]
fn send_new_matches_the_full_protocol() {
    let mut hub = AutoCommit::new();
    // Enough history that three new changes stay under automerge's "send the whole document"
    // threshold (a third of the history).
    for i in 0..12_i64 {
        hub.put(ROOT, "seed", i).unwrap();
        hub.commit();
    }
    let mut peer = AutoCommit::new();
    let (mut hs, mut ps) = (PeerSync::new(), PeerSync::new());
    sync_pair(&mut hub, &mut hs, &mut peer, &mut ps);
    let before = hub.get_heads();
    for i in 0..3_i64 {
        hub.put(ROOT, format!("k{i}"), i).unwrap();
        hub.commit();
    }
    let after = hub.get_heads();
    let new = bytes_of(&mut hub, &before);
    let mut reference = hs.state.clone();
    let expected = hub.sync().generate_sync_message(&mut reference).unwrap();
    let msg = hs
        .send_new(&mut hub, &before, &after, &new, |_| false)
        .expect("peer is caught up");
    assert_eq!(msg.heads, expected.heads);
    assert_eq!(hs.state.sent_hashes, reference.sent_hashes);
    assert_eq!(hs.state.last_sent_heads, reference.last_sent_heads);
    ps.receive(&mut peer, msg).unwrap();
    assert_eq!(peer.get_heads(), after);
    sync_pair(&mut hub, &mut hs, &mut peer, &mut ps);
    assert_eq!(peer.get_heads(), hub.get_heads());
    assert!(
        hs.state.sent_hashes.is_empty(),
        "acknowledged changes trimmed"
    );
    // Not caught up: no shortcut.
    let mut fresh = PeerSync::new();
    assert!(
        fresh
            .send_new(&mut hub, &before, &after, &new, |_| false)
            .is_none()
    );
}

#[test]
fn changes_the_peer_has_are_not_sent() {
    let mut hub = AutoCommit::new();
    hub.put(ROOT, "seed", 1_i64).unwrap();
    hub.commit();
    let mut peer = AutoCommit::new();
    let (mut hs, mut ps) = (PeerSync::new(), PeerSync::new());
    sync_pair(&mut hub, &mut hs, &mut peer, &mut ps);
    let before = hub.get_heads();
    hub.put(ROOT, "a", 1_i64).unwrap();
    hub.commit();
    let after = hub.get_heads();
    let new = bytes_of(&mut hub, &before);
    let own = new[0].0;
    let msg = hs
        .send_new(&mut hub, &before, &after, &new, |h| *h == own)
        .unwrap();
    assert!(msg.changes.is_empty());
    assert_eq!(msg.heads, after);
}

#[test]
fn a_stale_ack_keeps_the_newer_message_in_flight() {
    let mut hub = AutoCommit::new();
    hub.put(ROOT, "seed", 1_i64).unwrap();
    hub.commit();
    let mut peer = AutoCommit::new();
    let (mut hs, mut ps) = (PeerSync::new(), PeerSync::new());
    sync_pair(&mut hub, &mut hs, &mut peer, &mut ps);
    // Two messages go out before the peer answers either.
    let mut in_flight = Vec::new();
    for i in 0..2_i64 {
        let before = hub.get_heads();
        hub.put(ROOT, "k", i).unwrap();
        hub.commit();
        let after = hub.get_heads();
        let new = bytes_of(&mut hub, &before);
        in_flight.push(
            hs.send_new(&mut hub, &before, &after, &new, |_| false)
                .unwrap(),
        );
    }
    let mut answers = Vec::new();
    for message in in_flight {
        ps.receive(&mut peer, message).unwrap();
        answers.push(ps.respond(&mut peer).unwrap());
    }
    let heads = hub.get_heads();
    hs.receive(&mut hub, answers.remove(0)).unwrap();
    assert!(hs.state.in_flight, "the second message is still unanswered");
    assert!(hs.nothing_to_send(&heads));
    assert_eq!(
        hs.state.sent_hashes.len(),
        1,
        "first message's change trimmed"
    );
    hs.receive(&mut hub, answers.remove(0)).unwrap();
    assert!(!hs.state.in_flight);
    assert!(hs.nothing_to_send(&heads));
    assert!(hs.state.sent_hashes.is_empty());
    let mut probe = hs.state.clone();
    assert!(hub.sync().generate_sync_message(&mut probe).is_none());
}

/// A relay-like hub and its spokes, with a FIFO queue per direction.
struct Star {
    hub: Automerge,
    hub_peers: Vec<PeerSync>,
    flushed: Vec<ChangeHash>,
    batch: Vec<(ChangeHash, Vec<u8>, usize)>,
    spokes: Vec<(AutoCommit, PeerSync)>,
    to_hub: Vec<VecDeque<Message>>,
    to_spoke: Vec<VecDeque<Message>>,
}

impl Star {
    fn new(n: usize) -> Self {
        let mut hub = Automerge::new();
        let mut tx = hub.transaction();
        tx.put(ROOT, "seed", 0_i64).unwrap();
        tx.commit();
        let flushed = hub.get_heads();
        let mut star = Star {
            hub,
            hub_peers: vec![PeerSync::new(); n],
            flushed,
            batch: Vec::new(),
            spokes: (0..n)
                .map(|_| (AutoCommit::new(), PeerSync::new()))
                .collect(),
            to_hub: vec![VecDeque::new(); n],
            to_spoke: vec![VecDeque::new(); n],
        };
        for i in 0..n {
            let (doc, sync) = &mut star.spokes[i];
            if let Some(m) = sync.generate(doc) {
                star.to_hub[i].push_back(m);
            }
        }
        star
    }

    fn edit(&mut self, i: usize, value: i64) {
        let (doc, sync) = &mut self.spokes[i];
        let before = doc.get_heads();
        doc.put(ROOT, format!("s{i}"), value).unwrap();
        doc.commit();
        let change = doc.get_last_local_change().unwrap();
        let new = [(change.hash(), change.raw_bytes().to_vec())];
        if let Some(m) = sync.send_local(doc, &before, &new) {
            self.to_hub[i].push_back(m);
        }
    }

    fn deliver_to_hub(&mut self, i: usize) -> bool {
        let Some(message) = self.to_hub[i].pop_front() else {
            return false;
        };
        let before = self.hub.get_heads();
        let incoming = change_hashes(&message.changes).map(|hashes| {
            hashes
                .into_iter()
                .zip(message.changes.iter().map(<[u8]>::to_vec))
                .filter(|(h, _)| !has_change(&mut self.hub, h))
                .collect::<Vec<_>>()
        });
        self.hub_peers[i].receive(&mut self.hub, message).unwrap();
        // A whole-document chunk: take the new changes from the document, as the relay does.
        let incoming = incoming.unwrap_or_else(|| {
            self.hub
                .get_changes(&before)
                .iter()
                .map(|c| (c.hash(), c.raw_bytes().to_vec()))
                .collect()
        });
        for (hash, bytes) in incoming {
            if has_change(&mut self.hub, &hash) {
                self.batch.push((hash, bytes, i));
            }
        }
        true
    }

    fn flush_hub(&mut self) {
        let heads = self.hub.get_heads();
        let before = std::mem::replace(&mut self.flushed, heads.clone());
        let batch = std::mem::take(&mut self.batch);
        let new: Vec<(ChangeHash, Vec<u8>)> =
            batch.iter().map(|(h, b, _)| (*h, b.clone())).collect();
        for i in 0..self.hub_peers.len() {
            let peer = &mut self.hub_peers[i];
            if peer.nothing_to_send(&heads) {
                continue;
            }
            let own = |h: &ChangeHash| batch.iter().any(|(c, _, o)| c == h && *o == i);
            let message = peer
                .send_new(&mut self.hub, &before, &heads, &new, own)
                .or_else(|| peer.generate(&mut self.hub));
            if let Some(m) = message {
                self.to_spoke[i].push_back(m);
            }
        }
    }

    /// Delivers one message to spoke `i`; it answers at once when `answer` (or when it must),
    /// otherwise later ([`Star::ack`]), coalescing answers.
    fn deliver_to_spoke(&mut self, i: usize, answer: bool) -> bool {
        let Some(message) = self.to_spoke[i].pop_front() else {
            return false;
        };
        let (doc, sync) = &mut self.spokes[i];
        sync.receive(doc, message).unwrap();
        if answer || sync.answer_now(doc) {
            self.ack(i);
        }
        true
    }

    fn ack(&mut self, i: usize) {
        let (doc, sync) = &mut self.spokes[i];
        if let Some(m) = sync.respond(doc) {
            self.to_hub[i].push_back(m);
        }
    }

    /// Delivers everything until no message is left; panics if that never happens.
    fn settle(&mut self) {
        for _ in 0..200 {
            let mut moved = false;
            for i in 0..self.spokes.len() {
                while self.deliver_to_hub(i) {
                    moved = true;
                }
            }
            self.flush_hub();
            for i in 0..self.spokes.len() {
                while self.deliver_to_spoke(i, true) {
                    moved = true;
                }
            }
            if !moved {
                return;
            }
        }
        panic!("star did not settle");
    }
}

#[derive(Debug, Clone)]
enum Op {
    Edit(usize, i64),
    ToHub(usize),
    Flush,
    ToSpoke(usize, bool),
    Ack(usize),
}

fn op(n: usize) -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..n, any::<i64>()).prop_map(|(i, v)| Op::Edit(i, v)),
        (0..n).prop_map(Op::ToHub),
        Just(Op::Flush),
        (0..n, any::<bool>()).prop_map(|(i, now)| Op::ToSpoke(i, now)),
        (0..n).prop_map(Op::Ack),
    ]
}

proptest! {
    #[test]
    fn fast_paths_converge_like_the_full_protocol(
        edits in proptest::collection::vec((any::<bool>(), 0_u8..6, any::<i32>(), any::<bool>()), 1..40)
    ) {
        let mut a = AutoCommit::new();
        let mut b = AutoCommit::new();
        let (mut sa, mut sb) = (PeerSync::new(), PeerSync::new());
        for (on_a, key, value, sync_now) in edits {
            let doc = if on_a { &mut a } else { &mut b };
            doc.put(ROOT, format!("k{key}"), i64::from(value)).unwrap();
            doc.commit();
            if sync_now {
                sync_pair(&mut a, &mut sa, &mut b, &mut sb);
                prop_assert_eq!(a.get_heads(), b.get_heads());
            }
        }
        sync_pair(&mut a, &mut sa, &mut b, &mut sb);
        prop_assert_eq!(a.get_heads(), b.get_heads());
        // Still a consistent state for automerge's own protocol afterwards.
        a.put(ROOT, "after", 1_i64).unwrap();
        a.commit();
        let (mut ra, mut rb) = (sa.state.clone(), sb.state.clone());
        for _ in 0..20 {
            let ab = a.sync().generate_sync_message(&mut ra);
            if let Some(m) = &ab { b.sync().receive_sync_message(&mut rb, m.clone()).unwrap(); }
            let ba = b.sync().generate_sync_message(&mut rb);
            if let Some(m) = &ba { a.sync().receive_sync_message(&mut ra, m.clone()).unwrap(); }
            if ab.is_none() && ba.is_none() { break; }
        }
        prop_assert_eq!(a.get_heads(), b.get_heads());
    }

    #[test]
    fn a_pipelined_star_converges(ops in proptest::collection::vec(op(3), 1..120)) {
        let mut star = Star::new(3);
        let mut edits = [0_usize; 3];
        for op in ops {
            match op {
                Op::Edit(i, v) => { star.edit(i, v); edits[i] += 1; }
                Op::ToHub(i) => { star.deliver_to_hub(i); }
                Op::Flush => star.flush_hub(),
                Op::ToSpoke(i, now) => { star.deliver_to_spoke(i, now); }
                Op::Ack(i) => star.ack(i),
            }
        }
        star.settle();
        let heads = star.hub.get_heads();
        let total = star.hub.get_changes(&[]).len();
        prop_assert!(total > edits.iter().filter(|n| **n > 0).count());
        for (i, (doc, sync)) in star.spokes.iter_mut().enumerate() {
            prop_assert_eq!(doc.get_heads(), heads.clone(), "spoke {} differs", i);
            let value = star.hub.get(ROOT, format!("s{i}")).unwrap().map(|(v, _)| v.to_string());
            let mine = doc.get(ROOT, format!("s{i}")).unwrap().map(|(v, _)| v.to_string());
            prop_assert_eq!(value, mine);
            // A spoke trims `sent_hashes` only when the hub names its heads (no graph walk),
            // and a hub whose heads already matched does not answer: bounded, not empty.
            prop_assert!(sync.state.sent_hashes.len() <= total, "spoke {} keeps {}", i, sync.state.sent_hashes.len());
        }
        for (i, peer) in star.hub_peers.iter().enumerate() {
            // As for spokes: a peer that already had everything may not answer our last message.
            prop_assert!(peer.state.sent_hashes.len() <= total, "hub keeps {} for {}", peer.state.sent_hashes.len(), i);
            prop_assert!(peer.nothing_to_send(&heads));
        }
    }
}
