//! Finding where the complete Automerge chunks of a `.arx` file end, so that a torn tail (a
//! power loss in the middle of an append) costs only the change being written, never the plan.
//!
//! Every chunk is `magic (4) | checksum (4) | type (1) | uLEB128 data length | data`; the
//! checksum is the first four bytes of SHA-256 over `type | length | data`. Appends only ever
//! add whole chunks at the end, so a damaged region that runs to the end of the file is a torn
//! tail; damage followed by more complete chunks is corruption, and is not papered over.

use sha2::{Digest as _, Sha256};

/// Automerge's chunk magic.
pub(crate) const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];

const CHUNK_DOCUMENT: u8 = 0;
const CHUNK_CHANGE: u8 = 1;
const CHUNK_COMPRESSED: u8 = 2;
const CHUNK_BUNDLE: u8 = 3;

/// A torn final chunk: the file's bytes from `offset` on are not a complete chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TornTail {
    /// Where the complete chunks end (the length the file is cut back to).
    pub offset: u64,
    /// How many bytes after `offset` were ignored.
    pub ignored_bytes: u64,
}

/// How a byte string splits into complete chunks and what follows them.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Scan {
    /// Every byte belongs to a complete chunk.
    Complete,
    /// Complete chunks up to `TornTail::offset`, then a torn one.
    Torn(TornTail),
    /// A damaged chunk at `offset` with more data after it: not a torn append.
    Corrupt { offset: u64, reason: &'static str },
}

/// What one chunk header says.
struct Header {
    kind: u8,
    checksum: [u8; 4],
    /// Bytes of `type | length` (what the checksum covers before the data).
    prefix: std::ops::Range<usize>,
    data: std::ops::Range<usize>,
}

/// Parses the chunk header at the start of `bytes`; `None` when `bytes` ends inside it or the
/// header is malformed (with why).
fn header(bytes: &[u8]) -> Result<Header, Option<&'static str>> {
    if bytes.len() < 9 {
        return Err(if bytes.len() >= 4 && bytes[..4] != MAGIC {
            Some("no chunk magic")
        } else {
            None
        });
    }
    if bytes[..4] != MAGIC {
        return Err(Some("no chunk magic"));
    }
    let checksum = [bytes[4], bytes[5], bytes[6], bytes[7]];
    let kind = bytes[8];
    if !matches!(
        kind,
        CHUNK_DOCUMENT | CHUNK_CHANGE | CHUNK_COMPRESSED | CHUNK_BUNDLE
    ) {
        return Err(Some("unknown chunk type"));
    }
    let mut len: u64 = 0;
    let mut at = 9;
    let mut shift = 0u32;
    loop {
        let Some(&b) = bytes.get(at) else {
            return Err(None);
        };
        at += 1;
        if shift > 63 {
            return Err(Some("chunk length does not fit in 64 bits"));
        }
        len |= u64::from(b & 0x7f) << shift;
        shift += 7;
        if b & 0x80 == 0 {
            break;
        }
    }
    let end = usize::try_from(len)
        .ok()
        .and_then(|l| at.checked_add(l))
        .ok_or(Some("chunk length out of range"))?;
    Ok(Header {
        kind,
        checksum,
        prefix: 8..at,
        data: at..end,
    })
}

/// Whether a complete chunk's checksum holds. Document chunks are left to Automerge, which
/// checks them while loading (hashing a whole compacted plan twice would cost a tenth of the
/// load budget); a compressed change's checksum covers its uncompressed form, which only
/// Automerge can produce.
fn checksum_holds(bytes: &[u8], h: &Header) -> bool {
    if matches!(h.kind, CHUNK_DOCUMENT | CHUNK_COMPRESSED) {
        return true;
    }
    let mut hasher = Sha256::new();
    hasher.update(&bytes[h.prefix.clone()]);
    hasher.update(&bytes[h.data.clone()]);
    let digest = hasher.finalize();
    digest[..4] == h.checksum
}

/// Walks the chunks of `bytes` (which start at a chunk boundary) and says where the complete
/// ones end. `base` is the offset of `bytes` in the file, for the positions reported.
pub(crate) fn scan(bytes: &[u8], base: u64) -> Scan {
    let mut at = 0usize;
    while at < bytes.len() {
        let rest = &bytes[at..];
        let torn = |at: usize| {
            Scan::Torn(TornTail {
                offset: base + at as u64,
                ignored_bytes: (bytes.len() - at) as u64,
            })
        };
        // Power loss can leave a zero-filled extent where the append should have been.
        if rest.iter().all(|&b| b == 0) {
            return torn(at);
        }
        match header(rest) {
            Err(None) => return torn(at),
            Err(Some(reason)) => {
                return Scan::Corrupt {
                    offset: base + at as u64,
                    reason,
                };
            }
            Ok(h) if h.data.end > rest.len() => return torn(at),
            Ok(h) => {
                if !checksum_holds(rest, &h) {
                    if h.data.end == rest.len() {
                        // The last chunk, complete in length but not in content.
                        return torn(at);
                    }
                    return Scan::Corrupt {
                        offset: base + at as u64,
                        reason: "chunk checksum does not match",
                    };
                }
                at += h.data.end;
            }
        }
    }
    Scan::Complete
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::transaction::Transactable as _;

    fn two_changes() -> (Vec<u8>, usize) {
        let mut doc = automerge::AutoCommit::new();
        doc.put(automerge::ROOT, "a", 1_i64).unwrap();
        let mut bytes = doc.save();
        let first = bytes.len();
        doc.put(automerge::ROOT, "b", "two").unwrap();
        bytes.extend(doc.save_incremental());
        (bytes, first)
    }

    #[test]
    fn complete_chunks_scan_complete() {
        let (bytes, _) = two_changes();
        assert_eq!(scan(&bytes, 0), Scan::Complete);
        assert_eq!(scan(&[], 0), Scan::Complete);
    }

    #[test]
    fn every_cut_inside_the_last_chunk_is_a_torn_tail_at_its_start() {
        let (bytes, first) = two_changes();
        for cut in first + 1..bytes.len() {
            assert_eq!(
                scan(&bytes[..cut], 0),
                Scan::Torn(TornTail {
                    offset: first as u64,
                    ignored_bytes: (cut - first) as u64,
                }),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn a_flipped_byte_in_the_last_chunk_is_torn_but_in_the_middle_is_corrupt() {
        let (mut bytes, first) = two_changes();
        let n = bytes.len();
        bytes[n - 1] ^= 0x55;
        assert!(matches!(scan(&bytes, 0), Scan::Torn(t) if t.offset == first as u64));
        // The same damaged change followed by a good one is not a torn append.
        let (good, _) = two_changes();
        let mut more = bytes.clone();
        more.extend_from_slice(&good[first..]);
        assert!(matches!(scan(&more, 0), Scan::Corrupt { offset, .. } if offset == first as u64));
    }

    #[test]
    fn zeros_after_the_chunks_are_a_torn_tail() {
        let (mut bytes, _) = two_changes();
        let n = bytes.len();
        bytes.extend([0u8; 37]);
        assert_eq!(
            scan(&bytes, 100),
            Scan::Torn(TornTail {
                offset: 100 + n as u64,
                ignored_bytes: 37
            })
        );
    }

    /// A plan file whose last chunk is one appended change, and where that chunk starts.
    fn plan_with_an_append(dir: &std::path::Path) -> (std::path::PathBuf, u64, Vec<u8>) {
        use crate::{Command, Document, EditContext};
        let p = dir.join("plan.arx");
        let ctx = EditContext::at("a", 1000);
        let mut doc = Document::new_plan("before", &ctx).unwrap();
        let mut f = crate::file::PlanFile::create(&p, &mut doc).unwrap();
        let body = std::fs::metadata(&p).unwrap().len();
        doc.apply(
            &ctx,
            Command::SetMeta {
                name: Some("after".into()),
                units: None,
            },
        )
        .unwrap();
        assert_eq!(
            f.save(&mut doc).unwrap(),
            crate::file::SaveKind::Incremental
        );
        (p.clone(), body, std::fs::read(&p).unwrap())
    }

    #[test]
    fn a_plan_torn_at_any_byte_of_its_last_chunk_opens_reports_and_heals() {
        use crate::file::{PlanFile, SaveKind, load};
        use crate::{Command, EditContext};
        let dir = tempfile::tempdir().unwrap();
        let (p, body, full) = plan_with_an_append(dir.path());
        for cut in body + 1..full.len() as u64 {
            std::fs::write(&p, &full[..cut as usize]).unwrap();
            let (mut f, mut doc) = PlanFile::open(&p).unwrap();
            assert_eq!(
                f.torn_tail(),
                Some(TornTail {
                    offset: body,
                    ignored_bytes: cut - body
                }),
                "cut at {cut}"
            );
            assert_eq!(doc.meta().name, "before", "the complete chunks load");
            assert!(!f.changed_on_disk(), "nothing changed since we read it");
            // The next write cuts the torn chunk off and appends after the complete ones.
            doc.apply(
                &EditContext::at("b", 2000),
                Command::SetMeta {
                    name: Some("healed".into()),
                    units: None,
                },
            )
            .unwrap();
            assert_eq!(f.save(&mut doc).unwrap(), SaveKind::Incremental);
            assert_eq!(f.torn_tail(), None);
            let bytes = std::fs::read(&p).unwrap();
            assert_eq!(bytes[..body as usize], full[..body as usize], "body kept");
            assert_eq!(scan(&bytes, 0), Scan::Complete, "cut at {cut}");
            let (f2, back) = PlanFile::open(&p).unwrap();
            assert_eq!(f2.torn_tail(), None);
            assert_eq!(back.meta().name, "healed");
            assert_eq!(load(&p).unwrap().meta().name, "healed");
        }
    }

    #[test]
    fn a_second_writer_cuts_the_tail_another_handle_still_knows_as_torn() {
        use crate::file::PlanFile;
        use crate::{Command, EditContext, LayerId};
        let dir = tempfile::tempdir().unwrap();
        let (p, _, full) = plan_with_an_append(dir.path());
        std::fs::write(&p, &full[..full.len() - 1]).unwrap();
        let (mut fa, mut a) = PlanFile::open(&p).unwrap();
        let (mut fb, mut b) = PlanFile::open(&p).unwrap();
        assert!(fa.torn_tail().is_some() && fb.torn_tail().is_some());
        let add = |doc: &mut crate::Document, who: &str, id: &str| {
            doc.apply(
                &EditContext::at(who, 1000),
                Command::AddLayer {
                    id: LayerId::new(id),
                    name: id.into(),
                    system: crate::BuildingSystem::Annotation,
                    color: "#000000".into(),
                    visible: true,
                },
            )
            .unwrap();
        };
        add(&mut b, "b", "from-b");
        fb.save(&mut b).unwrap();
        // a reads b's append from where the complete chunks ended, then writes its own.
        add(&mut a, "a", "from-a");
        let (_, merged) = fa.sync(&mut a).unwrap();
        assert!(merged.layers, "{merged:?}");
        let back = crate::file::load(&p).unwrap();
        for id in ["from-a", "from-b"] {
            assert!(back.layers().contains_key(&LayerId::new(id)), "{id}");
        }
        assert_eq!(scan(&std::fs::read(&p).unwrap(), 0), Scan::Complete);
    }

    #[test]
    fn a_file_without_one_complete_chunk_is_corrupt_not_empty() {
        let dir = tempfile::tempdir().unwrap();
        let (p, body, full) = plan_with_an_append(dir.path());
        std::fs::write(&p, &full[..body as usize - 1]).unwrap();
        let e = crate::file::load(&p).unwrap_err().to_string();
        assert!(e.contains("corrupt") && e.contains("plan.arx"), "{e}");
    }

    #[test]
    fn a_whole_plan_edit_is_saved_compacted_and_small_edits_appended() {
        use crate::file::{PlanFile, SaveKind};
        use crate::generate::{GenerateOptions, generate};
        use crate::{Command, EditContext};
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("plan.arx");
        let ctx = EditContext::at("a", 1000);
        let opts = GenerateOptions {
            elements: 2_000,
            ..GenerateOptions::default()
        };
        let mut doc = generate(&opts, &ctx, |_, _| {}).unwrap();
        let mut f = PlanFile::create(&p, &mut doc).unwrap();
        let one = doc.elements().next().unwrap().id.clone();
        doc.apply(
            &ctx,
            Command::Move {
                ids: vec![one],
                dx: 1.0,
                dy: 0.0,
            },
        )
        .unwrap();
        assert_eq!(f.save(&mut doc).unwrap(), SaveKind::Incremental);
        let all = doc.elements().map(|e| e.id.clone()).collect();
        doc.apply(
            &ctx,
            Command::Move {
                ids: all,
                dx: 1.0,
                dy: 0.0,
            },
        )
        .unwrap();
        // Replaying it at every open would cost far more than loading it compacted.
        assert_eq!(f.save(&mut doc).unwrap(), SaveKind::Full);
        assert_eq!(scan(&std::fs::read(&p).unwrap(), 0), Scan::Complete);
    }
}
