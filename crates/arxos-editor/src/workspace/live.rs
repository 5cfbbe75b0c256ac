//! The live side of an open plan: switching its session (host, join, share to a relay,
//! connect with an invite, leave), the engine's events handed to the UI thread, presence
//! broadcast, leases on what the person works on, and the check every edit passes first.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use arxos_doc::{Command, Document, ElementId, Point, RecordSet};
use arxos_render::View;
use arxos_session::{ClientEvent, HostOptions, Session, SessionOptions};
use arxos_sync::protocol::payload::{Cursor, Presence, PresenceStatus, Viewport};
use arxos_sync::{InviteCode, Role};

use super::Workspace;
use crate::collab::{Offer, Permission, unix_micros};

/// How long joining may take to clone the plan.
const CLONE_TIMEOUT: Duration = Duration::from_mins(2);

/// Hands the engine's events (a tokio broadcast) to the UI thread through a channel and wakes
/// it, so a remote edit or cursor shows without waiting for the next input. `None` stands for
/// missed events: the UI rebuilds its caches instead.
pub(super) fn forward_events(
    session: &Session,
    repaint: Option<egui::Context>,
) -> Result<mpsc::Receiver<Option<ClientEvent>>, String> {
    let (tx, events) = mpsc::channel();
    let mut rx = session.client().subscribe();
    std::thread::Builder::new()
        .name("arxos-editor-events".into())
        .spawn(move || {
            use tokio::sync::broadcast::error::RecvError;
            loop {
                let msg = match rx.blocking_recv() {
                    Ok(ev) => Some(ev),
                    Err(RecvError::Lagged(_)) => None,
                    Err(RecvError::Closed) => break,
                };
                if tx.send(msg).is_err() {
                    break;
                }
                if let Some(ctx) = &repaint {
                    ctx.request_repaint();
                }
            }
        })
        .map_err(|e| format!("cannot start the event thread: {e}"))?;
    Ok(events)
}

/// The engine of a shared plan (locks mean nothing alone).
fn shared(session: Option<&Session>) -> Result<&arxos_sync::client::SyncClient, String> {
    session
        .map(Session::client)
        .filter(|c| c.invite().is_some())
        .ok_or_else(|| "locks are for shared plans: host or join a session first".to_owned())
}

fn options() -> SessionOptions {
    SessionOptions {
        client_kind: "editor".into(),
        ..SessionOptions::default()
    }
}

impl Workspace {
    /// Joins the session behind `code`, keeping the plan in `file` (cloned first when it does
    /// not exist). Blocks while cloning: call it off the UI thread.
    pub fn join(
        code: &InviteCode,
        file: &Path,
        repaint: Option<egui::Context>,
    ) -> Result<Self, String> {
        if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let session = Session::join(code, file, &options(), CLONE_TIMEOUT, &|_| {})
            .map_err(|e| format!("cannot join: {e}"))?;
        let title = file.file_name().map_or_else(
            || file.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        Self::with_session(session, file.to_owned(), None, title, repaint)
    }

    /// Leaves the session and keeps working on the file alone; edits made now sync when the
    /// plan reconnects (the sidecar remembers the invite).
    pub fn leave(&mut self) -> Result<(), String> {
        let session = Session::local(&self.path, &options()).map_err(|e| e.to_string())?;
        self.attach(session)
    }

    /// Swaps the session under this workspace (one of [`Start`]'s); the old one stops after
    /// a final save.
    pub fn attach(&mut self, session: Session) -> Result<(), String> {
        let events = forward_events(&session, self.repaint.clone())?;
        session.client().read(|doc| {
            crate::bridge::lock_scene(&self.scene).rebuild(doc);
        });
        self.events = events;
        if let Some(old) = self.session.replace(session) {
            let _ = old.leave();
        }
        // After the old one left: it held the file's control socket until then.
        self.serve_controls();
        self.outbox.reset();
        self.leases.clear();
        self.people = crate::collab::People::default();
        self.following = None;
        Ok(())
    }

    /// Lets `arxos sync pause|resume|push|pull|queue FILE` and `arxos presence`/`follow`
    /// reach this window's session, when the plan is shared (a plan alone has nothing to
    /// steer). Without the socket the window works as before, so a failure is only logged.
    pub(super) fn serve_controls(&mut self) {
        let Some(session) = self.session.as_mut() else {
            return;
        };
        if session.client().invite().is_none() {
            return;
        }
        match session.serve_controls() {
            Ok(socket) => tracing::info!(socket = %socket.display(), "session controls ready"),
            Err(err) => tracing::warn!(%err, "session controls unavailable"),
        }
    }

    /// Whether the plan is shared (has an invite), connected or not.
    pub fn is_shared(&self) -> bool {
        self.session
            .as_ref()
            .is_some_and(|s| s.client().invite().is_some())
    }

    /// Our peer id in the session.
    pub fn me(&self) -> String {
        self.session
            .as_ref()
            .map(|s| s.client().peer_id().as_str().to_owned())
            .unwrap_or_default()
    }

    /// Our colour.
    pub fn color(&self) -> String {
        self.session
            .as_ref()
            .map(|s| s.identity().color.clone())
            .unwrap_or_default()
    }

    /// Our role (`None` for a plan that is not shared, or before the relay said).
    pub fn role(&self) -> Option<Role> {
        self.status().role
    }

    /// Takes the engine's latest people and lock table; returns whether a cursor is still
    /// gliding (the window keeps repainting until it settles).
    pub fn refresh_collab(&mut self, now: Instant) -> bool {
        let Some(session) = &self.session else {
            return false;
        };
        let client = session.client();
        self.people.update(client.presence(), now);
        let status = client.status();
        let preview = self.permission.preview;
        self.permission = Permission::new(
            status.role,
            status.grant,
            client.locks(),
            client.peer_id().as_str(),
        );
        self.permission.preview = preview;
        if self
            .following
            .as_ref()
            .is_some_and(|f| !self.people.by_peer.contains_key(f))
        {
            self.following = None;
        }
        self.people.moving(now)
    }

    /// Tells the others where we are and what we do; returns when to offer again if this was
    /// too soon after the last broadcast.
    pub fn broadcast(
        &mut self,
        cursor: Option<Point>,
        view: Option<&View>,
        idle: Duration,
        now: Instant,
    ) -> Option<Duration> {
        let session = self.session.as_ref()?;
        session.client().invite()?;
        // A status set from outside (`arxos presence set-status`) becomes this window's.
        if let Some(own) = session.client().own_presence()
            && own.activity != self.activity_sent
        {
            self.status_text = own.activity.clone().unwrap_or_default();
            self.activity_sent = own.activity;
        }
        let floor = self
            .floor
            .as_ref()
            .map(|f| f.as_str().to_owned())
            .unwrap_or_default();
        let status = if !self.leases.is_empty() {
            PresenceStatus::Editing
        } else if idle >= crate::collab::AWAY_AFTER {
            PresenceStatus::Away
        } else {
            PresenceStatus::Online
        };
        let activity = if self.status_text.trim().is_empty() {
            self.activity()
        } else {
            Some(self.status_text.trim().to_owned())
        };
        let presence = Presence {
            user: self.author.clone(),
            color: session.identity().color.clone(),
            status,
            cursor: cursor.map(|p| Cursor {
                floor: floor.clone(),
                x_mm: p.x,
                y_mm: p.y,
            }),
            selection: self
                .selection
                .iter()
                .map(|i| i.as_str().to_owned())
                .collect(),
            viewport: view.map(|v| Viewport {
                floor: floor.clone(),
                center_x_mm: v.center.x,
                center_y_mm: v.center.y,
                zoom: v.zoom_px_per_mm,
            }),
            activity,
            role: None,
            client: Some("editor".into()),
            sent_at_us: unix_micros(),
        };
        match self.outbox.offer(presence, now) {
            Offer::Send(p) => {
                self.activity_sent.clone_from(&p.activity);
                if let Err(e) = session.client().set_presence(*p) {
                    tracing::debug!("presence not sent: {e}");
                }
                None
            }
            Offer::Same => None,
            Offer::Later(wait) => Some(wait),
        }
    }

    /// "editing outlet:R45-23", "editing 3 elements", "on floor Level 2".
    fn activity(&self) -> Option<String> {
        self.read(|doc| {
            if !self.leases.is_empty() {
                let ids = &self.selection;
                return match ids.len() {
                    1 => ids
                        .first()
                        .and_then(|id| doc.element(id))
                        .map(|e| format!("editing {}", crate::collab::element_name(e))),
                    n => Some(format!("editing {n} elements")),
                };
            }
            self.floor
                .as_ref()
                .and_then(|f| doc.floors().get(f).map(|f| format!("on {}", f.name)))
        })
        .flatten()
    }

    /// The person now works on `ids` (a drag, an inspector field): leases are requested for
    /// what is new and released for what is no longer worked on. The engine renews held
    /// leases with its heartbeat; the relay drops them when we disconnect.
    pub fn work_on(&mut self, ids: &BTreeSet<ElementId>) {
        let (take, drop) = self.leases.work_on(ids);
        let Some(client) = self.session.as_ref().map(Session::client) else {
            return;
        };
        if client.invite().is_none() {
            return;
        }
        if !take.is_empty()
            && let Err(e) = client.request_locks(take)
        {
            tracing::debug!("leases not requested: {e}");
        }
        if !drop.is_empty()
            && let Err(e) = client.release_locks(drop)
        {
            tracing::debug!("leases not released: {e}");
        }
    }

    /// Locks `ids` for us until unlocked (a context-menu lock of elements, a layer or a
    /// floor); says how many were asked for. Others see the badge and cannot edit them.
    pub fn lock(&mut self, ids: &[ElementId]) -> Result<usize, String> {
        let client = shared(self.session.as_ref())?;
        let take = self.leases.lock(ids);
        let n = take.len();
        if !take.is_empty() {
            client.request_locks(take).map_err(|e| e.to_string())?;
        }
        Ok(n)
    }

    /// Unlocks what [`Self::lock`] locked.
    pub fn unlock(&mut self, ids: &[ElementId]) -> Result<usize, String> {
        let client = shared(self.session.as_ref())?;
        let drop = self.leases.unlock(ids);
        let n = drop.len();
        if !drop.is_empty() {
            client.release_locks(drop).map_err(|e| e.to_string())?;
        }
        Ok(n)
    }

    /// Whether we locked `id` explicitly.
    pub fn locked_by_me(&self, id: &ElementId) -> bool {
        self.leases.is_locked(id)
    }

    /// Applies plan-level records (rules, versions) as one change of `kind`, after the same
    /// permission check as [`Workspace::edit`]; not on the undo stack, which holds drawing
    /// edits (a rule is removed, a version deleted, by another record change).
    pub fn apply_records(
        &self,
        kind: arxos_doc::ChangeKind,
        label: &str,
        cmds: Vec<Command>,
    ) -> Result<(), String> {
        let client = self
            .session
            .as_ref()
            .map(Session::client)
            .ok_or_else(|| "the plan is closed".to_owned())?;
        if let Some(why) = client.read(|doc| self.refusal(doc, &[], &cmds)) {
            return Err(why);
        }
        client
            .apply_as(
                &arxos_doc::EditContext::now(&self.author),
                kind,
                label,
                cmds,
            )
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// Why `cmds` (changing the existing `touched`) may not be applied, if so: our role, our
    /// grant, or someone else's lease. A commenter may still write comments.
    pub(super) fn refusal(
        &self,
        doc: &Document,
        touched: &[ElementId],
        cmds: &[Command],
    ) -> Option<String> {
        let only_comments = cmds.iter().all(|c| {
            matches!(
                c,
                Command::PutRecord {
                    set: RecordSet::Comments,
                    ..
                } | Command::DeleteRecord {
                    set: RecordSet::Comments,
                    ..
                }
            )
        });
        if only_comments && self.permission.role != Some(Role::Viewer) {
            return None;
        }
        if let Some(why) = self.permission.refuse(doc, touched) {
            return Some(why);
        }
        cmds.iter().find_map(|c| match c {
            Command::Create(n) => self
                .permission
                .refuse_new(n.floor.as_str(), n.layer.as_str()),
            _ => None,
        })
    }
}

/// A new session for a plan file, started off the UI thread (hosting starts a relay and
/// uploads the plan; sharing and connecting talk to a relay), then given to
/// [`Workspace::attach`].
#[derive(Clone, Debug)]
pub enum Start {
    /// Host from this machine on this address.
    Host(SocketAddr),
    /// Share into a new room on a relay, with its admin token.
    Share {
        /// The relay's address.
        relay: String,
        /// Its admin token.
        admin_token: String,
    },
    /// Keep the plan in sync through an invite.
    Connect(InviteCode),
    /// Through the invite the plan's sidecar remembers.
    Reconnect,
}

impl Start {
    /// Starts the session on `file`; with sharing, also the editor invite made for others.
    pub fn run(self, file: &Path) -> Result<(Session, Option<InviteCode>), String> {
        match self {
            Self::Host(listen) => Session::host(file, &HostOptions::new(listen), &options())
                .map(|s| (s, None))
                .map_err(|e| format!("cannot host: {e}")),
            Self::Share { relay, admin_token } => {
                let opts = arxos_sync::admin::ShareOptions {
                    relay: relay.trim().to_owned(),
                    admin_token: admin_token.trim().to_owned(),
                    role: Role::Editor,
                    grant: arxos_sync::Grant::default(),
                    expires_in_secs: None,
                    hard_locks: false,
                    timeout: Duration::from_mins(1),
                };
                let out = arxos_sync::admin::share(file, &opts)
                    .map_err(|e| format!("cannot share: {e}"))?;
                let session = Session::open(file, Some(out.owner_code), &options())
                    .map_err(|e| e.to_string())?;
                Ok((session, Some(out.invite_code)))
            }
            Self::Connect(code) => Session::open(file, Some(code), &options())
                .map(|s| (s, None))
                .map_err(|e| format!("cannot connect: {e}")),
            Self::Reconnect => Session::open(file, None, &options())
                .map(|s| (s, None))
                .map_err(|e| format!("cannot reconnect: {e}")),
        }
    }
}
