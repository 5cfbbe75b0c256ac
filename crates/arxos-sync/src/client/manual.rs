//! What a person does to a running engine by hand (`arxos sync pause|resume|push|pull|queue|
//! reset|reset-to-server`, the editor's session menu): auto-sync off and on, one direction at
//! a time, the queue of changes the relay has not acknowledged, and starting over.
//!
//! One-way sync runs a second, short-lived engine on a scratch copy in a private temporary
//! folder, never on the plan itself: a push syncs a copy of the whole plan and throws away
//! whatever the copy received; a pull syncs a copy of only what the relay already
//! acknowledged (so it has nothing of ours to send) and merges what it received. The plan
//! file, its sidecar and the running engine's state change only here, under the engine's
//! locks, after the scratch sync succeeded.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use arxos_doc::file::PlanFile;
use arxos_doc::{ChangeSet, DescribedChange, Document};
use automerge::{ChangeHash, sync};

use super::engine::{disk_step, refresh_status, set_refused_aside, unix_now};
use super::oneshot::run_once;
use super::{
    ChangeOrigin, ClientError, ClientEvent, ConnectionState, SyncClient, SyncSummary, lock,
};
use crate::invite::InviteCode;
use crate::store::{LocalStore, RelayState, relay_key};

/// What a one-way push or pull did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OneWay {
    /// Changes sent to the relay.
    pub sent: usize,
    /// Changes received from it.
    pub received: usize,
    /// Local changes the relay has still not acknowledged.
    pub pending: usize,
    /// Whether auto-sync is paused (then nothing moved in the other direction).
    pub paused: bool,
}

/// What [`SyncClient::set_queue_aside`] did.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct QueueAside {
    /// Changes taken out of the working plan.
    pub set_aside: usize,
    /// The plan as it was, queued changes included (merge it back to get them again).
    pub kept_in: PathBuf,
}

impl SyncClient {
    /// Turns auto-sync off: the engine leaves the session and stays offline; edits keep
    /// being made, saved and queued. Returns whether it was running.
    pub fn pause(&self) -> bool {
        let was = !self.shared.paused.send_replace(true);
        // The connection state follows once the session has left (the engine recounts
        // then); a resume before that leaves the session connected and its state true.
        self.set_paused_status(true);
        was
    }

    /// Turns auto-sync back on: the engine connects and sends what queued. Returns whether
    /// it was paused.
    pub fn resume(&self) -> bool {
        let was = self.shared.paused.send_replace(false);
        self.set_paused_status(false);
        was
    }

    fn set_paused_status(&self, paused: bool) {
        if self.shared.status.send_if_modified(|s| {
            let changed = s.paused != paused;
            s.paused = paused;
            changed
        }) {
            let _ = self
                .shared
                .events
                .send(ClientEvent::Status(self.shared.status.borrow().clone()));
        }
    }

    /// Whether auto-sync is paused.
    pub fn is_paused(&self) -> bool {
        *self.shared.paused.borrow()
    }

    /// Writes what the plan file lacks now (not after the usual short delay) and returns
    /// the heads it holds: what a backup of the file taken next contains at least.
    pub fn save_now(&self) -> Vec<ChangeHash> {
        disk_step(&self.shared);
        self.heads()
    }

    /// The local changes the relay has not acknowledged, oldest first, with their author,
    /// time, summary and the elements each touched (refused ones excluded).
    pub fn queue(&self) -> Result<Vec<DescribedChange>, ClientError> {
        let acked = lock(&self.shared.acked).clone();
        let refused: HashSet<String> = lock(&self.shared.meta).refused.keys().cloned().collect();
        // Described on a copy: replaying a long queue must not hold the engine up.
        let mut copy = lock(&self.shared.live).doc.fork();
        let described = copy.describe_changes_after(&acked)?;
        Ok(described
            .into_iter()
            .filter(|c| !refused.contains(&c.entry.hash))
            .collect())
    }

    /// Takes every change the relay has not acknowledged out of the working plan, keeping
    /// the plan as it was in `<file>.queued-<unix seconds>.arx` (nothing is deleted: merging
    /// that file back brings them again). Pause first, or the queue may be sent meanwhile.
    pub fn set_queue_aside(&self) -> Result<QueueAside, ClientError> {
        let acked = lock(&self.shared.acked).clone();
        let (changes, set_aside, kept_in) = {
            let mut live = lock(&self.shared.live);
            let queued: HashSet<ChangeHash> = live.doc.changes_after(&acked).into_iter().collect();
            let mut kept_in = live.path().as_os_str().to_owned();
            kept_in.push(format!(".queued-{}.arx", unix_now()));
            let kept_in = PathBuf::from(kept_in);
            if queued.is_empty() {
                return Ok(QueueAside {
                    set_aside: 0,
                    kept_in,
                });
            }
            if kept_in.exists() {
                return Err(ClientError::Invalid(format!(
                    "{} already exists; try again in a second",
                    kept_in.display()
                )));
            }
            PlanFile::create(&kept_in, &mut live.doc)?;
            let aside = live.doc.without_changes(&queued)?;
            live.replace(aside.kept)?;
            tracing::info!(count = aside.excluded, kept_in = %kept_in.display(), "set the queue aside");
            (rebuilt(&mut live.doc), aside.excluded, kept_in)
        };
        let _ = self.shared.events.send(ClientEvent::Changed {
            origin: ChangeOrigin::Local,
            changes,
            count: 0,
        });
        refresh_status(&self.shared, None, false);
        Ok(QueueAside { set_aside, kept_in })
    }

    /// Forgets what the engine knows of the relay's copy (sync state and acknowledgements),
    /// so the next connection compares the whole history afresh; the plan is untouched. A
    /// running session reconnects at once.
    pub fn reset_sync_state(&self) -> Result<(), ClientError> {
        let invite = self.shared_invite()?;
        {
            let mut meta = lock(&self.shared.meta);
            meta.relays
                .remove(&relay_key(&invite.relay, invite.document_id));
            self.shared.store.save_meta(&meta)?;
        }
        lock(&self.shared.acked).clear();
        self.shared.restart.notify_one();
        refresh_status(&self.shared, None, false);
        Ok(())
    }

    /// Sends our queued changes without taking anything from the relay. While auto-sync
    /// runs, it already does both: this waits until the relay acknowledged everything.
    pub fn push(&self, timeout: Duration) -> Result<OneWay, ClientError> {
        let invite = self.shared_invite()?;
        if !self.is_paused() {
            self.notify_local_change();
            return self.settle_live(timeout, |s| s.pending == 0);
        }
        let (mut copy, heads) = {
            let mut live = lock(&self.shared.live);
            (live.doc.fork(), live.doc.heads())
        };
        let scratch = Scratch::new()?;
        PlanFile::create(&scratch.plan, &mut copy)?;
        let outcome = run_once(
            invite.clone(),
            &self.shared.fallback_relays,
            &scratch.plan,
            false,
            timeout,
            &|_| {},
        );
        if let Err(ClientError::Refused { .. }) = &outcome {
            self.take_refusals(&scratch)?;
        }
        let summary = outcome?;
        if summary.pending == 0 {
            // Everything up to `heads` is on the relay now.
            self.acknowledge(&invite, &heads)?;
        }
        refresh_status(&self.shared, None, false);
        Ok(OneWay {
            sent: summary.sent,
            received: 0,
            pending: self.status().pending,
            paused: true,
        })
    }

    /// Takes the relay's changes without sending ours. While auto-sync runs, it already does
    /// both: this waits until we hold everything the relay has.
    pub fn pull(&self, timeout: Duration) -> Result<OneWay, ClientError> {
        let invite = self.shared_invite()?;
        if !self.is_paused() {
            return self.settle_live(timeout, |s| {
                matches!(
                    s.state,
                    ConnectionState::Connected | ConnectionState::Conflict
                )
            });
        }
        let acked = lock(&self.shared.acked).clone();
        let copy = {
            let mut live = lock(&self.shared.live);
            let known: Vec<ChangeHash> = acked
                .iter()
                .copied()
                .filter(|h| live.doc.has_change(h))
                .collect();
            if known.is_empty() {
                None
            } else {
                Some(live.doc.fork_at(&known)?)
            }
        };
        let scratch = Scratch::new()?;
        let allow_missing = copy.is_none();
        if let Some(mut copy) = copy {
            PlanFile::create(&scratch.plan, &mut copy)?;
        }
        let summary = run_once(
            invite.clone(),
            &self.shared.fallback_relays,
            &scratch.plan,
            allow_missing,
            timeout,
            &|_| {},
        )?;
        if !scratch.plan.exists() {
            // The room holds no plan yet: nothing to take.
            return Ok(self.one_way_paused(0));
        }
        let (_, mut theirs) = PlanFile::open(&scratch.plan)?;
        let theirs_acked = scratch.acked_heads(&invite)?;
        let changes = {
            let mut live = lock(&self.shared.live);
            let before = live.doc.heads();
            let set = live.doc.merge(&mut theirs)?;
            if live.doc.heads() != before {
                live.changed(&set);
            }
            set
        };
        self.acknowledge(&invite, &theirs_acked)?;
        // On disk before we answer: whoever asked reads the file next.
        disk_step(&self.shared);
        if summary.received > 0 || !changes.is_empty() {
            self.shared
                .status
                .send_modify(|s| s.received_changes += summary.received);
            let _ = self.shared.events.send(ClientEvent::Changed {
                origin: ChangeOrigin::Remote,
                changes,
                count: summary.received,
            });
        }
        refresh_status(&self.shared, None, false);
        Ok(self.one_way_paused(summary.received))
    }

    /// Replaces the working plan by the relay's copy, after checking it is still at
    /// `expected` (the heads a backup was taken at): local changes the relay does not have
    /// leave the working plan, so the caller keeps a backup first. Auto-sync is paused
    /// while the copy is fetched and resumed after, if it was running.
    pub fn reset_to_server(
        &self,
        expected: &[ChangeHash],
        timeout: Duration,
    ) -> Result<SyncSummary, ClientError> {
        let invite = self.shared_invite()?;
        let was_running = self.pause();
        let result = self.replace_by_relay_copy(&invite, expected, timeout);
        if was_running {
            self.resume();
        }
        result
    }

    fn replace_by_relay_copy(
        &self,
        invite: &InviteCode,
        expected: &[ChangeHash],
        timeout: Duration,
    ) -> Result<SyncSummary, ClientError> {
        let scratch = Scratch::new()?;
        let summary = run_once(
            invite.clone(),
            &self.shared.fallback_relays,
            &scratch.plan,
            true,
            timeout,
            &|_| {},
        )?;
        if !scratch.plan.exists() {
            return Err(ClientError::Invalid(
                "the relay holds no plan for this session; nothing was changed".into(),
            ));
        }
        let (_, theirs) = PlanFile::open(&scratch.plan)?;
        let state = scratch.relay_state(invite)?;
        let changes = {
            let mut live = lock(&self.shared.live);
            let mut now = live.doc.heads();
            let mut want = expected.to_vec();
            now.sort();
            want.sort();
            if now != want {
                return Err(ClientError::Invalid(
                    "the plan changed while the relay's copy was fetched; nothing was changed (try again)"
                        .into(),
                ));
            }
            live.replace(theirs)?;
            let mut meta = lock(&self.shared.meta);
            meta.refused.clear();
            meta.relays
                .insert(relay_key(&invite.relay, invite.document_id), state);
            self.shared.store.save_meta(&meta)?;
            rebuilt(&mut live.doc)
        };
        let acked: Vec<ChangeHash> = lock(&self.shared.meta)
            .relays
            .get(&relay_key(&invite.relay, invite.document_id))
            .map(RelayState::acked)
            .unwrap_or_default();
        *lock(&self.shared.acked) = acked;
        let _ = self.shared.events.send(ClientEvent::Changed {
            origin: ChangeOrigin::Remote,
            changes,
            count: summary.received,
        });
        refresh_status(&self.shared, None, false);
        Ok(summary)
    }

    fn shared_invite(&self) -> Result<InviteCode, ClientError> {
        self.invite
            .clone()
            .ok_or_else(|| ClientError::Invalid("this plan is not shared: no relay to sync".into()))
    }

    fn one_way_paused(&self, received: usize) -> OneWay {
        OneWay {
            sent: 0,
            received,
            pending: self.status().pending,
            paused: true,
        }
    }

    /// While auto-sync runs, a one-way request is a wait for `done`; what moved meanwhile.
    fn settle_live(
        &self,
        timeout: Duration,
        done: impl Fn(&super::SyncStatus) -> bool,
    ) -> Result<OneWay, ClientError> {
        let before = self.status();
        let status = self.wait_until(timeout, done)?;
        Ok(OneWay {
            sent: status.sent_changes.saturating_sub(before.sent_changes),
            received: status
                .received_changes
                .saturating_sub(before.received_changes),
            pending: status.pending,
            paused: false,
        })
    }

    /// Records that the relay holds everything up to `heads` (all of which we hold), in the
    /// sidecar and in the stored sync state, so the queue shrinks while still offline.
    fn acknowledge(&self, invite: &InviteCode, heads: &[ChangeHash]) -> Result<(), ClientError> {
        let mut acked = lock(&self.shared.acked).clone();
        acked.extend_from_slice(heads);
        // Automerge encodes a sync state's heads only sorted (it asserts so).
        acked.sort_unstable();
        acked.dedup();
        {
            let mut meta = lock(&self.shared.meta);
            let entry = meta
                .relays
                .entry(relay_key(&invite.relay, invite.document_id))
                .or_default();
            entry.acked_heads = acked.iter().map(ToString::to_string).collect();
            if let Some(mut state) = hex::decode(&entry.sync_state)
                .ok()
                .and_then(|b| sync::State::decode(&b).ok())
            {
                state.shared_heads.clone_from(&acked);
                entry.sync_state = hex::encode(state.encode());
            }
            entry.last_sync = Some(unix_now());
            self.shared.store.save_meta(&meta)?;
        }
        *lock(&self.shared.acked) = acked;
        Ok(())
    }

    /// Takes the refusals a scratch push heard into our sidecar and sets those changes
    /// aside here, as a live session would have.
    fn take_refusals(&self, scratch: &Scratch) -> Result<(), ClientError> {
        let theirs = LocalStore::beside(&scratch.plan).load_meta()?;
        {
            let mut meta = lock(&self.shared.meta);
            meta.refused.extend(theirs.refused);
            self.shared.store.save_meta(&meta)?;
        }
        set_refused_aside(&self.shared)?;
        Ok(())
    }
}

/// What a rebuilt replica changed: everything (a UI redraws it all).
pub(super) fn rebuilt(doc: &mut Document) -> ChangeSet {
    ChangeSet {
        rebuilt: true,
        updated: doc.elements().map(|e| e.id.clone()).collect(),
        floors: true,
        layers: true,
        meta: true,
        ..ChangeSet::default()
    }
}

/// A private temporary folder for a one-way sync's copy (its sidecar holds the invite).
struct Scratch {
    _dir: tempfile::TempDir,
    plan: PathBuf,
}

impl Scratch {
    fn new() -> Result<Self, ClientError> {
        let dir = tempfile::Builder::new()
            .prefix("arxos-oneway-")
            .tempdir()
            .map_err(|e| {
                ClientError::Invalid(format!(
                    "cannot make a scratch folder for one-way sync: {e}"
                ))
            })?;
        let plan = dir.path().join("copy.arx");
        Ok(Self { _dir: dir, plan })
    }

    /// What the copy's engine stored of the relay room.
    fn relay_state(&self, invite: &InviteCode) -> Result<RelayState, ClientError> {
        Ok(LocalStore::beside(Path::new(&self.plan))
            .load_meta()?
            .relays
            .remove(&relay_key(&invite.relay, invite.document_id))
            .unwrap_or_default())
    }

    /// The heads the relay acknowledged to the copy.
    fn acked_heads(&self, invite: &InviteCode) -> Result<Vec<ChangeHash>, ClientError> {
        Ok(self.relay_state(invite)?.acked())
    }
}
