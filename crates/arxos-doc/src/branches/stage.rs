//! Branch operations as writes not yet made: each checks the parent and returns the commands
//! it would write ([`Staged`]), so that whoever applies commands applies them — the
//! document itself ([`Staged::apply`], what the CLI's file workflows do), or a live session
//! (the editor hands them to its session, which checks permissions and syncs them).

use std::collections::BTreeMap;

use automerge::ChangeHash;

use super::{Branch, BranchState, ReviewState, comment_command, new_comment, proposal};
use crate::command::{ChangeKind, Command, EditContext, RecordSet};
use crate::document::{ChangeSet, Document};
use crate::error::{DocError, Result};
use crate::model::PropValue;
use crate::versions::{Version, check_name, encode_heads, text};

/// The write a branch operation makes in the parent: one change of `kind`.
#[derive(Clone, Debug)]
pub struct Staged {
    /// The change's kind (history, audit).
    pub kind: ChangeKind,
    /// The change's summary.
    pub summary: String,
    /// What it writes.
    pub commands: Vec<Command>,
}

impl Staged {
    /// Writes it into `parent` as one change.
    pub fn apply(self, parent: &mut Document, ctx: &EditContext) -> Result<ChangeSet> {
        parent.apply_batch_as(ctx, self.kind, &self.summary, self.commands)
    }
}

/// A branch (or, with `proposal`, a change proposal) of `parent` named `name`, forked at
/// `from` (a version) or at the current state, to be saved as `file`: its record, the branch
/// document, and the write that records it in the parent.
pub fn stage_create(
    parent: &mut Document,
    ctx: &EditContext,
    name: &str,
    from: Option<&Version>,
    file: &str,
    description: &str,
    proposal: bool,
) -> Result<(Branch, Document, Staged)> {
    let what = if proposal { "proposal" } else { "branch" };
    check_name(what, name)?;
    if let Some(existing) = super::list_branches(parent)
        .into_iter()
        .find(|b| b.name == name)
    {
        return Err(DocError::DuplicateName {
            what: existing.what(),
            name: name.to_owned(),
        });
    }
    let from_heads = match from {
        Some(v) => v.heads.clone(),
        None => parent.heads(),
    };
    let fork = parent.fork_at(&from_heads)?;
    let branch = Branch {
        id: format!("b{}", uuid::Uuid::new_v4().simple()),
        name: name.to_owned(),
        parent: parent.meta().id.clone(),
        from_heads,
        from_version: from.map(|v| v.name.clone()),
        created_by: ctx.author.clone(),
        time_ms: ctx.time_ms,
        file: file.to_owned(),
        state: BranchState::Open,
        description: description.to_owned(),
        proposal,
        review: proposal.then_some(ReviewState::Open),
        merged_by: None,
        merged_ms: None,
    };
    let mut fields = BTreeMap::from([
        text("id", &branch.id),
        text("name", &branch.name),
        text("parent", &branch.parent),
        text("from_heads", &encode_heads(&branch.from_heads)),
        text("created_by", &branch.created_by),
        (
            "time_ms".to_owned(),
            PropValue::Number(branch.time_ms as f64),
        ),
        text("file", &branch.file),
        text("state", branch.state.as_str()),
        text("description", &branch.description),
        ("proposal".to_owned(), PropValue::Bool(proposal)),
    ]);
    if let Some(v) = &branch.from_version {
        fields.extend([text("from_version", v)]);
    }
    if let Some(r) = branch.review {
        fields.extend([text("review", r.as_str())]);
    }
    let staged = Staged {
        kind: ChangeKind::Branch,
        summary: format!("create {what} {name}"),
        commands: vec![Command::PutRecord {
            set: RecordSet::Branches,
            id: branch.id.clone(),
            fields,
        }],
    };
    Ok((branch, fork, staged))
}

/// Checks that the branch `name` may be merged from `branch_doc`: open, a fork of this plan,
/// and not a proposal whose review requested changes (unless `force`).
pub fn check_merge(
    parent: &Document,
    branch_doc: &Document,
    name: &str,
    force: bool,
) -> Result<Branch> {
    let branch = super::get_branch(parent, name)?;
    if branch.state != BranchState::Open {
        return Err(DocError::BranchState {
            what: branch.what(),
            name: branch.name,
            state: branch.state.as_str().to_owned(),
            action: "merge it",
        });
    }
    if branch.review == Some(ReviewState::ChangesRequested) && !force {
        return Err(DocError::ChangesRequested(branch.name));
    }
    let plan_id = parent.meta().id.clone();
    if branch_doc.meta().id != plan_id || branch.parent != plan_id {
        return Err(DocError::ForeignBranch {
            branch: branch.name,
            expected: plan_id,
            found: branch_doc.meta().id.clone(),
        });
    }
    Ok(branch)
}

/// The record of a merge made (`changes` is what it brought; `branch_heads` the branch's
/// heads merged): the branch marked merged, by whom and when.
pub fn merged(
    mut branch: Branch,
    branch_heads: &[ChangeHash],
    changes: &ChangeSet,
    ctx: &EditContext,
) -> (Branch, Staged) {
    branch.state = BranchState::Merged;
    branch.merged_by = Some(ctx.author.clone());
    branch.merged_ms = Some(ctx.time_ms);
    let summary = format!(
        "merge {} {} ({} added, {} updated, {} removed)",
        branch.what(),
        branch.name,
        changes.added.len(),
        changes.updated.len(),
        changes.removed.len()
    );
    let staged = Staged {
        kind: ChangeKind::Merge,
        summary,
        commands: vec![Command::PutRecord {
            set: RecordSet::Branches,
            id: branch.id.clone(),
            fields: BTreeMap::from([
                text("state", BranchState::Merged.as_str()),
                text("merged_by", &ctx.author),
                (
                    "merged_ms".to_owned(),
                    PropValue::Number(ctx.time_ms as f64),
                ),
                text("merged_heads", &encode_heads(branch_heads)),
            ]),
        }],
    };
    (branch, staged)
}

/// Marks an open branch or proposal closed (abandoned); its file is left as it is.
pub fn stage_close(parent: &Document, name: &str) -> Result<(Branch, Staged)> {
    let mut branch = super::get_branch(parent, name)?;
    if branch.state != BranchState::Open {
        return Err(DocError::BranchState {
            what: branch.what(),
            name: branch.name,
            state: branch.state.as_str().to_owned(),
            action: "close it",
        });
    }
    let staged = Staged {
        kind: ChangeKind::Branch,
        summary: format!("close {} {}", branch.what(), branch.name),
        commands: vec![Command::PutRecord {
            set: RecordSet::Branches,
            id: branch.id.clone(),
            fields: BTreeMap::from([text("state", BranchState::Closed.as_str())]),
        }],
    };
    branch.state = BranchState::Closed;
    Ok((branch, staged))
}

/// Approves an open proposal (`approve`) or asks for changes on it, which needs a `note`
/// saying what should change.
pub fn stage_review(
    parent: &Document,
    ctx: &EditContext,
    name: &str,
    approve: bool,
    note: Option<&str>,
) -> Result<(Branch, Staged)> {
    let note = note.filter(|n| !n.trim().is_empty());
    if approve {
        review(parent, ctx, name, ReviewState::Approved, "approve", note)
    } else if note.is_none() {
        Err(DocError::InvalidName {
            what: "review comment",
            name: String::new(),
            reason: "say what should change",
        })
    } else {
        review(
            parent,
            ctx,
            name,
            ReviewState::ChangesRequested,
            "request-changes",
            note,
        )
    }
}

pub(super) fn review(
    parent: &Document,
    ctx: &EditContext,
    name: &str,
    state: ReviewState,
    action: &'static str,
    note: Option<&str>,
) -> Result<(Branch, Staged)> {
    let mut branch = proposal(parent, name)?;
    if branch.state != BranchState::Open {
        return Err(DocError::BranchState {
            what: "proposal",
            name: branch.name,
            state: branch.state.as_str().to_owned(),
            action: "review it",
        });
    }
    let mut commands = vec![Command::PutRecord {
        set: RecordSet::Branches,
        id: branch.id.clone(),
        fields: BTreeMap::from([
            text("review", state.as_str()),
            text("reviewed_by", &ctx.author),
            (
                "reviewed_ms".to_owned(),
                PropValue::Number(ctx.time_ms as f64),
            ),
        ]),
    }];
    if let Some(t) = note {
        commands.push(comment_command(&new_comment(&branch, ctx, t, action)));
    }
    let verb = match state {
        ReviewState::Approved => "approve",
        ReviewState::ChangesRequested => "request changes on",
        ReviewState::Open => "reopen",
    };
    let summary = format!("{verb} proposal {}", branch.name);
    branch.review = Some(state);
    Ok((
        branch,
        Staged {
            kind: ChangeKind::Review,
            summary,
            commands,
        },
    ))
}
