//! Plan → SVGX text.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::document::Document;
use crate::geometry::format_points;
use crate::ids::{FloorId, LayerId};
use crate::model::{Element, Geometry, PropValue};

use super::{NS, POINT_MARKER_R, SVG_NS};

/// Export settings.
#[derive(Clone, Debug, Default)]
pub struct ExportOptions {
    /// Export only this floor (all floors when `None`; only the first is visible in viewers).
    pub floor: Option<FloorId>,
}

/// What an SVGX export keeps: the live drawing and its semantics (floors, layers, elements
/// with their ids, tags, geometry, properties, units, references and z-order). What it leaves
/// out, counted by [`left_out`], stays only in the `.arx` plan.
pub const KEEPS: &str = "the live drawing and its semantics: floors, layers, and elements with \
ids, tags, geometry, properties, units, references and drawing order";

/// What an export of a plan leaves out: history and everything that lives beside the
/// drawing. An import of the export is a new plan, with a new plan id and no history.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct LeftOut {
    /// Deleted (restorable) elements.
    pub deleted_elements: usize,
    /// Live elements on other floors (when exporting one floor).
    pub other_floor_elements: usize,
    /// Conflict strategies and constraint rules.
    pub rules: usize,
    /// Named versions.
    pub versions: usize,
    /// Branches and proposals.
    pub branches: usize,
    /// Review comments.
    pub comments: usize,
    /// Changes of history (none of it is exported).
    pub changes: usize,
    /// The plan id: the export is not linked to the plan or its shared room.
    pub plan_id: String,
}

impl LeftOut {
    /// One line for people: the non-zero counts, then history and the plan id.
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = [
            (self.deleted_elements, "deleted element(s)"),
            (self.other_floor_elements, "element(s) on other floors"),
            (self.rules, "rule(s)"),
            (self.versions, "version(s)"),
            (self.branches, "branch(es)/proposal(s)"),
            (self.comments, "comment(s)"),
        ]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
        parts.push(format!("the history ({} changes)", self.changes));
        parts.push(format!("the plan id {}", self.plan_id));
        parts.join(", ")
    }
}

/// Counts what [`export_svgx`] with `opts` leaves out of `doc`.
pub fn left_out(doc: &mut Document, opts: &ExportOptions) -> LeftOut {
    use crate::command::RecordSet;
    let other_floor_elements = opts
        .floor
        .as_ref()
        .map_or(0, |f| doc.elements().filter(|e| &e.floor != f).count());
    LeftOut {
        deleted_elements: doc.deleted_elements().count(),
        other_floor_elements,
        rules: doc.records(RecordSet::Rules).len(),
        versions: doc.records(RecordSet::Versions).len(),
        branches: doc.records(RecordSet::Branches).len(),
        comments: doc.records(RecordSet::Comments).len(),
        changes: doc.stats().changes,
        plan_id: doc.meta().id.clone(),
    }
}

/// Escapes text for XML content and attribute values (quotes, and newlines/tabs so that
/// attribute normalisation cannot alter them).
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            '\n' => o.push_str("&#10;"),
            '\r' => o.push_str("&#13;"),
            '\t' => o.push_str("&#9;"),
            c => o.push(c),
        }
    }
    o
}

/// Writes the plan as SVGX.
pub fn export_svgx(doc: &Document, opts: &ExportOptions) -> String {
    let mut out = String::new();
    let extent = doc.extent().map_or((0.0, 0.0, 1000.0, 1000.0), |b| {
        let b = b.expand(500.0);
        (b.min.x, b.min.y, b.width(), b.height())
    });
    let meta = doc.meta();
    let _ = writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    let _ = writeln!(
        out,
        r#"<svg xmlns="{SVG_NS}" xmlns:arx="{NS}" arx:version="{}" arx:name="{}" arx:units="{}" viewBox="{} {} {} {}" width="{}{u}" height="{}{u}">"#,
        meta.schema_version,
        esc(&meta.name),
        esc(&meta.units),
        extent.0,
        extent.1,
        extent.2,
        extent.3,
        extent.2,
        extent.3,
        u = if meta.units == "mm" { "mm" } else { "" },
    );
    let _ = writeln!(out, "  <metadata>\n    <arx:plan>");
    let floors = doc.floors_ordered();
    for f in &floors {
        let _ = writeln!(
            out,
            r#"      <arx:floor id="{}" name="{}" elevation-mm="{}" order="{}"/>"#,
            esc(f.id.as_str()),
            esc(&f.name),
            f.elevation_mm,
            f.order
        );
    }
    for l in doc.layers().values() {
        let _ = writeln!(
            out,
            r#"      <arx:layer id="{}" name="{}" system="{}" color="{}" visible="{}"/>"#,
            esc(l.id.as_str()),
            esc(&l.name),
            l.system,
            esc(&l.color),
            l.visible
        );
    }
    let _ = writeln!(out, "    </arx:plan>\n  </metadata>");

    // floor -> layer -> elements in z-order
    let mut grouped: BTreeMap<&FloorId, BTreeMap<&LayerId, Vec<&Element>>> = BTreeMap::new();
    for e in doc.elements_in_z_order() {
        if opts.floor.as_ref().is_some_and(|f| f != &e.floor) {
            continue;
        }
        grouped
            .entry(&e.floor)
            .or_default()
            .entry(&e.layer)
            .or_default()
            .push(e);
    }
    let mut first = true;
    for f in &floors {
        let Some(layers) = grouped.get(&f.id) else {
            continue;
        };
        let display = if first { "" } else { r#" display="none""# };
        first = false;
        let _ = writeln!(
            out,
            r#"  <g id="floor-{}" arx:floor="{}"{display}>"#,
            esc(f.id.as_str()),
            esc(f.id.as_str())
        );
        for (layer_id, elements) in layers {
            let layer = doc.layers().get(*layer_id);
            let color = layer.map_or("#000000", |l| l.color.as_str());
            let hidden = if layer.is_some_and(|l| !l.visible) {
                r#" display="none""#
            } else {
                ""
            };
            let _ = writeln!(
                out,
                r#"    <g arx:layer="{}" stroke="{}" fill="none" stroke-width="20"{hidden}>"#,
                esc(layer_id.as_str()),
                esc(color)
            );
            for e in elements {
                write_element(&mut out, e);
            }
            let _ = writeln!(out, "    </g>");
        }
        let _ = writeln!(out, "  </g>");
    }
    let _ = writeln!(out, "</svg>");
    out
}

fn write_element(out: &mut String, e: &Element) {
    let mut a = String::new();
    let _ = write!(
        a,
        r#" id="{}" arx:kind="{}" arx:tag="{}" arx:geom="{}" arx:z="{}""#,
        esc(e.id.as_str()),
        e.kind,
        esc(&e.tag),
        e.geometry.type_name(),
        esc(&e.z)
    );
    let t = &e.transform;
    let _ = write!(
        a,
        r#" arx:x="{}" arx:y="{}" arx:rotation="{}" transform="translate({} {}) rotate({})""#,
        t.x, t.y, t.rotation, t.x, t.y, t.rotation
    );
    if let Some(s) = &e.style.stroke {
        let _ = write!(a, r#" stroke="{}""#, esc(s));
    }
    if let Some(s) = &e.style.fill {
        let _ = write!(a, r#" fill="{}""#, esc(s));
    }
    if let Some(w) = e.style.stroke_width {
        let _ = write!(a, r#" stroke-width="{w}""#);
    }
    if let Some(text) = &e.text {
        let _ = write!(a, r#" arx:text="{}""#, esc(text));
    }
    for (k, p) in &e.props {
        let (ty, v) = match &p.value {
            PropValue::Number(n) => ("num", n.to_string()),
            PropValue::Text(s) => ("str", esc(s)),
            PropValue::Bool(b) => ("bool", b.to_string()),
        };
        let _ = write!(a, r#" arx:{ty}-{k}="{v}""#);
        if let Some(u) = &p.unit {
            let _ = write!(a, r#" arx:unit-{k}="{}""#, esc(u));
        }
    }
    for (k, target) in &e.refs {
        let _ = write!(a, r#" arx:ref-{k}="{}""#, esc(target.as_str()));
    }
    let _ = match &e.geometry {
        Geometry::Point => match &e.text {
            Some(text) => writeln!(
                out,
                r#"      <text{a} x="0" y="0" style="stroke:none;fill:currentColor" font-size="250">{}</text>"#,
                esc(text)
            ),
            None => writeln!(
                out,
                r#"      <circle{a} cx="0" cy="0" r="{POINT_MARKER_R}"/>"#
            ),
        },
        Geometry::Polyline { points } => {
            writeln!(
                out,
                r#"      <polyline{a} points="{}"/>"#,
                format_points(points)
            )
        }
        Geometry::Polygon { points } => {
            writeln!(
                out,
                r#"      <polygon{a} points="{}"/>"#,
                format_points(points)
            )
        }
        Geometry::Rect { width, height } => writeln!(
            out,
            r#"      <rect{a} x="0" y="0" width="{width}" height="{height}"/>"#
        ),
        Geometry::Circle { radius } => {
            writeln!(out, r#"      <circle{a} cx="0" cy="0" r="{radius}"/>"#)
        }
        Geometry::Path { d } => writeln!(out, r#"      <path{a} d="{}"/>"#, esc(d)),
    };
}
