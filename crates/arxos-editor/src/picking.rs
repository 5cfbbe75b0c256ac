//! What is under the cursor, precise to the geometry: a click on a wall's body, not on its
//! bounding box; on a room's floor, not on the corridor its box overlaps.
//!
//! Candidates come from the document's area index (`Document::query_area` around the point),
//! then each is tested against its real shape in plan millimetres. The topmost wins: by
//! drawing band (equipment over walls over rooms, as drawn), then by z-order.

use std::collections::BTreeSet;

use arxos_doc::geometry::{distance_to_segment, world_from_local};
use arxos_doc::{Bounds, Document, Element, ElementId, ElementKind, FloorId, Geometry, LayerId};
use arxos_doc::{Point, PropValue, Transform};

/// Radius of a point symbol on the plan (half the renderer's 240 mm symbol).
pub const SYMBOL_RADIUS_MM: f64 = 120.0;
/// Wall thickness when a wall has none (the renderer's default).
pub const DEFAULT_WALL_MM: f64 = 150.0;

/// What may be picked.
#[derive(Clone, Debug, Default)]
pub struct PickFilter {
    /// The floor shown (`None`: all).
    pub floor: Option<FloorId>,
    /// Layers that cannot be picked: hidden or locked on this canvas, or hidden in the plan.
    pub excluded_layers: BTreeSet<LayerId>,
}

impl PickFilter {
    /// Whether `e` may be picked, snapped to or selected.
    pub fn allows(&self, e: &Element) -> bool {
        self.floor.as_ref().is_none_or(|f| *f == e.floor)
            && !self.excluded_layers.contains(&e.layer)
    }
}

/// The topmost element at `p`, within `tolerance_mm` of its shape.
pub fn pick(doc: &Document, p: Point, tolerance_mm: f64, filter: &PickFilter) -> Option<ElementId> {
    let probe = Bounds::from_corners(p, p).expand(tolerance_mm + SYMBOL_RADIUS_MM);
    doc.query_area(&probe, &arxos_doc::Filter::default())
        .filter(|e| filter.allows(e) && hits(e, p, tolerance_mm))
        .max_by(|a, b| (arxos_render::band(a.kind), &a.z).cmp(&(arxos_render::band(b.kind), &b.z)))
        .map(|e| e.id.clone())
}

/// How a selection box takes elements (the CAD convention by drag direction).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BoxMode {
    /// Dragged left to right: elements wholly inside.
    Inside,
    /// Dragged right to left: elements the box touches.
    Touching,
}

/// Elements a selection box takes.
pub fn box_select(
    doc: &Document,
    area: Bounds,
    mode: BoxMode,
    filter: &PickFilter,
) -> Vec<ElementId> {
    doc.query_area(&area, &arxos_doc::Filter::default())
        .filter(|e| filter.allows(e))
        .filter(|e| {
            let b = extent(e);
            match mode {
                BoxMode::Inside => {
                    b.min.x >= area.min.x
                        && b.min.y >= area.min.y
                        && b.max.x <= area.max.x
                        && b.max.y <= area.max.y
                }
                BoxMode::Touching => b.intersects(&area),
            }
        })
        .map(|e| e.id.clone())
        .collect()
}

/// An element's extent as drawn: a point symbol has its symbol's size.
pub fn extent(e: &Element) -> Bounds {
    let b = e.bounds();
    match e.geometry {
        Geometry::Point => b.expand(if e.kind == ElementKind::Text {
            text_size(e)
        } else {
            SYMBOL_RADIUS_MM
        }),
        _ => b,
    }
}

/// Whether `p` is on the element's shape (within `tol` millimetres).
pub fn hits(e: &Element, p: Point, tol: f64) -> bool {
    let t = &e.transform;
    match &e.geometry {
        Geometry::Point if e.kind == ElementKind::Text => {
            let size = text_size(e);
            let chars = e.text.as_deref().map_or(1, |s| s.chars().count().max(1)) as f64;
            let local = local_from_world(t, p);
            local.x.abs() <= chars * size * 0.3 + tol && local.y.abs() <= size * 0.6 + tol
        }
        Geometry::Point => dist(p, Point::new(t.x, t.y)) <= SYMBOL_RADIUS_MM + tol,
        Geometry::Polyline { points } => {
            let half = match e.kind {
                ElementKind::Wall => number(e, "thickness").unwrap_or(DEFAULT_WALL_MM) / 2.0,
                ElementKind::Duct | ElementKind::Pipe => {
                    number(e, "width")
                        .or_else(|| number(e, "diameter"))
                        .unwrap_or(0.0)
                        / 2.0
                }
                _ => 0.0,
            };
            near_chain(p, &world(t, points), false, half + tol)
        }
        Geometry::Polygon { points } => {
            let ring = world(t, points);
            let half = if e.kind == ElementKind::Wall {
                number(e, "thickness").unwrap_or(DEFAULT_WALL_MM) / 2.0
            } else {
                0.0
            };
            near_chain(p, &ring, true, half + tol)
                || (e.kind != ElementKind::Wall && inside_ring(p, &ring))
        }
        Geometry::Rect { width, height } => {
            let l = local_from_world(t, p);
            l.x >= -tol && l.y >= -tol && l.x <= width + tol && l.y <= height + tol
        }
        Geometry::Circle { radius } => dist(p, Point::new(t.x, t.y)) <= radius + tol,
        Geometry::Path { .. } => {
            let b = e.bounds().expand(tol);
            p.x >= b.min.x && p.y >= b.min.y && p.x <= b.max.x && p.y <= b.max.y
        }
    }
}

/// A property as a number.
pub fn number(e: &Element, name: &str) -> Option<f64> {
    match e.props.get(name).map(|p| &p.value) {
        Some(PropValue::Number(n)) if n.is_finite() => Some(*n),
        _ => None,
    }
}

fn text_size(e: &Element) -> f64 {
    number(e, "font_size")
        .or_else(|| number(e, "size"))
        .unwrap_or(250.0)
}

/// The element's points in world space.
pub fn world(t: &Transform, points: &[Point]) -> Vec<Point> {
    points.iter().map(|p| world_from_local(t, *p)).collect()
}

/// The inverse of `world_from_local`.
pub fn local_from_world(t: &Transform, p: Point) -> Point {
    let (dx, dy) = (p.x - t.x, p.y - t.y);
    if t.rotation == 0.0 {
        return Point::new(dx, dy);
    }
    let (s, c) = t.rotation.to_radians().sin_cos();
    Point::new(dx * c + dy * s, -dx * s + dy * c)
}

fn dist(a: Point, b: Point) -> f64 {
    (a.x - b.x).hypot(a.y - b.y)
}

fn near_chain(p: Point, pts: &[Point], closed: bool, within: f64) -> bool {
    let n = pts.len();
    let segs = if closed { n } else { n.saturating_sub(1) };
    (0..segs).any(|i| distance_to_segment(p, pts[i], pts[(i + 1) % n]) <= within)
}

/// Even-odd point-in-polygon test.
pub fn inside_ring(p: Point, ring: &[Point]) -> bool {
    let mut inside = false;
    let n = ring.len();
    for i in 0..n {
        let (a, b) = (ring[i], ring[(i + n - 1) % n]);
        if (a.y > p.y) != (b.y > p.y) && p.x < (b.x - a.x) * (p.y - a.y) / (b.y - a.y) + a.x {
            inside = !inside;
        }
    }
    inside
}

#[cfg(test)]
mod tests {
    use super::*;
    use arxos_doc::{Command, EditContext, NewElement};

    fn doc_with(elements: Vec<NewElement>) -> Document {
        let ctx = EditContext::at("t", 1);
        let mut doc = Document::new_plan("t", &ctx).unwrap();
        let cmds = elements
            .into_iter()
            .map(|e| Command::Create(Box::new(e)))
            .collect();
        doc.apply_batch(&ctx, "seed", cmds).unwrap();
        doc
    }

    fn el(kind: ElementKind, tag: &str, layer: &str, g: Geometry, x: f64, y: f64) -> NewElement {
        let mut n = NewElement::new(
            kind,
            tag,
            FloorId::new("level-1"),
            LayerId::new(layer),
            g,
            Transform {
                x,
                y,
                rotation: 0.0,
            },
        );
        n.id = Some(ElementId::new(tag.replace(':', "-")));
        n
    }

    fn diagonal_wall() -> NewElement {
        el(
            ElementKind::Wall,
            "wall:1",
            "architectural",
            Geometry::Polyline {
                points: vec![Point::new(0.0, 0.0), Point::new(10_000.0, 10_000.0)],
            },
            0.0,
            0.0,
        )
        .with_prop("thickness", PropValue::Number(200.0), Some("mm"))
    }

    #[test]
    fn a_wall_is_hit_on_its_body_not_its_box() {
        let doc = doc_with(vec![diagonal_wall()]);
        let f = PickFilter::default();
        assert_eq!(
            pick(&doc, Point::new(5_000.0, 5_050.0), 10.0, &f),
            Some(ElementId::new("wall-1"))
        );
        // Inside the bounding box, far from the wall's body.
        assert_eq!(pick(&doc, Point::new(9_000.0, 1_000.0), 10.0, &f), None);
    }

    #[test]
    fn equipment_wins_over_the_room_it_sits_in_and_rooms_are_hit_inside() {
        let room = el(
            ElementKind::Room,
            "room:1",
            "architectural",
            Geometry::Polygon {
                points: vec![
                    Point::new(0.0, 0.0),
                    Point::new(4_000.0, 0.0),
                    Point::new(4_000.0, 3_000.0),
                    Point::new(0.0, 3_000.0),
                ],
            },
            0.0,
            0.0,
        );
        let outlet = el(
            ElementKind::Outlet,
            "outlet:1",
            "electrical",
            Geometry::Point,
            1_000.0,
            1_000.0,
        );
        let doc = doc_with(vec![room, outlet]);
        let mut f = PickFilter::default();
        assert_eq!(
            pick(&doc, Point::new(1_050.0, 1_000.0), 10.0, &f),
            Some(ElementId::new("outlet-1"))
        );
        assert_eq!(
            pick(&doc, Point::new(3_000.0, 2_000.0), 10.0, &f),
            Some(ElementId::new("room-1"))
        );
        f.excluded_layers.insert(LayerId::new("electrical"));
        assert_eq!(
            pick(&doc, Point::new(1_050.0, 1_000.0), 10.0, &f),
            Some(ElementId::new("room-1")),
            "a locked or hidden layer is not picked"
        );
    }

    #[test]
    fn box_select_inside_versus_touching() {
        let doc = doc_with(vec![diagonal_wall()]);
        let f = PickFilter::default();
        let area = Bounds::from_corners(Point::new(-100.0, -100.0), Point::new(5_000.0, 5_000.0));
        assert!(box_select(&doc, area, BoxMode::Inside, &f).is_empty());
        assert_eq!(box_select(&doc, area, BoxMode::Touching, &f).len(), 1);
    }

    #[test]
    fn a_rotated_rect_is_hit_in_its_own_frame() {
        let mut door = el(
            ElementKind::Door,
            "door:1",
            "architectural",
            Geometry::Rect {
                width: 900.0,
                height: 150.0,
            },
            0.0,
            0.0,
        );
        door.transform.rotation = 90.0;
        let e = doc_with(vec![door]);
        let e = e.element(&ElementId::new("door-1")).unwrap();
        // Rotated a quarter turn, the door runs down the y axis, on the negative x side.
        assert!(hits(e, Point::new(-75.0, 450.0), 1.0));
        assert!(!hits(e, Point::new(450.0, 75.0), 1.0));
    }
}
