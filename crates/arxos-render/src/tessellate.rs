//! One element → its triangles, in plan millimetres, following drafting conventions per kind:
//! walls as solid poché of their thickness, rooms as a light tint, doors as an opening with a
//! leaf and swing, windows as glazing in the wall, ducts as outlined bands of their width,
//! equipment as instanced symbols, text and dimension figures as filled glyph outlines.
//!
//! Geometry is transformed to world (plan) coordinates here, once, so meshes of many elements
//! concatenate into one buffer and draw with one call.

use arxos_doc::geometry::world_from_local;
use arxos_doc::{BuildingSystem, Element, ElementKind, Geometry, Point, PropValue, Transform};
use lyon::path::Path;
use lyon::tessellation::{LineCap, LineJoin};

use crate::error::RenderError;
use crate::mesh::{Instance, Mesh};
use crate::pen::{Pen, StrokeStyle, arc, circle, lp, polyline};
use crate::symbols::{SymbolKind, far_symbol_mesh, symbol_mesh};
use crate::text::{Anchor, Font};
use crate::theme::{Rgba, Theme};

/// What one element draws: triangles, and at most one symbol instance.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ElementDraw {
    /// Triangles in plan coordinates.
    pub mesh: Mesh,
    /// The instanced symbol, for equipment placed at a point.
    pub symbol: Option<(SymbolKind, Instance)>,
}

/// Drawing band of a kind: bands draw bottom to top, and the document's z-order sorts only
/// within a band. Plans read best with floor tints at the bottom, then services, then the
/// building fabric, then equipment and words on top, whatever order the elements were made.
pub fn band(kind: ElementKind) -> u8 {
    match kind {
        ElementKind::Room => 0,
        ElementKind::Path => 1,
        ElementKind::Duct | ElementKind::Pipe => 2,
        ElementKind::Wall => 3,
        ElementKind::Door | ElementKind::Window => 4,
        ElementKind::Fixture | ElementKind::Symbol => 5,
        ElementKind::Outlet | ElementKind::Switch | ElementKind::Light => 6,
        ElementKind::Dimension => 7,
        ElementKind::Text => 8,
    }
}

/// Number of bands [`band`] returns.
pub const BANDS: usize = 9;

/// Tessellates elements with one theme, reusing lyon's buffers and the glyph cache.
pub struct Tessellator {
    pen: Pen,
    font: Font,
    theme: Theme,
}

impl Tessellator {
    /// A tessellator drawing with `theme`.
    pub fn new(theme: Theme) -> Result<Self, RenderError> {
        Ok(Self {
            pen: Pen::default(),
            font: Font::new()?,
            theme,
        })
    }

    /// The theme it draws with.
    pub fn theme(&self) -> &Theme {
        &self.theme
    }

    /// Shapes lyon refused so far (each skipped, logged at debug level).
    pub fn failures(&self) -> u64 {
        self.pen.failures
    }

    /// The unit mesh of each symbol kind, in [`SymbolKind::ALL`] order: the near (full
    /// detail) meshes, then the far ones (drawn when a symbol is under 7 px).
    pub fn symbol_meshes(&mut self) -> Vec<Mesh> {
        let near = SymbolKind::ALL
            .iter()
            .map(|k| symbol_mesh(*k, &self.theme, &mut self.pen));
        let near: Vec<Mesh> = near.collect();
        let far = SymbolKind::ALL
            .iter()
            .map(|k| far_symbol_mesh(*k, &mut self.pen));
        near.into_iter().chain(far).collect()
    }

    /// Tessellates one element drawn on a layer of `system`.
    pub fn element(&mut self, e: &Element, system: BuildingSystem) -> ElementDraw {
        let mut out = ElementDraw::default();
        let sys = self.theme.system(system);
        let stroke = e.style.stroke.as_deref().and_then(Rgba::parse);
        let fill = e.style.fill.as_deref().and_then(Rgba::parse);
        let c = Colors {
            ink: stroke.unwrap_or(sys.ink),
            stroke,
            fill,
            tint: fill.unwrap_or(sys.tint),
        };
        let t = &e.transform;
        let m = &mut out.mesh;
        match (&e.kind, &e.geometry) {
            (_, Geometry::Point) if !matches!(e.kind, ElementKind::Text) => {
                let kind = SymbolKind::for_kind(e.kind).unwrap_or(SymbolKind::Symbol);
                out.symbol = Some((kind, Instance::new(t.x, t.y, t.rotation, c.ink)));
            }
            (ElementKind::Text, _) => {
                let size = number(e, &["font_size", "size"]).unwrap_or(self.theme.text_size_mm);
                let color = c.fill.unwrap_or(self.theme.text);
                let text = e.text.as_deref().unwrap_or("");
                let at = Point::new(t.x, t.y);
                self.label(text, size, at, t.rotation, Anchor::Center, color, m);
            }
            (ElementKind::Wall, Geometry::Polyline { points } | Geometry::Polygon { points }) => {
                let thickness = number(e, &["thickness"]).unwrap_or(self.theme.wall_thickness_mm);
                let closed = matches!(e.geometry, Geometry::Polygon { .. });
                let color = c.stroke.unwrap_or(self.theme.wall).0;
                if let Some(path) = polyline(&world(t, points), closed) {
                    let style = StrokeStyle {
                        width_mm: thickness,
                        join: LineJoin::Miter,
                        // Square ends fill the corner where two wall runs meet.
                        cap: LineCap::Square,
                    };
                    self.pen.stroke(&path, style, color, 1.0, m);
                }
            }
            (ElementKind::Room, g) => {
                if let Some((path, _)) = outline(g, t) {
                    // Architectural rooms share the calm floor tint; a room drawn on another
                    // system's layer (a plant room zone, a security zone) takes that tint.
                    let fill = c
                        .fill
                        .unwrap_or(if system == BuildingSystem::Architectural {
                            self.theme.room_fill
                        } else {
                            c.tint
                        });
                    self.pen.fill(&path, fill.0, 2.0, m);
                    let line = StrokeStyle::line(self.theme.hairline_mm);
                    self.pen
                        .stroke(&path, line, self.theme.room_outline.0, 2.0, m);
                }
            }
            (ElementKind::Door, Geometry::Rect { width, height }) => {
                self.door(t, *width, *height, c.stroke, m);
            }
            (ElementKind::Window, Geometry::Rect { width, height }) => {
                self.window(t, *width, *height, c.stroke, m);
            }
            (ElementKind::Duct, Geometry::Polyline { points }) => {
                let width = number(e, &["width"]).unwrap_or(300.0);
                self.duct(&world(t, points), width, c, m);
            }
            (ElementKind::Dimension, Geometry::Polyline { points }) => {
                self.dimension(e, &world(t, points), c.ink, m);
            }
            (kind, g) => self.generic(e, *kind, g, c, m),
        }
        out
    }

    /// Any other shape: closed shapes of equipment get their system tint; free paths are
    /// filled only when their style asks for it, as SVG does. Strokes take the style's width,
    /// a pipe its diameter, anything else the theme's line weight.
    fn generic(&mut self, e: &Element, kind: ElementKind, g: &Geometry, c: Colors, m: &mut Mesh) {
        let default_width = if kind == ElementKind::Pipe {
            number(e, &["diameter"]).unwrap_or(50.0)
        } else {
            self.theme.line_mm
        };
        let width = e.style.stroke_width.map_or(default_width, |w| w as f32);
        let Some((path, closed)) = outline(g, &e.transform) else {
            return;
        };
        let fill = c
            .fill
            .or_else(|| (closed && kind != ElementKind::Path).then_some(c.tint));
        if let Some(f) = fill {
            self.pen.fill(&path, f.0, 2.0, m);
        }
        let style = StrokeStyle {
            width_mm: width,
            join: LineJoin::Miter,
            cap: LineCap::Butt,
        };
        self.pen.stroke(&path, style, c.ink.0, 2.0, m);
    }

    /// A duct: an outlined band, the ink at full width and the tint inset by two edges.
    fn duct(&mut self, pts: &[Point], width: f32, c: Colors, m: &mut Mesh) {
        let Some(path) = polyline(pts, false) else {
            return;
        };
        let band = |w| StrokeStyle {
            width_mm: w,
            join: LineJoin::Miter,
            cap: LineCap::Butt,
        };
        let edge = self.theme.line_mm;
        self.pen.stroke(&path, band(width), c.ink.0, 2.0, m);
        self.pen
            .stroke(&path, band(width - 2.0 * edge), c.tint.0, 2.0, m);
    }

    /// A text label: glyphs filled as text vertices, which the shader keeps legible (a
    /// minimum on-screen height) when the plan is zoomed far out.
    #[allow(clippy::too_many_arguments)] // a label is text, size, place, turn, anchor, colour
    fn label(
        &mut self,
        text: &str,
        size: f32,
        at: Point,
        degrees: f64,
        anchor: Anchor,
        color: Rgba,
        m: &mut Mesh,
    ) {
        let origin = (at.x as f32, at.y as f32);
        // A knockout behind the words, so labels read over symbols, ducts and hatching.
        let (l, top, r, bottom) = self.font.label_box(text, size, anchor, size * 0.18);
        let (s, c) = degrees.to_radians().sin_cos();
        let corner = |x: f32, y: f32| {
            let (x, y) = (f64::from(x), f64::from(y));
            Point::new(at.x + x * c - y * s, at.y + x * s + y * c)
        };
        let halo = [
            corner(l, top),
            corner(r, top),
            corner(r, bottom),
            corner(l, bottom),
        ];
        if let Some(p) = polyline(&halo, true) {
            self.pen
                .fill_text(&p, origin, size / 2.0, self.theme.label_halo.0, 1.0, m);
        }
        let glyphs = self.font.layout(text, size, origin, degrees as f32, anchor);
        for g in &glyphs {
            self.pen
                .fill_text(g, origin, size / 2.0, color.0, size / 100.0, m);
        }
    }

    /// A door: the wall cut open, the leaf drawn open at a right angle, and its swing.
    fn door(&mut self, t: &Transform, width: f64, height: f64, ink: Option<Rgba>, m: &mut Mesh) {
        let color = ink.unwrap_or(self.theme.door).0;
        let local = |x, y| world_from_local(t, Point::new(x, y));
        let opening = [
            local(0.0, 0.0),
            local(width, 0.0),
            local(width, height),
            local(0.0, height),
        ];
        if let Some(p) = polyline(&opening, true) {
            self.pen.fill(&p, self.theme.canvas.0, 1.0, m);
        }
        // The leaf hinges at the rect's origin and opens towards local -y; the swing is the
        // quarter circle its free end draws back to the far jamb.
        if let Some(p) = polyline(&[local(0.0, 0.0), local(0.0, -width)], false) {
            let leaf = StrokeStyle {
                width_mm: self.theme.line_mm * 1.5,
                join: LineJoin::Miter,
                cap: LineCap::Butt,
            };
            self.pen.stroke(&p, leaf, color, 1.0, m);
        }
        let hinge = local(0.0, 0.0);
        let swing = arc(hinge, width, -90.0 + t.rotation, 90.0, 24);
        let hair = StrokeStyle::line(self.theme.hairline_mm);
        self.pen.stroke(&swing, hair, color, 1.0, m);
    }

    /// A window: glazing in the wall's thickness, its outline, and the glass line.
    fn window(&mut self, t: &Transform, width: f64, height: f64, ink: Option<Rgba>, m: &mut Mesh) {
        let color = ink.unwrap_or(self.theme.door).0;
        let local = |x, y| world_from_local(t, Point::new(x, y));
        let frame = [
            local(0.0, 0.0),
            local(width, 0.0),
            local(width, height),
            local(0.0, height),
        ];
        let hair = StrokeStyle::line(self.theme.hairline_mm);
        if let Some(p) = polyline(&frame, true) {
            self.pen.fill(&p, self.theme.glass.0, 1.0, m);
            self.pen.stroke(&p, hair, color, 1.0, m);
        }
        if let Some(p) = polyline(
            &[local(0.0, height / 2.0), local(width, height / 2.0)],
            false,
        ) {
            self.pen.stroke(&p, hair, color, 1.0, m);
        }
    }

    /// A dimension: the line, slash ticks at its ends, and the figure above its middle.
    fn dimension(&mut self, e: &Element, pts: &[Point], ink: Rgba, m: &mut Mesh) {
        let (Some(a), Some(b)) = (pts.first().copied(), pts.last().copied()) else {
            return;
        };
        let line = StrokeStyle::line(self.theme.hairline_mm);
        if let Some(p) = polyline(pts, false) {
            self.pen.stroke(&p, line, ink.0, 1.0, m);
        }
        let (dx, dy) = (b.x - a.x, b.y - a.y);
        let len = dx.hypot(dy);
        if len <= 0.0 {
            return;
        }
        let (ux, uy) = (dx / len, dy / len);
        let tick = 120.0;
        for end in [a, b] {
            // Architectural ticks: 45° slashes across the line.
            let (tx, ty) = ((ux - uy) * tick / 2.0, (uy + ux) * tick / 2.0);
            let slash = [
                Point::new(end.x - tx, end.y - ty),
                Point::new(end.x + tx, end.y + ty),
            ];
            if let Some(p) = polyline(&slash, false) {
                self.pen
                    .stroke(&p, StrokeStyle::line(self.theme.line_mm), ink.0, 1.0, m);
            }
        }
        let label = e.text.clone().unwrap_or_else(|| format!("{len:.0}"));
        let size = number(e, &["font_size", "size"]).unwrap_or(self.theme.text_size_mm * 0.72);
        let mut deg = uy.atan2(ux).to_degrees();
        // Keep figures upright: read from the bottom or the right, never upside down.
        if deg > 90.0 || deg <= -90.0 {
            deg += 180.0;
        }
        let mid = Point::new(a.x.midpoint(b.x), a.y.midpoint(b.y));
        self.label(&label, size, mid, deg, Anchor::Above, ink, m);
    }
}

/// The colours of one element: its style's overrides, else its system's.
#[derive(Clone, Copy, Debug)]
struct Colors {
    ink: Rgba,
    stroke: Option<Rgba>,
    fill: Option<Rgba>,
    tint: Rgba,
}

/// A number property as `f32`, the first of `names` present and positive.
fn number(e: &Element, names: &[&str]) -> Option<f32> {
    names
        .iter()
        .find_map(|n| match e.props.get(*n).map(|p| &p.value) {
            Some(PropValue::Number(v)) if *v > 0.0 && v.is_finite() => Some(*v as f32),
            _ => None,
        })
}

/// Local points placed in the plan.
fn world(t: &Transform, points: &[Point]) -> Vec<Point> {
    points.iter().map(|p| world_from_local(t, *p)).collect()
}

/// The outline of a shape in plan coordinates, and whether it is closed.
fn outline(g: &Geometry, t: &Transform) -> Option<(Path, bool)> {
    match g {
        Geometry::Point => None,
        Geometry::Polyline { points } => polyline(&world(t, points), false).map(|p| (p, false)),
        Geometry::Polygon { points } => polyline(&world(t, points), true).map(|p| (p, true)),
        Geometry::Rect { width, height } => {
            let c = [
                Point::new(0.0, 0.0),
                Point::new(*width, 0.0),
                Point::new(*width, *height),
                Point::new(0.0, *height),
            ];
            polyline(&world(t, &c), true).map(|p| (p, true))
        }
        Geometry::Circle { radius } => Some((circle(Point::new(t.x, t.y), *radius as f32), true)),
        Geometry::Path { d } => svg_path(d, t),
    }
}

/// SVG path data placed by `t`. Control points transform like end points (the transform is
/// affine), so curves stay exact. `None` for data that does not parse.
fn svg_path(d: &str, t: &Transform) -> Option<(Path, bool)> {
    use svgtypes::SimplePathSegment as S;
    let w = |x: f64, y: f64| lp(world_from_local(t, Point::new(x, y)));
    let mut b = Path::builder();
    let mut open = false;
    let mut closed_any = false;
    for seg in svgtypes::SimplifyingPathParser::from(d) {
        let Ok(seg) = seg else {
            tracing::debug!("skipping path with bad data: {d:.40}");
            return None;
        };
        match seg {
            S::MoveTo { x, y } => {
                if open {
                    b.end(false);
                }
                b.begin(w(x, y));
                open = true;
            }
            S::LineTo { x, y } if open => {
                b.line_to(w(x, y));
            }
            S::CurveTo {
                x1,
                y1,
                x2,
                y2,
                x,
                y,
            } if open => {
                b.cubic_bezier_to(w(x1, y1), w(x2, y2), w(x, y));
            }
            S::Quadratic { x1, y1, x, y } if open => {
                b.quadratic_bezier_to(w(x1, y1), w(x, y));
            }
            S::ClosePath if open => {
                b.end(true);
                open = false;
                closed_any = true;
            }
            _ => {}
        }
    }
    if open {
        b.end(false);
    }
    Some((b.build(), closed_any))
}

#[cfg(test)]
mod tests;
