//! The keyboard shortcuts overlay (F1 or ?), listing every tool and command key.

use crate::tools::Tool;

/// Commands and their keys, as shown in the overlay.
pub const COMMANDS: &[(&str, &str)] = &[
    ("Undo / Redo", "Ctrl+Z / Ctrl+Shift+Z, Ctrl+Y"),
    ("Copy / Cut / Paste", "Ctrl+C / Ctrl+X / Ctrl+V"),
    ("Duplicate", "Ctrl+D"),
    ("Delete", "Delete, Backspace"),
    ("Select all", "Ctrl+A"),
    ("Nudge (×10 with Shift)", "Arrow keys"),
    ("Finish / cancel drawing", "Enter / Esc"),
    ("Fit drawing / selection", "F / Shift+F"),
    ("Zoom in / out", "+ / −, Ctrl+scroll"),
    ("Pan", "Scroll, middle-drag, Space+drag"),
    ("Toggle grid / snapping", "G / Shift+G"),
    ("Find by tag", "Ctrl+F"),
    ("Open / Save as", "Ctrl+O / Ctrl+Shift+S"),
    ("This help", "F1 or ?"),
];

/// Shows the overlay while `open` is true.
pub fn show(ctx: &egui::Context, open: &mut bool) {
    egui::Window::new("Keyboard shortcuts")
        .open(open)
        .collapsible(false)
        .resizable(false)
        .anchor(egui::Align2::CENTER_CENTER, egui::Vec2::ZERO)
        .show(ctx, |ui| {
            ui.columns(2, |cols| {
                cols[0].strong("Tools");
                egui::Grid::new("help-tools")
                    .num_columns(2)
                    .striped(true)
                    .show(&mut cols[0], |ui| {
                        for t in Tool::ALL {
                            ui.label(t.label());
                            ui.monospace(t.shortcut());
                            ui.end_row();
                        }
                    });
                cols[1].strong("Commands");
                egui::Grid::new("help-cmds")
                    .num_columns(2)
                    .striped(true)
                    .show(&mut cols[1], |ui| {
                        for (what, keys) in COMMANDS {
                            ui.label(*what);
                            ui.monospace(*keys);
                            ui.end_row();
                        }
                    });
            });
        });
}
