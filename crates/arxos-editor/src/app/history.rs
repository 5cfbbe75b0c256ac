//! The History section of the side panel: the latest changes with who made them and when;
//! named versions (create, compare with now, with the changed elements highlighted on the
//! canvas, and revert); each through the session, so everyone sees it.
//!
//! Below them, branches and proposals (`branches.rs`).
//!
//! History and diffs read a fork of the plan taken once per change, never the engine's copy,
//! so a long history does not hold the session up.

use std::collections::BTreeSet;

use arxos_doc::history::HistoryEntry;
use arxos_doc::versions::{self, Version};
use arxos_doc::{ChangeKind, EditContext, ElementId};

use super::EditorApp;

/// How many changes the list shows.
const SHOWN: usize = 40;

/// The section's state.
#[derive(Debug, Default)]
pub(crate) struct HistoryUi {
    entries: Vec<HistoryEntry>,
    versions: Vec<Version>,
    /// The workspace's change count the lists were read at.
    read_at: Option<u64>,
    name: String,
    /// The version compared with now, and what differs.
    compared: Option<(String, usize)>,
    /// Branches and proposals.
    pub(super) branches: super::branches::BranchesUi,
}

impl EditorApp {
    /// The History section.
    pub(super) fn history_section(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        let Some(ws) = self.ws.as_mut() else { return };
        let Some(client) = ws.live().map(arxos_session::Session::client) else {
            return;
        };
        let read_only = ws.permission.read_only();
        let st = &mut self.history_ui;
        if st.read_at != Some(ws.changes_seen) {
            let mut fork = client.fork();
            let mut entries = fork.history();
            entries.reverse();
            entries.truncate(SHOWN);
            st.entries = entries;
            st.versions = versions::list_versions(&fork);
            st.read_at = Some(ws.changes_seen);
        }
        let mut errors = Vec::new();
        let mut infos = Vec::new();
        ui.horizontal(|ui| {
            ui.add(
                egui::TextEdit::singleline(&mut st.name)
                    .desired_width(150.0)
                    .hint_text("version name"),
            );
            if ui
                .add_enabled(read_only.is_none(), egui::Button::new("Save version"))
                .on_hover_text("Name the plan as it is now")
                .on_disabled_hover_text(read_only.unwrap_or_default())
                .clicked()
            {
                let cx = EditContext::now(ws.author());
                let mut fork = client.fork();
                let heads = fork.heads();
                match versions::version_command(&fork, &cx, st.name.trim(), "", heads) {
                    Ok((v, cmd)) => match ws.apply_records(
                        ChangeKind::Version,
                        &format!("create version {}", v.name),
                        vec![cmd],
                    ) {
                        Ok(()) => {
                            infos.push(format!("Saved version {}", v.name));
                            st.name.clear();
                        }
                        Err(e) => errors.push(e),
                    },
                    Err(e) => errors.push(e.to_string()),
                }
            }
        });
        let mut compare = None;
        let mut revert = None;
        let mut preview = None;
        for v in st.versions.iter().rev() {
            ui.horizontal(|ui| {
                ui.label(egui::RichText::new(&v.name).strong());
                ui.weak(format!(
                    "{} · {}",
                    v.author,
                    super::conflicts::when(v.time_ms)
                ));
                ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                    if ui
                        .add_enabled(read_only.is_none(), egui::Button::new("Revert").small())
                        .on_hover_text("Make the plan as it was then (one change; undoable)")
                        .on_disabled_hover_text(read_only.unwrap_or_default())
                        .clicked()
                    {
                        revert = Some(v.clone());
                    }
                    if ui
                        .small_button("Compare")
                        .on_hover_text("Highlight what changed since")
                        .clicked()
                    {
                        compare = Some(v.clone());
                    }
                    if ui
                        .small_button("Preview")
                        .on_hover_text("Look at the plan as it was then (read-only)")
                        .clicked()
                    {
                        preview = Some(v.clone());
                    }
                });
            });
        }
        let mut highlight = None;
        let mut clear = false;
        if let Some((name, n)) = &st.compared {
            ui.horizontal(|ui| {
                ui.weak(format!(
                    "{} changed since {name} (highlighted)",
                    crate::actions::count(*n)
                ));
                clear = ui.small_button("Clear").clicked();
            });
        }
        if clear {
            highlight = Some(BTreeSet::new());
            st.compared = None;
        }
        if let Some(v) = compare {
            let mut fork = client.fork();
            let now = fork.heads();
            match versions::diff(&mut fork, &v.heads, &now) {
                Ok(d) => {
                    let ids: BTreeSet<ElementId> = d
                        .added
                        .iter()
                        .chain(&d.changed)
                        .map(|c| c.id.clone())
                        .collect();
                    let n = ids.len() + d.removed.len();
                    highlight = Some(ids);
                    st.compared = Some((v.name.clone(), n));
                }
                Err(e) => errors.push(e.to_string()),
            }
        }
        if let Some(v) = revert {
            let mut fork = client.fork();
            let reverted = fork.fork_at(&v.heads).map(|target| {
                let cmds = versions::restore_commands(&fork, &target);
                (cmds.is_empty(), cmds)
            });
            match reverted {
                Ok((true, _)) => infos.push(format!("The plan already is as {} was", v.name)),
                Ok((false, cmds)) => match client.apply_as(
                    &EditContext::now(ws.author()),
                    ChangeKind::Revert,
                    &format!("revert to version {}", v.name),
                    cmds,
                ) {
                    Ok(_) => infos.push(format!("Reverted to {}", v.name)),
                    Err(e) => errors.push(e.to_string()),
                },
                Err(e) => errors.push(e.to_string()),
            }
        }
        ui.add_space(4.0);
        ui.weak("Latest changes");
        egui::ScrollArea::vertical()
            .id_salt("history-list")
            .max_height(180.0)
            .show(ui, |ui| {
                for e in &st.entries {
                    ui.horizontal_wrapped(|ui| {
                        ui.label(egui::RichText::new(&e.author).strong());
                        ui.label(&e.summary);
                        ui.weak(super::conflicts::when(e.time_ms));
                    });
                }
            });
        if let Some(h) = highlight {
            ws.highlighted = h;
        }
        for e in errors {
            self.toast(&ctx, e, true);
        }
        for m in infos {
            self.toast(&ctx, m, false);
        }
        self.branches_section(ui);
        if let Some(v) = preview {
            self.start_preview(&ctx, &v);
        }
    }
}
