//! A plan opening in the background: a large plan's CRDT takes a second or more to load, and
//! the window stays responsive meanwhile.
//!
//! When the drawing cache holds a picture of exactly this file (keyed by the digest of its
//! bytes, see `arxos_render::SceneCache`), the canvas shows it at once, plainly marked as
//! opening and view only: it is the plan the file holds, not a guess, but nothing can be
//! selected or edited until the plan itself is loaded and replaces it. A plan first opened
//! shows its name and a spinner instead. Small plans open on the spot, without this step.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Instant;

use arxos_render::{Scene, SceneCache, Theme, View};

use crate::workspace::Workspace;

/// Files at least this large open in the background (about 4,000 elements, 150 ms to load).
pub const BACKGROUND_FROM_BYTES: u64 = 256 * 1024;

/// A plan being opened.
pub struct Opening {
    path: PathBuf,
    name: String,
    /// The cached picture of this very file, when there is one.
    pub picture: Option<Arc<Mutex<Scene>>>,
    rx: mpsc::Receiver<Result<Workspace, String>>,
    started: Instant,
}

impl std::fmt::Debug for Opening {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opening")
            .field("path", &self.path)
            .field("picture", &self.picture.is_some())
            .finish_non_exhaustive()
    }
}

impl Opening {
    /// Starts opening `path` on another thread; finds its picture in `cache`, if any.
    pub fn start(path: &Path, ctx: &egui::Context, cache: Option<&SceneCache>) -> Self {
        let started = Instant::now();
        let picture = cache.and_then(|cache| {
            let digest = arxos_doc::file::content_digest(path).ok()?;
            cache.load(&digest, &Theme::light())
        });
        if picture.is_some() {
            tracing::info!(
                path = %path.display(),
                ms = started.elapsed().as_millis(),
                "showing the cached drawing while the plan loads"
            );
        }
        let (tx, rx) = mpsc::channel();
        let (p, repaint) = (path.to_owned(), ctx.clone());
        let spawned = std::thread::Builder::new()
            .name("arxos-open".into())
            .spawn(move || {
                let opened = Workspace::open(&p, Some(repaint.clone()));
                // A window that gave up on this plan (closed, or opened another) dropped the
                // receiver: the workspace is closed with it.
                if let Err(mpsc::SendError(Ok(mut ws))) = tx.send(opened) {
                    ws.close();
                }
                repaint.request_repaint();
            });
        // Without the thread the sender is gone, and `poll` says the opening stopped.
        if let Err(e) = spawned {
            tracing::warn!("cannot start opening the plan: {e}");
        }
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        Self {
            path: path.to_owned(),
            name,
            picture: picture.map(|s| Arc::new(Mutex::new(s))),
            rx,
            started,
        }
    }

    /// The file being opened.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The opened workspace or why it failed, once the loading thread is done.
    pub fn poll(&self) -> Option<Result<Workspace, String>> {
        match self.rx.try_recv() {
            Ok(done) => {
                tracing::info!(
                    path = %self.path.display(),
                    ms = self.started.elapsed().as_millis(),
                    "plan opened"
                );
                Some(done)
            }
            Err(mpsc::TryRecvError::Empty) => None,
            Err(mpsc::TryRecvError::Disconnected) => Some(Err(format!(
                "opening {} stopped unexpectedly",
                self.path.display()
            ))),
        }
    }

    /// Draws the canvas while opening: the picture framed as a first frame would be, or the
    /// plan's name and a spinner, with the state said plainly on top.
    pub fn show(&self, ui: &mut egui::Ui, gpu: bool) {
        let rect = ui.available_rect_before_wrap();
        ui.allocate_rect(rect, egui::Sense::hover());
        let painter = ui.painter_at(rect);
        let picture = self.picture.as_ref().filter(|_| gpu);
        let ink = crate::overlay::Ink::from_theme(&Theme::light());
        painter.rect_filled(rect, 0.0, ink.paper);
        if let Some(scene) = picture {
            let ppp = ui.ctx().pixels_per_point();
            let viewport = [
                (rect.width() * ppp).round().max(1.0) as u32,
                (rect.height() * ppp).round().max(1.0) as u32,
            ];
            let frame = {
                let s = crate::bridge::lock_scene(scene);
                s.snapshot_info().and_then(|i| i.extent).map(|extent| {
                    s.plan_snapshot_frame(&View::fit(extent, viewport, 48.0 * f64::from(ppp)))
                })
            };
            if let Some(frame) = frame {
                painter.add(egui_wgpu::Callback::new_paint_callback(
                    rect,
                    crate::bridge::CanvasCallback {
                        scene: scene.clone(),
                        frame,
                    },
                ));
            }
        }
        let text = if picture.is_some() {
            format!("Opening {} — view only until it has loaded", self.name)
        } else {
            format!("Opening {}…", self.name)
        };
        // Centred over the canvas, above the drawing.
        egui::Area::new(egui::Id::unique("arxos-opening"))
            .fixed_pos(egui::pos2(rect.center().x, rect.top() + 12.0))
            .pivot(egui::Align2::CENTER_TOP)
            .order(egui::Order::Foreground)
            .interactable(false)
            .show(ui.ctx(), |ui| {
                egui::Frame::new()
                    .fill(ui.visuals().panel_fill)
                    .stroke(ui.visuals().widgets.noninteractive.bg_stroke)
                    .corner_radius(6.0)
                    .inner_margin(egui::Margin::symmetric(12, 6))
                    .show(ui, |ui| {
                        ui.horizontal(|ui| {
                            // A spinner repaints every frame; over a large picture drawn on a
                            // software rasteriser that would take the cores the loading needs.
                            // The loading thread asks for a repaint when it is done.
                            if picture.is_none() {
                                ui.spinner();
                            }
                            ui.label(text);
                        });
                    });
            });
    }
}
