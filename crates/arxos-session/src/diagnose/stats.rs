//! [`stats()`]: a plan file's syncing in numbers, from the file and its sidecar, and a running
//! session's counters when one is asked.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use arxos_sync::Role;
use arxos_sync::client::{ConnectionState, SyncStatus};
use arxos_sync::store::LocalStore;
use serde::Serialize;

use crate::SessionError;
use crate::status::{acked_heads, remembered_room};

/// A running session's own view of itself (from its [`SyncStatus`]).
#[derive(Clone, Debug, Serialize)]
pub struct LiveStats {
    /// Connection state.
    pub state: ConnectionState,
    /// Changes not yet acknowledged, as the session counts them.
    pub pending: usize,
    /// Changes sent in this run.
    pub sent_changes: usize,
    /// Changes received in this run.
    pub received_changes: usize,
    /// The latest round trip to the relay, in milliseconds.
    pub rtt_ms: Option<u64>,
    /// The last connection error.
    pub last_error: Option<String>,
    /// Our role, as the relay said.
    pub role: Option<Role>,
    /// Auto-sync is paused (`arxos sync pause`).
    pub paused: bool,
}

impl From<&SyncStatus> for LiveStats {
    fn from(s: &SyncStatus) -> Self {
        Self {
            state: s.state,
            pending: s.pending,
            sent_changes: s.sent_changes,
            received_changes: s.received_changes,
            rtt_ms: s.rtt_ms,
            last_error: s.last_error.clone(),
            role: s.role,
            paused: s.paused,
        }
    }
}

/// A plan file's syncing in numbers (`arxos sync stats`).
#[derive(Clone, Debug, Serialize)]
pub struct Stats {
    /// The plan file.
    pub file: String,
    /// Its size in bytes.
    pub plan_bytes: u64,
    /// The sync sidecar's size in bytes (`None`: never synced).
    pub sidecar_bytes: Option<u64>,
    /// Changes in the plan's history.
    pub changes: usize,
    /// Elements (deleted ones excluded).
    pub elements: usize,
    /// Local changes the relay has not acknowledged (refused ones excluded).
    pub pending: usize,
    /// The pending changes by author.
    pub pending_by_author: BTreeMap<String, usize>,
    /// Changes the relay refused.
    pub refused: usize,
    /// The heads the relay acknowledged (hex): everything before them is stored on the relay.
    pub acked_heads: Vec<String>,
    /// Unix seconds of the last completed sync.
    pub last_sync: Option<u64>,
    /// The relay of the remembered invite.
    pub relay: Option<String>,
    /// The room (document id) of the remembered invite.
    pub document: Option<String>,
    /// A running session's counters, when one was asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live: Option<LiveStats>,
}

fn file_size(path: &Path) -> Result<Option<u64>, SessionError> {
    match std::fs::metadata(path) {
        Ok(m) => Ok(Some(m.len())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(SessionError::Invalid(format!("{}: {e}", path.display()))),
    }
}

/// Counts `file`'s syncing from the file and its sidecar, without connecting; `live` is a
/// running session's status, when there is one to ask.
pub fn stats(file: &Path, live: Option<&SyncStatus>) -> Result<Stats, SessionError> {
    let mut doc = arxos_doc::file::load(file)?;
    let store = LocalStore::beside(file);
    let meta = store.load_meta()?;
    let (invite, state) = remembered_room(&meta);
    let acked = acked_heads(state);
    let refused = meta.refused_hashes();
    let pending: BTreeSet<String> = doc
        .changes_after(&acked)
        .into_iter()
        .filter(|h| !refused.contains(h))
        .map(|h| h.to_string())
        .collect();
    let mut pending_by_author = BTreeMap::new();
    if !pending.is_empty() {
        for entry in doc.history() {
            if pending.contains(&entry.hash) {
                *pending_by_author.entry(entry.author).or_insert(0) += 1;
            }
        }
    }
    let doc_stats = doc.stats();
    Ok(Stats {
        file: file.display().to_string(),
        plan_bytes: file_size(file)?.unwrap_or(0),
        sidecar_bytes: file_size(store.meta_path())?,
        changes: doc_stats.changes,
        elements: doc_stats.elements,
        pending: pending.len(),
        pending_by_author,
        refused: meta.refused.len(),
        acked_heads: acked.iter().map(ToString::to_string).collect(),
        last_sync: state.and_then(|s| s.last_sync),
        relay: invite.as_ref().map(|i| i.relay.clone()),
        document: invite.as_ref().map(|i| i.document_id.to_string()),
        live: live.map(LiveStats::from),
    })
}
