//! Causality questions about changes: was change A already seen by change B?
//!
//! Automerge op counters are Lamport clocks: an ancestor's ops are all numbered below its
//! descendants' ops. The search from B back through its dependencies therefore stops at any
//! change whose ops start at or below A's last op, which keeps it short for recent changes.

use std::collections::{BTreeMap, BTreeSet};

use automerge::{Automerge, ChangeHash};

/// Cached change metadata for causality checks.
pub(crate) struct Ancestry<'a> {
    doc: &'a Automerge,
    meta: BTreeMap<ChangeHash, (u64, u64, Vec<ChangeHash>)>,
}

impl<'a> Ancestry<'a> {
    pub fn new(doc: &'a Automerge) -> Self {
        Self {
            doc,
            meta: BTreeMap::new(),
        }
    }

    /// (start op, max op, deps) of a change.
    fn info(&mut self, h: &ChangeHash) -> Option<(u64, u64, Vec<ChangeHash>)> {
        if let Some(i) = self.meta.get(h) {
            return Some(i.clone());
        }
        let m = self.doc.get_change_meta_by_hash(h)?;
        let i = (m.start_op, m.max_op, m.deps.clone());
        self.meta.insert(*h, i.clone());
        Some(i)
    }

    /// Whether `a` is `b` or one of its ancestors.
    pub fn is_ancestor(&mut self, a: &ChangeHash, b: &ChangeHash) -> bool {
        if a == b {
            return true;
        }
        let Some((_, a_max, _)) = self.info(a) else {
            return false;
        };
        let mut seen = BTreeSet::new();
        let mut stack = vec![*b];
        while let Some(h) = stack.pop() {
            if !seen.insert(h) {
                continue;
            }
            let Some((_, _, deps)) = self.info(&h) else {
                continue;
            };
            for d in deps {
                if &d == a {
                    return true;
                }
                if let Some((d_start, _, _)) = self.info(&d)
                    && d_start > a_max
                {
                    stack.push(d);
                }
            }
        }
        false
    }

    /// Whether neither change saw the other.
    pub fn concurrent(&mut self, a: &ChangeHash, b: &ChangeHash) -> bool {
        !self.is_ancestor(a, b) && !self.is_ancestor(b, a)
    }

    /// Whether `h` is one of `heads` or an ancestor of one.
    pub fn within(&mut self, h: &ChangeHash, heads: &[ChangeHash]) -> bool {
        heads.iter().any(|head| self.is_ancestor(h, head))
    }
}

/// Whether every change follows the one before it: one first change, and no change with two
/// parents or two children. In such a history no two writes were concurrent, so no key holds
/// values side by side and no edit raced a delete: the checks of concurrent writes (which read
/// every key of every element) find nothing and can be skipped.
pub(crate) fn history_is_linear(am: &Automerge) -> bool {
    let changes = am.get_changes_meta(&[]);
    let mut roots = 0;
    let mut children: std::collections::HashSet<ChangeHash> =
        std::collections::HashSet::with_capacity(changes.len());
    for c in &changes {
        match c.deps.as_slice() {
            [] => roots += 1,
            [parent] => {
                if !children.insert(*parent) {
                    return false;
                }
            }
            _ => return false,
        }
    }
    roots <= 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Command, Document, EditContext, FloorId};

    fn floor(d: &mut Document, who: &str, id: &str) {
        d.apply(
            &EditContext::at(who, 1),
            Command::AddFloor {
                id: FloorId::new(id),
                name: id.into(),
                elevation_mm: 0.0,
                order: 2,
            },
        )
        .unwrap();
    }

    #[test]
    fn a_history_is_linear_until_two_replicas_write_concurrently() {
        let mut a = Document::new_plan("linear", &EditContext::at("a", 0)).unwrap();
        floor(&mut a, "a", "f1");
        let mut b = a.fork();
        floor(&mut b, "b", "f2");
        a.merge(&mut b).unwrap();
        assert!(history_is_linear(a.am.document()), "b followed a");
        floor(&mut a, "a", "f3");
        floor(&mut b, "b", "f4");
        a.merge(&mut b).unwrap();
        assert!(!history_is_linear(a.am.document()), "f3 and f4 concurrent");
        floor(&mut a, "a", "f5");
        assert!(!history_is_linear(a.am.document()), "and it stays so");
        let two_roots = {
            let mut x = Document::new_plan("x", &EditContext::at("x", 0)).unwrap();
            let mut y = Document::new_plan("y", &EditContext::at("y", 0)).unwrap();
            x.merge(&mut y).unwrap();
            history_is_linear(x.am.document())
        };
        assert!(!two_roots);
    }
}
