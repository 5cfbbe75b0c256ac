//! The typed, in-memory view of a plan: meta, floors, layers, elements and their values.
//!
//! These types are what readers (UI, renderer, CLI) see. They are materialised from the
//! Automerge document by [`crate::schema`] and never written back directly: writes go through
//! [`crate::Command`].

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::DocError;
use crate::geometry::{Bounds, Point};
use crate::ids::{ElementId, FloorId, LayerId};

/// Document-wide metadata.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    /// Stable document id (random, set when the plan is created).
    pub id: String,
    /// Human name of the plan.
    pub name: String,
    /// Length unit of all coordinates (`mm` by default).
    pub units: String,
    /// Schema version the document was written with.
    pub schema_version: u64,
}

/// A storey of the building.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Floor {
    /// Stable id.
    pub id: FloorId,
    /// Display name (`Level 2`).
    pub name: String,
    /// Elevation of the finished floor above datum, in millimetres.
    pub elevation_mm: f64,
    /// Sort order among floors (lowest first).
    pub order: i64,
}

/// Which building system a layer belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BuildingSystem {
    /// Walls, rooms, doors, windows.
    Architectural,
    /// Power, lighting, switching.
    Electrical,
    /// HVAC: ducts, diffusers.
    Mechanical,
    /// Water and drainage.
    Plumbing,
    /// Access control, cameras, alarms.
    Security,
    /// Notes, dimensions, imported drawings.
    Annotation,
}

impl BuildingSystem {
    /// All systems, in display order.
    pub const ALL: [Self; 6] = [
        Self::Architectural,
        Self::Electrical,
        Self::Mechanical,
        Self::Plumbing,
        Self::Security,
        Self::Annotation,
    ];

    /// The lowercase name used in files and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Architectural => "architectural",
            Self::Electrical => "electrical",
            Self::Mechanical => "mechanical",
            Self::Plumbing => "plumbing",
            Self::Security => "security",
            Self::Annotation => "annotation",
        }
    }
}

impl fmt::Display for BuildingSystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for BuildingSystem {
    type Err = DocError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|sys| sys.as_str() == s)
            .ok_or_else(|| DocError::Parse {
                what: "a building system",
                input: s.to_owned(),
            })
    }
}

/// A drawing layer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Layer {
    /// Stable id.
    pub id: LayerId,
    /// Display name (`Electrical — power`).
    pub name: String,
    /// The building system it carries.
    pub system: BuildingSystem,
    /// Whether it is drawn.
    pub visible: bool,
    /// Display colour as `#rrggbb`.
    pub color: String,
}

/// What an element is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ElementKind {
    /// A wall segment (polyline with a thickness property).
    Wall,
    /// A room outline (polygon).
    Room,
    /// A door hosted in a wall.
    Door,
    /// A window hosted in a wall.
    Window,
    /// A power outlet.
    Outlet,
    /// A light switch.
    Switch,
    /// A light fitting.
    Light,
    /// Other fixed equipment or furniture.
    Fixture,
    /// An HVAC duct run.
    Duct,
    /// A pipe run.
    Pipe,
    /// A text label.
    Text,
    /// A dimension line.
    Dimension,
    /// A free path (imported drawings, annotations).
    Path,
    /// A placed symbol.
    Symbol,
}

impl ElementKind {
    /// All kinds, in display order.
    pub const ALL: [Self; 14] = [
        Self::Wall,
        Self::Room,
        Self::Door,
        Self::Window,
        Self::Outlet,
        Self::Switch,
        Self::Light,
        Self::Fixture,
        Self::Duct,
        Self::Pipe,
        Self::Text,
        Self::Dimension,
        Self::Path,
        Self::Symbol,
    ];

    /// The lowercase name used in files, tags and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Wall => "wall",
            Self::Room => "room",
            Self::Door => "door",
            Self::Window => "window",
            Self::Outlet => "outlet",
            Self::Switch => "switch",
            Self::Light => "light",
            Self::Fixture => "fixture",
            Self::Duct => "duct",
            Self::Pipe => "pipe",
            Self::Text => "text",
            Self::Dimension => "dimension",
            Self::Path => "path",
            Self::Symbol => "symbol",
        }
    }

    /// Kinds that sit inside a wall and reference it through `host`.
    pub fn is_hosted(self) -> bool {
        matches!(self, Self::Door | Self::Window)
    }
}

impl fmt::Display for ElementKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ElementKind {
    type Err = DocError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| DocError::Parse {
                what: "an element kind",
                input: s.to_owned(),
            })
    }
}

/// The shape of an element in its local frame (before the x/y/rotation transform).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Geometry {
    /// A located point (equipment symbols).
    Point,
    /// An open chain of points (walls, ducts, pipes, dimensions).
    Polyline {
        /// At least two points.
        points: Vec<Point>,
    },
    /// A closed ring (rooms).
    Polygon {
        /// At least three points.
        points: Vec<Point>,
    },
    /// An axis-aligned rectangle from the local origin.
    Rect {
        /// Width (> 0).
        width: f64,
        /// Height (> 0).
        height: f64,
    },
    /// A circle around the local origin.
    Circle {
        /// Radius (> 0).
        radius: f64,
    },
    /// SVG path data.
    Path {
        /// The `d` attribute, verbatim.
        d: String,
    },
}

impl Geometry {
    /// The short name stored in the document (`rect`, `polyline`...).
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Point => "point",
            Self::Polyline { .. } => "polyline",
            Self::Polygon { .. } => "polygon",
            Self::Rect { .. } => "rect",
            Self::Circle { .. } => "circle",
            Self::Path { .. } => "path",
        }
    }

    /// Checks the invariants (finite numbers within [`crate::geometry::MAX_COORD`], positive
    /// sizes, enough points, parseable path).
    pub fn validate(&self) -> Result<(), DocError> {
        use crate::geometry::{MAX_COORD, in_range, num_text};
        let bad = |msg: String| Err(DocError::InvalidGeometry(msg));
        match self {
            Self::Point => Ok(()),
            Self::Polyline { points } | Self::Polygon { points } => {
                let min = if matches!(self, Self::Polygon { .. }) {
                    3
                } else {
                    2
                };
                if points.len() < min {
                    return bad(format!(
                        "a {} needs at least {min} points, got {}",
                        self.type_name(),
                        points.len()
                    ));
                }
                if points.iter().any(|p| !p.x.is_finite() || !p.y.is_finite()) {
                    return bad("coordinates must be finite numbers".into());
                }
                if let Some(p) = points.iter().find(|p| !in_range(p.x) || !in_range(p.y)) {
                    return bad(format!(
                        "point ({}, {}) is out of range (at most {MAX_COORD:e} either way)",
                        num_text(p.x),
                        num_text(p.y)
                    ));
                }
                Ok(())
            }
            Self::Rect { width, height } => {
                if !(width.is_finite() && height.is_finite() && *width > 0.0 && *height > 0.0) {
                    return bad(format!(
                        "rect size must be positive, got {width} x {height}"
                    ));
                }
                if !(in_range(*width) && in_range(*height)) {
                    return bad(format!(
                        "rect size {} x {} is out of range (at most {MAX_COORD:e})",
                        num_text(*width),
                        num_text(*height)
                    ));
                }
                Ok(())
            }
            Self::Circle { radius } => {
                if !(radius.is_finite() && *radius > 0.0) {
                    return bad(format!("circle radius must be positive, got {radius}"));
                }
                if !in_range(*radius) {
                    return bad(format!(
                        "circle radius {} is out of range (at most {MAX_COORD:e})",
                        num_text(*radius)
                    ));
                }
                Ok(())
            }
            Self::Path { d } => match crate::geometry::path_bounds(d)? {
                Some(b)
                    if ![b.min.x, b.min.y, b.max.x, b.max.y]
                        .into_iter()
                        .all(in_range) =>
                {
                    bad(format!(
                        "path coordinates are out of range (at most {MAX_COORD:e} either way)"
                    ))
                }
                _ => Ok(()),
            },
        }
    }
}

/// A typed property value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PropValue {
    /// A boolean flag.
    Bool(bool),
    /// A number (units kept beside it, see [`Property::unit`]).
    Number(f64),
    /// Free text.
    Text(String),
}

impl PropValue {
    /// Name of the value's type, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Bool(_) => "bool",
            Self::Number(_) => "number",
            Self::Text(_) => "string",
        }
    }

    /// Reads a value typed on a command line: `true`/`false`, a number, or else text.
    /// Text that looks like a number can be forced with quotes: `"240"`.
    pub fn parse_loose(s: &str) -> Self {
        if let Some(inner) = s.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
            return Self::Text(inner.to_owned());
        }
        match s {
            "true" => return Self::Bool(true),
            "false" => return Self::Bool(false),
            _ => {}
        }
        match s.parse::<f64>() {
            Ok(n) if n.is_finite() => Self::Number(n),
            _ => Self::Text(s.to_owned()),
        }
    }
}

impl fmt::Display for PropValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bool(b) => write!(f, "{b}"),
            Self::Number(n) => write!(f, "{n}"),
            Self::Text(t) => f.write_str(t),
        }
    }
}

/// One property with its optional unit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Property {
    /// The value.
    pub value: PropValue,
    /// Unit symbol (`V`, `A`, `W`, `mm`), when the value is a quantity.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub unit: Option<String>,
}

/// Stroke and fill of an element.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Style {
    /// Stroke colour (`#rrggbb`), or the layer colour when absent.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub stroke: Option<String>,
    /// Fill colour, or none.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub fill: Option<String>,
    /// Stroke width in document units.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub stroke_width: Option<f64>,
}

impl Style {
    /// Whether no style field is set.
    pub fn is_empty(&self) -> bool {
        self.stroke.is_none() && self.fill.is_none() && self.stroke_width.is_none()
    }
}

/// Placement of an element: translation then rotation (degrees, counter-clockwise in the
/// y-down SVG frame, i.e. as SVG's `rotate()`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Transform {
    /// X translation.
    pub x: f64,
    /// Y translation.
    pub y: f64,
    /// Rotation in degrees.
    pub rotation: f64,
}

/// One drawing element, fully materialised.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Element {
    /// Stable id.
    pub id: ElementId,
    /// What it is.
    pub kind: ElementKind,
    /// Human tag (`outlet:R45-23`), unique within the document.
    pub tag: String,
    /// The floor it is on.
    pub floor: FloorId,
    /// The layer it is drawn on.
    pub layer: LayerId,
    /// Local shape.
    pub geometry: Geometry,
    /// Placement.
    pub transform: Transform,
    /// Stroke/fill overrides.
    #[serde(skip_serializing_if = "Style::is_empty", default)]
    pub style: Style,
    /// Text content (text and dimension elements).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub text: Option<String>,
    /// Typed properties by name.
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub props: BTreeMap<String, Property>,
    /// References to other elements by name (`host`, `circuit`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub refs: BTreeMap<String, ElementId>,
    /// Z-order key (fractional index, hex); higher draws on top.
    pub z: String,
    /// Tombstone: deleted elements stay in the document so edits are never lost.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub deleted: bool,
}

impl Element {
    /// World-space bounding box.
    pub fn bounds(&self) -> Bounds {
        crate::geometry::element_bounds(&self.geometry, &self.transform)
    }
}
