//! Read-only subcommands: info, find, get, history. Text from the plan is printed
//! through [`esc`], so that every record stays on its line.

use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use arxos_doc::props::split_tag_prop;
use arxos_doc::{Bounds, Document, ElementKind, Filter, FloorId, LayerId};
use clap::Args;
use serde::Serialize;

use super::Out;
use super::output::esc;

/// Opens a plan file for reading, warning when its end is a torn (interrupted) save.
pub fn open(path: &Path) -> anyhow::Result<Document> {
    let (file, doc) = arxos_doc::file::PlanFile::open(path)?;
    if let Some(t) = file.torn_tail() {
        eprintln!(
            "warning: {}: the last save was interrupted; its {} byte(s) at the end are ignored and will be cut off at the next save",
            path.display(),
            t.ignored_bytes
        );
    }
    Ok(doc)
}

/// Formats epoch milliseconds as an RFC 3339 UTC timestamp.
pub fn timestamp(ms: i64) -> String {
    let t = UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    humantime::format_rfc3339_millis(t).to_string()
}

#[derive(Serialize)]
struct Info {
    id: String,
    name: String,
    units: String,
    schema_version: u64,
    floors: Vec<FloorInfo>,
    layers: Vec<LayerInfo>,
    by_kind: std::collections::BTreeMap<ElementKind, usize>,
    elements: usize,
    deleted: usize,
    undecodable: usize,
    changes: usize,
}

#[derive(Serialize)]
struct FloorInfo {
    id: FloorId,
    name: String,
    elevation_mm: f64,
    elements: usize,
}

#[derive(Serialize)]
struct LayerInfo {
    id: LayerId,
    name: String,
    system: String,
    visible: bool,
    elements: usize,
}

fn summarize(doc: &mut Document) -> Info {
    let stats = doc.stats();
    Info {
        id: doc.meta().id.clone(),
        name: doc.meta().name.clone(),
        units: doc.meta().units.clone(),
        schema_version: doc.meta().schema_version,
        floors: doc
            .floors_ordered()
            .into_iter()
            .map(|f| FloorInfo {
                id: f.id.clone(),
                name: f.name.clone(),
                elevation_mm: f.elevation_mm,
                elements: stats.by_floor.get(&f.id).copied().unwrap_or(0),
            })
            .collect(),
        layers: doc
            .layers()
            .values()
            .map(|l| LayerInfo {
                id: l.id.clone(),
                name: l.name.clone(),
                system: l.system.to_string(),
                visible: l.visible,
                elements: stats.by_layer.get(&l.id).copied().unwrap_or(0),
            })
            .collect(),
        by_kind: stats.by_kind,
        elements: stats.elements,
        deleted: stats.deleted,
        undecodable: stats.undecodable,
        changes: stats.changes,
    }
}

fn print_info(i: &Info) {
    outln!(
        "{}  ({} elements, units {})",
        esc(&i.name),
        i.elements,
        esc(&i.units)
    );
    outln!("  plan id {}", i.id);
    if i.deleted > 0 {
        outln!("  {} deleted (restorable)", i.deleted);
    }
    if i.undecodable > 0 {
        outln!("  {} elements could not be decoded", i.undecodable);
    }
    outln!("floors:");
    for f in &i.floors {
        outln!(
            "  {:<14} {:<20} {:>8} mm  {:>7} elements",
            esc(f.id.as_str()),
            esc(&f.name),
            f.elevation_mm,
            f.elements
        );
    }
    outln!("layers:");
    for l in &i.layers {
        let hidden = if l.visible { "" } else { "  (hidden)" };
        outln!(
            "  {:<14} {:<14} {:<14} {:>7} elements{hidden}",
            esc(l.id.as_str()),
            esc(&l.name),
            l.system,
            l.elements
        );
    }
    outln!("kinds:");
    for (k, n) in &i.by_kind {
        outln!("  {:<14} {n:>7}", k.as_str());
    }
    outln!("history: {} changes", i.changes);
}

/// `arxos info`.
pub fn info(out: Out, path: &Path) -> anyhow::Result<()> {
    out.guard(|| {
        let mut doc = open(path)?;
        let info = summarize(&mut doc);
        out.emit(&info, || print_info(&info))
    })
}

/// Filters for `arxos find`.
#[derive(Debug, Args)]
pub struct FindArgs {
    /// Plan file.
    pub file: PathBuf,
    /// Only this kind (wall, door, outlet...).
    #[arg(long)]
    pub kind: Option<ElementKind>,
    /// Only this layer (id).
    #[arg(long)]
    pub layer: Option<String>,
    /// Only this floor (id).
    #[arg(long)]
    pub floor: Option<String>,
    /// Only this tag (whole), or the tags a pattern matches: `*` any run of characters, `?`
    /// one character (`--tag 'outlet:R1-*'`).
    #[arg(long, value_name = "TAG|PATTERN")]
    pub tag: Option<String>,
    /// Only elements intersecting the box `x0,y0,x1,y1` (smallest corner first).
    #[arg(long, value_name = "X0,Y0,X1,Y1")]
    pub bbox: Option<String>,
    /// Include deleted elements.
    #[arg(long)]
    pub deleted: bool,
}

fn parse_bbox(s: &str) -> anyhow::Result<Bounds> {
    Bounds::parse(s).with_context(|| "--bbox".to_owned())
}

#[derive(Serialize)]
struct Row<'a> {
    id: &'a str,
    tag: &'a str,
    kind: ElementKind,
    floor: &'a str,
    layer: &'a str,
    x: f64,
    y: f64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    deleted: bool,
}

/// `arxos find`.
pub fn find(out: Out, a: &FindArgs) -> anyhow::Result<()> {
    out.guard(|| {
        let doc = open(&a.file)?;
        let filter = Filter {
            kind: a.kind,
            layer: a.layer.clone().map(LayerId::new),
            floor: a.floor.clone().map(FloorId::new),
            tag_pattern: a.tag.clone(),
        };
        if let Some(l) = &filter.layer
            && !doc.layers().contains_key(l)
        {
            bail!("unknown layer `{l}` (see `arxos info`)");
        }
        if let Some(f) = &filter.floor
            && !doc.floors().contains_key(f)
        {
            bail!("unknown floor `{f}` (see `arxos info`)");
        }
        let mut found: Vec<&arxos_doc::Element> = match &a.bbox {
            Some(b) => doc.query_area(&parse_bbox(b)?, &filter).collect(),
            None => doc.query(&filter).collect(),
        };
        if a.deleted {
            found.extend(doc.deleted_elements().filter(|e| filter.matches(e)));
        }
        found.sort_by(|x, y| x.tag.cmp(&y.tag));
        let rows: Vec<Row<'_>> = found
            .iter()
            .map(|e| Row {
                id: e.id.as_str(),
                tag: &e.tag,
                kind: e.kind,
                floor: e.floor.as_str(),
                layer: e.layer.as_str(),
                x: e.transform.x,
                y: e.transform.y,
                deleted: e.deleted,
            })
            .collect();
        out.emit(&rows, || {
            for r in &rows {
                let del = if r.deleted { "  (deleted)" } else { "" };
                outln!(
                    "{:<28} {:<10} {:<10} {:<14} ({}, {}){del}",
                    esc(r.tag),
                    r.kind.as_str(),
                    esc(r.floor),
                    esc(r.layer),
                    r.x,
                    r.y
                );
            }
            eprintln!("{} elements", rows.len());
        })
    })
}

#[derive(Serialize)]
struct PropOut<'a> {
    tag: &'a str,
    property: &'a str,
    value: &'a arxos_doc::PropValue,
    #[serde(skip_serializing_if = "Option::is_none")]
    unit: Option<&'a str>,
}

/// `arxos get`.
pub fn get(out: Out, path: &Path, target: &str) -> anyhow::Result<()> {
    out.guard(|| {
        let doc = open(path)?;
        // A whole tag (or id) first: ids and tags never contain `.`, so a `.` means a property.
        let (tag, prop) = split_tag_prop(target);
        let e = doc.resolve(tag)?;
        let Some(prop) = prop else {
            return out.emit(e, || {
                let deleted = if e.deleted { "  (deleted)" } else { "" };
                outln!(
                    "{}  [{}]  id {}{deleted}",
                    esc(&e.tag),
                    e.kind,
                    esc(e.id.as_str())
                );
                outln!("  floor      {}", esc(e.floor.as_str()));
                outln!("  layer      {}", esc(e.layer.as_str()));
                outln!(
                    "  position   ({}, {})  rotation {}°",
                    e.transform.x,
                    e.transform.y,
                    e.transform.rotation
                );
                outln!("  geometry   {}", e.geometry.type_name());
                if let Some(t) = &e.text {
                    outln!("  text       {}", esc(t));
                }
                for (k, p) in &e.props {
                    let unit = p.unit.as_deref().unwrap_or("");
                    outln!(
                        "  {:<10} {}{}{}",
                        esc(k),
                        esc(&p.value.to_string()),
                        if unit.is_empty() { "" } else { " " },
                        esc(unit)
                    );
                }
                for (k, t) in &e.refs {
                    let to = doc.element_any(t).map_or(t.as_str(), |t| t.tag.as_str());
                    outln!("  {:<10} -> {}", esc(k), esc(to));
                }
            });
        };
        let p = e
            .props
            .get(prop)
            .ok_or_else(|| arxos_doc::DocError::UnknownProperty {
                element: e.tag.clone(),
                property: prop.to_owned(),
            })?;
        let o = PropOut {
            tag: &e.tag,
            property: prop,
            value: &p.value,
            unit: p.unit.as_deref(),
        };
        out.emit(&o, || {
            let value = p.value.to_string();
            if let Some(u) = &p.unit {
                outln!("{} {}", esc(&value), esc(u));
            } else {
                outln!("{}", esc(&value));
            }
        })
    })
}

#[derive(Serialize)]
struct HistoryRow {
    hash: String,
    author: String,
    time: String,
    time_ms: i64,
    summary: String,
}

/// `arxos history`.
pub fn history(out: Out, path: &Path, limit: Option<usize>) -> anyhow::Result<()> {
    out.guard(|| {
        let mut doc = open(path)?;
        let all = doc.history();
        let skip = limit.map_or(0, |n| all.len().saturating_sub(n));
        let rows: Vec<HistoryRow> = all
            .into_iter()
            .skip(skip)
            .map(|h| HistoryRow {
                time: timestamp(h.time_ms),
                hash: h.hash,
                author: h.author,
                time_ms: h.time_ms,
                summary: h.summary,
            })
            .collect();
        out.emit(&rows, || {
            for r in &rows {
                outln!(
                    "{}  {}  {:<12} {}",
                    &r.hash[..12.min(r.hash.len())],
                    r.time,
                    esc(&r.author),
                    esc(&r.summary)
                );
            }
        })
    })
}
