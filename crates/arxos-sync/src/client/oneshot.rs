//! One-shot sessions: `arxos sync FILE` (push and pull once) and `arxos clone CODE`.

use std::path::Path;
use std::time::{Duration, Instant};

use super::{Backoff, ClientConfig, ClientError, SyncClient, SyncStatus};
use crate::invite::InviteCode;
use crate::store::LocalStore;

/// Result of a one-shot sync.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct SyncSummary {
    /// Changes sent.
    pub sent: usize,
    /// Changes received.
    pub received: usize,
    /// Changes refused by the relay (all time, for this file).
    pub refused: usize,
    /// Changes still pending.
    pub pending: usize,
    /// Unresolved conflicts.
    pub conflicts: usize,
}

/// Connects, pushes and pulls until in sync, saves, disconnects (`arxos sync FILE`).
/// `timeout` bounds the whole call, final acknowledgement and save included. `progress` sees
/// the engine's status as it changes (a few hundred times a second at most).
pub fn sync_once(
    invite: InviteCode,
    file: &Path,
    timeout: Duration,
    progress: &dyn Fn(&SyncStatus),
) -> Result<SyncSummary, ClientError> {
    sync_once_via(invite, &[], file, timeout, progress)
}

/// [`sync_once`], trying `fallback_relays` in order when the invite's relay cannot be
/// reached (`sync.relays`).
pub fn sync_once_via(
    invite: InviteCode,
    fallback_relays: &[String],
    file: &Path,
    timeout: Duration,
    progress: &dyn Fn(&SyncStatus),
) -> Result<SyncSummary, ClientError> {
    remember_invite(&LocalStore::beside(file), &invite)?;
    run_once(invite, fallback_relays, file, false, timeout, progress)
}

/// Keeps the invite in the sidecar, for `arxos sync FILE` next time.
fn remember_invite(store: &LocalStore, invite: &InviteCode) -> Result<(), ClientError> {
    let mut meta = store.load_meta()?;
    let code = invite.encode();
    if meta.invite.as_deref() != Some(code.as_str()) {
        meta.invite = Some(code);
        store.save_meta(&meta)?;
    }
    Ok(())
}

pub(super) fn run_once(
    invite: InviteCode,
    fallback_relays: &[String],
    file: &Path,
    allow_missing: bool,
    timeout: Duration,
    progress: &dyn Fn(&SyncStatus),
) -> Result<SyncSummary, ClientError> {
    let started = Instant::now();
    let left = || timeout.saturating_sub(started.elapsed());
    let mut config = ClientConfig::new(invite, file);
    config.allow_missing = allow_missing;
    config.fallback_relays = fallback_relays.to_vec();
    config.backoff = Backoff {
        initial: Duration::from_millis(100),
        max: Duration::from_secs(2),
    };
    // Connecting may not take longer than the whole command may.
    config.connect_timeout = config.connect_timeout.min(timeout);
    let client = SyncClient::start(config)?;
    let refused_before: std::collections::BTreeSet<String> = client.refused().into_keys().collect();
    let waited = client.wait_synced_with(left(), progress);
    if waited.is_ok() {
        // Let a final acknowledgement for our last changes arrive.
        let _ = client.wait_for(Duration::from_secs(2).min(left()), |s| {
            progress(s);
            s.pending == 0
        });
    }
    // Refusals in this run (set aside by the engine, later edits replayed), and refused
    // changes still in the plan (the engine could not set them aside).
    let now = client.refused();
    let still: Vec<&String> = now
        .iter()
        .filter(|(h, _)| h.parse().is_ok_and(|h| client.has_change(&h)))
        .map(|(_, r)| r)
        .collect();
    let fresh: Vec<&String> = now
        .iter()
        .filter(|(h, r)| !refused_before.contains(*h) && !r.contains("depends on refused change"))
        .map(|(_, r)| r)
        .collect();
    let refusal = if !still.is_empty() {
        Some(refusal(
            &still,
            "they are still in the file; `arxos sync FILE --discard-refused` sets them aside"
                .into(),
        ))
    } else if !fresh.is_empty() {
        let mut aside = file.as_os_str().to_owned();
        aside.push(".refused.arx");
        Some(refusal(
            &fresh,
            format!(
                "set aside: the plan as it was is kept in {}; edits made after them were replayed and synced",
                Path::new(&aside).display()
            ),
        ))
    } else {
        None
    };
    let status = client.shutdown();
    progress(&status);
    if let Some(err) = &status.last_error
        && err.starts_with("saving failed")
    {
        return Err(ClientError::Invalid(err.clone()));
    }
    waited?;
    if let Some(err) = refusal {
        return Err(err);
    }
    Ok(SyncSummary {
        sent: status.sent_changes,
        received: status.received_changes,
        refused: status.refused,
        pending: status.pending,
        conflicts: status.conflicts,
    })
}

fn refusal(reasons: &[&String], what: String) -> ClientError {
    let unique: std::collections::BTreeSet<&str> = reasons.iter().map(|r| r.as_str()).collect();
    ClientError::Refused {
        count: reasons.len(),
        reasons: unique.into_iter().collect::<Vec<_>>().join("; "),
        what,
    }
}

/// Fetches the plan behind an invite into a new local file (`arxos clone CODE -o FILE`).
/// A clone that fails leaves nothing behind (no plan, no backup, no sidecar), so it can simply
/// be tried again.
pub fn clone_document(
    invite: InviteCode,
    path: &Path,
    timeout: Duration,
    progress: &dyn Fn(&SyncStatus),
) -> Result<SyncSummary, ClientError> {
    if path.exists() {
        return Err(ClientError::Invalid(format!(
            "{} already exists",
            path.display()
        )));
    }
    let store = LocalStore::beside(path);
    let result = (|| {
        remember_invite(&store, &invite)?;
        let summary = run_once(invite, &[], path, true, timeout, progress)?;
        if !path.exists() {
            return Err(ClientError::Invalid(if summary.received > 0 {
                "the shared document is not an Arxos plan (no plan schema)".into()
            } else {
                "the session holds no plan yet (nothing was shared into it)".into()
            }));
        }
        Ok(summary)
    })();
    if result.is_err() {
        for leftover in [
            path.to_owned(),
            arxos_doc::file::backup_path(path),
            store.meta_path().to_owned(),
        ] {
            let _ = std::fs::remove_file(leftover);
        }
    }
    result
}
