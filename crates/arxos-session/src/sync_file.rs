//! One plan synced once, as `arxos sync FILE` and each plan of a project sync do it, with the
//! settings applied in one place: `sync.enabled` (nothing is sent when it is off),
//! `sync.relays` (more addresses, tried in order) and `sync.conflict-resolution=auto` (the
//! plan's rules settle what they can after the sync, and the settlement is sent at once).

use std::path::Path;
use std::time::Duration;

use arxos_sync::InviteCode;
use arxos_sync::client::{SyncStatus, SyncSummary, sync_once_via};

use crate::SessionError;
use crate::config::Config;

/// What [`sync_file`] did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct FileSynced {
    /// The sync (sent and received add up both rounds when rules settled conflicts).
    #[serde(flatten)]
    pub summary: SyncSummary,
    /// Conflicts the plan's rules settled after the sync (`sync.conflict-resolution=auto`).
    pub resolved: usize,
}

/// Syncs `path` once through `invite` (or the one its sidecar remembers), as `config` says.
/// `author` signs the settlements of automatic rules.
pub fn sync_file(
    path: &Path,
    invite: Option<InviteCode>,
    config: &Config,
    author: &str,
    timeout: Duration,
    progress: &dyn Fn(&SyncStatus),
) -> Result<FileSynced, SessionError> {
    if !config.sync_enabled() {
        return Err(SessionError::Invalid(
            "sync.enabled is false: nothing was sent (arxos config get sync.enabled says where it is set)"
                .into(),
        ));
    }
    let invite = match invite {
        Some(i) => i,
        None => crate::remembered_invite(path)?,
    };
    let relays = config.relays();
    let mut summary = sync_once_via(invite.clone(), &relays, path, timeout, progress)?;
    let mut resolved = 0;
    if config.conflict_resolution() == "auto" && summary.conflicts > 0 {
        let ctx = arxos_doc::EditContext::now(author);
        resolved = arxos_doc::workflow::auto_resolve_file(path, &ctx)?
            .auto_resolved
            .len();
        if resolved > 0 {
            // The settlement is a new local change: send it now, not at the next sync.
            let again = sync_once_via(invite, &relays, path, timeout, progress)?;
            summary = SyncSummary {
                sent: summary.sent + again.sent,
                received: summary.received + again.received,
                ..again
            };
        }
    }
    Ok(FileSynced { summary, resolved })
}
