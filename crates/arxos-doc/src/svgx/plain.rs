//! Plain SVG shapes (those without `arx:kind`) as annotation paths: usvg resolves CSS, `use`,
//! transforms and shapes; each visible path comes out in absolute coordinates with the id of
//! its nearest group.

use std::collections::BTreeSet;

use crate::model::Style;

/// A plain shape, as an absolute path with its SVG group.
pub(crate) struct PlainPath {
    /// The shape's own id (empty when it has none).
    pub id: String,
    /// The nearest group id (`root` when none).
    pub group: String,
    /// Path data in document coordinates.
    pub d: String,
    /// Stroke and fill.
    pub style: Style,
}

fn hex(c: usvg::Color) -> String {
    format!("#{:02x}{:02x}{:02x}", c.red, c.green, c.blue)
}

/// Collects the visible paths under `g`, skipping those whose id is in `skip`.
pub(crate) fn collect_paths(
    g: &usvg::Group,
    group: &str,
    skip: &BTreeSet<String>,
    out: &mut Vec<PlainPath>,
) {
    let here = if g.id().is_empty() { group } else { g.id() };
    for node in g.children() {
        match node {
            usvg::Node::Group(child) => collect_paths(child, here, skip, out),
            usvg::Node::Path(p) => {
                if (!p.id().is_empty() && skip.contains(p.id())) || !p.is_visible() {
                    continue;
                }
                let t = p.abs_transform();
                let map = |pt: usvg::tiny_skia_path::Point| {
                    let (x, y) = (f64::from(pt.x), f64::from(pt.y));
                    (
                        f64::from(t.sx) * x + f64::from(t.kx) * y + f64::from(t.tx),
                        f64::from(t.ky) * x + f64::from(t.sy) * y + f64::from(t.ty),
                    )
                };
                let mut d = String::new();
                for seg in p.data().segments() {
                    use usvg::tiny_skia_path::PathSegment as S;
                    let part = match seg {
                        S::MoveTo(a) => {
                            let a = map(a);
                            format!("M{} {}", a.0, a.1)
                        }
                        S::LineTo(a) => {
                            let a = map(a);
                            format!("L{} {}", a.0, a.1)
                        }
                        S::QuadTo(a, b) => {
                            let (a, b) = (map(a), map(b));
                            format!("Q{} {} {} {}", a.0, a.1, b.0, b.1)
                        }
                        S::CubicTo(a, b, c) => {
                            let (a, b, c) = (map(a), map(b), map(c));
                            format!("C{} {} {} {} {} {}", a.0, a.1, b.0, b.1, c.0, c.1)
                        }
                        S::Close => "Z".into(),
                    };
                    if !d.is_empty() {
                        d.push(' ');
                    }
                    d.push_str(&part);
                }
                let paint = |p: &usvg::Paint| match p {
                    usvg::Paint::Color(c) => Some(hex(*c)),
                    _ => None,
                };
                out.push(PlainPath {
                    id: p.id().to_owned(),
                    group: here.to_owned(),
                    d,
                    style: Style {
                        stroke: p.stroke().and_then(|s| paint(s.paint())),
                        fill: p.fill().and_then(|f| paint(f.paint())),
                        stroke_width: p.stroke().map(|s| f64::from(s.width().get())),
                    },
                });
            }
            usvg::Node::Image(_) | usvg::Node::Text(_) => {}
        }
    }
}
