//! The changes a sync message carries. A version-1 message has one change per chunk; a
//! version-2 message (what automerge sends to a peer that advertises it, stock JavaScript
//! clients included) has one chunk holding several changes back to back. Either way, the
//! relay and the clients judge and account for changes one by one, so both shapes are read
//! here, once. A whole document or a bundle in a chunk is not split: the caller takes its
//! careful path (apply to a copy, ask the document).

use automerge::Change;
use automerge::sync::ChunkList;

/// Automerge's storage chunk magic bytes.
const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
/// Storage chunk types that hold one change: plain and DEFLATE-compressed.
const CHANGE: u8 = 1;
const COMPRESSED_CHANGE: u8 = 2;

/// Splits `bytes` into whole storage chunks, each a single change; `None` when anything in it
/// is not a change chunk (a document, a bundle, garbage, a truncated tail).
fn split_changes(mut bytes: &[u8]) -> Option<Vec<&[u8]>> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        // magic (4), checksum (4), type (1), then the body's length as unsigned LEB128.
        let (magic, rest) = bytes.split_first_chunk::<4>()?;
        let (_checksum, rest) = rest.split_first_chunk::<4>()?;
        let (kind, mut rest) = rest.split_first()?;
        if *magic != MAGIC || !matches!(*kind, CHANGE | COMPRESSED_CHANGE) {
            return None;
        }
        let before = rest.len();
        let len = leb128::read::unsigned(&mut rest).ok()?;
        let header = 9 + (before - rest.len());
        let total = header.checked_add(usize::try_from(len).ok()?)?;
        let (chunk, tail) = bytes.split_at_checked(total)?;
        out.push(chunk);
        bytes = tail;
    }
    Some(out)
}

/// The changes in a message's chunks, parsed, each with its bytes; `None` when a chunk holds
/// anything but changes.
pub fn changes_in(chunks: &ChunkList) -> Option<Vec<(Change, Vec<u8>)>> {
    let mut out = Vec::new();
    for chunk in chunks.iter() {
        for bytes in split_changes(chunk)? {
            let change = Change::from_bytes(bytes.to_vec()).ok()?;
            out.push((change, bytes.to_vec()));
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::transaction::{CommitOptions, Transactable};
    use automerge::{AutoCommit, ObjType, ROOT, ReadDoc};

    /// A document with `n` small changes and one large one (automerge compresses it).
    fn changes(n: usize) -> (AutoCommit, Vec<Change>) {
        let mut doc = AutoCommit::new();
        let map = doc.put_object(ROOT, "elements", ObjType::Map).unwrap();
        doc.commit();
        for i in 0..n {
            doc.put(&map, format!("k{i}"), i as i64).unwrap();
            doc.commit_with(CommitOptions::default().with_message(format!("{i}:0")));
        }
        doc.put(&map, "big", "x".repeat(5_000)).unwrap();
        doc.commit();
        let all = doc.get_changes(&[]);
        (doc, all)
    }

    #[test]
    fn one_change_per_chunk_and_changes_back_to_back_read_the_same() {
        let (_doc, all) = changes(5);
        let hashes: Vec<_> = all.iter().map(Change::hash).collect();
        let v1 = ChunkList::from(
            all.iter()
                .map(|c| c.raw_bytes().to_vec())
                .collect::<Vec<_>>(),
        );
        let joined: Vec<u8> = all.iter().flat_map(|c| c.raw_bytes().to_vec()).collect();
        let v2 = ChunkList::from(joined);
        for list in [v1, v2] {
            let read = changes_in(&list).unwrap();
            assert_eq!(
                read.iter().map(|(c, _)| c.hash()).collect::<Vec<_>>(),
                hashes
            );
            for ((_, bytes), change) in read.iter().zip(&all) {
                assert_eq!(bytes.as_slice(), change.raw_bytes());
            }
        }
    }

    #[test]
    fn what_automerge_itself_sends_a_v2_peer_in_sync_is_read_change_by_change() {
        use automerge::sync::{State, SyncDoc};
        // History enough that three new changes are not "a third of the document", for which
        // automerge sends the whole document instead.
        let (mut doc, _) = changes(20);
        let mut peer = AutoCommit::new();
        let (mut ours, mut theirs) = (State::new(), State::new());
        // Sync to the end (a peer with nothing gets a whole document, which is not split).
        for _ in 0..10 {
            let a = doc.sync().generate_sync_message(&mut ours);
            let b = peer.sync().generate_sync_message(&mut theirs);
            if a.is_none() && b.is_none() {
                break;
            }
            if let Some(a) = a {
                peer.sync().receive_sync_message(&mut theirs, a).unwrap();
            }
            if let Some(b) = b {
                doc.sync().receive_sync_message(&mut ours, b).unwrap();
            }
        }
        assert_eq!(doc.get_heads(), peer.get_heads());
        let map = doc.get(ROOT, "elements").unwrap().unwrap().1;
        for i in 0..3 {
            doc.put(&map, format!("new{i}"), 1).unwrap();
            doc.commit();
        }
        let message = doc.sync().generate_sync_message(&mut ours).unwrap();
        assert_eq!(message.changes.len(), 1, "one chunk, as version 2 sends");
        let read = changes_in(&message.changes).unwrap();
        assert_eq!(read.len(), 3);
    }

    #[test]
    fn documents_truncations_and_garbage_are_not_split() {
        let (mut doc, all) = changes(2);
        assert!(changes_in(&ChunkList::from(doc.save())).is_none());
        let mut joined: Vec<u8> = all.iter().flat_map(|c| c.raw_bytes().to_vec()).collect();
        joined.pop();
        assert!(changes_in(&ChunkList::from(joined)).is_none());
        assert!(changes_in(&ChunkList::from(vec![0x85, 0x6f, 0x4a])).is_none());
        assert!(changes_in(&ChunkList::from(b"not automerge at all".to_vec())).is_none());
        // A length that points past the end (or overflows) is refused, not believed.
        let mut lying = MAGIC.to_vec();
        lying.extend([
            0, 0, 0, 0, CHANGE, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
        ]);
        assert!(changes_in(&ChunkList::from(lying)).is_none());
        assert!(changes_in(&ChunkList::empty()).unwrap().is_empty());
    }
}
