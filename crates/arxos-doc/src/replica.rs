//! What a sync engine needs of a [`Document`] beyond commands: an empty replica to fill by
//! sync, the plan's identity, change lookups, and rebuilding without refused changes. These
//! read or replace whole histories; none of them edits the plan.

use std::collections::{HashMap, HashSet};

use automerge::legacy::{Key, ObjectId, OpType};
use automerge::transaction::{CommitOptions, Transactable};
use automerge::{AutoCommit, ChangeHash, ObjType, ReadDoc};

use crate::document::Document;
use crate::error::{DocError, Result};
use crate::schema::{self, root};

/// What [`Document::without_changes`] set aside.
#[derive(Debug)]
pub struct SetAside {
    /// The rebuilt replica: every change except the excluded ones and those built on them
    /// (those replayed when rebasing).
    pub kept: Document,
    /// How many changes were left out.
    pub excluded: usize,
    /// Of the changes built on excluded ones, how many were replayed as new changes.
    pub replayed: usize,
}

impl Document {
    /// An empty replica, to be filled by sync (a clone of a shared plan). It is not a plan
    /// until the first changes arrive: see [`Document::is_plan`].
    pub fn new_replica() -> Self {
        Self::from_automerge_unchecked(AutoCommit::new())
    }

    /// Whether the document carries the plan schema (every root map).
    pub fn is_plan(&self) -> bool {
        root::ALL
            .into_iter()
            .all(|name| schema::root_map(&self.am, name).is_some())
    }

    /// The plan's id (what decides whether two replicas are the same plan), if it has one.
    pub fn plan_id(&self) -> Option<&str> {
        let id = self.cache.meta.id.as_str();
        (!id.is_empty()).then_some(id)
    }

    /// Whether this replica holds the change.
    pub fn has_change(&mut self, hash: &ChangeHash) -> bool {
        self.am.get_change_meta_by_hash(hash).is_some()
    }

    /// Which of `heads` we lack, plus the missing dependencies of changes waiting for them.
    pub fn missing_deps(&mut self, heads: &[ChangeHash]) -> Vec<ChangeHash> {
        self.am.get_missing_deps(heads)
    }

    /// Hashes of the changes that are not ancestors of `heads` (those of `heads` we do not
    /// hold are ignored), oldest first.
    pub fn changes_after(&mut self, heads: &[ChangeHash]) -> Vec<ChangeHash> {
        let known: Vec<ChangeHash> = heads
            .iter()
            .copied()
            .filter(|h| self.am.get_change_meta_by_hash(h).is_some())
            .collect();
        // Metadata only: `get_changes` would encode every change just to name it (a third of
        // opening a 50,000-element plan in the editor went there).
        self.am
            .get_changes_meta(&known)
            .into_iter()
            .map(|c| c.hash)
            .collect()
    }

    /// The encoded changes since `heads` (what a peer that has `heads` lacks).
    pub fn save_after(&mut self, heads: &[ChangeHash]) -> Vec<u8> {
        self.am.save_after(heads)
    }

    /// This replica without `exclude` and every change built on them (directly or not): what
    /// is left when changes a relay refused are set aside.
    pub fn without_changes(&mut self, exclude: &HashSet<ChangeHash>) -> Result<SetAside> {
        let mut bad = exclude.clone();
        let mut kept = Vec::new();
        let mut excluded = 0;
        // Oldest first: a change's dependencies are always seen before it.
        for change in self.am.get_changes(&[]) {
            if bad.contains(&change.hash()) || change.deps().iter().any(|d| bad.contains(d)) {
                bad.insert(change.hash());
                excluded += 1;
            } else {
                kept.push(change);
            }
        }
        let mut am = AutoCommit::new();
        am.apply_changes(kept).map_err(rebuild_failed)?;
        Ok(SetAside {
            kept: Self::from_automerge_unchecked(am),
            excluded,
            replayed: 0,
        })
    }

    /// [`Document::without_changes`], then every change built on an excluded one (but not
    /// excluded itself) is replayed as a new change on what is left: one refused edit no
    /// longer blocks the allowed ones made after it. Each replay is made at the replayed
    /// change's own place in history (its dependencies, less the excluded ones), so edits
    /// others made concurrently stay concurrent and still show as conflicts; it keeps the
    /// original author, summary and time. Operations on objects only an excluded change made
    /// cannot be replayed and are dropped with it.
    pub fn rebase_without(&mut self, exclude: &HashSet<ChangeHash>) -> Result<SetAside> {
        let mut aside = self.without_changes(exclude)?;
        // Descendants of excluded changes, oldest first.
        let mut bad: HashSet<ChangeHash> = exclude.clone();
        let mut to_replay = Vec::new();
        for change in self.am.get_changes(&[]) {
            let built_on_bad = change.deps().iter().any(|d| bad.contains(d));
            if exclude.contains(&change.hash()) {
                continue;
            }
            if built_on_bad {
                bad.insert(change.hash());
                to_replay.push(change);
            }
        }
        // Old hash → the hash of its replay, so later replays build on earlier ones.
        let mut replaced: HashMap<ChangeHash, ChangeHash> = HashMap::new();
        // An excluded change's place is taken by its own dependencies.
        let mut deps_of: HashMap<ChangeHash, Vec<ChangeHash>> = self
            .am
            .get_changes(&[])
            .iter()
            .filter(|c| exclude.contains(&c.hash()))
            .map(|c| (c.hash(), c.deps().to_vec()))
            .collect();
        // Objects a replayed change made, by their old id: later replays address them so.
        let mut renamed: HashMap<String, String> = HashMap::new();
        let kept = &mut aside.kept.am;
        for change in to_replay {
            let mut deps = Vec::new();
            let mut todo: Vec<ChangeHash> = change.deps().to_vec();
            while let Some(d) = todo.pop() {
                if let Some(new) = replaced.get(&d) {
                    deps.push(*new);
                } else if let Some(up) = deps_of.get(&d) {
                    todo.extend(up);
                } else if kept.get_change_meta_by_hash(&d).is_some() {
                    deps.push(d);
                }
            }
            deps.sort();
            deps.dedup();
            let mut at = kept.fork_at(&deps).map_err(rebuild_failed)?;
            if !replay_ops(&mut at, &change.decode(), &mut renamed) {
                // Nothing left of it: what builds on it builds on what it built on.
                deps_of.insert(change.hash(), deps);
                continue;
            }
            let mut options = CommitOptions::default().with_time(change.timestamp());
            if let Some(message) = change.message() {
                options = options.with_message(message.to_owned());
            }
            let Some(hash) = at.commit_with(options) else {
                deps_of.insert(change.hash(), deps);
                continue;
            };
            let bytes = at.save_after(&deps);
            kept.load_incremental(&bytes).map_err(rebuild_failed)?;
            replaced.insert(change.hash(), hash);
            aside.replayed += 1;
        }
        aside.kept = Self::from_automerge_unchecked(std::mem::take(kept));
        Ok(aside)
    }
}

#[allow(clippy::needless_pass_by_value)] // the shape `map_err` passes
fn rebuild_failed(e: automerge::AutomergeError) -> DocError {
    DocError::NotAPlan {
        path: "<memory>".into(),
        reason: format!("rebuilding without the refused changes failed: {e}"),
    }
}

/// Writes a change's map operations again on `at`; whether anything was written. Objects are
/// found by their id when `at` has them, or by the replay that made them; list and text
/// operations (the plan schema has none) and operations on objects `at` lacks are skipped.
fn replay_ops(
    at: &mut AutoCommit,
    change: &automerge::ExpandedChange,
    renamed: &mut HashMap<String, String>,
) -> bool {
    let actor = change.actor_id.to_hex_string();
    let start = change.start_op.get();
    let mut wrote = false;
    for (i, op) in change.operations.iter().enumerate() {
        let obj = match &op.obj {
            ObjectId::Root => automerge::ROOT,
            ObjectId::Id(id) => {
                let old = id.to_string();
                let name = renamed.get(&old).unwrap_or(&old);
                match at.import_obj(name) {
                    Ok(o) if at.object_type(&o).is_ok() => o,
                    _ => continue,
                }
            }
        };
        let Key::Map(key) = &op.key else { continue };
        let key = key.as_str();
        let result = match &op.action {
            OpType::Put(value) => at.put(&obj, key, value.clone()).map(|()| None),
            OpType::Delete => at.delete(&obj, key).map(|()| None),
            OpType::Increment(by) => at.increment(&obj, key, *by).map(|()| None),
            OpType::Make(ObjType::Map) => at.put_object(&obj, key, ObjType::Map).map(Some),
            OpType::Make(_) | OpType::MarkBegin(_) | OpType::MarkEnd(_) => continue,
        };
        match result {
            Ok(Some(new_obj)) => {
                renamed.insert(format!("{}@{actor}", start + i as u64), new_obj.to_string());
                wrote = true;
            }
            Ok(None) => wrote = true,
            Err(err) => tracing::warn!(%err, "an operation could not be replayed; skipped"),
        }
    }
    wrote
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        Command, EditContext, ElementId, ElementKind, FloorId, Geometry, LayerId, NewElement,
        Transform,
    };

    fn plan_with_outlet() -> Document {
        let ctx = EditContext::at("a", 0);
        let mut doc = Document::new_plan("p", &ctx).unwrap();
        let mut e = NewElement::new(
            ElementKind::Outlet,
            "outlet:o1",
            FloorId::new("level-1"),
            LayerId::new("electrical"),
            Geometry::Point,
            Transform::default(),
        );
        e.id = Some(ElementId::new("o1"));
        doc.apply(&ctx, Command::Create(Box::new(e))).unwrap();
        doc
    }

    #[test]
    fn a_replica_filled_by_sync_attributes_later_edits() {
        let mut origin = plan_with_outlet();
        let mut replica = Document::new_replica();
        assert!(!replica.is_plan());
        let all = origin.save();
        let set = replica.load_incremental(&all).unwrap();
        assert!(set.rebuilt && replica.is_plan());
        assert_eq!(replica.plan_id(), origin.plan_id());
        // Another writer moves the element; the replica names it in the change set.
        let (_, mut writer) = (0, Document::load(&all).unwrap());
        let before = writer.heads();
        writer
            .apply(
                &EditContext::at("b", 1),
                Command::MoveTo {
                    id: ElementId::new("o1"),
                    x: 5.0,
                    y: 6.0,
                },
            )
            .unwrap();
        let set = replica
            .load_incremental(&writer.save_after(&before))
            .unwrap();
        assert_eq!(set.updated, vec![ElementId::new("o1")], "{set:?}");
        assert!(set.authors.contains("b"));
    }

    #[test]
    fn rebasing_replays_the_edits_made_after_a_refused_one() {
        let mut origin = plan_with_outlet();
        let base = origin.heads();
        let mut replica = origin.fork();
        let ctx = EditContext::at("viewer", 5);
        // Refused: a move; after it, an allowed comment and another move of the same outlet.
        replica
            .apply(
                &ctx,
                Command::MoveTo {
                    id: ElementId::new("o1"),
                    x: 1.0,
                    y: 1.0,
                },
            )
            .unwrap();
        let refused: HashSet<ChangeHash> = replica.heads().into_iter().collect();
        replica
            .apply(
                &ctx,
                Command::PutRecord {
                    set: crate::RecordSet::Comments,
                    id: "c1".into(),
                    fields: [("text".to_owned(), crate::PropValue::Text("hi".into()))].into(),
                },
            )
            .unwrap();
        replica
            .apply(
                &ctx,
                Command::Rotate {
                    id: ElementId::new("o1"),
                    rotation_deg: 90.0,
                },
            )
            .unwrap();
        // A new element, then an edit of it in a later change: the replay of the second must
        // find the element the replay of the first made.
        let mut e2 = NewElement::new(
            ElementKind::Outlet,
            "outlet:o2",
            FloorId::new("level-1"),
            LayerId::new("electrical"),
            Geometry::Point,
            Transform::default(),
        );
        e2.id = Some(ElementId::new("o2"));
        replica.apply(&ctx, Command::Create(Box::new(e2))).unwrap();
        replica
            .apply(
                &ctx,
                Command::MoveTo {
                    id: ElementId::new("o2"),
                    x: 7000.0,
                    y: 0.0,
                },
            )
            .unwrap();
        // Meanwhile the origin (what the relay accepted) moved on concurrently.
        origin
            .apply(
                &EditContext::at("ana", 6),
                Command::SetMeta {
                    name: Some("renamed".into()),
                    units: None,
                },
            )
            .unwrap();
        replica.merge(&mut origin).unwrap();

        let aside = replica.rebase_without(&refused).unwrap();
        assert_eq!(
            aside.excluded, 5,
            "the refused change and the four built on it"
        );
        assert_eq!(aside.replayed, 4);
        let mut kept = aside.kept;
        let o1 = kept.element(&ElementId::new("o1")).unwrap();
        assert_eq!(
            (o1.transform.x, o1.transform.y),
            (0.0, 0.0),
            "the refused move is gone"
        );
        assert!(
            (o1.transform.rotation - 90.0).abs() < f64::EPSILON,
            "the rotation was replayed"
        );
        assert!(kept.records(crate::RecordSet::Comments).contains_key("c1"));
        assert_eq!(kept.meta().name, "renamed");
        let o2 = kept
            .element(&ElementId::new("o2"))
            .expect("o2 was replayed");
        assert!(
            (o2.transform.x - 7000.0).abs() < f64::EPSILON,
            "its later move too"
        );
        // Nothing of the refused change remains in history, and the replays keep the author.
        assert!(refused.iter().all(|h| !kept.has_change(h)));
        let authors: Vec<String> = kept.history().into_iter().map(|e| e.author).collect();
        assert_eq!(authors.iter().filter(|a| *a == "viewer").count(), 4);
        // The replays build on accepted history only: the origin can take them as they are.
        let mut origin2 = origin.fork();
        let heads = kept.heads();
        origin2.merge(&mut kept).unwrap();
        assert!(heads.iter().all(|h| origin2.has_change(h)));
        let _ = base;
    }
}
