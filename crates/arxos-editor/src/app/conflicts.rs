//! The Conflicts section of the side panel: open conflicts, most severe first, filtered by
//! kind, floor, layer and person; the one selected zoomed to on the canvas and shown three
//! ways (base, local, remote) with the differing values marked, who wrote each and when, and a
//! small drawing of the element; Take local / remote / base, a custom value, restore or keep
//! deleted, accept; and the same choice for several ticked conflicts of one kind at once.
//!
//! A resolution is one `resolve` change through the session, so it syncs and clears the
//! conflict in every window.

use std::collections::BTreeSet;

use arxos_doc::conflict::{Choice, Conflict, ConflictType, Severity, Side};
use arxos_doc::{Document, EditContext, PropValue};
use egui::{Color32, RichText};

use super::EditorApp;
use crate::canvas::FitTarget;

/// The section's state.
#[derive(Debug, Default)]
pub(crate) struct ConflictsUi {
    selected: Option<String>,
    ticked: BTreeSet<String>,
    custom: String,
    kind: Option<ConflictType>,
    floor: Option<String>,
    layer: Option<String>,
    person: String,
}

const KINDS: [ConflictType; 5] = [
    ConflictType::Property,
    ConflictType::DeleteVsEdit,
    ConflictType::Relationship,
    ConflictType::Spatial,
    ConflictType::Constraint,
];

fn severity_color(s: Severity) -> Color32 {
    match s {
        Severity::Critical => Color32::from_rgb(0xB7, 0x1C, 0x1C),
        Severity::High => Color32::from_rgb(0xE6, 0x51, 0x00),
        Severity::Medium => Color32::from_rgb(0xF9, 0xA8, 0x25),
        Severity::Low => Color32::from_rgb(0x75, 0x75, 0x75),
    }
}

/// The choices that make sense for a kind of conflict.
fn choices(kind: ConflictType) -> &'static [(&'static str, Choice)] {
    match kind {
        ConflictType::Property => &[
            ("Take local", Choice::Local),
            ("Take remote", Choice::Remote),
            ("Take base", Choice::Base),
        ],
        ConflictType::DeleteVsEdit => &[
            ("Restore", Choice::Restore),
            ("Keep deleted", Choice::Delete),
        ],
        ConflictType::Relationship => &[("Clear reference", Choice::ClearReference)],
        ConflictType::Spatial | ConflictType::Constraint => &[("Accept", Choice::Accept)],
    }
}

impl ConflictsUi {
    fn keeps(&self, doc: &Document, c: &Conflict) -> bool {
        if self.kind.is_some_and(|k| k != c.kind) {
            return false;
        }
        let e = doc.element(&c.element);
        if let Some(f) = &self.floor
            && e.is_none_or(|e| e.floor.as_str() != f)
        {
            return false;
        }
        if let Some(l) = &self.layer
            && e.is_none_or(|e| e.layer.as_str() != l)
        {
            return false;
        }
        let who = self.person.trim().to_lowercase();
        who.is_empty()
            || [&c.local, &c.remote]
                .into_iter()
                .flatten()
                .chain(&c.others)
                .any(|s| s.author.to_lowercase().contains(&who))
    }
}

impl EditorApp {
    /// The Conflicts section.
    pub(super) fn conflicts_section(&mut self, ui: &mut egui::Ui, list: &[Conflict]) {
        let ctx = ui.ctx().clone();
        let Some(ws) = self.ws.as_mut() else { return };
        let st = &mut self.conflicts_ui;
        let Some((floors, layers)) = ws.read(|doc| {
            (
                doc.floors_ordered()
                    .iter()
                    .map(|f| (f.id.as_str().to_owned(), f.name.clone()))
                    .collect::<Vec<_>>(),
                layer_names(doc),
            )
        }) else {
            return;
        };
        ui.horizontal_wrapped(|ui| {
            egui::ComboBox::from_id_salt("conflict-kind")
                .selected_text(st.kind.map_or("All kinds", ConflictType::as_str))
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut st.kind, None, "All kinds");
                    for k in KINDS {
                        ui.selectable_value(&mut st.kind, Some(k), k.as_str());
                    }
                });
            filter_combo(ui, "conflict-floor", "All floors", &floors, &mut st.floor);
            filter_combo(ui, "conflict-layer", "All layers", &layers, &mut st.layer);
            ui.add(
                egui::TextEdit::singleline(&mut st.person)
                    .desired_width(80.0)
                    .hint_text("person"),
            );
        });
        if ui
            .small_button("Rules…")
            .on_hover_text("Settle some conflicts automatically: a strategy per layer, kind or tag")
            .clicked()
        {
            self.rules_ui.open = true;
        }
        let shown: Vec<&Conflict> = ws
            .read(|doc| list.iter().filter(|c| st.keeps(doc, c)).collect())
            .unwrap_or_default();
        if shown.is_empty() {
            ui.weak(if list.is_empty() {
                "No conflicts."
            } else {
                "No conflict matches the filters."
            });
            return;
        }
        st.ticked.retain(|id| shown.iter().any(|c| &c.id == id));
        let mut zoom_to = None;
        egui::ScrollArea::vertical()
            .id_salt("conflict-list")
            .max_height(160.0)
            .show(ui, |ui| {
                for c in &shown {
                    ui.horizontal(|ui| {
                        let mut on = st.ticked.contains(&c.id);
                        if ui.checkbox(&mut on, "").changed() {
                            if on {
                                st.ticked.insert(c.id.clone());
                            } else {
                                st.ticked.remove(&c.id);
                            }
                        }
                        let text =
                            RichText::new(format!("{} · {} {}", c.severity, c.kind, title(c)))
                                .color(severity_color(c.severity));
                        let sel = st.selected.as_deref() == Some(c.id.as_str());
                        if ui.selectable_label(sel, text).clicked() {
                            st.selected = Some(c.id.clone());
                            st.custom.clear();
                            zoom_to = Some(c.element.clone());
                        }
                    });
                }
            });
        let mut resolve: Vec<(String, Choice)> = Vec::new();
        let ticked: Vec<&Conflict> = shown
            .iter()
            .filter(|c| st.ticked.contains(&c.id))
            .copied()
            .collect();
        if ticked.len() > 1 {
            let kind = ticked[0].kind;
            if ticked.iter().all(|c| c.kind == kind) {
                ui.horizontal_wrapped(|ui| {
                    ui.weak(format!("{} ticked:", ticked.len()));
                    for (label, choice) in choices(kind) {
                        if ui.button(*label).clicked() {
                            resolve.extend(ticked.iter().map(|c| (c.id.clone(), choice.clone())));
                        }
                    }
                });
            } else {
                ui.weak("Tick conflicts of one kind to settle them together.");
            }
        }
        let selected = st
            .selected
            .as_ref()
            .and_then(|id| shown.iter().find(|c| &c.id == id));
        if let Some(c) = selected {
            ui.separator();
            ui.label(RichText::new(&c.message).strong());
            let doc_el = ws.read(|doc| doc.element(&c.element).cloned()).flatten();
            let sides = Sides::of(c.local.as_ref(), c.remote.as_ref(), ws.author());
            three_way(ui, c, &sides, doc_el.as_ref());
            ui.horizontal_wrapped(|ui| {
                for (label, choice) in choices(c.kind) {
                    let label = sides.button(label, choice);
                    if ui.button(label).clicked() {
                        resolve.push((c.id.clone(), choice.clone()));
                    }
                }
            });
            if c.kind == ConflictType::Property {
                ui.horizontal(|ui| {
                    ui.add(
                        egui::TextEdit::singleline(&mut st.custom)
                            .desired_width(120.0)
                            .hint_text("custom value"),
                    );
                    if ui.button("Apply").clicked() {
                        match arxos_doc::workflow::values::conflict_value(c, &st.custom) {
                            Ok(v) => resolve.push((c.id.clone(), Choice::Value(v))),
                            Err(e) => {
                                self.toasts_later.push(e.to_string());
                            }
                        }
                    }
                });
            }
        }
        if let Some(id) = zoom_to {
            if let Some(floor) = ws
                .read(|doc| doc.element(&id).map(|e| e.floor.clone()))
                .flatten()
            {
                ws.floor = Some(floor);
            }
            ws.selection = BTreeSet::from([id]);
            self.canvas.fit(FitTarget::Selection);
        }
        let mut errors = Vec::new();
        let mut settled = 0;
        if let Some(client) = ws.live().map(arxos_session::Session::client) {
            let cx = EditContext::now(ws.author());
            for (id, choice) in resolve {
                match client.resolve(&cx, &id, &choice) {
                    Ok(_) => settled += 1,
                    Err(e) => errors.push(e.to_string()),
                }
            }
        }
        if settled > 0 {
            self.conflicts_ui.selected = None;
            self.conflicts_ui.ticked.clear();
            let msg = match settled {
                1 => "Conflict resolved".to_owned(),
                n => format!("{n} conflicts resolved"),
            };
            self.toast(&ctx, msg, false);
        }
        for e in errors
            .into_iter()
            .chain(std::mem::take(&mut self.toasts_later))
        {
            self.toast(&ctx, e, true);
        }
    }
}

/// Every layer as (id, name), for the layer pickers of the conflict filters and the rules.
pub(super) fn layer_names(doc: &Document) -> Vec<(String, String)> {
    doc.layers()
        .values()
        .map(|l| (l.id.as_str().to_owned(), l.name.clone()))
        .collect()
}

fn title(c: &Conflict) -> String {
    let what = if c.tag.is_empty() {
        c.element.as_str().to_owned()
    } else {
        c.tag.clone()
    };
    match &c.property {
        Some(p) => format!("{what}.{p}"),
        None => what,
    }
}

fn filter_combo(
    ui: &mut egui::Ui,
    id: &str,
    all: &str,
    items: &[(String, String)],
    value: &mut Option<String>,
) {
    let shown = value
        .as_ref()
        .and_then(|v| items.iter().find(|(i, _)| i == v))
        .map_or(all, |(_, n)| n.as_str());
    egui::ComboBox::from_id_salt(id)
        .selected_text(shown)
        .show_ui(ui, |ui| {
            ui.selectable_value(value, None, all);
            for (i, name) in items {
                ui.selectable_value(value, Some(i.clone()), name);
            }
        });
}

fn show_value(v: Option<&PropValue>, unit: Option<&str>) -> String {
    match (v, unit) {
        (None, _) => "(none)".to_owned(),
        (Some(PropValue::Number(n)), Some(u)) => format!("{n} {u}"),
        (Some(v), _) => v.to_string(),
    }
}

/// Whose each side of a conflict is, as this person reads it: "Mine" for what they wrote,
/// "Ana's" for someone else's, and plain local / remote when that tells nothing (no author,
/// or both sides by the same person, e.g. two of their own windows).
struct Sides {
    local: Option<String>,
    remote: Option<String>,
}

impl Sides {
    fn of(local: Option<&Side>, remote: Option<&Side>, me: &str) -> Self {
        let author =
            |s: Option<&Side>| s.map(|s| s.author.clone()).filter(|a| !a.trim().is_empty());
        let (local, remote) = (author(local), author(remote));
        if local.is_none() || remote.is_none() || local == remote {
            return Self {
                local: None,
                remote: None,
            };
        }
        let name = |a: Option<String>| {
            a.map(|a| {
                if a == me {
                    "Mine".to_owned()
                } else {
                    format!("{a}'s")
                }
            })
        };
        Self {
            local: name(local),
            remote: name(remote),
        }
    }

    /// The column head, two short lines (the panel is narrow): whose, then which side and
    /// when; or the side, then who and when.
    fn head(&self, generic: &str, s: Option<&Side>) -> String {
        let whose = match generic {
            "Local" => self.local.as_deref(),
            _ => self.remote.as_deref(),
        };
        match (whose, s) {
            (Some(w), Some(s)) => format!("{w}\n{} · {}", generic.to_lowercase(), when(s.time_ms)),
            (None, Some(s)) => format!("{generic}\n{} · {}", s.author, when(s.time_ms)),
            (_, None) => generic.to_owned(),
        }
    }

    /// "Take mine" / "Take Ana's" for the two sides; other choices as they are.
    fn button(&self, label: &str, choice: &Choice) -> String {
        let whose = match choice {
            Choice::Local => self.local.as_deref(),
            Choice::Remote => self.remote.as_deref(),
            _ => None,
        };
        match whose {
            Some("Mine") => "Take mine".to_owned(),
            Some(w) => format!("Take {w}"),
            None => label.to_owned(),
        }
    }
}

/// "14:05" today, else the date.
pub(super) fn when(time_ms: i64) -> String {
    let secs = time_ms.div_euclid(1_000);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let ago = now - secs;
    match ago {
        i64::MIN..60 => "just now".to_owned(),
        60..3_600 => format!("{} min ago", ago / 60),
        3_600..86_400 => format!("{} h ago", ago / 3_600),
        _ => format!("{} days ago", ago / 86_400),
    }
}

/// Base, local and remote side by side: a property row with the differing values marked,
/// then a small drawing of the element as each side has it.
fn three_way(ui: &mut egui::Ui, c: &Conflict, sides: &Sides, e: Option<&arxos_doc::Element>) {
    let base = c.base.as_ref();
    let local = c.local.as_ref().and_then(|s| s.value.as_ref());
    let remote = c.remote.as_ref().and_then(|s| s.value.as_ref());
    let unit = c.unit.as_deref();
    let mark = |v: Option<&PropValue>| {
        let text = show_value(v, unit);
        if v == base {
            RichText::new(text)
        } else {
            RichText::new(text)
                .strong()
                .color(Color32::from_rgb(0xE6, 0x51, 0x00))
        }
    };
    egui::Grid::new(("three-way", &c.id))
        .num_columns(4)
        .spacing([12.0, 4.0])
        .striped(true)
        .show(ui, |ui| {
            ui.weak("");
            ui.weak("Base");
            ui.weak(sides.head("Local", c.local.as_ref()));
            ui.weak(sides.head("Remote", c.remote.as_ref()));
            ui.end_row();
            ui.label(c.property.as_deref().unwrap_or("element"));
            ui.label(show_value(base, unit));
            ui.label(mark(local));
            ui.label(mark(remote));
            ui.end_row();
            if let Some(e) = e {
                ui.weak("drawing");
                for v in [base, local, remote] {
                    thumbnail(ui, e, c.property.as_deref(), v);
                }
                ui.end_row();
            }
        });
}

/// The element drawn small, with the side's value in place when it moves or turns it.
fn thumbnail(ui: &mut egui::Ui, e: &arxos_doc::Element, key: Option<&str>, v: Option<&PropValue>) {
    let mut e = e.clone();
    if let (Some(key), Some(PropValue::Number(n))) = (key, v) {
        match key {
            "x" | "transform.x" => e.transform.x = *n,
            "y" | "transform.y" => e.transform.y = *n,
            "rotation" | "transform.rotation" => e.transform.rotation = *n,
            _ => {}
        }
    }
    let (rect, _) = ui.allocate_exact_size(egui::vec2(72.0, 54.0), egui::Sense::hover());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 4.0, ui.visuals().extreme_bg_color);
    let b = crate::picking::extent(&e).expand(200.0);
    let ppp = ui.ctx().pixels_per_point();
    let px = [(rect.width() * ppp) as u32, (rect.height() * ppp) as u32];
    let view = arxos_render::View::fit(b, px, 4.0);
    let m = crate::overlay::Mapping { view, rect, ppp };
    crate::overlay::highlight(&painter, &e, &m, ui.visuals().strong_text_color(), 1.5);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn side(author: &str) -> Side {
        Side {
            value: Some(PropValue::Number(1.0)),
            author: author.into(),
            time_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(0)),
            change: String::new(),
        }
    }

    #[test]
    fn sides_read_as_mine_and_theirs_and_fall_back_to_local_and_remote() {
        let (bob, ana) = (side("bob"), side("Ana"));
        let s = Sides::of(Some(&bob), Some(&ana), "bob");
        assert_eq!(s.head("Local", Some(&bob)), "Mine\nlocal · just now");
        assert_eq!(s.head("Remote", Some(&ana)), "Ana's\nremote · just now");
        assert_eq!(s.button("Take local", &Choice::Local), "Take mine");
        assert_eq!(s.button("Take remote", &Choice::Remote), "Take Ana's");
        assert_eq!(s.button("Take base", &Choice::Base), "Take base");
        // Neither mine: both by name.
        let s = Sides::of(Some(&bob), Some(&ana), "carla");
        assert_eq!(s.button("Take local", &Choice::Local), "Take bob's");
        // The same person on both sides, or an unknown author: the plain words.
        let s = Sides::of(Some(&bob), Some(&bob), "bob");
        assert_eq!(s.button("Take local", &Choice::Local), "Take local");
        let s = Sides::of(Some(&bob), None, "bob");
        assert_eq!(s.head("Local", Some(&bob)), "Local\nbob · just now");
    }
}
