//! The detectors: each looks at one element (and its neighbours) in the current state.

use std::collections::{BTreeMap, BTreeSet};

use automerge::{Automerge, ChangeHash, ObjId, ReadDoc};
use sha2::{Digest, Sha256};

use super::ancestry::{Ancestry, history_is_linear};
use super::rules::{Rule, rules};
use super::{Conflict, ConflictType, LocalSide, Severity, Side};
use crate::document::Document;
use crate::geometry::{Point, distance_to_segment, world_from_local};
use crate::history::parse_message;
use crate::ids::ElementId;
use crate::index::Cache;
use crate::model::{Element, ElementKind, Geometry, PropValue};
use crate::schema::{self, Stored};

/// Equipment closer than this (document units) is "on top of each other".
pub const OVERLAP_TOLERANCE: f64 = 50.0;
/// How far a hosted door/window may sit from its wall's face.
pub const HOST_TOLERANCE: f64 = 50.0;

fn stable_id(prefix: &str, parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    let d = h.finalize();
    let hex: String = d.iter().take(5).fold(String::new(), |mut s, b| {
        use std::fmt::Write as _;
        let _ = write!(s, "{b:02x}");
        s
    });
    format!("{prefix}-{hex}")
}

fn is_equipment(k: ElementKind) -> bool {
    matches!(
        k,
        ElementKind::Outlet | ElementKind::Switch | ElementKind::Light | ElementKind::Fixture
    )
}

/// The elements whose conflicts may change when `touched` change.
pub(crate) fn neighbourhood(doc: &Document, touched: &BTreeSet<ElementId>) -> BTreeSet<ElementId> {
    let mut out = touched.clone();
    for e in doc.cache.elements.values() {
        if e.refs.values().any(|t| touched.contains(t)) {
            out.insert(e.id.clone());
        }
    }
    for id in touched {
        if let Some(e) = doc.cache.elements.get(id)
            && is_equipment(e.kind)
        {
            out.extend(
                doc.cache
                    .ids_in(e.bounds().expand(OVERLAP_TOLERANCE))
                    .cloned(),
            );
        }
    }
    out
}

struct Ctx<'a> {
    am: &'a Automerge,
    cache: &'a Cache,
    ancestry: Ancestry<'a>,
    local: &'a LocalSide,
    rules: BTreeMap<String, Rule>,
    critical_layers: BTreeSet<String>,
}

impl Ctx<'_> {
    fn side(&self, value: Option<PropValue>, change: Option<ChangeHash>) -> Side {
        let meta = change.and_then(|h| self.am.get_change_meta_by_hash(&h));
        let (author, time_ms) = match &meta {
            Some(m) => match parse_message(m.message.as_deref()) {
                Some(p) => (p.author, p.time_ms),
                None => (m.actor.to_hex_string(), m.timestamp.saturating_mul(1000)),
            },
            None => (String::new(), 0),
        };
        Side {
            value,
            author,
            time_ms,
            change: change.map(|h| h.to_string()).unwrap_or_default(),
        }
    }

    fn is_local(&mut self, change: Option<&ChangeHash>, is_winner: bool) -> bool {
        match (self.local, change) {
            (LocalSide::Heads(heads), Some(h)) => {
                let heads = heads.clone();
                self.ancestry.within(h, &heads)
            }
            _ => is_winner,
        }
    }

    fn value_at(&self, obj: &ObjId, key: &str, heads: &[ChangeHash]) -> Option<PropValue> {
        match self.am.get_at(obj, key, heads) {
            Ok(Some((automerge::Value::Scalar(s), _))) => {
                Stored::from_scalar(&s).map(|v| v.to_prop())
            }
            _ => None,
        }
    }

    fn deps(&self, h: &ChangeHash) -> Vec<ChangeHash> {
        self.am
            .get_change_meta_by_hash(h)
            .map(|m| m.deps.clone())
            .unwrap_or_default()
    }

    fn base_severity(&self, e: &Element, key: &str) -> Severity {
        if self.critical_layers.contains(e.layer.as_str()) {
            return Severity::Critical;
        }
        if key == "deleted" || key.starts_with(schema::REF_PREFIX) {
            return Severity::High;
        }
        if key.starts_with(schema::PROP_PREFIX)
            && matches!(
                e.kind,
                ElementKind::Outlet | ElementKind::Switch | ElementKind::Light
            )
        {
            return Severity::High;
        }
        if key.starts_with("style.") || key == "z" || key == "text" {
            return Severity::Low;
        }
        Severity::Medium
    }
}

/// Runs every detector over `elements`.
pub(crate) fn detect(
    doc: &mut Document,
    elements: &BTreeSet<ElementId>,
    local: &LocalSide,
) -> Vec<Conflict> {
    let rules = rules(doc);
    let Document { am, cache } = doc;
    let am: &Automerge = am.document();
    let critical_layers = rules
        .values()
        .filter_map(|r| match r {
            Rule::Critical { layer } => Some(layer.clone()),
            _ => None,
        })
        .collect();
    let mut cx = Ctx {
        am,
        cache,
        ancestry: Ancestry::new(am),
        local,
        rules,
        critical_layers,
    };
    let Some(elements_obj) = cache.elements_obj.clone() else {
        return Vec::new();
    };
    // Looking at the history costs a pass over its changes: worth it for a scan of many
    // elements (opening a plan), not for the few an edit touches.
    let concurrent_writes = elements.len() < LINEAR_CHECK_FROM || !history_is_linear(am);
    let mut out = Vec::new();
    for id in elements {
        let Some(e) = cache.elements.get(id) else {
            continue;
        };
        if concurrent_writes {
            let Some(obj) = schema::child_map(am, &elements_obj, id.as_str()) else {
                continue;
            };
            property_conflicts(&mut cx, e, &obj, &mut out);
            if e.deleted {
                delete_vs_edit(&mut cx, e, &obj, &mut out);
            }
        }
        if !e.deleted {
            relationships(&cx, e, &mut out);
            spatial(&cx, e, &mut out);
            duplicate_tags(&cx, e, &mut out);
            constraints(&cx, e, &mut out);
        }
    }
    out
}

/// Scans of at least this many elements first check whether the history is linear.
const LINEAR_CHECK_FROM: usize = 256;

fn scalar(v: &automerge::Value<'_>) -> Option<PropValue> {
    match v {
        automerge::Value::Scalar(s) => Stored::from_scalar(s).map(|v| v.to_prop()),
        automerge::Value::Object(_) => None,
    }
}

#[allow(clippy::too_many_lines)] // gather values, split sides, find the base: one story
fn property_conflicts(cx: &mut Ctx<'_>, e: &Element, obj: &ObjId, out: &mut Vec<Conflict>) {
    let keys: Vec<String> = cx
        .am
        .map_range(obj, ..)
        .filter(|i| i.conflict)
        .map(|i| i.key.to_string())
        .collect();
    for key in keys {
        let Ok(all) = cx.am.get_all(obj, key.as_str()) else {
            continue;
        };
        let winner = cx
            .am
            .get(obj, key.as_str())
            .ok()
            .flatten()
            .map(|(_, id)| id);
        let values: Vec<(Option<PropValue>, Option<ChangeHash>, bool)> = all
            .iter()
            .map(|(v, id)| {
                (
                    scalar(v),
                    cx.am.hash_for_opid(id),
                    winner.as_ref() == Some(id),
                )
            })
            .collect();
        let mut distinct: Vec<&Option<PropValue>> = Vec::new();
        for (v, _, _) in &values {
            if !distinct.contains(&v) {
                distinct.push(v);
            }
        }
        if distinct.len() < 2 {
            continue; // the same value written twice (e.g. two replicas auto-resolving alike)
        }
        let mut locals = Vec::new();
        let mut remotes = Vec::new();
        for (v, h, w) in &values {
            let side = cx.side(v.clone(), *h);
            if cx.is_local(h.as_ref(), *w) {
                locals.push((side, *h, *w));
            } else {
                remotes.push((side, *h, *w));
            }
        }
        // Without a clear split (all local, or all remote) fall back to winner vs the rest.
        if locals.is_empty() || remotes.is_empty() {
            let all: Vec<_> = locals.into_iter().chain(remotes).collect();
            let (w, rest): (Vec<_>, Vec<_>) = all.into_iter().partition(|(_, _, w)| *w);
            locals = w;
            remotes = rest;
        }
        let (local, local_hash) = locals
            .first()
            .map_or((None, None), |(s, h, _)| (Some(s.clone()), *h));
        let mut rest = remotes.into_iter().chain(locals.into_iter().skip(1));
        let (remote, remote_hash) = rest.next().map_or((None, None), |(s, h, _)| (Some(s), h));
        let others: Vec<Side> = rest.map(|(s, _, _)| s).collect();
        let base_local = local_hash.map(|h| cx.value_at(obj, &key, &cx.deps(&h)));
        let base_remote = remote_hash.map(|h| cx.value_at(obj, &key, &cx.deps(&h)));
        let base = match (base_local, base_remote) {
            (Some(a), Some(b)) if a == b => a,
            (Some(Some(a)), _) => Some(a),
            (_, Some(b)) => b,
            (Some(None) | None, None) => None,
        };
        let mut ids: Vec<String> = values
            .iter()
            .filter_map(|(_, h, _)| h.map(|h| h.to_string()))
            .collect();
        ids.sort();
        let mut parts = vec![e.id.as_str(), key.as_str()];
        parts.extend(ids.iter().map(String::as_str));
        let unit = super::unit_of_key(e, &key, &cx.cache.meta.units);
        let show = |s: &Option<Side>| {
            s.as_ref()
                .and_then(|s| s.value.as_ref())
                .map_or("(none)".to_owned(), |v| match &unit {
                    Some(u) if matches!(v, PropValue::Number(_)) => format!("{v} {u}"),
                    _ => v.to_string(),
                })
        };
        out.push(Conflict {
            unit: unit.clone(),
            id: stable_id("prop", &parts),
            kind: ConflictType::Property,
            severity: cx.base_severity(e, &key),
            element: e.id.clone(),
            tag: e.tag.clone(),
            message: format!(
                "{}.{key}: {} here, {} there",
                e.tag,
                show(&local),
                show(&remote)
            ),
            property: Some(key),
            base,
            local,
            remote,
            others,
            related: Vec::new(),
        });
    }
}

fn delete_vs_edit(cx: &mut Ctx<'_>, e: &Element, obj: &ObjId, out: &mut Vec<Conflict>) {
    let Some(del_op) = cx.am.get(obj, "deleted").ok().flatten().map(|(_, id)| id) else {
        return;
    };
    let Some(d) = cx.am.hash_for_opid(&del_op) else {
        return;
    };
    let items: Vec<String> = cx
        .am
        .map_range(obj, ..)
        .map(|i| i.key.to_string())
        .filter(|k| k != "deleted")
        .collect();
    let mut edited: Vec<(String, Option<PropValue>, ChangeHash)> = Vec::new();
    for key in items {
        let Ok(all) = cx.am.get_all(obj, key.as_str()) else {
            continue;
        };
        for (v, id) in all {
            let Some(h) = cx.am.hash_for_opid(&id) else {
                continue;
            };
            if h != d && cx.ancestry.concurrent(&h, &d) {
                edited.push((key.clone(), scalar(&v), h));
                break;
            }
        }
    }
    let Some((key, value, edit_hash)) = edited.first().cloned() else {
        return;
    };
    let deleted_side = cx.side(Some(PropValue::Text("deleted".into())), Some(d));
    let edit_side = cx.side(value, Some(edit_hash));
    let delete_is_local = cx.is_local(Some(&d), false);
    let edit_is_local = cx.is_local(Some(&edit_hash), false);
    let (local, remote) = if delete_is_local && !edit_is_local {
        (deleted_side, edit_side)
    } else if edit_is_local && !delete_is_local {
        (edit_side, deleted_side)
    } else {
        // No context: what the document shows now (deleted) is local.
        (deleted_side, edit_side)
    };
    let base = cx.value_at(obj, &key, &cx.deps(&edit_hash));
    let keys: Vec<&str> = edited.iter().map(|(k, _, _)| k.as_str()).collect();
    let mut hashes: Vec<String> = edited.iter().map(|(_, _, h)| h.to_string()).collect();
    hashes.sort();
    hashes.dedup();
    let d_hex = d.to_string();
    let mut parts = vec![e.id.as_str(), d_hex.as_str()];
    parts.extend(hashes.iter().map(String::as_str));
    out.push(Conflict {
        id: stable_id("del", &parts),
        kind: ConflictType::DeleteVsEdit,
        severity: if cx.critical_layers.contains(e.layer.as_str()) {
            Severity::Critical
        } else {
            Severity::High
        },
        element: e.id.clone(),
        tag: e.tag.clone(),
        property: Some(key),
        unit: None,
        base,
        message: format!(
            "{} was deleted while {} edited {}; restore it to keep the edit",
            e.tag,
            if remote
                .value
                .as_ref()
                .is_some_and(|v| *v == PropValue::Text("deleted".into()))
            {
                &local.author
            } else {
                &remote.author
            },
            keys.join(", ")
        ),
        local: Some(local),
        remote: Some(remote),
        others: Vec::new(),
        related: Vec::new(),
    });
}

fn relationships(cx: &Ctx<'_>, e: &Element, out: &mut Vec<Conflict>) {
    for (name, target) in &e.refs {
        let t = cx.cache.elements.get(target);
        let problem = match t {
            None => "no longer exists",
            Some(t) if t.deleted => "was deleted",
            Some(_) => continue,
        };
        let key = format!("{}{name}", schema::REF_PREFIX);
        let target_tag = t.map_or(target.as_str(), |t| t.tag.as_str());
        out.push(Conflict {
            id: stable_id("rel", &[e.id.as_str(), name, target.as_str()]),
            kind: ConflictType::Relationship,
            severity: if name == "host" {
                Severity::High
            } else {
                Severity::Medium
            },
            element: e.id.clone(),
            tag: e.tag.clone(),
            property: Some(key),
            unit: None,
            base: Some(PropValue::Text(target.to_string())),
            local: None,
            remote: None,
            others: Vec::new(),
            related: vec![target.clone()],
            message: format!("{}: its {name} {target_tag} {problem}", e.tag),
        });
    }
}

fn world_points(e: &Element) -> Vec<Point> {
    match &e.geometry {
        Geometry::Polyline { points } | Geometry::Polygon { points } => points
            .iter()
            .map(|p| world_from_local(&e.transform, *p))
            .collect(),
        _ => Vec::new(),
    }
}

fn spatial(cx: &Ctx<'_>, e: &Element, out: &mut Vec<Conflict>) {
    if e.kind.is_hosted()
        && let Some(host_id) = e.refs.get("host")
        && let Some(host) = cx.cache.elements.get(host_id).filter(|h| !h.deleted)
    {
        let pts = world_points(host);
        let b = e.bounds();
        let centre = Point::new(
            f64::midpoint(b.min.x, b.max.x),
            f64::midpoint(b.min.y, b.max.y),
        );
        let dist = pts
            .windows(2)
            .map(|w| distance_to_segment(centre, w[0], w[1]))
            .fold(f64::INFINITY, f64::min);
        let thickness = match host.props.get("thickness").map(|p| &p.value) {
            Some(PropValue::Number(t)) => *t,
            _ => 150.0,
        };
        if pts.len() >= 2 && dist > thickness / 2.0 + HOST_TOLERANCE {
            let pos = format!("{:.0},{:.0}", centre.x, centre.y);
            out.push(Conflict {
                id: stable_id("spa", &[e.id.as_str(), host_id.as_str(), &pos]),
                kind: ConflictType::Spatial,
                severity: Severity::Medium,
                element: e.id.clone(),
                tag: e.tag.clone(),
                property: Some("ref.host".into()),
                base: None,
                local: None,
                remote: None,
                others: Vec::new(),
                related: vec![host_id.clone()],
                message: format!(
                    "{} is {:.0} {} off its host wall {}",
                    e.tag,
                    dist - thickness / 2.0,
                    cx.cache.meta.units,
                    host.tag
                ),
                unit: Some(cx.cache.meta.units.clone()),
            });
        }
    }
    if is_equipment(e.kind) {
        for other_id in cx.cache.ids_in(e.bounds().expand(OVERLAP_TOLERANCE)) {
            if other_id == &e.id {
                continue;
            }
            let Some(o) = cx.cache.elements.get(other_id) else {
                continue;
            };
            if o.kind != e.kind || o.floor != e.floor || o.deleted {
                continue;
            }
            let d = ((o.transform.x - e.transform.x).powi(2)
                + (o.transform.y - e.transform.y).powi(2))
            .sqrt();
            if d >= OVERLAP_TOLERANCE {
                continue;
            }
            let (a, b) = if e.id < o.id { (e, o) } else { (o, e) };
            let pos = format!(
                "{:.0},{:.0},{:.0},{:.0}",
                a.transform.x, a.transform.y, b.transform.x, b.transform.y
            );
            out.push(Conflict {
                id: stable_id("spa", &[a.id.as_str(), b.id.as_str(), &pos]),
                kind: ConflictType::Spatial,
                severity: Severity::Low,
                element: a.id.clone(),
                tag: a.tag.clone(),
                property: None,
                base: None,
                local: None,
                remote: None,
                others: Vec::new(),
                related: vec![b.id.clone()],
                message: format!(
                    "{} and {} overlap ({d:.0} {} apart)",
                    a.tag, b.tag, cx.cache.meta.units
                ),
                unit: Some(cx.cache.meta.units.clone()),
            });
        }
    }
}

/// Area of a polygon in square metres (coordinates in millimetres).
fn area_m2(points: &[Point]) -> f64 {
    let twice: f64 = points
        .iter()
        .zip(points.iter().cycle().skip(1))
        .map(|(a, b)| a.x * b.y - b.x * a.y)
        .sum();
    twice.abs() / 2.0 / 1e6
}

fn duplicate_tags(cx: &Ctx<'_>, e: &Element, out: &mut Vec<Conflict>) {
    // Concurrent edits can give two elements one tag; every command that names it then fails.
    if let Some(owners) = cx.cache.tags.get(&e.tag)
        && owners.len() > 1
    {
        let ids: Vec<&str> = owners.iter().map(ElementId::as_str).collect();
        let first = owners
            .iter()
            .next()
            .cloned()
            .unwrap_or_else(|| e.id.clone());
        let mut parts = vec![e.tag.as_str()];
        parts.extend(ids.iter().copied());
        out.push(Conflict {
            id: stable_id("con", &parts),
            kind: ConflictType::Constraint,
            severity: Severity::Medium,
            element: first,
            tag: e.tag.clone(),
            property: Some("tag".into()),
            unit: None,
            base: None,
            local: None,
            remote: None,
            others: Vec::new(),
            related: owners.iter().skip(1).cloned().collect(),
            message: format!(
                "tag {} is used by {} elements; retag all but one",
                e.tag,
                owners.len()
            ),
        });
    }
}

fn constraints(cx: &Ctx<'_>, e: &Element, out: &mut Vec<Conflict>) {
    for (rule_id, rule) in &cx.rules {
        let (key, message, current) = match rule {
            Rule::Allowed {
                kind,
                property,
                values,
            } => {
                if kind.as_deref().is_some_and(|k| k != e.kind.as_str()) {
                    continue;
                }
                let Some(p) = e.props.get(property) else {
                    continue;
                };
                let v = p.value.to_string();
                if values.iter().any(|a| a == &v) {
                    continue;
                }
                (
                    format!("{}{property}", schema::PROP_PREFIX),
                    format!(
                        "{}.{property} = {v} is not one of {}",
                        e.tag,
                        values.join(", ")
                    ),
                    v,
                )
            }
            Rule::Required { kind, property } => {
                if kind != e.kind.as_str() || e.props.contains_key(property) {
                    continue;
                }
                (
                    format!("{}{property}", schema::PROP_PREFIX),
                    format!("{} has no {property} (required for every {kind})", e.tag),
                    String::new(),
                )
            }
            Rule::MinArea { min_m2 } => {
                let (ElementKind::Room, Geometry::Polygon { points }) = (e.kind, &e.geometry)
                else {
                    continue;
                };
                let a = area_m2(points);
                if a >= *min_m2 {
                    continue;
                }
                (
                    "points".to_owned(),
                    format!("{} is {a:.1} m², below the minimum {min_m2} m²", e.tag),
                    format!("{a:.3}"),
                )
            }
            _ => continue,
        };
        out.push(Conflict {
            id: stable_id("con", &[rule_id, e.id.as_str(), &current]),
            kind: ConflictType::Constraint,
            severity: if cx.critical_layers.contains(e.layer.as_str()) {
                Severity::Critical
            } else {
                Severity::High
            },
            element: e.id.clone(),
            tag: e.tag.clone(),
            property: Some(key),
            unit: None,
            base: None,
            local: None,
            remote: None,
            others: Vec::new(),
            related: Vec::new(),
            message,
        });
    }
}
