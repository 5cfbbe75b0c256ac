//! The side panels: floors, layers (shown or hidden and locked in this window only, so a
//! reviewer hiding the electrical layer hides it for nobody else), and search by tag.

use arxos_doc::{Document, ElementId, FloorId, LayerId};

use crate::workspace::Workspace;

/// What the panels ask of the app.
#[derive(Debug, Default)]
pub struct PanelRequest {
    /// The floor shown changed.
    pub floor_changed: bool,
    /// A layer was hidden or locked: drop what can no longer be selected.
    pub layers_changed: bool,
}

/// The floors and layers of a plan, read once per frame (the panel then changes only what
/// this window shows, never the plan).
#[derive(Clone, Debug, Default)]
pub struct LayerList {
    floors: Vec<(FloorId, String)>,
    layers: Vec<(LayerId, String, String, bool)>,
}

impl LayerList {
    /// Reads the plan's floors and layers.
    pub fn of(doc: &Document) -> Self {
        Self {
            floors: doc
                .floors_ordered()
                .into_iter()
                .map(|f| (f.id.clone(), f.name.clone()))
                .collect(),
            layers: doc
                .layers()
                .values()
                .map(|l| (l.id.clone(), l.name.clone(), l.color.clone(), l.visible))
                .collect(),
        }
    }
}

/// Floors and layers.
pub fn layers(ui: &mut egui::Ui, ws: &mut Workspace, list: &LayerList) -> PanelRequest {
    let mut req = PanelRequest::default();
    if list.floors.len() > 1 {
        ui.strong("Floor");
        for (id, name) in &list.floors {
            let on = ws.floor.as_ref() == Some(id);
            if ui.selectable_label(on, name).clicked() && !on {
                ws.floor = Some(id.clone());
                ws.selection.clear();
                req.floor_changed = true;
            }
        }
        ui.separator();
    }
    egui::Grid::new("layers")
        .num_columns(3)
        .spacing([6.0, 4.0])
        .show(ui, |ui| {
            for (id, name, color, visible) in &list.layers {
                let mut shown = !ws.hidden_layers.contains(id);
                let color = crate::overlay::parse_hex(color).unwrap_or(egui::Color32::GRAY);
                let (r, p) = ui.allocate_painter(egui::vec2(10.0, 10.0), egui::Sense::hover());
                p.rect_filled(r.rect, 2.0, color);
                let mut label = name.clone();
                if !visible {
                    label.push_str(" (hidden in the plan)");
                }
                if ui
                    .checkbox(&mut shown, label)
                    .on_hover_text("Show or hide on this screen only")
                    .changed()
                {
                    toggle(&mut ws.hidden_layers, id, !shown);
                    req.layers_changed = true;
                }
                let mut locked = ws.locked_layers.contains(id);
                let lock_label = if locked { "Locked" } else { "Lock" };
                if ui
                    .toggle_value(&mut locked, lock_label)
                    .on_hover_text(format!("Lock {name} on this screen: shown, not selectable"))
                    .changed()
                {
                    toggle(&mut ws.locked_layers, id, locked);
                    req.layers_changed = true;
                }
                ui.end_row();
            }
        });
    req
}

fn toggle(set: &mut std::collections::BTreeSet<LayerId>, id: &LayerId, on: bool) {
    if on {
        set.insert(id.clone());
    } else {
        set.remove(id);
    }
}

/// Elements whose tag contains `query` (case-insensitive), up to `limit`, exact matches first.
pub fn search(
    doc: &Document,
    query: &str,
    floor: Option<&FloorId>,
    limit: usize,
) -> Vec<(ElementId, String)> {
    let q = query.trim().to_lowercase();
    if q.is_empty() {
        return Vec::new();
    }
    let mut hits: Vec<(bool, bool, String, ElementId)> = doc
        .elements()
        .filter_map(|e| {
            let tag = e.tag.to_lowercase();
            tag.contains(&q).then(|| {
                let other_floor = floor.is_some_and(|f| *f != e.floor);
                (tag != q, other_floor, e.tag.clone(), e.id.clone())
            })
        })
        .collect();
    hits.sort();
    hits.into_iter()
        .take(limit)
        .map(|(_, _, t, id)| (id, t))
        .collect()
}
