//! # arxos-render: the plan canvas on the GPU
//!
//! Draws an [`arxos_doc::Document`] into any wgpu render target: the editor's egui canvas
//! (through one bridge module in the app implementing `egui_wgpu::CallbackTrait`) or an
//! offscreen texture for PNG export and snapshot tests. It depends on no UI crate.
//!
//! ## Design
//!
//! - **Tessellate once, per element** ([`Tessellator`]). Every element kind becomes lyon
//!   triangles in plan millimetres, following drafting conventions (wall poché of its
//!   thickness, room tints, door leaf and swing, window glazing, duct bands, glyph outlines for
//!   text and dimension figures). Stroke vertices keep their centre-line position, extrusion
//!   normal and half width, so the shader draws every stroke at its width in millimetres but
//!   never thinner than a minimum on screen: zooming never re-tessellates.
//! - **Symbols are instanced.** Outlets, switches, lights, fixtures and symbols placed at a
//!   point share one mesh per kind ([`SymbolKind`]); each element is an [`Instance`]
//!   (position, rotation, colour).
//! - **Cache keyed by element, uploaded by chunk** ([`Scene`]). Meshes are cached by
//!   [`arxos_doc::ElementId`] and grouped into chunks (band × floor × layer × plan cell).
//!   [`Scene::apply_changes`] re-tessellates exactly the elements an [`arxos_doc::ChangeSet`]
//!   names and re-joins only their chunks; each chunk carries a generation, and
//!   [`Renderer::prepare`] re-uploads a chunk only when its generation moved.
//! - **Culling by the document's R-tree.** [`Scene::visible_chunks`] asks
//!   [`arxos_doc::Document::query_area`] for the visible rectangle and draws the chunks those
//!   elements are in, on the shown floor and layers ([`SceneOptions`]).
//!   [`Scene::plan_frame`] keeps that answer for a window around the view, so an unchanged or
//!   slightly panned frame costs microseconds; edits patch it by chunk bounds.
//! - **Level of detail.** Symbols smaller than a few pixels draw as ink discs; strokes and
//!   labels never shrink below a minimum on-screen size ([`Theme::min_stroke_px`],
//!   [`Theme::min_text_px`]), so a zoomed-out plan stays legible without re-tessellating.
//! - **prepare / paint.** [`Renderer::prepare`] (or [`Renderer::prepare_frame`] with a
//!   [`Frame`] planned beside the document) gets device and queue and uploads;
//!   [`Renderer::paint`] only records draw calls into a pass someone else began, the split of
//!   `egui_wgpu::CallbackTrait`. Pipelines are made once per [`TargetFormat`].
//! - **One palette** ([`theme`]): every colour and weight, reused by the app.
//!
//! Drawing order: bands (rooms, paths, services, walls, openings, fixtures, equipment,
//! dimensions, text) bottom to top; the document's z-order sorts within a band and chunk.

mod cache;
mod error;
mod mesh;
mod offscreen;
mod pen;
mod renderer;
mod scene;
mod symbols;
mod tessellate;
mod text;
pub mod theme;
mod view;

pub use cache::SceneCache;
pub use error::{RenderError, Result};
pub use mesh::{INK, Instance, Mesh, Vertex};
pub use offscreen::{Gpu, Offscreen, encode_png, render_to_image, render_to_png};
pub use renderer::{FrameStats, Renderer, TargetFormat};
pub use scene::{Chunk, ChunkKey, Frame, Scene, SceneCounters, SceneOptions, SnapshotInfo};
pub use symbols::SymbolKind;
pub use tessellate::{BANDS, ElementDraw, Tessellator, band};
pub use theme::{Rgba, SystemColors, Theme};
pub use view::View;

/// Re-export of the GPU crate, so the app's bridge uses the exact same version.
pub use wgpu;
