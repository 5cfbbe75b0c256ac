//! Branch and proposal files: forking a plan into its own `.arx` file (recorded in the
//! parent), finding that file again, merging it back with the conflict scan and the plan's
//! rules, and closing it.
//!
//! The records and the merge itself are [`crate::branches`]; this module adds the files
//! around them, and keeps a branch's record and its file consistent: a branch whose record
//! cannot be saved leaves no file behind.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::branches::{self, Branch, BranchMerge};
use crate::command::EditContext;
use crate::conflict::{AutoResolution, Conflict};
use crate::document::Document;
use crate::error::{DocError, Result};
use crate::file::{self, PlanFile, SaveKind};
use crate::versions;
use crate::workflow::merge::{remember_local_side, settle};

/// The default branch file: `<stem>.<name>.arx` beside the plan, with the name reduced to
/// characters safe in a file name.
pub fn default_branch_path(parent: &Path, name: &str) -> PathBuf {
    let stem = parent
        .file_stem()
        .map_or_else(|| "plan".into(), |s| s.to_string_lossy().into_owned());
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '-' | '_') {
                c
            } else {
                '-'
            }
        })
        .collect();
    parent.with_file_name(format!("{stem}.{safe}.arx"))
}

/// Finds a branch's file: where it was recorded, else (moved together with the plan) under
/// the same name beside the parent plan.
pub fn branch_path(parent: &Path, branch: &Branch) -> Result<PathBuf> {
    let recorded = PathBuf::from(&branch.file);
    if recorded.exists() {
        return Ok(recorded);
    }
    if let Some(name) = recorded.file_name() {
        let beside = parent.with_file_name(name);
        if beside.exists() {
            return Ok(beside);
        }
    }
    Err(DocError::BranchFileNotFound {
        branch: branch.name.clone(),
        file: branch.file.clone(),
    })
}

/// How [`create_branch_file`] forks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BranchOptions {
    /// Fork at this version (`None` or `current`: the current state).
    pub from: Option<String>,
    /// The branch file [default: [`default_branch_path`]]; must not exist.
    pub output: Option<PathBuf>,
    /// Make it a proposal with this description.
    pub proposal: Option<String>,
}

/// A new branch and where its file is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BranchCreated {
    /// The record written into the parent.
    pub branch: Branch,
    /// The branch file written.
    pub file: PathBuf,
}

/// Forks the plan at `parent` into a new branch (or proposal) file and records the branch in
/// the parent. Refuses an existing target file; if the parent cannot be saved the new file is
/// removed again, so no branch file exists without its record.
pub fn create_branch_file(
    parent: &Path,
    name: &str,
    opts: &BranchOptions,
    ctx: &EditContext,
) -> Result<BranchCreated> {
    let (mut file, mut doc) = PlanFile::open(parent)?;
    let from = match opts.from.as_deref() {
        Some(v) if !versions::is_current(v) => Some(versions::get_version(&doc, v)?),
        _ => None,
    };
    let target = opts
        .output
        .clone()
        .unwrap_or_else(|| default_branch_path(parent, name));
    if target.exists() {
        return Err(DocError::FileExists { path: target });
    }
    let shown = target.display().to_string();
    let (branch, mut fork) = match &opts.proposal {
        Some(description) => {
            branches::create_proposal(&mut doc, ctx, name, from.as_ref(), &shown, description)?
        }
        None => branches::create_branch(&mut doc, ctx, name, from.as_ref(), &shown)?,
    };
    PlanFile::create(&target, &mut fork)?;
    if let Err(e) = file.save(&mut doc) {
        // The save error is the one to report; a file we cannot remove is merely left over.
        let _ = std::fs::remove_file(&target);
        return Err(e);
    }
    Ok(BranchCreated {
        branch,
        file: target,
    })
}

/// What merging a branch back did to the parent document.
#[derive(Clone, Debug, Serialize)]
pub struct BranchMerged {
    /// The merge: the branch record, the heads on both sides, the changes.
    #[serde(flatten)]
    pub merge: BranchMerge,
    /// Conflicts the plan's rules settled.
    pub auto_resolved: Vec<AutoResolution>,
    /// Conflicts left for people (local = the parent before the merge).
    pub conflicts: Vec<Conflict>,
}

/// What merging a branch back from its file did.
#[derive(Clone, Debug, Serialize)]
pub struct BranchMergeOutcome {
    /// The branch file merged.
    pub branch_file: PathBuf,
    /// What the merge did to the parent.
    #[serde(flatten)]
    pub merged: BranchMerged,
    /// How the parent was saved.
    pub saved: SaveKind,
}

/// Merges `branch_doc` (the branch `name`) into `parent` in memory: the branch merge of
/// [`branches::merge_branch`], then the conflict scan with the parent as local and the plan's
/// rules, as for any merge.
pub fn merge_branch_documents(
    parent: &mut Document,
    branch_doc: &mut Document,
    name: &str,
    force: bool,
    ctx: &EditContext,
) -> Result<BranchMerged> {
    let merge = branches::merge_branch(parent, branch_doc, ctx, name, force)?;
    let settled = settle(parent, ctx, &merge.before, true)?;
    Ok(BranchMerged {
        merge,
        auto_resolved: settled.auto_resolved,
        conflicts: settled.conflicts,
    })
}

/// How [`merge_branch_file`] finds and merges the branch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BranchMergeOptions {
    /// Merge a proposal even though its review requested changes.
    pub force: bool,
    /// The branch file, when it moved since it was created [default: [`branch_path`]].
    pub branch_file: Option<PathBuf>,
}

/// Merges the branch `name` of the plan at `parent` back from its file, saves the parent and
/// records the parent's pre-merge heads as its local side (as after [`super::merge_files`]).
pub fn merge_branch_file(
    parent: &Path,
    name: &str,
    opts: &BranchMergeOptions,
    ctx: &EditContext,
) -> Result<BranchMergeOutcome> {
    let (mut file, mut doc) = PlanFile::open(parent)?;
    let branch = branches::get_branch(&doc, name)?;
    let bpath = match &opts.branch_file {
        Some(p) => p.clone(),
        None => branch_path(parent, &branch)?,
    };
    let mut bdoc = file::load(&bpath)?;
    let merged = merge_branch_documents(&mut doc, &mut bdoc, name, opts.force, ctx)?;
    let saved = file.save(&mut doc)?;
    remember_local_side(parent, &merged.merge.before)?;
    Ok(BranchMergeOutcome {
        branch_file: bpath,
        merged,
        saved,
    })
}

/// Marks the branch `name` of the plan at `parent` closed (its file is left alone) and saves.
pub fn close_branch_file(parent: &Path, name: &str, ctx: &EditContext) -> Result<Branch> {
    let (mut file, mut doc) = PlanFile::open(parent)?;
    let branch = branches::close_branch(&mut doc, ctx, name)?;
    file.save(&mut doc)?;
    Ok(branch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::branches::BranchState;
    use crate::conflict::ConflictIndex;
    use crate::workflow::fixtures::{at, plan_with_outlet, set_voltage, voltage};
    use crate::workflow::merge::local_side;

    #[test]
    fn default_paths_sit_beside_the_plan_with_safe_names() {
        assert_eq!(
            default_branch_path(Path::new("/p/office.arx"), "re wire/2"),
            PathBuf::from("/p/office.re-wire-2.arx")
        );
        assert_eq!(
            default_branch_path(Path::new("office.arx"), "é_1"),
            PathBuf::from("office.é_1.arx")
        );
    }

    #[test]
    fn a_branch_round_trip_through_files() {
        let dir = tempfile::tempdir().unwrap();
        let plan = dir.path().join("office.arx");
        let (mut doc, outlet) = plan_with_outlet();
        PlanFile::create(&plan, &mut doc).unwrap();

        let created =
            create_branch_file(&plan, "rewire", &BranchOptions::default(), &at("ana", 5)).unwrap();
        assert_eq!(created.file, dir.path().join("office.rewire.arx"));
        assert_eq!(created.branch.state, BranchState::Open);
        assert!(!created.branch.proposal);
        let e = create_branch_file(
            &plan,
            "other",
            &BranchOptions {
                output: Some(created.file.clone()),
                ..BranchOptions::default()
            },
            &at("ana", 6),
        )
        .unwrap_err();
        assert!(matches!(&e, DocError::FileExists { path } if *path == created.file));
        assert!(branches::get_branch(&file::load(&plan).unwrap(), "other").is_err());

        // Both sides edit the outlet; the branch file then moves beside a renamed copy.
        let (mut bf, mut bdoc) = PlanFile::open(&created.file).unwrap();
        set_voltage(&mut bdoc, &at("bob", 20), &outlet, 120.0);
        bf.save(&mut bdoc).unwrap();
        let (mut pf, mut pdoc) = PlanFile::open(&plan).unwrap();
        set_voltage(&mut pdoc, &at("ana", 10), &outlet, 240.0);
        pf.save(&mut pdoc).unwrap();
        let moved = dir.path().join("elsewhere.arx");
        std::fs::rename(&created.file, &moved).unwrap();
        let e = merge_branch_file(
            &plan,
            "rewire",
            &BranchMergeOptions::default(),
            &at("ana", 30),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "branch file {} of `rewire` not found; give its path",
                created.file.display()
            )
        );

        let opts = BranchMergeOptions {
            branch_file: Some(moved.clone()),
            ..BranchMergeOptions::default()
        };
        let m = merge_branch_file(&plan, "rewire", &opts, &at("ana", 30)).unwrap();
        assert_eq!(m.branch_file, moved);
        assert_eq!(m.merged.merge.branch.state, BranchState::Merged);
        // Whether the shown value changed depends on which concurrent value Automerge picks.
        assert!(
            m.merged
                .merge
                .changes
                .updated
                .iter()
                .all(|id| *id == outlet)
        );
        assert!(m.merged.merge.changes.added.is_empty());
        assert_eq!(m.saved, SaveKind::Incremental);
        let [c] = m.merged.conflicts.as_slice() else {
            panic!("{:?}", m.merged.conflicts)
        };
        assert_eq!(c.local.as_ref().unwrap().author, "ana");
        assert_eq!(c.remote.as_ref().unwrap().author, "bob");
        // Saved, with the parent's side remembered for later conflict listings.
        let mut back = file::load(&plan).unwrap();
        assert_eq!(
            branches::get_branch(&back, "rewire").unwrap().state,
            BranchState::Merged
        );
        let later = ConflictIndex::scan(&mut back, local_side(&plan).unwrap()).list(&back);
        assert_eq!(later, m.merged.conflicts);
        assert!([240.0, 120.0].contains(&voltage(&back, &outlet)));
    }

    #[test]
    fn proposals_and_closing() {
        let dir = tempfile::tempdir().unwrap();
        let plan = dir.path().join("p.arx");
        PlanFile::create(&plan, &mut plan_with_outlet().0).unwrap();
        let opts = BranchOptions {
            proposal: Some("move the outlet".into()),
            output: Some(dir.path().join("prop.arx")),
            ..BranchOptions::default()
        };
        let created = create_branch_file(&plan, "move", &opts, &at("ana", 5)).unwrap();
        assert!(created.branch.proposal);
        assert_eq!(created.branch.description, "move the outlet");
        assert!(created.file.exists());
        let closed = close_branch_file(&plan, "move", &at("ana", 6)).unwrap();
        assert_eq!(closed.state, BranchState::Closed);
        let e = merge_branch_file(&plan, "move", &BranchMergeOptions::default(), &at("a", 7))
            .unwrap_err();
        assert!(matches!(e, DocError::BranchState { .. }), "{e}");
    }
}
