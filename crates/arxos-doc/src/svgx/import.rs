//! SVG / SVGX text → plan.

use std::collections::{BTreeMap, BTreeSet};

use usvg::roxmltree::{self, Node};

use crate::command::{Command, EditContext, NewElement};
use crate::document::{Document, default_layers};
use crate::error::{DocError, Result};
use crate::geometry::{Point, parse_points};
use crate::ids::{ElementId, FloorId, LayerId};
use crate::model::{BuildingSystem, ElementKind, Geometry, PropValue, Property, Style, Transform};
use crate::props;

use super::NS;
use super::damage::{Cuts, Lines, describe, plain_damage};
use super::plain::collect_paths;

/// What an import produced, and what it had to leave out (never silently).
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct ImportReport {
    /// Elements read from `arx:` semantics.
    pub svgx_elements: usize,
    /// Plain SVG shapes imported as annotation paths.
    pub plain_paths: usize,
    /// Floors created.
    pub floors: usize,
    /// Layers created.
    pub layers: usize,
    /// Everything skipped or adjusted, one line each.
    pub warnings: Vec<String>,
}

/// An attribute in no namespace. roxmltree's `attribute("x")` also matches `arx:x`, which
/// would read a shape's `y` from the semantic `arx:y`.
pub(super) fn plain<'a>(n: &Node<'a, '_>, name: &str) -> Option<&'a str> {
    n.attributes()
        .find(|a| a.namespace().is_none() && a.name() == name)
        .map(|a| a.value())
}

pub(super) fn arx<'a>(n: &Node<'a, '_>, name: &str) -> Option<&'a str> {
    n.attribute((NS, name))
}

fn num(n: &Node<'_, '_>, ns: Option<&str>, name: &str) -> Result<Option<f64>> {
    let v = match ns {
        Some(ns) => n.attribute((ns, name)),
        None => plain(n, name),
    };
    v.map(|s| {
        let s = s.trim();
        s.trim_end_matches("mm")
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .ok_or_else(|| DocError::Parse {
                what: "a finite number",
                input: format!("{}{name}=\"{s}\"", if ns.is_some() { "arx:" } else { "" }),
            })
    })
    .transpose()
}

/// The nearest `arx:<attr>` on the node or its ancestors.
fn inherited<'a>(n: &Node<'a, '_>, attr: &str) -> Option<&'a str> {
    n.ancestors().find_map(|a| arx(&a, attr))
}

fn system_guess(id: &str) -> BuildingSystem {
    id.parse().unwrap_or(BuildingSystem::Annotation)
}

/// One SVGX element decoded, before references are resolved.
struct Decoded {
    new: NewElement,
    refs: BTreeMap<String, ElementId>,
}

fn transform_of(n: &Node<'_, '_>) -> Result<Transform> {
    let x = num(n, Some(NS), "x")?;
    let y = num(n, Some(NS), "y")?;
    let r = num(n, Some(NS), "rotation")?;
    if let (Some(x), Some(y)) = (x, y) {
        return Ok(Transform {
            x,
            y,
            rotation: r.unwrap_or(0.0),
        });
    }
    // Hand-written SVGX: derive from the SVG transform (translation + rotation only).
    let Some(t) = plain(n, "transform") else {
        return Ok(Transform::default());
    };
    let m: svgtypes::Transform = t.parse().map_err(|_| DocError::Parse {
        what: "an SVG transform",
        input: t.to_owned(),
    })?;
    Ok(Transform {
        x: m.e,
        y: m.f,
        rotation: m.b.atan2(m.a).to_degrees(),
    })
}

/// Folds a shape's own offset (`x`/`y` of a rect, `cx`/`cy` of a circle) into the transform.
fn offset(t: &mut Transform, dx: f64, dy: f64) {
    let p = crate::geometry::world_from_local(
        &Transform {
            x: 0.0,
            y: 0.0,
            rotation: t.rotation,
        },
        Point::new(dx, dy),
    );
    t.x += p.x;
    t.y += p.y;
}

#[allow(clippy::too_many_lines)] // one attribute family after another
fn decode(n: &Node<'_, '_>, kind: &str) -> Result<Decoded> {
    let kind: ElementKind = kind.parse()?;
    let id = plain(n, "id").map_or_else(ElementId::random, ElementId::new);
    let tag = arx(n, "tag").map_or_else(|| format!("{kind}:{id}"), str::to_owned);
    let mut transform = transform_of(n)?;
    let geom = arx(n, "geom").unwrap_or_else(|| n.tag_name().name());
    let need = |name: &str| -> Result<f64> {
        num(n, None, name)?.ok_or_else(|| DocError::Parse {
            what: "a required attribute",
            input: format!("<{} {name}=…> on {tag}", n.tag_name().name()),
        })
    };
    let geometry = match geom {
        "point" | "text" => Geometry::Point,
        "rect" => {
            offset(
                &mut transform,
                num(n, None, "x")?.unwrap_or(0.0),
                num(n, None, "y")?.unwrap_or(0.0),
            );
            Geometry::Rect {
                width: need("width")?,
                height: need("height")?,
            }
        }
        "circle" => {
            offset(
                &mut transform,
                num(n, None, "cx")?.unwrap_or(0.0),
                num(n, None, "cy")?.unwrap_or(0.0),
            );
            Geometry::Circle { radius: need("r")? }
        }
        "polyline" | "line" if plain(n, "points").is_some() => Geometry::Polyline {
            points: parse_points(plain(n, "points").unwrap_or(""))?,
        },
        "line" => Geometry::Polyline {
            points: vec![
                Point::new(need("x1")?, need("y1")?),
                Point::new(need("x2")?, need("y2")?),
            ],
        },
        "polygon" => Geometry::Polygon {
            points: parse_points(plain(n, "points").unwrap_or(""))?,
        },
        "path" => Geometry::Path {
            d: plain(n, "d").unwrap_or("").to_owned(),
        },
        other => {
            return Err(DocError::Parse {
                what: "a geometry type",
                input: other.to_owned(),
            });
        }
    };
    let mut props = BTreeMap::new();
    let mut refs = BTreeMap::new();
    for a in n.attributes() {
        if a.namespace() != Some(NS) {
            continue;
        }
        let name = a.name();
        let v = a.value();
        let Some((ty, key)) = name.split_once('-') else {
            continue;
        };
        let value = match ty {
            "num" => PropValue::Number(
                v.trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite())
                    .ok_or_else(|| DocError::Parse {
                        what: "a finite number",
                        input: format!("arx:{name}=\"{v}\""),
                    })?,
            ),
            "str" => PropValue::Text(v.to_owned()),
            "bool" => match v.trim() {
                "true" => PropValue::Bool(true),
                "false" => PropValue::Bool(false),
                _ => {
                    return Err(DocError::Parse {
                        what: "true or false",
                        input: format!("arx:{name}=\"{v}\""),
                    });
                }
            },
            "prop" => PropValue::parse_loose(v),
            "ref" => {
                props::validate_name(key)?;
                refs.insert(key.to_owned(), ElementId::new(v));
                continue;
            }
            _ => continue,
        };
        props.insert(
            key.to_owned(),
            Property {
                value,
                unit: arx(n, &format!("unit-{key}")).map(str::to_owned),
            },
        );
    }
    let style = Style {
        stroke: plain(n, "stroke").map(str::to_owned),
        fill: plain(n, "fill").map(str::to_owned),
        stroke_width: num(n, None, "stroke-width")?,
    };
    let text = arx(n, "text")
        .map(str::to_owned)
        .or_else(|| (n.tag_name().name() == "text").then(|| n.text().unwrap_or("").to_owned()));
    let new = NewElement {
        id: Some(id),
        kind,
        tag,
        floor: FloorId::new(inherited(n, "floor").unwrap_or("level-1")),
        layer: LayerId::new(inherited(n, "layer").unwrap_or(kind_default_layer(kind))),
        geometry,
        transform,
        style,
        text,
        props,
        refs: BTreeMap::new(),
        z: arx(n, "z").map(str::to_owned),
    };
    // What the batch would refuse for this element alone: refused here, the element is
    // skipped with a warning instead of the whole import failing.
    new.check_values()?;
    Ok(Decoded { new, refs })
}

fn kind_default_layer(kind: ElementKind) -> &'static str {
    match kind {
        ElementKind::Wall | ElementKind::Room | ElementKind::Door | ElementKind::Window => {
            "architectural"
        }
        ElementKind::Outlet | ElementKind::Switch | ElementKind::Light => "electrical",
        ElementKind::Duct => "mechanical",
        ElementKind::Pipe => "plumbing",
        _ => "annotation",
    }
}

/// Imports SVG or SVGX text as a new plan. `fallback_name` names the plan when the file does
/// not (`arx:name`), e.g. the file stem.
#[allow(clippy::too_many_lines)] // a straight pipeline: parse, decode, plain paths, one batch
pub fn import_svg(
    text: &str,
    fallback_name: &str,
    ctx: &EditContext,
) -> Result<(Document, ImportReport)> {
    let xml = roxmltree::Document::parse_with_options(
        text,
        roxmltree::ParsingOptions {
            allow_dtd: true,
            ..roxmltree::ParsingOptions::default()
        },
    )
    .map_err(|e| DocError::Svg(format!("not well-formed XML: {e}")))?;
    let root = xml.root_element();
    if root.tag_name().name() != "svg" {
        return Err(DocError::Svg(format!(
            "the root element is <{}>, not <svg>",
            root.tag_name().name()
        )));
    }
    let mut report = ImportReport::default();
    let name = arx(&root, "name").unwrap_or(fallback_name);
    let mut doc = Document::new_empty(name, ctx)?;
    let mut cmds = Vec::new();
    if let Some(units) = arx(&root, "units") {
        cmds.push(Command::SetMeta {
            name: None,
            units: Some(units.to_owned()),
        });
    }

    let mut floors: BTreeSet<FloorId> = BTreeSet::new();
    let mut layers: BTreeSet<LayerId> = BTreeSet::new();
    for n in root
        .descendants()
        .filter(|n| n.tag_name().namespace() == Some(NS))
    {
        let Some(id) = plain(&n, "id") else {
            continue;
        };
        match n.tag_name().name() {
            "floor" => {
                let id = FloorId::new(id);
                if floors.insert(id.clone()) {
                    cmds.push(Command::AddFloor {
                        name: plain(&n, "name").unwrap_or(id.as_str()).to_owned(),
                        elevation_mm: num(&n, None, "elevation-mm")?.unwrap_or(0.0),
                        order: num(&n, None, "order")?.unwrap_or(0.0) as i64,
                        id,
                    });
                }
            }
            "layer" => {
                let lid = LayerId::new(id);
                if layers.insert(lid.clone()) {
                    cmds.push(Command::AddLayer {
                        name: plain(&n, "name").unwrap_or(id).to_owned(),
                        system: n
                            .attribute("system")
                            .map_or_else(|| Ok(system_guess(id)), str::parse)?,
                        color: plain(&n, "color").unwrap_or("#000000").to_owned(),
                        visible: plain(&n, "visible") != Some("false"),
                        id: lid,
                    });
                }
            }
            _ => {}
        }
    }

    // SVGX elements decoded, and damaged plain shapes found, in one pass over the elements;
    // both are cut out of what usvg reads.
    let mut decoded = Vec::new();
    let mut svgx_ids = BTreeSet::new();
    let mut cuts = Cuts::default();
    let mut seen_ids = BTreeSet::new();
    let mut lines = Lines::new(text);
    for n in root.descendants().filter(Node::is_element) {
        let Some(kind) = arx(&n, "kind") else {
            if n != root
                && !cuts.contain(&n)
                && let Some(why) = plain_damage(&n)
            {
                report
                    .warnings
                    .push(format!("{}: skipped: {why}", describe(&mut lines, &n)));
                cuts.add(&n);
            }
            continue;
        };
        cuts.add(&n);
        if let Some(id) = plain(&n, "id") {
            svgx_ids.insert(id.to_owned());
        }
        match decode(&n, kind) {
            Ok(mut d) => {
                if let Some(id) = &d.new.id
                    && !seen_ids.insert(id.clone())
                {
                    let fresh = ElementId::random();
                    report.warnings.push(format!(
                        "{}: the id `{id}` is repeated; imported as `{fresh}`",
                        describe(&mut lines, &n)
                    ));
                    d.new.id = Some(fresh);
                }
                decoded.push(d);
            }
            Err(e) => report
                .warnings
                .push(format!("{}: skipped: {e}", describe(&mut lines, &n))),
        }
    }

    // Plain SVG shapes through usvg, from the text without the elements cut out.
    let plain_text = if cuts.is_empty() {
        std::borrow::Cow::Borrowed(text)
    } else {
        std::borrow::Cow::Owned(cuts.apply(text))
    };
    let mut plain = Vec::new();
    match usvg::Tree::from_str(&plain_text, &usvg::Options::default()) {
        Ok(tree) => collect_paths(tree.root(), "root", &svgx_ids, &mut plain),
        Err(e) if decoded.is_empty() => {
            return Err(DocError::Svg(format!("cannot read the drawing: {e}")));
        }
        Err(e) => report
            .warnings
            .push(format!("plain SVG shapes not imported: {e}")),
    }

    // Floors and layers that elements need but the file did not declare.
    let need_default_floor =
        decoded.iter().all(|d| d.new.floor.as_str() == "level-1") && floors.is_empty();
    for d in &decoded {
        if !floors.contains(&d.new.floor) {
            floors.insert(d.new.floor.clone());
            cmds.push(Command::AddFloor {
                id: d.new.floor.clone(),
                name: d.new.floor.to_string(),
                elevation_mm: 0.0,
                order: floors.len() as i64,
            });
        }
    }
    if floors.is_empty() && (need_default_floor || !plain.is_empty()) {
        let id = FloorId::new("level-1");
        floors.insert(id.clone());
        cmds.push(Command::AddFloor {
            id,
            name: "Level 1".into(),
            elevation_mm: 0.0,
            order: 1,
        });
    }
    if layers.is_empty() {
        for c in default_layers() {
            if let Command::AddLayer { id, .. } = &c {
                layers.insert(id.clone());
            }
            cmds.push(c);
        }
    }
    for d in &decoded {
        if !layers.contains(&d.new.layer) {
            layers.insert(d.new.layer.clone());
            cmds.push(Command::AddLayer {
                id: d.new.layer.clone(),
                name: d.new.layer.to_string(),
                system: system_guess(d.new.layer.as_str()),
                color: "#000000".into(),
                visible: true,
            });
        }
    }
    report.floors = floors.len();
    report.layers = layers.len();

    // Elements first, references second: a door may come before its wall in the file.
    let mut tags = BTreeSet::new();
    let mut ref_cmds = Vec::new();
    let known: BTreeSet<ElementId> = decoded.iter().filter_map(|d| d.new.id.clone()).collect();
    for mut d in decoded {
        if props::validate_tag(&d.new.tag).is_err() || !tags.insert(d.new.tag.clone()) {
            let fixed = unique_tag(&sanitize_tag(&d.new.tag), &tags);
            report.warnings.push(format!(
                "tag `{}` is invalid or repeated; imported as `{fixed}`",
                d.new.tag
            ));
            tags.insert(fixed.clone());
            d.new.tag = fixed;
        }
        let id = d.new.id.clone().unwrap_or_else(ElementId::random);
        for (k, target) in d.refs {
            if known.contains(&target) {
                ref_cmds.push(Command::SetReference {
                    id: id.clone(),
                    name: k,
                    target: Some(target),
                });
            } else {
                report.warnings.push(format!(
                    "{}: reference `{k}` to missing element `{target}` dropped",
                    d.new.tag
                ));
            }
        }
        report.svgx_elements += 1;
        cmds.push(Command::Create(Box::new(d.new)));
    }
    let floor = floors
        .iter()
        .next()
        .cloned()
        .unwrap_or_else(|| FloorId::new("level-1"));
    for (i, p) in plain.into_iter().enumerate() {
        let tag = unique_tag(&format!("path:{}-{}", sanitize_tag(&p.group), i + 1), &tags);
        tags.insert(tag.clone());
        let mut n = NewElement::new(
            ElementKind::Path,
            tag,
            floor.clone(),
            LayerId::new("annotation"),
            Geometry::Path { d: p.d },
            Transform::default(),
        )
        .with_prop("group", PropValue::Text(p.group.clone()), None);
        n.style = p.style;
        // Numbers each in range can still add up out of range (`scale(1e5)` on a `1e5` rect),
        // which the batch would refuse for the whole file: such a shape is left out by name.
        if let Err(e) = n.check_values() {
            let shape = if p.id.is_empty() {
                format!("plain shape {} in group `{}`", i + 1, p.group)
            } else {
                format!("plain shape id=\"{}\" in group `{}`", p.id, p.group)
            };
            report.warnings.push(format!("{shape}: skipped: {e}"));
            continue;
        }
        if !layers.contains(&n.layer) {
            layers.insert(n.layer.clone());
            cmds.push(Command::AddLayer {
                id: n.layer.clone(),
                name: "Annotation".into(),
                system: BuildingSystem::Annotation,
                color: "#616161".into(),
                visible: true,
            });
        }
        report.plain_paths += 1;
        cmds.push(Command::Create(Box::new(n)));
    }
    cmds.extend(ref_cmds);
    doc.apply_batch_as(
        ctx,
        crate::command::ChangeKind::Import,
        &format!("import {fallback_name}"),
        cmds,
    )?;
    Ok((doc, report))
}

fn sanitize_tag(s: &str) -> String {
    let t: String = s
        .chars()
        .map(|c| {
            if c.is_whitespace() || c == '.' || c == '=' {
                '_'
            } else {
                c
            }
        })
        .take(180)
        .collect();
    if t.is_empty() { "element".into() } else { t }
}

fn unique_tag(base: &str, taken: &BTreeSet<String>) -> String {
    if !taken.contains(base) {
        return base.to_owned();
    }
    // At most `taken.len() + 1` candidates can be tried before one is free.
    (2..=taken.len() + 2)
        .map(|i| format!("{base}~{i}"))
        .find(|t| !taken.contains(t))
        .unwrap_or_else(|| base.to_owned())
}
