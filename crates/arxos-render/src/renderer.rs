//! The GPU side: pipelines made once, per-chunk buffers uploaded only when a chunk's
//! generation changes, and a paint step that only records draw calls.
//!
//! The split follows `egui_wgpu::CallbackTrait`: [`Renderer::prepare`] gets the device and
//! queue and uploads; [`Renderer::paint`] gets a render pass that someone else began (egui's,
//! or ours offscreen) and draws into it.

use std::collections::BTreeMap;

use arxos_doc::Document;
use bytemuck::{Pod, Zeroable};
use wgpu::util::DeviceExt as _;

use crate::mesh::{Instance, Vertex};
use crate::scene::{ChunkKey, Frame, Scene};
use crate::symbols::{FAR_SYMBOL_PX, SYMBOL_DIAMETER_MM, SymbolKind};
use crate::view::View;

/// What the renderer draws into: must match the render pass handed to [`Renderer::paint`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TargetFormat {
    /// Colour attachment format. An sRGB format gets linear output (the GPU encodes);
    /// any other gets sRGB values as they are, as egui's gamma-space targets expect.
    pub color: wgpu::TextureFormat,
    /// MSAA sample count of the pass.
    pub sample_count: u32,
    /// Depth attachment format of the pass, if it has one (the renderer ignores depth).
    pub depth: Option<wgpu::TextureFormat>,
}

/// Work done by the last [`Renderer::prepare`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FrameStats {
    /// Chunks drawn.
    pub chunks_drawn: usize,
    /// Chunks whose buffers were (re)uploaded.
    pub chunks_uploaded: usize,
    /// Bytes written to the GPU (buffers and uniforms).
    pub bytes_uploaded: usize,
    /// Triangles in the drawn meshes.
    pub triangles: usize,
    /// Symbol instances drawn.
    pub instances: usize,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
struct Globals {
    center: [f32; 2],
    scale: [f32; 2],
    min_half_width_mm: f32,
    srgb_target: f32,
    min_text_half_mm: f32,
    pad: f32,
}

struct GpuChunk {
    generation: u64,
    vertices: Option<wgpu::Buffer>,
    indices: Option<wgpu::Buffer>,
    index_count: u32,
    instances: Option<wgpu::Buffer>,
    symbol_ranges: [std::ops::Range<u32>; SymbolKind::ALL.len()],
}

/// Draws a [`Scene`] into any render pass of the [`TargetFormat`] it was made for.
pub struct Renderer {
    target: TargetFormat,
    mesh_pipeline: wgpu::RenderPipeline,
    symbol_pipeline: wgpu::RenderPipeline,
    globals: wgpu::Buffer,
    bind_group: wgpu::BindGroup,
    symbol_vertices: wgpu::Buffer,
    symbol_indices: wgpu::Buffer,
    /// Index range of each symbol kind in `symbol_indices`: near meshes, then far ones.
    symbol_index_ranges: Vec<std::ops::Range<u32>>,
    /// Whether the last prepared view draws symbols at the far level of detail.
    far_symbols: bool,
    chunks: BTreeMap<ChunkKey, GpuChunk>,
    /// Scene generation when GPU chunks were last pruned.
    seen_generation: u64,
    draw_list: std::sync::Arc<[ChunkKey]>,
    stats: FrameStats,
}

const VERTEX_ATTRS: [wgpu::VertexAttribute; 4] = wgpu::vertex_attr_array![
    0 => Float32x2, 1 => Float32x2, 2 => Float32, 3 => Unorm8x4
];
const INSTANCE_ATTRS: [wgpu::VertexAttribute; 3] = wgpu::vertex_attr_array![
    4 => Float32x2, 5 => Float32x2, 6 => Unorm8x4
];

impl Renderer {
    /// Makes the pipelines and the symbol meshes. Call once per target format, keep it (in
    /// egui: in the callback resources).
    pub fn new(device: &wgpu::Device, target: TargetFormat, scene: &mut Scene) -> Self {
        let (bind_layout, mesh_pipeline, symbol_pipeline) = pipelines(device, target);
        let globals = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("arxos-render globals"),
            size: std::mem::size_of::<Globals>() as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("arxos-render globals"),
            layout: &bind_layout,
            entries: &[wgpu::BindGroupEntry {
                binding: 0,
                resource: globals.as_entire_binding(),
            }],
        });
        let mut all = crate::mesh::Mesh::default();
        let mut symbol_index_ranges = Vec::new();
        for m in scene.symbol_meshes() {
            let start = all.indices.len() as u32;
            all.append(&m);
            symbol_index_ranges.push(start..all.indices.len() as u32);
        }
        let symbol_vertices = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("arxos-render symbol vertices"),
            contents: bytemuck::cast_slice(&all.vertices),
            usage: wgpu::BufferUsages::VERTEX,
        });
        let symbol_indices = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("arxos-render symbol indices"),
            contents: bytemuck::cast_slice(&all.indices),
            usage: wgpu::BufferUsages::INDEX,
        });
        Self {
            target,
            mesh_pipeline,
            symbol_pipeline,
            globals,
            bind_group,
            symbol_vertices,
            symbol_indices,
            symbol_index_ranges,
            far_symbols: false,
            chunks: BTreeMap::new(),
            seen_generation: 0,
            draw_list: std::sync::Arc::from(Vec::new()),
            stats: FrameStats::default(),
        }
    }

    /// The target the pipelines were made for.
    pub fn target(&self) -> TargetFormat {
        self.target
    }

    /// Work done by the last `prepare`.
    pub fn stats(&self) -> FrameStats {
        self.stats
    }

    /// Picks the visible chunks for `view`, uploads those that are new or changed, and drops
    /// GPU buffers of chunks the scene no longer has. Keep the scene current first
    /// ([`Scene::apply_changes`]).
    pub fn prepare(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        scene: &mut Scene,
        doc: &Document,
        view: &View,
    ) {
        let frame = scene.plan_frame(doc, view);
        self.prepare_frame(device, queue, scene, &frame);
    }

    /// [`Self::prepare`] for a frame planned earlier ([`Scene::plan_frame`]), where the
    /// document is not at hand: an egui paint callback owns its data, so the app plans the
    /// frame next to its document and hands the callback the plan.
    pub fn prepare_frame(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        scene: &Scene,
        frame: &Frame,
    ) {
        let view = &frame.view;
        let mut stats = FrameStats::default();
        let theme = scene.theme();
        let globals = Globals {
            center: [view.center.x as f32, view.center.y as f32],
            scale: view.clip_scale(),
            min_half_width_mm: (f64::from(theme.min_stroke_px) / 2.0 / view.zoom_px_per_mm) as f32,
            srgb_target: if self.target.color.is_srgb() {
                1.0
            } else {
                0.0
            },
            min_text_half_mm: (f64::from(theme.min_text_px) / 2.0 / view.zoom_px_per_mm) as f32,
            pad: 0.0,
        };
        queue.write_buffer(&self.globals, 0, bytemuck::bytes_of(&globals));
        stats.bytes_uploaded += std::mem::size_of::<Globals>();

        if scene.generation() != self.seen_generation {
            self.chunks.retain(|key, _| scene.chunk(key).is_some());
            self.seen_generation = scene.generation();
        }
        for key in frame.chunks.iter() {
            let Some(chunk) = scene.chunk(key) else {
                continue;
            };
            let fresh = self
                .chunks
                .get(key)
                .is_some_and(|g| g.generation == chunk.generation);
            if !fresh {
                let gpu = self.chunks.remove(key);
                let uploaded = upload(device, queue, gpu, chunk, &mut stats.bytes_uploaded);
                self.chunks.insert(key.clone(), uploaded);
                stats.chunks_uploaded += 1;
            }
            stats.chunks_drawn += 1;
            stats.triangles += chunk.mesh.indices.len() / 3;
            stats.instances += chunk.instances.len();
        }
        self.draw_list = frame.chunks.clone();
        self.far_symbols = SYMBOL_DIAMETER_MM * view.zoom_px_per_mm < FAR_SYMBOL_PX;
        self.stats = stats;
    }

    /// Records the draw calls of the last `prepare` into `pass`.
    pub fn paint(&self, pass: &mut wgpu::RenderPass<'_>) {
        pass.set_bind_group(0, &self.bind_group, &[]);
        for key in self.draw_list.iter() {
            let Some(c) = self.chunks.get(key) else {
                continue;
            };
            if let (Some(v), Some(i)) = (&c.vertices, &c.indices) {
                pass.set_pipeline(&self.mesh_pipeline);
                pass.set_vertex_buffer(0, v.slice(..));
                pass.set_index_buffer(i.slice(..), wgpu::IndexFormat::Uint32);
                pass.draw_indexed(0..c.index_count, 0, 0..1);
            }
            if let Some(inst) = &c.instances {
                pass.set_pipeline(&self.symbol_pipeline);
                pass.set_vertex_buffer(0, self.symbol_vertices.slice(..));
                pass.set_vertex_buffer(1, inst.slice(..));
                pass.set_index_buffer(self.symbol_indices.slice(..), wgpu::IndexFormat::Uint32);
                let lod = if self.far_symbols {
                    SymbolKind::ALL.len()
                } else {
                    0
                };
                let meshes = self.symbol_index_ranges.iter().skip(lod);
                for (range, indices) in c.symbol_ranges.iter().zip(meshes) {
                    if !range.is_empty() {
                        pass.draw_indexed(indices.clone(), 0, range.clone());
                    }
                }
            }
        }
    }
}

/// The globals layout and the two pipelines (meshes, instanced symbols) for `target`.
fn pipelines(
    device: &wgpu::Device,
    target: TargetFormat,
) -> (
    wgpu::BindGroupLayout,
    wgpu::RenderPipeline,
    wgpu::RenderPipeline,
) {
    let shader = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some("arxos-render shader"),
        source: wgpu::ShaderSource::Wgsl(include_str!("shader.wgsl").into()),
    });
    let bind_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some("arxos-render globals"),
        entries: &[wgpu::BindGroupLayoutEntry {
            binding: 0,
            visibility: wgpu::ShaderStages::VERTEX,
            ty: wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Uniform,
                has_dynamic_offset: false,
                min_binding_size: None,
            },
            count: None,
        }],
    });
    let layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
        label: Some("arxos-render layout"),
        bind_group_layouts: &[Some(&bind_layout)],
        immediate_size: 0,
    });
    let vertex_layout = wgpu::VertexBufferLayout {
        array_stride: std::mem::size_of::<Vertex>() as u64,
        step_mode: wgpu::VertexStepMode::Vertex,
        attributes: &VERTEX_ATTRS,
    };
    let instance_layout = wgpu::VertexBufferLayout {
        array_stride: std::mem::size_of::<Instance>() as u64,
        step_mode: wgpu::VertexStepMode::Instance,
        attributes: &INSTANCE_ATTRS,
    };
    let pipeline = |label, entry, buffers: &[Option<wgpu::VertexBufferLayout>]| {
        device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
            label: Some(label),
            layout: Some(&layout),
            vertex: wgpu::VertexState {
                module: &shader,
                entry_point: Some(entry),
                compilation_options: wgpu::PipelineCompilationOptions::default(),
                buffers,
            },
            // lyon's winding is not consistent across shapes: never cull.
            primitive: wgpu::PrimitiveState::default(),
            depth_stencil: target.depth.map(|format| wgpu::DepthStencilState {
                format,
                depth_write_enabled: Some(false),
                depth_compare: Some(wgpu::CompareFunction::Always),
                stencil: wgpu::StencilState::default(),
                bias: wgpu::DepthBiasState::default(),
            }),
            multisample: wgpu::MultisampleState {
                count: target.sample_count,
                ..wgpu::MultisampleState::default()
            },
            fragment: Some(wgpu::FragmentState {
                module: &shader,
                entry_point: Some("fs_main"),
                compilation_options: wgpu::PipelineCompilationOptions::default(),
                targets: &[Some(wgpu::ColorTargetState {
                    format: target.color,
                    blend: Some(wgpu::BlendState::ALPHA_BLENDING),
                    write_mask: wgpu::ColorWrites::ALL,
                })],
            }),
            multiview_mask: None,
            cache: None,
        })
    };
    let mesh_pipeline = pipeline(
        "arxos-render meshes",
        "vs_mesh",
        &[Some(vertex_layout.clone())],
    );
    let symbol_pipeline = pipeline(
        "arxos-render symbols",
        "vs_symbol",
        &[Some(vertex_layout), Some(instance_layout)],
    );
    (bind_layout, mesh_pipeline, symbol_pipeline)
}

/// Writes `data` into `old` when it fits, else into a new buffer (sized with headroom, so a
/// chunk that grows by one element does not reallocate every edit).
fn write(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    old: Option<wgpu::Buffer>,
    data: &[u8],
    usage: wgpu::BufferUsages,
    bytes: &mut usize,
) -> Option<wgpu::Buffer> {
    if data.is_empty() {
        return None;
    }
    *bytes += data.len();
    if let Some(b) = old.filter(|b| b.size() >= data.len() as u64 && b.usage().contains(usage)) {
        queue.write_buffer(&b, 0, data);
        return Some(b);
    }
    // Sizes stay multiples of 4 (COPY_BUFFER_ALIGNMENT): every element type is 4-aligned.
    let size = (data.len() as u64 * 5 / 4).next_multiple_of(4);
    let b = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("arxos-render chunk"),
        size,
        usage: usage | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    queue.write_buffer(&b, 0, data);
    Some(b)
}

fn upload(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    old: Option<GpuChunk>,
    chunk: &crate::scene::Chunk,
    bytes: &mut usize,
) -> GpuChunk {
    let (ov, oi, oinst) = match old {
        Some(g) => (g.vertices, g.indices, g.instances),
        None => (None, None, None),
    };
    let vertices = write(
        device,
        queue,
        ov,
        bytemuck::cast_slice(&chunk.mesh.vertices),
        wgpu::BufferUsages::VERTEX,
        bytes,
    );
    let indices = write(
        device,
        queue,
        oi,
        bytemuck::cast_slice(&chunk.mesh.indices),
        wgpu::BufferUsages::INDEX,
        bytes,
    );
    let instances = write(
        device,
        queue,
        oinst,
        bytemuck::cast_slice(&chunk.instances),
        wgpu::BufferUsages::VERTEX,
        bytes,
    );
    GpuChunk {
        generation: chunk.generation,
        vertices,
        indices,
        index_count: chunk.mesh.indices.len() as u32,
        instances,
        symbol_ranges: chunk.symbol_ranges.clone(),
    }
}
