//! History workflows on a plan file: reverting to a named version, and reviewing proposals
//! (approve, request changes, comment). Each is one change, saved; a refusal writes nothing.

use std::path::Path;

use serde::Serialize;

use crate::branches;
use crate::command::EditContext;
use crate::document::{ChangeSet, Document};
use crate::error::Result;
use crate::file::{PlanFile, SaveKind};
use crate::versions::{self, Version};

/// What reverting did.
#[derive(Clone, Debug, Serialize)]
pub struct RevertOutcome {
    /// The version reverted to.
    pub version: Version,
    /// What the revert changed (empty when the plan already matched: nothing is written).
    pub changes: ChangeSet,
    /// How the plan was saved.
    pub saved: SaveKind,
}

/// Makes the plan at `path` look as it did at version `name`, as one new change (history is
/// kept), and saves.
pub fn revert_file(path: &Path, name: &str, ctx: &EditContext) -> Result<RevertOutcome> {
    let (mut file, mut doc) = PlanFile::open(path)?;
    let version = versions::get_version(&doc, name)?;
    let changes = versions::revert_to(&mut doc, ctx, &version)?;
    let saved = file.save(&mut doc)?;
    Ok(RevertOutcome {
        version,
        changes,
        saved,
    })
}

/// A review action on a proposal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReviewAction {
    /// Approve it, optionally with a comment.
    Approve(Option<String>),
    /// Ask for changes (merging is then refused unless forced); says which.
    RequestChanges(String),
    /// Comment without changing the review state.
    Comment(String),
}

/// Applies `action` to the proposal `name` of `doc` as one change; returns a one-line summary
/// of what was done.
pub fn review(
    doc: &mut Document,
    ctx: &EditContext,
    name: &str,
    action: &ReviewAction,
) -> Result<String> {
    Ok(match action {
        ReviewAction::Approve(message) => {
            let b = branches::approve(doc, ctx, name, message.as_deref())?;
            format!("approved proposal {}", b.name)
        }
        ReviewAction::RequestChanges(message) => {
            let b = branches::request_changes(doc, ctx, name, message)?;
            format!("requested changes on proposal {}", b.name)
        }
        ReviewAction::Comment(message) => {
            branches::comment(doc, ctx, name, message)?;
            format!("commented on proposal {name}")
        }
    })
}

/// What a review did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReviewOutcome {
    /// One line: `approved proposal rewire`.
    pub summary: String,
    /// How the plan was saved.
    pub saved: SaveKind,
}

/// [`review`] on the plan at `path`, saved.
pub fn review_file(
    path: &Path,
    name: &str,
    action: &ReviewAction,
    ctx: &EditContext,
) -> Result<ReviewOutcome> {
    let (mut file, mut doc) = PlanFile::open(path)?;
    let summary = review(&mut doc, ctx, name, action)?;
    let saved = file.save(&mut doc)?;
    Ok(ReviewOutcome { summary, saved })
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // exact stored values are the point
mod tests {
    use super::*;
    use crate::branches::ReviewState;
    use crate::error::DocError;
    use crate::file;
    use crate::workflow::branch::{
        BranchMergeOptions, BranchOptions, create_branch_file, merge_branch_file,
    };
    use crate::workflow::fixtures::{at, plan_with_outlet, set_voltage, voltage};

    #[test]
    fn revert_restores_the_version_once() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("p.arx");
        let (mut doc, outlet) = plan_with_outlet();
        versions::create_version(&mut doc, &at("ana", 2), "v1", "").unwrap();
        set_voltage(&mut doc, &at("ana", 3), &outlet, 400.0);
        PlanFile::create(&p, &mut doc).unwrap();

        let r = revert_file(&p, "v1", &at("bob", 4)).unwrap();
        assert_eq!(r.version.name, "v1");
        assert_eq!(r.changes.updated, vec![outlet.clone()]);
        assert_eq!(r.saved, SaveKind::Incremental);
        assert_eq!(voltage(&file::load(&p).unwrap(), &outlet), 230.0);

        let again = revert_file(&p, "v1", &at("bob", 5)).unwrap();
        assert!(again.changes.is_empty());
        assert_eq!(again.saved, SaveKind::Unchanged);
        let e = revert_file(&p, "v9", &at("bob", 6)).unwrap_err();
        assert_eq!(e.to_string(), "no version named `v9`");
    }

    #[test]
    fn reviews_change_the_proposal_and_gate_its_merge() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("p.arx");
        PlanFile::create(&p, &mut plan_with_outlet().0).unwrap();
        let opts = BranchOptions {
            proposal: Some("rewire".into()),
            ..BranchOptions::default()
        };
        create_branch_file(&p, "rw", &opts, &at("ana", 1)).unwrap();

        let c = review_file(
            &p,
            "rw",
            &ReviewAction::Comment("why?".into()),
            &at("bob", 2),
        );
        assert_eq!(c.unwrap().summary, "commented on proposal rw");
        let e = review_file(
            &p,
            "rw",
            &ReviewAction::RequestChanges(" ".into()),
            &at("bob", 3),
        )
        .unwrap_err();
        assert!(e.to_string().contains("say what should change"), "{e}");
        let r = review_file(
            &p,
            "rw",
            &ReviewAction::RequestChanges("use 16 A".into()),
            &at("bob", 4),
        )
        .unwrap();
        assert_eq!(r.summary, "requested changes on proposal rw");
        let doc = file::load(&p).unwrap();
        let view = branches::list_proposals(&doc).remove(0);
        assert_eq!(view.branch.review, Some(ReviewState::ChangesRequested));
        assert_eq!(view.comments.len(), 2);
        assert_eq!(view.comments[1].text, "use 16 A");

        let e =
            merge_branch_file(&p, "rw", &BranchMergeOptions::default(), &at("ana", 5)).unwrap_err();
        assert!(
            matches!(e, DocError::ChangesRequested(ref n) if n == "rw"),
            "{e}"
        );
        let a = review_file(&p, "rw", &ReviewAction::Approve(None), &at("bob", 6)).unwrap();
        assert_eq!(a.summary, "approved proposal rw");
        merge_branch_file(&p, "rw", &BranchMergeOptions::default(), &at("ana", 7)).unwrap();
    }
}
