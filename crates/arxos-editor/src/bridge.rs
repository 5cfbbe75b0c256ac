//! The one place egui meets the renderer: an `egui_wgpu::CallbackTrait` that draws the plan
//! into egui's own render pass, inside the canvas rectangle.
//!
//! As egui's `custom3d_wgpu` example does, the pipelines are made once and kept in egui's
//! callback resources ([`install`]); each frame the app plans the frame beside its document
//! (`Scene::plan_frame`, which needs the document) and hands the callback only the plan and the
//! shared scene, because a paint callback owns its data and runs after the UI code.

use std::sync::{Arc, Mutex};

use arxos_render::{Frame, Renderer, Scene, TargetFormat};

/// What lives in egui's callback resources.
struct CanvasResources {
    renderer: Renderer,
}

/// Makes the renderer for this window's target and keeps it in egui's callback resources,
/// replacing the one of a previously open plan (its GPU chunk cache belongs to that plan).
pub fn install(
    render_state: &egui_wgpu::RenderState,
    msaa_samples: u32,
    scene: &Arc<Mutex<Scene>>,
) {
    let target = TargetFormat {
        color: render_state.target_format,
        sample_count: msaa_samples.max(1),
        depth: None,
    };
    let mut scene = lock_scene(scene);
    let renderer = Renderer::new(&render_state.device, target, &mut scene);
    render_state
        .renderer
        .write()
        .callback_resources
        .insert(CanvasResources { renderer });
}

/// Locks the shared scene. A panic while it was held cannot leave it half-updated in a way
/// that matters (the next change set or rebuild repairs it), so a poisoned lock is taken as is.
pub fn lock_scene(scene: &Mutex<Scene>) -> std::sync::MutexGuard<'_, Scene> {
    scene
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// One frame of the canvas.
pub struct CanvasCallback {
    /// The scene (shared with the workspace, which keeps it current).
    pub scene: Arc<Mutex<Scene>>,
    /// The view and visible chunks, planned by the app this frame.
    pub frame: Frame,
}

impl egui_wgpu::CallbackTrait for CanvasCallback {
    fn prepare(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        _screen: &egui_wgpu::ScreenDescriptor,
        _encoder: &mut wgpu::CommandEncoder,
        resources: &mut egui_wgpu::CallbackResources,
    ) -> Vec<wgpu::CommandBuffer> {
        if let Some(res) = resources.get_mut::<CanvasResources>() {
            let scene = lock_scene(&self.scene);
            res.renderer
                .prepare_frame(device, queue, &scene, &self.frame);
        }
        Vec::new()
    }

    fn paint(
        &self,
        _info: egui::PaintCallbackInfo,
        pass: &mut wgpu::RenderPass<'static>,
        resources: &egui_wgpu::CallbackResources,
    ) {
        if let Some(res) = resources.get::<CanvasResources>() {
            res.renderer.paint(pass);
        }
    }
}

use arxos_render::wgpu;
