//! Leaving a refused peer quiet.
//!
//! A peer whose change was refused still has it, so its heads name a change the relay will
//! never hold. Automerge's sync protocol answers heads it lacks with `need`, and the peer
//! answers again: a stock automerge-repo client was measured at ~1,600 messages a second on an
//! idle room until the rate limit closed it, then it reconnected and started over. So before
//! the relay generates anything for a peer, the peer's heads as its sync state sees them have
//! every refused change replaced by what that change was built on (its dependencies, through
//! chains of refused changes). When what remains covers everything the relay has, the peer
//! counts as in sync; everyone else's later edits still go out to it as usual.
//!
//! A change the relay neither applied nor refused (queued for a dependency that never comes)
//! is silent loss, so [`Unapplied`] counts and logs it per peer.

use std::collections::{BTreeSet, HashMap, HashSet};

use automerge::sync::State;
use automerge::{Automerge, ChangeHash, ReadDoc};

/// Most refused changes whose dependencies are remembered (refusals are rare; past this a
/// refused head is only dropped, which at worst costs the peer one more round trip).
const MAX_REMEMBERED: usize = 65_536;

/// The dependencies of refused changes, learnt from the messages that carried them.
#[derive(Debug, Default)]
pub(crate) struct RefusedDeps {
    deps: HashMap<ChangeHash, Vec<ChangeHash>>,
}

impl RefusedDeps {
    /// Remembers the dependencies of those `seen` changes that are refused.
    pub(crate) fn learn(
        &mut self,
        seen: Vec<(ChangeHash, Vec<ChangeHash>)>,
        refused: &HashMap<ChangeHash, String>,
    ) {
        for (hash, deps) in seen {
            if self.deps.len() >= MAX_REMEMBERED {
                break;
            }
            if refused.contains_key(&hash) {
                self.deps.entry(hash).or_insert(deps);
            }
        }
    }

    /// Rewrites the peer's heads in `state` so that no refused change is among them; when the
    /// rest covers all of `doc`, the peer's heads become ours (nothing to ask, nothing to send).
    pub(crate) fn settle(
        &self,
        state: &mut State,
        doc: &Automerge,
        refused: &HashMap<ChangeHash, String>,
    ) {
        let Some(heads) = state.their_heads.as_ref() else {
            return;
        };
        if !heads.iter().any(|h| refused.contains_key(h)) {
            return;
        }
        let mut kept = BTreeSet::new();
        let mut seen = HashSet::new();
        let mut stack: Vec<ChangeHash> = heads.clone();
        while let Some(hash) = stack.pop() {
            if !seen.insert(hash) {
                continue;
            }
            if refused.contains_key(&hash) {
                if let Some(deps) = self.deps.get(&hash) {
                    stack.extend(deps.iter().copied());
                }
            } else {
                kept.insert(hash);
            }
        }
        let kept: Vec<ChangeHash> = kept.into_iter().collect();
        let ours = doc.get_heads();
        // Every kept head we have is an ancestor of (or one of) our heads; so when all are known
        // and all our heads are among them, the peer holds exactly what we hold.
        let covers_ours = ours.iter().all(|h| kept.contains(h))
            && kept.iter().all(|h| doc.get_change_by_hash(h).is_some());
        state.their_heads = Some(if covers_ours { ours } else { kept });
        // The peer's `need` named nothing refused (it asks for what we have), so it stands.
    }
}

/// Changes a peer sent that the relay neither applied nor refused, counted per peer.
#[derive(Debug, Default)]
pub(crate) struct Unapplied {
    total: u64,
    logged_at: u64,
}

impl Unapplied {
    /// Adds `count` more; true when this is worth a log line (the first, then every 100th).
    pub(crate) fn add(&mut self, count: u64) -> bool {
        if count == 0 {
            return false;
        }
        self.total += count;
        if self.logged_at == 0 || self.total >= self.logged_at + 100 {
            self.logged_at = self.total;
            return true;
        }
        false
    }

    /// How many so far.
    pub(crate) fn total(&self) -> u64 {
        self.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::transaction::Transactable;
    use automerge::{AutoCommit, ROOT};

    fn commit(doc: &mut AutoCommit, key: &str) -> ChangeHash {
        doc.put(ROOT, key, 1_i64).unwrap();
        doc.commit().unwrap()
    }

    #[test]
    fn a_refused_head_becomes_what_it_was_built_on_and_a_covered_peer_is_in_sync() {
        let mut ours = AutoCommit::new();
        let base = commit(&mut ours, "base");
        let mut theirs = ours.fork();
        let refused_change = commit(&mut theirs, "refused");
        let stranded = commit(&mut theirs, "stranded");
        let refused: HashMap<ChangeHash, String> = [
            (refused_change, "viewer".to_owned()),
            (stranded, "depends on refused change".to_owned()),
        ]
        .into();
        let mut deps = RefusedDeps::default();
        deps.learn(
            vec![
                (refused_change, vec![base]),
                (stranded, vec![refused_change]),
            ],
            &refused,
        );
        let doc = ours.document().clone();

        let mut state = State::new();
        state.their_heads = Some(vec![stranded]);
        deps.settle(&mut state, &doc, &refused);
        assert_eq!(
            state.their_heads,
            Some(vec![base]),
            "in sync: nothing to ask"
        );

        // Once someone else edits, the peer lacks that edit: it is not claimed to have it.
        let other = commit(&mut ours, "other");
        let doc = ours.document().clone();
        let mut state = State::new();
        state.their_heads = Some(vec![stranded]);
        deps.settle(&mut state, &doc, &refused);
        assert_eq!(state.their_heads, Some(vec![base]));
        assert_ne!(state.their_heads, Some(vec![other]));

        // Heads with nothing refused are left alone.
        let mut state = State::new();
        state.their_heads = Some(vec![other]);
        deps.settle(&mut state, &doc, &refused);
        assert_eq!(state.their_heads, Some(vec![other]));
    }

    #[test]
    fn unapplied_changes_are_logged_first_and_then_every_hundred() {
        let mut u = Unapplied::default();
        assert!(!u.add(0));
        assert!(u.add(1));
        assert!(!u.add(50));
        assert!(u.add(50));
        assert_eq!(u.total(), 101);
    }
}
