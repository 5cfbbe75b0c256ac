//! Text as geometry: glyph outlines from an embedded font (`DejaVu` Sans, via `ttf-parser`),
//! turned into lyon paths once per character and placed by a transform per label. Labels are
//! then filled like any other shape, so they scale with the plan (a 250 mm room name stays
//! 250 mm tall) and need no glyph atlas or texture upload.

use std::collections::BTreeMap;

use lyon::math::{Angle, Transform as LTransform, Vector, point, vector};
use lyon::path::Path;

use crate::error::RenderError;

/// One glyph's outline in font units (y up) and its advance.
struct Glyph {
    path: Option<Path>,
    advance: f32,
}

/// Builds a lyon path from a font outline.
struct PathSink(lyon::path::path::Builder, bool);

impl ttf_parser::OutlineBuilder for PathSink {
    fn move_to(&mut self, x: f32, y: f32) {
        if self.1 {
            self.0.end(true);
        }
        self.0.begin(point(x, y));
        self.1 = true;
    }
    fn line_to(&mut self, x: f32, y: f32) {
        self.0.line_to(point(x, y));
    }
    fn quad_to(&mut self, x1: f32, y1: f32, x: f32, y: f32) {
        self.0.quadratic_bezier_to(point(x1, y1), point(x, y));
    }
    fn curve_to(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, x: f32, y: f32) {
        self.0
            .cubic_bezier_to(point(x1, y1), point(x2, y2), point(x, y));
    }
    fn close(&mut self) {
        if self.1 {
            self.0.end(true);
            self.1 = false;
        }
    }
}

/// The label font with a cache of glyph outlines.
pub(crate) struct Font {
    face: ttf_parser::Face<'static>,
    glyphs: BTreeMap<char, Glyph>,
    units_per_em: f32,
    cap_height: f32,
}

/// How a label sits on its anchor point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Anchor {
    /// Centred horizontally and vertically (room names).
    Center,
    /// Centred horizontally, baseline a little above the anchor (dimension figures).
    Above,
}

impl Font {
    /// Parses the embedded font.
    pub fn new() -> Result<Self, RenderError> {
        let face = ttf_parser::Face::parse(dejavu::sans::regular(), 0)
            .map_err(|e| RenderError::Font(e.to_string()))?;
        let units_per_em = f32::from(face.units_per_em());
        let cap_height = face.capital_height().map_or(units_per_em * 0.73, f32::from);
        Ok(Self {
            face,
            glyphs: BTreeMap::new(),
            units_per_em,
            cap_height,
        })
    }

    fn glyph(&mut self, c: char) -> &Glyph {
        let face = &self.face;
        self.glyphs.entry(c).or_insert_with(|| {
            // Characters the font lacks draw as its .notdef box (glyph 0), visibly wrong
            // rather than silently missing.
            let id = face.glyph_index(c).unwrap_or(ttf_parser::GlyphId(0));
            let mut sink = PathSink(Path::builder(), false);
            let outlined = face.outline_glyph(id, &mut sink).is_some();
            if sink.1 {
                sink.0.end(true);
            }
            Glyph {
                path: outlined.then(|| sink.0.build()),
                advance: f32::from(face.glyph_hor_advance(id).unwrap_or(0)),
            }
        })
    }

    /// Width of `text` at `size_mm` (cap-to-baseline height is about 0.73 of it).
    pub fn measure(&mut self, text: &str, size_mm: f32) -> f32 {
        let scale = size_mm / self.units_per_em;
        text.chars().map(|c| self.glyph(c).advance).sum::<f32>() * scale
    }

    /// The box a label covers, relative to its anchor and before rotation, with `pad_mm`
    /// around the ink: `(left, top, right, bottom)` in plan orientation (y down).
    pub fn label_box(
        &mut self,
        text: &str,
        size_mm: f32,
        anchor: Anchor,
        pad_mm: f32,
    ) -> (f32, f32, f32, f32) {
        let half_w = self.measure(text, size_mm) / 2.0;
        let cap = self.cap_height * size_mm / self.units_per_em;
        let baseline = self.baseline(size_mm, anchor);
        (
            -half_w - pad_mm,
            baseline - cap - pad_mm,
            half_w + pad_mm,
            // Descenders reach about a fifth of the em below the baseline.
            baseline + size_mm * 0.2 + pad_mm,
        )
    }

    /// Baseline offset from the anchor (y down) for an anchor style.
    fn baseline(&self, size_mm: f32, anchor: Anchor) -> f32 {
        match anchor {
            Anchor::Center => self.cap_height * size_mm / self.units_per_em / 2.0,
            Anchor::Above => -size_mm * 0.25,
        }
    }

    /// The glyph outlines of `text`, `size_mm` tall (em size), anchored at `origin` and
    /// rotated `degrees`, in plan coordinates (y down).
    pub fn layout(
        &mut self,
        text: &str,
        size_mm: f32,
        origin: (f32, f32),
        degrees: f32,
        anchor: Anchor,
    ) -> Vec<Path> {
        let scale = size_mm / self.units_per_em;
        let width = self.measure(text, size_mm);
        let baseline = self.baseline(size_mm, anchor);
        // Font units are y-up; the plan is y-down, hence the negative y scale.
        let place = LTransform::scale(scale, -scale)
            .then_translate(vector(-width / 2.0, baseline))
            .then_rotate(Angle::degrees(degrees))
            .then_translate(Vector::new(origin.0, origin.1));
        let mut pen_x = 0.0;
        let mut out = Vec::new();
        for c in text.chars() {
            let g = self.glyph(c);
            if let Some(p) = &g.path {
                let t = LTransform::translation(pen_x, 0.0).then(&place);
                out.push(p.clone().transformed(&t));
            }
            pen_x += g.advance;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lays_out_centred_glyphs() {
        let mut f = Font::new().unwrap();
        let w = f.measure("Meeting 02", 250.0);
        assert!((1_000.0..2_000.0).contains(&w), "width {w}");
        // The space has no outline.
        let paths = f.layout("Meeting 02", 250.0, (0.0, 0.0), 0.0, Anchor::Center);
        assert_eq!(paths.len(), 9);
        let xs: Vec<f32> = paths
            .iter()
            .flat_map(|p| p.iter().map(|e| e.from().x))
            .collect();
        let (lo, hi) = xs
            .iter()
            .fold((f32::MAX, f32::MIN), |(a, b), x| (a.min(*x), b.max(*x)));
        assert!((lo + hi).abs() < 200.0, "centred: {lo}..{hi}");
    }
}
