//! Merging another replica into a plan: the merge itself, the conflict scan with our side as
//! *local*, the plan's automatic rules, and the replica-local record of which side was ours.
//!
//! The record matters after the merge: `<file>.replica.json` keeps our heads from before the
//! merge, so that a later conflict listing of the merged file still shows our values as local
//! and theirs as remote ([`local_side`]). It lives beside the file, never in the shared
//! document, because the other replica's "ours" is the opposite.

use std::path::{Path, PathBuf};

use automerge::ChangeHash;
use serde::Serialize;

use crate::command::EditContext;
use crate::conflict::{AutoResolution, Conflict, ConflictIndex, LocalSide, auto_resolve};
use crate::document::{ChangeSet, Document};
use crate::error::{DocError, Result};
use crate::file::{self, PlanFile, ReplicaState};

/// How conflicts of the plan at `path` are seen: local is what this replica had before its
/// last merge, when that was recorded; otherwise the value the document shows now.
pub fn local_side(path: &Path) -> Result<LocalSide> {
    Ok(match file::load_replica_state(path)? {
        Some(s) if !s.local_heads.is_empty() => LocalSide::Heads(s.heads()),
        _ => LocalSide::Winner,
    })
}

/// Records `heads` (ours before a merge) as the local side of the plan at `path`.
pub fn remember_local_side(path: &Path, heads: &[ChangeHash]) -> Result<()> {
    file::save_replica_state(
        path,
        &ReplicaState {
            local_heads: heads.iter().map(ToString::to_string).collect(),
        },
    )
}

/// The conflicts after a merge, and what the rules settled.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Settled {
    /// Conflicts the plan's rules settled (one change for all of them).
    pub auto_resolved: Vec<AutoResolution>,
    /// Conflicts left for people, most severe first.
    pub conflicts: Vec<Conflict>,
}

/// After remote changes came into `doc`: lists the conflicts with the changes within
/// `local_heads` as local and, when `apply_rules`, settles what the plan's rules settle (as
/// `ctx`) and lists what is left.
pub fn settle(
    doc: &mut Document,
    ctx: &EditContext,
    local_heads: &[ChangeHash],
    apply_rules: bool,
) -> Result<Settled> {
    let local = LocalSide::Heads(local_heads.to_vec());
    let found = ConflictIndex::scan(doc, local.clone()).list(doc);
    if !apply_rules {
        return Ok(Settled {
            auto_resolved: Vec::new(),
            conflicts: found,
        });
    }
    let auto_resolved = auto_resolve(doc, ctx, &found)?;
    // A scan walks the whole plan: only repeat it when the rules changed something.
    let conflicts = if auto_resolved.is_empty() {
        found
    } else {
        ConflictIndex::scan(doc, local).list(doc)
    };
    Ok(Settled {
        auto_resolved,
        conflicts,
    })
}

/// What a merge did.
#[derive(Clone, Debug, Serialize)]
pub struct MergeOutcome {
    /// Our heads before the merge: the local side of the conflicts.
    pub local_heads: Vec<ChangeHash>,
    /// What their changes did to our plan.
    pub changes: ChangeSet,
    /// Conflicts the rules settled (none in a preview).
    pub auto_resolved: Vec<AutoResolution>,
    /// Conflicts left for people, most severe first.
    pub conflicts: Vec<Conflict>,
    /// Whether this was a preview (rules not applied, nothing written).
    pub preview: bool,
}

impl MergeOutcome {
    /// The local side to scan the merged plan with.
    pub fn local_side(&self) -> LocalSide {
        LocalSide::Heads(self.local_heads.clone())
    }
}

fn check_same_plan(ours: &Document, theirs: &Document, labels: (String, String)) -> Result<()> {
    if ours.meta().id == theirs.meta().id {
        return Ok(());
    }
    Err(DocError::DifferentPlans {
        ours: labels.0,
        theirs: labels.1,
        ours_id: ours.meta().id.clone(),
        theirs_id: theirs.meta().id.clone(),
    })
}

/// Merges `theirs` into `ours`, lists the conflicts with our side as local and, unless
/// `preview`, applies the plan's rules as `ctx`. Refuses a document of another plan.
///
/// A preview still merges into `ours` (the conflicts are those of the merged state); preview
/// on a [`Document::fork`] to leave a live document untouched.
pub fn merge_documents(
    ours: &mut Document,
    theirs: &mut Document,
    ctx: &EditContext,
    preview: bool,
) -> Result<MergeOutcome> {
    check_same_plan(ours, theirs, ("our plan".into(), "their plan".into()))?;
    let local_heads = ours.heads();
    let changes = ours.merge(theirs)?;
    let settled = settle(ours, ctx, &local_heads, !preview)?;
    Ok(MergeOutcome {
        local_heads,
        changes,
        auto_resolved: settled.auto_resolved,
        conflicts: settled.conflicts,
        preview,
    })
}

/// Where [`merge_files`] writes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MergeOptions {
    /// The merged plan's file (may be `ours`); required unless `preview`.
    pub output: Option<PathBuf>,
    /// Report only: no rules applied, nothing written.
    pub preview: bool,
    /// Replace `output` when it exists (replacing `ours` itself is always allowed).
    pub replace: bool,
}

/// A merge of two files.
#[derive(Debug)]
pub struct FileMerge {
    /// The merged plan (in memory also in a preview).
    pub document: Document,
    /// What the merge did.
    pub outcome: MergeOutcome,
    /// The file written, with its replica state beside it (`None` in a preview).
    pub written: Option<PathBuf>,
}

/// Merges the plan at `theirs` into the plan at `ours` and, unless previewing, writes the
/// result to `opts.output` with our pre-merge heads as its recorded local side. The inputs
/// are never modified (unless `output` is `ours`). Checks everything that can be checked
/// before writing: same plan, an output given, an existing output only with `replace`.
pub fn merge_files(
    ours: &Path,
    theirs: &Path,
    opts: &MergeOptions,
    ctx: &EditContext,
) -> Result<FileMerge> {
    let mut doc = file::load(ours)?;
    let mut other = file::load(theirs)?;
    check_same_plan(
        &doc,
        &other,
        (ours.display().to_string(), theirs.display().to_string()),
    )?;
    let output = match (&opts.output, opts.preview) {
        (Some(o), _) => Some(o.as_path()),
        (None, true) => None,
        (None, false) => return Err(DocError::MergeOutputMissing),
    };
    // Checked in a preview too: a preview should fail where the real merge would.
    if let Some(o) = output
        && o.exists()
        && !opts.replace
        && o != ours
    {
        return Err(DocError::FileExists { path: o.to_owned() });
    }
    let outcome = merge_documents(&mut doc, &mut other, ctx, opts.preview)?;
    let written = match output {
        Some(o) if !opts.preview => {
            PlanFile::create(o, &mut doc)?;
            remember_local_side(o, &outcome.local_heads)?;
            Some(o.to_owned())
        }
        _ => None,
    };
    Ok(FileMerge {
        document: doc,
        outcome,
        written,
    })
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // exact stored values are the point
mod tests {
    use super::*;
    use crate::conflict::ConflictType;
    use crate::conflict::rules::{Rule, Strategy};
    use crate::model::PropValue;
    use crate::workflow::fixtures::{Replicas, at, voltage};

    #[test]
    fn merged_files_keep_both_values_and_remember_our_side() {
        let r = Replicas::new();
        let out = r.dir.path().join("m.arx");
        let opts = MergeOptions {
            output: Some(out.clone()),
            ..MergeOptions::default()
        };
        let m = merge_files(&r.a, &r.b, &opts, &at("merger", 50)).unwrap();
        assert_eq!(m.written.as_deref(), Some(out.as_path()));
        // Whether the shown value changed depends on which concurrent value Automerge picks.
        let c = &m.outcome.changes;
        assert!(c.added.is_empty() && c.removed.is_empty());
        assert!(c.updated.iter().all(|id| *id == r.outlet));
        assert!(m.outcome.auto_resolved.is_empty());
        let [c] = m.outcome.conflicts.as_slice() else {
            panic!("{:?}", m.outcome.conflicts)
        };
        assert_eq!(c.kind, ConflictType::Property);
        assert_eq!(c.property.as_deref(), Some("props.voltage"));
        assert_eq!(
            c.local.as_ref().unwrap().value,
            Some(PropValue::Number(240.0))
        );
        assert_eq!(
            c.remote.as_ref().unwrap().value,
            Some(PropValue::Number(120.0))
        );
        // The file on disk is the merged plan, and a later scan sees a's value as local.
        let mut back = file::load(&out).unwrap();
        let mut merged = m.document;
        assert_eq!(back.heads(), merged.heads());
        let again = ConflictIndex::scan(&mut back, local_side(&out).unwrap()).list(&back);
        assert_eq!(again, m.outcome.conflicts);
        // The inputs are untouched.
        assert_eq!(voltage(&file::load(&r.a).unwrap(), &r.outlet), 240.0);
        assert_eq!(voltage(&file::load(&r.b).unwrap(), &r.outlet), 120.0);
    }

    #[test]
    fn rules_settle_conflicts_unless_previewing() {
        let r = Replicas::with_rule(&Rule::Strategy {
            strategy: Strategy::LastWriteWins,
            layer: None,
            kind: Some("outlet".into()),
            tag: None,
            order: 0,
        });
        let preview = MergeOptions {
            preview: true,
            ..MergeOptions::default()
        };
        let p = merge_files(&r.a, &r.b, &preview, &at("m", 50)).unwrap();
        assert!(p.written.is_none() && p.outcome.preview);
        assert!(p.outcome.auto_resolved.is_empty());
        assert_eq!(p.outcome.conflicts.len(), 1);

        let out = r.dir.path().join("m.arx");
        let real = MergeOptions {
            output: Some(out.clone()),
            ..MergeOptions::default()
        };
        let m = merge_files(&r.a, &r.b, &real, &at("m", 50)).unwrap();
        assert!(m.outcome.conflicts.is_empty());
        let [a] = m.outcome.auto_resolved.as_slice() else {
            panic!("{:?}", m.outcome.auto_resolved)
        };
        // b wrote later, so last-write-wins keeps b's value.
        assert_eq!(
            (a.chosen.clone(), a.author.as_str()),
            (Some(PropValue::Number(120.0)), "b")
        );
        assert_eq!(voltage(&file::load(&out).unwrap(), &r.outlet), 120.0);
    }

    #[test]
    fn refusals_write_nothing() {
        let r = Replicas::new();
        let ctx = at("m", 50);
        // No output and no preview.
        let e = merge_files(&r.a, &r.b, &MergeOptions::default(), &ctx).unwrap_err();
        assert!(matches!(e, DocError::MergeOutputMissing), "{e}");
        // An existing output without `replace`; with it, the file is replaced.
        let taken = MergeOptions {
            output: Some(r.b.clone()),
            ..MergeOptions::default()
        };
        let e = merge_files(&r.a, &r.b, &taken, &ctx).unwrap_err();
        assert!(
            matches!(&e, DocError::FileExists { path } if *path == r.b),
            "{e}"
        );
        assert_eq!(voltage(&file::load(&r.b).unwrap(), &r.outlet), 120.0);
        // Merging into ours in place needs no `replace`.
        let in_place = MergeOptions {
            output: Some(r.a.clone()),
            ..MergeOptions::default()
        };
        merge_files(&r.a, &r.b, &in_place, &ctx).unwrap();
        assert!(file::load_replica_state(&r.a).unwrap().is_some());
        // Another plan altogether.
        let other = r.dir.path().join("other.arx");
        PlanFile::create(&other, &mut Document::new_plan("x", &ctx).unwrap()).unwrap();
        let e = merge_files(&r.a, &other, &in_place, &ctx).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("are different plans") && msg.contains("other.arx"),
            "{msg}"
        );
    }

    #[test]
    fn documents_merge_in_memory() {
        let r = Replicas::new();
        let mut ours = file::load(&r.a).unwrap();
        let mut theirs = file::load(&r.b).unwrap();
        let before = ours.heads();
        let m = merge_documents(&mut ours, &mut theirs, &at("m", 9), false).unwrap();
        assert_eq!(m.local_heads, before);
        assert_eq!(m.conflicts.len(), 1);
        assert!(!ours.heads().iter().all(|h| before.contains(h)));
        let mut stranger = Document::new_plan("x", &at("m", 9)).unwrap();
        let e = merge_documents(&mut ours, &mut stranger, &at("m", 9), true).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("our plan and their plan are different plans")
        );
        r.dir.close().unwrap();
    }
}
