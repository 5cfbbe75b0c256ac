//! Durable room storage behind a trait.
//!
//! The contract: when [`DocStorage::append`] returns `Ok`, the changes survive a crash (the
//! file implementation fsyncs before returning). The relay calls it before any peer can learn
//! that it has those changes. [`DocStorage::compact`] replaces the log with one snapshot.
//! The cluster back end ([`crate::cluster`]) implements the same trait on a JetStream stream:
//! its `append` returns once JetStream acknowledged the publish.

pub(crate) mod file;

pub use file::FileStorage;

use arxos_sync::DocumentId;
pub use arxos_sync::admin::Origin;
use serde::{Deserialize, Serialize};

/// Errors from a storage back end.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// An I/O error, with the path involved.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Stored data could not be parsed.
    #[error("corrupt storage at {path}: {reason}")]
    Corrupt {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The room already exists.
    #[error("room {0} already exists")]
    RoomExists(DocumentId),
    /// The cluster's NATS servers did not do what was asked (unreachable, timed out, refused).
    #[error("cluster storage: {what}: {reason}")]
    Cluster {
        /// What the relay was doing.
        what: String,
        /// What went wrong.
        reason: String,
    },
}

/// The end of a sealed log: what [`DocStorage::compact_sealed`] folds into the snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sealed(pub u64);

/// Per-room settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomSettings {
    /// Refuse changes to elements locked by someone else.
    #[serde(default)]
    pub hard_locks: bool,
    /// Unix seconds when the room was created.
    #[serde(default)]
    pub created_at: u64,
}

/// Durable storage of rooms.
pub trait DocStorage: Send + Sync + 'static {
    /// Creates a room; errors if it exists.
    fn create_room(&self, doc: DocumentId, settings: &RoomSettings) -> Result<(), StorageError>;
    /// A room's settings, or `None` when the room does not exist.
    fn room_settings(&self, doc: DocumentId) -> Result<Option<RoomSettings>, StorageError>;
    /// All rooms.
    fn list_rooms(&self) -> Result<Vec<DocumentId>, StorageError>;
    /// Everything stored for a room, as chunks to feed to `Automerge::load_incremental` in
    /// order (a snapshot, then appended changes).
    fn load(&self, doc: DocumentId) -> Result<Vec<Vec<u8>>, StorageError>;
    /// Appends changes durably: when this returns `Ok` they survive a crash.
    fn append(&self, doc: DocumentId, changes: &[Vec<u8>]) -> Result<(), StorageError>;
    /// Replaces everything stored for the room by `snapshot` (a full `save()`), durably.
    fn compact(&self, doc: DocumentId, snapshot: &[u8]) -> Result<(), StorageError>;
    /// Closes the log appended so far: later appends start a new segment. Call only while no
    /// append for the room is in flight; pass the result to [`Self::compact_sealed`].
    fn seal(&self, doc: DocumentId) -> Result<Sealed, StorageError>;
    /// Folds the stored snapshot and the segments up to `sealed` into a new snapshot and
    /// drops them, durably, while appends go on in later segments: compaction off the room's
    /// task, with no copy of its document. At most one per room at a time.
    fn compact_sealed(&self, doc: DocumentId, sealed: Sealed) -> Result<(), StorageError>;
    /// Remembers refused changes (hash hex, reason) so they stay refused after a restart.
    fn record_refused(
        &self,
        doc: DocumentId,
        refused: &[(String, String)],
    ) -> Result<(), StorageError>;
    /// The refused changes recorded for the room.
    fn load_refused(&self, doc: DocumentId) -> Result<Vec<(String, String)>, StorageError>;
    /// Durably records the invites accepted changes came through; called before the changes
    /// are appended, so that every acknowledged change has its origin.
    fn record_origins(&self, doc: DocumentId, origins: &[Origin]) -> Result<(), StorageError>;
    /// Every origin recorded for the room, oldest first.
    fn load_origins(&self, doc: DocumentId) -> Result<Vec<Origin>, StorageError>;
}

/// Origins as JSON lines.
pub(crate) fn origins_text(origins: &[Origin]) -> String {
    let mut text = String::new();
    for origin in origins {
        // Serialising a struct of strings and numbers into a string cannot fail.
        if let Ok(line) = serde_json::to_string(origin) {
            text.push_str(&line);
            text.push('\n');
        }
    }
    text
}

/// Reads JSON lines of origins. A line that does not parse (the torn end of an interrupted
/// append) is skipped with a warning: its change was not acknowledged, since origins are
/// recorded before the changes.
pub(crate) fn parse_origins(text: &str, source: &str) -> Vec<Origin> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| match serde_json::from_str(l) {
            Ok(origin) => Some(origin),
            Err(err) => {
                tracing::warn!(%source, %err, "skipping an unreadable origin record");
                None
            }
        })
        .collect()
}
