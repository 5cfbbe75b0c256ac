//! The CPU side of the canvas: tessellated meshes cached per element, grouped into chunks that
//! are the unit of GPU upload and drawing, kept current from [`ChangeSet`]s.
//!
//! A chunk holds the elements of one drawing band, floor and layer that fall in one square
//! cell of the plan. Editing an element re-tessellates that element only, then re-joins the
//! (few hundred at most) cached meshes of its chunk; every other chunk keeps its GPU buffers.
//! Hiding a layer or switching floors re-tessellates nothing: chunks are picked per frame.
//! Culling asks the document's R-tree which elements meet the visible rectangle and draws the
//! chunks those elements live in.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use arxos_doc::{
    Bounds, BuildingSystem, ChangeSet, Document, Element, ElementId, Filter, FloorId, LayerId,
};

use crate::error::RenderError;
use crate::mesh::{Instance, Mesh};
use crate::symbols::SymbolKind;
use crate::tessellate::{ElementDraw, Tessellator, band};
use crate::theme::Theme;
use crate::view::View;

/// Side of a chunk's cell, in plan mm: large enough that a 50k-element plan makes a few
/// thousand chunks (few draw calls), small enough that one edit re-joins little.
const CELL_MM: f64 = 32_000.0;

/// Margin added around the visible rectangle before culling, in plan mm: element bounds in the
/// index are geometric (centre lines, anchor points), while walls, labels and symbols draw
/// wider than that.
const CULL_MARGIN_MM: f64 = 3_000.0;

/// The same margin in screen pixels, which wins when zoomed far out.
const CULL_MARGIN_PX: f64 = 150.0;

/// What the canvas shows besides the camera: one floor, and layers hidden on this canvas
/// only (a layer's own `visible = false` in the document hides it everywhere).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SceneOptions {
    /// The floor shown; `None` shows every floor (one-floor plans, exports).
    pub floor: Option<FloorId>,
    /// Layers hidden on this canvas.
    pub hidden_layers: BTreeSet<LayerId>,
}

/// What one frame draws: the view and its visible chunks in drawing order. Owned and cheap
/// to move, so it can travel into a paint callback.
#[derive(Clone, Debug, PartialEq)]
pub struct Frame {
    /// The camera.
    pub view: View,
    /// Chunks to draw, bottom first (shared with the scene's culling cache).
    pub chunks: std::sync::Arc<[ChunkKey]>,
}

/// Identifies a chunk: band first, so iterating chunks in key order draws bands in order.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChunkKey {
    /// Drawing band ([`crate::tessellate::band`]).
    pub band: u8,
    /// Floor of its elements.
    pub floor: FloorId,
    /// Layer of its elements.
    pub layer: LayerId,
    /// Cell column and row.
    pub cell: (i64, i64),
}

/// The joined geometry of one chunk, ready to upload.
#[derive(Debug, Default)]
pub struct Chunk {
    /// Members in drawing order: z key, then id for ties.
    members: BTreeSet<(String, ElementId)>,
    /// All members' triangles, in drawing order.
    pub mesh: Mesh,
    /// All members' symbol instances, grouped by [`SymbolKind`] (see `symbol_ranges`).
    pub instances: Vec<Instance>,
    /// For each symbol kind, its range in `instances`.
    pub symbol_ranges: [std::ops::Range<u32>; SymbolKind::ALL.len()],
    /// Bumped whenever the chunk's geometry changes; renderers re-upload on a new value.
    pub generation: u64,
    /// Union of the members' geometric bounds (as the area index sees them).
    pub bounds: Option<Bounds>,
    dirty: bool,
}

/// Counters of the work done, for tests, benches and the app's stats overlay.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SceneCounters {
    /// Elements tessellated since the scene was made.
    pub tessellated_total: u64,
    /// Elements tessellated by the last update.
    pub tessellated_last: u64,
    /// Chunks re-joined by the last update.
    pub chunks_rebuilt_last: u64,
}

struct Cached {
    key: ChunkKey,
    z: String,
    bounds: Bounds,
    draw: ElementDraw,
}

/// Cached tessellation of a whole plan.
pub struct Scene {
    tess: Tessellator,
    /// By id; hashed because culling looks every visible element up, and never iterated
    /// (order-dependent walks go through `chunks`).
    elements: HashMap<ElementId, Cached>,
    chunks: BTreeMap<ChunkKey, Chunk>,
    systems: BTreeMap<LayerId, BuildingSystem>,
    /// What the canvas shows.
    pub options: SceneOptions,
    counters: SceneCounters,
    generation: u64,
    /// Chunks whose membership changed since the last `finish`.
    touched: BTreeSet<ChunkKey>,
    /// The last culling result and the window it is valid for.
    plan: Option<plan::PlanCache>,
    /// Set on a picture read back from bytes ([`snapshot`]): chunks only, no element cache.
    snapshot: Option<SnapshotInfo>,
}

impl Scene {
    /// An empty scene drawing with `theme`.
    pub fn new(theme: Theme) -> Result<Self, RenderError> {
        Ok(Self {
            tess: Tessellator::new(theme)?,
            elements: HashMap::new(),
            chunks: BTreeMap::new(),
            systems: BTreeMap::new(),
            options: SceneOptions::default(),
            counters: SceneCounters::default(),
            generation: 0,
            touched: BTreeSet::new(),
            plan: None,
            snapshot: None,
        })
    }

    /// A scene of every element of `doc`.
    pub fn from_document(doc: &Document, theme: Theme) -> Result<Self, RenderError> {
        let mut s = Self::new(theme)?;
        s.rebuild(doc);
        Ok(s)
    }

    /// The theme the scene draws with.
    pub fn theme(&self) -> &Theme {
        self.tess.theme()
    }

    /// Work counters.
    pub fn counters(&self) -> SceneCounters {
        self.counters
    }

    /// Bumped by every update that changed any chunk.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Number of cached elements.
    pub fn len(&self) -> usize {
        self.elements.len()
    }

    /// Whether no element is cached.
    pub fn is_empty(&self) -> bool {
        self.elements.is_empty()
    }

    /// Chunks in drawing order.
    pub fn chunks(&self) -> impl Iterator<Item = (&ChunkKey, &Chunk)> {
        self.chunks.iter()
    }

    /// The cached drawing of one element.
    pub fn element_draw(&self, id: &ElementId) -> Option<&ElementDraw> {
        self.elements.get(id).map(|c| &c.draw)
    }

    /// The unit meshes of the symbols: near ones in [`SymbolKind::ALL`] order, then far ones.
    pub fn symbol_meshes(&mut self) -> Vec<Mesh> {
        self.tess.symbol_meshes()
    }

    /// Drops every cache and tessellates the whole plan again.
    pub fn rebuild(&mut self, doc: &Document) {
        self.elements.clear();
        self.chunks.clear();
        self.touched.clear();
        self.plan = None;
        self.snapshot = None;
        self.systems = doc
            .layers()
            .iter()
            .map(|(id, l)| (id.clone(), l.system))
            .collect();
        let elements: Vec<&Element> = doc.elements().collect();
        let drawn = parallel::tessellate_all(&mut self.tess, &self.systems, &elements);
        for (e, draw) in elements.iter().zip(drawn) {
            self.insert_drawn(e, draw);
        }
        let n = elements.len() as u64;
        self.finish(n);
        tracing::debug!(elements = n, chunks = self.chunks.len(), "scene rebuilt");
    }

    /// Brings the cache up to date with one mutation of `doc`: re-tessellates exactly the
    /// elements `changes` names (and, when a layer changed system, that layer's elements).
    pub fn apply_changes(&mut self, doc: &Document, changes: &ChangeSet) {
        // A picture has no element cache to update: draw the document instead.
        if changes.rebuilt || self.snapshot.is_some() {
            self.rebuild(doc);
            return;
        }
        let mut todo: BTreeSet<ElementId> = changes.elements().into_iter().cloned().collect();
        if changes.layers {
            let systems: BTreeMap<LayerId, BuildingSystem> = doc
                .layers()
                .iter()
                .map(|(id, l)| (id.clone(), l.system))
                .collect();
            let recoloured: BTreeSet<&LayerId> = systems
                .iter()
                .filter(|(id, s)| self.systems.get(*id) != Some(*s))
                .map(|(id, _)| id)
                .collect();
            if !recoloured.is_empty() {
                todo.extend(
                    self.chunks
                        .iter()
                        .filter(|(k, _)| recoloured.contains(&k.layer))
                        .flat_map(|(_, c)| c.members.iter().map(|(_, id)| id.clone())),
                );
            }
            self.systems = systems;
        }
        let mut n = 0;
        for id in &todo {
            self.remove(id);
            if let Some(e) = doc.element(id) {
                self.insert(e);
                n += 1;
            }
        }
        self.finish(n);
    }

    fn insert(&mut self, e: &Element) {
        let draw = self.tess.element(e, parallel::system_of(&self.systems, e));
        self.insert_drawn(e, draw);
    }

    fn insert_drawn(&mut self, e: &Element, draw: ElementDraw) {
        let b = e.bounds();
        let (cx, cy) = (b.min.x.midpoint(b.max.x), b.min.y.midpoint(b.max.y));
        let key = ChunkKey {
            band: band(e.kind),
            floor: e.floor.clone(),
            layer: e.layer.clone(),
            cell: ((cx / CELL_MM).floor() as i64, (cy / CELL_MM).floor() as i64),
        };
        let chunk = self.chunks.entry(key.clone()).or_default();
        chunk.members.insert((e.z.clone(), e.id.clone()));
        chunk.dirty = true;
        if self.plan.is_some() {
            self.touched.insert(key.clone());
        }
        self.elements.insert(
            e.id.clone(),
            Cached {
                key,
                z: e.z.clone(),
                bounds: b,
                draw,
            },
        );
    }

    fn remove(&mut self, id: &ElementId) {
        let Some(old) = self.elements.remove(id) else {
            return;
        };
        if let Some(chunk) = self.chunks.get_mut(&old.key) {
            chunk.members.remove(&(old.z, id.clone()));
            chunk.dirty = true;
        }
        if self.plan.is_some() {
            self.touched.insert(old.key);
        }
    }

    /// Re-joins dirty chunks and drops empty ones.
    fn finish(&mut self, tessellated: u64) {
        self.chunks.retain(|_, c| !c.members.is_empty());
        let mut rebuilt = 0;
        for chunk in self.chunks.values_mut().filter(|c| c.dirty) {
            chunk.mesh.clear();
            chunk.instances.clear();
            chunk.bounds = None;
            let mut by_kind: [Vec<Instance>; SymbolKind::ALL.len()] = Default::default();
            for (_, id) in &chunk.members {
                let Some(c) = self.elements.get(id) else {
                    continue;
                };
                chunk.mesh.append(&c.draw.mesh);
                chunk.bounds = Some(chunk.bounds.map_or(c.bounds, |b| b.union(c.bounds)));
                if let Some((kind, inst)) = c.draw.symbol {
                    by_kind[kind.index()].push(inst);
                }
            }
            for (i, list) in by_kind.iter().enumerate() {
                let start = chunk.instances.len() as u32;
                chunk.instances.extend_from_slice(list);
                chunk.symbol_ranges[i] = start..chunk.instances.len() as u32;
            }
            self.generation += 1;
            chunk.generation = self.generation;
            chunk.dirty = false;
            rebuilt += 1;
        }
        if !self.touched.is_empty() {
            let touched = std::mem::take(&mut self.touched);
            self.patch_plan(&touched);
        }
        self.counters.tessellated_last = tessellated;
        self.counters.tessellated_total += tessellated;
        self.counters.chunks_rebuilt_last = rebuilt;
    }

    /// The chunks to draw for `view`, in drawing order: those holding an element the area
    /// index finds in the visible rectangle, on the shown floor, on a shown layer.
    pub fn visible_chunks(&self, doc: &Document, view: &View) -> Vec<&ChunkKey> {
        self.chunks_in(doc, cull_area(view))
    }

    /// The chunks with an element in `area` (by the document's area index), on the shown
    /// floor and layers.
    fn chunks_in(&self, doc: &Document, area: Bounds) -> Vec<&ChunkKey> {
        let filter = Filter {
            floor: self.options.floor.clone(),
            ..Filter::default()
        };
        let hidden = |layer: &LayerId| {
            self.options.hidden_layers.contains(layer)
                || doc.layers().get(layer).is_some_and(|l| !l.visible)
        };
        let floor_shown =
            |key: &ChunkKey| self.options.floor.as_ref().is_none_or(|f| *f == key.floor);
        // The whole plan in view (a fit to the drawing, every first frame): every element
        // meets the area, so every chunk of a shown floor and layer is drawn, and asking the
        // index for each of 50,000 elements would only say so slowly.
        if doc.extent().is_some_and(|e| contains_bounds(&area, &e)) {
            return self
                .chunks
                .keys()
                .filter(|k| floor_shown(k) && !hidden(&k.layer))
                .collect();
        }
        // Hashing here, sorting once at the end: this loop runs per visible element.
        let mut keys: HashSet<&ChunkKey> = HashSet::new();
        let mut last: Option<&ChunkKey> = None;
        for e in doc.query_area(&area, &filter) {
            let Some(c) = self.elements.get(&e.id) else {
                continue;
            };
            // Neighbouring results often share a chunk; skip the set insert then.
            if last == Some(&c.key) {
                continue;
            }
            last = Some(&c.key);
            if !hidden(&c.key.layer) {
                keys.insert(&c.key);
            }
        }
        let mut keys: Vec<&ChunkKey> = keys.into_iter().collect();
        keys.sort_unstable();
        keys
    }

    /// The chunk for a key.
    pub fn chunk(&self, key: &ChunkKey) -> Option<&Chunk> {
        self.chunks.get(key)
    }
}

fn contains_bounds(outer: &Bounds, inner: &Bounds) -> bool {
    outer.min.x <= inner.min.x
        && outer.min.y <= inner.min.y
        && outer.max.x >= inner.max.x
        && outer.max.y >= inner.max.y
}

/// The plan area whose elements a view may show: the visible rectangle plus a margin.
/// Labels and hairlines grow to a minimum on-screen size when zoomed out, so the margin grows
/// with them.
fn cull_area(view: &View) -> Bounds {
    let margin = CULL_MARGIN_MM.max(CULL_MARGIN_PX / view.zoom_px_per_mm);
    view.visible_bounds().expand(margin)
}

mod parallel;
mod plan;
mod snapshot;

pub use snapshot::{SnapshotInfo, fingerprint};

#[cfg(test)]
mod tests;
