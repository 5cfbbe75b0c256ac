//! The `.arx` file: Automerge's binary format, saved so that a crash or a full disk can never
//! leave a damaged plan behind.
//!
//! - A full save writes a temporary file beside the target, fsyncs it, keeps the previous good
//!   file as `<name>.bak` (a hard link, so no copy), renames the new file over the old one and
//!   fsyncs the directory.
//! - An incremental save appends only the changes made since the last save (Automerge change
//!   chunks, each with its own checksum) and fsyncs. When the appended tail would grow beyond a
//!   small share of the compacted body, the save is a full one instead.
//! - Loading checks the magic bytes (foreign file), decodes (corrupt file) and checks the
//!   schema (an Automerge document that is not a plan), and every error names the file.
//! - A torn tail (power lost in the middle of an append) is not an unreadable plan: the
//!   complete chunks load, [`PlanFile::torn_tail`] reports the torn one, and the next write
//!   cuts it off under the exclusive lock before appending ([`tail`]).

mod digest;
mod tail;

pub use digest::{FileDigest, content_digest};
pub use tail::TornTail;

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use automerge::{AutoCommit, ChangeHash};

use crate::document::{ChangeSet, Document};
use crate::error::{DocError, Result};
use tail::{MAGIC, Scan};

/// How a save was done.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum SaveKind {
    /// Nothing had changed since the last save.
    Unchanged,
    /// Changes appended to the existing file.
    Incremental,
    /// The whole document rewritten (compacted) atomically.
    Full,
}

/// A plan bound to its file, remembering what of the file it has read and written, so that
/// several processes (the editor, a `join`, CLI commands) can share one `.arx` without losing
/// each other's changes: every write takes an exclusive advisory lock on the file, first merges
/// what others appended or compacted since, then appends its own changes.
#[derive(Debug)]
pub struct PlanFile {
    path: PathBuf,
    /// Heads of everything known to be in the file.
    saved_heads: Vec<ChangeHash>,
    /// Size of the compacted body at the start of the file.
    body_len: u64,
    /// Bytes appended after the body.
    tail_len: u64,
    /// What the file looked like when we last read or wrote it.
    stamp: Option<FileStamp>,
    /// A torn final chunk seen in the file as `stamp` describes it, not yet cut off.
    torn: Option<TornTail>,
}

/// Enough of a file's metadata to tell that someone else wrote it: an append grows it, a
/// compaction replaces it (a new inode).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FileStamp {
    len: u64,
    ino: u64,
    dev: u64,
    modified: Option<std::time::SystemTime>,
}

impl FileStamp {
    fn of(meta: &fs::Metadata) -> Self {
        #[cfg(unix)]
        let (ino, dev) = {
            use std::os::unix::fs::MetadataExt as _;
            (meta.ino(), meta.dev())
        };
        #[cfg(not(unix))]
        let (ino, dev) = (0, 0);
        Self {
            len: meta.len(),
            ino,
            dev,
            modified: meta.modified().ok(),
        }
    }

    fn same_file(&self, other: &Self) -> bool {
        self.ino == other.ino && self.dev == other.dev
    }
}

/// The appended tail is kept below this share of the compacted body (1/32): opening a file
/// replays the tail op by op into the loaded body, at a cost per op that grows with the plan,
/// while the body loads in one pass. A whole-plan edit is therefore saved compacted, and a
/// run of small edits is folded in before it slows opening noticeably.
const TAIL_SHARE: u64 = 32;
/// ... but small plans, which replay fast anyway, still append their edits.
const TAIL_FLOOR: u64 = 16 * 1024;

/// How many times a writer retries when the file it locked was replaced meanwhile.
const LOCK_ATTEMPTS: usize = 64;

/// An open plan file holding an advisory lock (shared for reading, exclusive for writing);
/// the lock is released when this is dropped. It is always the file currently at the path:
/// a lock taken on a file that a compaction replaced meanwhile is dropped and taken again.
struct Locked {
    file: File,
    stamp: FileStamp,
}

impl Locked {
    fn open(path: &Path, exclusive: bool) -> Result<Self> {
        for _ in 0..LOCK_ATTEMPTS {
            let file = OpenOptions::new()
                .read(true)
                .append(exclusive)
                .open(path)
                .map_err(|e| DocError::io(path, e))?;
            if exclusive {
                file.lock()
            } else {
                file.lock_shared()
            }
            .map_err(|e| DocError::io(path, e))?;
            let held = FileStamp::of(&file.metadata().map_err(|e| DocError::io(path, e))?);
            match fs::metadata(path) {
                Ok(now) if FileStamp::of(&now).same_file(&held) => {
                    return Ok(Self { file, stamp: held });
                }
                // Replaced (compacted) while we waited for the lock: lock the new file.
                Ok(_) => {}
                Err(e) => return Err(DocError::io(path, e)),
            }
        }
        Err(DocError::io(
            path,
            std::io::Error::other("the file keeps being replaced; cannot lock it"),
        ))
    }

    fn read_from(&mut self, path: &Path, offset: u64) -> Result<Vec<u8>> {
        use std::io::{Read as _, Seek as _, SeekFrom};
        let mut bytes = Vec::new();
        self.file
            .seek(SeekFrom::Start(offset))
            .and_then(|_| self.file.read_to_end(&mut bytes))
            .map_err(|e| DocError::io(path, e))?;
        Ok(bytes)
    }
}

/// The backup path kept beside `path`.
pub fn backup_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".bak");
    path.with_file_name(name)
}

/// State that belongs to one replica (one file on one machine), not to the shared document:
/// kept beside the plan as `<name>.replica.json`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReplicaState {
    /// Our heads before the last merge: changes within them are "local" in conflict views.
    #[serde(default)]
    pub local_heads: Vec<String>,
}

impl ReplicaState {
    /// The local heads, parsed (unparseable entries are dropped).
    pub fn heads(&self) -> Vec<ChangeHash> {
        self.local_heads
            .iter()
            .filter_map(|h| h.parse().ok())
            .collect()
    }
}

/// Where a plan's replica state lives.
pub fn replica_state_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".replica.json");
    path.with_file_name(name)
}

/// Reads the replica state of `path`, if there is one.
pub fn load_replica_state(path: &Path) -> Result<Option<ReplicaState>> {
    let p = replica_state_path(path);
    match fs::read(&p) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| DocError::CorruptFile {
                path: p,
                reason: e.to_string(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(DocError::io(p, e)),
    }
}

/// Writes the replica state of `path` atomically.
pub fn save_replica_state(path: &Path, state: &ReplicaState) -> Result<()> {
    let json = serde_json::to_vec_pretty(state).map_err(|e| DocError::CorruptFile {
        path: replica_state_path(path),
        reason: e.to_string(),
    })?;
    write_atomic(&replica_state_path(path), &json, false)
}

/// Reads and decodes a plan from `path`.
pub fn load(path: &Path) -> Result<Document> {
    PlanFile::open(path).map(|(_, d)| d)
}

/// Decodes bytes read from `path` (the path is only used in error messages). A torn tail is
/// left out with a warning; [`PlanFile::open`] also reports it.
pub fn decode(path: &Path, bytes: &[u8]) -> Result<Document> {
    decode_complete(path, bytes).map(|(doc, _)| doc)
}

fn corrupt(path: &Path, reason: &str) -> DocError {
    let bak = backup_path(path);
    DocError::CorruptFile {
        path: path.to_owned(),
        reason: if bak.exists() {
            format!("{reason} (the previous good copy is {})", bak.display())
        } else {
            reason.to_owned()
        },
    }
}

/// Decodes the complete chunks of `bytes`, and says where a torn final chunk begins.
fn decode_complete(path: &Path, bytes: &[u8]) -> Result<(Document, Option<TornTail>)> {
    if bytes.len() < MAGIC.len() || bytes[..MAGIC.len()] != MAGIC {
        return Err(DocError::ForeignFile {
            path: path.to_owned(),
        });
    }
    let torn = match tail::scan(bytes, 0) {
        Scan::Complete => None,
        Scan::Torn(t) if t.offset > 0 => Some(t),
        Scan::Torn(_) => return Err(corrupt(path, "the file holds no complete chunk")),
        Scan::Corrupt { offset, reason } => {
            return Err(corrupt(path, &format!("at byte {offset}: {reason}")));
        }
    };
    let complete = torn.map_or(bytes, |t| &bytes[..t.offset as usize]);
    let am = AutoCommit::load(complete).map_err(|e| corrupt(path, &e.to_string()))?;
    if let Some(t) = torn {
        tracing::warn!(
            path = %path.display(),
            offset = t.offset,
            ignored_bytes = t.ignored_bytes,
            "the file ends in a torn change (an interrupted save); it is left out and cut off at the next save"
        );
    }
    let doc = Document::from_automerge(am).map_err(|e| match e {
        DocError::NotAPlan { reason, .. } => DocError::NotAPlan {
            path: path.to_owned(),
            reason,
        },
        other => other,
    })?;
    Ok((doc, torn))
}

impl PlanFile {
    /// Opens an existing plan file (reading it under a shared lock, so a writer's append is
    /// never seen half-done).
    pub fn open(path: &Path) -> Result<(Self, Document)> {
        let (bytes, stamp) = {
            let mut locked = Locked::open(path, false)?;
            (locked.read_from(path, 0)?, locked.stamp)
        };
        let (mut doc, torn) = decode_complete(path, &bytes)?;
        let stamp = FileStamp {
            len: bytes.len() as u64,
            ..stamp
        };
        let file = Self {
            path: path.to_owned(),
            saved_heads: doc.heads(),
            body_len: torn.map_or(bytes.len() as u64, |t| t.offset),
            tail_len: 0,
            stamp: Some(stamp),
            torn,
        };
        Ok((file, doc))
    }

    /// Writes `doc` to a new (or replaced) file at `path`.
    pub fn create(path: &Path, doc: &mut Document) -> Result<Self> {
        let mut file = Self {
            path: path.to_owned(),
            saved_heads: Vec::new(),
            body_len: 0,
            tail_len: 0,
            stamp: None,
            torn: None,
        };
        file.save_full(doc)?;
        Ok(file)
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The torn final chunk (an interrupted save) this handle found in the file and left out,
    /// until the next write cuts it off.
    pub fn torn_tail(&self) -> Option<TornTail> {
        self.torn
    }

    /// Whether the file on disk differs from what this handle last read or wrote (someone else
    /// appended to it or compacted it). A cheap `stat`: call it often.
    pub fn changed_on_disk(&self) -> bool {
        match (fs::metadata(&self.path), &self.stamp) {
            (Ok(meta), Some(stamp)) => FileStamp::of(&meta) != *stamp,
            (Ok(_), None) => true,
            (Err(_), _) => false,
        }
    }

    /// Saves what changed: appends when the tail is still small, compacts otherwise. Changes
    /// other writers put in the file meanwhile are merged into `doc` first.
    pub fn save(&mut self, doc: &mut Document) -> Result<SaveKind> {
        self.sync(doc).map(|(kind, _)| kind)
    }

    /// Brings file and document together under the file's exclusive lock: merges into `doc`
    /// whatever other writers appended or compacted since we last looked, then writes what
    /// the file lacks of `doc`. Returns how the file was written and what the merge changed.
    pub fn sync(&mut self, doc: &mut Document) -> Result<(SaveKind, ChangeSet)> {
        if self.stamp.is_none() {
            // Never written (a replica filled by sync): the first write is a full save.
            self.save_full(doc)?;
            return Ok((SaveKind::Full, ChangeSet::default()));
        }
        // What we have that the file (as far as we know it) lacks, before others' changes
        // arrive and would be written back a second time.
        let ours = if doc.heads() == self.saved_heads {
            Vec::new()
        } else {
            doc.am.save_after(&self.saved_heads)
        };
        let mut locked = Locked::open(&self.path, true)?;
        let merged = self.read_others(doc, &mut locked)?;
        self.cut_torn_tail(&mut locked)?;
        if ours.is_empty() {
            self.saved_heads = doc.heads();
            return Ok((SaveKind::Unchanged, merged));
        }
        let tail_limit = (self.body_len / TAIL_SHARE).max(TAIL_FLOOR);
        if self.body_len == 0 || self.tail_len + ours.len() as u64 > tail_limit {
            let bytes = doc.save();
            write_atomic(&self.path, &bytes, true)?;
            self.after_full_write(doc, bytes.len() as u64);
            return Ok((SaveKind::Full, merged));
        }
        locked
            .file
            .write_all(&ours)
            .and_then(|()| locked.file.sync_data())
            .map_err(|e| DocError::io(&self.path, e))?;
        self.tail_len += ours.len() as u64;
        self.saved_heads = doc.heads();
        self.stamp = locked.file.metadata().ok().map(|m| FileStamp::of(&m));
        tracing::debug!(path = %self.path.display(), bytes = ours.len(), "appended changes");
        Ok((SaveKind::Incremental, merged))
    }

    /// Merges what other writers put in the file since we last looked, without writing.
    pub fn refresh(&mut self, doc: &mut Document) -> Result<ChangeSet> {
        if self.stamp.is_none() || !self.changed_on_disk() {
            return Ok(ChangeSet::default());
        }
        if doc.heads() != self.saved_heads {
            // With changes of our own unsaved, merging alone would leave us unable to tell
            // ours from theirs at the next save: write ours in the same step.
            return self.sync(doc).map(|(_, merged)| merged);
        }
        let mut locked = Locked::open(&self.path, false)?;
        let merged = self.read_others(doc, &mut locked)?;
        self.saved_heads = doc.heads();
        Ok(merged)
    }

    /// Reads what changed in the locked file since our last look into `doc`.
    fn read_others(&mut self, doc: &mut Document, locked: &mut Locked) -> Result<ChangeSet> {
        let Some(known) = self.stamp else {
            return Ok(ChangeSet::default());
        };
        let now = locked.stamp;
        if now == known {
            return Ok(ChangeSet::default());
        }
        let appended = now.same_file(&known) && now.len >= known.len;
        // Complete chunks end where a torn tail began: whatever replaced it starts there.
        let from = if appended {
            self.torn.map_or(known.len, |t| t.offset)
        } else {
            0
        };
        let bytes = locked.read_from(&self.path, from)?;
        let unreadable = |e: &dyn std::fmt::Display| DocError::CorruptFile {
            path: self.path.clone(),
            reason: format!("changes written by another program could not be read: {e}"),
        };
        self.torn = match tail::scan(&bytes, from) {
            Scan::Complete => None,
            Scan::Torn(t) => Some(t),
            Scan::Corrupt { offset, reason } => {
                return Err(unreadable(&format!("at byte {offset}: {reason}")));
            }
        };
        let complete = self
            .torn
            .map_or(&bytes[..], |t| &bytes[..(t.offset - from) as usize]);
        let merged = if complete.is_empty() {
            ChangeSet::default()
        } else {
            doc.load_incremental(complete).map_err(|e| unreadable(&e))?
        };
        if appended {
            self.tail_len += complete.len() as u64;
        } else {
            // Someone compacted the file: it is all body now.
            self.body_len = complete.len() as u64;
            self.tail_len = 0;
        }
        self.stamp = Some(FileStamp {
            len: from + bytes.len() as u64,
            ..now
        });
        if !merged.is_empty() {
            tracing::debug!(path = %self.path.display(), "merged changes another program wrote");
        }
        Ok(merged)
    }

    /// Rewrites the whole file atomically, keeping the previous one as a backup. Changes other
    /// writers put in the file meanwhile are merged into `doc` first, so none is lost.
    pub fn save_full(&mut self, doc: &mut Document) -> Result<()> {
        let locked = if self.stamp.is_some() && self.path.exists() {
            let mut locked = Locked::open(&self.path, true)?;
            self.read_others(doc, &mut locked)?;
            Some(locked)
        } else {
            None
        };
        let bytes = doc.save();
        write_atomic(&self.path, &bytes, true)?;
        drop(locked);
        self.after_full_write(doc, bytes.len() as u64);
        Ok(())
    }

    /// Cuts a torn final chunk off the file this handle holds exclusively, so appends follow
    /// the complete chunks again.
    fn cut_torn_tail(&mut self, locked: &mut Locked) -> Result<()> {
        let Some(t) = self.torn else {
            return Ok(());
        };
        locked
            .file
            .set_len(t.offset)
            .and_then(|()| locked.file.sync_data())
            .map_err(|e| DocError::io(&self.path, e))?;
        tracing::warn!(
            path = %self.path.display(),
            offset = t.offset,
            bytes = t.ignored_bytes,
            "cut off the torn end of the file"
        );
        self.torn = None;
        let meta = locked
            .file
            .metadata()
            .map_err(|e| DocError::io(&self.path, e))?;
        self.stamp = Some(FileStamp::of(&meta));
        Ok(())
    }

    fn after_full_write(&mut self, doc: &mut Document, len: u64) {
        self.torn = None;
        self.body_len = len;
        self.tail_len = 0;
        self.saved_heads = doc.heads();
        self.stamp = fs::metadata(&self.path).ok().map(|m| FileStamp::of(&m));
    }
}

/// Writes `bytes` to `path` atomically: temp file + fsync + (optionally) a backup of the old
/// file + rename + directory fsync. On any failure the old file is untouched.
pub fn write_atomic(path: &Path, bytes: &[u8], keep_backup_copy: bool) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    // Temp files are private (0600); the saved file should look like any other file the user
    // makes, or keep the permissions the old one had.
    let perms = fs::metadata(path)
        .map(|m| m.permissions())
        .ok()
        .or_else(default_permissions);
    let mut builder = tempfile::Builder::new();
    builder.prefix(".arxos-save-");
    if let Some(p) = perms {
        builder.permissions(p);
    }
    let mut tmp = builder
        .tempfile_in(&dir)
        .map_err(|e| DocError::io(&dir, e))?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| DocError::io(tmp.path(), e))?;
    if keep_backup_copy && path.exists() {
        keep_backup(path)?;
    }
    tmp.persist(path).map_err(|e| DocError::io(path, e.error))?;
    if let Ok(d) = File::open(&dir) {
        // Makes the rename itself durable; not every platform allows fsync on a directory.
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(unix)]
#[allow(clippy::unnecessary_wraps)] // the non-unix twin has nothing to say
fn default_permissions() -> Option<fs::Permissions> {
    use std::os::unix::fs::PermissionsExt as _;
    Some(fs::Permissions::from_mode(0o644))
}

#[cfg(not(unix))]
fn default_permissions() -> Option<fs::Permissions> {
    None
}

fn keep_backup(path: &Path) -> Result<()> {
    let bak = backup_path(path);
    let staging = bak.with_extension("bak.tmp");
    let _ = fs::remove_file(&staging);
    if fs::hard_link(path, &staging).is_err() {
        fs::copy(path, &staging).map_err(|e| DocError::io(&staging, e))?;
    }
    fs::rename(&staging, &bak).map_err(|e| DocError::io(&bak, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Command, EditContext};

    #[test]
    fn foreign_and_corrupt_files_are_refused_with_their_name() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.arx");
        fs::write(&p, b"hello world").unwrap();
        let e = load(&p).unwrap_err().to_string();
        assert!(
            e.contains("x.arx") && e.contains("not an Arxos document"),
            "{e}"
        );

        let mut doc = Document::new_plan("t", &EditContext::at("a", 0)).unwrap();
        let mut bytes = doc.save();
        let n = bytes.len();
        bytes[n / 2] ^= 0xff;
        bytes.truncate(n - 3);
        fs::write(&p, &bytes).unwrap();
        let e = load(&p).unwrap_err().to_string();
        assert!(e.contains("x.arx") && e.contains("corrupt"), "{e}");
    }

    #[test]
    fn incremental_saves_append_and_reload() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("plan.arx");
        let ctx = EditContext::at("a", 1000);
        let mut doc = Document::new_plan("t", &ctx).unwrap();
        let mut f = PlanFile::create(&p, &mut doc).unwrap();
        let size0 = fs::metadata(&p).unwrap().len();
        doc.apply(
            &ctx,
            Command::SetMeta {
                name: Some("renamed".into()),
                units: None,
            },
        )
        .unwrap();
        assert_eq!(f.save(&mut doc).unwrap(), SaveKind::Incremental);
        assert!(fs::metadata(&p).unwrap().len() > size0);
        assert_eq!(f.save(&mut doc).unwrap(), SaveKind::Unchanged);
        let back = load(&p).unwrap();
        assert_eq!(back.meta().name, "renamed");
    }

    #[test]
    fn full_save_keeps_a_backup() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("plan.arx");
        let ctx = EditContext::at("a", 1000);
        let mut doc = Document::new_plan("first", &ctx).unwrap();
        let mut f = PlanFile::create(&p, &mut doc).unwrap();
        doc.apply(
            &ctx,
            Command::SetMeta {
                name: Some("second".into()),
                units: None,
            },
        )
        .unwrap();
        f.save_full(&mut doc).unwrap();
        assert_eq!(load(&backup_path(&p)).unwrap().meta().name, "first");
        assert_eq!(load(&p).unwrap().meta().name, "second");
    }

    fn rename(doc: &mut Document, who: &str, name: &str) {
        doc.apply(
            &EditContext::at(who, 1000),
            Command::SetMeta {
                name: Some(name.into()),
                units: None,
            },
        )
        .unwrap();
    }

    fn layer(doc: &mut Document, who: &str, id: &str) -> ChangeSet {
        doc.apply(
            &EditContext::at(who, 1000),
            Command::AddLayer {
                id: crate::LayerId::new(id),
                name: id.into(),
                system: crate::BuildingSystem::Annotation,
                color: "#000000".into(),
                visible: true,
            },
        )
        .unwrap()
    }

    #[test]
    fn two_writers_of_one_file_lose_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("plan.arx");
        let mut first = Document::new_plan("t", &EditContext::at("a", 0)).unwrap();
        PlanFile::create(&p, &mut first).unwrap();
        let (mut fa, mut a) = PlanFile::open(&p).unwrap();
        let (mut fb, mut b) = PlanFile::open(&p).unwrap();

        layer(&mut a, "a", "from-a");
        assert_eq!(fa.save(&mut a).unwrap(), SaveKind::Incremental);
        assert!(fb.changed_on_disk(), "b sees that someone appended");
        // b edits without having read a's append: its save merges a's change first.
        layer(&mut b, "b", "from-b");
        let (kind, merged) = fb.sync(&mut b).unwrap();
        assert_eq!(kind, SaveKind::Incremental);
        assert!(merged.layers, "a's layer arrived in b: {merged:?}");
        assert!(b.layers().contains_key(&crate::LayerId::new("from-a")));
        // a picks up b's change without writing.
        let merged = fa.refresh(&mut a).unwrap();
        assert!(merged.layers);
        assert!(!fa.changed_on_disk());
        let back = load(&p).unwrap();
        for id in ["from-a", "from-b"] {
            assert!(back.layers().contains_key(&crate::LayerId::new(id)), "{id}");
        }
        // Nothing was written twice: the file holds each change once.
        let mut a_heads = a.heads();
        let mut back = back;
        let mut back_heads = back.heads();
        a_heads.sort();
        back_heads.sort();
        assert_eq!(a_heads, back_heads);
    }

    #[test]
    fn a_compaction_by_one_writer_keeps_the_others_appends() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("plan.arx");
        let mut first = Document::new_plan("t", &EditContext::at("a", 0)).unwrap();
        PlanFile::create(&p, &mut first).unwrap();
        let (mut fa, mut a) = PlanFile::open(&p).unwrap();
        let (mut fb, mut b) = PlanFile::open(&p).unwrap();
        layer(&mut b, "b", "appended-by-b");
        fb.save(&mut b).unwrap();
        // a compacts without having seen b's append: the rewrite must include it.
        rename(&mut a, "a", "compacted");
        fa.save_full(&mut a).unwrap();
        let back = load(&p).unwrap();
        assert_eq!(back.meta().name, "compacted");
        assert!(
            back.layers()
                .contains_key(&crate::LayerId::new("appended-by-b"))
        );
        // b now appends to the replaced file, after merging the compaction.
        layer(&mut b, "b", "after-compaction");
        let (_, merged) = fb.sync(&mut b).unwrap();
        assert!(merged.meta);
        let back = load(&p).unwrap();
        assert!(
            back.layers()
                .contains_key(&crate::LayerId::new("after-compaction"))
        );
        assert_eq!(back.meta().name, "compacted");
    }

    #[test]
    fn concurrent_writers_in_threads_lose_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("plan.arx");
        let mut first = Document::new_plan("t", &EditContext::at("a", 0)).unwrap();
        PlanFile::create(&p, &mut first).unwrap();
        let writers: Vec<_> = (0..4)
            .map(|w| {
                let p = p.clone();
                std::thread::Builder::new()
                    .name(format!("writer-{w}"))
                    .spawn(move || {
                        let (mut f, mut doc) = PlanFile::open(&p).unwrap();
                        for i in 0..15 {
                            layer(&mut doc, &format!("w{w}"), &format!("w{w}-{i}"));
                            f.save(&mut doc).unwrap();
                        }
                    })
                    .unwrap()
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        let back = load(&p).unwrap();
        for w in 0..4 {
            for i in 0..15 {
                let id = crate::LayerId::new(format!("w{w}-{i}"));
                assert!(back.layers().contains_key(&id), "{id:?} lost");
            }
        }
    }
}
