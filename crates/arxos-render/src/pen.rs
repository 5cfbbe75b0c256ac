//! A thin layer over lyon's tessellators: build paths in plan millimetres, fill or stroke them
//! into a [`Mesh`] in one colour. Tessellators are kept and reused, because their internal
//! buffers are the expensive part of tessellating many small shapes.

use lyon::math::{Point as LPoint, point};
use lyon::path::{Path, Winding};
use lyon::tessellation::{
    BuffersBuilder, FillOptions, FillRule, FillTessellator, FillVertex, LineCap, LineJoin,
    StrokeOptions, StrokeTessellator, StrokeVertex, VertexBuffers,
};

use arxos_doc::Point;

use crate::mesh::{Mesh, Vertex};

/// How a stroke ends and turns.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StrokeStyle {
    /// Full width in plan mm.
    pub width_mm: f32,
    /// Corner shape.
    pub join: LineJoin,
    /// End shape.
    pub cap: LineCap,
}

impl StrokeStyle {
    /// A plain line of `width_mm` with round ends: what symbols and annotations use.
    pub fn line(width_mm: f32) -> Self {
        Self {
            width_mm,
            join: LineJoin::Round,
            cap: LineCap::Round,
        }
    }
}

/// Reusable tessellators plus a failure counter (a shape lyon refuses is skipped and counted,
/// never a reason to fail a frame).
#[derive(Default)]
pub(crate) struct Pen {
    fill: FillTessellator,
    stroke: StrokeTessellator,
    /// Shapes lyon could not tessellate so far.
    pub failures: u64,
}

impl Pen {
    /// Fills `path` (non-zero rule, as fonts and SVG default to) into `out`.
    pub fn fill(&mut self, path: &Path, color: [u8; 4], tolerance_mm: f32, out: &mut Mesh) {
        let mut buffers = take_buffers(out);
        let opts = FillOptions::tolerance(tolerance_mm).with_fill_rule(FillRule::NonZero);
        let result = self.fill.tessellate_path(
            path,
            &opts,
            &mut BuffersBuilder::new(&mut buffers, |v: FillVertex| Vertex {
                position: v.position().to_array(),
                normal: [0.0, 0.0],
                half_width_mm: 0.0,
                color,
            }),
        );
        if let Err(e) = result {
            self.failures += 1;
            tracing::debug!("fill tessellation failed: {e:?}");
        }
        put_buffers(out, buffers);
    }

    /// Fills glyph outlines as *text vertices*: each sits at the label's `anchor` with its
    /// offset from it, divided by `half_size_mm`, in `normal`, and `-half_size_mm` as its
    /// half width. The shader scales the offsets so the label never drops below a minimum
    /// on-screen size (see `shader.wgsl`); at readable zooms it is exactly the fill.
    pub fn fill_text(
        &mut self,
        path: &Path,
        anchor: (f32, f32),
        half_size_mm: f32,
        color: [u8; 4],
        tolerance_mm: f32,
        out: &mut Mesh,
    ) {
        if half_size_mm <= 0.0 || !half_size_mm.is_finite() {
            return;
        }
        let mut buffers = take_buffers(out);
        let opts = FillOptions::tolerance(tolerance_mm).with_fill_rule(FillRule::NonZero);
        let result = self.fill.tessellate_path(
            path,
            &opts,
            &mut BuffersBuilder::new(&mut buffers, |v: FillVertex| {
                let p = v.position();
                Vertex {
                    position: [anchor.0, anchor.1],
                    normal: [
                        (p.x - anchor.0) / half_size_mm,
                        (p.y - anchor.1) / half_size_mm,
                    ],
                    half_width_mm: -half_size_mm,
                    color,
                }
            }),
        );
        if let Err(e) = result {
            self.failures += 1;
            tracing::debug!("text tessellation failed: {e:?}");
        }
        put_buffers(out, buffers);
    }

    /// Strokes `path` into `out`; the shader extrudes the vertices (see [`Vertex`]).
    pub fn stroke(
        &mut self,
        path: &Path,
        style: StrokeStyle,
        color: [u8; 4],
        tolerance_mm: f32,
        out: &mut Mesh,
    ) {
        if style.width_mm <= 0.0 || !style.width_mm.is_finite() {
            return;
        }
        let mut buffers = take_buffers(out);
        let opts = StrokeOptions::tolerance(tolerance_mm)
            .with_line_width(style.width_mm)
            .with_line_join(style.join)
            .with_line_cap(style.cap);
        let result = self.stroke.tessellate_path(
            path,
            &opts,
            &mut BuffersBuilder::new(&mut buffers, |v: StrokeVertex| Vertex {
                position: v.position_on_path().to_array(),
                normal: v.normal().to_array(),
                half_width_mm: v.line_width() / 2.0,
                color,
            }),
        );
        if let Err(e) = result {
            self.failures += 1;
            tracing::debug!("stroke tessellation failed: {e:?}");
        }
        put_buffers(out, buffers);
    }
}

/// Moves a mesh's vectors into lyon's buffer type without copying (lyon's builder appends
/// and rebases indices itself).
fn take_buffers(m: &mut Mesh) -> VertexBuffers<Vertex, u32> {
    VertexBuffers {
        vertices: std::mem::take(&mut m.vertices),
        indices: std::mem::take(&mut m.indices),
    }
}

fn put_buffers(m: &mut Mesh, b: VertexBuffers<Vertex, u32>) {
    m.vertices = b.vertices;
    m.indices = b.indices;
}

/// A plan point as lyon's `f32` point.
pub(crate) fn lp(p: Point) -> LPoint {
    point(p.x as f32, p.y as f32)
}

/// A path through `points`, closed or open; `None` for fewer than two points.
pub(crate) fn polyline(points: &[Point], closed: bool) -> Option<Path> {
    let (first, rest) = points.split_first()?;
    if rest.is_empty() {
        return None;
    }
    let mut b = Path::builder();
    b.begin(lp(*first));
    for p in rest {
        b.line_to(lp(*p));
    }
    b.end(closed);
    Some(b.build())
}

/// A circle path.
pub(crate) fn circle(center: Point, radius_mm: f32) -> Path {
    let mut b = Path::builder();
    b.add_circle(lp(center), radius_mm, Winding::Positive);
    b.build()
}

/// A circular arc from `start_deg` sweeping `sweep_deg` (y-down degrees), as an open path.
pub(crate) fn arc(
    center: Point,
    radius: f64,
    start_deg: f64,
    sweep_deg: f64,
    segments: usize,
) -> Path {
    let pts: Vec<Point> = (0..=segments)
        .map(|i| {
            let a = (start_deg + sweep_deg * i as f64 / segments as f64).to_radians();
            Point::new(center.x + radius * a.cos(), center.y + radius * a.sin())
        })
        .collect();
    // Two or more points by construction (segments + 1 >= 2 when segments >= 1).
    polyline(&pts, false).unwrap_or_else(|| Path::builder().build())
}
