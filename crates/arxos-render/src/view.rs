//! The camera onto a plan: which plan point sits at the centre of the viewport and how many
//! screen pixels one millimetre takes. Plan and screen are both y-down (SVG and window
//! conventions agree), so the mapping is a scale and a translation, no flip.

use arxos_doc::{Bounds, Point};

/// Smallest and largest zoom, in pixels per millimetre: from a campus on one screen to a
/// single socket filling it. Clamping keeps the transform invertible and finite.
const ZOOM_RANGE: (f64, f64) = (1e-5, 1e3);

/// A view of the plan in a viewport of `viewport_px` pixels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct View {
    /// The plan point (mm) at the centre of the viewport.
    pub center: Point,
    /// Screen pixels per plan millimetre.
    pub zoom_px_per_mm: f64,
    /// Viewport size in physical pixels, `[width, height]`.
    pub viewport_px: [u32; 2],
}

impl View {
    /// A view centred on `center` at `zoom_px_per_mm`.
    pub fn new(center: Point, zoom_px_per_mm: f64, viewport_px: [u32; 2]) -> Self {
        Self {
            center,
            zoom_px_per_mm: zoom_px_per_mm.clamp(ZOOM_RANGE.0, ZOOM_RANGE.1),
            viewport_px,
        }
    }

    /// The view that shows all of `bounds` with `margin_px` of paper around it.
    pub fn fit(bounds: Bounds, viewport_px: [u32; 2], margin_px: f64) -> Self {
        let w = (f64::from(viewport_px[0]) - 2.0 * margin_px).max(1.0);
        let h = (f64::from(viewport_px[1]) - 2.0 * margin_px).max(1.0);
        // A degenerate box (one point) fits as if it were a metre wide.
        let zoom = (w / bounds.width().max(1_000.0)).min(h / bounds.height().max(1_000.0));
        let center = Point::new(
            bounds.min.x.midpoint(bounds.max.x),
            bounds.min.y.midpoint(bounds.max.y),
        );
        Self::new(center, zoom, viewport_px)
    }

    /// Viewport size in pixels as floats.
    fn size(&self) -> (f64, f64) {
        (
            f64::from(self.viewport_px[0].max(1)),
            f64::from(self.viewport_px[1].max(1)),
        )
    }

    /// Where a plan point appears, in pixels from the viewport's top-left corner.
    pub fn screen_from_plan(&self, plan: Point) -> Point {
        let (w, h) = self.size();
        Point::new(
            (plan.x - self.center.x) * self.zoom_px_per_mm + w / 2.0,
            (plan.y - self.center.y) * self.zoom_px_per_mm + h / 2.0,
        )
    }

    /// The plan point under a screen pixel position.
    pub fn plan_from_screen(&self, screen: Point) -> Point {
        let (w, h) = self.size();
        Point::new(
            (screen.x - w / 2.0) / self.zoom_px_per_mm + self.center.x,
            (screen.y - h / 2.0) / self.zoom_px_per_mm + self.center.y,
        )
    }

    /// The plan rectangle the viewport shows.
    pub fn visible_bounds(&self) -> Bounds {
        let (w, h) = self.size();
        Bounds::from_corners(
            self.plan_from_screen(Point::new(0.0, 0.0)),
            self.plan_from_screen(Point::new(w, h)),
        )
    }

    /// Moves the view by a screen-space drag of `(dx, dy)` pixels (the plan follows the
    /// pointer).
    #[must_use]
    pub fn panned_px(mut self, dx: f64, dy: f64) -> Self {
        self.center.x -= dx / self.zoom_px_per_mm;
        self.center.y -= dy / self.zoom_px_per_mm;
        self
    }

    /// Zooms by `factor` keeping the plan point under `anchor_px` (a screen position) fixed,
    /// as zooming about the cursor does.
    #[must_use]
    pub fn zoomed_about(self, factor: f64, anchor_px: Point) -> Self {
        let anchor_plan = self.plan_from_screen(anchor_px);
        let zoom = (self.zoom_px_per_mm * factor).clamp(ZOOM_RANGE.0, ZOOM_RANGE.1);
        let (w, h) = self.size();
        Self {
            center: Point::new(
                anchor_plan.x - (anchor_px.x - w / 2.0) / zoom,
                anchor_plan.y - (anchor_px.y - h / 2.0) / zoom,
            ),
            zoom_px_per_mm: zoom,
            viewport_px: self.viewport_px,
        }
    }

    /// The scale from plan millimetres to clip space on each axis (clip y points up).
    pub(crate) fn clip_scale(&self) -> [f32; 2] {
        let (w, h) = self.size();
        [
            (2.0 * self.zoom_px_per_mm / w) as f32,
            (-2.0 * self.zoom_px_per_mm / h) as f32,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: Point, b: Point) -> bool {
        (a.x - b.x).abs() < 1e-6 && (a.y - b.y).abs() < 1e-6
    }

    #[test]
    fn screen_and_plan_are_inverse() {
        let v = View::new(Point::new(5_000.0, -200.0), 0.05, [800, 600]);
        let p = Point::new(1_234.5, 6_789.0);
        assert!(close(v.plan_from_screen(v.screen_from_plan(p)), p));
        assert!(close(
            v.screen_from_plan(v.center),
            Point::new(400.0, 300.0)
        ));
    }

    #[test]
    fn fit_shows_the_whole_box() {
        let b = Bounds::from_corners(Point::new(0.0, 0.0), Point::new(60_000.0, 36_000.0));
        let v = View::fit(b, [1200, 800], 20.0);
        let vis = v.visible_bounds();
        assert!(vis.min.x <= 0.0 && vis.max.x >= 60_000.0, "{vis:?}");
        assert!(vis.min.y <= 0.0 && vis.max.y >= 36_000.0, "{vis:?}");
        // Width is the binding side: the plan spans the viewport minus margins.
        let left = v.screen_from_plan(b.min);
        assert!((left.x - 20.0).abs() < 1e-6, "{left:?}");
    }

    #[test]
    fn zoom_keeps_the_anchor_fixed() {
        let v = View::new(Point::new(0.0, 0.0), 0.1, [1000, 1000]);
        let anchor = Point::new(100.0, 700.0);
        let under = v.plan_from_screen(anchor);
        let z = v.zoomed_about(2.5, anchor);
        assert!(close(z.plan_from_screen(anchor), under));
        let p = v.panned_px(10.0, 0.0);
        assert!((p.center.x - -100.0).abs() < 1e-9);
    }
}
