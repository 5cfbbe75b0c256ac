//! Opening plans: files (small ones on the spot, large ones in the background with their kept
//! drawing shown meanwhile, see `crate::opening`), SVG imports and the bundled sample; and
//! closing them, keeping a large plan's drawing for its next open.

use std::path::Path;

use arxos_doc::EditContext;

use super::EditorApp;
use crate::canvas::Canvas;
use crate::opening::Opening;
use crate::workspace::Workspace;

impl EditorApp {
    /// While a plan opens in the background: whether its cached picture is shown.
    pub fn opening(&self) -> Option<bool> {
        self.opening.as_ref().map(|o| o.picture.is_some())
    }

    /// Opens the bundled sample as an untitled copy.
    pub fn open_sample(&mut self, ctx: &egui::Context) {
        let opened = arxos_doc::svgx::import_svg(
            self.sample_svgx,
            "sample-office",
            &EditContext::now("arxos"),
        )
        .map_err(|e| format!("the bundled sample cannot be read: {e}"))
        .and_then(|(doc, _)| Workspace::untitled(doc, "sample-office", Some(ctx.clone())));
        match opened {
            Ok(ws) => self.set_workspace(ws),
            Err(e) => self.toast(ctx, e, true),
        }
    }

    /// Opens a plan file, or imports an SVG as an untitled plan; a bad file is reported and
    /// the plan already open stays open.
    pub fn open_path(&mut self, ctx: &egui::Context, path: &Path) {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        let large = std::fs::metadata(path).is_ok_and(|m| m.len() >= self.open_in_background_from);
        let opened = if ext == "svg" || ext == "svgx" {
            import(path, ctx)
        } else if large {
            let opening = Opening::start(path, ctx, self.scenes.as_ref());
            if let (Some(gpu), Some(picture)) = (&self.gpu, &opening.picture) {
                crate::bridge::install(gpu, self.msaa, picture);
            }
            self.opening = Some(opening);
            return;
        } else {
            Workspace::open(path, Some(ctx.clone()))
        };
        match opened {
            Ok(ws) => {
                if !ws.is_untitled() {
                    self.settings.remember(path);
                    self.save_settings(ctx);
                }
                self.set_workspace(ws);
            }
            Err(e) => self.toast(ctx, e, true),
        }
    }

    /// Takes the plan opened in the background when it is ready: in place of the open one,
    /// or, when it failed, the open one stays and the error is told.
    pub(super) fn poll_opening(&mut self, ctx: &egui::Context) {
        let Some(done) = self.opening.as_ref().and_then(Opening::poll) else {
            return;
        };
        let Some(opening) = self.opening.take() else {
            return;
        };
        match done {
            Ok(ws) => {
                self.settings.remember(opening.path());
                self.save_settings(ctx);
                self.set_workspace(ws);
            }
            Err(e) => {
                // The picture's renderer took the bridge: give it back to the open plan.
                if let (Some(gpu), Some(ws)) = (&self.gpu, &self.ws) {
                    crate::bridge::install(gpu, self.msaa, &ws.scene);
                }
                self.toast(ctx, e, true);
            }
        }
    }

    /// Closes a plan, first keeping its picture for the next open when it is a large one.
    pub(super) fn close_workspace(&self, mut ws: Workspace) {
        let large =
            std::fs::metadata(ws.path()).is_ok_and(|m| m.len() >= self.open_in_background_from);
        if let Some(cache) = self.scenes.as_ref().filter(|_| large) {
            match ws.keep_picture(cache) {
                Ok(kept) => tracing::debug!(kept, "drawing kept for the next open"),
                Err(e) => tracing::warn!("cannot keep the plan's drawing for the next open: {e}"),
            }
        }
        ws.close();
    }

    pub(super) fn set_workspace(&mut self, ws: Workspace) {
        if let Some(gpu) = &self.gpu {
            crate::bridge::install(gpu, self.msaa, &ws.scene);
        }
        if let Some(old) = self.ws.take() {
            self.close_workspace(old);
        }
        if let Some(mut plan) = self.previewing.take() {
            plan.close();
        }
        self.canvas = Canvas::default();
        self.ws = Some(ws);
    }
}

fn import(path: &Path, ctx: &egui::Context) -> Result<Workspace, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("imported")
        .to_owned();
    let author = arxos_sync::identity::Identity::current().name;
    let (doc, _report) = arxos_doc::svgx::import_svg(&text, &stem, &EditContext::now(author))
        .map_err(|e| format!("cannot import {}: {e}", path.display()))?;
    Workspace::untitled(doc, &stem, Some(ctx.clone()))
}
