//! One open plan: its live session, what this window shows of it (floor, hidden and locked
//! layers), the selection, the undo history of this person's edits, and the canvas scene kept
//! current from the session's change events.
//!
//! Edits enter through [`Workspace::edit`] as typed commands handed to the session
//! (`SyncClient::apply`); the scene is updated from `ClientEvent::Changed` for every change,
//! ours, the relay's, or another program's append to the file, so the canvas never needs to
//! know where a change came from.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};

use arxos_doc::{ChangeSet, Command, Document, EditContext, ElementId, FloorId, LayerId};
use arxos_render::{Scene, SceneOptions, Theme};
use arxos_session::{ClientEvent, Session, SessionOptions};
use arxos_sync::client::SyncStatus;

use crate::collab::{Leases, Outbox, People, Permission};
use crate::picking::PickFilter;
use arxos_doc::undo::{History, Step, revert_commands};

mod live;
mod notify;

pub use live::Start;

/// Something the window should tell the user.
#[derive(Clone, Debug, PartialEq)]
pub enum Notice {
    /// Others changed the plan (their names).
    RemoteEdit(Vec<String>),
    /// A plain message.
    Info(String),
    /// Something went wrong.
    Error(String),
}

/// An open plan.
pub struct Workspace {
    session: Option<Session>,
    /// The plan file the session keeps.
    path: PathBuf,
    /// A scratch folder holding an untitled plan (the sample, a new plan) until Save As.
    scratch: Option<tempfile::TempDir>,
    title: String,
    events: mpsc::Receiver<Option<ClientEvent>>,
    /// The canvas cache, shared with the paint callback.
    pub scene: Arc<Mutex<Scene>>,
    /// Selected elements.
    pub selection: BTreeSet<ElementId>,
    /// This person's undo history.
    pub history: History,
    /// The floor shown.
    pub floor: Option<FloorId>,
    /// Layers hidden in this window only.
    pub hidden_layers: BTreeSet<LayerId>,
    /// Layers locked in this window (shown, not selectable or editable).
    pub locked_layers: BTreeSet<LayerId>,
    author: String,
    /// Who else is here.
    pub people: People,
    /// What may be changed (role, grant, others' leases), refreshed every frame.
    pub permission: Permission,
    /// Free text shown to the others beside our name ("on site until 3").
    pub status_text: String,
    /// The activity in the presence this window last sent (to notice one set from outside).
    activity_sent: Option<String>,
    /// The person followed: our view follows theirs until we move.
    pub following: Option<String>,
    outbox: Outbox,
    leases: Leases,
    repaint: Option<egui::Context>,
    /// Conflicts open at the last status, to announce new ones.
    known_conflicts: usize,
    /// How many change sets arrived (panels re-read what they show when it moves).
    pub changes_seen: u64,
    /// Elements highlighted on the canvas (what changed since a version compared).
    pub highlighted: BTreeSet<ElementId>,
    /// What to tell this person about (`notifications.*`).
    pub notifications: arxos_session::config::Notifications,
    /// Comments mentioning this person that were already told (or there at opening).
    mentions_told: BTreeSet<String>,
    /// This outage was told already (a relay that stays down is told once).
    outage_told: bool,
    /// The plan's comment threads, as of `threads_at` changes.
    pub threads: Vec<arxos_doc::comments::Thread>,
    threads_at: Option<u64>,
}

impl std::fmt::Debug for Workspace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workspace")
            .field("path", &self.path)
            .field("title", &self.title)
            .finish_non_exhaustive()
    }
}

impl Workspace {
    /// Opens `path`: in sync through the invite its sidecar remembers, if any, else local.
    pub fn open(path: &Path, repaint: Option<egui::Context>) -> Result<Self, String> {
        let opts = SessionOptions {
            client_kind: "editor".into(),
            ..SessionOptions::default()
        };
        let session = match arxos_session::remembered_invite(path) {
            Ok(invite) => Session::open(path, Some(invite), &opts),
            Err(_) => Session::local(path, &opts),
        }
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        let title = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        Self::with_session(session, path.to_owned(), None, title, repaint)
    }

    /// Opens a plan made in memory (the bundled sample, a new plan) as an untitled copy in a
    /// scratch folder: edits are kept there until Save As puts them somewhere.
    pub fn untitled(
        mut doc: Document,
        name: &str,
        repaint: Option<egui::Context>,
    ) -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("cannot make a scratch folder: {e}"))?;
        let path = dir.path().join(format!("{name}.arx"));
        arxos_doc::file::PlanFile::create(&path, &mut doc).map_err(|e| e.to_string())?;
        let opts = SessionOptions {
            client_kind: "editor".into(),
            ..SessionOptions::default()
        };
        let session = Session::local(&path, &opts).map_err(|e| e.to_string())?;
        let title = format!("{} (not saved)", doc.meta().name);
        Self::with_session(session, path, Some(dir), title, repaint)
    }

    /// The plan as it was at a named version, to look at only: an untitled, read-only copy
    /// (the window's tools and edits refuse with why).
    pub fn preview(
        doc: Document,
        version: &str,
        repaint: Option<egui::Context>,
    ) -> Result<Self, String> {
        let plan = doc.meta().name.clone();
        let mut ws = Self::untitled(doc, "preview", repaint)?;
        ws.title = format!("{plan} at version {version} (preview, read-only)");
        ws.permission.preview = true;
        Ok(ws)
    }

    fn with_session(
        session: Session,
        path: PathBuf,
        scratch: Option<tempfile::TempDir>,
        title: String,
        repaint: Option<egui::Context>,
    ) -> Result<Self, String> {
        let scene = session
            .client()
            .read(|doc| Scene::from_document(doc, Theme::light()))
            .map_err(|e| format!("cannot draw the plan: {e}"))?;
        let floor = session
            .client()
            .read(|doc| doc.floors_ordered().first().map(|f| f.id.clone()));
        let events = live::forward_events(&session, repaint.clone())?;
        let author = session.identity().name.clone();
        let known_conflicts = session.client().status().conflicts;
        let mut workspace = Self {
            session: Some(session),
            path,
            scratch,
            title,
            events,
            scene: Arc::new(Mutex::new(scene)),
            selection: BTreeSet::new(),
            history: History::default(),
            floor,
            hidden_layers: BTreeSet::new(),
            locked_layers: BTreeSet::new(),
            author,
            people: People::default(),
            permission: Permission::default(),
            status_text: String::new(),
            activity_sent: None,
            following: None,
            outbox: Outbox::default(),
            leases: Leases::default(),
            repaint,
            known_conflicts,
            changes_seen: 0,
            highlighted: BTreeSet::new(),
            threads: Vec::new(),
            threads_at: None,
            notifications: arxos_session::config::Notifications::current(),
            mentions_told: BTreeSet::new(),
            outage_told: false,
        };
        workspace.mentions_told = workspace.mentions_of_me().into_keys().collect();
        workspace.serve_controls();
        Ok(workspace)
    }

    fn session(&self) -> Result<&Session, String> {
        self.session
            .as_ref()
            .ok_or_else(|| "the plan is closed".to_owned())
    }

    /// The plan file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What the title bar shows.
    pub fn title(&self) -> &str {
        &self.title
    }

    /// Whether the plan lives in a scratch folder until Save As.
    pub fn is_untitled(&self) -> bool {
        self.scratch.is_some()
    }

    /// Who edits.
    pub fn author(&self) -> &str {
        &self.author
    }

    /// The session (presence, locks, invites).
    pub fn live(&self) -> Option<&Session> {
        self.session.as_ref()
    }

    /// Reads the plan.
    pub fn read<R>(&self, f: impl FnOnce(&Document) -> R) -> Option<R> {
        self.session.as_ref().map(|s| s.client().read(f))
    }

    /// The sync state.
    pub fn status(&self) -> SyncStatus {
        self.session
            .as_ref()
            .map(|s| s.client().status())
            .unwrap_or_default()
    }

    /// What this window shows.
    pub fn scene_options(&self) -> SceneOptions {
        SceneOptions {
            floor: self.floor.clone(),
            hidden_layers: self.hidden_layers.clone(),
        }
    }

    /// What may be picked: the floor shown, minus hidden and locked layers (here or in the
    /// plan).
    pub fn pick_filter(&self) -> PickFilter {
        let mut excluded: BTreeSet<LayerId> = self
            .hidden_layers
            .union(&self.locked_layers)
            .cloned()
            .collect();
        if let Some(hidden) = self.read(|doc| {
            doc.layers()
                .values()
                .filter(|l| !l.visible)
                .map(|l| l.id.clone())
                .collect::<Vec<_>>()
        }) {
            excluded.extend(hidden);
        }
        PickFilter {
            floor: self.floor.clone(),
            excluded_layers: excluded,
        }
    }

    /// Drops selected elements that are gone or can no longer be picked (a layer was hidden
    /// or locked).
    pub fn prune_selection(&mut self) {
        let filter = self.pick_filter();
        let keep: Option<BTreeSet<ElementId>> = self.read(|doc| {
            self.selection
                .iter()
                .filter(|id| {
                    doc.element(id)
                        .is_some_and(|e| !filter.excluded_layers.contains(&e.layer))
                })
                .cloned()
                .collect()
        });
        if let Some(keep) = keep {
            self.selection = keep;
        }
    }

    /// Applies `cmds` as one change and records it for undo. `touched` are the existing
    /// elements the commands change; `created` the ids of new ones.
    pub fn edit(
        &mut self,
        label: &str,
        touched: &[ElementId],
        created: &[ElementId],
        cmds: Vec<Command>,
    ) -> Result<ChangeSet, String> {
        if cmds.is_empty() {
            return Ok(ChangeSet::default());
        }
        let client = self.session()?.client();
        if let Some(why) = client.read(|doc| self.refusal(doc, touched, &cmds)) {
            return Err(why);
        }
        let mut step = client.read(|doc| Step::begin(label, doc, touched));
        let set = client
            .apply(&EditContext::now(&self.author), label, cmds)
            .map_err(|e| e.to_string())?;
        client.read(|doc| step.finish(doc, created));
        self.history.record(step);
        Ok(set)
    }

    /// Takes back this person's last edit; says how many fields were left to the others.
    pub fn undo(&mut self) -> Result<Option<String>, String> {
        let Some(step) = self.history.pop_undo() else {
            return Ok(None);
        };
        match self.apply_step(&step, "undo") {
            Ok(kept) => {
                self.history.undone(&step);
                Ok(Some(describe("Undid", &step.label, kept)))
            }
            Err(e) => {
                self.history.restore_undo(step);
                Err(e)
            }
        }
    }

    /// Does again what undo took back.
    pub fn redo(&mut self) -> Result<Option<String>, String> {
        let Some(step) = self.history.pop_redo() else {
            return Ok(None);
        };
        match self.apply_step(&step, "redo") {
            Ok(kept) => {
                self.history.redone(&step);
                Ok(Some(describe("Redid", &step.label, kept)))
            }
            Err(e) => {
                self.history.restore_redo(&step);
                Err(e)
            }
        }
    }

    fn apply_step(&self, step: &Step, what: &str) -> Result<usize, String> {
        let client = self.session()?.client();
        let (cmds, kept) = client.read(|doc| revert_commands(step, doc));
        let touched: Vec<ElementId> = step.after.keys().cloned().collect();
        if let Some(why) = client.read(|doc| self.refusal(doc, &touched, &cmds)) {
            return Err(why);
        }
        if !cmds.is_empty() {
            client
                .apply(
                    &EditContext::now(&self.author),
                    &format!("{what} {}", step.label),
                    cmds,
                )
                .map_err(|e| e.to_string())?;
        }
        Ok(kept)
    }

    /// Brings the scene up to date with every change that arrived; returns what to tell the
    /// user.
    pub fn pump(&mut self) -> Vec<Notice> {
        let mut notices = Vec::new();
        let mut rebuild = false;
        let mut sets = Vec::new();
        while let Ok(msg) = self.events.try_recv() {
            match msg {
                None => rebuild = true,
                Some(ClientEvent::Changed {
                    origin, changes, ..
                }) => {
                    if origin != arxos_session::ChangeOrigin::Local && !changes.authors.is_empty() {
                        let others: Vec<String> = changes
                            .authors
                            .iter()
                            .filter(|a| **a != self.author)
                            .cloned()
                            .collect();
                        if !others.is_empty() {
                            notices.push(Notice::RemoteEdit(others));
                        }
                    }
                    if origin != arxos_session::ChangeOrigin::Local
                        && changes.other.contains(arxos_doc::schema::root::COMMENTS)
                    {
                        self.tell_mentions(&mut notices);
                    }
                    rebuild |= changes.rebuilt;
                    self.changes_seen += 1;
                    sets.push(changes);
                }
                Some(ClientEvent::Refused(r)) => notices.push(Notice::Error(format!(
                    "the relay refused {} of your changes (see the session panel)",
                    r.len()
                ))),
                Some(ClientEvent::Status(st)) => {
                    // New conflicts (typically right after reconnecting) are announced once;
                    // the panel lists them.
                    self.tell_sync_error(&st, &mut notices);
                    if st.conflicts > self.known_conflicts && self.notifications.conflicts {
                        let n = st.conflicts - self.known_conflicts;
                        notices.push(Notice::Info(format!(
                            "{} — see the Conflicts panel",
                            match n {
                                1 => "A new conflict".to_owned(),
                                n => format!("{n} new conflicts"),
                            }
                        )));
                    }
                    self.known_conflicts = st.conflicts;
                }
                Some(ClientEvent::WrongPlan { .. }) => notices.push(Notice::Error(
                    "this session holds another plan: nothing was sent".into(),
                )),
                Some(_) => {}
            }
        }
        if sets.is_empty() && !rebuild {
            return notices;
        }
        let Some(session) = &self.session else {
            return notices;
        };
        // Lock order everywhere: the plan (inside `read`), then the scene.
        session.client().read(|doc| {
            let mut scene = crate::bridge::lock_scene(&self.scene);
            if rebuild {
                scene.rebuild(doc);
            } else {
                for set in &sets {
                    scene.apply_changes(doc, set);
                }
            }
            // A selected element someone deleted is no longer selected.
            self.selection.retain(|id| doc.element(id).is_some());
            if self
                .floor
                .as_ref()
                .is_some_and(|f| !doc.floors().contains_key(f))
            {
                self.floor = doc.floors_ordered().first().map(|f| f.id.clone());
            }
        });
        notices
    }

    /// Re-reads the comment threads when the plan changed since they were read.
    pub fn refresh_threads(&mut self) {
        if self.threads_at == Some(self.changes_seen) {
            return;
        }
        if let Some(t) = self.read(arxos_doc::comments::threads) {
            self.threads = t;
            self.threads_at = Some(self.changes_seen);
        }
    }

    /// Stops the session after a final save.
    pub fn close(&mut self) {
        if let Some(s) = self.session.take() {
            let _ = s.leave();
        }
    }

    /// Keeps a picture of the plan as its file holds it in `cache`, for the next open to show
    /// at once (see `crate::opening`): saved first, then drawn from the document under the
    /// file's digest. Nothing is kept for an untitled plan, or when the file and the plan
    /// differ (another program wrote it since); returns whether a picture was written.
    pub fn keep_picture(&self, cache: &arxos_render::SceneCache) -> Result<bool, String> {
        if self.is_untitled() {
            return Ok(false);
        }
        let client = self.session()?.client();
        client.save_now();
        let theme = crate::bridge::lock_scene(&self.scene).theme().clone();
        let kept = client
            .read_saved(|doc, digest| -> Result<bool, String> {
                if cache.contains(digest, &theme) {
                    return Ok(false);
                }
                let scene = Scene::from_document(doc, theme).map_err(|e| e.to_string())?;
                cache
                    .store(digest, &scene, &arxos_render::SnapshotInfo::of(doc))
                    .map_err(|e| format!("{}: {e}", cache.dir().display()))?;
                Ok(true)
            })
            .map_err(|e| e.to_string())?;
        kept.unwrap_or(Ok(false))
    }

    /// Saves the plan under `target` and keeps working there. The file is written completely
    /// next to the target and renamed over it, so a failure leaves any old file intact.
    pub fn save_as(&mut self, target: &Path, repaint: Option<egui::Context>) -> Result<(), String> {
        let mut doc = {
            let client = self.session()?.client();
            let bytes = client.read(|doc| doc.automerge().clone().save());
            Document::load(&bytes).map_err(|e| e.to_string())?
        };
        let dir = target
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let tmp = tempfile::Builder::new()
            .prefix(".arxos-save")
            .tempfile_in(dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?;
        let tmp_path = tmp.into_temp_path();
        std::fs::remove_file(&tmp_path).map_err(|e| e.to_string())?;
        arxos_doc::file::PlanFile::create(&tmp_path, &mut doc).map_err(|e| e.to_string())?;
        tmp_path
            .persist(target)
            .map_err(|e| format!("{}: {}", target.display(), e.error))?;
        let mut next = Self::open(target, repaint)?;
        next.history = std::mem::take(&mut self.history);
        next.floor.clone_from(&self.floor);
        next.hidden_layers = std::mem::take(&mut self.hidden_layers);
        next.locked_layers = std::mem::take(&mut self.locked_layers);
        next.selection = std::mem::take(&mut self.selection);
        self.close();
        *self = next;
        Ok(())
    }
}

impl Drop for Workspace {
    fn drop(&mut self) {
        self.close();
    }
}

fn describe(verb: &str, label: &str, kept: usize) -> String {
    match kept {
        0 => format!("{verb} {label}"),
        1 => format!("{verb} {label} (1 field someone else changed since was left as they set it)"),
        n => format!("{verb} {label} ({n} fields others changed since were left as they set them)"),
    }
}
