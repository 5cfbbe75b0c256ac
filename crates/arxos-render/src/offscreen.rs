//! Rendering without a window: a headless device (any adapter, including Mesa's software
//! Vulkan), an sRGB texture with 4× MSAA where the adapter allows it, and a readback to an
//! image. Used by snapshot tests and PNG export.

use std::io::Cursor;

use arxos_doc::Document;
use image::RgbaImage;

use crate::error::{RenderError, Result};
use crate::renderer::{Renderer, TargetFormat};
use crate::scene::{Scene, SceneOptions};
use crate::theme::{Rgba, Theme};
use crate::view::View;

const FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Rgba8UnormSrgb;

/// A device and queue opened without any window.
pub struct Gpu {
    /// The device.
    pub device: wgpu::Device,
    /// Its queue.
    pub queue: wgpu::Queue,
    /// Which adapter it runs on (name, backend), for logs and test output.
    pub adapter_info: wgpu::AdapterInfo,
    /// MSAA sample count used offscreen: 4 when the adapter supports it, else 1.
    pub sample_count: u32,
}

impl Gpu {
    /// Opens the first adapter wgpu finds (hardware or software); `WGPU_BACKEND`
    /// narrows the choice (e.g. `vulkan`).
    pub fn headless() -> Result<Self> {
        // `with_env` honours `WGPU_BACKEND`, to pick or rule out backends.
        let instance =
            wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle().with_env());
        let adapter =
            pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions::default()))
                .map_err(|e| RenderError::NoAdapter(e.to_string()))?;
        let adapter_info = adapter.get_info();
        let sample_count = if adapter
            .get_texture_format_features(FORMAT)
            .flags
            .sample_count_supported(4)
        {
            4
        } else {
            1
        };
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("arxos-render offscreen"),
            required_limits: wgpu::Limits::downlevel_defaults().using_resolution(adapter.limits()),
            ..wgpu::DeviceDescriptor::default()
        }))
        .map_err(|e| RenderError::Device(e.to_string()))?;
        tracing::info!(
            adapter = %adapter_info.name,
            backend = ?adapter_info.backend,
            sample_count,
            "offscreen GPU ready"
        );
        Ok(Self {
            device,
            queue,
            adapter_info,
            sample_count,
        })
    }
}

/// A headless GPU with a renderer for its offscreen target, reusable across images.
pub struct Offscreen {
    gpu: Gpu,
    renderer: Renderer,
}

impl Offscreen {
    /// Opens a headless GPU and makes the pipelines for `scene`'s theme.
    pub fn new(scene: &mut Scene) -> Result<Self> {
        let gpu = Gpu::headless()?;
        let renderer = Renderer::new(
            &gpu.device,
            TargetFormat {
                color: FORMAT,
                sample_count: gpu.sample_count,
                depth: None,
            },
            scene,
        );
        Ok(Self { gpu, renderer })
    }

    /// The GPU in use.
    pub fn gpu(&self) -> &Gpu {
        &self.gpu
    }

    /// The renderer (for its frame stats).
    pub fn renderer(&self) -> &Renderer {
        &self.renderer
    }

    /// Renders `scene` (kept current with `doc`) as seen through `view`, at the view's
    /// viewport size.
    pub fn render(&mut self, scene: &mut Scene, doc: &Document, view: &View) -> Result<RgbaImage> {
        let [width, height] = view.viewport_px;
        let max = self.gpu.device.limits().max_texture_dimension_2d;
        if width == 0 || height == 0 || width > max || height > max {
            return Err(RenderError::Size { width, height, max });
        }
        let device = &self.gpu.device;
        let size = wgpu::Extent3d {
            width,
            height,
            depth_or_array_layers: 1,
        };
        let texture = |label, samples, usage| {
            device.create_texture(&wgpu::TextureDescriptor {
                label: Some(label),
                size,
                mip_level_count: 1,
                sample_count: samples,
                dimension: wgpu::TextureDimension::D2,
                format: FORMAT,
                usage,
                view_formats: &[],
            })
        };
        let resolved = texture(
            "arxos-render image",
            1,
            wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
        );
        let resolved_view = resolved.create_view(&wgpu::TextureViewDescriptor::default());
        let msaa = (self.gpu.sample_count > 1).then(|| {
            texture(
                "arxos-render msaa",
                self.gpu.sample_count,
                wgpu::TextureUsages::RENDER_ATTACHMENT,
            )
            .create_view(&wgpu::TextureViewDescriptor::default())
        });

        self.renderer
            .prepare(device, &self.gpu.queue, scene, doc, view);

        let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("arxos-render offscreen"),
        });
        {
            let (view_tex, resolve) = match &msaa {
                Some(m) => (m, Some(&resolved_view)),
                None => (&resolved_view, None),
            };
            let mut pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
                label: Some("arxos-render offscreen"),
                color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                    view: view_tex,
                    depth_slice: None,
                    resolve_target: resolve,
                    ops: wgpu::Operations {
                        load: wgpu::LoadOp::Clear(clear_color(scene.theme())),
                        store: wgpu::StoreOp::Store,
                    },
                })],
                depth_stencil_attachment: None,
                timestamp_writes: None,
                occlusion_query_set: None,
                multiview_mask: None,
            });
            self.renderer.paint(&mut pass);
        }

        self.read_back(encoder, &resolved, size)
    }

    /// Copies the resolved image into a buffer, waits for the GPU, and returns the pixels.
    fn read_back(
        &self,
        mut encoder: wgpu::CommandEncoder,
        resolved: &wgpu::Texture,
        size: wgpu::Extent3d,
    ) -> Result<RgbaImage> {
        let device = &self.gpu.device;
        let (width, height) = (size.width, size.height);
        // Rows of a texture-to-buffer copy must be 256-byte aligned; the padding is cut below.
        let row = width * 4;
        let padded = row.next_multiple_of(wgpu::COPY_BYTES_PER_ROW_ALIGNMENT);
        let readback = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("arxos-render readback"),
            size: u64::from(padded) * u64::from(height),
            usage: wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ,
            mapped_at_creation: false,
        });
        encoder.copy_texture_to_buffer(
            wgpu::TexelCopyTextureInfo {
                texture: resolved,
                mip_level: 0,
                origin: wgpu::Origin3d::ZERO,
                aspect: wgpu::TextureAspect::All,
            },
            wgpu::TexelCopyBufferInfo {
                buffer: &readback,
                layout: wgpu::TexelCopyBufferLayout {
                    offset: 0,
                    bytes_per_row: Some(padded),
                    rows_per_image: Some(height),
                },
            },
            size,
        );
        self.gpu.queue.submit([encoder.finish()]);

        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        readback.map_async(wgpu::MapMode::Read, .., move |r| {
            // The receiver waits right below; a send can only fail if it is gone.
            let _ = tx.send(r);
        });
        device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| RenderError::Readback(e.to_string()))?;
        rx.recv()
            .map_err(|e| RenderError::Readback(e.to_string()))?
            .map_err(|e| RenderError::Readback(e.to_string()))?;
        let mut pixels = Vec::with_capacity((row * height) as usize);
        {
            let mapped = readback
                .get_mapped_range(..)
                .map_err(|e| RenderError::Readback(e.to_string()))?;
            for r in mapped.chunks(padded as usize).take(height as usize) {
                pixels.extend_from_slice(&r[..row as usize]);
            }
        }
        readback.unmap();
        RgbaImage::from_raw(width, height, pixels)
            .ok_or_else(|| RenderError::Readback("short image buffer".into()))
    }
}

/// The theme's canvas as a clear colour. Clear values are linear for an sRGB attachment.
fn clear_color(theme: &Theme) -> wgpu::Color {
    let lin = |c: f32| {
        if c <= 0.040_45 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    let Rgba([r, g, b, a]) = theme.canvas;
    let f = |c: u8| f64::from(lin(f32::from(c) / 255.0));
    wgpu::Color {
        r: f(r),
        g: f(g),
        b: f(b),
        a: f64::from(a) / 255.0,
    }
}

/// Renders `doc` through `view` (its viewport is the image size) with the light theme.
pub fn render_to_image(doc: &Document, options: &SceneOptions, view: &View) -> Result<RgbaImage> {
    let mut scene = Scene::from_document(doc, Theme::light())?;
    scene.options = options.clone();
    let mut off = Offscreen::new(&mut scene)?;
    off.render(&mut scene, doc, view)
}

/// Renders `doc` through `view` to PNG bytes (for `arxos export --png`).
pub fn render_to_png(doc: &Document, options: &SceneOptions, view: &View) -> Result<Vec<u8>> {
    encode_png(&render_to_image(doc, options, view)?)
}

/// Encodes an image as PNG.
pub fn encode_png(img: &RgbaImage) -> Result<Vec<u8>> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)?;
    Ok(out.into_inner())
}
