//! The canvas's right-click menu: lock and unlock the selection, its layer or the floor shown,
//! for the others in the session (they see a badge and cannot edit what is locked).

use arxos_doc::ElementId;

use crate::workspace::Workspace;

/// Fills the menu; returns a message or an error for the window to show.
pub fn show(ui: &mut egui::Ui, ws: &mut Workspace) -> Option<Result<String, String>> {
    let shared = ws.is_shared();
    let why = "locks are for shared plans: host or join a session first";
    let selection: Vec<ElementId> = ws.selection.iter().cloned().collect();
    let mine: Vec<ElementId> = selection
        .iter()
        .filter(|id| ws.locked_by_me(id))
        .cloned()
        .collect();
    let one = ws
        .read(|doc| {
            selection.first().and_then(|id| doc.element(id)).map(|e| {
                let layer = doc
                    .layers()
                    .get(&e.layer)
                    .map_or_else(|| e.layer.as_str().to_owned(), |l| l.name.clone());
                (e.layer.clone(), layer)
            })
        })
        .flatten();
    let floor = ws
        .floor
        .clone()
        .and_then(|f| ws.read(|doc| doc.floors().get(&f).map(|x| (f.clone(), x.name.clone()))))
        .flatten();
    let mut result = None;
    let item = |ui: &mut egui::Ui, enabled: bool, label: String| {
        ui.add_enabled(shared && enabled, egui::Button::new(label))
            .on_disabled_hover_text(if shared { "nothing to do" } else { why })
            .clicked()
    };
    if item(
        ui,
        !selection.is_empty(),
        format!("Lock {}", crate::actions::count(selection.len())),
    ) {
        result = Some(
            ws.lock(&selection)
                .map(|n| format!("Locked {}", crate::actions::count(n))),
        );
        ui.close();
    }
    if item(
        ui,
        !mine.is_empty(),
        format!("Unlock {}", crate::actions::count(mine.len())),
    ) {
        result = Some(
            ws.unlock(&mine)
                .map(|n| format!("Unlocked {}", crate::actions::count(n))),
        );
        ui.close();
    }
    ui.separator();
    if let Some((layer, name)) = one
        && item(ui, true, format!("Lock layer {name}"))
    {
        result = Some(lock_where(ws, &name, |e| e.layer == layer));
        ui.close();
    }
    if let Some((f, name)) = floor
        && item(ui, true, format!("Lock floor {name}"))
    {
        result = Some(lock_where(ws, &name, |e| e.floor == f));
        ui.close();
    }
    if item(ui, true, "Unlock everything I locked".to_owned()) {
        let ids: Vec<ElementId> = ws
            .read(|doc| doc.elements().map(|e| e.id.clone()).collect())
            .unwrap_or_default();
        let mine: Vec<ElementId> = ids.into_iter().filter(|id| ws.locked_by_me(id)).collect();
        result = Some(
            ws.unlock(&mine)
                .map(|n| format!("Unlocked {}", crate::actions::count(n))),
        );
        ui.close();
    }
    result
}

/// Locks every element `pick` chooses (a layer's, a floor's).
fn lock_where(
    ws: &mut Workspace,
    name: &str,
    pick: impl Fn(&arxos_doc::Element) -> bool,
) -> Result<String, String> {
    let ids: Vec<ElementId> = ws
        .read(|doc| {
            doc.elements()
                .filter(|e| pick(e))
                .map(|e| e.id.clone())
                .collect()
        })
        .unwrap_or_default();
    ws.lock(&ids)
        .map(|n| format!("Locked {} on {name}", crate::actions::count(n)))
}
