//! What the engine tells its users: the connection state and status, the events, the errors.

use std::time::Duration;

use arxos_doc::{ChangeSet, DocError};

use super::ChangeOrigin;
use crate::protocol::payload::{LockEntry, PresenceEntry, RefusedChange};
use crate::store::StoreError;

/// Connection state shown to the user.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnectionState {
    /// Not connected (connecting, waiting to retry, or the invite was rejected).
    #[default]
    Offline,
    /// Connected; changes are still flowing.
    Syncing,
    /// Connected and in sync: nothing pending, nothing missing.
    Connected,
    /// In sync, but the document holds unresolved conflicts.
    Conflict,
}

/// A snapshot of the engine's state.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct SyncStatus {
    /// Connection state.
    pub state: ConnectionState,
    /// Local changes the relay has not acknowledged (refused ones excluded).
    pub pending: usize,
    /// Changes the relay refused.
    pub refused: usize,
    /// Open conflicts (what `arxos conflicts list` shows).
    pub conflicts: usize,
    /// Changes sent to the relay in this run.
    pub sent_changes: usize,
    /// Changes received from the relay in this run.
    pub received_changes: usize,
    /// Unix seconds of the last time we were in sync.
    pub last_sync: Option<u64>,
    /// The last connection error.
    pub last_error: Option<String>,
    /// The relay refused the invite (bad, expired or revoked): the engine stopped retrying.
    pub rejected: bool,
    /// Auto-sync is paused (`arxos sync pause`): offline on purpose, edits queue.
    pub paused: bool,
    /// The relay's base address.
    pub relay: String,
    /// Our role in the room, as the relay said when we joined (`None` before that, or for a
    /// plan that is not shared).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<crate::invite::Role>,
    /// Our write grant, when the invite narrows it to floors or layers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grant: Option<crate::invite::Grant>,
    /// The relay's last measured round-trip time, in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtt_ms: Option<u64>,
}

/// Something that happened, for UIs and `arxos watch`.
#[derive(Clone, Debug)]
pub enum ClientEvent {
    /// The state changed.
    Status(SyncStatus),
    /// The plan changed: by a local command, by the relay, or by another program writing
    /// the file. The read model is already up to date when this arrives.
    Changed {
        /// Where the change came from.
        origin: ChangeOrigin,
        /// What it changed (with the authors of the changes).
        changes: ChangeSet,
        /// How many Automerge changes arrived (0 for a local command).
        count: usize,
    },
    /// Presence of other peers changed.
    Presence {
        /// Changed entries.
        entries: Vec<PresenceEntry>,
        /// Peers that left.
        gone: Vec<String>,
    },
    /// The lock table.
    Locks {
        /// All leases.
        locks: Vec<LockEntry>,
        /// Hard mode.
        hard: bool,
    },
    /// Leases granted to us.
    LockGranted(Vec<String>),
    /// Lease requests denied.
    LockDenied(Vec<LockEntry>),
    /// The relay refused some of our changes.
    Refused(Vec<RefusedChange>),
    /// The room holds another plan than our file: nothing was sent, and the engine stopped.
    WrongPlan {
        /// Our plan's id.
        ours: String,
        /// The room's.
        room: String,
    },
}

/// Errors of the client engine.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Local files.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The plan (file or command).
    #[error(transparent)]
    Doc(#[from] DocError),
    /// The engine thread could not start.
    #[error("cannot start the sync thread: {0}")]
    Thread(std::io::Error),
    /// The engine has stopped.
    #[error("the sync engine has stopped")]
    Closed,
    /// The command queue is full (back-pressure); retry later.
    #[error("the sync engine is busy")]
    Busy,
    /// Timed out.
    #[error("timed out after {0:?} ({1})")]
    Timeout(Duration, String),
    /// The session cannot go on: the relay refused the invite (bad, expired or revoked), or
    /// the room holds another plan. The text says which.
    #[error("{0}")]
    Rejected(String),
    /// The relay refused some of our changes (listed in the sidecar; nothing is deleted).
    #[error("the relay refused {count} change(s): {reasons} ({what})")]
    Refused {
        /// How many.
        count: usize,
        /// Why, each reason once.
        reasons: String,
        /// What became of them.
        what: String,
    },
    /// An invite code or argument problem.
    #[error("{0}")]
    Invalid(String),
    /// An admin request failed.
    #[error("admin request failed: {0}")]
    Admin(String),
}
