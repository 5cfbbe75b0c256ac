//! The client sync engine.
//!
//! [`SyncClient::start`] opens the plan file (shared with every other program that has it
//! open) and its sidecar, then syncs with the relay named by the invite on a dedicated named
//! thread (its own tokio runtime), reconnecting with exponential backoff and jitter.
//!
//! The plan is a typed [`Document`]: read it with [`SyncClient::read`], edit it with typed
//! [`Command`]s through [`SyncClient::apply`] (one batch, one change). Every change, whether
//! local, from the relay, or appended to the file by another program, reaches subscribers as
//! a [`ClientEvent::Changed`] carrying its [`ChangeSet`], so a UI updates incrementally.
//! Status (Connected / Syncing / Offline / Conflict with pending, refused and conflict
//! counts) is published on a watch channel; presence, locks and refusals arrive as
//! [`ClientEvent`]s on a bounded broadcast channel.

mod backoff;
mod engine;
mod live;
mod manual;
mod oneshot;
mod probe;
mod session;
mod transport;
mod types;
mod wait;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use arxos_doc::{ChangeKind, ChangeSet, Document, EditContext};
use tokio::sync::{Notify, broadcast, mpsc, watch};

pub use backoff::Backoff;
pub use live::ChangeOrigin;
pub use manual::{OneWay, QueueAside};
pub use oneshot::{SyncSummary, clone_document, sync_once, sync_once_via};
pub use probe::{Probe, ProbeError, probe};
pub use transport::Dial;
pub use types::{ClientError, ClientEvent, ConnectionState, SyncStatus};

use crate::identity::Identity;
use live::Live;

use crate::invite::InviteCode;
use crate::protocol::PeerId;
use crate::protocol::payload::{ArxPayload, LockEntry, Presence};
use crate::store::{LocalStore, SyncMeta};

/// Engine settings.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// Where to connect and with which secret; `None` works on the file alone (a plan that is
    /// not shared): commands, change events and other programs' appends, no relay.
    pub invite: Option<InviteCode>,
    /// The plan file.
    pub file: std::path::PathBuf,
    /// Start from an empty replica when the file does not exist (clone); it is written once
    /// the first sync has filled it with a plan.
    pub allow_missing: bool,
    /// Who we are in presence and locks.
    pub identity: Identity,
    /// What kind of program this is, in presence (`cli`, `editor`).
    pub client_kind: String,
    /// Reconnect backoff.
    pub backoff: Backoff,
    /// Ping / lock-renew period (shortened automatically to a third of the lock lease).
    pub heartbeat: Duration,
    /// How long changes may wait before the plan and sidecar are written; also how often
    /// the plan file is checked for changes other programs wrote.
    pub persist_debounce: Duration,
    /// Connect + handshake timeout.
    pub connect_timeout: Duration,
    /// Renew held locks on every heartbeat (turn off to let leases lapse, e.g. in tests).
    pub auto_renew_locks: bool,
    /// Extra CA certificates (PEM) to trust for `wss://` relays; default `ARXOS_TLS_CA`.
    pub tls_ca: Option<std::path::PathBuf>,
    /// Reach the relay through this in-process pipe instead of the network.
    pub dial: Option<Dial>,
    /// More addresses of the same relay service (`sync.relays`: other nodes of a cluster, a
    /// second route), tried in order when the invite's own address cannot be reached.
    pub fallback_relays: Vec<String>,
    /// Start paused: no connection until [`SyncClient::resume`] (edits queue meanwhile), for
    /// one-way [`SyncClient::push`] / [`SyncClient::pull`] on a file no session runs on.
    pub start_paused: bool,
}

impl ClientConfig {
    /// Defaults for everything but the invite and the plan file.
    pub fn new(invite: InviteCode, file: impl Into<std::path::PathBuf>) -> Self {
        Self::with_invite(Some(invite), file.into())
    }

    /// A client of the file alone: no relay (see [`ClientConfig::invite`]).
    pub fn local(file: impl Into<std::path::PathBuf>) -> Self {
        Self::with_invite(None, file.into())
    }

    fn with_invite(invite: Option<InviteCode>, file: std::path::PathBuf) -> Self {
        Self {
            invite,
            file,
            allow_missing: false,
            identity: Identity::current(),
            client_kind: "cli".into(),
            backoff: Backoff::default(),
            heartbeat: Duration::from_secs(30),
            persist_debounce: Duration::from_millis(100),
            connect_timeout: Duration::from_secs(10),
            auto_renew_locks: true,
            tls_ca: crate::tls::ca_from_env(),
            dial: None,
            fallback_relays: Vec::new(),
            start_paused: false,
        }
    }
}

/// Commands from the handle to the engine.
enum EngineCmd {
    Send(ArxPayload),
}

/// State shared between the handle and the engine thread.
struct Shared {
    live: Mutex<Live>,
    meta: Mutex<SyncMeta>,
    status: watch::Sender<SyncStatus>,
    events: broadcast::Sender<ClientEvent>,
    local_change: Notify,
    presence: Mutex<BTreeMap<String, Presence>>,
    /// Our latest presence not yet sent: one slot, so a newer presence replaces an unsent
    /// one instead of queueing behind it.
    presence_out: Mutex<Option<Presence>>,
    /// Rung when `presence_out` is filled.
    presence_ready: Notify,
    /// Our latest presence, announced again on every connection (a status set by hand
    /// survives reconnecting).
    own_presence: Mutex<Option<Presence>>,
    locks: Mutex<Vec<LockEntry>>,
    peer_id: PeerId,
    /// Key of this relay room in the sidecar.
    relay_key: String,
    /// Heads the relay has acknowledged (durably stored).
    acked: Mutex<Vec<automerge::ChangeHash>>,
    /// Local files.
    store: LocalStore,
    /// Auto-sync is off ([`SyncClient::pause`]): no connection, edits queue.
    paused: watch::Sender<bool>,
    /// [`ClientConfig::fallback_relays`], for the one-way syncs' scratch engines.
    fallback_relays: Vec<String>,
    /// Rung to start the connection over with the stored sync state (after a reset).
    restart: Notify,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running sync engine. Dropping it stops the engine after a final save.
pub struct SyncClient {
    shared: Arc<Shared>,
    cmd_tx: mpsc::Sender<EngineCmd>,
    shutdown: watch::Sender<bool>,
    driver: Option<Driver>,
    invite: Option<InviteCode>,
    /// `false` for a [`SyncClient::handle`]: dropping it leaves the engine running.
    owner: bool,
}

/// What runs the engine.
enum Driver {
    /// Its own named thread with a current-thread runtime ([`SyncClient::start`]).
    Thread(std::thread::JoinHandle<()>),
    /// A task on the caller's runtime ([`SyncClient::start_on`]).
    Task(tokio::task::JoinHandle<()>),
}

/// The engine's parts before it runs.
struct Parts {
    shared: Arc<Shared>,
    config: ClientConfig,
    cmd_tx: mpsc::Sender<EngineCmd>,
    cmd_rx: mpsc::Receiver<EngineCmd>,
    shutdown: watch::Sender<bool>,
    shutdown_rx: watch::Receiver<bool>,
}

impl SyncClient {
    /// Opens the plan file (an empty replica when it does not exist and the config allows
    /// it) and starts syncing in the background, on a thread of its own.
    pub fn start(config: ClientConfig) -> Result<Self, ClientError> {
        let p = Self::prepare(config)?;
        let engine_shared = Arc::clone(&p.shared);
        let (config, cmd_rx, shutdown_rx) = (p.config, p.cmd_rx, p.shutdown_rx);
        let invite = config.invite.clone();
        let thread = std::thread::Builder::new()
            .name("arxos-sync".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                match runtime {
                    Ok(rt) => rt.block_on(engine::run(engine_shared, config, cmd_rx, shutdown_rx)),
                    Err(err) => tracing::error!(%err, "cannot build the sync runtime"),
                }
            })
            .map_err(ClientError::Thread)?;
        Ok(Self {
            shared: p.shared,
            cmd_tx: p.cmd_tx,
            shutdown: p.shutdown,
            driver: Some(Driver::Thread(thread)),
            invite,
            owner: true,
        })
    }

    /// [`SyncClient::start`] as a task on an existing runtime (an app's, or a test's with a
    /// virtual clock). Stop it with [`SyncClient::shutdown_async`]; the blocking waits
    /// ([`SyncClient::wait_for`]…) must not be called from that runtime's threads.
    pub fn start_on(
        config: ClientConfig,
        runtime: &tokio::runtime::Handle,
    ) -> Result<Self, ClientError> {
        let p = Self::prepare(config)?;
        let invite = p.config.invite.clone();
        let task = runtime.spawn(engine::run(
            Arc::clone(&p.shared),
            p.config,
            p.cmd_rx,
            p.shutdown_rx,
        ));
        Ok(Self {
            shared: p.shared,
            cmd_tx: p.cmd_tx,
            shutdown: p.shutdown,
            driver: Some(Driver::Task(task)),
            invite,
            owner: true,
        })
    }

    fn prepare(config: ClientConfig) -> Result<Parts, ClientError> {
        let live = Live::open(&config.file, config.allow_missing)?;
        let store = LocalStore::beside(&config.file);
        let meta = store.load_meta()?;
        let refused = meta.refused.len();
        let status = SyncStatus {
            state: ConnectionState::Offline,
            pending: 0,
            refused,
            conflicts: 0,
            sent_changes: 0,
            received_changes: 0,
            last_sync: None,
            last_error: None,
            rejected: false,
            paused: config.start_paused,
            relay: config
                .invite
                .as_ref()
                .map(|i| i.relay.clone())
                .unwrap_or_default(),
            ..SyncStatus::default()
        };
        let (status_tx, _) = watch::channel(status);
        let (events, _) = broadcast::channel(1024);
        let shared = Arc::new(Shared {
            live: Mutex::new(live),
            meta: Mutex::new(meta),
            status: status_tx,
            events,
            local_change: Notify::new(),
            presence: Mutex::new(BTreeMap::new()),
            presence_out: Mutex::new(None),
            presence_ready: Notify::new(),
            own_presence: Mutex::new(None),
            locks: Mutex::new(Vec::new()),
            peer_id: PeerId::random("arxos"),
            relay_key: config
                .invite
                .as_ref()
                .map(|i| crate::store::relay_key(&i.relay, i.document_id))
                .unwrap_or_default(),
            acked: Mutex::new(Vec::new()),
            store,
            paused: watch::channel(config.start_paused).0,
            fallback_relays: config.fallback_relays.clone(),
            restart: Notify::new(),
        });
        let (cmd_tx, cmd_rx) = mpsc::channel(256);
        let (shutdown, shutdown_rx) = watch::channel(false);
        engine::refresh_status(&shared, None, false);
        Ok(Parts {
            shared,
            config,
            cmd_tx,
            cmd_rx,
            shutdown,
            shutdown_rx,
        })
    }

    /// A second handle on the same engine, for another thread (a session's control socket):
    /// everything but stopping. Dropping or shutting down a handle leaves the engine running;
    /// once the engine stops, the handle's commands fail with [`ClientError::Closed`].
    #[must_use]
    pub fn handle(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
            cmd_tx: self.cmd_tx.clone(),
            shutdown: self.shutdown.clone(),
            driver: None,
            invite: self.invite.clone(),
            owner: false,
        }
    }

    /// Our peer id in this run.
    pub fn peer_id(&self) -> &PeerId {
        &self.shared.peer_id
    }

    /// The invite in use.
    pub fn invite(&self) -> Option<&InviteCode> {
        self.invite.as_ref()
    }

    /// Runs `f` on the plan (read-only; edits go through [`Self::apply`]).
    pub fn read<R>(&self, f: impl FnOnce(&Document) -> R) -> R {
        f(&lock(&self.shared.live).doc)
    }

    /// Runs `f` on the plan and its file's digest when the plan is exactly what the file holds
    /// (every change saved, and no other program wrote the file since): what `f` derives from
    /// the plan can be cached under the digest. `None` when the two differ.
    pub fn read_saved<R>(
        &self,
        f: impl FnOnce(&Document, &arxos_doc::file::FileDigest) -> R,
    ) -> Result<Option<R>, ClientError> {
        let live = lock(&self.shared.live);
        Ok(live.saved_digest()?.map(|digest| f(&live.doc, &digest)))
    }

    /// Current heads of the local replica.
    pub fn heads(&self) -> Vec<automerge::ChangeHash> {
        lock(&self.shared.live).doc.heads()
    }

    /// Whether the local replica holds the change.
    pub fn has_change(&self, hash: &automerge::ChangeHash) -> bool {
        lock(&self.shared.live).doc.has_change(hash)
    }

    /// Open conflicts, most severe first.
    pub fn conflicts(&self) -> Vec<arxos_doc::conflict::Conflict> {
        let live = lock(&self.shared.live);
        live.conflicts.list(&live.doc)
    }

    /// Applies typed commands as one change, then schedules saving and sending it. Either all
    /// apply or none does; an invalid command is returned as an error and changes nothing.
    pub fn apply(
        &self,
        ctx: &EditContext,
        summary: &str,
        cmds: Vec<arxos_doc::Command>,
    ) -> Result<ChangeSet, ClientError> {
        let set = lock(&self.shared.live).apply(ctx, summary, ChangeKind::Edit, cmds)?;
        Ok(self.applied(set))
    }

    /// Applies typed commands as one change of `kind` (a named version, a revert), like
    /// [`Self::apply`] otherwise.
    pub fn apply_as(
        &self,
        ctx: &EditContext,
        kind: ChangeKind,
        summary: &str,
        cmds: Vec<arxos_doc::Command>,
    ) -> Result<ChangeSet, ClientError> {
        let set = lock(&self.shared.live).apply(ctx, summary, kind, cmds)?;
        Ok(self.applied(set))
    }

    /// A copy of the plan to look into at leisure (history, earlier versions, diffs), taken
    /// under the engine's lock and used outside it, so the engine is never held up.
    pub fn fork(&self) -> Document {
        lock(&self.shared.live).doc.fork()
    }

    /// Settles the open conflict `id` as `choice`, as one `resolve` change that syncs like any
    /// edit (and so clears the conflict in every replica).
    pub fn resolve(
        &self,
        ctx: &EditContext,
        id: &str,
        choice: &arxos_doc::conflict::Choice,
    ) -> Result<ChangeSet, ClientError> {
        let set = {
            let mut live = lock(&self.shared.live);
            let conflict = live
                .conflicts
                .list(&live.doc)
                .into_iter()
                .find(|c| c.id == id)
                .ok_or_else(|| ClientError::Invalid(format!("conflict {id} is no longer open")))?;
            let (cmd, summary) = arxos_doc::conflict::resolution(&live.doc, &conflict, choice)?;
            live.apply(ctx, &summary, ChangeKind::Resolve, vec![cmd])?
        };
        Ok(self.applied(set))
    }

    /// Merges another replica of this plan into ours (a branch brought back): its changes
    /// are announced, saved and sent like a local edit. A document of another plan is refused.
    pub fn merge_document(&self, other: &mut Document) -> Result<ChangeSet, ClientError> {
        let set = {
            let mut live = lock(&self.shared.live);
            if other.plan_id() != live.doc.plan_id() {
                return Err(ClientError::Invalid(format!(
                    "that document holds plan {}, not this one",
                    other.plan_id().unwrap_or("(none)")
                )));
            }
            let before = live.doc.heads();
            let set = live.doc.merge(other)?;
            if live.doc.heads() != before {
                live.changed(&set);
            }
            set
        };
        // Sent even when nothing visible changed: the relay must get every change.
        self.shared.local_change.notify_one();
        Ok(self.applied(set))
    }

    /// Announces a local change and schedules saving and sending it.
    fn applied(&self, set: ChangeSet) -> ChangeSet {
        if set.is_empty() {
            return set;
        }
        let _ = self.shared.events.send(ClientEvent::Changed {
            origin: ChangeOrigin::Local,
            changes: set.clone(),
            count: 0,
        });
        if self.shared.status.borrow().state == ConnectionState::Offline {
            // No session to recount for us: count pending against the stored acknowledgements.
            engine::refresh_status(&self.shared, None, false);
        } else {
            // The session recounts once it has sent the change; until then the status must
            // not still say "in sync", or a caller waiting for sync right after an edit would
            // return before the relay has it.
            self.shared.status.send_modify(|s| {
                s.pending = s.pending.max(1);
                if matches!(
                    s.state,
                    ConnectionState::Connected | ConnectionState::Conflict
                ) {
                    s.state = ConnectionState::Syncing;
                }
            });
        }
        self.shared.local_change.notify_one();
        set
    }

    /// Asks the engine to check at once whether the relay lacks anything of ours (it does so
    /// by itself after every edit; this is for callers that want a prompt re-check).
    pub fn notify_local_change(&self) {
        self.shared.local_change.notify_one();
    }

    /// The current status.
    pub fn status(&self) -> SyncStatus {
        self.shared.status.borrow().clone()
    }

    /// A receiver that sees every status change.
    pub fn watch_status(&self) -> watch::Receiver<SyncStatus> {
        self.shared.status.subscribe()
    }

    /// Events from now on (bounded; a slow receiver skips events).
    pub fn subscribe(&self) -> broadcast::Receiver<ClientEvent> {
        self.shared.events.subscribe()
    }

    /// Latest presence of the other peers, by peer id.
    pub fn presence(&self) -> BTreeMap<String, Presence> {
        lock(&self.shared.presence).clone()
    }

    /// Heads the relay has acknowledged: every change in their history is durably stored on
    /// the relay.
    pub fn acked_heads(&self) -> Vec<automerge::ChangeHash> {
        lock(&self.shared.acked).clone()
    }

    /// The latest lock table.
    pub fn locks(&self) -> Vec<LockEntry> {
        lock(&self.shared.locks).clone()
    }

    /// Changes the relay refused (hash → reason).
    pub fn refused(&self) -> BTreeMap<String, String> {
        lock(&self.shared.meta)
            .refused
            .iter()
            .map(|(h, r)| (h.clone(), r.reason.clone()))
            .collect()
    }

    /// Sets refused changes aside so editing can continue (the engine also does this by
    /// itself when the relay refuses something): the plan as it was, refused changes
    /// included, is kept as `<file>.refused.arx`; the working plan is rebuilt without them,
    /// and the edits made after them that the relay refused only for building on them are
    /// replayed as new changes, which sync normally. Returns (changes set aside, replayed).
    pub fn discard_refused(&self) -> Result<(usize, usize), ClientError> {
        let done = engine::set_refused_aside(&self.shared)?;
        if done != (0, 0) {
            self.shared.local_change.notify_one();
        }
        Ok(done)
    }

    fn send(&self, payload: ArxPayload) -> Result<(), ClientError> {
        self.cmd_tx
            .try_send(EngineCmd::Send(payload))
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => ClientError::Busy,
                mpsc::error::TrySendError::Closed(_) => ClientError::Closed,
            })
    }

    /// Publishes our presence. Only the latest unsent presence is kept: while the engine is
    /// busy writing (or offline) a newer one replaces it, so a burst of cursor moves never
    /// queues stale positions, and presence never fills the command queue that lock
    /// requests use. The relay coalesces presence further into ticks.
    pub fn set_presence(&self, presence: Presence) -> Result<(), ClientError> {
        if self.cmd_tx.is_closed() {
            return Err(ClientError::Closed);
        }
        *lock(&self.shared.own_presence) = Some(presence.clone());
        *lock(&self.shared.presence_out) = Some(presence);
        self.shared.presence_ready.notify_one();
        Ok(())
    }

    /// Our latest presence as set by [`Self::set_presence`] (`None` until then: the engine
    /// announces name, colour and `online` by itself).
    pub fn own_presence(&self) -> Option<Presence> {
        lock(&self.shared.own_presence).clone()
    }

    /// Asks for leases on elements.
    pub fn request_locks(&self, ids: Vec<String>) -> Result<(), ClientError> {
        self.send(ArxPayload::LockRequest { ids })
    }

    /// Releases leases (all of ours when `ids` is empty).
    pub fn release_locks(&self, ids: Vec<String>) -> Result<(), ClientError> {
        self.send(ArxPayload::LockRelease { ids })
    }

    /// Stops the engine after saving the document and sidecar; returns the final status.
    pub fn shutdown(mut self) -> SyncStatus {
        self.stop();
        self.status()
    }

    /// [`SyncClient::shutdown`] for an engine started with [`SyncClient::start_on`]: waits
    /// for the final save without blocking the runtime.
    pub async fn shutdown_async(mut self) -> SyncStatus {
        if !self.owner {
            return self.status();
        }
        let _ = self.shutdown.send(true);
        match self.driver.take() {
            Some(Driver::Task(task)) => {
                let joined = task.await;
                if joined.is_err() {
                    tracing::error!("sync task panicked");
                }
            }
            Some(Driver::Thread(thread)) => {
                // Not expected on a runtime, but never leave the thread running.
                self.driver = Some(Driver::Thread(thread));
                self.stop();
            }
            None => {}
        }
        self.status()
    }

    fn stop(&mut self) {
        if !self.owner {
            return;
        }
        let _ = self.shutdown.send(true);
        match self.driver.take() {
            Some(Driver::Thread(thread)) => {
                if thread.join().is_err() {
                    tracing::error!("sync thread panicked");
                }
            }
            // A task finishes (and saves) on its runtime; dropping its handle detaches it.
            Some(Driver::Task(_)) | None => {}
        }
    }
}

impl Drop for SyncClient {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests;
