//! How a plan is laid out in Automerge, and the codec between that layout and [`crate::model`].
//!
//! Root maps, created once when a plan is created (never lazily: two replicas creating the same
//! map concurrently would produce two competing objects):
//!
//! | key        | holds                                                               |
//! |------------|---------------------------------------------------------------------|
//! | `meta`     | `name`, `units`, `schema_version`                                   |
//! | `floors`   | floor id → map `name`, `elevation_mm`, `order`                      |
//! | `layers`   | layer id → map `name`, `system`, `visible`, `color`                 |
//! | `elements` | element id → flat map, one key per property (below)                |
//! | `comments` | comment id → map (review comments; the only thing commenters write) |
//! | `rules`    | sync and constraint rules (conflict policy)                         |
//! | `versions` | named versions (stored heads)                                       |
//! | `branches` | branches and change proposals (review state, comments)              |
//! | `acks`     | conflicts people looked at and accepted as they are                 |
//!
//! An element is a *flat* map: `kind`, `tag`, `floor`, `layer`, `geom`, `points`|`w`,`h`|`r`|`d`,
//! `x`, `y`, `rotation`, `z`, `deleted`, `text`, `style.stroke`, `style.fill`,
//! `style.stroke_width`, `props.<name>`, `units.<name>`, `ref.<name>`. Flat keys mean two people
//! editing different properties never touch the same Automerge key, and a conflict is always
//! about exactly one named property.

use std::borrow::{Borrow, Cow};
use std::collections::BTreeMap;

use automerge::transaction::Transactable;
use automerge::{ObjId, ObjType, ROOT, ReadDoc, ScalarValue, ScalarValueRef, ValueRef};

use crate::error::DocError;
use crate::geometry::{Point, format_points, parse_points};
use crate::ids::{ElementId, FloorId, LayerId};
use crate::model::{
    BuildingSystem, Element, ElementKind, Floor, Geometry, Layer, Meta, PropValue, Property, Style,
    Transform,
};

/// The schema version this build writes.
pub const SCHEMA_VERSION: u64 = 1;

/// Root map names.
pub mod root {
    /// Document metadata.
    pub const META: &str = "meta";
    /// Floors by id.
    pub const FLOORS: &str = "floors";
    /// Layers by id.
    pub const LAYERS: &str = "layers";
    /// Elements by id.
    pub const ELEMENTS: &str = "elements";
    /// Review comments by id.
    pub const COMMENTS: &str = "comments";
    /// Conflict and constraint rules.
    pub const RULES: &str = "rules";
    /// Named versions.
    pub const VERSIONS: &str = "versions";
    /// Branches and change proposals.
    pub const BRANCHES: &str = "branches";
    /// Acknowledged (dismissed) conflicts.
    pub const ACKS: &str = "acks";
    /// Every root map, in creation order.
    pub const ALL: [&str; 9] = [
        META, FLOORS, LAYERS, ELEMENTS, COMMENTS, RULES, VERSIONS, BRANCHES, ACKS,
    ];
}

/// Prefix of property keys.
pub const PROP_PREFIX: &str = "props.";
/// Prefix of unit keys (beside numeric properties).
pub const UNIT_PREFIX: &str = "units.";
/// Prefix of reference keys.
pub const REF_PREFIX: &str = "ref.";

/// The `meta` key holding the plan's id (written once, when the plan is created).
pub const META_ID: &str = "id";
/// The element key holding the id of the floor the element is on.
pub const ELEMENT_FLOOR: &str = "floor";
/// The element key holding the id of the layer the element is on.
pub const ELEMENT_LAYER: &str = "layer";

/// A scalar as stored in the document, owned.
#[derive(Clone, Debug, PartialEq)]
pub enum Stored {
    /// Text.
    Str(String),
    /// A number (ints are widened).
    Num(f64),
    /// A flag.
    Bool(bool),
}

impl Stored {
    fn from_ref(v: &ScalarValueRef<'_>) -> Option<Self> {
        Some(match v {
            ScalarValueRef::Str(s) => Self::Str(s.to_string()),
            ScalarValueRef::F64(f) => Self::Num(*f),
            ScalarValueRef::Int(i) | ScalarValueRef::Counter(i) => Self::Num(*i as f64),
            ScalarValueRef::Uint(u) => Self::Num(*u as f64),
            ScalarValueRef::Boolean(b) => Self::Bool(*b),
            _ => return None,
        })
    }

    /// Converts an owned Automerge scalar.
    pub fn from_scalar(v: &ScalarValue) -> Option<Self> {
        Some(match v {
            ScalarValue::Str(s) => Self::Str(s.to_string()),
            ScalarValue::F64(f) => Self::Num(*f),
            ScalarValue::Int(i) => Self::Num(*i as f64),
            ScalarValue::Counter(c) => Self::Num(i64::from(c) as f64),
            ScalarValue::Uint(u) => Self::Num(*u as f64),
            ScalarValue::Boolean(b) => Self::Bool(*b),
            _ => return None,
        })
    }

    /// Converts to an Automerge scalar for writing.
    pub fn to_scalar(&self) -> ScalarValue {
        match self {
            Self::Str(s) => ScalarValue::Str(s.as_str().into()),
            Self::Num(n) => ScalarValue::F64(*n),
            Self::Bool(b) => ScalarValue::Boolean(*b),
        }
    }

    /// As a property value.
    pub fn to_prop(&self) -> PropValue {
        match self {
            Self::Str(s) => PropValue::Text(s.clone()),
            Self::Num(n) => PropValue::Number(*n),
            Self::Bool(b) => PropValue::Bool(*b),
        }
    }
}

impl From<&PropValue> for Stored {
    fn from(v: &PropValue) -> Self {
        match v {
            PropValue::Text(s) => Self::Str(s.clone()),
            PropValue::Number(n) => Self::Num(*n),
            PropValue::Bool(b) => Self::Bool(*b),
        }
    }
}

/// Reads a map object into `key → scalar`, ignoring nested objects. A text object counts as
/// its string: other Automerge clients (automerge-repo in JavaScript) write strings as
/// collaborative text by default.
pub fn read_flat<D: ReadDoc>(doc: &D, obj: &ObjId) -> BTreeMap<String, Stored> {
    read_flat_borrowed(doc, obj)
        .into_iter()
        .map(|(k, v)| (k.into_owned(), v))
        .collect()
}

/// [`read_flat`] with keys borrowed from the document where it can: decoding a whole plan
/// reads every key of every element (800,000 on a 50k plan), and a copy of each is an
/// allocation the decoder does not need.
pub fn read_flat_borrowed<'a, D: ReadDoc>(
    doc: &'a D,
    obj: &ObjId,
) -> BTreeMap<Cow<'a, str>, Stored> {
    doc.map_range(obj, ..)
        .filter_map(|item| match &item.value {
            ValueRef::Scalar(s) => Stored::from_ref(s).map(|v| (item.key.clone(), v)),
            ValueRef::Object(ObjType::Text) => doc
                .text(item.id())
                .ok()
                .map(|t| (item.key.clone(), Stored::Str(t))),
            ValueRef::Object(_) => None,
        })
        .collect()
}

/// The id of a root map, if present.
pub fn root_map<D: ReadDoc>(doc: &D, name: &str) -> Option<ObjId> {
    match doc.get(ROOT, name) {
        Ok(Some((automerge::Value::Object(ObjType::Map), id))) => Some(id),
        _ => None,
    }
}

/// The id of the map stored under `key` in `parent`, if it is a map.
pub fn child_map<D: ReadDoc>(doc: &D, parent: &ObjId, key: &str) -> Option<ObjId> {
    match doc.get(parent, key) {
        Ok(Some((automerge::Value::Object(ObjType::Map), id))) => Some(id),
        _ => None,
    }
}

fn get_str<K: Borrow<str> + Ord>(m: &BTreeMap<K, Stored>, k: &str) -> Option<String> {
    match m.get(k) {
        Some(Stored::Str(s)) => Some(s.clone()),
        _ => None,
    }
}

fn get_num<K: Borrow<str> + Ord>(m: &BTreeMap<K, Stored>, k: &str) -> Option<f64> {
    match m.get(k) {
        Some(Stored::Num(n)) => Some(*n),
        _ => None,
    }
}

fn get_bool<K: Borrow<str> + Ord>(m: &BTreeMap<K, Stored>, k: &str) -> Option<bool> {
    match m.get(k) {
        Some(Stored::Bool(b)) => Some(*b),
        _ => None,
    }
}

/// Decodes the document metadata; `None` when the plan has no `meta` map.
pub fn read_meta<D: ReadDoc>(doc: &D) -> Option<Meta> {
    let obj = root_map(doc, root::META)?;
    let m = read_flat(doc, &obj);
    Some(Meta {
        id: get_str(&m, "id").unwrap_or_default(),
        name: get_str(&m, "name").unwrap_or_default(),
        units: get_str(&m, "units").unwrap_or_else(|| "mm".into()),
        schema_version: get_num(&m, "schema_version").map_or(0, |v| v as u64),
    })
}

/// Decodes every floor.
pub fn read_floors<D: ReadDoc>(doc: &D) -> BTreeMap<FloorId, Floor> {
    let Some(floors) = root_map(doc, root::FLOORS) else {
        return BTreeMap::new();
    };
    doc.map_range(&floors, ..)
        .filter_map(|item| {
            let ValueRef::Object(ObjType::Map) = item.value else {
                return None;
            };
            let m = read_flat(doc, &item.id());
            let id = FloorId::new(item.key.to_string());
            Some((
                id.clone(),
                Floor {
                    id,
                    name: get_str(&m, "name").unwrap_or_default(),
                    elevation_mm: get_num(&m, "elevation_mm").unwrap_or(0.0),
                    order: get_num(&m, "order").unwrap_or(0.0) as i64,
                },
            ))
        })
        .collect()
}

/// Decodes every layer.
pub fn read_layers<D: ReadDoc>(doc: &D) -> BTreeMap<LayerId, Layer> {
    let Some(layers) = root_map(doc, root::LAYERS) else {
        return BTreeMap::new();
    };
    doc.map_range(&layers, ..)
        .filter_map(|item| {
            let ValueRef::Object(ObjType::Map) = item.value else {
                return None;
            };
            let m = read_flat(doc, &item.id());
            let id = LayerId::new(item.key.to_string());
            Some((
                id.clone(),
                Layer {
                    id,
                    name: get_str(&m, "name").unwrap_or_default(),
                    system: get_str(&m, "system")
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(BuildingSystem::Annotation),
                    visible: get_bool(&m, "visible").unwrap_or(true),
                    color: get_str(&m, "color").unwrap_or_else(|| "#000000".into()),
                },
            ))
        })
        .collect()
}

/// Decodes one element from its flat key map. Returns `None` (and the caller logs) when the
/// map lacks what every element must have; a foreign writer cannot crash the editor.
pub fn element_from_flat<K: Borrow<str> + Ord>(
    id: &str,
    m: &BTreeMap<K, Stored>,
) -> Option<Element> {
    let kind: ElementKind = get_str(m, "kind")?.parse().ok()?;
    let geometry = match get_str(m, "geom")?.as_str() {
        "point" => Geometry::Point,
        "polyline" => Geometry::Polyline {
            points: parse_points(&get_str(m, "points")?).ok()?,
        },
        "polygon" => Geometry::Polygon {
            points: parse_points(&get_str(m, "points")?).ok()?,
        },
        "rect" => Geometry::Rect {
            width: get_num(m, "w")?,
            height: get_num(m, "h")?,
        },
        "circle" => Geometry::Circle {
            radius: get_num(m, "r")?,
        },
        "path" => Geometry::Path {
            d: get_str(m, "d")?,
        },
        _ => return None,
    };
    let mut props = BTreeMap::new();
    let mut refs = BTreeMap::new();
    for (k, v) in m {
        let k: &str = k.borrow();
        if let Some(name) = k.strip_prefix(PROP_PREFIX) {
            props.insert(
                name.to_owned(),
                Property {
                    value: v.to_prop(),
                    unit: get_str(m, &format!("{UNIT_PREFIX}{name}")),
                },
            );
        } else if let (Some(name), Stored::Str(target)) = (k.strip_prefix(REF_PREFIX), v) {
            refs.insert(name.to_owned(), ElementId::new(target.clone()));
        }
    }
    Some(Element {
        id: ElementId::new(id),
        kind,
        tag: get_str(m, "tag").unwrap_or_default(),
        floor: FloorId::new(get_str(m, "floor").unwrap_or_default()),
        layer: LayerId::new(get_str(m, "layer").unwrap_or_default()),
        geometry,
        transform: Transform {
            x: get_num(m, "x").unwrap_or(0.0),
            y: get_num(m, "y").unwrap_or(0.0),
            rotation: get_num(m, "rotation").unwrap_or(0.0),
        },
        style: Style {
            stroke: get_str(m, "style.stroke"),
            fill: get_str(m, "style.fill"),
            stroke_width: get_num(m, "style.stroke_width"),
        },
        text: get_str(m, "text"),
        props,
        refs,
        z: get_str(m, "z").unwrap_or_default(),
        deleted: get_bool(m, "deleted").unwrap_or(false),
    })
}

/// Encodes an element as its flat key map (the inverse of [`element_from_flat`]).
pub fn element_to_flat(e: &Element) -> BTreeMap<String, Stored> {
    let mut m = BTreeMap::new();
    let mut s = |k: &str, v: Stored| {
        m.insert(k.to_owned(), v);
    };
    s("kind", Stored::Str(e.kind.as_str().into()));
    s("tag", Stored::Str(e.tag.clone()));
    s("floor", Stored::Str(e.floor.to_string()));
    s("layer", Stored::Str(e.layer.to_string()));
    s("geom", Stored::Str(e.geometry.type_name().into()));
    match &e.geometry {
        Geometry::Point => {}
        Geometry::Polyline { points } | Geometry::Polygon { points } => {
            s("points", Stored::Str(format_points(points)));
        }
        Geometry::Rect { width, height } => {
            s("w", Stored::Num(*width));
            s("h", Stored::Num(*height));
        }
        Geometry::Circle { radius } => s("r", Stored::Num(*radius)),
        Geometry::Path { d } => s("d", Stored::Str(d.clone())),
    }
    s("x", Stored::Num(e.transform.x));
    s("y", Stored::Num(e.transform.y));
    s("rotation", Stored::Num(e.transform.rotation));
    s("z", Stored::Str(e.z.clone()));
    s("deleted", Stored::Bool(e.deleted));
    if let Some(t) = &e.text {
        s("text", Stored::Str(t.clone()));
    }
    if let Some(v) = &e.style.stroke {
        s("style.stroke", Stored::Str(v.clone()));
    }
    if let Some(v) = &e.style.fill {
        s("style.fill", Stored::Str(v.clone()));
    }
    if let Some(v) = e.style.stroke_width {
        s("style.stroke_width", Stored::Num(v));
    }
    for (name, p) in &e.props {
        s(&format!("{PROP_PREFIX}{name}"), Stored::from(&p.value));
        if let Some(u) = &p.unit {
            s(&format!("{UNIT_PREFIX}{name}"), Stored::Str(u.clone()));
        }
    }
    for (name, target) in &e.refs {
        s(
            &format!("{REF_PREFIX}{name}"),
            Stored::Str(target.to_string()),
        );
    }
    m
}

/// Writes only the keys that differ between `old` and `new` (all keys when `old` is empty),
/// and deletes keys `new` no longer has. This is what keeps every edit as narrow as possible:
/// moving an element writes `x` and `y`, nothing else.
pub fn write_flat_diff<T: Transactable>(
    tx: &mut T,
    obj: &ObjId,
    old: &BTreeMap<String, Stored>,
    new: &BTreeMap<String, Stored>,
) -> Result<usize, DocError> {
    let mut written = 0;
    for (k, v) in new {
        if old.get(k) != Some(v) {
            tx.put(obj, k.as_str(), v.to_scalar())?;
            written += 1;
        }
    }
    for k in old.keys() {
        if !new.contains_key(k) {
            tx.delete(obj, k.as_str())?;
            written += 1;
        }
    }
    Ok(written)
}

/// Writes a floor's fields (all of them; floors are small).
pub fn write_floor<T: Transactable>(tx: &mut T, floors: &ObjId, f: &Floor) -> Result<(), DocError> {
    let obj = match child_map(tx, floors, f.id.as_str()) {
        Some(o) => o,
        None => tx.put_object(floors, f.id.as_str(), ObjType::Map)?,
    };
    let old = read_flat(tx, &obj);
    let new: BTreeMap<String, Stored> = [
        ("name".to_owned(), Stored::Str(f.name.clone())),
        ("elevation_mm".to_owned(), Stored::Num(f.elevation_mm)),
        ("order".to_owned(), Stored::Num(f.order as f64)),
    ]
    .into();
    write_flat_diff(tx, &obj, &old, &new)?;
    Ok(())
}

/// Writes a layer's fields.
pub fn write_layer<T: Transactable>(tx: &mut T, layers: &ObjId, l: &Layer) -> Result<(), DocError> {
    let obj = match child_map(tx, layers, l.id.as_str()) {
        Some(o) => o,
        None => tx.put_object(layers, l.id.as_str(), ObjType::Map)?,
    };
    let old = read_flat(tx, &obj);
    let new: BTreeMap<String, Stored> = [
        ("name".to_owned(), Stored::Str(l.name.clone())),
        ("system".to_owned(), Stored::Str(l.system.as_str().into())),
        ("visible".to_owned(), Stored::Bool(l.visible)),
        ("color".to_owned(), Stored::Str(l.color.clone())),
    ]
    .into();
    write_flat_diff(tx, &obj, &old, &new)?;
    Ok(())
}

/// Writes the metadata fields.
pub fn write_meta<T: Transactable>(tx: &mut T, meta: &Meta) -> Result<(), DocError> {
    let obj = root_map(tx, root::META).ok_or_else(|| DocError::NotAPlan {
        path: "<memory>".into(),
        reason: "no meta map".into(),
    })?;
    let old = read_flat(tx, &obj);
    let new: BTreeMap<String, Stored> = [
        ("id".to_owned(), Stored::Str(meta.id.clone())),
        ("name".to_owned(), Stored::Str(meta.name.clone())),
        ("units".to_owned(), Stored::Str(meta.units.clone())),
        (
            "schema_version".to_owned(),
            Stored::Num(meta.schema_version as f64),
        ),
    ]
    .into();
    write_flat_diff(tx, &obj, &old, &new)?;
    Ok(())
}

/// Creates every root map. Called exactly once, when a new plan is made.
pub fn init_roots<T: Transactable>(tx: &mut T) -> Result<(), DocError> {
    for name in root::ALL {
        tx.put_object(ROOT, name, ObjType::Map)?;
    }
    Ok(())
}

/// Reads an element's points list when it has one (helper for hosted-element checks).
pub fn polyline_points(g: &Geometry) -> Option<&[Point]> {
    match g {
        Geometry::Polyline { points } | Geometry::Polygon { points } => Some(points),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_round_trip() {
        let e = Element {
            id: ElementId::new("e1"),
            kind: ElementKind::Outlet,
            tag: "outlet:R1".into(),
            floor: FloorId::new("f1"),
            layer: LayerId::new("l1"),
            geometry: Geometry::Point,
            transform: Transform {
                x: 1.5,
                y: -2.0,
                rotation: 90.0,
            },
            style: Style {
                stroke: Some("#ff0000".into()),
                fill: None,
                stroke_width: Some(2.0),
            },
            text: None,
            props: [(
                "voltage".to_owned(),
                Property {
                    value: PropValue::Number(240.0),
                    unit: Some("V".into()),
                },
            )]
            .into(),
            refs: [("circuit".to_owned(), ElementId::new("e9"))].into(),
            z: "80".into(),
            deleted: false,
        };
        let back = element_from_flat("e1", &element_to_flat(&e)).unwrap();
        assert_eq!(back, e);
    }
}
