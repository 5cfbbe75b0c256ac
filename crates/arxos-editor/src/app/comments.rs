//! The Comments section of the side panel: threads pinned to an element or a point, with
//! replies, @mentions of people in the session, resolve and reopen; new comments on the
//! selected element or on a point clicked on the canvas. Comments are the one thing a
//! commenter may write; they go through the session like any change.

use std::collections::BTreeMap;

use arxos_doc::comments::{self, Anchor, Thread};
use arxos_doc::{ChangeKind, EditContext};
use egui::RichText;

use super::EditorApp;
use crate::canvas::FitTarget;

/// The section's state.
#[derive(Debug, Default)]
pub(crate) struct CommentsUi {
    draft: String,
    replies: BTreeMap<String, String>,
    show_resolved: bool,
}

/// What a click in the section asked for.
enum Ask {
    Post(Anchor, String),
    Reply(String, String),
    Resolve(String),
    Reopen(String),
}

impl EditorApp {
    /// The Comments section.
    pub(super) fn comments_section(&mut self, ui: &mut egui::Ui, threads: &[Thread]) {
        let ctx = ui.ctx().clone();
        let Some(ws) = self.ws.as_mut() else { return };
        let viewer = ws.role() == Some(arxos_sync::Role::Viewer);
        let st = &mut self.comments_ui;
        let mut asks = Vec::new();
        let mut show_anchor = None;
        let people: Vec<String> = ws
            .people
            .by_peer
            .values()
            .map(|p| p.presence.user.clone())
            .collect();
        if viewer {
            ui.weak("You joined as a viewer: you can read comments, not write them.");
        } else {
            ui.add(
                egui::TextEdit::multiline(&mut st.draft)
                    .desired_rows(2)
                    .desired_width(f32::INFINITY)
                    .hint_text("a comment (@name to mention)"),
            );
            if !people.is_empty() {
                ui.horizontal_wrapped(|ui| {
                    ui.weak("Mention:");
                    for name in &people {
                        if ui.small_button(format!("@{name}")).clicked() {
                            if !st.draft.is_empty() && !st.draft.ends_with(' ') {
                                st.draft.push(' ');
                            }
                            st.draft.push('@');
                            st.draft.push_str(&name.replace(' ', "_"));
                            st.draft.push(' ');
                        }
                    }
                });
            }
            ui.horizontal(|ui| {
                let one = (ws.selection.len() == 1)
                    .then(|| ws.selection.first().cloned())
                    .flatten();
                let has_text = !st.draft.trim().is_empty();
                if ui
                    .add_enabled(has_text && one.is_some(), egui::Button::new("On selection"))
                    .on_disabled_hover_text("Select one element and write something")
                    .clicked()
                    && let Some(id) = one
                {
                    asks.push(Ask::Post(Anchor::Element(id), st.draft.trim().to_owned()));
                }
                if ui
                    .add_enabled(has_text, egui::Button::new("Pin on the plan…"))
                    .on_hover_text("Then click where the comment goes")
                    .clicked()
                {
                    self.canvas.pinning = true;
                }
            });
            if let Some(p) = self.canvas.pinned.take()
                && !st.draft.trim().is_empty()
            {
                asks.push(Ask::Post(
                    Anchor::Point {
                        floor: ws.floor.clone(),
                        x: p.x,
                        y: p.y,
                    },
                    st.draft.trim().to_owned(),
                ));
            }
        }
        ui.checkbox(&mut st.show_resolved, "Show resolved");
        let shown: Vec<&Thread> = threads
            .iter()
            .filter(|t| st.show_resolved || !t.root.resolved)
            .collect();
        if shown.is_empty() {
            ui.weak("No comments.");
        }
        for t in shown {
            let name = ws
                .read(|doc| anchor_name(doc, &t.root.anchor))
                .unwrap_or_default();
            egui::Frame::group(ui.style()).show(ui, |ui| {
                ui.horizontal(|ui| {
                    if ui.link(&name).on_hover_text("Show on the plan").clicked() {
                        show_anchor = Some(t.root.anchor.clone());
                    }
                    if t.root.resolved {
                        ui.weak("resolved");
                    }
                });
                for c in std::iter::once(&t.root).chain(&t.replies) {
                    ui.horizontal_wrapped(|ui| {
                        ui.label(RichText::new(&c.author).strong());
                        ui.weak(super::conflicts::when(c.created_ms));
                    });
                    ui.label(&c.text);
                }
                if !viewer {
                    let draft = st.replies.entry(t.root.id.clone()).or_default();
                    ui.horizontal(|ui| {
                        ui.add(
                            egui::TextEdit::singleline(draft)
                                .desired_width(150.0)
                                .hint_text("reply"),
                        );
                        if ui
                            .add_enabled(!draft.trim().is_empty(), egui::Button::new("Reply"))
                            .clicked()
                        {
                            asks.push(Ask::Reply(t.root.id.clone(), draft.trim().to_owned()));
                        }
                        if t.root.resolved {
                            if ui.small_button("Reopen").clicked() {
                                asks.push(Ask::Reopen(t.root.id.clone()));
                            }
                        } else if ui.small_button("Resolve").clicked() {
                            asks.push(Ask::Resolve(t.root.id.clone()));
                        }
                    });
                }
            });
        }
        let mut errors = Vec::new();
        if let Some(anchor) = &show_anchor {
            show(ws, &mut self.canvas, anchor);
        }
        for ask in asks {
            let cx = EditContext::now(ws.author());
            let built = ws.read(|doc| match &ask {
                Ask::Post(anchor, text) => {
                    comments::add(doc, &cx, anchor, text).map(|(_, c)| ("comment", c))
                }
                Ask::Reply(id, text) => {
                    comments::reply(doc, &cx, id, text).map(|(_, c)| ("reply", c))
                }
                Ask::Resolve(id) => comments::resolve(doc, &cx, id).map(|c| ("resolve comment", c)),
                Ask::Reopen(id) => comments::reopen(doc, &cx, id).map(|c| ("reopen comment", c)),
            });
            match built {
                Some(Ok((label, cmd))) => {
                    match ws.apply_records(ChangeKind::Edit, label, vec![cmd]) {
                        Ok(()) => match &ask {
                            Ask::Post(..) => st.draft.clear(),
                            Ask::Reply(id, _) => {
                                st.replies.remove(id);
                            }
                            _ => {}
                        },
                        Err(e) => errors.push(e),
                    }
                }
                Some(Err(e)) => errors.push(e.to_string()),
                None => {}
            }
        }
        for e in errors {
            self.toast(&ctx, e, true);
        }
    }
}

/// Brings what a comment is about into view (its element selected).
fn show(ws: &mut crate::workspace::Workspace, canvas: &mut crate::canvas::Canvas, a: &Anchor) {
    match a {
        Anchor::Element(id) => {
            if let Some(floor) = ws
                .read(|doc| doc.element(id).map(|e| e.floor.clone()))
                .flatten()
            {
                ws.floor = Some(floor);
            }
            ws.selection = std::collections::BTreeSet::from([id.clone()]);
            canvas.fit(FitTarget::Selection);
        }
        Anchor::Point { floor, x, y } => {
            if floor.is_some() {
                ws.floor.clone_from(floor);
            }
            canvas.center_on(arxos_doc::Point::new(*x, *y));
        }
    }
}

/// "outlet:R45-23", "a point on Level 2".
fn anchor_name(doc: &arxos_doc::Document, a: &Anchor) -> String {
    match a {
        Anchor::Element(id) => doc.element(id).map_or_else(
            || format!("{} (deleted)", id.as_str()),
            crate::collab::element_name,
        ),
        Anchor::Point { floor, .. } => match floor.as_ref().and_then(|f| doc.floors().get(f)) {
            Some(f) => format!("a point on {}", f.name),
            None => "a point".to_owned(),
        },
    }
}
