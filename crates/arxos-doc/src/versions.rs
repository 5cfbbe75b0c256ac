//! Named versions: a label on a set of heads, and what can be done with it — list, diff any two
//! states, preview one read-only, and revert to one as a new change.
//!
//! A version is a record in the `versions` root map, keyed by its name, with the fields `name`,
//! `description`, `author`, `time_ms` and `heads` (the change hashes, hex, comma-separated:
//! records hold flat scalars only). The heads are those of the document just *before* the
//! change that writes the record, so the version names exactly the state the user saw.
//!
//! Reverting never rewrites history: [`revert_to`] computes the commands that turn the current
//! state into the version's state (elements, floors, layers, plan info) and applies them as
//! one change of kind [`ChangeKind::Revert`]. Records (versions, branches, comments, rules)
//! are not reverted: they describe the history, not the drawing.

use std::collections::BTreeMap;
use std::str::FromStr as _;

use automerge::ChangeHash;
use serde::Serialize;

use crate::command::{ChangeKind, Command, EditContext, RecordSet};
use crate::document::{ChangeSet, Document, Stats};
use crate::error::{DocError, Result};
use crate::ids::{ElementId, FloorId, LayerId};
use crate::model::{Element, ElementKind, Floor, Layer, PropValue};
use crate::schema;

/// The name that means "the current state" wherever a version name is accepted.
pub const CURRENT: &str = "current";

/// A named version of the plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Version {
    /// Unique name (the record id).
    pub name: String,
    /// Free description (may be empty).
    pub description: String,
    /// Who created it.
    pub author: String,
    /// When, milliseconds since the Unix epoch.
    pub time_ms: i64,
    /// The document heads it names (serialised as hex).
    pub heads: Vec<ChangeHash>,
}

/// Creates a named version of the current state, as one change of kind
/// [`ChangeKind::Version`]. Names are unique; `current` and `HEAD` are reserved.
pub fn create_version(
    doc: &mut Document,
    ctx: &EditContext,
    name: &str,
    description: &str,
) -> Result<Version> {
    let heads = doc.heads();
    let (version, cmd) = version_command(doc, ctx, name, description, heads)?;
    doc.apply_batch_as(
        ctx,
        ChangeKind::Version,
        &format!("create version {name}"),
        vec![cmd],
    )?;
    Ok(version)
}

/// The version [`create_version`] would make of the state at `heads`, and the command that
/// records it (to apply as kind [`ChangeKind::Version`] through another engine).
pub fn version_command(
    doc: &Document,
    ctx: &EditContext,
    name: &str,
    description: &str,
    heads: Vec<ChangeHash>,
) -> Result<(Version, Command)> {
    check_name("version", name)?;
    if doc.records(RecordSet::Versions).contains_key(name) {
        return Err(DocError::DuplicateName {
            what: "version",
            name: name.to_owned(),
        });
    }
    let version = Version {
        name: name.to_owned(),
        description: description.to_owned(),
        author: ctx.author.clone(),
        time_ms: ctx.time_ms,
        heads,
    };
    let fields = BTreeMap::from([
        text("name", &version.name),
        text("description", &version.description),
        text("author", &version.author),
        (
            "time_ms".to_owned(),
            PropValue::Number(version.time_ms as f64),
        ),
        text("heads", &encode_heads(&version.heads)),
    ]);
    let cmd = Command::PutRecord {
        set: RecordSet::Versions,
        id: name.to_owned(),
        fields,
    };
    Ok((version, cmd))
}

/// Removes the named version (one change of kind [`ChangeKind::Version`]; the states it named
/// stay in history, and the removal shows in the audit trail).
pub fn delete_version(doc: &mut Document, ctx: &EditContext, name: &str) -> Result<Version> {
    let version = get_version(doc, name)?;
    doc.apply_batch_as(
        ctx,
        ChangeKind::Version,
        &format!("delete version {name}"),
        vec![Command::DeleteRecord {
            set: RecordSet::Versions,
            id: name.to_owned(),
        }],
    )?;
    Ok(version)
}

/// Every readable version, oldest first (then by name). Damaged records are skipped with a
/// warning; [`get_version`] reports them.
pub fn list_versions(doc: &Document) -> Vec<Version> {
    let mut out: Vec<Version> = doc
        .records(RecordSet::Versions)
        .iter()
        .filter_map(|(id, fields)| match decode_version(id, fields) {
            Ok(v) => Some(v),
            Err(e) => {
                tracing::warn!(%e, "skipping a damaged version record");
                None
            }
        })
        .collect();
    out.sort_by(|a, b| a.time_ms.cmp(&b.time_ms).then(a.name.cmp(&b.name)));
    out
}

/// The version called `name`.
pub fn get_version(doc: &Document, name: &str) -> Result<Version> {
    let records = doc.records(RecordSet::Versions);
    let fields = records.get(name).ok_or_else(|| DocError::UnknownName {
        what: "version",
        name: name.to_owned(),
    })?;
    decode_version(name, fields)
}

/// Whether `name` means the current state (`current` or `HEAD`).
pub fn is_current(name: &str) -> bool {
    name.eq_ignore_ascii_case(CURRENT) || name == "HEAD"
}

/// The heads named by `spec`: a version name, or `current`/`HEAD` for the current heads.
pub fn resolve_heads(doc: &mut Document, spec: &str) -> Result<Vec<ChangeHash>> {
    if is_current(spec) {
        Ok(doc.heads())
    } else {
        Ok(get_version(doc, spec)?.heads)
    }
}

/// A read-only view of the plan as it was at a version. It derefs to [`Document`] for reading;
/// nothing can be applied to it.
#[derive(Debug)]
pub struct Preview {
    doc: Document,
}

impl Preview {
    /// Counts by floor, layer and kind, as of the version.
    pub fn stats(&mut self) -> Stats {
        self.doc.stats()
    }
}

impl std::ops::Deref for Preview {
    type Target = Document;
    fn deref(&self) -> &Document {
        &self.doc
    }
}

/// The plan as it was at `version`, read-only (a fork at the version's heads).
pub fn preview(doc: &mut Document, version: &Version) -> Result<Preview> {
    preview_at(doc, &version.heads)
}

/// The plan as it was at `heads`, read-only.
pub fn preview_at(doc: &mut Document, heads: &[ChangeHash]) -> Result<Preview> {
    Ok(Preview {
        doc: doc.fork_at(heads)?,
    })
}

/// One field that differs between two states.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FieldChange {
    /// The flat key (`x`, `tag`, `props.voltage`, `ref.host`, `deleted`, `name`...).
    pub key: String,
    /// The value in the older state (`None`: absent).
    pub old: Option<PropValue>,
    /// The value in the newer state (`None`: absent).
    pub new: Option<PropValue>,
}

/// An element that differs between two states.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ElementChange {
    /// The element.
    pub id: ElementId,
    /// Its tag (in the newer state when it has one there).
    pub tag: String,
    /// Its kind.
    pub kind: ElementKind,
    /// Every differing key. For an added element that did not exist at all before, every key
    /// with `old = None`; for a restored one, the differences from its tombstone (and so on).
    pub fields: Vec<FieldChange>,
}

/// How a floor or layer differs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StructureChangeKind {
    /// Only in the newer state.
    Added,
    /// Only in the older state.
    Removed,
    /// In both, with different fields.
    Changed,
}

/// A floor or layer that differs between two states.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StructureChange {
    /// The floor or layer id.
    pub id: String,
    /// Added, removed or changed.
    pub change: StructureChangeKind,
    /// Differing fields.
    pub fields: Vec<FieldChange>,
}

/// What differs between two states of a plan.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Diff {
    /// Elements live in the newer state and not in the older one (created or restored).
    pub added: Vec<ElementChange>,
    /// Elements live in the older state and not in the newer one (deleted).
    pub removed: Vec<ElementChange>,
    /// Elements live in both, with different values.
    pub changed: Vec<ElementChange>,
    /// Floors added, removed or changed.
    pub floors: Vec<StructureChange>,
    /// Layers added, removed or changed.
    pub layers: Vec<StructureChange>,
    /// Plan info (`name`, `units`) changed.
    pub meta: Vec<FieldChange>,
}

impl Diff {
    /// Whether the two states are the same drawing.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.changed.is_empty()
            && self.floors.is_empty()
            && self.layers.is_empty()
            && self.meta.is_empty()
    }
}

/// What changed from the state at `from` to the state at `to` (both heads of `doc`'s history).
pub fn diff(doc: &mut Document, from: &[ChangeHash], to: &[ChangeHash]) -> Result<Diff> {
    let old = doc.fork_at(from)?;
    if same_heads(to, &doc.heads()) {
        // The usual case (a version against now): no second fork to build.
        return Ok(diff_documents(&old, doc));
    }
    let new = doc.fork_at(to)?;
    Ok(diff_documents(&old, &new))
}

fn same_heads(a: &[ChangeHash], b: &[ChangeHash]) -> bool {
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort_unstable();
    b.sort_unstable();
    a == b
}

/// What changed from `old` to `new` (two states of the same plan, e.g. a preview and the
/// current document).
pub fn diff_documents(old: &Document, new: &Document) -> Diff {
    let mut d = Diff::default();
    let mut ids: Vec<&ElementId> = old
        .elements()
        .chain(old.deleted_elements())
        .map(|e| &e.id)
        .chain(new.elements().chain(new.deleted_elements()).map(|e| &e.id))
        .collect();
    ids.sort();
    ids.dedup();
    for id in ids {
        let before = old.element_any(id);
        let after = new.element_any(id);
        if before == after {
            continue;
        }
        let was_live = before.is_some_and(|e| !e.deleted);
        let is_live = after.is_some_and(|e| !e.deleted);
        let Some(shown) = after.filter(|_| is_live).or(before).or(after) else {
            continue;
        };
        let change = ElementChange {
            id: id.clone(),
            tag: shown.tag.clone(),
            kind: shown.kind,
            fields: field_changes(&element_fields(before), &element_fields(after)),
        };
        match (was_live, is_live) {
            (false, true) => d.added.push(change),
            (true, false) => d.removed.push(change),
            (true, true) => d.changed.push(change),
            // Only a tombstone changed: nothing visible.
            (false, false) => {}
        }
    }
    d.floors = structure_changes(
        &old.floors()
            .values()
            .map(|f| (f.id.to_string(), floor_fields(f)))
            .collect(),
        &new.floors()
            .values()
            .map(|f| (f.id.to_string(), floor_fields(f)))
            .collect(),
    );
    d.layers = structure_changes(
        &old.layers()
            .values()
            .map(|l| (l.id.to_string(), layer_fields(l)))
            .collect(),
        &new.layers()
            .values()
            .map(|l| (l.id.to_string(), layer_fields(l)))
            .collect(),
    );
    let meta = |doc: &Document| {
        BTreeMap::from([
            text("name", &doc.meta().name),
            text("units", &doc.meta().units),
        ])
    };
    d.meta = field_changes(&meta(old), &meta(new));
    d
}

/// Reverts the plan to `version`'s state as one new change of kind [`ChangeKind::Revert`]
/// (history is kept: the revert can itself be reverted). Afterwards the live elements, floors,
/// layers and plan info equal the version's, except for floors and layers added since (no
/// command removes a floor or layer; they are left, emptied of the elements the version did
/// not have), a layer's building system (fixed when the layer is made), and references that
/// already dangled at the version on elements the revert rewrites (see [`restore_commands`]).
/// Returns an empty change set, writing nothing, when the plan already is in that state.
pub fn revert_to(doc: &mut Document, ctx: &EditContext, version: &Version) -> Result<ChangeSet> {
    let target = doc.fork_at(&version.heads)?;
    let cmds = restore_commands(doc, &target);
    if cmds.is_empty() {
        return Ok(ChangeSet::default());
    }
    doc.apply_batch_as(
        ctx,
        ChangeKind::Revert,
        &format!("revert to version {}", version.name),
        cmds,
    )
}

/// The commands that turn `current`'s drawing into `target`'s (an earlier state of the same
/// plan), to be applied as one batch.
///
/// The batch is ordered so that validation, which checks tags and references command by
/// command, never sees a transient clash: floors and layers first, then deletions, then every
/// element to change is first staged as a tombstone (releasing its current tag), then staged
/// in its target state without references, and finally with them. Only each element's final
/// state is written. A reference that already dangled in the target state (its element was
/// deleted while the reference stayed) is left out of a changed element, since no command can
/// write a dangling link.
pub fn restore_commands(current: &Document, target: &Document) -> Vec<Command> {
    let mut cmds = Vec::new();
    let (tm, cm) = (target.meta(), current.meta());
    if tm.name != cm.name || tm.units != cm.units {
        cmds.push(Command::SetMeta {
            name: (tm.name != cm.name).then(|| tm.name.clone()),
            units: (tm.units != cm.units).then(|| tm.units.clone()),
        });
    }
    for f in target.floors().values() {
        match current.floors().get(&f.id) {
            None => cmds.push(Command::AddFloor {
                id: f.id.clone(),
                name: f.name.clone(),
                elevation_mm: f.elevation_mm,
                order: f.order,
            }),
            Some(c) if c != f => cmds.push(update_floor(&f.id, c, f)),
            Some(_) => {}
        }
    }
    for l in target.layers().values() {
        match current.layers().get(&l.id) {
            None => cmds.push(Command::AddLayer {
                id: l.id.clone(),
                name: l.name.clone(),
                system: l.system,
                color: l.color.clone(),
                visible: l.visible,
            }),
            Some(c) if c != l => cmds.push(update_layer(&l.id, c, l)),
            Some(_) => {}
        }
    }
    // Live now, absent from the target: delete.
    let gone: Vec<ElementId> = current
        .elements()
        .filter(|e| target.element_any(&e.id).is_none())
        .map(|e| e.id.clone())
        .collect();
    if !gone.is_empty() {
        cmds.push(Command::Delete { ids: gone });
    }
    // In both, different: tombstone now, then the target state.
    let changed: Vec<(&Element, &Element)> = current
        .elements()
        .chain(current.deleted_elements())
        .filter_map(|c| {
            target
                .element_any(&c.id)
                .filter(|t| *t != c)
                .map(|t| (c, t))
        })
        .collect();
    for (c, _) in &changed {
        let mut tomb = (*c).clone();
        tomb.deleted = true;
        cmds.push(Command::Replace(Box::new(tomb)));
    }
    let mut linked = Vec::new();
    for (_, t) in &changed {
        let mut t = (*t).clone();
        if !t.deleted {
            // A reference that already dangled at the target (its element deleted while the
            // reference stayed) cannot be written again: validation refuses dangling links.
            // Dropped, as `Restore` does; the conflict panel reports such links meanwhile.
            t.refs.retain(|name, to| {
                let ok = target.element(to).is_some();
                if !ok {
                    tracing::info!(element = %t.tag, reference = %name, "reverted without a reference that dangled at the version");
                }
                ok
            });
        }
        if t.deleted || t.refs.is_empty() {
            cmds.push(Command::Replace(Box::new(t)));
        } else {
            let mut unlinked = t.clone();
            unlinked.refs.clear();
            cmds.push(Command::Replace(Box::new(unlinked)));
            linked.push(Command::Replace(Box::new(t)));
        }
    }
    cmds.extend(linked);
    cmds
}

fn update_floor(id: &FloorId, c: &Floor, t: &Floor) -> Command {
    Command::UpdateFloor {
        id: id.clone(),
        name: (c.name != t.name).then(|| t.name.clone()),
        elevation_mm: (c.elevation_mm.to_bits() != t.elevation_mm.to_bits())
            .then_some(t.elevation_mm),
        order: (c.order != t.order).then_some(t.order),
    }
}

fn update_layer(id: &LayerId, c: &Layer, t: &Layer) -> Command {
    Command::UpdateLayer {
        id: id.clone(),
        name: (c.name != t.name).then(|| t.name.clone()),
        color: (c.color != t.color).then(|| t.color.clone()),
        visible: (c.visible != t.visible).then_some(t.visible),
    }
}

fn element_fields(e: Option<&Element>) -> BTreeMap<String, PropValue> {
    e.map(|e| {
        schema::element_to_flat(e)
            .into_iter()
            .map(|(k, v)| (k, v.to_prop()))
            .collect()
    })
    .unwrap_or_default()
}

fn floor_fields(f: &Floor) -> BTreeMap<String, PropValue> {
    BTreeMap::from([
        text("name", &f.name),
        ("elevation_mm".to_owned(), PropValue::Number(f.elevation_mm)),
        ("order".to_owned(), PropValue::Number(f.order as f64)),
    ])
}

fn layer_fields(l: &Layer) -> BTreeMap<String, PropValue> {
    BTreeMap::from([
        text("name", &l.name),
        text("system", l.system.as_str()),
        text("color", &l.color),
        ("visible".to_owned(), PropValue::Bool(l.visible)),
    ])
}

/// Key-by-key differences of two flat maps, in key order.
pub fn field_changes(
    old: &BTreeMap<String, PropValue>,
    new: &BTreeMap<String, PropValue>,
) -> Vec<FieldChange> {
    let mut keys: Vec<&String> = old.keys().chain(new.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter_map(|k| {
            let (o, n) = (old.get(k), new.get(k));
            (o != n).then(|| FieldChange {
                key: k.clone(),
                old: o.cloned(),
                new: n.cloned(),
            })
        })
        .collect()
}

fn structure_changes(
    old: &BTreeMap<String, BTreeMap<String, PropValue>>,
    new: &BTreeMap<String, BTreeMap<String, PropValue>>,
) -> Vec<StructureChange> {
    let empty = BTreeMap::new();
    let mut ids: Vec<&String> = old.keys().chain(new.keys()).collect();
    ids.sort();
    ids.dedup();
    ids.into_iter()
        .filter_map(|id| {
            let change = match (old.get(id), new.get(id)) {
                (None, Some(_)) => StructureChangeKind::Added,
                (Some(_), None) => StructureChangeKind::Removed,
                (Some(o), Some(n)) if o != n => StructureChangeKind::Changed,
                _ => return None,
            };
            Some(StructureChange {
                id: id.clone(),
                change,
                fields: field_changes(old.get(id).unwrap_or(&empty), new.get(id).unwrap_or(&empty)),
            })
        })
        .collect()
}

// ---- record helpers (shared with branches) -------------------------------------------------

/// Checks a version, branch or proposal name.
pub(crate) fn check_name(what: &'static str, name: &str) -> Result<()> {
    let reason = if name.trim().is_empty() {
        "a name cannot be empty"
    } else if name.trim() != name {
        "a name cannot start or end with spaces"
    } else if name.chars().count() > 100 {
        "a name is at most 100 characters"
    } else if name.chars().any(char::is_control) {
        "a name cannot contain control characters"
    } else if is_current(name) {
        "`current` and `HEAD` mean the current state"
    } else {
        return Ok(());
    };
    Err(DocError::InvalidName {
        what,
        name: name.to_owned(),
        reason,
    })
}

pub(crate) fn text(key: &str, value: &str) -> (String, PropValue) {
    (key.to_owned(), PropValue::Text(value.to_owned()))
}

/// Heads as stored in a record: hex hashes joined by commas.
pub(crate) fn encode_heads(heads: &[ChangeHash]) -> String {
    heads
        .iter()
        .map(ChangeHash::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Reads record fields, naming the record in every error.
pub(crate) struct Fields<'a> {
    pub what: &'static str,
    pub id: &'a str,
    pub map: &'a BTreeMap<String, PropValue>,
}

impl Fields<'_> {
    fn bad(&self, reason: String) -> DocError {
        DocError::BadRecord {
            what: self.what,
            id: self.id.to_owned(),
            reason,
        }
    }

    pub fn text(&self, key: &str) -> Result<String> {
        match self.map.get(key) {
            Some(PropValue::Text(t)) => Ok(t.clone()),
            Some(other) => Err(self.bad(format!("`{key}` is a {}", other.type_name()))),
            None => Err(self.bad(format!("no `{key}`"))),
        }
    }

    pub fn text_or_default(&self, key: &str) -> String {
        match self.map.get(key) {
            Some(PropValue::Text(t)) => t.clone(),
            _ => String::new(),
        }
    }

    pub fn opt_text(&self, key: &str) -> Option<String> {
        match self.map.get(key) {
            Some(PropValue::Text(t)) if !t.is_empty() => Some(t.clone()),
            _ => None,
        }
    }

    pub fn time(&self, key: &str) -> Result<i64> {
        match self.map.get(key) {
            Some(PropValue::Number(n)) if n.is_finite() => Ok(*n as i64),
            Some(other) => Err(self.bad(format!("`{key}` is a {}", other.type_name()))),
            None => Err(self.bad(format!("no `{key}`"))),
        }
    }

    pub fn opt_time(&self, key: &str) -> Option<i64> {
        match self.map.get(key) {
            Some(PropValue::Number(n)) if n.is_finite() => Some(*n as i64),
            _ => None,
        }
    }

    pub fn flag(&self, key: &str) -> bool {
        matches!(self.map.get(key), Some(PropValue::Bool(true)))
    }

    pub fn heads(&self, key: &str) -> Result<Vec<ChangeHash>> {
        let raw = self.text(key)?;
        raw.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|h| {
                ChangeHash::from_str(h).map_err(|_| self.bad(format!("`{h}` is not a change hash")))
            })
            .collect()
    }
}

fn decode_version(id: &str, fields: &BTreeMap<String, PropValue>) -> Result<Version> {
    let f = Fields {
        what: "version",
        id,
        map: fields,
    };
    Ok(Version {
        name: f.opt_text("name").unwrap_or_else(|| id.to_owned()),
        description: f.text_or_default("description"),
        author: f.text_or_default("author"),
        time_ms: f.time("time_ms")?,
        heads: f.heads("heads")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(check_name("version", "v1.0 final").is_ok());
        for bad in ["", " x", "current", "HEAD", "a\u{7}b"] {
            assert!(
                matches!(
                    check_name("version", bad),
                    Err(DocError::InvalidName { .. })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn heads_round_trip_through_text() {
        let ctx = EditContext::at("t", 1);
        let mut doc = Document::new_plan("p", &ctx).unwrap();
        let heads = doc.heads();
        let fields = BTreeMap::from([text("heads", &encode_heads(&heads))]);
        let f = Fields {
            what: "version",
            id: "v",
            map: &fields,
        };
        assert_eq!(f.heads("heads").unwrap(), heads);
    }
}
