//! The engine loop: connect, handshake, sync, reconnect; and beside it the disk loop, which
//! writes the plan and merges what other programs wrote to it, online or not.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arxos_doc::{ChangeSet, DocError, Document};
use automerge::sync;
use automerge::{AutomergeError, ChangeHash};
use tokio::sync::{mpsc, watch};

use super::{
    ChangeOrigin, ClientConfig, ClientError, ClientEvent, ConnectionState, EngineCmd, Shared, lock,
};
use crate::fastsync::Replica;
use crate::store::{RelayState, pending_changes, relay_key};

/// How long we stay behind without progress before reconnecting.
pub(super) const STALL_AFTER: Duration = Duration::from_secs(3);

pub(super) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// How a session ended.
pub(super) enum SessionEnd {
    Shutdown,
    /// Auto-sync was paused: wait for resume, then connect again.
    Paused,
    /// Start over at once with the stored sync state (after a reset).
    Restart,
    Rejected(String),
    Lost {
        reason: String,
        was_synced: bool,
    },
}

/// The typed plan as the sync fast paths see it: every change applied through [`Document`],
/// so the read model stays current, with what they changed collected for subscribers.
pub(super) struct Tracked<'a> {
    pub(super) doc: &'a mut Document,
    pub(super) changes: ChangeSet,
}

impl Replica for Tracked<'_> {
    fn heads(&mut self) -> Vec<ChangeHash> {
        self.doc.heads()
    }
    fn missing(&mut self, hashes: &[ChangeHash]) -> Vec<ChangeHash> {
        self.doc.missing_deps(hashes)
    }
    fn apply(&mut self, changes: &[u8]) -> Result<(), AutomergeError> {
        let set = self.doc.load_incremental(changes).map_err(|e| match e {
            DocError::Automerge(e) => e,
            // `load_incremental` fails only in Automerge.
            _ => AutomergeError::Fail,
        })?;
        self.changes.absorb(set);
        Ok(())
    }
    fn generate(&mut self, state: &mut sync::State) -> Option<sync::Message> {
        self.doc.generate_sync_message(state)
    }
}

pub(super) fn unix_now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// Recomputes the status from the document, sidecar and sync state and publishes it.
pub(super) fn refresh_status(shared: &Shared, state: Option<&sync::State>, online: bool) {
    let (pending, conflicts, have_theirs) = {
        let mut live = lock(&shared.live);
        let meta = lock(&shared.meta);
        let refused = meta.refused_hashes();
        let key_heads: Vec<ChangeHash> = meta
            .relays
            .get(&shared.relay_key)
            .map(RelayState::acked)
            .unwrap_or_default();
        drop(meta);
        let acked = state.map_or(key_heads, |s| s.shared_heads.clone());
        lock(&shared.acked).clone_from(&acked);
        let pending = pending_changes(&mut live.doc, &acked, &refused);
        let have_theirs = state
            .and_then(|s| s.their_heads.as_ref())
            .is_some_and(|theirs| theirs.iter().all(|h| live.doc.has_change(h)));
        (pending, live.conflict_count(), have_theirs)
    };
    let refused = lock(&shared.meta).refused.len();
    let state = if !online {
        ConnectionState::Offline
    } else if pending == 0 && have_theirs {
        if conflicts > 0 {
            ConnectionState::Conflict
        } else {
            ConnectionState::Connected
        }
    } else {
        ConnectionState::Syncing
    };
    let mut changed = false;
    shared.status.send_if_modified(|s| {
        let synced_now = matches!(
            state,
            ConnectionState::Connected | ConnectionState::Conflict
        );
        let next_last_sync = if synced_now {
            Some(unix_now())
        } else {
            s.last_sync
        };
        if s.state != state
            || s.pending != pending
            || s.conflicts != conflicts
            || s.refused != refused
            || (synced_now && s.last_sync != next_last_sync)
        {
            s.state = state;
            s.pending = pending;
            s.conflicts = conflicts;
            s.refused = refused;
            s.last_sync = next_last_sync;
            if online {
                s.last_error = None;
            }
            changed = true;
            true
        } else {
            false
        }
    });
    if changed {
        let _ = shared
            .events
            .send(ClientEvent::Status(shared.status.borrow().clone()));
    }
}

pub(super) fn set_error(shared: &Shared, error: &str, rejected: bool) {
    shared.status.send_modify(|s| {
        s.state = ConnectionState::Offline;
        s.last_error = Some(error.to_owned());
        s.rejected = rejected;
    });
    let _ = shared
        .events
        .send(ClientEvent::Status(shared.status.borrow().clone()));
}

/// Whether a refusal is only for building on another refused change (the relay's wording):
/// such a change is replayed, not set aside.
fn stranded(reason: &str) -> bool {
    reason.contains("depends on refused change")
}

/// Sets refused changes still in the plan aside (see `SyncClient::discard_refused`); returns
/// (set aside, replayed).
pub(super) fn set_refused_aside(shared: &Shared) -> Result<(usize, usize), ClientError> {
    let refused: std::collections::HashSet<ChangeHash> = lock(&shared.meta)
        .refused
        .iter()
        .filter(|(_, r)| !stranded(&r.reason))
        .filter_map(|(h, _)| h.parse().ok())
        .collect();
    let changes = {
        let mut live = lock(&shared.live);
        let present: std::collections::HashSet<ChangeHash> = refused
            .into_iter()
            .filter(|h| live.doc.has_change(h))
            .collect();
        if present.is_empty() {
            return Ok((0, 0));
        }
        let aside = live.doc.rebase_without(&present)?;
        let mut backup = live.path().as_os_str().to_owned();
        backup.push(".refused.arx");
        arxos_doc::file::PlanFile::create(std::path::Path::new(&backup), &mut live.doc)?;
        let (excluded, replayed) = (aside.excluded, aside.replayed);
        live.replace(aside.kept)?;
        tracing::info!(excluded, replayed, "set refused changes aside");
        (
            super::manual::rebuilt(&mut live.doc),
            excluded - replayed,
            replayed,
        )
    };
    let (changes, set_aside, replayed) = changes;
    let _ = shared.events.send(ClientEvent::Changed {
        origin: ChangeOrigin::Local,
        changes,
        count: 0,
    });
    Ok((set_aside, replayed))
}

/// Writes the sidecar: the sync state and what the relay acknowledged.
pub(super) fn save_sync_state(shared: &Shared, config: &ClientConfig, state: Option<&sync::State>) {
    let meta = {
        let mut meta = lock(&shared.meta);
        if let (Some(state), Some(invite)) = (state, &config.invite) {
            let key = relay_key(&invite.relay, invite.document_id);
            let entry = meta.relays.entry(key).or_default();
            entry.sync_state = hex::encode(state.encode());
            entry.acked_heads = state.shared_heads.iter().map(ToString::to_string).collect();
            if let Some(t) = shared.status.borrow().last_sync {
                entry.last_sync = Some(t);
            }
        }
        meta.clone()
    };
    if let Err(err) = shared.store.save_meta(&meta) {
        report_save_error(shared, &err.to_string());
    }
}

fn report_save_error(shared: &Shared, err: &str) {
    tracing::error!(%err, "saving failed");
    shared
        .status
        .send_modify(|s| s.last_error = Some(format!("saving failed: {err}")));
    let _ = shared
        .events
        .send(ClientEvent::Status(shared.status.borrow().clone()));
}

/// Writes the plan if it changed here, and merges what other programs appended to the file;
/// their changes are announced and sent on to the relay.
pub(super) fn disk_step(shared: &Shared) {
    let merged = {
        let mut live = lock(&shared.live);
        if !live.disk_due() {
            return;
        }
        match live.sync_disk() {
            Ok(merged) => merged,
            Err(err) => {
                drop(live);
                report_save_error(shared, &err.to_string());
                return;
            }
        }
    };
    if let Some(merged) = merged {
        tracing::debug!(peer = %shared.peer_id, "merged changes another program wrote");
        let _ = shared.events.send(ClientEvent::Changed {
            origin: ChangeOrigin::File,
            changes: merged,
            count: 0,
        });
        shared.local_change.notify_one();
    }
}

/// Keeps the plan file and the replica together until shutdown: a local edit is on disk
/// within `persist_debounce`, another program's append is merged as quickly.
async fn disk_loop(shared: &Shared, period: Duration, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => disk_step(shared),
            () = stopped(&mut shutdown) => break,
        }
    }
}

pub(super) async fn run(
    shared: Arc<Shared>,
    config: ClientConfig,
    cmd_rx: mpsc::Receiver<EngineCmd>,
    shutdown: watch::Receiver<bool>,
) {
    let disk = disk_loop(&shared, config.persist_debounce, shutdown.clone());
    let net = net_loop(&shared, &config, cmd_rx, shutdown);
    tokio::join!(disk, net);
    disk_step(&shared);
    save_sync_state(&shared, &config, None);
}

async fn net_loop(
    shared: &Shared,
    config: &ClientConfig,
    mut cmd_rx: mpsc::Receiver<EngineCmd>,
    mut shutdown: watch::Receiver<bool>,
) {
    let Some(invite) = config.invite.clone() else {
        // Not shared: the disk loop is all there is to do.
        stopped(&mut shutdown).await;
        return;
    };
    let mut attempt: u32 = 0;
    let mut paused = shared.paused.subscribe();
    loop {
        if *shutdown.borrow() {
            break;
        }
        if *paused.borrow() {
            refresh_status(shared, None, false);
            tokio::select! {
                () = until_paused(&mut paused, false) => {}
                () = stopped(&mut shutdown) => break,
            }
            attempt = 0;
            continue;
        }
        match super::session::session(shared, config, &invite, &mut cmd_rx, &mut shutdown).await {
            SessionEnd::Shutdown => break,
            SessionEnd::Paused | SessionEnd::Restart => continue,
            SessionEnd::Rejected(reason) => {
                tracing::warn!(%reason, "the session cannot go on; not retrying");
                set_error(shared, &reason, true);
                let _ = shutdown.wait_for(|stop| *stop).await;
                break;
            }
            SessionEnd::Lost { reason, was_synced } => {
                tracing::info!(%reason, "disconnected from relay");
                set_error(shared, &reason, false);
                if was_synced {
                    attempt = 0;
                }
            }
        }
        let delay = config.backoff.delay(attempt);
        attempt = attempt.saturating_add(1);
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = stopped(&mut shutdown) => break,
        }
    }
}

/// Resolves once shutdown is asked for (the watch guard is not held, so the engine's future
/// stays `Send` and can run as a task on any runtime).
pub(super) async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// Resolves once auto-sync is paused (`true`) or running (`false`), guard not held (see
/// [`stopped`]).
pub(super) async fn until_paused(paused: &mut watch::Receiver<bool>, want: bool) {
    if paused.wait_for(|p| *p == want).await.is_err() {
        // The engine's own sender is gone: the engine is stopping.
        std::future::pending::<()>().await;
    }
}

/// Sleeps until `at`, or forever when there is nothing to wait for.
pub(super) async fn sleep_until_some(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
