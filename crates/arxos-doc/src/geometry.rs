//! Plane geometry: points, axis-aligned bounds, and the world bounds of element shapes.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::error::DocError;
use crate::model::{Geometry, Transform};

/// The largest coordinate, size or offset a plan accepts, in document units (a million metres
/// in millimetres). Beyond it, sums of positions and sizes lose all precision and the canvas
/// (which draws in `f32`) cannot place the shape; such a value is a damaged or hostile file,
/// never a drawing.
pub const MAX_COORD: f64 = 1.0e9;

/// Whether `v` is a finite number no larger than [`MAX_COORD`] either way.
pub fn in_range(v: f64) -> bool {
    v.is_finite() && v.abs() <= MAX_COORD
}

/// A number for messages: as written up to [`MAX_COORD`], in exponent form beyond (a damaged
/// file's `1e300` is not printed as three hundred digits).
pub fn num_text(v: f64) -> String {
    if v.is_finite() && v.abs() > MAX_COORD {
        format!("{v:e}")
    } else {
        v.to_string()
    }
}

/// A point in document units (millimetres by default), y pointing down as in SVG.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// X coordinate.
    pub x: f64,
    /// Y coordinate.
    pub y: f64,
}

impl Point {
    /// Makes a point.
    pub const fn new(x: f64, y: f64) -> Self {
        Self { x, y }
    }
}

/// An axis-aligned box.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Bounds {
    /// Smallest corner.
    pub min: Point,
    /// Largest corner.
    pub max: Point,
}

impl Bounds {
    /// Parses a box typed as `x0,y0,x1,y1` (smallest corner first): four finite numbers with
    /// `x0 <= x1` and `y0 <= y1`. An inverted box is refused rather than silently turned
    /// around, since it usually means the numbers were typed in the wrong order.
    pub fn parse(text: &str) -> Result<Self, DocError> {
        let bad = |what: &'static str| DocError::Parse {
            what,
            input: text.to_owned(),
        };
        let v: Vec<f64> = text
            .split(',')
            .map(|t| t.trim().parse::<f64>())
            .collect::<Result<_, _>>()
            .map_err(|_| bad("a box x0,y0,x1,y1 (four numbers)"))?;
        let [x0, y0, x1, y1] = v[..] else {
            return Err(bad("a box x0,y0,x1,y1 (four numbers)"));
        };
        if !v.iter().all(|n| n.is_finite()) {
            return Err(bad("a box x0,y0,x1,y1 of finite numbers"));
        }
        if x0 > x1 || y0 > y1 {
            return Err(bad("a box x0,y0,x1,y1 with x0 <= x1 and y0 <= y1"));
        }
        Ok(Self {
            min: Point::new(x0, y0),
            max: Point::new(x1, y1),
        })
    }

    /// The box spanning two corners given in any order.
    pub fn from_corners(a: Point, b: Point) -> Self {
        Self {
            min: Point::new(a.x.min(b.x), a.y.min(b.y)),
            max: Point::new(a.x.max(b.x), a.y.max(b.y)),
        }
    }

    /// The smallest box holding every point, or `None` for no points.
    pub fn of_points(points: impl IntoIterator<Item = Point>) -> Option<Self> {
        let mut it = points.into_iter();
        let first = it.next()?;
        let mut b = Self {
            min: first,
            max: first,
        };
        for p in it {
            b.include(p);
        }
        Some(b)
    }

    /// Grows the box to hold `p`.
    pub fn include(&mut self, p: Point) {
        self.min.x = self.min.x.min(p.x);
        self.min.y = self.min.y.min(p.y);
        self.max.x = self.max.x.max(p.x);
        self.max.y = self.max.y.max(p.y);
    }

    /// The union of two boxes.
    #[must_use]
    pub fn union(mut self, other: Self) -> Self {
        self.include(other.min);
        self.include(other.max);
        self
    }

    /// Whether the boxes overlap (touching counts).
    pub fn intersects(&self, other: &Self) -> bool {
        self.min.x <= other.max.x
            && other.min.x <= self.max.x
            && self.min.y <= other.max.y
            && other.min.y <= self.max.y
    }

    /// Width of the box.
    pub fn width(&self) -> f64 {
        self.max.x - self.min.x
    }

    /// Height of the box.
    pub fn height(&self) -> f64 {
        self.max.y - self.min.y
    }

    /// The box grown by `margin` on every side.
    #[must_use]
    pub fn expand(self, margin: f64) -> Self {
        Self {
            min: Point::new(self.min.x - margin, self.min.y - margin),
            max: Point::new(self.max.x + margin, self.max.y + margin),
        }
    }
}

/// Maps a local point to world space: rotate by `rotation` degrees, then translate.
pub fn world_from_local(t: &Transform, p: Point) -> Point {
    if t.rotation == 0.0 {
        return Point::new(p.x + t.x, p.y + t.y);
    }
    let (s, c) = t.rotation.to_radians().sin_cos();
    Point::new(t.x + p.x * c - p.y * s, t.y + p.x * s + p.y * c)
}

/// The corners (or control points) that bound a shape in its local frame.
fn local_hull(geometry: &Geometry) -> Vec<Point> {
    match geometry {
        Geometry::Point => vec![Point::default()],
        Geometry::Polyline { points } | Geometry::Polygon { points } => points.clone(),
        Geometry::Rect { width, height } => vec![
            Point::new(0.0, 0.0),
            Point::new(*width, 0.0),
            Point::new(*width, *height),
            Point::new(0.0, *height),
        ],
        Geometry::Circle { radius } => vec![
            Point::new(-radius, -radius),
            Point::new(*radius, -radius),
            Point::new(*radius, *radius),
            Point::new(-radius, *radius),
        ],
        Geometry::Path { d } => match path_bounds(d) {
            Ok(Some(b)) => vec![
                b.min,
                Point::new(b.max.x, b.min.y),
                b.max,
                Point::new(b.min.x, b.max.y),
            ],
            _ => vec![Point::default()],
        },
    }
}

/// World-space bounds of a shape placed by a transform. Curves are bounded by their control
/// points, which is conservative: good for culling and spatial queries.
pub fn element_bounds(geometry: &Geometry, transform: &Transform) -> Bounds {
    let pts = local_hull(geometry)
        .into_iter()
        .map(|p| world_from_local(transform, p));
    Bounds::of_points(pts).unwrap_or(Bounds {
        min: Point::new(transform.x, transform.y),
        max: Point::new(transform.x, transform.y),
    })
}

/// Bounds of SVG path data (control-point hull), `None` for an empty path.
pub fn path_bounds(d: &str) -> Result<Option<Bounds>, DocError> {
    use svgtypes::SimplePathSegment as S;
    let mut b: Option<Bounds> = None;
    let mut add = |p: Point| match &mut b {
        Some(b) => b.include(p),
        None => b = Some(Bounds { min: p, max: p }),
    };
    for seg in svgtypes::SimplifyingPathParser::from(d) {
        let seg = seg.map_err(|e| DocError::InvalidGeometry(format!("bad path data: {e}")))?;
        match seg {
            S::MoveTo { x, y } | S::LineTo { x, y } => add(Point::new(x, y)),
            S::CurveTo {
                x1,
                y1,
                x2,
                y2,
                x,
                y,
            } => {
                add(Point::new(x1, y1));
                add(Point::new(x2, y2));
                add(Point::new(x, y));
            }
            S::Quadratic { x1, y1, x, y } => {
                add(Point::new(x1, y1));
                add(Point::new(x, y));
            }
            S::ClosePath => {}
        }
    }
    if let Some(bb) = b
        && !(bb.min.x.is_finite()
            && bb.min.y.is_finite()
            && bb.max.x.is_finite()
            && bb.max.y.is_finite())
    {
        return Err(DocError::InvalidGeometry(
            "path coordinates must be finite".into(),
        ));
    }
    Ok(b)
}

/// Distance from point `p` to the segment `a`–`b`.
pub fn distance_to_segment(p: Point, a: Point, b: Point) -> f64 {
    let (dx, dy) = (b.x - a.x, b.y - a.y);
    let len2 = dx * dx + dy * dy;
    let t = if len2 == 0.0 {
        0.0
    } else {
        (((p.x - a.x) * dx + (p.y - a.y) * dy) / len2).clamp(0.0, 1.0)
    };
    let (cx, cy) = (a.x + t * dx, a.y + t * dy);
    ((p.x - cx).powi(2) + (p.y - cy).powi(2)).sqrt()
}

/// Formats points as SVG `points` text (`x,y x,y`), with shortest round-trip float text.
pub fn format_points(points: &[Point]) -> String {
    let mut s = String::new();
    for (i, p) in points.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        let _ = write!(s, "{},{}", p.x, p.y);
    }
    s
}

/// Parses SVG `points` text (numbers separated by commas and/or whitespace).
pub fn parse_points(s: &str) -> Result<Vec<Point>, DocError> {
    let nums: Vec<f64> = s
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
        .map(|t| {
            t.parse::<f64>().map_err(|_| DocError::Parse {
                what: "a coordinate",
                input: t.to_owned(),
            })
        })
        .collect::<Result<_, _>>()?;
    if !nums.len().is_multiple_of(2) {
        return Err(DocError::Parse {
            what: "a point list (odd number of coordinates)",
            input: s.to_owned(),
        });
    }
    Ok(nums.chunks(2).map(|c| Point::new(c[0], c[1])).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typed_box_is_four_finite_numbers_smallest_corner_first() {
        let b = Bounds::parse("0, -5,10,20").unwrap();
        assert_eq!(
            (b.min, b.max),
            (Point::new(0.0, -5.0), Point::new(10.0, 20.0))
        );
        for bad in [
            "1,2,3",
            "a,b,c,d",
            "NaN,0,1,1",
            "0,0,inf,1",
            "10,0,0,10",
            "0,10,10,0",
        ] {
            let e = Bounds::parse(bad).unwrap_err().to_string();
            assert!(e.contains(bad) && !e.contains('\n'), "{bad}: {e}");
        }
    }

    #[test]
    fn rotated_rect_bounds() {
        let t = Transform {
            x: 10.0,
            y: 0.0,
            rotation: 90.0,
        };
        let b = element_bounds(
            &Geometry::Rect {
                width: 4.0,
                height: 2.0,
            },
            &t,
        );
        assert!((b.min.x - 8.0).abs() < 1e-9, "{b:?}");
        assert!((b.max.x - 10.0).abs() < 1e-9, "{b:?}");
        assert!((b.max.y - 4.0).abs() < 1e-9, "{b:?}");
    }

    #[test]
    fn points_round_trip_exactly() {
        let pts = vec![Point::new(0.1 + 0.2, -1e-300), Point::new(12345.678, 3.0)];
        assert_eq!(parse_points(&format_points(&pts)).unwrap(), pts);
    }

    #[test]
    fn path_bounds_and_errors() {
        let b = path_bounds("M 0 0 L 10 5 Q 20 20 30 0 Z").unwrap().unwrap();
        assert_eq!(b.max, Point::new(30.0, 20.0));
        assert!(path_bounds("M 0 0 L x").is_err());
        assert_eq!(path_bounds("").unwrap(), None);
    }

    #[test]
    fn segment_distance() {
        let d = distance_to_segment(
            Point::new(5.0, 3.0),
            Point::new(0.0, 0.0),
            Point::new(10.0, 0.0),
        );
        assert!((d - 3.0).abs() < 1e-12);
    }
}
