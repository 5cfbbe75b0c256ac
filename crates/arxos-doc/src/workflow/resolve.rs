//! A plan file's conflicts: listing them as this replica sees them, settling one by a
//! person's choice, and settling what the plan's rules settle.
//!
//! "As this replica sees them" means with the local side recorded at the last merge
//! ([`super::merge::local_side`]), so that `local` is ours on every listing after a merge.

use std::path::Path;

use serde::Serialize;

use crate::command::EditContext;
use crate::conflict::{AutoResolution, Choice, Conflict, ConflictIndex, auto_resolve, resolve};
use crate::document::{ChangeSet, Document};
use crate::error::{DocError, Result};
use crate::file::{self, PlanFile, SaveKind};
use crate::workflow::merge::local_side;
use crate::workflow::values::conflict_value;

/// A plan read with its conflicts.
#[derive(Debug)]
pub struct ScannedPlan {
    /// The plan.
    pub document: Document,
    /// Its conflicts, with this replica's local side.
    pub conflicts: ConflictIndex,
    /// Which values count as local: recorded at this file's last merge, or (no record beside
    /// the file, e.g. after it was copied or moved without its `.replica.json`) the values the
    /// plan shows now. Conflict views say which ([`crate::conflict::LocalSide::describe`]).
    pub local: crate::conflict::LocalSide,
}

impl ScannedPlan {
    /// Open conflicts, most severe first.
    pub fn list(&self) -> Vec<Conflict> {
        self.conflicts.list(&self.document)
    }

    /// The open conflict `id` (or unique id prefix).
    pub fn get(&self, id: &str) -> Result<&Conflict> {
        self.conflicts
            .get(id)
            .ok_or_else(|| DocError::NoSuchConflict(id.to_owned()))
    }
}

/// Reads the plan at `path` and scans its conflicts as this replica sees them.
pub fn scan_file(path: &Path) -> Result<ScannedPlan> {
    let mut document = file::load(path)?;
    let local = local_side(path)?;
    let conflicts = ConflictIndex::scan(&mut document, local.clone());
    Ok(ScannedPlan {
        document,
        conflicts,
        local,
    })
}

/// How a person settles a conflict.
#[derive(Clone, Debug, PartialEq)]
pub enum ResolveWith {
    /// One of the offered choices.
    Choice(Choice),
    /// A value of one's own, as typed: read like the competing values
    /// ([`super::values::conflict_value`]).
    Value(String),
}

/// What settling one conflict did.
#[derive(Clone, Debug, Serialize)]
pub struct ResolveOutcome {
    /// The conflict as it was.
    pub conflict: Conflict,
    /// What the resolution changed.
    pub changes: ChangeSet,
    /// Conflicts still open afterwards.
    pub open_conflicts: usize,
    /// How the plan was saved.
    pub saved: SaveKind,
}

/// Settles the open conflict `id` of the plan at `path` as one change by `ctx`, and saves.
pub fn resolve_in_file(
    path: &Path,
    id: &str,
    with: &ResolveWith,
    ctx: &EditContext,
) -> Result<ResolveOutcome> {
    let (mut file, mut doc) = PlanFile::open(path)?;
    let local = local_side(path)?;
    let conflict = ConflictIndex::scan(&mut doc, local.clone())
        .get(id)
        .cloned()
        .ok_or_else(|| DocError::NoSuchConflict(id.to_owned()))?;
    let choice = match with {
        ResolveWith::Choice(c) => c.clone(),
        ResolveWith::Value(raw) => Choice::Value(conflict_value(&conflict, raw)?),
    };
    let changes = resolve(&mut doc, ctx, &conflict, &choice)?;
    let saved = file.save(&mut doc)?;
    let open_conflicts = ConflictIndex::scan(&mut doc, local).list(&doc).len();
    Ok(ResolveOutcome {
        conflict,
        changes,
        open_conflicts,
        saved,
    })
}

/// What the rules settled in a file.
#[derive(Clone, Debug, Serialize)]
pub struct AutoOutcome {
    /// The conflicts settled, one change for all.
    pub auto_resolved: Vec<AutoResolution>,
    /// How the plan was saved (`Unchanged` when no rule applied).
    pub saved: SaveKind,
}

/// Applies the plan's strategy rules to the open conflicts of the plan at `path`, and saves.
pub fn auto_resolve_file(path: &Path, ctx: &EditContext) -> Result<AutoOutcome> {
    let (mut file, mut doc) = PlanFile::open(path)?;
    let list = ConflictIndex::scan(&mut doc, local_side(path)?).list(&doc);
    let auto_resolved = auto_resolve(&mut doc, ctx, &list)?;
    let saved = file.save(&mut doc)?;
    Ok(AutoOutcome {
        auto_resolved,
        saved,
    })
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // exact stored values are the point
mod tests {
    use super::*;
    use crate::model::PropValue;
    use crate::workflow::fixtures::{Replicas, at, voltage};
    use crate::workflow::merge::{MergeOptions, merge_files};
    use crate::workflow::rules::{RuleSpec, add_rule_to_file};

    /// `a` and `b` merged into `m.arx`, with one voltage conflict.
    fn merged() -> (Replicas, std::path::PathBuf) {
        let r = Replicas::new();
        let m = r.dir.path().join("m.arx");
        let opts = MergeOptions {
            output: Some(m.clone()),
            ..MergeOptions::default()
        };
        merge_files(&r.a, &r.b, &opts, &at("m", 30)).unwrap();
        (r, m)
    }

    #[test]
    fn a_value_of_ones_own_is_typed_like_the_conflict() {
        let (r, m) = merged();
        let scanned = scan_file(&m).unwrap();
        let [c] = scanned.list().try_into().unwrap();
        assert_eq!(scanned.get(&c.id[..6]).unwrap().id, c.id);
        assert!(matches!(
            scanned.get("zzz"),
            Err(DocError::NoSuchConflict(id)) if id == "zzz"
        ));

        let bytes = std::fs::read(&m).unwrap();
        let e = resolve_in_file(
            &m,
            &c.id,
            &ResolveWith::Value("high".into()),
            &at("ana", 40),
        )
        .unwrap_err();
        assert!(e.to_string().contains("is a number, not a string"), "{e}");
        assert_eq!(
            std::fs::read(&m).unwrap(),
            bytes,
            "a refusal writes nothing"
        );

        let done = resolve_in_file(
            &m,
            &c.id,
            &ResolveWith::Value(" 400".into()),
            &at("ana", 40),
        )
        .unwrap();
        assert_eq!(done.conflict.id, c.id);
        assert_eq!(done.changes.updated, vec![r.outlet.clone()]);
        assert_eq!(done.open_conflicts, 0);
        assert_eq!(voltage(&file::load(&m).unwrap(), &r.outlet), 400.0);
        assert!(scan_file(&m).unwrap().list().is_empty());
    }

    #[test]
    fn choices_and_rules_settle_conflicts() {
        let (r, m) = merged();
        let id = scan_file(&m).unwrap().list()[0].id.clone();
        let done =
            resolve_in_file(&m, &id, &ResolveWith::Choice(Choice::Local), &at("a", 40)).unwrap();
        assert_eq!(done.open_conflicts, 0);
        assert_eq!(voltage(&file::load(&m).unwrap(), &r.outlet), 240.0);

        // Rules: nothing to do without one, last-write-wins with one.
        let (r, m) = merged();
        let none = auto_resolve_file(&m, &at("a", 40)).unwrap();
        assert!(none.auto_resolved.is_empty());
        assert_eq!(none.saved, SaveKind::Unchanged);
        let spec = RuleSpec::Strategy {
            strategy: "lww".into(),
            layer: Some("electrical".into()),
            kind: None,
            tag: Some("outlet:*".into()),
            order: 0,
        };
        add_rule_to_file(&m, &at("a", 41), None, &spec).unwrap();
        let auto = auto_resolve_file(&m, &at("a", 42)).unwrap();
        let [a] = auto.auto_resolved.as_slice() else {
            panic!("{:?}", auto.auto_resolved)
        };
        assert_eq!(a.chosen, Some(PropValue::Number(120.0)));
        assert_eq!(a.strategy, "lww");
        assert_eq!(voltage(&file::load(&m).unwrap(), &r.outlet), 120.0);
        assert!(scan_file(&m).unwrap().list().is_empty());
    }
}
