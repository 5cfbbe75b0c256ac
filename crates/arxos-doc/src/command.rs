//! Typed commands: the only way anything changes a plan.
//!
//! A UI, the CLI, importers and generators all build [`Command`]s and hand them to
//! [`crate::Document::apply`] or [`crate::Document::apply_batch`], which validate them and write
//! them in one Automerge transaction stamped with author and wall-clock time.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::ids::{ElementId, FloorId, LayerId};
use crate::model::{BuildingSystem, ElementKind, Geometry, Property, Style, Transform};

/// Who is editing and when; recorded in every change's metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EditContext {
    /// The author's name (user id), e.g. `user-a`.
    pub author: String,
    /// Wall-clock time of the edit, milliseconds since the Unix epoch.
    pub time_ms: i64,
}

impl EditContext {
    /// An edit by `author` happening now.
    pub fn now(author: impl Into<String>) -> Self {
        let time_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        Self {
            author: author.into(),
            time_ms,
        }
    }

    /// An edit at a fixed time (tests, replays).
    pub fn at(author: impl Into<String>, time_ms: i64) -> Self {
        Self {
            author: author.into(),
            time_ms,
        }
    }
}

/// Everything needed to create an element.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewElement {
    /// Id to use; a random one when `None` (importers pass ids to keep them stable).
    pub id: Option<ElementId>,
    /// Kind.
    pub kind: ElementKind,
    /// Human tag, unique in the document.
    pub tag: String,
    /// Floor.
    pub floor: FloorId,
    /// Layer.
    pub layer: LayerId,
    /// Local shape.
    pub geometry: Geometry,
    /// Placement.
    pub transform: Transform,
    /// Style overrides.
    pub style: Style,
    /// Text content.
    pub text: Option<String>,
    /// Properties.
    pub props: BTreeMap<String, Property>,
    /// References.
    pub refs: BTreeMap<String, ElementId>,
    /// Z position; on top of everything when `None`.
    pub z: Option<String>,
}

impl NewElement {
    /// A new element with no style, text, properties or references.
    pub fn new(
        kind: ElementKind,
        tag: impl Into<String>,
        floor: FloorId,
        layer: LayerId,
        geometry: Geometry,
        transform: Transform,
    ) -> Self {
        Self {
            id: None,
            kind,
            tag: tag.into(),
            floor,
            layer,
            geometry,
            transform,
            style: Style::default(),
            text: None,
            props: BTreeMap::new(),
            refs: BTreeMap::new(),
            z: None,
        }
    }

    /// Adds a property (builder style).
    #[must_use]
    pub fn with_prop(mut self, name: &str, value: crate::PropValue, unit: Option<&str>) -> Self {
        self.props.insert(
            name.to_owned(),
            Property {
                value,
                unit: unit.map(str::to_owned),
            },
        );
        self
    }

    /// Checks what the element carries by itself, as applying it would, without a plan: text,
    /// shape, position in range, property and reference names, finite numbers, the types of
    /// well-known properties. Floors, layers, tags and reference targets need the plan, and are
    /// checked when the element is applied.
    pub fn check_values(&self) -> crate::Result<()> {
        let own = crate::apply::check::OwnValues {
            name: &self.tag,
            geometry: &self.geometry,
            transform: &self.transform,
            style: &self.style,
            text: self.text.as_deref(),
            props: &self.props,
            refs: &self.refs,
        };
        own.check_text()?;
        own.check_values()
    }

    /// Adds a reference (builder style).
    #[must_use]
    pub fn with_ref(mut self, name: &str, target: ElementId) -> Self {
        self.refs.insert(name.to_owned(), target);
        self
    }
}

/// The kind of a change, recorded in history (and the audit trail).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    /// An ordinary edit.
    #[default]
    Edit,
    /// A drawing imported or generated.
    Import,
    /// A conflict resolved (by a person or a rule).
    Resolve,
    /// A revert to an earlier version.
    Revert,
    /// A branch merged back.
    Merge,
    /// A named version created or removed.
    Version,
    /// A branch or proposal created or updated.
    Branch,
    /// A review action on a proposal.
    Review,
    /// Conflict or constraint rules changed.
    Rule,
}

impl ChangeKind {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Edit => "edit",
            Self::Import => "import",
            Self::Resolve => "resolve",
            Self::Revert => "revert",
            Self::Merge => "merge",
            Self::Version => "version",
            Self::Branch => "branch",
            Self::Review => "review",
            Self::Rule => "rule",
        }
    }
}

/// Document-level record collections: small maps of flat fields, one key per field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordSet {
    /// Review comments.
    Comments,
    /// Conflict strategies and constraint rules.
    Rules,
    /// Named versions.
    Versions,
    /// Branches and proposals.
    Branches,
    /// Acknowledged conflicts.
    Acks,
}

impl RecordSet {
    /// The root map holding the set.
    pub fn root(self) -> &'static str {
        use crate::schema::root;
        match self {
            Self::Comments => root::COMMENTS,
            Self::Rules => root::RULES,
            Self::Versions => root::VERSIONS,
            Self::Branches => root::BRANCHES,
            Self::Acks => root::ACKS,
        }
    }
}

/// Where to put an element in the drawing order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ZPosition {
    /// Above everything.
    Top,
    /// Below everything.
    Bottom,
    /// Just above the given element.
    Above(ElementId),
    /// Just below the given element.
    Below(ElementId),
}

/// One typed edit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Command {
    /// Rename the plan or change its unit label.
    SetMeta {
        /// New name.
        name: Option<String>,
        /// New unit label.
        units: Option<String>,
    },
    /// Add a floor.
    AddFloor {
        /// Its id (use [`FloorId::random`]).
        id: FloorId,
        /// Display name.
        name: String,
        /// Elevation in millimetres.
        elevation_mm: f64,
        /// Sort order.
        order: i64,
    },
    /// Change a floor's name, elevation or order.
    UpdateFloor {
        /// Which floor.
        id: FloorId,
        /// New name.
        name: Option<String>,
        /// New elevation.
        elevation_mm: Option<f64>,
        /// New order.
        order: Option<i64>,
    },
    /// Add a layer.
    AddLayer {
        /// Its id (use [`LayerId::random`]).
        id: LayerId,
        /// Display name.
        name: String,
        /// Building system.
        system: BuildingSystem,
        /// Colour `#rrggbb`.
        color: String,
        /// Initially visible.
        visible: bool,
    },
    /// Change a layer's name, colour or visibility.
    UpdateLayer {
        /// Which layer.
        id: LayerId,
        /// New name.
        name: Option<String>,
        /// New colour.
        color: Option<String>,
        /// New visibility.
        visible: Option<bool>,
    },
    /// Create an element.
    Create(Box<NewElement>),
    /// Set and/or remove properties.
    SetProperties {
        /// Target element.
        id: ElementId,
        /// Properties to set (the unit is kept when `None` and the property had one).
        set: Vec<(String, Property)>,
        /// Properties to remove.
        remove: Vec<String>,
    },
    /// Change the human tag.
    SetTag {
        /// Target element.
        id: ElementId,
        /// New tag.
        tag: String,
    },
    /// Change text content.
    SetText {
        /// Target element.
        id: ElementId,
        /// New text, or none.
        text: Option<String>,
    },
    /// Replace the style overrides.
    SetStyle {
        /// Target element.
        id: ElementId,
        /// New style.
        style: Style,
    },
    /// Move by a delta.
    Move {
        /// Target elements.
        ids: Vec<ElementId>,
        /// X offset.
        dx: f64,
        /// Y offset.
        dy: f64,
    },
    /// Move to an absolute position.
    MoveTo {
        /// Target element.
        id: ElementId,
        /// New x.
        x: f64,
        /// New y.
        y: f64,
    },
    /// Set the absolute rotation in degrees.
    Rotate {
        /// Target element.
        id: ElementId,
        /// New rotation.
        rotation_deg: f64,
    },
    /// Replace the shape (resize a rect, edit polyline points...).
    SetGeometry {
        /// Target element.
        id: ElementId,
        /// New shape.
        geometry: Geometry,
    },
    /// Move to another layer.
    SetLayer {
        /// Target elements.
        ids: Vec<ElementId>,
        /// Destination layer.
        layer: LayerId,
    },
    /// Move to another floor.
    SetFloor {
        /// Target elements.
        ids: Vec<ElementId>,
        /// Destination floor.
        floor: FloorId,
    },
    /// Set or clear a reference.
    SetReference {
        /// Element holding the reference.
        id: ElementId,
        /// Reference name (`host`, `circuit`).
        name: String,
        /// Target, or `None` to clear.
        target: Option<ElementId>,
    },
    /// Change the drawing order.
    Reorder {
        /// Target element.
        id: ElementId,
        /// Where to.
        to: ZPosition,
    },
    /// Delete elements (tombstoned: they can be restored and concurrent edits are kept).
    Delete {
        /// Target elements.
        ids: Vec<ElementId>,
    },
    /// Bring deleted elements back.
    Restore {
        /// Target elements.
        ids: Vec<ElementId>,
    },
    /// Replace an element's whole state (revert to a version); validated like any edit.
    Replace(Box<crate::model::Element>),
    /// Write one raw key of an element even if it already holds that value: this is what
    /// settles a conflict (a write that has seen every concurrent value supersedes them all).
    /// The element must still decode and validate afterwards. `None` deletes the key.
    ResolveKey {
        /// Target element (live or deleted).
        id: ElementId,
        /// The flat key (`x`, `props.voltage`, `deleted`, `ref.host`...).
        key: String,
        /// The value to keep.
        value: Option<crate::PropValue>,
    },
    /// Create or update a record (version, branch, rule, comment, acknowledgement).
    PutRecord {
        /// Which collection.
        set: RecordSet,
        /// Record id.
        id: String,
        /// Fields to write (others are left as they are).
        fields: BTreeMap<String, crate::PropValue>,
    },
    /// Remove a record.
    DeleteRecord {
        /// Which collection.
        set: RecordSet,
        /// Record id.
        id: String,
    },
}

impl Command {
    /// A short human summary for history listings.
    pub fn summary(&self) -> String {
        match self {
            Self::SetMeta { .. } => "update plan info".into(),
            Self::AddFloor { name, .. } => format!("add floor {name}"),
            Self::UpdateFloor { id, .. } => format!("update floor {id}"),
            Self::AddLayer { name, .. } => format!("add layer {name}"),
            Self::UpdateLayer { id, .. } => format!("update layer {id}"),
            Self::Create(n) => format!("create {}", n.tag),
            Self::SetProperties { id, set, remove } => {
                let mut parts: Vec<String> = set
                    .iter()
                    .map(|(k, p)| format!("{k}={}", p.value))
                    .collect();
                parts.extend(remove.iter().map(|k| format!("-{k}")));
                format!("set {id} {}", parts.join(" "))
            }
            Self::SetTag { id, tag } => format!("tag {id} as {tag}"),
            Self::SetText { id, .. } => format!("edit text of {id}"),
            Self::SetStyle { id, .. } => format!("restyle {id}"),
            Self::Move { ids, dx, dy } => format!("move {} by ({dx}, {dy})", count(ids)),
            Self::MoveTo { id, x, y } => format!("move {id} to ({x}, {y})"),
            Self::Rotate { id, rotation_deg } => format!("rotate {id} to {rotation_deg}°"),
            Self::SetGeometry { id, .. } => format!("reshape {id}"),
            Self::SetLayer { ids, layer } => format!("move {} to layer {layer}", count(ids)),
            Self::SetFloor { ids, floor } => format!("move {} to floor {floor}", count(ids)),
            Self::SetReference { id, name, target } => match target {
                Some(t) => format!("set {id}.{name} -> {t}"),
                None => format!("clear {id}.{name}"),
            },
            Self::Reorder { id, .. } => format!("reorder {id}"),
            Self::Delete { ids } => format!("delete {}", count(ids)),
            Self::Restore { ids } => format!("restore {}", count(ids)),
            Self::Replace(e) => format!("restore state of {}", e.tag),
            Self::ResolveKey { id, key, value } => match value {
                Some(v) => format!("resolve {id}.{key} = {v}"),
                None => format!("resolve {id}.{key} (removed)"),
            },
            Self::PutRecord { set, id, .. } => format!("update {set:?} {id}"),
            Self::DeleteRecord { set, id } => format!("remove {set:?} {id}"),
        }
    }
}

fn count(ids: &[ElementId]) -> String {
    match ids {
        [one] => one.to_string(),
        many => format!("{} elements", many.len()),
    }
}
