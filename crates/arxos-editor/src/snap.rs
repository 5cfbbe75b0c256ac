//! Snapping: where a click lands once it is drawn to the grid or to the drawing.
//!
//! Precedence follows what a drafter means: an endpoint of a wall or line beats its midpoint,
//! which beats a point on a wall's centre line, which beats the grid. The result says which
//! rule applied, so the canvas shows a guide naming it.

use arxos_doc::geometry::distance_to_segment;
use arxos_doc::{Bounds, Document, ElementId, ElementKind, Geometry, Point};

use crate::picking::{DEFAULT_WALL_MM, PickFilter, number, world};

/// Which rule placed the point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapKind {
    /// The end of a wall, line or room corner.
    Endpoint,
    /// The middle of a segment.
    Midpoint,
    /// On a wall's centre line.
    OnWall,
    /// A grid intersection.
    Grid,
    /// Nothing: the raw cursor position.
    Free,
}

impl SnapKind {
    /// What the guide says.
    pub fn label(self) -> &'static str {
        match self {
            Self::Endpoint => "endpoint",
            Self::Midpoint => "midpoint",
            Self::OnWall => "on wall",
            Self::Grid => "grid",
            Self::Free => "",
        }
    }
}

/// A snapped point.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Snap {
    /// Where it landed.
    pub point: Point,
    /// Why.
    pub kind: SnapKind,
}

/// Snapping settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SnapSettings {
    /// Grid spacing in millimetres.
    pub grid_mm: f64,
    /// Snap to the grid.
    pub grid: bool,
    /// Snap to endpoints, midpoints and walls.
    pub objects: bool,
}

impl Default for SnapSettings {
    fn default() -> Self {
        Self {
            grid_mm: 100.0,
            grid: true,
            objects: true,
        }
    }
}

/// A point on a wall's centre line, with the wall's direction there.
#[derive(Clone, Debug, PartialEq)]
pub struct WallHit {
    /// The wall.
    pub wall: ElementId,
    /// The nearest point of its centre line.
    pub point: Point,
    /// Direction of the segment, degrees (as SVG's `rotate`).
    pub angle_deg: f64,
    /// The wall's thickness.
    pub thickness: f64,
    /// Length of the segment and how far along it `point` is.
    pub segment_len: f64,
    /// Distance from the segment start to `point`.
    pub along: f64,
}

/// Snaps `p` with the cursor's catch radius `radius_mm`, ignoring `exclude` (the element being
/// drawn or dragged).
pub fn snap(
    doc: &Document,
    p: Point,
    radius_mm: f64,
    settings: SnapSettings,
    filter: &PickFilter,
    exclude: &[ElementId],
) -> Snap {
    if settings.objects {
        let mut best: Option<(u8, f64, Point)> = None;
        let mut offer = |rank: u8, q: Point| {
            let d = (q.x - p.x).hypot(q.y - p.y);
            if d <= radius_mm && best.is_none_or(|(r, bd, _)| (rank, d) < (r, bd)) {
                best = Some((rank, d, q));
            }
        };
        let probe = Bounds::from_corners(p, p).expand(radius_mm);
        for e in doc.query_area(&probe, &arxos_doc::Filter::default()) {
            if exclude.contains(&e.id) || !filter.allows(e) {
                continue;
            }
            let (pts, closed) = match &e.geometry {
                Geometry::Polyline { points } => (world(&e.transform, points), false),
                Geometry::Polygon { points } => (world(&e.transform, points), true),
                _ => continue,
            };
            let n = pts.len();
            for q in &pts {
                offer(0, *q);
            }
            let segs = if closed { n } else { n.saturating_sub(1) };
            for i in 0..segs {
                let (a, b) = (pts[i], pts[(i + 1) % n]);
                offer(1, Point::new(a.x.midpoint(b.x), a.y.midpoint(b.y)));
            }
        }
        if let Some((rank, _, q)) = best {
            let kind = if rank == 0 {
                SnapKind::Endpoint
            } else {
                SnapKind::Midpoint
            };
            return Snap { point: q, kind };
        }
        if let Some(w) = nearest_wall(doc, p, radius_mm, filter, exclude) {
            return Snap {
                point: w.point,
                kind: SnapKind::OnWall,
            };
        }
    }
    if settings.grid && settings.grid_mm > 0.0 {
        let g = settings.grid_mm;
        return Snap {
            point: Point::new((p.x / g).round() * g, (p.y / g).round() * g),
            kind: SnapKind::Grid,
        };
    }
    Snap {
        point: p,
        kind: SnapKind::Free,
    }
}

/// The wall whose centre line passes nearest `p`, within `radius_mm` plus its half thickness.
pub fn nearest_wall(
    doc: &Document,
    p: Point,
    radius_mm: f64,
    filter: &PickFilter,
    exclude: &[ElementId],
) -> Option<WallHit> {
    let probe = Bounds::from_corners(p, p).expand(radius_mm + 1_000.0);
    let mut best: Option<(f64, WallHit)> = None;
    for e in doc.query_area(&probe, &arxos_doc::Filter::default()) {
        if e.kind != ElementKind::Wall || exclude.contains(&e.id) || !filter.allows(e) {
            continue;
        }
        let (pts, closed) = match &e.geometry {
            Geometry::Polyline { points } => (world(&e.transform, points), false),
            Geometry::Polygon { points } => (world(&e.transform, points), true),
            _ => continue,
        };
        let thickness = number(e, "thickness").unwrap_or(DEFAULT_WALL_MM);
        let n = pts.len();
        let segs = if closed { n } else { n.saturating_sub(1) };
        for i in 0..segs {
            let (a, b) = (pts[i], pts[(i + 1) % n]);
            let d = distance_to_segment(p, a, b);
            if d > radius_mm + thickness / 2.0 || best.as_ref().is_some_and(|(bd, _)| *bd <= d) {
                continue;
            }
            let (dx, dy) = (b.x - a.x, b.y - a.y);
            let len = dx.hypot(dy);
            if len <= f64::EPSILON {
                continue;
            }
            let along = (((p.x - a.x) * dx + (p.y - a.y) * dy) / len).clamp(0.0, len);
            let point = Point::new(a.x + dx / len * along, a.y + dy / len * along);
            best = Some((
                d,
                WallHit {
                    wall: e.id.clone(),
                    point,
                    angle_deg: dy.atan2(dx).to_degrees(),
                    thickness,
                    segment_len: len,
                    along,
                },
            ));
        }
    }
    best.map(|(_, w)| w)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arxos_doc::{Command, EditContext, FloorId, LayerId, NewElement, PropValue, Transform};

    fn plan() -> Document {
        let ctx = EditContext::at("t", 1);
        let mut doc = Document::new_plan("t", &ctx).unwrap();
        let mut wall = NewElement::new(
            ElementKind::Wall,
            "wall:1",
            FloorId::new("level-1"),
            LayerId::new("architectural"),
            Geometry::Polyline {
                points: vec![Point::new(0.0, 0.0), Point::new(4_000.0, 0.0)],
            },
            Transform::default(),
        )
        .with_prop("thickness", PropValue::Number(200.0), Some("mm"));
        wall.id = Some(ElementId::new("w1"));
        doc.apply(&ctx, Command::Create(Box::new(wall))).unwrap();
        doc
    }

    #[test]
    fn endpoint_beats_midpoint_beats_wall_beats_grid() {
        let doc = plan();
        let f = PickFilter::default();
        let s = SnapSettings::default();
        let at = |x, y| snap(&doc, Point::new(x, y), 150.0, s, &f, &[]);
        assert_eq!(at(3_950.0, 40.0).kind, SnapKind::Endpoint);
        assert_eq!(at(3_950.0, 40.0).point, Point::new(4_000.0, 0.0));
        assert_eq!(at(2_030.0, 20.0).kind, SnapKind::Midpoint);
        let on = at(1_234.0, 60.0);
        assert_eq!(
            (on.kind, on.point),
            (SnapKind::OnWall, Point::new(1_234.0, 0.0))
        );
        let g = at(1_234.0, 3_049.0);
        assert_eq!(
            (g.kind, g.point),
            (SnapKind::Grid, Point::new(1_200.0, 3_000.0))
        );
        let excluded = snap(
            &doc,
            Point::new(3_950.0, 40.0),
            150.0,
            s,
            &f,
            &[ElementId::new("w1")],
        );
        assert_eq!(excluded.kind, SnapKind::Grid);
    }

    #[test]
    fn a_wall_hit_knows_its_direction() {
        let doc = plan();
        let w = nearest_wall(
            &doc,
            Point::new(1_000.0, 90.0),
            50.0,
            &PickFilter::default(),
            &[],
        )
        .unwrap();
        assert_eq!(w.wall, ElementId::new("w1"));
        assert!(w.angle_deg.abs() < 1e-9);
        assert!((w.along - 1_000.0).abs() < 1e-9);
        assert!(
            nearest_wall(
                &doc,
                Point::new(1_000.0, 400.0),
                50.0,
                &PickFilter::default(),
                &[]
            )
            .is_none()
        );
    }
}
