//! Frame planning with a culling cache.
//!
//! Asking the area index for every element in view is linear in what is visible, which for a
//! zoomed-out 50k-element plan costs more than a frame should. So the answer is kept with the
//! *window* it was computed for: the visible area plus a guard band of half a viewport on each
//! side. A later view whose cull area still lies inside the window (an unchanged frame, a
//! pan of a few pixels, a slight zoom out) reuses the answer: drawing a chunk that turns out
//! to be off screen costs the GPU a clip, never a wrong picture. Edits patch the answer by
//! chunk bounds instead of re-querying; a new floor or layer visibility re-queries.

use std::collections::BTreeSet;
use std::sync::Arc;

use arxos_doc::{Bounds, Document, LayerId};

use super::{ChunkKey, Frame, Scene, SceneOptions, contains_bounds as contains, cull_area};
use crate::view::View;

/// A culling result and what it depends on.
pub(super) struct PlanCache {
    /// The area the chunks were found in.
    window: Bounds,
    /// Options it was computed with.
    options: SceneOptions,
    /// Layers the document itself hides, at the time.
    doc_hidden: BTreeSet<LayerId>,
    /// Visible chunks, in drawing order.
    keys: BTreeSet<ChunkKey>,
    /// The same, shared with frames (rebuilt when `keys` changes).
    shared: Arc<[ChunkKey]>,
}

/// How far the window reaches past the view on each side, in viewports.
const GUARD: f64 = 0.5;

/// A window larger than this many times the view's area is re-queried, so that zooming in
/// does not keep drawing the whole plan.
const MAX_WINDOW_RATIO: f64 = 9.0;

fn area(b: &Bounds) -> f64 {
    b.width().max(0.0) * b.height().max(0.0)
}

fn doc_hidden(doc: &Document) -> BTreeSet<LayerId> {
    doc.layers()
        .values()
        .filter(|l| !l.visible)
        .map(|l| l.id.clone())
        .collect()
}

impl Scene {
    /// Plans a frame: the view and the chunks to draw, bottom first. Reuses the last culling
    /// result while the view stays within its window (see the module docs).
    pub fn plan_frame(&mut self, doc: &Document, view: &View) -> Frame {
        if self.is_snapshot() {
            return self.plan_snapshot_frame(view);
        }
        let need = cull_area(view);
        let hidden = doc_hidden(doc);
        let reusable = self.plan.as_ref().is_some_and(|p| {
            contains(&p.window, &need)
                && area(&p.window) <= MAX_WINDOW_RATIO * area(&need)
                && p.options == self.options
                && p.doc_hidden == hidden
        });
        if !reusable {
            let (w, h) = (need.width(), need.height());
            let window = Bounds {
                min: arxos_doc::Point::new(need.min.x - GUARD * w, need.min.y - GUARD * h),
                max: arxos_doc::Point::new(need.max.x + GUARD * w, need.max.y + GUARD * h),
            };
            let keys: BTreeSet<ChunkKey> =
                self.chunks_in(doc, window).into_iter().cloned().collect();
            tracing::trace!(chunks = keys.len(), "culled through the area index");
            self.plan = Some(PlanCache {
                window,
                options: self.options.clone(),
                doc_hidden: hidden,
                shared: keys.iter().cloned().collect(),
                keys,
            });
        }
        Frame {
            view: *view,
            chunks: self
                .plan
                .as_ref()
                .map_or_else(|| Arc::from(Vec::new()), |p| p.shared.clone()),
        }
    }

    /// Brings the cached culling result up to date after `touched` chunks changed: a chunk is
    /// in it when it still exists, is on a shown floor and layer and meets the window.
    pub(super) fn patch_plan(&mut self, touched: &BTreeSet<ChunkKey>) {
        let Some(plan) = &mut self.plan else {
            return;
        };
        let mut changed = false;
        for key in touched {
            let shown = self.chunks.get(key).is_some_and(|c| {
                c.bounds.is_some_and(|b| b.intersects(&plan.window))
                    && plan.options.floor.as_ref().is_none_or(|f| *f == key.floor)
                    && !plan.options.hidden_layers.contains(&key.layer)
                    && !plan.doc_hidden.contains(&key.layer)
            });
            changed |= if shown {
                plan.keys.insert(key.clone())
            } else {
                plan.keys.remove(key)
            };
        }
        if changed {
            plan.shared = plan.keys.iter().cloned().collect();
        }
    }
}
