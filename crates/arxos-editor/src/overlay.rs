//! What egui draws over (and under) the GPU plan: the grid, hover and selection outlines,
//! handles, the drawing preview, snapping guides, the selection box and the scale bar.
//! Everything here is in screen points, converted from plan millimetres through [`Mapping`].

use arxos_doc::{Element, Geometry, Point};
use arxos_render::View;
use egui::{Align2, Color32, FontId, Painter, Pos2, Rect, Shape, Stroke, Vec2};

use crate::picking::{SYMBOL_RADIUS_MM, extent, world};

/// Plan ↔ screen for one canvas rectangle.
#[derive(Clone, Copy, Debug)]
pub struct Mapping {
    /// The camera.
    pub view: View,
    /// The canvas rectangle in points.
    pub rect: Rect,
    /// Physical pixels per point.
    pub ppp: f32,
}

impl Mapping {
    /// Where a plan point is on screen.
    pub fn to_screen(self, p: Point) -> Pos2 {
        let s = self.view.screen_from_plan(p);
        self.rect.min + Vec2::new(s.x as f32 / self.ppp, s.y as f32 / self.ppp)
    }

    /// The plan point under a screen position.
    pub fn to_plan(self, pos: Pos2) -> Point {
        let d = (pos - self.rect.min) * self.ppp;
        self.view
            .plan_from_screen(Point::new(f64::from(d.x), f64::from(d.y)))
    }

    /// Millimetres per screen point.
    pub fn mm_per_point(self) -> f64 {
        f64::from(self.ppp) / self.view.zoom_px_per_mm
    }
}

/// Overlay colours, from the renderer's theme so canvas and overlays agree.
#[derive(Clone, Copy, Debug)]
pub struct Ink {
    /// Selection.
    pub selection: Color32,
    /// Hover.
    pub hover: Color32,
    /// Minor grid lines.
    pub grid_minor: Color32,
    /// Major grid lines.
    pub grid_major: Color32,
    /// Paper.
    pub paper: Color32,
    /// Guides and previews.
    pub guide: Color32,
    /// Refusals.
    pub refuse: Color32,
    /// Plain text on the paper.
    pub text: Color32,
    /// Elements changed since a version compared.
    pub changed: Color32,
}

impl Ink {
    /// From the renderer's theme.
    pub fn from_theme(t: &arxos_render::Theme) -> Self {
        let c =
            |r: arxos_render::Rgba| Color32::from_rgba_unmultiplied(r.0[0], r.0[1], r.0[2], r.0[3]);
        Self {
            selection: c(t.selection),
            hover: c(t.hover),
            grid_minor: c(t.grid_minor),
            grid_major: c(t.grid_major),
            paper: c(t.canvas),
            guide: Color32::from_rgb(0xD8, 0x1B, 0x60),
            refuse: Color32::from_rgb(0xC6, 0x28, 0x28),
            text: c(t.text),
            changed: Color32::from_rgba_unmultiplied(0xF9, 0xA8, 0x25, 0xC0),
        }
    }
}

/// The grid: minor lines at `grid_mm` (or a multiple that stays at least 8 points apart),
/// major lines every ten.
pub fn grid(p: &Painter, m: &Mapping, grid_mm: f64, ink: &Ink) {
    let mut step = grid_mm.max(1.0);
    while step / m.mm_per_point() < 8.0 {
        step *= 10.0;
    }
    let vis = m.view.visible_bounds();
    let lines = |horizontal: bool| {
        let (lo, hi) = if horizontal {
            (vis.min.y, vis.max.y)
        } else {
            (vis.min.x, vis.max.x)
        };
        let first = (lo / step).floor() as i64;
        let last = (hi / step).ceil() as i64;
        (first..=last).map(move |i| (i, i as f64 * step))
    };
    for (i, x) in lines(false) {
        let is_major = i % 10 == 0;
        let sx = m.to_screen(Point::new(x, 0.0)).x;
        let color = if is_major {
            ink.grid_major
        } else {
            ink.grid_minor
        };
        p.line_segment(
            [Pos2::new(sx, m.rect.top()), Pos2::new(sx, m.rect.bottom())],
            Stroke::new(1.0, color),
        );
    }
    for (i, y) in lines(true) {
        let is_major = i % 10 == 0;
        let sy = m.to_screen(Point::new(0.0, y)).y;
        let color = if is_major {
            ink.grid_major
        } else {
            ink.grid_minor
        };
        p.line_segment(
            [Pos2::new(m.rect.left(), sy), Pos2::new(m.rect.right(), sy)],
            Stroke::new(1.0, color),
        );
    }
}

/// The element's shape as screen polylines (closed ones repeat their first point).
pub fn outline(e: &Element, m: &Mapping) -> Vec<Vec<Pos2>> {
    shape_outline(e.kind, &e.geometry, &e.transform, m).unwrap_or_else(|| {
        let b = extent(e);
        let corners = [
            b.min,
            Point::new(b.max.x, b.min.y),
            b.max,
            Point::new(b.min.x, b.max.y),
        ];
        let mut v: Vec<Pos2> = corners.iter().map(|p| m.to_screen(*p)).collect();
        v.push(v[0]);
        vec![v]
    })
}

/// A shape's outline from its geometry alone; `None` for shapes drawn by their extent (text,
/// paths).
pub fn shape_outline(
    kind: arxos_doc::ElementKind,
    geometry: &Geometry,
    t: &arxos_doc::Transform,
    m: &Mapping,
) -> Option<Vec<Vec<Pos2>>> {
    let screen = |pts: &[Point]| pts.iter().map(|p| m.to_screen(*p)).collect::<Vec<_>>();
    let ring = |mut v: Vec<Pos2>| {
        if let Some(first) = v.first().copied() {
            v.push(first);
        }
        v
    };
    Some(match geometry {
        Geometry::Polyline { points } => vec![screen(&world(t, points))],
        Geometry::Polygon { points } => vec![ring(screen(&world(t, points)))],
        Geometry::Rect { width, height } => {
            let corners = [
                Point::new(0.0, 0.0),
                Point::new(*width, 0.0),
                Point::new(*width, *height),
                Point::new(0.0, *height),
            ];
            vec![ring(screen(&world(t, &corners)))]
        }
        Geometry::Circle { radius } => vec![circle(m, Point::new(t.x, t.y), *radius)],
        Geometry::Point if kind != arxos_doc::ElementKind::Text => {
            vec![circle(m, Point::new(t.x, t.y), SYMBOL_RADIUS_MM * 1.25)]
        }
        _ => return None,
    })
}

fn circle(m: &Mapping, c: Point, r: f64) -> Vec<Pos2> {
    (0..=32)
        .map(|i| {
            let a = f64::from(i) / 32.0 * std::f64::consts::TAU;
            m.to_screen(Point::new(c.x + r * a.cos(), c.y + r * a.sin()))
        })
        .collect()
}

/// Strokes an element's outline.
pub fn highlight(p: &Painter, e: &Element, m: &Mapping, color: Color32, width: f32) {
    for line in outline(e, m) {
        p.add(Shape::line(line, Stroke::new(width, color)));
    }
}

/// A square handle.
pub fn handle(p: &Painter, at: Pos2, ink: &Ink) {
    let r = Rect::from_center_size(at, Vec2::splat(8.0));
    p.rect_filled(r, 1.0, Color32::WHITE);
    p.rect_stroke(
        r,
        1.0,
        Stroke::new(1.5, ink.selection),
        egui::StrokeKind::Middle,
    );
}

/// A round handle (rotation).
pub fn round_handle(p: &Painter, at: Pos2, ink: &Ink) {
    p.circle_filled(at, 5.0, Color32::WHITE);
    p.circle_stroke(at, 5.0, Stroke::new(1.5, ink.selection));
}

/// A label on a small plate, readable over any drawing.
pub fn tag(p: &Painter, at: Pos2, text: &str, color: Color32) {
    let galley = p.layout_no_wrap(text.to_owned(), FontId::proportional(12.0), color);
    let r =
        Rect::from_min_size(at + Vec2::new(10.0, 8.0), galley.size()).expand2(Vec2::new(5.0, 2.0));
    p.rect_filled(r, 3.0, Color32::from_white_alpha(235));
    p.rect_stroke(
        r,
        3.0,
        Stroke::new(1.0, color.gamma_multiply(0.6)),
        egui::StrokeKind::Inside,
    );
    p.galley(r.min + Vec2::new(5.0, 2.0), galley, color);
}

/// A snapping guide: a marker where the point landed and the rule's name.
pub fn snap_guide(p: &Painter, at: Pos2, label: &str, ink: &Ink) {
    if label.is_empty() {
        return;
    }
    let s = 6.0;
    if label == "grid" {
        p.line_segment(
            [at - Vec2::new(s, 0.0), at + Vec2::new(s, 0.0)],
            Stroke::new(1.0, ink.guide),
        );
        p.line_segment(
            [at - Vec2::new(0.0, s), at + Vec2::new(0.0, s)],
            Stroke::new(1.0, ink.guide),
        );
    } else {
        p.rect_stroke(
            Rect::from_center_size(at, Vec2::splat(2.0 * s)),
            0.0,
            Stroke::new(1.5, ink.guide),
            egui::StrokeKind::Middle,
        );
        tag(p, at, label, ink.guide);
    }
}

/// The scale bar in the canvas's lower-left corner: a round length about 120 points long.
pub fn scale_bar(p: &Painter, m: &Mapping, ink: &Ink) {
    let target_mm = 120.0 * m.mm_per_point();
    let magnitude = 10f64.powf(target_mm.log10().floor());
    let len_mm = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|k| k * magnitude)
        .rfind(|l| *l <= target_mm)
        .unwrap_or(magnitude);
    let len_pt = (len_mm / m.mm_per_point()) as f32;
    let base = m.rect.left_bottom() + Vec2::new(16.0, -18.0);
    let plate = Rect::from_min_max(
        base - Vec2::new(8.0, 22.0),
        base + Vec2::new(len_pt + 8.0, 8.0),
    );
    p.rect_filled(plate, 3.0, ink.paper.gamma_multiply(0.92));
    let stroke = Stroke::new(1.5, ink.text);
    p.line_segment([base, base + Vec2::new(len_pt, 0.0)], stroke);
    for x in [0.0, len_pt / 2.0, len_pt] {
        p.line_segment(
            [base + Vec2::new(x, -5.0), base + Vec2::new(x, 0.0)],
            stroke,
        );
    }
    let label = if len_mm >= 1_000.0 {
        format!("{} m", len_mm / 1_000.0)
    } else {
        format!("{len_mm} mm")
    };
    p.text(
        base + Vec2::new(len_pt / 2.0, -7.0),
        Align2::CENTER_BOTTOM,
        label,
        FontId::proportional(11.0),
        ink.text,
    );
}

/// The selection box: solid for "inside", dashed for "touching".
pub fn selection_box(p: &Painter, a: Pos2, b: Pos2, touching: bool, ink: &Ink) {
    let r = Rect::from_two_pos(a, b);
    p.rect_filled(r, 0.0, ink.selection.gamma_multiply(0.08));
    if touching {
        let c = [
            r.left_top(),
            r.right_top(),
            r.right_bottom(),
            r.left_bottom(),
            r.left_top(),
        ];
        p.extend(Shape::dashed_line(
            &c,
            Stroke::new(1.0, ink.selection),
            6.0,
            4.0,
        ));
    } else {
        p.rect_stroke(
            r,
            0.0,
            Stroke::new(1.0, ink.selection),
            egui::StrokeKind::Middle,
        );
    }
}

/// `#rrggbb` as a colour.
pub fn parse_hex(s: &str) -> Option<Color32> {
    let h = s.strip_prefix('#')?;
    if h.len() != 6 {
        return None;
    }
    let v = u32::from_str_radix(h, 16).ok()?;
    Some(Color32::from_rgb((v >> 16) as u8, (v >> 8) as u8, v as u8))
}
