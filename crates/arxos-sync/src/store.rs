//! The client's sync sidecar `<plan>.sync.json`: per relay, the Automerge sync state and
//! acknowledged heads, plus refused changes and the last invite. (The plan itself is an
//! `arxos_doc::file::PlanFile`, shared with every other program that writes it.)
//!
//! The sidecar holds an invite code, a secret: it is created private (0600) from the start
//! and written atomically (temp file, fsync, rename). Pending changes are not stored
//! separately: they are the plan's changes that are not ancestors of the acknowledged heads,
//! so they survive any restart.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use arxos_doc::Document;
use automerge::ChangeHash;
use serde::{Deserialize, Serialize};

/// Errors reading or writing local files.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// I/O failure.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The sidecar is not valid JSON for this version.
    #[error("{path} is corrupt: {reason}")]
    BadMeta {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

/// What we remember about syncing with one relay room.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct RelayState {
    /// `automerge::sync::State::encode()`, hex.
    #[serde(default)]
    pub sync_state: String,
    /// Heads the relay acknowledged (durably stored), hex.
    #[serde(default)]
    pub acked_heads: Vec<String>,
    /// Unix seconds of the last completed sync.
    #[serde(default)]
    pub last_sync: Option<u64>,
}

impl RelayState {
    /// [`RelayState::acked_heads`] as change hashes (unparseable entries are skipped).
    pub fn acked(&self) -> Vec<ChangeHash> {
        self.acked_heads
            .iter()
            .filter_map(|h| h.parse().ok())
            .collect()
    }
}

/// A change the relay refused.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct RefusedRecord {
    /// Why.
    pub reason: String,
    /// Unix seconds when reported.
    pub at: u64,
}

/// The sidecar contents.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct SyncMeta {
    /// The invite code used last (remembered for `arxos sync FILE`).
    #[serde(default)]
    pub invite: Option<String>,
    /// Per relay room (`<relay>#<document id>`).
    #[serde(default)]
    pub relays: BTreeMap<String, RelayState>,
    /// Refused changes by hash (hex).
    #[serde(default)]
    pub refused: BTreeMap<String, RefusedRecord>,
}

impl SyncMeta {
    /// Refused hashes as change hashes (unparseable entries are skipped).
    pub fn refused_hashes(&self) -> Vec<ChangeHash> {
        self.refused.keys().filter_map(|h| h.parse().ok()).collect()
    }
}

/// The key of a relay room in [`SyncMeta::relays`].
pub fn relay_key(relay: &str, doc: crate::DocumentId) -> String {
    format!("{relay}#{doc}")
}

/// Where a document and its sync sidecar live.
#[derive(Clone, Debug)]
pub struct LocalStore {
    doc_path: PathBuf,
    meta_path: PathBuf,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Creates (truncating) a file only its owner can read: it holds a secret.
fn create_private(path: &Path) -> std::io::Result<File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let file = options.open(path)?;
    #[cfg(unix)]
    {
        // A temp file left by an older version may exist with wider permissions.
        use std::os::unix::fs::PermissionsExt as _;
        file.set_permissions(fs::Permissions::from_mode(0o600))?;
    }
    Ok(file)
}

/// Writes `bytes` to `path` atomically (private temp file, fsync, rename, fsync folder).
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(".tmp");
    let tmp = PathBuf::from(tmp_name);
    {
        let mut f = create_private(&tmp).map_err(io(&tmp))?;
        f.write_all(bytes).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
    }
    fs::rename(&tmp, path).map_err(io(path))?;
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."));
    File::open(parent)
        .and_then(|d| d.sync_all())
        .map_err(io(parent))
}

impl LocalStore {
    /// A document file with its sidecar `<file>.sync.json` next to it.
    pub fn beside(doc_path: &Path) -> Self {
        let mut meta = doc_path.as_os_str().to_owned();
        meta.push(".sync.json");
        Self {
            doc_path: doc_path.to_owned(),
            meta_path: PathBuf::from(meta),
        }
    }

    /// The document file.
    pub fn doc_path(&self) -> &Path {
        &self.doc_path
    }

    /// The sidecar file.
    pub fn meta_path(&self) -> &Path {
        &self.meta_path
    }

    /// Loads the sidecar (default when missing).
    pub fn load_meta(&self) -> Result<SyncMeta, StoreError> {
        match fs::read(&self.meta_path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| StoreError::BadMeta {
                path: self.meta_path.display().to_string(),
                reason: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(SyncMeta::default()),
            Err(e) => Err(io(&self.meta_path)(e)),
        }
    }

    /// Saves the sidecar atomically.
    pub fn save_meta(&self, meta: &SyncMeta) -> Result<(), StoreError> {
        let json = serde_json::to_vec_pretty(meta).map_err(|e| StoreError::BadMeta {
            path: self.meta_path.display().to_string(),
            reason: e.to_string(),
        })?;
        write_atomic(&self.meta_path, &json)
    }
}

/// Changes in `doc` that are not ancestors of `acked` and not refused: the pending ones.
pub fn pending_changes(doc: &mut Document, acked: &[ChangeHash], refused: &[ChangeHash]) -> usize {
    doc.changes_after(acked)
        .iter()
        .filter(|h| !refused.contains(h))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_round_trips_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::beside(&dir.path().join("plan.arx"));
        assert_eq!(store.load_meta().unwrap(), SyncMeta::default());
        let mut meta = SyncMeta {
            invite: Some("arx1_x".into()),
            ..SyncMeta::default()
        };
        meta.relays.insert(
            "ws://h#d".into(),
            RelayState {
                sync_state: "00".into(),
                acked_heads: vec!["ab".into()],
                last_sync: Some(5),
            },
        );
        store.save_meta(&meta).unwrap();
        assert_eq!(store.load_meta().unwrap(), meta);
        assert!(store.meta_path().ends_with("plan.arx.sync.json"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(store.meta_path())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "the sidecar holds a secret");
        }
    }

    #[test]
    fn pending_counts_unacked_unrefused_changes() {
        use arxos_doc::{Command, EditContext};
        let ctx = EditContext::at("t", 0);
        let mut doc = Document::new_empty("p", &ctx).unwrap();
        let rename = |doc: &mut Document, name: &str| {
            doc.apply(
                &ctx,
                Command::SetMeta {
                    name: Some(name.into()),
                    units: None,
                },
            )
            .unwrap();
        };
        let acked = doc.heads();
        rename(&mut doc, "b");
        let refused = doc.heads();
        rename(&mut doc, "c");
        assert_eq!(pending_changes(&mut doc, &[], &[]), 3);
        assert_eq!(pending_changes(&mut doc, &acked, &[]), 2);
        assert_eq!(pending_changes(&mut doc, &acked, &refused), 1);
        let unknown: ChangeHash = "00".repeat(32).parse().unwrap();
        assert_eq!(pending_changes(&mut doc, &[unknown], &[]), 3);
    }
}
