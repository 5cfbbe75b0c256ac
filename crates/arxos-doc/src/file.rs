//! The `.arx` file: Automerge's binary format, saved so that a crash or a full disk can never
//! leave a damaged plan behind.
//!
//! - A full save writes a temporary file beside the target, fsyncs it, keeps the previous good
//!   file as `<name>.bak` (a hard link, so no copy), renames the new file over the old one and
//!   fsyncs the directory.
//! - An incremental save appends only the changes made since the last save (Automerge change
//!   chunks, each with its own checksum) and fsyncs. When the appended tail grows beyond the
//!   compacted body, the next save is a full one again.
//! - Loading checks the magic bytes (foreign file), decodes (corrupt file) and checks the
//!   schema (an Automerge document that is not a plan), and every error names the file.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use automerge::{AutoCommit, ChangeHash};

use crate::document::Document;
use crate::error::{DocError, Result};

/// Automerge's file magic.
const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];

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

/// A plan bound to its file, remembering what is already on disk.
#[derive(Debug)]
pub struct PlanFile {
    path: PathBuf,
    saved_heads: Vec<ChangeHash>,
    body_len: u64,
    tail_len: u64,
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

/// Decodes bytes read from `path` (the path is only used in error messages).
pub fn decode(path: &Path, bytes: &[u8]) -> Result<Document> {
    if bytes.len() < MAGIC.len() || bytes[..MAGIC.len()] != MAGIC {
        return Err(DocError::ForeignFile {
            path: path.to_owned(),
        });
    }
    let am = AutoCommit::load(bytes).map_err(|e| DocError::CorruptFile {
        path: path.to_owned(),
        reason: {
            let bak = backup_path(path);
            if bak.exists() {
                format!("{e} (the previous good copy is {})", bak.display())
            } else {
                e.to_string()
            }
        },
    })?;
    Document::from_automerge(am).map_err(|e| match e {
        DocError::NotAPlan { reason, .. } => DocError::NotAPlan {
            path: path.to_owned(),
            reason,
        },
        other => other,
    })
}

impl PlanFile {
    /// Opens an existing plan file.
    pub fn open(path: &Path) -> Result<(Self, Document)> {
        let bytes = fs::read(path).map_err(|e| DocError::io(path, e))?;
        let mut doc = decode(path, &bytes)?;
        let file = Self {
            path: path.to_owned(),
            saved_heads: doc.heads(),
            body_len: bytes.len() as u64,
            tail_len: 0,
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
        };
        file.save_full(doc)?;
        Ok(file)
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Saves what changed: appends when the tail is still small, compacts otherwise.
    pub fn save(&mut self, doc: &mut Document) -> Result<SaveKind> {
        if doc.heads() == self.saved_heads {
            return Ok(SaveKind::Unchanged);
        }
        let tail = doc.am.save_after(&self.saved_heads);
        if self.body_len == 0 || self.tail_len + tail.len() as u64 > self.body_len {
            self.save_full(doc)?;
            return Ok(SaveKind::Full);
        }
        let mut f = OpenOptions::new()
            .append(true)
            .open(&self.path)
            .map_err(|e| DocError::io(&self.path, e))?;
        f.write_all(&tail)
            .and_then(|()| f.sync_data())
            .map_err(|e| DocError::io(&self.path, e))?;
        self.tail_len += tail.len() as u64;
        self.saved_heads = doc.heads();
        tracing::debug!(path = %self.path.display(), bytes = tail.len(), "appended changes");
        Ok(SaveKind::Incremental)
    }

    /// Rewrites the whole file atomically, keeping the previous one as a backup.
    pub fn save_full(&mut self, doc: &mut Document) -> Result<()> {
        let bytes = doc.save();
        write_atomic(&self.path, &bytes, true)?;
        self.body_len = bytes.len() as u64;
        self.tail_len = 0;
        self.saved_heads = doc.heads();
        Ok(())
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
}
