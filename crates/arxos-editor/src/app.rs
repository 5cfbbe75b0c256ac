//! The editor window: menus, the tool bar, the canvas, layers and inspector panels, the status
//! bar and notifications; keyboard shortcuts; files opened, dropped, saved and exported.

use std::path::{Path, PathBuf};

use arxos_doc::Point;
use egui::{Key, KeyboardShortcut, Modifiers};

use crate::actions::{self, Action};
use crate::canvas::{Canvas, FitTarget, Outcome};
use crate::files::{Dialogs, Purpose};
use crate::inspector::Inspector;
use crate::opening::Opening;
use crate::settings::{EditorSettings, ThemeChoice, Units};
use crate::snap::SnapSettings;
use crate::tools::{Placement, Tool};
use crate::workspace::{Notice, Workspace};

/// How the editor starts.
#[derive(Clone, Debug)]
pub struct Launch {
    /// The plan to open; the bundled sample when `None`.
    pub file: Option<PathBuf>,
    /// The sample plan's SVGX text.
    pub sample_svgx: &'static str,
    /// MSAA samples of the window's render pass (must match eframe's `multisampling`).
    pub msaa_samples: u16,
    /// Load and save settings (off in tests, which must not touch the user's files).
    pub persist_settings: bool,
    /// Join this session (`arxos join CODE`), keeping the plan in `file` when given.
    pub join: Option<arxos_sync::InviteCode>,
    /// Where drawn plans are kept between runs, so that a large plan shows at once.
    pub scene_cache: Option<PathBuf>,
    /// Plan files at least this large open in the background.
    pub open_in_background_from: u64,
}

impl Default for Launch {
    fn default() -> Self {
        Self {
            file: None,
            sample_svgx: "",
            msaa_samples: 1,
            persist_settings: true,
            join: None,
            scene_cache: None,
            open_in_background_from: crate::opening::BACKGROUND_FROM_BYTES,
        }
    }
}

struct Toast {
    text: String,
    error: bool,
    until: f64,
}

/// The editor application.
#[allow(clippy::struct_excessive_bools)] // independent window toggles
pub struct EditorApp {
    /// The open plan.
    pub ws: Option<Workspace>,
    /// The canvas.
    pub canvas: Canvas,
    /// The tool in hand.
    pub tool: Tool,
    /// Snapping.
    pub snapping: SnapSettings,
    /// Remembered settings.
    pub settings: EditorSettings,
    inspector: Inspector,
    gpu: Option<egui_wgpu::RenderState>,
    msaa: u32,
    dialogs: Dialogs,
    toasts: Vec<Toast>,
    help_open: bool,
    prefs_open: bool,
    search: String,
    focus_search: bool,
    sample_svgx: &'static str,
    persist: bool,
    shown_title: String,
    placement: Placement,
    prefs_name: String,
    prefs_color: String,
    ctx: egui::Context,
    session_form: session::SessionForm,
    conflicts_ui: conflicts::ConflictsUi,
    history_ui: history::HistoryUi,
    /// The plan, while the window previews one of its versions.
    previewing: Option<Workspace>,
    rules_ui: rules::RulesUi,
    comments_ui: comments::CommentsUi,
    /// Errors found while a panel borrowed the workspace, shown after it.
    toasts_later: Vec<String>,
    last_input: std::time::Instant,
    inspector_editing: bool,
    /// A plan being opened in the background.
    opening: Option<Opening>,
    scenes: Option<arxos_render::SceneCache>,
    open_in_background_from: u64,
}

impl EditorApp {
    /// Builds the app; opens `launch.file` or the sample.
    pub fn new(cc: &eframe::CreationContext<'_>, launch: Launch) -> Self {
        let (settings, warning) = if launch.persist_settings {
            EditorSettings::load()
        } else {
            (EditorSettings::default(), None)
        };
        let identity = arxos_sync::identity::Identity::current();
        let mut app = Self {
            ws: None,
            canvas: Canvas::default(),
            tool: Tool::Select,
            snapping: SnapSettings {
                grid_mm: settings.grid_mm,
                ..SnapSettings::default()
            },
            settings,
            inspector: Inspector::default(),
            gpu: cc.wgpu_render_state.clone(),
            msaa: u32::from(launch.msaa_samples.max(1)),
            dialogs: Dialogs::default(),
            toasts: Vec::new(),
            help_open: false,
            prefs_open: false,
            search: String::new(),
            focus_search: false,
            sample_svgx: launch.sample_svgx,
            persist: launch.persist_settings,
            shown_title: String::new(),
            placement: Placement::on(arxos_doc::FloorId::new("level-1")),
            prefs_name: identity.name,
            prefs_color: identity.color,
            ctx: cc.egui_ctx.clone(),
            session_form: session::SessionForm::default(),
            conflicts_ui: conflicts::ConflictsUi::default(),
            history_ui: history::HistoryUi::default(),
            previewing: None,
            rules_ui: rules::RulesUi::default(),
            comments_ui: comments::CommentsUi::default(),
            toasts_later: Vec::new(),
            last_input: std::time::Instant::now(),
            inspector_editing: false,
            opening: None,
            scenes: launch.scene_cache.map(arxos_render::SceneCache::new),
            open_in_background_from: launch.open_in_background_from,
        };
        apply_style(&cc.egui_ctx, app.settings.theme);
        if let Some(w) = warning {
            app.toast(&cc.egui_ctx, w, true);
        }
        match (launch.join, launch.file) {
            (Some(code), file) => {
                app.open_sample(&cc.egui_ctx);
                app.join(code, file);
            }
            (None, Some(f)) => app.open_path(&cc.egui_ctx, &f),
            (None, None) => app.open_sample(&cc.egui_ctx),
        }
        app
    }

    /// Where a plan point is on screen in the last frame (tests drive the canvas with it).
    pub fn screen_pos(&self, p: Point) -> Option<egui::Pos2> {
        self.canvas.mapping.map(|m| m.to_screen(p))
    }

    fn toast(&mut self, ctx: &egui::Context, text: impl Into<String>, error: bool) {
        let now = ctx.input(|i| i.time);
        let text = text.into();
        if error {
            tracing::warn!("{text}");
        }
        self.toasts.push(Toast {
            text,
            error,
            until: now + if error { 8.0 } else { 4.0 },
        });
        if self.toasts.len() > 4 {
            self.toasts.remove(0);
        }
    }

    fn save_settings(&mut self, ctx: &egui::Context) {
        if self.persist
            && let Err(e) = self.settings.save()
        {
            self.toast(ctx, format!("settings not saved: {e}"), true);
        }
    }

    fn act(&mut self, ctx: &egui::Context, action: Action) {
        let Some(ws) = self.ws.as_mut() else { return };
        match actions::run(ws, action) {
            Ok(Some(msg)) => self.toast(ctx, msg, false),
            Ok(None) => {}
            Err(e) => self.toast(ctx, e, true),
        }
    }

    fn select_tool(&mut self, tool: Tool) {
        if self.tool != tool {
            self.canvas.cancel();
            self.canvas.clear_refusal();
            self.tool = tool;
        }
    }

    fn shortcuts(&mut self, ctx: &egui::Context) {
        let typing = ctx.egui_wants_keyboard_input();
        let cmd = |m: Modifiers, k: Key| {
            ctx.input_mut(|i| i.consume_shortcut(&KeyboardShortcut::new(m, k)))
        };
        if cmd(Modifiers::COMMAND | Modifiers::SHIFT, Key::Z) || cmd(Modifiers::COMMAND, Key::Y) {
            self.act(ctx, Action::Redo);
        }
        if cmd(Modifiers::COMMAND, Key::Z) {
            self.act(ctx, Action::Undo);
        }
        if cmd(Modifiers::COMMAND | Modifiers::SHIFT, Key::S) {
            self.ask(ctx, Purpose::SaveAs);
        }
        if cmd(Modifiers::COMMAND, Key::O) {
            self.ask(ctx, Purpose::Open);
        }
        if cmd(Modifiers::COMMAND, Key::F) {
            self.focus_search = true;
        }
        if typing {
            return;
        }
        if cmd(Modifiers::COMMAND, Key::D) {
            self.act(ctx, Action::Duplicate);
        }
        if cmd(Modifiers::COMMAND, Key::A) {
            self.act(ctx, Action::SelectAll);
        }
        // Clipboard: egui turns Ctrl+C/X/V into events carrying the system clipboard.
        let events = ctx.input(|i| i.events.clone());
        for ev in events {
            match ev {
                egui::Event::Copy | egui::Event::Cut => {
                    if let Some(text) = self.ws.as_ref().and_then(actions::copy_text) {
                        ctx.copy_text(text);
                        if matches!(ev, egui::Event::Cut) {
                            self.act(ctx, Action::Delete);
                        }
                    }
                }
                egui::Event::Paste(text) => self.act(ctx, Action::Paste(text)),
                egui::Event::Text(t) if t == "?" => self.help_open = !self.help_open,
                egui::Event::Text(t) if t == "+" || t == "=" => self.canvas.zoom_by(1.25),
                egui::Event::Text(t) if t == "-" => self.canvas.zoom_by(0.8),
                _ => {}
            }
        }
        let pressed = |k: Key| ctx.input(|i| i.key_pressed(k) && i.modifiers.is_none());
        let shift_pressed = |k: Key| ctx.input(|i| i.key_pressed(k) && i.modifiers.shift_only());
        if pressed(Key::F1) {
            self.help_open = !self.help_open;
        }
        for tool in Tool::ALL {
            if Key::from_name(tool.shortcut()).is_some_and(pressed) {
                self.select_tool(tool);
            }
        }
        if pressed(Key::Escape) {
            if self.canvas.points.is_empty() && self.canvas.picking_ref.is_none() {
                if let Some(ws) = self.ws.as_mut() {
                    ws.selection.clear();
                }
                self.select_tool(Tool::Select);
            }
            self.canvas.cancel();
        }
        if pressed(Key::Enter) && self.tool.is_multi_point() {
            self.finish_drawing(ctx);
        }
        if pressed(Key::Delete) || pressed(Key::Backspace) {
            self.act(ctx, Action::Delete);
        }
        if pressed(Key::F) {
            self.canvas.fit(FitTarget::Drawing);
        }
        if shift_pressed(Key::F) {
            self.canvas.fit(FitTarget::Selection);
        }
        if pressed(Key::G) {
            self.settings.show_grid = !self.settings.show_grid;
        }
        if shift_pressed(Key::G) {
            self.snapping.grid = !self.snapping.grid;
            self.snapping.objects = self.snapping.grid;
        }
        let step = self.snapping.grid_mm.max(1.0);
        for (k, dx, dy) in [
            (Key::ArrowLeft, -1.0, 0.0),
            (Key::ArrowRight, 1.0, 0.0),
            (Key::ArrowUp, 0.0, -1.0),
            (Key::ArrowDown, 0.0, 1.0),
        ] {
            let (plain, big) = (pressed(k), shift_pressed(k));
            if plain || big {
                let f = if big { step * 10.0 } else { step };
                self.act(ctx, Action::Nudge(dx * f, dy * f));
            }
        }
    }

    fn finish_drawing(&mut self, ctx: &egui::Context) {
        let Some(place) = self.ws.as_ref().map(|ws| self.placement_for(ws)) else {
            return;
        };
        let Some(ws) = self.ws.as_mut() else { return };
        let mut out = Outcome::default();
        self.canvas.finish_points(ws, self.tool, &place, &mut out);
        self.report(ctx, out);
    }

    fn placement_for(&self, ws: &Workspace) -> Placement {
        Placement {
            floor: ws
                .floor
                .clone()
                .unwrap_or_else(|| arxos_doc::FloorId::new("level-1")),
            ..self.placement.clone()
        }
    }

    fn report(&mut self, ctx: &egui::Context, out: Outcome) {
        for m in out.messages {
            self.toast(ctx, m, false);
        }
        for e in out.errors {
            self.toast(ctx, e, true);
        }
    }

    fn ask(&mut self, ctx: &egui::Context, purpose: Purpose) {
        let near = self
            .ws
            .as_ref()
            .filter(|w| !w.is_untitled())
            .map(|w| w.path().to_owned());
        self.dialogs.ask(purpose, near, ctx);
    }

    fn answer(&mut self, ctx: &egui::Context, purpose: Purpose, path: &Path) {
        match purpose {
            Purpose::Open | Purpose::Import => self.open_path(ctx, path),
            Purpose::SaveAs => {
                let Some(ws) = self.ws.as_mut() else { return };
                match ws.save_as(path, Some(ctx.clone())) {
                    Ok(()) => {
                        if let Some(gpu) = &self.gpu {
                            crate::bridge::install(gpu, self.msaa, &ws.scene);
                        }
                        self.settings.remember(path);
                        self.save_settings(ctx);
                        self.toast(ctx, format!("Saved as {}", path.display()), false);
                    }
                    Err(e) => self.toast(ctx, e, true),
                }
            }
            Purpose::ExportSvgx => {
                let result = self.ws.as_ref().and_then(|ws| {
                    ws.read(|doc| {
                        let text = arxos_doc::svgx::export_svgx(
                            doc,
                            &arxos_doc::svgx::ExportOptions {
                                floor: ws.floor.clone(),
                            },
                        );
                        arxos_doc::file::write_atomic(path, text.as_bytes(), false)
                            .map_err(|e| e.to_string())
                    })
                });
                self.done(ctx, result, format!("Exported {} (the live drawing; deleted elements, rules and versions stay in the .arx)", path.display()));
            }
            Purpose::ExportPng => {
                let result = self
                    .ws
                    .as_ref()
                    .zip(self.canvas.view)
                    .and_then(|(ws, view)| {
                        ws.read(|doc| {
                            arxos_render::render_to_png(doc, &ws.scene_options(), &view)
                                .map_err(|e| e.to_string())
                                .and_then(|png| {
                                    arxos_doc::file::write_atomic(path, &png, false)
                                        .map_err(|e| e.to_string())
                                })
                        })
                    });
                self.done(ctx, result, format!("Exported {}", path.display()));
            }
        }
    }

    fn done(&mut self, ctx: &egui::Context, result: Option<Result<(), String>>, ok: String) {
        match result {
            Some(Ok(())) => self.toast(ctx, ok, false),
            Some(Err(e)) => self.toast(ctx, e, true),
            None => {}
        }
    }
}

/// The window's look: calm, with room between controls.
fn apply_style(ctx: &egui::Context, theme: ThemeChoice) {
    ctx.set_theme(match theme {
        ThemeChoice::Light => egui::Theme::Light,
        ThemeChoice::Dark => egui::Theme::Dark,
    });
    ctx.global_style_mut(|s| {
        s.spacing.item_spacing = egui::vec2(8.0, 6.0);
        s.spacing.button_padding = egui::vec2(8.0, 4.0);
    });
}

impl eframe::App for EditorApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let ctx = ui.ctx().clone();
        if let Some((purpose, path)) = self.dialogs.poll() {
            self.answer(&ctx, purpose, &path);
        }
        let dropped: Vec<PathBuf> = ctx.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_path_buf())
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        });
        if let Some(path) = dropped.first() {
            self.open_path(&ctx, path);
        }
        self.poll_pending(&ctx);
        self.poll_opening(&ctx);
        let busy = self.opening.is_some();
        let now = std::time::Instant::now();
        if ctx.input(|i| !i.events.is_empty()) {
            self.last_input = now;
        }
        let notices = self.ws.as_mut().map(Workspace::pump).unwrap_or_default();
        self.before_canvas(&ctx, now);
        for n in notices {
            match n {
                Notice::RemoteEdit(who) => {
                    self.toast(&ctx, format!("{} edited the plan", who.join(", ")), false);
                }
                Notice::Info(m) => self.toast(&ctx, m, false),
                Notice::Error(m) => self.toast(&ctx, m, true),
            }
        }
        if !busy {
            self.shortcuts(&ctx);
        }
        let title = self.ws.as_ref().map_or_else(
            || "Arxos Studio".to_owned(),
            |w| format!("{} — Arxos Studio", w.title()),
        );
        if title != self.shown_title {
            ctx.send_viewport_cmd(egui::ViewportCommand::Title(title.clone()));
            self.shown_title = title;
        }

        egui::Panel::top("menu").show(ui, |ui| self.menu_bar(ui));
        if self.previewing.is_some() {
            egui::Panel::top("preview").show(ui, |ui| self.preview_banner(ui));
        }
        egui::Panel::bottom("status").show(ui, |ui| self.status_bar(ui));
        egui::Panel::left("tools")
            .resizable(false)
            .exact_size(132.0)
            .show(ui, |ui| ui.add_enabled_ui(!busy, |ui| self.tool_bar(ui)));
        egui::Panel::right("side")
            .resizable(true)
            .default_size(300.0)
            .min_size(240.0)
            .show(ui, |ui| ui.add_enabled_ui(!busy, |ui| self.side_panel(ui)));
        egui::CentralPanel::no_frame().show(ui, |ui| {
            if let Some(opening) = &self.opening {
                opening.show(ui, self.gpu.is_some());
                return;
            }
            let Some(ws) = self.ws.as_mut() else {
                ui.centered_and_justified(|ui| ui.heading("Open a plan (Ctrl+O) or drop one here"));
                return;
            };
            let out = self.canvas.show(
                ui,
                ws,
                self.tool,
                self.snapping,
                self.settings.show_grid,
                self.gpu.as_ref(),
            );
            self.report(&ctx, out);
        });
        self.after_canvas(&ctx, now);

        crate::help::show(&ctx, &mut self.help_open);
        self.preferences(&ctx);
        self.rules_window(&ctx);
        self.show_toasts(&ctx);
    }

    fn on_exit(&mut self) {
        if let Some(ws) = self.ws.take() {
            self.close_workspace(ws);
        }
        if let Some(mut plan) = self.previewing.take() {
            plan.close();
        }
    }
}

mod branches;
mod chrome;
mod comments;
mod conflicts;
mod history;
mod open;
mod preview;
mod rules;
mod session;

impl EditorApp {
    fn show_toasts(&mut self, ctx: &egui::Context) {
        let now = ctx.input(|i| i.time);
        self.toasts.retain(|t| t.until > now);
        if self.toasts.is_empty() {
            return;
        }
        ctx.request_repaint_after(std::time::Duration::from_millis(500));
        egui::Area::new(egui::Id::unique("arxos-toasts"))
            .anchor(egui::Align2::RIGHT_BOTTOM, egui::vec2(-316.0, -40.0))
            .interactable(false)
            .show(ctx, |ui| {
                for t in &self.toasts {
                    let (fill, text) = if t.error {
                        (
                            egui::Color32::from_rgb(0xFD, 0xEC, 0xEA),
                            egui::Color32::from_rgb(0xB7, 0x1C, 0x1C),
                        )
                    } else {
                        (
                            egui::Color32::from_rgb(0x26, 0x32, 0x38),
                            egui::Color32::WHITE,
                        )
                    };
                    egui::Frame::new()
                        .fill(fill)
                        .corner_radius(6.0)
                        .inner_margin(egui::Margin::symmetric(12, 8))
                        .show(ui, |ui| {
                            ui.set_max_width(420.0);
                            ui.label(egui::RichText::new(&t.text).color(text));
                        });
                    ui.add_space(6.0);
                }
            });
    }
}

/// Units in the status bar.
pub(crate) fn units_label(u: Units) -> &'static str {
    match u {
        Units::Mm => "mm",
        Units::M => "m",
    }
}
