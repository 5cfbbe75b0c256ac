//! What a sync engine needs of a [`Document`] beyond commands: an empty replica to fill by
//! sync, the plan's identity, change lookups, and rebuilding without refused changes. These
//! read or replace whole histories; none of them edits the plan.

use std::collections::HashSet;

use automerge::{AutoCommit, ChangeHash};

use crate::document::Document;
use crate::error::{DocError, Result};
use crate::schema::{self, root};

/// What [`Document::without_changes`] set aside.
#[derive(Debug)]
pub struct SetAside {
    /// The rebuilt replica: every change except the excluded ones and those built on them.
    pub kept: Document,
    /// How many changes were left out.
    pub excluded: usize,
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
        self.am.get_change_by_hash(hash).is_some()
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
            .filter(|h| self.am.get_change_by_hash(h).is_some())
            .collect();
        self.am
            .get_changes(&known)
            .iter()
            .map(automerge::Change::hash)
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
        am.apply_changes(kept).map_err(|e| DocError::NotAPlan {
            path: "<memory>".into(),
            reason: format!("rebuilding without the refused changes failed: {e}"),
        })?;
        Ok(SetAside {
            kept: Self::from_automerge_unchecked(am),
            excluded,
        })
    }
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
}
