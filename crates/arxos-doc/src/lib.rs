//! # arxos-doc: the SVGX floor-plan document
//!
//! A plan is one [Automerge](https://automerge.org) document. Every replica (a designer's
//! desktop, a reviewer, a field laptop offline for days, the relay) holds the whole of it and
//! can merge with any other at any time; merges never lose a concurrent value.
//!
//! ## Data model
//!
//! - **meta**: name, units, schema version.
//! - **floors** (name, elevation, order) and **layers** (name, building system, visibility,
//!   colour).
//! - **elements**: walls, rooms, doors, windows, outlets, switches, lights, fixtures, ducts,
//!   pipes, text, dimensions, paths, symbols. Each has a stable random id, a unique human tag
//!   (`outlet:R45-23`), a floor and a layer, a geometry in its local frame, a transform
//!   (`x`, `y`, `rotation`), style, typed properties with units, references to other elements
//!   (`host`, `circuit`) and a z-order key (fractional index). See [`schema`] for the exact
//!   Automerge layout: every property is its own key, so concurrent edits of different
//!   properties never conflict.
//! - Deletion is a tombstone (`deleted = true`): an edit made concurrently with a delete is
//!   kept and the element can be restored.
//! - **comments**: review notes pinned to an element or a point, threaded replies, mentions and
//!   a resolved state, one flat record per comment ([`comments`]).
//!
//! ## Writing
//!
//! All writes are typed [`Command`]s applied by [`Document::apply`] / [`Document::apply_batch`]:
//! validated first (unknown element, duplicate tag, wrong property type, reference to a missing
//! element... are precise [`DocError`]s), then written as one Automerge change carrying the
//! author and wall-clock time. Nothing else mutates a document.
//!
//! ## Reading
//!
//! [`Document`] keeps a decoded, indexed read model: by id, by tag, by kind/layer/floor
//! ([`Filter`]), by area through an R-tree ([`Document::query_area`]), and in z-order. Every
//! mutation returns a [`ChangeSet`] naming the elements added, updated and removed, computed
//! from Automerge's patches, so a UI can update incrementally.
//!
//! ## Files
//!
//! [`file`] saves the `.arx` format (Automerge binary) atomically with a backup, appends
//! incrementally for large plans, and refuses foreign or corrupt files with errors naming the
//! file. [`svgx`] imports and exports SVG with the `arx:` namespace, losslessly.

mod apply;
pub mod audit;
pub mod branches;
mod changes;
pub mod command;
pub mod comments;
pub mod conflict;
pub mod document;
pub mod error;
pub mod file;
#[doc(hidden)]
pub mod fuzzing;
pub mod generate;
pub mod geometry;
pub mod history;
pub mod ids;
mod index;
pub mod model;
pub mod props;
mod replica;
pub mod schema;
pub mod svgx;
pub mod undo;
pub mod versions;
pub mod workflow;

pub use apply::prop;
pub use command::{ChangeKind, Command, EditContext, NewElement, RecordSet, ZPosition};
pub use document::{ChangeSet, Document, Filter, Stats, default_layers};
pub use error::{DocError, Result};
pub use geometry::{Bounds, Point};
pub use history::{DescribedChange, HistoryEntry};
pub use ids::{ElementId, FloorId, LayerId};
pub use model::{
    BuildingSystem, Element, ElementKind, Floor, Geometry, Layer, Meta, PropValue, Property, Style,
    Transform,
};
pub use replica::SetAside;

/// Re-export of the CRDT crate, so layers above use the exact same version.
pub use automerge;
