//! [`ChangeSet`]: what one mutation of a plan changed, so readers (a canvas re-tessellating,
//! the conflict index, a sync engine's subscribers) update only what was touched.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::ids::ElementId;

/// What a mutation changed, for readers that update incrementally (a UI re-tessellating only
/// the touched elements, a conflict detector re-checking only them).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[allow(clippy::struct_excessive_bools)] // independent flags of what was touched
pub struct ChangeSet {
    /// Elements that became live (created, restored, or arrived by merge).
    pub added: Vec<ElementId>,
    /// Live elements whose content changed.
    pub updated: Vec<ElementId>,
    /// Elements that stopped being live (deleted).
    pub removed: Vec<ElementId>,
    /// Floors changed.
    pub floors: bool,
    /// Layers changed.
    pub layers: bool,
    /// Plan metadata changed.
    pub meta: bool,
    /// Other root maps touched (`comments`, `rules`, `versions`).
    pub other: BTreeSet<String>,
    /// Authors of the changes that arrived, for changes from elsewhere (merges, sync, file
    /// appends); empty for a local command, whose author the caller knows.
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    pub authors: BTreeSet<String>,
    /// The read model was rebuilt from scratch (every live element is in `updated`): readers
    /// holding caches should rebuild them too.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub rebuilt: bool,
}

impl ChangeSet {
    /// Whether nothing visible changed.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.updated.is_empty()
            && self.removed.is_empty()
            && !self.floors
            && !self.layers
            && !self.meta
            && self.other.is_empty()
            && !self.rebuilt
    }

    /// Folds a later change set into this one, as if both had happened in one mutation: an
    /// element added and then updated stays added, one added and then removed disappears, one
    /// removed and then added again is updated.
    pub fn absorb(&mut self, later: ChangeSet) {
        let mut added: BTreeSet<ElementId> = self.added.drain(..).collect();
        let mut updated: BTreeSet<ElementId> = self.updated.drain(..).collect();
        let mut removed: BTreeSet<ElementId> = self.removed.drain(..).collect();
        for id in later.added {
            if removed.remove(&id) {
                updated.insert(id);
            } else {
                added.insert(id);
            }
        }
        for id in later.updated {
            if !added.contains(&id) {
                updated.insert(id);
            }
        }
        for id in later.removed {
            updated.remove(&id);
            if !added.remove(&id) {
                removed.insert(id);
            }
        }
        self.added = added.into_iter().collect();
        self.updated = updated.into_iter().collect();
        self.removed = removed.into_iter().collect();
        self.floors |= later.floors;
        self.layers |= later.layers;
        self.meta |= later.meta;
        self.rebuilt |= later.rebuilt;
        self.other.extend(later.other);
        self.authors.extend(later.authors);
    }

    /// Every element the change set names, once.
    pub fn elements(&self) -> BTreeSet<&ElementId> {
        self.added
            .iter()
            .chain(&self.updated)
            .chain(&self.removed)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[&str]) -> Vec<ElementId> {
        v.iter().map(|s| ElementId::new(*s)).collect()
    }

    #[test]
    fn absorb_folds_lifecycles() {
        let mut a = ChangeSet {
            added: ids(&["new", "gone"]),
            updated: ids(&["u"]),
            removed: ids(&["back"]),
            ..ChangeSet::default()
        };
        a.absorb(ChangeSet {
            added: ids(&["back"]),
            updated: ids(&["new", "v"]),
            removed: ids(&["gone", "u"]),
            layers: true,
            authors: ["bob".to_owned()].into(),
            ..ChangeSet::default()
        });
        assert_eq!(a.added, ids(&["new"]));
        assert_eq!(a.updated, ids(&["back", "v"]));
        assert_eq!(a.removed, ids(&["u"]));
        assert!(a.layers && !a.floors);
        assert_eq!(a.authors.len(), 1);
    }
}
