//! The sync status of a plan file at rest (`arxos sync status`, the editor's status bar before
//! it connects): relay, pending and refused changes, last sync, from the file and its sidecar.

use std::path::Path;

use arxos_doc::automerge::ChangeHash;
use arxos_sync::InviteCode;
use arxos_sync::store::{LocalStore, RelayState, SyncMeta, pending_changes, relay_key};

use crate::SessionError;

/// What a plan file's sidecar says about its syncing.
#[derive(Clone, Debug, serde::Serialize)]
pub struct FileStatus {
    /// The relay it last synced with, if any.
    pub relay: Option<String>,
    /// The room (document id), if any.
    pub document: Option<String>,
    /// Local changes the relay has not acknowledged (refused ones excluded).
    pub pending: usize,
    /// Changes the relay refused.
    pub refused: usize,
    /// Unix seconds of the last completed sync.
    pub last_sync: Option<u64>,
}

/// Reads the sync status of `file` without connecting.
pub fn file_status(file: &Path) -> Result<FileStatus, SessionError> {
    let meta = LocalStore::beside(file).load_meta()?;
    let mut doc = arxos_doc::file::load(file)?;
    let (invite, state) = remembered_room(&meta);
    Ok(FileStatus {
        relay: invite.as_ref().map(|i| i.relay.clone()),
        document: invite.as_ref().map(|i| i.document_id.to_string()),
        pending: pending_changes(&mut doc, &acked_heads(state), &meta.refused_hashes()),
        refused: meta.refused.len(),
        last_sync: state.and_then(|s| s.last_sync),
    })
}

/// The invite `meta` remembers (when it decodes), and what the sidecar keeps of its room.
pub(crate) fn remembered_room(meta: &SyncMeta) -> (Option<InviteCode>, Option<&RelayState>) {
    let invite = meta
        .invite
        .as_deref()
        .and_then(|c| InviteCode::parse(c).ok());
    let state = invite
        .as_ref()
        .and_then(|i| meta.relays.get(&relay_key(&i.relay, i.document_id)));
    (invite, state)
}

/// The heads the relay acknowledged, as stored (unparseable entries skipped).
pub(crate) fn acked_heads(state: Option<&RelayState>) -> Vec<ChangeHash> {
    state.map(RelayState::acked).unwrap_or_default()
}
