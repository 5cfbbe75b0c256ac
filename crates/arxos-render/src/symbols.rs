//! Equipment symbols: one small mesh per kind, in the symbol's own frame (millimetres, origin
//! at the element's point), drawn instanced. Each mesh has two colours: the paper fill (the
//! theme's canvas, so a symbol knocks out what lies beneath it) and the ink, left as
//! [`INK`] so each instance brings its own system colour.

use arxos_doc::{ElementKind, Point};

use crate::mesh::{INK, Mesh};
use crate::pen::{Pen, StrokeStyle, circle, polyline};
use crate::theme::Theme;

/// The kinds drawn as instanced symbols when their geometry is a point.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SymbolKind {
    /// Power outlet: a circle with two pins.
    Outlet,
    /// Light switch: a dot with a toggle stroke.
    Switch,
    /// Ceiling light: a circle with a cross.
    Light,
    /// Fixture given only by a point: a square with a diagonal.
    Fixture,
    /// Generic placed symbol: a diamond.
    Symbol,
}

impl SymbolKind {
    /// All symbol kinds, in mesh order.
    pub const ALL: [Self; 5] = [
        Self::Outlet,
        Self::Switch,
        Self::Light,
        Self::Fixture,
        Self::Symbol,
    ];

    /// The symbol for an element kind, if the kind is drawn as one.
    pub fn for_kind(kind: ElementKind) -> Option<Self> {
        Some(match kind {
            ElementKind::Outlet => Self::Outlet,
            ElementKind::Switch => Self::Switch,
            ElementKind::Light => Self::Light,
            ElementKind::Fixture => Self::Fixture,
            ElementKind::Symbol => Self::Symbol,
            _ => return None,
        })
    }

    /// Position in [`Self::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Symbols drawn smaller than this on screen (their nominal diameter, px) use the far mesh.
pub const FAR_SYMBOL_PX: f64 = 7.0;

/// Nominal diameter of the symbols in plan mm, for choosing the level of detail.
pub const SYMBOL_DIAMETER_MM: f64 = 240.0;

/// The far level of detail of one symbol: a plain ink disc of about its size. A symbol a few
/// pixels wide shows no pins or crosses anyway, and a software rasterizer pays for every
/// triangle of thousands of them.
pub(crate) fn far_symbol_mesh(kind: SymbolKind, pen: &mut Pen) -> Mesh {
    // A little smaller than the near symbols: at a few pixels a full-size disc reads
    // heavier than the outlined symbol it stands for.
    let r = match kind {
        SymbolKind::Switch => 50.0,
        SymbolKind::Light => 95.0,
        _ => 70.0,
    };
    let mut m = Mesh::default();
    // A coarse tolerance: about eight sides at this size.
    pen.fill(&circle(Point::new(0.0, 0.0), r), INK, r * 0.08, &mut m);
    m
}

/// Builds the mesh of one symbol.
pub(crate) fn symbol_mesh(kind: SymbolKind, theme: &Theme, pen: &mut Pen) -> Mesh {
    let mut m = Mesh::default();
    let paper = theme.canvas.0;
    let line = StrokeStyle::line(theme.line_mm);
    let tol = 1.0;
    let p = Point::new;
    let seg = |m: &mut Mesh, pen: &mut Pen, a: Point, b: Point| {
        if let Some(path) = polyline(&[a, b], false) {
            pen.stroke(&path, line, INK, tol, m);
        }
    };
    match kind {
        SymbolKind::Outlet => {
            // Wall outlets sit with their pins facing into the room (the element's rotation
            // turns them), a duplex face like on electrical drawings.
            let r: f32 = 90.0;
            pen.fill(&circle(p(0.0, 0.0), r), paper, tol, &mut m);
            pen.stroke(&circle(p(0.0, 0.0), r), line, INK, tol, &mut m);
            seg(&mut m, pen, p(-35.0, -40.0), p(-35.0, 40.0));
            seg(&mut m, pen, p(35.0, -40.0), p(35.0, 40.0));
        }
        SymbolKind::Switch => {
            pen.fill(&circle(p(0.0, 0.0), 45.0), INK, tol, &mut m);
            seg(&mut m, pen, p(0.0, 0.0), p(110.0, -110.0));
        }
        SymbolKind::Light => {
            let r: f32 = 140.0;
            pen.fill(&circle(p(0.0, 0.0), r), paper, tol, &mut m);
            pen.stroke(&circle(p(0.0, 0.0), r), line, INK, tol, &mut m);
            let d = f64::from(r) * std::f64::consts::FRAC_1_SQRT_2;
            seg(&mut m, pen, p(-d, -d), p(d, d));
            seg(&mut m, pen, p(-d, d), p(d, -d));
        }
        SymbolKind::Fixture => {
            let s = 150.0;
            let sq = [p(-s, -s), p(s, -s), p(s, s), p(-s, s)];
            if let Some(path) = polyline(&sq, true) {
                pen.fill(&path, paper, tol, &mut m);
                pen.stroke(&path, line, INK, tol, &mut m);
            }
            seg(&mut m, pen, p(-s, s), p(s, -s));
        }
        SymbolKind::Symbol => {
            let s = 120.0;
            let dia = [p(0.0, -s), p(s, 0.0), p(0.0, s), p(-s, 0.0)];
            if let Some(path) = polyline(&dia, true) {
                pen.fill(&path, paper, tol, &mut m);
                pen.stroke(&path, line, INK, tol, &mut m);
            }
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_symbol_has_ink_and_triangles() {
        let theme = Theme::light();
        let mut pen = Pen::default();
        for k in SymbolKind::ALL {
            let m = symbol_mesh(k, &theme, &mut pen);
            assert!(m.indices.len() >= 3, "{k:?}");
            assert!(m.vertices.iter().any(|v| v.color == INK), "{k:?}");
            assert_eq!(k, SymbolKind::ALL[k.index()]);
        }
        assert_eq!(pen.failures, 0);
    }
}
