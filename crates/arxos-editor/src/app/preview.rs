//! Previewing a named version: the window shows the plan as it was, read-only, under a banner
//! with the way back; the plan itself stays open behind it (its session keeps syncing, and
//! what arrived meanwhile shows on the way back).

use arxos_doc::versions::Version;

use super::EditorApp;
use crate::workspace::Workspace;

impl EditorApp {
    /// Shows `version` of the open plan in place of the plan, read-only.
    pub(super) fn start_preview(&mut self, ctx: &egui::Context, version: &Version) {
        let Some(client) = self
            .ws
            .as_ref()
            .and_then(|w| w.live())
            .map(arxos_session::Session::client)
        else {
            return;
        };
        let then = client.fork().fork_at(&version.heads);
        let preview = then
            .map_err(|e| e.to_string())
            .and_then(|doc| Workspace::preview(doc, &version.name, Some(ctx.clone())));
        match preview {
            Ok(ws) => {
                if let Some(gpu) = &self.gpu {
                    crate::bridge::install(gpu, self.msaa, &ws.scene);
                }
                let plan = self.ws.replace(ws);
                // Previewing from a preview goes back to the plan, not the first preview.
                if self.previewing.is_none() {
                    self.previewing = plan;
                } else if let Some(mut old) = plan {
                    old.close();
                }
                self.canvas = crate::canvas::Canvas::default();
            }
            Err(e) => self.toast(ctx, format!("cannot preview {}: {e}", version.name), true),
        }
    }

    /// Back from a preview to the plan.
    pub(super) fn end_preview(&mut self) {
        let Some(plan) = self.previewing.take() else {
            return;
        };
        if let Some(gpu) = &self.gpu {
            crate::bridge::install(gpu, self.msaa, &plan.scene);
        }
        if let Some(mut preview) = self.ws.replace(plan) {
            preview.close();
        }
        self.canvas = crate::canvas::Canvas::default();
    }

    /// The banner over a preview: what it is, and the way back.
    pub(super) fn preview_banner(&mut self, ui: &mut egui::Ui) {
        let title = self.ws.as_ref().map(|w| w.title().to_owned());
        let mut back = false;
        ui.horizontal(|ui| {
            ui.label(
                egui::RichText::new(format!(
                    "Previewing {}",
                    title.as_deref().unwrap_or("an earlier version")
                ))
                .strong()
                .color(egui::Color32::from_rgb(0x15, 0x65, 0xC0)),
            );
            back = ui
                .button("Back to the plan")
                .on_hover_text("The plan as it is now, with everything that arrived meanwhile")
                .clicked();
        });
        if back {
            self.end_preview();
        }
    }
}
