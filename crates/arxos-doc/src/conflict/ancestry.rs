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
