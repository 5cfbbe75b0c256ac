//! Branches and change proposals: a fork of the plan, kept in its own `.arx` file, that is
//! merged back into its parent later; a proposal is a branch that is reviewed first.
//!
//! The parent keeps one record per branch in its `branches` root map (flat fields: `id`,
//! `name`, `parent` — the parent plan's id —, `from_heads` and `from_version`, `created_by`,
//! `time_ms`, `file`, `state` = `open`|`merged`|`closed`, `description`, and for proposals
//! `proposal = true` and `review` = `open`|`approved`|`changes_requested`). Review comments
//! are records in the `comments` root map with the fields `branch` (the branch id), `author`,
//! `time_ms`, `text` and `action` (`comment`, `approve`, `request-changes`).
//!
//! The branch document is a fork of the parent at the chosen heads, so it shares the parent's
//! history and plan id and merges back with an ordinary Automerge merge: concurrent edits on
//! both sides are then checked by the conflict detection, with the parent as the local side
//! ([`BranchMerge::before`] are the parent's heads before the merge).

mod stage;

use std::collections::BTreeMap;

use automerge::ChangeHash;
use serde::Serialize;

use crate::command::{ChangeKind, Command, EditContext, RecordSet};
use crate::document::{ChangeSet, Document};
use crate::error::{DocError, Result};
use crate::model::PropValue;
use crate::versions::{Fields, Version, text};

pub use stage::{Staged, check_merge, merged, stage_close, stage_create, stage_review};

/// Where a branch stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BranchState {
    /// Being worked on.
    Open,
    /// Merged into its parent.
    Merged,
    /// Abandoned.
    Closed,
}

impl BranchState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Merged => "merged",
            Self::Closed => "closed",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [Self::Open, Self::Merged, Self::Closed]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// The review state of a proposal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewState {
    /// Waiting for review.
    Open,
    /// Approved for merging.
    Approved,
    /// A reviewer asked for changes; merging is refused unless forced.
    ChangesRequested,
}

impl ReviewState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Approved => "approved",
            Self::ChangesRequested => "changes_requested",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [Self::Open, Self::Approved, Self::ChangesRequested]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// A branch or proposal, as recorded in its parent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Branch {
    /// Random id (the record id).
    pub id: String,
    /// Unique name.
    pub name: String,
    /// The parent plan's id ([`crate::Meta::id`]).
    pub parent: String,
    /// The parent's heads the branch was forked at.
    pub from_heads: Vec<ChangeHash>,
    /// The version it was forked from, if one was named.
    pub from_version: Option<String>,
    /// Who created it.
    pub created_by: String,
    /// When, milliseconds since the Unix epoch.
    pub time_ms: i64,
    /// The branch file, as given when it was created.
    pub file: String,
    /// Open, merged or closed.
    pub state: BranchState,
    /// Free description (may be empty).
    pub description: String,
    /// Whether this is a change proposal (reviewed before merging).
    pub proposal: bool,
    /// A proposal's review state (`None` for plain branches).
    pub review: Option<ReviewState>,
    /// Who merged it.
    pub merged_by: Option<String>,
    /// When it was merged.
    pub merged_ms: Option<i64>,
}

impl Branch {
    fn what(&self) -> &'static str {
        if self.proposal { "proposal" } else { "branch" }
    }
}

/// A review comment on a proposal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Comment {
    /// Random id (the record id).
    pub id: String,
    /// The branch id it is about.
    pub branch: String,
    /// Who wrote it.
    pub author: String,
    /// When, milliseconds since the Unix epoch.
    pub time_ms: i64,
    /// The text.
    pub text: String,
    /// `comment`, `approve` or `request-changes`.
    pub action: String,
}

/// A proposal with its review comments, oldest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProposalView {
    /// The proposal.
    #[serde(flatten)]
    pub branch: Branch,
    /// Its comments.
    pub comments: Vec<Comment>,
}

/// What a branch merge did.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BranchMerge {
    /// The branch record, now marked merged.
    pub branch: Branch,
    /// The parent's heads before the merge: the local side for conflict detection.
    pub before: Vec<ChangeHash>,
    /// The branch document's heads that were merged: the remote side.
    pub branch_heads: Vec<ChangeHash>,
    /// What the merge changed in the parent.
    pub changes: ChangeSet,
}

/// Creates a branch of `parent` named `name`, forked at `from` (a version) or at the current
/// state, to be saved as `file`. Writes the branch record into the parent (one change of kind
/// [`ChangeKind::Branch`]) and returns it with the branch document.
pub fn create_branch(
    parent: &mut Document,
    ctx: &EditContext,
    name: &str,
    from: Option<&Version>,
    file: &str,
) -> Result<(Branch, Document)> {
    create(parent, ctx, name, from, file, "", false)
}

/// Creates a change proposal: a branch with a review state (`open`) and a description.
pub fn create_proposal(
    parent: &mut Document,
    ctx: &EditContext,
    name: &str,
    from: Option<&Version>,
    file: &str,
    description: &str,
) -> Result<(Branch, Document)> {
    create(parent, ctx, name, from, file, description, true)
}

fn create(
    parent: &mut Document,
    ctx: &EditContext,
    name: &str,
    from: Option<&Version>,
    file: &str,
    description: &str,
    proposal: bool,
) -> Result<(Branch, Document)> {
    let (branch, fork, staged) =
        stage::stage_create(parent, ctx, name, from, file, description, proposal)?;
    staged.apply(parent, ctx)?;
    Ok((branch, fork))
}

/// Every readable branch and proposal, oldest first. Damaged records are skipped with a
/// warning.
pub fn list_branches(doc: &Document) -> Vec<Branch> {
    let mut out: Vec<Branch> = doc
        .records(RecordSet::Branches)
        .iter()
        .filter_map(|(id, fields)| match decode_branch(id, fields) {
            Ok(b) => Some(b),
            Err(e) => {
                tracing::warn!(%e, "skipping a damaged branch record");
                None
            }
        })
        .collect();
    out.sort_by(|a, b| a.time_ms.cmp(&b.time_ms).then(a.name.cmp(&b.name)));
    out
}

/// The branch or proposal called `name`.
pub fn get_branch(doc: &Document, name: &str) -> Result<Branch> {
    list_branches(doc)
        .into_iter()
        .find(|b| b.name == name)
        .ok_or_else(|| DocError::UnknownName {
            what: "branch",
            name: name.to_owned(),
        })
}

/// Merges the branch document into its parent and marks the branch merged (a change of kind
/// [`ChangeKind::Merge`]). Refuses a branch that is not open, a document that is not a fork
/// of this plan, and a proposal whose review requested changes unless `force`.
///
/// Conflict detection is the caller's next step: local = the parent at
/// [`BranchMerge::before`], remote = the branch.
pub fn merge_branch(
    parent: &mut Document,
    branch_doc: &mut Document,
    ctx: &EditContext,
    name: &str,
    force: bool,
) -> Result<BranchMerge> {
    let branch = stage::check_merge(parent, branch_doc, name, force)?;
    let before = parent.heads();
    let branch_heads = branch_doc.heads();
    let changes = parent.merge(branch_doc)?;
    let (branch, staged) = stage::merged(branch, &branch_heads, &changes, ctx);
    staged.apply(parent, ctx)?;
    Ok(BranchMerge {
        branch,
        before,
        branch_heads,
        changes,
    })
}

/// Marks an open branch or proposal closed (abandoned); its file is left as it is.
pub fn close_branch(parent: &mut Document, ctx: &EditContext, name: &str) -> Result<Branch> {
    let (branch, staged) = stage::stage_close(parent, name)?;
    staged.apply(parent, ctx)?;
    Ok(branch)
}

/// Approves an open proposal, with an optional comment.
pub fn approve(
    parent: &mut Document,
    ctx: &EditContext,
    name: &str,
    comment: Option<&str>,
) -> Result<Branch> {
    review(
        parent,
        ctx,
        name,
        ReviewState::Approved,
        "approve",
        comment.filter(|c| !c.trim().is_empty()),
    )
}

/// Asks for changes on an open proposal; `text` says which (required).
pub fn request_changes(
    parent: &mut Document,
    ctx: &EditContext,
    name: &str,
    text: &str,
) -> Result<Branch> {
    if text.trim().is_empty() {
        return Err(DocError::InvalidName {
            what: "review comment",
            name: String::new(),
            reason: "say what should change",
        });
    }
    review(
        parent,
        ctx,
        name,
        ReviewState::ChangesRequested,
        "request-changes",
        Some(text),
    )
}

/// Adds a review comment to a proposal (any state).
pub fn comment(
    parent: &mut Document,
    ctx: &EditContext,
    name: &str,
    text: &str,
) -> Result<Comment> {
    let branch = proposal(parent, name)?;
    if text.trim().is_empty() {
        return Err(DocError::InvalidName {
            what: "review comment",
            name: String::new(),
            reason: "a comment cannot be empty",
        });
    }
    let c = new_comment(&branch, ctx, text, "comment");
    parent.apply_batch_as(
        ctx,
        ChangeKind::Review,
        &format!("comment on proposal {}", branch.name),
        vec![comment_command(&c)],
    )?;
    Ok(c)
}

fn review(
    parent: &mut Document,
    ctx: &EditContext,
    name: &str,
    state: ReviewState,
    action: &'static str,
    note: Option<&str>,
) -> Result<Branch> {
    let (branch, staged) = stage::review(parent, ctx, name, state, action, note)?;
    staged.apply(parent, ctx)?;
    Ok(branch)
}

pub(crate) fn proposal(doc: &Document, name: &str) -> Result<Branch> {
    let branch = get_branch(doc, name).map_err(|_| DocError::UnknownName {
        what: "proposal",
        name: name.to_owned(),
    })?;
    if branch.proposal {
        Ok(branch)
    } else {
        Err(DocError::NotAProposal(branch.name))
    }
}

pub(crate) fn new_comment(branch: &Branch, ctx: &EditContext, text: &str, action: &str) -> Comment {
    Comment {
        id: format!("c{}", uuid::Uuid::new_v4().simple()),
        branch: branch.id.clone(),
        author: ctx.author.clone(),
        time_ms: ctx.time_ms,
        text: text.to_owned(),
        action: action.to_owned(),
    }
}

pub(crate) fn comment_command(c: &Comment) -> Command {
    Command::PutRecord {
        set: RecordSet::Comments,
        id: c.id.clone(),
        fields: BTreeMap::from([
            text("branch", &c.branch),
            text("author", &c.author),
            ("time_ms".to_owned(), PropValue::Number(c.time_ms as f64)),
            text("text", &c.text),
            text("action", &c.action),
        ]),
    }
}

/// The review comments on the branch with id `branch_id`, oldest first.
pub fn comments(doc: &Document, branch_id: &str) -> Vec<Comment> {
    let mut out: Vec<Comment> = doc
        .records(RecordSet::Comments)
        .iter()
        .filter(|(_, f)| matches!(f.get("branch"), Some(PropValue::Text(b)) if b == branch_id))
        .filter_map(|(id, fields)| {
            let f = Fields {
                what: "comment",
                id,
                map: fields,
            };
            match f.time("time_ms") {
                Ok(time_ms) => Some(Comment {
                    id: id.clone(),
                    branch: branch_id.to_owned(),
                    author: f.text_or_default("author"),
                    time_ms,
                    text: f.text_or_default("text"),
                    action: f.opt_text("action").unwrap_or_else(|| "comment".to_owned()),
                }),
                Err(e) => {
                    tracing::warn!(%e, "skipping a damaged comment record");
                    None
                }
            }
        })
        .collect();
    out.sort_by(|a, b| a.time_ms.cmp(&b.time_ms).then(a.id.cmp(&b.id)));
    out
}

/// Every proposal with its review state and comments, oldest first.
pub fn list_proposals(doc: &Document) -> Vec<ProposalView> {
    list_branches(doc)
        .into_iter()
        .filter(|b| b.proposal)
        .map(|b| {
            let comments = comments(doc, &b.id);
            ProposalView {
                branch: b,
                comments,
            }
        })
        .collect()
}

fn decode_branch(id: &str, fields: &BTreeMap<String, PropValue>) -> Result<Branch> {
    let f = Fields {
        what: "branch",
        id,
        map: fields,
    };
    let bad = |reason: String| DocError::BadRecord {
        what: "branch",
        id: id.to_owned(),
        reason,
    };
    let state = f.text("state")?;
    let state =
        BranchState::parse(&state).ok_or_else(|| bad(format!("unknown state `{state}`")))?;
    let proposal = f.flag("proposal");
    let review = match f.opt_text("review") {
        Some(r) => {
            Some(ReviewState::parse(&r).ok_or_else(|| bad(format!("unknown review state `{r}`")))?)
        }
        None if proposal => Some(ReviewState::Open),
        None => None,
    };
    Ok(Branch {
        id: id.to_owned(),
        name: f.text("name")?,
        parent: f.text_or_default("parent"),
        from_heads: f.heads("from_heads")?,
        from_version: f.opt_text("from_version"),
        created_by: f.text_or_default("created_by"),
        time_ms: f.time("time_ms")?,
        file: f.text_or_default("file"),
        state,
        description: f.text_or_default("description"),
        proposal,
        review,
        merged_by: f.opt_text("merged_by"),
        merged_ms: f.opt_time("merged_ms"),
    })
}
