//! Branches and change proposals in the History section: create one (its own `.arx` beside
//! the plan), open it in this window, review a proposal (approve, request changes), merge it
//! back (its concurrent edits then show in the Conflicts panel) or close it.
//!
//! Every record goes through the session as typed commands (`arxos_doc::branches::stage_*`,
//! applied by `Workspace::apply_records`, which checks permissions), and a merge brings the
//! branch's changes into the session's replica like a remote change (`SyncClient::
//! merge_document`), so the others receive both.

use std::path::PathBuf;

use arxos_doc::branches::{self, Branch, BranchState, ReviewState, Staged};
use arxos_doc::workflow::{branch_path, default_branch_path};
use arxos_doc::{EditContext, file::PlanFile};

use super::EditorApp;
use crate::workspace::Workspace;

/// The branches part of the History section.
#[derive(Debug, Default)]
pub(crate) struct BranchesUi {
    name: String,
    /// A proposal's description, or what should change when requesting changes.
    note: String,
    list: Vec<Branch>,
    /// The workspace's change count the list was read at.
    read_at: Option<u64>,
}

/// What a click asks for; done after the section is drawn (opening replaces the workspace).
enum Act {
    Create { proposal: bool },
    Open(Branch),
    Merge(Branch),
    Review { branch: Branch, approve: bool },
    Close(Branch),
}

impl EditorApp {
    /// Branches and proposals, below the versions.
    pub(super) fn branches_section(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        let Some(ws) = self.ws.as_mut() else { return };
        let read_only = ws.permission.read_only().map(str::to_owned);
        let st = &mut self.history_ui.branches;
        if st.read_at != Some(ws.changes_seen) {
            st.list = ws.read(branches::list_branches).unwrap_or_default();
            st.read_at = Some(ws.changes_seen);
        }
        ui.add_space(4.0);
        ui.weak("Branches and proposals");
        let mut act = None;
        let why_not = read_only.clone().or_else(|| {
            ws.is_untitled()
                .then(|| "save the plan first: a branch is a file beside it".to_owned())
        });
        ui.horizontal(|ui| {
            ui.add(
                egui::TextEdit::singleline(&mut st.name)
                    .desired_width(110.0)
                    .hint_text("branch name"),
            );
            for (label, proposal, hint) in [
                ("Branch", false, "Fork the plan into a file of its own"),
                (
                    "Propose",
                    true,
                    "A branch that is reviewed before it is merged",
                ),
            ] {
                if ui
                    .add_enabled(why_not.is_none(), egui::Button::new(label))
                    .on_hover_text(hint)
                    .on_disabled_hover_text(why_not.clone().unwrap_or_default())
                    .clicked()
                {
                    act = Some(Act::Create { proposal });
                }
            }
        });
        ui.add(
            egui::TextEdit::singleline(&mut st.note)
                .desired_width(f32::INFINITY)
                .hint_text("description, or what should change"),
        );
        for b in st.list.iter().rev() {
            ui.horizontal_wrapped(|ui| {
                ui.label(egui::RichText::new(&b.name).strong());
                ui.weak(describe(b));
                if b.state != BranchState::Open {
                    return;
                }
                if ui
                    .small_button("Open")
                    .on_hover_text("Work on it in this window")
                    .clicked()
                {
                    act = Some(Act::Open(b.clone()));
                }
                let enabled = read_only.is_none();
                let button = |ui: &mut egui::Ui, label: &str, hint: &str| {
                    ui.add_enabled(enabled, egui::Button::new(label).small())
                        .on_hover_text(hint)
                        .on_disabled_hover_text(read_only.clone().unwrap_or_default())
                        .clicked()
                };
                if button(ui, "Merge", "Bring its changes into this plan") {
                    act = Some(Act::Merge(b.clone()));
                }
                if b.proposal {
                    if button(ui, "Approve", "Approve the proposal") {
                        act = Some(Act::Review {
                            branch: b.clone(),
                            approve: true,
                        });
                    }
                    if button(
                        ui,
                        "Request changes",
                        "Say what should change (in the box above)",
                    ) {
                        act = Some(Act::Review {
                            branch: b.clone(),
                            approve: false,
                        });
                    }
                }
                if button(ui, "Close", "Abandon it (its file is kept)") {
                    act = Some(Act::Close(b.clone()));
                }
            });
        }
        let Some(act) = act else { return };
        let (name, note) = (st.name.trim().to_owned(), st.note.trim().to_owned());
        let done = match act {
            Act::Open(b) => match branch_path(ws.path(), &b) {
                Ok(path) => {
                    self.open_path(&ctx, &path);
                    return;
                }
                Err(e) => Err(e.to_string()),
            },
            Act::Create { proposal } => create(ws, &name, &note, proposal),
            Act::Merge(b) => merge(ws, &b),
            Act::Review { branch, approve } => ws
                .read(|doc| {
                    let cx = EditContext::now(ws.author());
                    branches::stage_review(doc, &cx, &branch.name, approve, Some(&note))
                })
                .ok_or_else(|| "the plan is closed".to_owned())
                .and_then(|r| r.map_err(|e| e.to_string()))
                .and_then(|(b, staged)| {
                    apply(ws, staged)?;
                    Ok(if approve {
                        format!("Approved {}", b.name)
                    } else {
                        format!("Asked for changes on {}", b.name)
                    })
                }),
            Act::Close(b) => ws
                .read(|doc| branches::stage_close(doc, &b.name))
                .ok_or_else(|| "the plan is closed".to_owned())
                .and_then(|r| r.map_err(|e| e.to_string()))
                .and_then(|(b, staged)| {
                    apply(ws, staged)?;
                    Ok(format!("Closed {} (its file is kept)", b.name))
                }),
        };
        match done {
            Ok(message) => {
                let st = &mut self.history_ui.branches;
                st.name.clear();
                st.note.clear();
                st.read_at = None;
                self.toast(&ctx, message, false);
            }
            Err(e) => self.toast(&ctx, e, true),
        }
    }
}

/// "proposal · approved · by ana, 5 min ago".
fn describe(b: &Branch) -> String {
    let mut parts = vec![if b.proposal { "proposal" } else { "branch" }.to_owned()];
    match (b.state, b.review) {
        (BranchState::Open, Some(ReviewState::Approved)) => parts.push("approved".into()),
        (BranchState::Open, Some(ReviewState::ChangesRequested)) => {
            parts.push("changes requested".into());
        }
        (BranchState::Open, _) => {}
        (state, _) => parts.push(state.as_str().to_owned()),
    }
    parts.push(format!(
        "by {}, {}",
        b.created_by,
        super::conflicts::when(b.time_ms)
    ));
    parts.join(" · ")
}

fn apply(ws: &Workspace, staged: Staged) -> Result<(), String> {
    ws.apply_records(staged.kind, &staged.summary, staged.commands)
}

/// Forks the plan into `<stem>.<name>.arx` and records the branch through the session; the
/// file goes again if the record cannot be made.
fn create(ws: &Workspace, name: &str, note: &str, proposal: bool) -> Result<String, String> {
    let target: PathBuf = default_branch_path(ws.path(), name);
    if target.exists() {
        return Err(format!("{} exists already", target.display()));
    }
    let client = ws
        .live()
        .map(arxos_session::Session::client)
        .ok_or_else(|| "the plan is closed".to_owned())?;
    let cx = EditContext::now(ws.author());
    let mut fork = client.fork();
    let shown = target.display().to_string();
    let description = if proposal { note } else { "" };
    let (branch, mut doc, staged) =
        branches::stage_create(&mut fork, &cx, name, None, &shown, description, proposal)
            .map_err(|e| e.to_string())?;
    PlanFile::create(&target, &mut doc).map_err(|e| e.to_string())?;
    if let Err(e) = apply(ws, staged) {
        let _ = std::fs::remove_file(&target);
        return Err(e);
    }
    let what = if proposal { "proposal" } else { "branch" };
    Ok(format!("Created {what} {} in {shown}", branch.name))
}

/// Brings the branch file's changes into the session, then marks it merged.
fn merge(ws: &Workspace, b: &Branch) -> Result<String, String> {
    let client = ws
        .live()
        .map(arxos_session::Session::client)
        .ok_or_else(|| "the plan is closed".to_owned())?;
    let path = branch_path(ws.path(), b).map_err(|e| e.to_string())?;
    let mut doc = arxos_doc::file::load(&path).map_err(|e| e.to_string())?;
    let branch =
        branches::check_merge(&client.fork(), &doc, &b.name, false).map_err(|e| e.to_string())?;
    let heads = doc.heads();
    let changes = client.merge_document(&mut doc).map_err(|e| e.to_string())?;
    let cx = EditContext::now(ws.author());
    let (branch, staged) = branches::merged(branch, &heads, &changes, &cx);
    apply(ws, staged)?;
    let open = client.status().conflicts;
    Ok(if open > 0 {
        format!(
            "Merged {}; {} — see the Conflicts panel",
            branch.name,
            crate::actions::plural(open, "conflict")
        )
    } else {
        format!("Merged {}", branch.name)
    })
}
