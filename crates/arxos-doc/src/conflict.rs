//! Conflicts: what concurrent editing left for people to decide, and how they decide it.
//!
//! Automerge never loses a concurrent value: when two replicas write the same key without
//! seeing each other's write, both values stay in the document (`get_all`) and one wins
//! deterministically. Arxos turns that, and four other situations, into visible conflicts:
//!
//! - **property**: a key holding several different concurrent values;
//! - **delete-vs-edit**: an element deleted while someone else edited it (the edit is kept:
//!   deletion is a tombstone, so the element can be restored with the edit);
//! - **relationship**: a reference to an element that is missing or deleted;
//! - **spatial**: equipment of one kind on top of each other, or a door/window off its host
//!   wall;
//! - **constraint**: a rule stored in the document violated (allowed values, required
//!   properties, minimum room area).
//!
//! Conflicts are a pure function of the document state (plus which side counts as *local*),
//! so every replica lists the same ones with the same ids. A resolution is an ordinary write
//! (a key written after seeing every concurrent value supersedes them all; an acknowledgement
//! record dismisses a spatial or constraint finding), so it syncs and clears everywhere.

mod ancestry;
mod detect;
mod resolve;
pub mod rules;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use automerge::ChangeHash;
use serde::Serialize;

use crate::document::{ChangeSet, Document};
use crate::ids::ElementId;
use crate::model::PropValue;

pub use resolve::{AutoResolution, Choice, auto_resolve, resolution, resolve};

/// What kind of conflict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConflictType {
    /// Concurrent values of one key.
    Property,
    /// Deleted on one side, edited on the other.
    DeleteVsEdit,
    /// A reference to a missing or deleted element.
    Relationship,
    /// Overlapping equipment, or a hosted element off its host.
    Spatial,
    /// A document rule violated.
    Constraint,
}

impl ConflictType {
    /// Name used in output.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Property => "property",
            Self::DeleteVsEdit => "delete-vs-edit",
            Self::Relationship => "relationship",
            Self::Spatial => "spatial",
            Self::Constraint => "constraint",
        }
    }
}

impl fmt::Display for ConflictType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How urgent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Cosmetic.
    Low,
    /// Should be looked at.
    Medium,
    /// Someone's work is at stake.
    High,
    /// Safety or a critical layer.
    Critical,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        })
    }
}

/// One side's value with who wrote it and when.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Side {
    /// The value (`None`: the key is absent on that side / the element is deleted).
    pub value: Option<PropValue>,
    /// Author of the change that wrote it.
    pub author: String,
    /// When, milliseconds since the Unix epoch.
    pub time_ms: i64,
    /// The change (hex hash).
    pub change: String,
}

/// The unit of the value an element holds under the flat `key`: a property's own unit, else
/// the well-known unit of its name; the plan's units (`plan_units`) for a position or a size;
/// degrees for the rotation; `None` for everything else (text, flags, references, tags).
pub fn unit_of_key(e: &crate::model::Element, key: &str, plan_units: &str) -> Option<String> {
    if let Some(name) = key.strip_prefix(crate::schema::PROP_PREFIX) {
        let p = e.props.get(name);
        if p.is_some_and(|p| !matches!(p.value, PropValue::Number(_))) {
            return None;
        }
        return p.and_then(|p| p.unit.clone()).or_else(|| {
            crate::props::known(name)
                .and_then(|(_, u)| u)
                .map(str::to_owned)
        });
    }
    match key {
        "x" | "y" | "width" | "height" | "radius" => Some(plan_units.to_owned()),
        "rotation" => Some("°".to_owned()),
        _ => None,
    }
}

/// One conflict.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Conflict {
    /// Stable id (the same on every replica while the situation lasts).
    pub id: String,
    /// Kind.
    #[serde(rename = "type")]
    pub kind: ConflictType,
    /// Urgency.
    pub severity: Severity,
    /// The element concerned.
    pub element: ElementId,
    /// Its tag.
    pub tag: String,
    /// The property key (`props.voltage`, `x`, `ref.host`...), when one is concerned.
    pub property: Option<String>,
    /// The unit the values (or the distance in the message) are in: the property's unit, the
    /// plan's units for positions and distances, `°` for a rotation ([`unit_of_key`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// The value both sides started from.
    pub base: Option<PropValue>,
    /// Our side.
    pub local: Option<Side>,
    /// Their side.
    pub remote: Option<Side>,
    /// Further concurrent values (three or more replicas).
    pub others: Vec<Side>,
    /// Other elements involved (overlapping twin, missing target, host wall).
    pub related: Vec<ElementId>,
    /// One line for people.
    pub message: String,
}

/// Which writes count as "local" when a conflict is shown as local vs remote.
#[derive(Clone, Debug, Default)]
pub enum LocalSide {
    /// Changes contained in these heads are local (e.g. our heads before a merge).
    Heads(Vec<ChangeHash>),
    /// No context: the value the document shows now is local, competing values remote.
    #[default]
    Winner,
}

impl LocalSide {
    /// What "local" means in a conflict view, in one line.
    pub fn describe(&self) -> &'static str {
        match self {
            Self::Heads(_) => {
                "local = this file's values before its last merge (recorded in the \
                 .replica.json beside it), remote = what that merge brought"
            }
            Self::Winner => {
                "local = the value the plan shows now, remote = the competing values (no \
                 merge is recorded beside this file: a copy or move leaves that record behind)"
            }
        }
    }

    /// A short name for scripts: `before-last-merge` or `shown-value`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Heads(_) => "before-last-merge",
            Self::Winner => "shown-value",
        }
    }
}

/// The conflicts of a document, kept up to date incrementally from change sets.
#[derive(Clone, Debug, Default)]
pub struct ConflictIndex {
    by_id: BTreeMap<String, Conflict>,
    local: LocalSide,
}

impl ConflictIndex {
    /// Scans the whole document.
    pub fn scan(doc: &mut Document, local: LocalSide) -> Self {
        let mut idx = Self {
            by_id: BTreeMap::new(),
            local,
        };
        let all: BTreeSet<ElementId> = doc.cache.elements.keys().cloned().collect();
        idx.rescan(doc, &all);
        idx
    }

    /// Re-checks only what `changes` touched (and its neighbours: elements referring to it,
    /// equipment near it). Rules or acknowledgements changing trigger a full scan.
    pub fn update(&mut self, doc: &mut Document, changes: &ChangeSet) {
        use crate::schema::root;
        if changes.other.contains(root::RULES) {
            let all: BTreeSet<ElementId> = doc.cache.elements.keys().cloned().collect();
            self.by_id.clear();
            self.rescan(doc, &all);
            return;
        }
        let touched: BTreeSet<ElementId> = changes
            .added
            .iter()
            .chain(&changes.updated)
            .chain(&changes.removed)
            .cloned()
            .collect();
        if touched.is_empty() {
            return;
        }
        let affected = detect::neighbourhood(doc, &touched);
        self.rescan(doc, &affected);
    }

    fn rescan(&mut self, doc: &mut Document, elements: &BTreeSet<ElementId>) {
        self.by_id.retain(|_, c| {
            !elements.contains(&c.element) && !c.related.iter().any(|r| elements.contains(r))
        });
        for c in detect::detect(doc, elements, &self.local) {
            self.by_id.insert(c.id.clone(), c);
        }
    }

    /// Open conflicts (acknowledged ones left out), most severe first.
    pub fn list(&self, doc: &Document) -> Vec<Conflict> {
        let acks = doc.records(crate::command::RecordSet::Acks);
        let mut v: Vec<Conflict> = self
            .by_id
            .values()
            .filter(|c| !acks.contains_key(&c.id))
            .cloned()
            .collect();
        v.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then(a.kind.cmp(&b.kind))
                .then(a.tag.cmp(&b.tag))
                .then(a.id.cmp(&b.id))
        });
        v
    }

    /// One conflict by id (or unique id prefix).
    pub fn get(&self, id: &str) -> Option<&Conflict> {
        self.by_id.get(id).or_else(|| {
            let mut it = self
                .by_id
                .range(id.to_owned()..)
                .take_while(|(k, _)| k.starts_with(id));
            match (it.next(), it.next()) {
                (Some((_, c)), None) => Some(c),
                _ => None,
            }
        })
    }

    /// Number of open conflicts.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

impl ConflictIndex {
    /// How many conflicts [`ConflictIndex::list`] shows (acknowledged ones left out), without
    /// copying them.
    pub fn open_count(&self, doc: &Document) -> usize {
        let acks = doc.records(crate::command::RecordSet::Acks);
        self.by_id
            .keys()
            .filter(|id| !acks.contains_key(*id))
            .count()
    }
}
