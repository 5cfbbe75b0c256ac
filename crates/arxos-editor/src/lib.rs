//! # arxos-editor: the Arxos Studio desktop editor
//!
//! An eframe/egui shell around the GPU plan canvas of `arxos-render`: drawing tools, the
//! property inspector, layers and floors, files, undo of one's own edits, and the live session
//! of `arxos-session`. The root `arxos` binary calls [`run`] when it is started without a
//! subcommand.
//!
//! ## Layout of the crate
//!
//! - [`app`]: the window (menus, tool bar, panels, status bar) and the event pump;
//! - [`workspace`]: one open plan: its session, selection, undo history and canvas scene;
//! - `canvas` + `bridge`: the canvas widget (input, overlays) and the one module that hands the
//!   renderer to egui (`egui_wgpu::CallbackTrait`);
//! - pure logic with no egui in it, tested on its own (selective undo of one's own changes is
//!   `arxos_doc::undo`, shared with `arxos undo --as`): [`picking`] (hit tests precise to the geometry), [`snap`], [`tools`] (what each
//!   tool creates), [`clipboard`];
//! - `inspector`, `panels`, `help`, `files`, [`settings`]: the rest of the window.
//!
//! The UI never writes the document: every edit is a list of `arxos_doc::Command`s handed to
//! the session's `SyncClient::apply`, and the canvas learns what changed from the session's
//! `ClientEvent::Changed` events, whoever made the change.

// Window and panel builders are long runs of widgets in layout order; cutting them into
// more functions would hide the layout they describe.
#![allow(clippy::too_many_lines)]

mod actions;
pub mod app;
mod bridge;
pub mod canvas;
pub mod clipboard;
pub mod collab;
mod context_menu;
mod files;
mod help;
pub mod inspector;
mod opening;
mod overlay;
pub mod panels;
pub mod picking;
mod remote;
pub mod settings;
pub mod snap;
pub mod tools;
pub mod workspace;

use std::path::PathBuf;

pub use app::{EditorApp, Launch};

/// Errors that stop the editor from starting.
#[derive(Debug, thiserror::Error)]
pub enum EditorError {
    /// No display server to open a window on.
    #[error(
        "no display: DISPLAY and WAYLAND_DISPLAY are unset, so the editor cannot open a window; \
         the headless commands work anywhere (see `arxos --help`)"
    )]
    NoDisplay,
    /// The windowing or GPU layer failed.
    #[error("cannot open the editor window: {0}")]
    Window(String),
}

/// Whether a display server is reachable by the environment's reckoning: on Linux and the
/// BSDs a window needs `DISPLAY` (X11) or `WAYLAND_DISPLAY`.
pub fn has_display() -> bool {
    if cfg!(any(
        target_os = "linux",
        target_os = "freebsd",
        target_os = "openbsd"
    )) {
        let set = |k: &str| std::env::var_os(k).is_some_and(|v| !v.is_empty());
        set("DISPLAY") || set("WAYLAND_DISPLAY")
    } else {
        true
    }
}

/// Opens the editor window on `file` (the bundled sample when `None`) and runs until it is
/// closed.
pub fn run(file: Option<PathBuf>, sample_svgx: &'static str) -> Result<(), EditorError> {
    open_window(Launch {
        file,
        sample_svgx,
        msaa_samples: 4,
        persist_settings: true,
        join: None,
        scene_cache: arxos_sync::identity::cache_dir().map(|d| d.join("scenes")),
        ..Launch::default()
    })
}

/// Opens the editor window joined to the session behind `code` (`arxos join CODE`), keeping
/// the plan in `file` (by default `~/Arxos/<room>.arx`, or `$ARXOS_PLANS_DIR`).
pub fn run_joined(
    code: arxos_sync::InviteCode,
    file: Option<PathBuf>,
    sample_svgx: &'static str,
) -> Result<(), EditorError> {
    open_window(Launch {
        file,
        sample_svgx,
        msaa_samples: 4,
        persist_settings: true,
        join: Some(code),
        scene_cache: arxos_sync::identity::cache_dir().map(|d| d.join("scenes")),
        ..Launch::default()
    })
}

fn open_window(launch: Launch) -> Result<(), EditorError> {
    if !has_display() {
        return Err(EditorError::NoDisplay);
    }
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("Arxos Studio")
            .with_app_id("studio.arxos.Arxos")
            .with_inner_size([1280.0, 800.0])
            .with_min_inner_size([720.0, 480.0])
            .with_drag_and_drop(true),
        renderer: eframe::Renderer::Wgpu,
        multisampling: launch.msaa_samples,
        persist_window: false,
        ..Default::default()
    };
    eframe::run_native(
        "Arxos Studio",
        options,
        Box::new(move |cc| Ok(Box::new(EditorApp::new(cc, launch)))),
    )
    .map_err(|e| EditorError::Window(e.to_string()))
}
