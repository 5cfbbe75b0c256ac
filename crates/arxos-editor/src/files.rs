//! File dialogs (rfd) run off the UI thread, so a slow portal never freezes the window; the
//! chosen path comes back through a channel and the app acts on it at the next frame.

use std::path::PathBuf;
use std::sync::mpsc;

/// What a dialog was opened for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// Open a plan.
    Open,
    /// Save the plan under a new name.
    SaveAs,
    /// Import an SVG or SVGX drawing as a new plan.
    Import,
    /// Export SVGX.
    ExportSvgx,
    /// Export a PNG of the view.
    ExportPng,
}

/// Dialogs in flight.
#[derive(Debug)]
pub struct Dialogs {
    tx: mpsc::Sender<(Purpose, Option<PathBuf>)>,
    rx: mpsc::Receiver<(Purpose, Option<PathBuf>)>,
    busy: bool,
}

impl Default for Dialogs {
    fn default() -> Self {
        let (tx, rx) = mpsc::channel();
        Self {
            tx,
            rx,
            busy: false,
        }
    }
}

impl Dialogs {
    /// Opens the dialog for `purpose`, starting in the folder of `near`.
    pub fn ask(&mut self, purpose: Purpose, near: Option<PathBuf>, ctx: &egui::Context) {
        if self.busy {
            return;
        }
        self.busy = true;
        let tx = self.tx.clone();
        let ctx = ctx.clone();
        let spawned = std::thread::Builder::new()
            .name("arxos-file-dialog".into())
            .spawn(move || {
                let mut d = rfd::FileDialog::new();
                if let Some(dir) = near
                    .as_ref()
                    .and_then(|p| p.parent())
                    .filter(|d| d.is_dir())
                {
                    d = d.set_directory(dir);
                }
                let chosen = match purpose {
                    Purpose::Open => d
                        .add_filter("Arxos plan", &["arx"])
                        .set_title("Open plan")
                        .pick_file(),
                    Purpose::Import => d
                        .add_filter("SVG drawing", &["svg", "svgx"])
                        .set_title("Import SVG")
                        .pick_file(),
                    Purpose::SaveAs => d
                        .add_filter("Arxos plan", &["arx"])
                        .set_title("Save plan as")
                        .set_file_name("plan.arx")
                        .save_file(),
                    Purpose::ExportSvgx => d
                        .add_filter("SVGX drawing", &["svg"])
                        .set_title("Export SVGX")
                        .set_file_name("plan.svg")
                        .save_file(),
                    Purpose::ExportPng => d
                        .add_filter("PNG image", &["png"])
                        .set_title("Export PNG")
                        .set_file_name("plan.png")
                        .save_file(),
                };
                let _ = tx.send((purpose, chosen));
                ctx.request_repaint();
            });
        if spawned.is_err() {
            self.busy = false;
        }
    }

    /// A dialog's answer, if one came back.
    pub fn poll(&mut self) -> Option<(Purpose, PathBuf)> {
        match self.rx.try_recv() {
            Ok((purpose, path)) => {
                self.busy = false;
                path.map(|p| (purpose, p))
            }
            Err(_) => None,
        }
    }
}
