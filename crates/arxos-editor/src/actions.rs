//! The editing commands of menus and shortcuts (undo, delete, duplicate, clipboard, nudge,
//! select all), each turned into typed document commands through the workspace.

use arxos_doc::{Command, ElementId, Point};

use crate::clipboard;
use crate::workspace::Workspace;

/// A command from a menu or a shortcut.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Take back my last edit.
    Undo,
    /// Do it again.
    Redo,
    /// Delete the selection (restorable).
    Delete,
    /// Copy the selection 500 mm down and right.
    Duplicate,
    /// Select every pickable element on the floor shown.
    SelectAll,
    /// Move the selection by a plan offset.
    Nudge(f64, f64),
    /// Paste elements from clipboard text.
    Paste(String),
}

/// Runs `action`; returns a message to show, or an error.
pub fn run(ws: &mut Workspace, action: Action) -> Result<Option<String>, String> {
    let selected: Vec<ElementId> = ws.selection.iter().cloned().collect();
    match action {
        Action::Undo => ws
            .undo()
            .map(|m| m.or_else(|| Some("Nothing of yours to undo".into()))),
        Action::Redo => ws
            .redo()
            .map(|m| m.or_else(|| Some("Nothing to redo".into()))),
        Action::Delete => {
            if selected.is_empty() {
                return Ok(None);
            }
            let n = selected.len();
            ws.edit(
                &format!("delete {}", count(n)),
                &selected.clone(),
                &[],
                vec![Command::Delete { ids: selected }],
            )?;
            ws.selection.clear();
            Ok(Some(format!(
                "Deleted {} (Ctrl+Z brings it back)",
                count(n)
            )))
        }
        Action::Duplicate => {
            let Some(text) = copy_text(ws) else {
                return Ok(None);
            };
            paste(ws, &text, Point::new(500.0, 500.0))
        }
        Action::SelectAll => {
            let filter = ws.pick_filter();
            let all: Vec<ElementId> = ws
                .read(|doc| {
                    doc.elements()
                        .filter(|e| filter.allows(e))
                        .map(|e| e.id.clone())
                        .collect()
                })
                .unwrap_or_default();
            ws.selection = all.into_iter().collect();
            Ok(None)
        }
        Action::Nudge(dx, dy) => {
            if selected.is_empty() {
                return Ok(None);
            }
            let Some(cmd) = ws.read(|doc| crate::tools::move_with_hosted(doc, &selected, dx, dy))
            else {
                return Ok(None);
            };
            let touched = match &cmd {
                Command::Move { ids, .. } => ids.clone(),
                _ => selected.clone(),
            };
            ws.edit("nudge", &touched, &[], vec![cmd])?;
            Ok(None)
        }
        Action::Paste(text) => paste(ws, &text, Point::new(500.0, 500.0)),
    }
}

/// The selection as clipboard text.
pub fn copy_text(ws: &Workspace) -> Option<String> {
    let elements: Vec<arxos_doc::Element> = ws
        .read(|doc| {
            ws.selection
                .iter()
                .filter_map(|id| doc.element(id).cloned())
                .collect()
        })
        .unwrap_or_default();
    (!elements.is_empty()).then(|| clipboard::copy(elements))
}

fn paste(ws: &mut Workspace, text: &str, offset: Point) -> Result<Option<String>, String> {
    let Some(clip) = clipboard::parse(text) else {
        return Ok(Some("The clipboard holds no Arxos elements".into()));
    };
    let floor = ws
        .floor
        .clone()
        .unwrap_or_else(|| arxos_doc::FloorId::new("level-1"));
    let Some((cmds, ids)) = ws.read(|doc| clipboard::paste(doc, &clip, &floor, offset)) else {
        return Ok(None);
    };
    if ids.is_empty() {
        return Ok(Some(
            "Nothing could be pasted: the plan has no layers".into(),
        ));
    }
    let n = ids.len();
    ws.edit(&format!("paste {}", count(n)), &[], &ids, cmds)?;
    ws.selection = ids.into_iter().collect();
    Ok(Some(format!("Pasted {}", count(n))))
}

/// "1 element", "3 elements".
pub(crate) fn count(n: usize) -> String {
    plural(n, "element")
}

/// "1 conflict", "3 conflicts".
pub(crate) fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}
