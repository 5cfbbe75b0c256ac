//! The one place commands become writes: validate every command of a batch against the
//! current state (plus the batch's own earlier commands), then write only the keys that change.

use std::collections::{BTreeMap, BTreeSet};

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjType};
use fractional_index::FractionalIndex;

use crate::command::{Command, NewElement, RecordSet, ZPosition};
use crate::error::{DocError, Result};
use crate::ids::{ElementId, FloorId, LayerId};
use crate::index::{Cache, Written};
use crate::model::{Element, ElementKind, Floor, Layer, Meta, Property};
use crate::props;
use crate::schema::{self, Stored, root};

pub(crate) mod check;

/// The validated outcome of a batch: the new state of everything it touches.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    /// Keys written even when unchanged (conflict resolution).
    forced: Vec<(ElementId, String, Option<Stored>)>,
    /// Record writes, in order.
    records: Vec<RecordOp>,
    meta: Option<Meta>,
    floors: BTreeMap<FloorId, Floor>,
    layers: BTreeMap<LayerId, Layer>,
    elements: BTreeMap<ElementId, Element>,
}

#[derive(Debug)]
enum RecordOp {
    Put(RecordSet, String, BTreeMap<String, Stored>),
    Delete(RecordSet, String),
}

/// What a plan writes besides elements, for refreshing the read model without a diff.
pub(crate) struct Touched {
    pub floors: bool,
    pub layers: bool,
    pub meta: bool,
    pub other: BTreeSet<String>,
}

impl Plan {
    pub(crate) fn touched(&self) -> Touched {
        Touched {
            floors: !self.floors.is_empty(),
            layers: !self.layers.is_empty(),
            meta: self.meta.is_some(),
            other: self
                .records
                .iter()
                .map(|r| match r {
                    RecordOp::Put(set, _, _) | RecordOp::Delete(set, _) => set.root().to_owned(),
                })
                .collect(),
        }
    }
}

struct Planner<'a> {
    cache: &'a Cache,
    plan: Plan,
    /// Tags of elements in `plan.elements` (live ones), to check uniqueness within a batch.
    batch_tags: BTreeMap<String, BTreeSet<ElementId>>,
    /// Pre-allocated z keys for creates that go on top.
    top_keys: std::vec::IntoIter<String>,
}

/// Validates a batch. Nothing is written.
pub(crate) fn plan(cache: &Cache, cmds: Vec<Command>) -> Result<Plan> {
    let on_top = cmds
        .iter()
        .filter(|c| matches!(c, Command::Create(n) if n.z.is_none()))
        .count();
    let top = cache
        .zorder
        .last()
        .and_then(|(z, _)| FractionalIndex::from_string(z).ok());
    let mut p = Planner {
        cache,
        plan: Plan::default(),
        batch_tags: BTreeMap::new(),
        top_keys: keys_after(top.as_ref(), on_top).into_iter(),
    };
    for cmd in cmds {
        p.command(cmd)?;
    }
    Ok(p.plan)
}

/// `n` increasing z keys above `lower`, kept short by bisection (sequential `new_after` would
/// grow a key by one byte every 127 elements).
fn keys_after(lower: Option<&FractionalIndex>, n: usize) -> Vec<String> {
    fn fill(lo: &FractionalIndex, hi: &FractionalIndex, n: usize, out: &mut Vec<String>) {
        if n == 0 {
            return;
        }
        let Some(mid) = FractionalIndex::new_between(lo, hi) else {
            // Cannot happen for lo < hi; degrade to sequential keys rather than fail.
            let mut k = lo.clone();
            for _ in 0..n {
                k = FractionalIndex::new_after(&k);
                out.push(k.to_string());
            }
            return;
        };
        let left = (n - 1) / 2;
        fill(lo, &mid, left, out);
        out.push(mid.to_string());
        fill(&mid, hi, n - 1 - left, out);
    }
    let lo = lower.cloned().unwrap_or_default();
    let hi = FractionalIndex::new_after(&FractionalIndex::new_after(&lo));
    let mut out = Vec::with_capacity(n);
    fill(&lo, &hi, n, &mut out);
    out
}

impl Planner<'_> {
    fn floor_exists(&self, id: &FloorId) -> bool {
        self.plan.floors.contains_key(id) || self.cache.floors.contains_key(id)
    }

    fn layer_exists(&self, id: &LayerId) -> bool {
        self.plan.layers.contains_key(id) || self.cache.layers.contains_key(id)
    }

    /// Current state of an element as this batch sees it (live or deleted).
    fn current(&self, id: &ElementId) -> Option<&Element> {
        self.plan
            .elements
            .get(id)
            .or_else(|| self.cache.elements.get(id))
    }

    fn live(&self, id: &ElementId) -> Result<Element> {
        self.current(id)
            .filter(|e| !e.deleted)
            .cloned()
            .ok_or_else(|| DocError::UnknownElement(id.to_string()))
    }

    fn tag_taken(&self, tag: &str, by: &ElementId) -> bool {
        let in_batch = self
            .batch_tags
            .get(tag)
            .is_some_and(|ids| ids.iter().any(|i| i != by));
        let in_doc = self.cache.tags.get(tag).is_some_and(|ids| {
            ids.iter()
                .any(|i| i != by && !self.plan.elements.contains_key(i))
        });
        in_batch || in_doc
    }

    fn floor_mut(&mut self, id: &FloorId) -> Result<&mut Floor> {
        if !self.plan.floors.contains_key(id) {
            let f = self
                .cache
                .floors
                .get(id)
                .cloned()
                .ok_or_else(|| DocError::UnknownFloor(id.to_string()))?;
            self.plan.floors.insert(id.clone(), f);
        }
        self.plan
            .floors
            .get_mut(id)
            .ok_or_else(|| DocError::UnknownFloor(id.to_string()))
    }

    fn layer_mut(&mut self, id: &LayerId) -> Result<&mut Layer> {
        if !self.plan.layers.contains_key(id) {
            let l = self
                .cache
                .layers
                .get(id)
                .cloned()
                .ok_or_else(|| DocError::UnknownLayer(id.to_string()))?;
            self.plan.layers.insert(id.clone(), l);
        }
        self.plan
            .layers
            .get_mut(id)
            .ok_or_else(|| DocError::UnknownLayer(id.to_string()))
    }

    /// Validates the element's whole state and records it in the plan.
    fn stage(&mut self, e: Element) -> Result<()> {
        let name = || {
            if e.tag.is_empty() {
                e.id.to_string()
            } else {
                e.tag.clone()
            }
        };
        props::validate_tag(&e.tag)?;
        if e.deleted {
            // A tombstone keeps whatever it had; its links and tag are checked on restore.
            self.plan.elements.insert(e.id.clone(), e);
            return Ok(());
        }
        let own = check::OwnValues {
            name: &name(),
            geometry: &e.geometry,
            transform: &e.transform,
            style: &e.style,
            text: e.text.as_deref(),
            props: &e.props,
            refs: &e.refs,
        };
        own.check_text()?;
        if self.tag_taken(&e.tag, &e.id) {
            return Err(DocError::DuplicateTag(e.tag.clone()));
        }
        if !self.floor_exists(&e.floor) {
            return Err(DocError::UnknownFloor(e.floor.to_string()));
        }
        if !self.layer_exists(&e.layer) {
            return Err(DocError::UnknownLayer(e.layer.to_string()));
        }
        own.check_values()?;
        for (k, target) in &e.refs {
            let Some(t) = self.current(target).filter(|t| !t.deleted) else {
                return Err(DocError::MissingReference {
                    element: name(),
                    name: k.clone(),
                    target: target.to_string(),
                });
            };
            if target == &e.id {
                return Err(DocError::InvalidGeometry(format!(
                    "{} cannot reference itself through `{k}`",
                    name()
                )));
            }
            if k == "host" && t.kind != ElementKind::Wall {
                return Err(DocError::MissingReference {
                    element: name(),
                    name: k.clone(),
                    target: format!("{} (a {}, not a wall)", t.tag, t.kind),
                });
            }
        }
        // Keep the batch tag index in step.
        if let Some(prev) = self.plan.elements.get(&e.id)
            && let Some(set) = self.batch_tags.get_mut(&prev.tag)
        {
            set.remove(&e.id);
        }
        self.batch_tags
            .entry(e.tag.clone())
            .or_default()
            .insert(e.id.clone());
        self.plan.elements.insert(e.id.clone(), e);
        Ok(())
    }

    fn edit(&mut self, id: &ElementId, f: impl FnOnce(&mut Element) -> Result<()>) -> Result<()> {
        let mut e = self.live(id)?;
        f(&mut e)?;
        self.stage(e)
    }

    fn z_for(&mut self, id: &ElementId, to: &ZPosition) -> Result<String> {
        let parse = |z: &str| FractionalIndex::from_string(z).unwrap_or_default();
        let order = &self.cache.zorder;
        let key = match to {
            ZPosition::Top => {
                let top = order.last().map(|(z, _)| parse(z)).unwrap_or_default();
                FractionalIndex::new_after(&top)
            }
            ZPosition::Bottom => {
                let bottom = order.first().map(|(z, _)| parse(z)).unwrap_or_default();
                FractionalIndex::new_before(&bottom)
            }
            ZPosition::Above(other) | ZPosition::Below(other) => {
                if other == id {
                    return Err(DocError::InvalidGeometry(
                        "cannot reorder an element relative to itself".into(),
                    ));
                }
                let o = self.live(other)?;
                let pivot = (o.z.clone(), o.id.clone());
                let neighbour = if matches!(to, ZPosition::Above(_)) {
                    order
                        .range((std::ops::Bound::Excluded(pivot), std::ops::Bound::Unbounded))
                        .find(|(_, i)| i != id)
                } else {
                    order.range(..pivot).rev().find(|(_, i)| i != id)
                };
                let here = parse(&o.z);
                match (to, neighbour) {
                    (ZPosition::Above(_), Some((z, _))) => {
                        FractionalIndex::new_between(&here, &parse(z))
                            .unwrap_or_else(|| FractionalIndex::new_after(&here))
                    }
                    (ZPosition::Above(_), None) => FractionalIndex::new_after(&here),
                    (_, Some((z, _))) => FractionalIndex::new_between(&parse(z), &here)
                        .unwrap_or_else(|| FractionalIndex::new_before(&here)),
                    (_, None) => FractionalIndex::new_before(&here),
                }
            }
        };
        Ok(key.to_string())
    }

    fn create(&mut self, n: NewElement) -> Result<()> {
        let id = n.id.unwrap_or_else(ElementId::random);
        if self.current(&id).is_some() {
            return Err(DocError::InvalidGeometry(format!(
                "an element with id `{id}` already exists"
            )));
        }
        let z = match n.z {
            Some(z) => z,
            None => match self.top_keys.next() {
                Some(z) => z,
                None => self.z_for(&id, &ZPosition::Top)?,
            },
        };
        let mut props = n.props;
        for (k, p) in &mut props {
            if p.unit.is_none()
                && let Some((_, Some(u))) = props::known(k)
            {
                p.unit = Some(u.to_owned());
            }
        }
        self.stage(Element {
            id,
            kind: n.kind,
            tag: n.tag,
            floor: n.floor,
            layer: n.layer,
            geometry: n.geometry,
            transform: n.transform,
            style: n.style,
            text: n.text,
            props,
            refs: n.refs,
            z,
            deleted: false,
        })
    }

    #[allow(clippy::too_many_lines)] // one arm per command reads best in one place
    fn command(&mut self, cmd: Command) -> Result<()> {
        match &cmd {
            Command::SetMeta { name, units } => {
                props::check_text("plan name", name.as_deref())?;
                props::check_text("plan units", units.as_deref())?;
            }
            Command::AddFloor { id, name, .. } => {
                props::check_text("floor id", Some(id.as_str()))?;
                props::check_text("floor name", Some(name))?;
            }
            Command::UpdateFloor { name, .. } => props::check_text("floor name", name.as_deref())?,
            Command::AddLayer {
                id, name, color, ..
            } => {
                props::check_text("layer id", Some(id.as_str()))?;
                props::check_text("layer name", Some(name))?;
                props::check_text("layer colour", Some(color))?;
            }
            Command::UpdateLayer { name, color, .. } => {
                props::check_text("layer name", name.as_deref())?;
                props::check_text("layer colour", color.as_deref())?;
            }
            _ => {}
        }
        match cmd {
            Command::SetMeta { name, units } => {
                let mut m = self
                    .plan
                    .meta
                    .clone()
                    .unwrap_or_else(|| self.cache.meta.clone());
                if let Some(n) = name {
                    m.name = n;
                }
                if let Some(u) = units {
                    m.units = u;
                }
                self.plan.meta = Some(m);
            }
            Command::AddFloor {
                id,
                name,
                elevation_mm,
                order,
            } => {
                if self.floor_exists(&id) {
                    return Err(DocError::InvalidGeometry(format!(
                        "floor `{id}` already exists"
                    )));
                }
                self.plan.floors.insert(
                    id.clone(),
                    Floor {
                        id,
                        name,
                        elevation_mm,
                        order,
                    },
                );
            }
            Command::UpdateFloor {
                id,
                name,
                elevation_mm,
                order,
            } => {
                let f = self.floor_mut(&id)?;
                if let Some(n) = name {
                    f.name = n;
                }
                if let Some(e) = elevation_mm {
                    f.elevation_mm = e;
                }
                if let Some(o) = order {
                    f.order = o;
                }
            }
            Command::AddLayer {
                id,
                name,
                system,
                color,
                visible,
            } => {
                if self.layer_exists(&id) {
                    return Err(DocError::InvalidGeometry(format!(
                        "layer `{id}` already exists"
                    )));
                }
                self.plan.layers.insert(
                    id.clone(),
                    Layer {
                        id,
                        name,
                        system,
                        visible,
                        color,
                    },
                );
            }
            Command::UpdateLayer {
                id,
                name,
                color,
                visible,
            } => {
                let l = self.layer_mut(&id)?;
                if let Some(n) = name {
                    l.name = n;
                }
                if let Some(c) = color {
                    l.color = c;
                }
                if let Some(v) = visible {
                    l.visible = v;
                }
            }
            Command::Create(n) => self.create(*n)?,
            Command::SetProperties { id, set, remove } => self.edit(&id, |e| {
                for k in remove {
                    if e.props.remove(&k).is_none() {
                        return Err(DocError::UnknownProperty {
                            element: e.tag.clone(),
                            property: k,
                        });
                    }
                }
                for (k, mut p) in set {
                    props::validate_name(&k)?;
                    if let Some(old) = e.props.get(&k) {
                        if std::mem::discriminant(&old.value) != std::mem::discriminant(&p.value) {
                            return Err(DocError::WrongPropertyType {
                                element: e.tag.clone(),
                                property: k,
                                expected: old.value.type_name(),
                                found: p.value.type_name(),
                            });
                        }
                        if p.unit.is_none() {
                            p.unit.clone_from(&old.unit);
                        }
                    } else if p.unit.is_none()
                        && let Some((_, Some(u))) = props::known(&k)
                    {
                        p.unit = Some(u.to_owned());
                    }
                    e.props.insert(k, p);
                }
                Ok(())
            })?,
            Command::SetTag { id, tag } => self.edit(&id, |e| {
                e.tag = tag;
                Ok(())
            })?,
            Command::SetText { id, text } => self.edit(&id, |e| {
                e.text = text;
                Ok(())
            })?,
            Command::SetStyle { id, style } => self.edit(&id, |e| {
                e.style = style;
                Ok(())
            })?,
            Command::Move { ids, dx, dy } => {
                for id in ids {
                    self.edit(&id, |e| {
                        e.transform.x += dx;
                        e.transform.y += dy;
                        Ok(())
                    })?;
                }
            }
            Command::MoveTo { id, x, y } => self.edit(&id, |e| {
                e.transform.x = x;
                e.transform.y = y;
                Ok(())
            })?,
            Command::Rotate { id, rotation_deg } => self.edit(&id, |e| {
                e.transform.rotation = rotation_deg.rem_euclid(360.0);
                Ok(())
            })?,
            Command::SetGeometry { id, geometry } => self.edit(&id, |e| {
                e.geometry = geometry;
                Ok(())
            })?,
            Command::SetLayer { ids, layer } => {
                for id in ids {
                    let layer = layer.clone();
                    self.edit(&id, |e| {
                        e.layer = layer;
                        Ok(())
                    })?;
                }
            }
            Command::SetFloor { ids, floor } => {
                for id in ids {
                    let floor = floor.clone();
                    self.edit(&id, |e| {
                        e.floor = floor;
                        Ok(())
                    })?;
                }
            }
            Command::SetReference { id, name, target } => self.edit(&id, |e| {
                props::validate_name(&name)?;
                match target {
                    Some(t) => {
                        e.refs.insert(name, t);
                    }
                    None => {
                        e.refs.remove(&name);
                    }
                }
                Ok(())
            })?,
            Command::Reorder { id, to } => {
                let z = self.z_for(&id, &to)?;
                self.edit(&id, |e| {
                    e.z = z;
                    Ok(())
                })?;
            }
            Command::Delete { ids } => {
                for id in ids {
                    self.edit(&id, |e| {
                        e.deleted = true;
                        Ok(())
                    })?;
                }
            }
            Command::Replace(e) => {
                if self.current(&e.id).is_none() {
                    return Err(DocError::UnknownElement(e.id.to_string()));
                }
                self.stage(*e)?;
            }
            Command::ResolveKey { id, key, value } => {
                let cur = self
                    .current(&id)
                    .cloned()
                    .ok_or_else(|| DocError::UnknownElement(id.to_string()))?;
                let mut flat = schema::element_to_flat(&cur);
                let stored = value.as_ref().map(Stored::from);
                match &stored {
                    Some(v) => flat.insert(key.clone(), v.clone()),
                    None => flat.remove(&key),
                };
                let e = schema::element_from_flat(id.as_str(), &flat).ok_or_else(|| {
                    DocError::InvalidGeometry(format!(
                        "`{}` would not be a valid element with `{key}` = {}",
                        cur.tag,
                        value
                            .as_ref()
                            .map_or("(nothing)".into(), ToString::to_string)
                    ))
                })?;
                self.stage(e)?;
                self.plan.forced.push((id, key, stored));
            }
            Command::PutRecord { set, id, fields } => {
                props::check_text("record id", Some(&id))?;
                if id.is_empty() {
                    return Err(DocError::InvalidPropertyName(id));
                }
                let mut out = BTreeMap::new();
                for (k, v) in fields {
                    props::validate_name(&k)?;
                    if let crate::PropValue::Text(t) = &v {
                        props::check_text(&format!("{set:?} {id}.{k}"), Some(t))?;
                    }
                    out.insert(k, Stored::from(&v));
                }
                self.plan.records.push(RecordOp::Put(set, id, out));
            }
            Command::DeleteRecord { set, id } => {
                self.plan.records.push(RecordOp::Delete(set, id));
            }
            Command::Restore { ids } => {
                for id in ids {
                    let mut e = self
                        .current(&id)
                        .cloned()
                        .ok_or_else(|| DocError::UnknownElement(id.to_string()))?;
                    if !e.deleted {
                        continue;
                    }
                    e.deleted = false;
                    // A reference to something deleted since is dropped rather than
                    // blocking the restore; the conflict panel reports such links.
                    let dangling: Vec<String> = e
                        .refs
                        .iter()
                        .filter(|(_, t)| self.current(t).is_none_or(|t| t.deleted))
                        .map(|(k, _)| k.clone())
                        .collect();
                    for k in dangling {
                        tracing::info!(element = %e.tag, reference = %k, "restored without a dangling reference");
                        e.refs.remove(&k);
                    }
                    self.stage(e)?;
                }
            }
        }
        Ok(())
    }
}

/// Writes a validated plan into the open transaction of `am`, and returns the elements as
/// written (decoded from exactly the keys written, so the read model can take them as they
/// are).
pub(crate) fn write(am: &mut AutoCommit, cache: &Cache, plan: &Plan) -> Result<Vec<Written>> {
    if let Some(m) = &plan.meta {
        schema::write_meta(am, m)?;
    }
    if !plan.floors.is_empty() {
        let floors = schema::root_map(am, root::FLOORS).ok_or_else(|| missing(root::FLOORS))?;
        for f in plan.floors.values() {
            schema::write_floor(am, &floors, f)?;
        }
    }
    if !plan.layers.is_empty() {
        let layers = schema::root_map(am, root::LAYERS).ok_or_else(|| missing(root::LAYERS))?;
        for l in plan.layers.values() {
            schema::write_layer(am, &layers, l)?;
        }
    }
    for op in &plan.records {
        match op {
            RecordOp::Put(set, id, fields) => {
                let parent = schema::root_map(am, set.root()).ok_or_else(|| missing(set.root()))?;
                let obj = match schema::child_map(am, &parent, id) {
                    Some(o) => o,
                    None => am.put_object(&parent, id.as_str(), ObjType::Map)?,
                };
                let old = schema::read_flat(am, &obj);
                let mut new = old.clone();
                new.extend(fields.iter().map(|(k, v)| (k.clone(), v.clone())));
                schema::write_flat_diff(am, &obj, &old, &new)?;
            }
            RecordOp::Delete(set, id) => {
                let parent = schema::root_map(am, set.root()).ok_or_else(|| missing(set.root()))?;
                if schema::child_map(am, &parent, id).is_none() {
                    return Err(DocError::UnknownElement(format!("{set:?} record `{id}`")));
                }
                am.delete(&parent, id.as_str())?;
            }
        }
    }
    if plan.elements.is_empty() {
        return Ok(Vec::new());
    }
    let elements = schema::root_map(am, root::ELEMENTS).ok_or_else(|| missing(root::ELEMENTS))?;
    let mut written = Vec::with_capacity(plan.elements.len());
    for e in plan.elements.values() {
        let new = schema::element_to_flat(e);
        // Decoded from the flat form, not cloned, so that the read model holds what a reader
        // of the document would decode.
        let element = schema::element_from_flat(e.id.as_str(), &new);
        let mut new_obj = None;
        if let (Some(old), Some(obj)) = (
            cache.elements.get(&e.id),
            schema::child_map(am, &elements, e.id.as_str()),
        ) {
            let old = schema::element_to_flat(old);
            schema::write_flat_diff(am, &obj, &old, &new)?;
        } else {
            // A new element as one batch: Automerge splices the map and all its keys into the
            // op set at once instead of once per key (an import or `generate` makes tens of
            // thousands, and a splice costs what the document already holds).
            let value: std::collections::HashMap<String, automerge::hydrate::Value> = new
                .into_iter()
                .map(|(k, v)| (k, automerge::hydrate::Value::from(v.to_scalar())))
                .collect();
            new_obj = Some(am.batch_create_object(
                &elements,
                e.id.as_str(),
                &automerge::hydrate::Map::from(value).into(),
                false,
            )?);
        }
        written.push(Written {
            id: e.id.clone(),
            element,
            new_obj,
        });
    }
    for (id, key, value) in &plan.forced {
        let obj = schema::child_map(am, &elements, id.as_str())
            .ok_or_else(|| DocError::UnknownElement(id.to_string()))?;
        match value {
            Some(v) => {
                // Automerge skips a put of the value a key already holds alone, but the write
                // must exist so that it supersedes (has seen) every concurrent edit; writing a
                // placeholder first makes the final put a real op in this change.
                am.put(&obj, key.as_str(), automerge::ScalarValue::Null)?;
                am.put(&obj, key.as_str(), v.to_scalar())?;
            }
            None => am.delete(&obj, key.as_str())?,
        }
    }
    Ok(written)
}

fn missing(name: &str) -> DocError {
    DocError::NotAPlan {
        path: "<memory>".into(),
        reason: format!("no `{name}` map"),
    }
}

/// Sets a property with its unit (convenience for callers building `SetProperties`).
pub fn prop(value: crate::PropValue, unit: Option<&str>) -> Property {
    Property {
        value,
        unit: unit.map(str::to_owned),
    }
}
