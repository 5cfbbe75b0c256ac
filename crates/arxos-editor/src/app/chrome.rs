//! The window's chrome around the canvas: the menu bar with search, the tool bar, the side
//! panel (layers, inspector), the status bar and the preferences window.

use arxos_sync::client::ConnectionState;

use super::{EditorApp, apply_style, units_label};
use crate::actions::Action;
use crate::canvas::FitTarget;
use crate::files::Purpose;
use crate::settings::{ThemeChoice, Units};
use crate::tools::Tool;

impl EditorApp {
    pub(super) fn menu_bar(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        egui::MenuBar::new().ui(ui, |ui| {
            ui.menu_button("File", |ui| {
                if ui.button("New plan").clicked() {
                    match arxos_doc::Document::new_plan(
                        "Untitled plan",
                        &arxos_doc::EditContext::now(self.prefs_name.clone()),
                    ) {
                        Ok(doc) => match crate::workspace::Workspace::untitled(
                            doc,
                            "untitled",
                            Some(ctx.clone()),
                        ) {
                            Ok(ws) => self.set_workspace(ws),
                            Err(e) => self.toast(&ctx, e, true),
                        },
                        Err(e) => self.toast(&ctx, e.to_string(), true),
                    }
                }
                if ui.button("Open…").clicked() {
                    self.ask(&ctx, Purpose::Open);
                }
                ui.menu_button("Open recent", |ui| {
                    if self.settings.recent.is_empty() {
                        ui.weak("No recent plans");
                    }
                    for f in self.settings.recent.clone() {
                        if ui.button(f.display().to_string()).clicked() {
                            self.open_path(&ctx, &f);
                        }
                    }
                });
                if ui.button("Open sample plan").clicked() {
                    self.open_sample(&ctx);
                }
                ui.separator();
                if ui.button("Save as…").clicked() {
                    self.ask(&ctx, Purpose::SaveAs);
                }
                ui.separator();
                if ui.button("Import SVG…").clicked() {
                    self.ask(&ctx, Purpose::Import);
                }
                if ui.button("Export SVGX…").clicked() {
                    self.ask(&ctx, Purpose::ExportSvgx);
                }
                if ui.button("Export PNG…").clicked() {
                    self.ask(&ctx, Purpose::ExportPng);
                }
                ui.separator();
                if ui.button("Preferences…").clicked() {
                    self.prefs_open = true;
                }
                if ui.button("Quit").clicked() {
                    ctx.send_viewport_cmd(egui::ViewportCommand::Close);
                }
            });
            ui.menu_button("Edit", |ui| {
                let (undo, redo) = self.ws.as_ref().map_or((None, None), |w| {
                    (
                        w.history.undo_label().map(str::to_owned),
                        w.history.redo_label().map(str::to_owned),
                    )
                });
                if ui
                    .add_enabled(
                        undo.is_some(),
                        egui::Button::new("Undo").shortcut_text("Ctrl+Z"),
                    )
                    .on_hover_text(undo.unwrap_or_default())
                    .clicked()
                {
                    self.act(&ctx, Action::Undo);
                }
                if ui
                    .add_enabled(
                        redo.is_some(),
                        egui::Button::new("Redo").shortcut_text("Ctrl+Shift+Z"),
                    )
                    .on_hover_text(redo.unwrap_or_default())
                    .clicked()
                {
                    self.act(&ctx, Action::Redo);
                }
                ui.separator();
                if ui
                    .add(egui::Button::new("Duplicate").shortcut_text("Ctrl+D"))
                    .clicked()
                {
                    self.act(&ctx, Action::Duplicate);
                }
                if ui
                    .add(egui::Button::new("Delete").shortcut_text("Del"))
                    .clicked()
                {
                    self.act(&ctx, Action::Delete);
                }
                if ui
                    .add(egui::Button::new("Select all").shortcut_text("Ctrl+A"))
                    .clicked()
                {
                    self.act(&ctx, Action::SelectAll);
                }
            });
            ui.menu_button("View", |ui| {
                if ui
                    .add(egui::Button::new("Fit drawing").shortcut_text("F"))
                    .clicked()
                {
                    self.canvas.fit(FitTarget::Drawing);
                }
                if ui
                    .add(egui::Button::new("Fit selection").shortcut_text("Shift+F"))
                    .clicked()
                {
                    self.canvas.fit(FitTarget::Selection);
                }
                ui.checkbox(&mut self.settings.show_grid, "Grid");
                ui.checkbox(&mut self.snapping.grid, "Snap to grid");
                ui.checkbox(&mut self.snapping.objects, "Snap to endpoints and walls");
            });
            ui.menu_button("Help", |ui| {
                if ui
                    .add(egui::Button::new("Keyboard shortcuts").shortcut_text("F1"))
                    .clicked()
                {
                    self.help_open = true;
                }
            });
            ui.separator();
            let (undo, redo) = self.ws.as_ref().map_or((false, false), |w| {
                (
                    w.history.undo_label().is_some(),
                    w.history.redo_label().is_some(),
                )
            });
            if ui
                .add_enabled(undo, egui::Button::new("Undo").small())
                .on_hover_text("Undo your last edit (Ctrl+Z)")
                .clicked()
            {
                self.act(&ctx, Action::Undo);
            }
            if ui
                .add_enabled(redo, egui::Button::new("Redo").small())
                .on_hover_text("Redo (Ctrl+Shift+Z)")
                .clicked()
            {
                self.act(&ctx, Action::Redo);
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                self.search_box(ui);
            });
        });
    }

    fn search_box(&mut self, ui: &mut egui::Ui) {
        let r = ui.add(
            egui::TextEdit::singleline(&mut self.search)
                .hint_text("Find by tag (Ctrl+F)")
                .desired_width(220.0),
        );
        if std::mem::take(&mut self.focus_search) {
            r.request_focus();
        }
        let Some(ws) = self.ws.as_mut() else { return };
        let hits = ws
            .read(|doc| crate::panels::search(doc, &self.search, ws.floor.as_ref(), 12))
            .unwrap_or_default();
        let enter = r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        let mut jump = enter
            .then(|| hits.first().map(|(id, _)| id.clone()))
            .flatten();
        if r.has_focus() && !hits.is_empty() {
            egui::Popup::from_response(&r).open(true).show(|ui| {
                for (id, tag) in &hits {
                    if ui.selectable_label(false, tag).clicked() {
                        jump = Some(id.clone());
                    }
                }
            });
        }
        if let Some(id) = jump {
            if let Some(floor) = ws
                .read(|doc| doc.element(&id).map(|e| e.floor.clone()))
                .flatten()
            {
                ws.floor = Some(floor);
            }
            ws.hidden_layers.clear();
            ws.selection.clear();
            ws.selection.insert(id);
            self.canvas.fit(FitTarget::Selection);
            self.search.clear();
        }
    }

    pub(super) fn tool_bar(&mut self, ui: &mut egui::Ui) {
        ui.add_space(6.0);
        ui.weak("TOOLS");
        let read_only = self.ws.as_ref().and_then(|w| w.permission.read_only());
        if let Some(why) = read_only {
            ui.label(egui::RichText::new("View only").strong())
                .on_hover_text(why);
            ui.add(egui::Label::new(egui::RichText::new(why).weak().small()).wrap());
        }
        for tool in Tool::ALL {
            let on = self.tool == tool;
            let enabled = read_only.is_none() || tool == Tool::Select;
            let r = ui
                .add_enabled_ui(enabled, |ui| {
                    ui.add_sized(
                        [116.0, 26.0],
                        egui::Button::selectable(on, tool.label())
                            .right_text(egui::RichText::new(tool.shortcut()).weak()),
                    )
                })
                .inner
                .on_hover_text(tool.hint())
                .on_disabled_hover_text(read_only.unwrap_or_default());
            // The accessible name is the tool's alone, without the shortcut shown beside it.
            r.widget_info(|| {
                egui::WidgetInfo::selected(egui::Role::Button, true, on, tool.label())
            });
            if r.clicked() {
                self.select_tool(tool);
            }
            if matches!(tool, Tool::Room | Tool::Window | Tool::Fixture) {
                ui.add_space(4.0);
            }
        }
        ui.separator();
        match self.tool {
            Tool::Wall => {
                ui.weak("Thickness");
                ui.add(
                    egui::DragValue::new(&mut self.placement.wall_thickness_mm)
                        .range(10.0..=2_000.0)
                        .suffix(" mm")
                        .speed(5.0),
                );
            }
            Tool::Door => {
                ui.weak("Door width");
                ui.add(
                    egui::DragValue::new(&mut self.placement.door_width_mm)
                        .range(300.0..=3_000.0)
                        .suffix(" mm")
                        .speed(10.0),
                );
            }
            Tool::Window => {
                ui.weak("Window width");
                ui.add(
                    egui::DragValue::new(&mut self.placement.window_width_mm)
                        .range(300.0..=6_000.0)
                        .suffix(" mm")
                        .speed(10.0),
                );
            }
            _ => {}
        }
    }

    pub(super) fn side_panel(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        egui::ScrollArea::vertical().show(ui, |ui| {
            ui.add_space(4.0);
            self.live_sections(ui);
            self.plan_sections(ui, &ctx);
        });
    }

    /// Session, people and conflicts.
    fn live_sections(&mut self, ui: &mut egui::Ui) {
        let Some(ws) = self.ws.as_ref() else { return };
        let shared = ws.is_shared();
        egui::CollapsingHeader::new("Session")
            .default_open(true)
            .show(ui, |ui| self.session_section(ui));
        ui.separator();
        if shared {
            let n = self.ws.as_ref().map_or(0, |w| w.people.by_peer.len());
            egui::CollapsingHeader::new(format!("People ({})", n + 1))
                .id_salt("people")
                .default_open(true)
                .show(ui, |ui| self.people_section(ui));
            ui.separator();
        }
        let list = self
            .ws
            .as_ref()
            .and_then(|w| w.live().map(|s| s.client().conflicts()))
            .unwrap_or_default();
        {
            egui::CollapsingHeader::new(format!("Conflicts ({})", list.len()))
                .id_salt("conflicts")
                .default_open(!list.is_empty())
                .show(ui, |ui| self.conflicts_section(ui, &list));
            ui.separator();
        }
        let threads = self
            .ws
            .as_ref()
            .map(|w| w.threads.clone())
            .unwrap_or_default();
        let open = threads.iter().filter(|t| !t.root.resolved).count();
        egui::CollapsingHeader::new(format!("Comments ({open})"))
            .id_salt("comments")
            .default_open(open > 0)
            .show(ui, |ui| self.comments_section(ui, &threads));
        ui.separator();
        egui::CollapsingHeader::new("History")
            .default_open(false)
            .show(ui, |ui| self.history_section(ui));
        ui.separator();
    }

    /// Floors and layers, and the inspector.
    fn plan_sections(&mut self, ui: &mut egui::Ui, ctx: &egui::Context) {
        let Some(ws) = self.ws.as_mut() else { return };
        let mut errors = Vec::new();
        let inspector_rect;
        {
            egui::CollapsingHeader::new("Floors and layers")
                .default_open(true)
                .show(ui, |ui| {
                    // The panel edits what this window shows, not the plan: it reads a snapshot
                    // of floors and layers, then updates the workspace's view state.
                    let Some(doc_view) = ws.read(crate::panels::LayerList::of) else {
                        return;
                    };
                    let req = crate::panels::layers(ui, ws, &doc_view);
                    if req.floor_changed {
                        self.canvas.fit(FitTarget::Drawing);
                    }
                    if req.layers_changed {
                        ws.prune_selection();
                    }
                });
            ui.separator();
            let shown = egui::CollapsingHeader::new("Inspector")
                .default_open(true)
                .show(ui, |ui| {
                    let selection: Vec<_> = ws.selection.iter().cloned().collect();
                    let units = self.settings.units;
                    let inspector = &mut self.inspector;
                    let Some(req) = ws.read(|doc| inspector.show(ui, doc, &selection, units))
                    else {
                        return;
                    };
                    if let Some((label, touched, cmds)) = req.edit
                        && let Err(e) = ws.edit(&label, &touched, &[], cmds)
                    {
                        errors.push(e);
                    }
                    if let Some(p) = req.pick_ref {
                        self.canvas.picking_ref = Some(p);
                    }
                    errors.extend(req.error);
                });
            inspector_rect = shown.body_response.map(|r| r.rect);
        }
        // Working in the inspector (a field has focus or is being dragged) holds leases on
        // the selection, as a drag on the canvas does.
        let within = |id: Option<egui::Id>| {
            id.and_then(|id| ctx.read_response(id))
                .zip(inspector_rect)
                .is_some_and(|(r, area)| area.contains_rect(r.rect))
        };
        self.inspector_editing =
            within(ctx.memory(egui::Memory::focused)) || within(ctx.dragged_id());
        for e in errors {
            self.toast(ctx, e, true);
        }
    }

    pub(super) fn status_bar(&mut self, ui: &mut egui::Ui) {
        let hint = self.tool.hint().to_owned();
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            self.status_facts(ui);
            // What the facts leave of the bar: the tool's hint, cut short with an ellipsis
            // on a narrow window rather than drawn under them.
            ui.with_layout(egui::Layout::left_to_right(egui::Align::Center), |ui| {
                ui.add(egui::Label::new(egui::RichText::new(hint).weak()).truncate());
            });
        });
    }

    /// The right of the status bar, laid out right to left: session state, who you are,
    /// counts, scale and the pointer's position.
    fn status_facts(&mut self, ui: &mut egui::Ui) {
        let Some(ws) = self.ws.as_ref() else {
            return;
        };
        let status = ws.status();
        let live = ws.live().is_some_and(|s| s.client().invite().is_some());
        let (text, color) = if live && status.paused {
            (
                format!("Sync paused ({} queued)", status.pending),
                egui::Color32::from_rgb(0x75, 0x75, 0x75),
            )
        } else if live {
            match status.state {
                ConnectionState::Connected => (
                    "In sync".to_owned(),
                    egui::Color32::from_rgb(0x2E, 0x7D, 0x32),
                ),
                ConnectionState::Syncing => (
                    format!("Syncing ({} pending)", status.pending),
                    egui::Color32::from_rgb(0x15, 0x65, 0xC0),
                ),
                ConnectionState::Conflict => (
                    crate::actions::plural(status.conflicts, "conflict"),
                    egui::Color32::from_rgb(0xE6, 0x51, 0x00),
                ),
                ConnectionState::Offline => (
                    format!("Offline ({} pending)", status.pending),
                    egui::Color32::from_rgb(0x75, 0x75, 0x75),
                ),
            }
        } else {
            ("Local file".to_owned(), ui.visuals().weak_text_color())
        };
        ui.label(egui::RichText::new(text).color(color));
        if live {
            if status.conflicts > 0 && status.state != ConnectionState::Conflict {
                ui.label(
                    egui::RichText::new(crate::actions::plural(status.conflicts, "conflict"))
                        .color(egui::Color32::from_rgb(0xE6, 0x51, 0x00)),
                );
            }
            if let Some(rtt) = status
                .rtt_ms
                .filter(|_| status.state != ConnectionState::Offline)
            {
                ui.weak(format!("{rtt} ms"))
                    .on_hover_text("Round trip to the relay");
            }
            let role = status.role.map_or("…", arxos_sync::Role::as_str);
            ui.label(format!("{} · {role}", ws.author()));
            let (r, _) = ui.allocate_exact_size(egui::vec2(10.0, 10.0), egui::Sense::hover());
            let me = crate::overlay::parse_hex(&ws.color()).unwrap_or(egui::Color32::GRAY);
            ui.painter().circle_filled(r.center(), 5.0, me);
        }
        ui.separator();
        if let Some(n) = ws.read(|doc| doc.elements().count()) {
            ui.label(format!("{n} elements · {} selected", ws.selection.len()));
        }
        ui.separator();
        if let Some(v) = self.canvas.view {
            // Screen millimetres at 96 dpi against plan millimetres: the drawing scale.
            let scale =
                96.0 / 25.4 / v.zoom_px_per_mm * f64::from(ui.ctx().pixels_per_point()).recip();
            ui.label(format!("1:{:.0}", scale.max(1.0)));
        }
        ui.separator();
        let u = self.settings.units;
        match self.canvas.pointer_plan {
            Some(p) => {
                let (x, y) = match u {
                    Units::Mm => (format!("{:.0}", p.x), format!("{:.0}", p.y)),
                    Units::M => (
                        format!("{:.3}", p.x / 1_000.0),
                        format!("{:.3}", p.y / 1_000.0),
                    ),
                };
                ui.monospace(format!("x {x}  y {y} {}", units_label(u)))
            }
            None => ui.monospace(" "),
        };
    }

    pub(super) fn preferences(&mut self, ctx: &egui::Context) {
        if !self.prefs_open {
            return;
        }
        let mut open = true;
        let mut save = false;
        egui::Window::new("Preferences")
            .open(&mut open)
            .collapsible(false)
            .resizable(false)
            .show(ctx, |ui| {
                egui::Grid::new("prefs")
                    .num_columns(2)
                    .spacing([10.0, 8.0])
                    .show(ui, |ui| {
                        ui.label("Your name");
                        ui.text_edit_singleline(&mut self.prefs_name);
                        ui.end_row();
                        ui.label("Your colour");
                        ui.text_edit_singleline(&mut self.prefs_color);
                        ui.end_row();
                        ui.label("Theme");
                        ui.horizontal(|ui| {
                            ui.selectable_value(
                                &mut self.settings.theme,
                                ThemeChoice::Light,
                                "Light",
                            );
                            ui.selectable_value(
                                &mut self.settings.theme,
                                ThemeChoice::Dark,
                                "Dark",
                            );
                        });
                        ui.end_row();
                        ui.label("Units");
                        ui.horizontal(|ui| {
                            ui.selectable_value(&mut self.settings.units, Units::Mm, "mm");
                            ui.selectable_value(&mut self.settings.units, Units::M, "m");
                        });
                        ui.end_row();
                        ui.label("Grid");
                        ui.add(
                            egui::DragValue::new(&mut self.settings.grid_mm)
                                .range(1.0..=10_000.0)
                                .suffix(" mm"),
                        );
                        ui.end_row();
                    });
                ui.weak("Name and colour are shared with the command line (settings.json).");
                save = ui.button("Save").clicked();
            });
        if save {
            self.snapping.grid_mm = self.settings.grid_mm;
            apply_style(ctx, self.settings.theme);
            self.save_settings(ctx);
            if self.persist {
                let color = self.prefs_color.trim().to_owned();
                if arxos_sync::identity::is_color(&color) {
                    let s = arxos_sync::identity::Settings {
                        name: Some(self.prefs_name.trim().to_owned()),
                        color: Some(color),
                    };
                    match s.save() {
                        Ok(p) => self.toast(
                            ctx,
                            format!(
                                "Saved {} (applies to plans opened from now on)",
                                p.display()
                            ),
                            false,
                        ),
                        Err(e) => self.toast(ctx, e.to_string(), true),
                    }
                } else {
                    self.toast(ctx, format!("“{color}” is not a colour like #1e88e5"), true);
                }
            }
            open = false;
        }
        self.prefs_open = open;
    }
}
