//! [`Document`]: one floor plan, an Automerge document plus its decoded, indexed read model.
//!
//! Every mutation (a command, a merge, a sync message, loaded changes) goes through here, so
//! the read model and the change notifications ([`ChangeSet`]) can never drift from the CRDT.

use std::collections::{BTreeMap, BTreeSet};

use automerge::sync::{self, SyncDoc};
use automerge::transaction::{CommitOptions, Transactable};
use automerge::{AutoCommit, ChangeHash, Prop, ROOT, ReadDoc};
use serde::{Deserialize, Serialize};

pub use crate::changes::ChangeSet;
use crate::command::{Command, EditContext};
use crate::error::{DocError, Result};
use crate::geometry::Bounds;
use crate::ids::{ElementId, FloorId, LayerId};
use crate::index::{self, Cache};
use crate::model::{BuildingSystem, Element, ElementKind, Floor, Layer, Meta};
use crate::schema::{self, SCHEMA_VERSION, root};

/// The metadata we put in every Automerge change message (JSON), so history shows who did what.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct ChangeMessage {
    pub author: String,
    #[serde(default)]
    pub kind: crate::command::ChangeKind,
    pub summary: String,
    /// Milliseconds; Automerge's own timestamp field is in seconds.
    pub time_ms: i64,
}

/// Counts of live elements by floor, layer and kind.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Stats {
    /// Live elements.
    pub elements: usize,
    /// Deleted (restorable) elements.
    pub deleted: usize,
    /// Elements whose stored form could not be decoded.
    pub undecodable: usize,
    /// By floor id.
    pub by_floor: BTreeMap<FloorId, usize>,
    /// By layer id.
    pub by_layer: BTreeMap<LayerId, usize>,
    /// By kind.
    pub by_kind: BTreeMap<ElementKind, usize>,
    /// Number of changes in history.
    pub changes: usize,
}

/// A filter for element queries; `None` fields match everything.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Only this kind.
    pub kind: Option<ElementKind>,
    /// Only this layer.
    pub layer: Option<LayerId>,
    /// Only this floor.
    pub floor: Option<FloorId>,
    /// Only this whole tag, or, when it has a `*` (any run of characters) or `?` (any one
    /// character), the tags this pattern matches as a whole (`outlet:R1*`).
    pub tag_pattern: Option<String>,
}

/// Whether `tag` is `pattern`, or matches it when it has wildcards (see [`Filter::tag_pattern`]).
pub fn tag_matches(pattern: &str, tag: &str) -> bool {
    if pattern.contains(['*', '?']) {
        crate::conflict::rules::glob(pattern, tag)
    } else {
        pattern == tag
    }
}

impl Filter {
    /// Whether `e` passes.
    pub fn matches(&self, e: &Element) -> bool {
        self.kind.is_none_or(|k| e.kind == k)
            && self.layer.as_ref().is_none_or(|l| &e.layer == l)
            && self.floor.as_ref().is_none_or(|f| &e.floor == f)
            && self
                .tag_pattern
                .as_deref()
                .is_none_or(|p| tag_matches(p, &e.tag))
    }
}

/// One floor plan.
pub struct Document {
    pub(crate) am: AutoCommit,
    pub(crate) cache: Cache,
}

impl std::fmt::Debug for Document {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Document")
            .field("name", &self.cache.meta.name)
            .field("elements", &self.cache.elements.len())
            .finish_non_exhaustive()
    }
}

impl Document {
    /// A new, empty plan (meta only: no floors or layers).
    pub fn new_empty(name: &str, ctx: &EditContext) -> Result<Self> {
        let mut am = AutoCommit::new();
        schema::init_roots(&mut am)?;
        schema::write_meta(
            &mut am,
            &Meta {
                id: uuid::Uuid::new_v4().simple().to_string(),
                name: name.to_owned(),
                units: "mm".into(),
                schema_version: SCHEMA_VERSION,
            },
        )?;
        commit(
            &mut am,
            ctx,
            crate::command::ChangeKind::Import,
            "create plan",
        );
        Ok(Self::from_automerge_unchecked(am))
    }

    /// A new plan with one floor and one layer per building system, ready to draw on.
    pub fn new_plan(name: &str, ctx: &EditContext) -> Result<Self> {
        let mut doc = Self::new_empty(name, ctx)?;
        let mut cmds = vec![Command::AddFloor {
            id: FloorId::new("level-1"),
            name: "Level 1".into(),
            elevation_mm: 0.0,
            order: 1,
        }];
        cmds.extend(default_layers());
        doc.apply_batch(ctx, "set up floors and layers", cmds)?;
        Ok(doc)
    }

    pub(crate) fn from_automerge_unchecked(am: AutoCommit) -> Self {
        let cache = Cache::build(&am);
        Self { am, cache }
    }

    /// Wraps an Automerge document after checking it carries the plan schema.
    pub fn from_automerge(am: AutoCommit) -> Result<Self> {
        for name in root::ALL {
            if schema::root_map(&am, name).is_none() {
                return Err(DocError::NotAPlan {
                    path: "<memory>".into(),
                    reason: format!("no `{name}` map"),
                });
            }
        }
        let doc = Self::from_automerge_unchecked(am);
        if doc.cache.meta.schema_version > SCHEMA_VERSION {
            return Err(DocError::UnsupportedSchema {
                found: doc.cache.meta.schema_version,
                supported: SCHEMA_VERSION,
            });
        }
        Ok(doc)
    }

    /// The underlying CRDT, read-only (sync engines, exporters of raw history).
    pub fn automerge(&self) -> &AutoCommit {
        &self.am
    }

    /// Current heads (the version this replica is at).
    pub fn heads(&mut self) -> Vec<ChangeHash> {
        self.am.get_heads()
    }

    /// An independent replica with the same history and a new actor id (what a second user or
    /// a branch starts from).
    #[must_use]
    pub fn fork(&mut self) -> Self {
        Self::from_automerge_unchecked(self.am.fork())
    }

    /// A replica as of `heads` (previewing an old version).
    pub fn fork_at(&mut self, heads: &[ChangeHash]) -> Result<Self> {
        Ok(Self::from_automerge_unchecked(self.am.fork_at(heads)?))
    }

    // ---- reading ----------------------------------------------------------------------

    /// Plan metadata.
    pub fn meta(&self) -> &Meta {
        &self.cache.meta
    }

    /// Floors, by id.
    pub fn floors(&self) -> &BTreeMap<FloorId, Floor> {
        &self.cache.floors
    }

    /// Floors sorted by their order.
    pub fn floors_ordered(&self) -> Vec<&Floor> {
        let mut v: Vec<&Floor> = self.cache.floors.values().collect();
        v.sort_by(|a, b| a.order.cmp(&b.order).then(a.id.cmp(&b.id)));
        v
    }

    /// Layers, by id.
    pub fn layers(&self) -> &BTreeMap<LayerId, Layer> {
        &self.cache.layers
    }

    /// The live element with this id.
    pub fn element(&self, id: &ElementId) -> Option<&Element> {
        self.cache.elements.get(id).filter(|e| !e.deleted)
    }

    /// The element with this id, live or deleted.
    pub fn element_any(&self, id: &ElementId) -> Option<&Element> {
        self.cache.elements.get(id)
    }

    /// The live element carrying `tag`.
    pub fn element_by_tag(&self, tag: &str) -> Result<&Element> {
        let ids = self
            .cache
            .tags
            .get(tag)
            .ok_or_else(|| DocError::UnknownTag(tag.to_owned()))?;
        let mut it = ids.iter();
        match (it.next(), it.next()) {
            (Some(id), None) => self
                .element(id)
                .ok_or_else(|| DocError::UnknownTag(tag.to_owned())),
            _ => Err(DocError::AmbiguousTag {
                tag: tag.to_owned(),
                count: ids.len(),
            }),
        }
    }

    /// Resolves a tag or an element id (tags first), including deleted elements by id.
    pub fn resolve(&self, tag_or_id: &str) -> Result<&Element> {
        match self.element_by_tag(tag_or_id) {
            Ok(e) => Ok(e),
            Err(DocError::UnknownTag(_)) => {
                if let Some(e) = self.cache.elements.get(&ElementId::new(tag_or_id)) {
                    return Ok(e);
                }
                // A deleted element keeps its tag; let it be named for `restore`.
                self.cache
                    .elements
                    .values()
                    .find(|e| e.deleted && e.tag == tag_or_id)
                    .ok_or_else(|| DocError::UnknownTag(tag_or_id.to_owned()))
            }
            Err(e) => Err(e),
        }
    }

    /// All live elements in id order.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.cache.elements.values().filter(|e| !e.deleted)
    }

    /// Deleted elements (restorable).
    pub fn deleted_elements(&self) -> impl Iterator<Item = &Element> {
        self.cache.elements.values().filter(|e| e.deleted)
    }

    /// Live elements in drawing order (bottom first).
    pub fn elements_in_z_order(&self) -> impl Iterator<Item = &Element> {
        self.cache
            .zorder
            .iter()
            .filter_map(|(_, id)| self.cache.elements.get(id))
    }

    /// Live elements passing `filter`.
    pub fn query<'a>(&'a self, filter: &'a Filter) -> impl Iterator<Item = &'a Element> + 'a {
        self.elements().filter(move |e| filter.matches(e))
    }

    /// Live elements whose bounds intersect `area` and pass `filter`, via the R-tree.
    pub fn query_area<'a>(
        &'a self,
        area: &Bounds,
        filter: &'a Filter,
    ) -> impl Iterator<Item = &'a Element> + 'a {
        self.cache
            .ids_in(*area)
            .filter_map(|id| self.cache.elements.get(id))
            .filter(move |e| filter.matches(e))
    }

    /// Bounds of every live element, or `None` for an empty plan.
    pub fn extent(&self) -> Option<Bounds> {
        let env = self.cache.rtree.root().envelope();
        (self.cache.rtree.size() > 0).then(|| {
            Bounds::from_corners(
                crate::geometry::Point::new(env.lower()[0], env.lower()[1]),
                crate::geometry::Point::new(env.upper()[0], env.upper()[1]),
            )
        })
    }

    /// Counts by floor, layer and kind.
    pub fn stats(&mut self) -> Stats {
        let mut s = Stats {
            undecodable: self.cache.undecodable.len(),
            // Metadata only: `get_changes` would re-encode every change from the op set.
            changes: self.am.get_changes_meta(&[]).len(),
            ..Stats::default()
        };
        for e in self.cache.elements.values() {
            if e.deleted {
                s.deleted += 1;
                continue;
            }
            s.elements += 1;
            *s.by_floor.entry(e.floor.clone()).or_default() += 1;
            *s.by_layer.entry(e.layer.clone()).or_default() += 1;
            *s.by_kind.entry(e.kind).or_default() += 1;
        }
        s
    }

    // ---- writing ----------------------------------------------------------------------

    /// Applies one command as one change.
    pub fn apply(&mut self, ctx: &EditContext, cmd: Command) -> Result<ChangeSet> {
        let summary = cmd.summary();
        self.apply_batch(ctx, &summary, vec![cmd])
    }

    /// Applies several commands as one change (one undo step, one history entry). Either all
    /// apply or none does: the first invalid command aborts the batch with its error.
    pub fn apply_batch(
        &mut self,
        ctx: &EditContext,
        summary: &str,
        cmds: Vec<Command>,
    ) -> Result<ChangeSet> {
        self.apply_batch_as(ctx, crate::command::ChangeKind::Edit, summary, cmds)
    }

    /// [`Self::apply_batch`] recording what kind of change this is (resolve, revert...).
    pub fn apply_batch_as(
        &mut self,
        ctx: &EditContext,
        kind: crate::command::ChangeKind,
        summary: &str,
        cmds: Vec<Command>,
    ) -> Result<ChangeSet> {
        let plan = crate::apply::plan(&self.cache, cmds)?;
        let written = match crate::apply::write(&mut self.am, &self.cache, &plan) {
            Ok(w) => w,
            Err(e) => {
                self.am.rollback();
                return Err(e);
            }
        };
        if self.am.pending_ops() == 0 {
            self.am.rollback();
            return Ok(ChangeSet::default());
        }
        commit(&mut self.am, ctx, kind, summary);
        // We know exactly what a local batch touched and what it now holds: store that
        // instead of diffing the document or reading it back.
        let t = plan.touched();
        let mut set = ChangeSet {
            floors: t.floors,
            layers: t.layers,
            meta: t.meta,
            other: t.other,
            ..ChangeSet::default()
        };
        if set.floors || set.layers || set.meta {
            self.cache.refresh_structure(&self.am);
        }
        #[cfg(debug_assertions)]
        let ids: Vec<ElementId> = written.iter().map(|w| w.id.clone()).collect();
        let delta = self.cache.store_written(written);
        #[cfg(debug_assertions)]
        self.cache.assert_matches_document(&self.am, &ids);
        set.added = delta.added;
        set.updated = delta.updated;
        set.removed = delta.removed;
        Ok(set)
    }

    /// Merges another replica's changes into this one.
    pub fn merge(&mut self, other: &mut Document) -> Result<ChangeSet> {
        let before = self.am.get_heads();
        self.am.merge(&mut other.am)?;
        Ok(self.refresh_since(&before))
    }

    /// Applies raw changes (from a file chunk or the network).
    pub fn load_incremental(&mut self, bytes: &[u8]) -> Result<ChangeSet> {
        let before = self.am.get_heads();
        self.am.load_incremental(bytes)?;
        Ok(self.refresh_since(&before))
    }

    /// Produces the next Automerge sync message for a peer, if any.
    pub fn generate_sync_message(&mut self, state: &mut sync::State) -> Option<sync::Message> {
        self.am.sync().generate_sync_message(state)
    }

    /// Applies a sync message from a peer.
    pub fn receive_sync_message(
        &mut self,
        state: &mut sync::State,
        msg: sync::Message,
    ) -> Result<ChangeSet> {
        let before = self.am.get_heads();
        self.am.sync().receive_sync_message(state, msg)?;
        Ok(self.refresh_since(&before))
    }

    /// Brings the read model up to date with everything since `before` and reports it.
    fn refresh_since(&mut self, before: &[ChangeHash]) -> ChangeSet {
        let after = self.am.get_heads();
        if after == before {
            return ChangeSet::default();
        }
        // Attribute the new changes' ops to elements through the object-owner index: this
        // costs what the changes contain. (Automerge's `diff` would scan the document: about
        // 20 ms at 50,000 elements for every remote change.)
        let mut set = ChangeSet::default();
        let mut touched = BTreeSet::new();
        let mut rebuild = false;
        let mut children: BTreeSet<&'static str> = BTreeSet::new();
        for change in self.am.get_changes(before) {
            if let Some(author) = change
                .message()
                .and_then(|m| serde_json::from_str::<ChangeMessage>(m).ok())
                .map(|m| m.author)
            {
                set.authors.insert(author);
            }
            let expanded = change.decode();
            let actor = expanded.actor_id.to_hex_string();
            let start = expanded.start_op.get();
            for (i, op) in expanded.operations.iter().enumerate() {
                let obj = match &op.obj {
                    automerge::legacy::ObjectId::Root => {
                        rebuild = true; // a root key itself changed: only a foreign writer
                        continue;
                    }
                    automerge::legacy::ObjectId::Id(id) => id.to_string(),
                };
                let key = match &op.key {
                    automerge::legacy::Key::Map(k) => Some(k.to_string()),
                    automerge::legacy::Key::Seq(_) => None,
                };
                let owner = match self.cache.owners.get(&obj) {
                    Some(o) => o.clone(),
                    None => match self.owner_of(&obj) {
                        Some(o) => o,
                        None => continue,
                    },
                };
                // A map made in this change: remember whose it is for the ops that follow.
                let made = matches!(op.action, automerge::legacy::OpType::Make(_));
                let new_obj = format!("{}@{actor}", start + i as u64);
                match owner {
                    index::Owner::Root(root::ELEMENTS) => {
                        if let Some(k) = key {
                            if made {
                                self.cache.owners.insert(
                                    new_obj,
                                    index::Owner::Element(ElementId::new(k.clone())),
                                );
                            }
                            touched.insert(k);
                        }
                    }
                    index::Owner::Element(id) => {
                        touched.insert(id.as_str().to_owned());
                    }
                    index::Owner::Root(name) | index::Owner::Child(name) => {
                        if made && matches!(owner, index::Owner::Root(_)) {
                            self.cache.owners.insert(new_obj, index::Owner::Child(name));
                        }
                        children.insert(name);
                    }
                }
            }
        }
        for name in children {
            match name {
                root::FLOORS => set.floors = true,
                root::LAYERS => set.layers = true,
                root::META => set.meta = true,
                other => {
                    set.other.insert(other.to_owned());
                }
            }
        }
        if rebuild {
            let old: BTreeSet<String> = self
                .cache
                .elements
                .keys()
                .map(|id| id.as_str().to_owned())
                .collect();
            self.cache = Cache::build(&self.am);
            touched.extend(old);
            touched.extend(self.cache.elements.keys().map(|id| id.as_str().to_owned()));
            set.floors = true;
            set.layers = true;
            set.meta = true;
            // Rebuilt from scratch: report every live element as updated.
            set.updated = self.elements().map(|e| e.id.clone()).collect();
            set.rebuilt = true;
            return set;
        }
        if set.floors || set.layers || set.meta {
            self.cache.refresh_structure(&self.am);
        }
        let delta = self.cache.refresh_elements(&self.am, &touched);
        set.added = delta.added;
        set.updated = delta.updated;
        set.removed = delta.removed;
        set
    }

    /// Finds which part of the plan an object unknown to the owner index belongs to (made by a
    /// change we have not attributed yet), and remembers it.
    fn owner_of(&mut self, obj: &str) -> Option<index::Owner> {
        let ex = self.am.import_obj(obj).ok()?;
        let parents: Vec<_> = self.am.parents(&ex).ok()?.collect();
        let top = parents.last()?;
        let root_name = match &top.prop {
            Prop::Map(k) => root::ALL.into_iter().find(|r| r == k)?,
            Prop::Seq(_) => return None,
        };
        let owner = if root_name == root::ELEMENTS {
            // parents run from the object up: the one just below the root names the element
            let below = parents.len().checked_sub(2).map_or(top, |i| &parents[i]);
            match (&below.prop, parents.len()) {
                (Prop::Map(id), _) => index::Owner::Element(ElementId::new(id.clone())),
                _ => return None,
            }
        } else if parents.len() == 1 {
            index::Owner::Root(root_name)
        } else {
            index::Owner::Child(root_name)
        };
        self.cache.owners.insert(obj.to_owned(), owner.clone());
        Some(owner)
    }

    /// Saves the whole document (compressed Automerge binary).
    pub fn save(&mut self) -> Vec<u8> {
        self.am.save()
    }

    /// Bytes of every change since the last `save`/`save_incremental` call.
    pub fn save_incremental(&mut self) -> Vec<u8> {
        self.am.save_incremental()
    }

    /// Loads a document from bytes (use [`crate::file`] for files: it names the file in errors).
    pub fn load(bytes: &[u8]) -> Result<Self> {
        let am = AutoCommit::load(bytes)?;
        Self::from_automerge(am)
    }

    /// The whole history, oldest first.
    pub fn history(&mut self) -> Vec<crate::history::HistoryEntry> {
        crate::history::entries(&mut self.am)
    }

    /// Every record of a collection: id → fields.
    pub fn records(
        &self,
        set: crate::command::RecordSet,
    ) -> BTreeMap<String, BTreeMap<String, crate::PropValue>> {
        let Some(parent) = schema::root_map(&self.am, set.root()) else {
            return BTreeMap::new();
        };
        self.am
            .map_range(&parent, ..)
            .filter(|item| {
                matches!(
                    item.value,
                    automerge::ValueRef::Object(automerge::ObjType::Map)
                )
            })
            .map(|item| {
                let fields = schema::read_flat(&self.am, &item.id())
                    .into_iter()
                    .map(|(k, v)| (k, v.to_prop()))
                    .collect();
                (item.key.to_string(), fields)
            })
            .collect()
    }

    /// Reads a root-level map's raw id (for crates layered on top: conflicts, versions).
    pub fn root_map_id(&self, name: &str) -> Option<automerge::ObjId> {
        schema::root_map(&self.am, name)
    }

    /// Whether the document has a root key (sanity checks of foreign files).
    pub fn has_root(&self, name: &str) -> bool {
        self.am.get(ROOT, name).ok().flatten().is_some()
    }
}

pub(crate) fn commit(
    am: &mut AutoCommit,
    ctx: &EditContext,
    kind: crate::command::ChangeKind,
    summary: &str,
) -> Option<ChangeHash> {
    let msg = ChangeMessage {
        author: ctx.author.clone(),
        kind,
        summary: summary.to_owned(),
        time_ms: ctx.time_ms,
    };
    let text = serde_json::to_string(&msg).unwrap_or_else(|_| summary.to_owned());
    am.commit_with(
        CommitOptions::default()
            .with_message(text)
            .with_time(ctx.time_ms.div_euclid(1000)),
    )
}

/// Commands that add one layer per building system, with conventional colours.
pub fn default_layers() -> Vec<Command> {
    BuildingSystem::ALL
        .into_iter()
        .map(|system| {
            let color = match system {
                BuildingSystem::Architectural => "#37474f",
                BuildingSystem::Electrical => "#e65100",
                BuildingSystem::Mechanical => "#1565c0",
                BuildingSystem::Plumbing => "#00838f",
                BuildingSystem::Security => "#6a1b9a",
                BuildingSystem::Annotation => "#616161",
            };
            let name = system.as_str();
            let mut title = name.to_owned();
            if let Some(first) = title.get_mut(0..1) {
                first.make_ascii_uppercase();
            }
            Command::AddLayer {
                id: LayerId::new(name),
                name: title,
                system,
                color: color.into(),
                visible: true,
            }
        })
        .collect()
}
