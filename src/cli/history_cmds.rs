//! History on the command line: `version create|list|show|diff|revert|delete`,
//! `branch create|list|merge|close`, `proposal create|list|show|approve|request-changes|
//! comment|merge` (`audit` is in `audit.rs`).
//!
//! Every editing command opens the plan, applies one change through `arxos_doc` and saves; a
//! refused command writes nothing.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use arxos_doc::audit::rfc3339_ms;
use arxos_doc::branches::{self, Branch, BranchMerge, Comment, ProposalView};
use arxos_doc::conflict::{AutoResolution, Conflict};
use arxos_doc::file::{self, PlanFile, SaveKind};
use arxos_doc::versions::{self, Diff, ElementChange, FieldChange, StructureChange, Version};
use arxos_doc::workflow::{self, BranchMergeOptions, BranchOptions, ReviewAction};
use arxos_doc::{ChangeSet, DocError, EditContext, ElementKind, PropValue};
use clap::Subcommand;
use serde::Serialize;

use super::output::esc;
use super::{Author, Out};

/// `arxos version ...`.
#[derive(Debug, Subcommand)]
pub enum VersionCmd {
    /// Name the current state of the plan.
    Create {
        /// Plan file.
        file: PathBuf,
        /// Version name (unique; `current` and `HEAD` are reserved).
        name: String,
        /// Description.
        #[arg(short, long, default_value = "")]
        message: String,
        #[command(flatten)]
        author: Author,
    },
    /// List named versions, oldest first.
    List {
        /// Plan file.
        file: PathBuf,
    },
    /// A version's details and the plan's element counts at that version.
    Show {
        /// Plan file.
        file: PathBuf,
        /// Version name.
        name: String,
    },
    /// Elements added, removed and changed (old -> new) between two versions.
    Diff {
        /// Plan file.
        file: PathBuf,
        /// From this version (or `current`).
        from: String,
        /// To this version [default: `current`].
        to: Option<String>,
    },
    /// Remove a named version (the states it named stay in history).
    Delete {
        /// Plan file.
        file: PathBuf,
        /// Version name.
        name: String,
        #[command(flatten)]
        author: Author,
    },
    /// Make the plan look as it did at a version, as one new change (history is kept).
    Revert {
        /// Plan file.
        file: PathBuf,
        /// Version name.
        name: String,
        #[command(flatten)]
        author: Author,
    },
}

/// `arxos branch ...`.
#[derive(Debug, Subcommand)]
pub enum BranchCmd {
    /// Fork the plan into a branch file (recorded in the plan).
    Create {
        /// Parent plan file.
        file: PathBuf,
        /// Branch name.
        name: String,
        /// Fork at this version instead of the current state.
        #[arg(long, value_name = "VERSION")]
        from: Option<String>,
        /// Branch file [default: `<stem>.<NAME>.arx` beside the plan].
        #[arg(short, long)]
        output: Option<PathBuf>,
        #[command(flatten)]
        author: Author,
    },
    /// List branches and proposals.
    List {
        /// Parent plan file.
        file: PathBuf,
    },
    /// Merge a branch file back into the plan and list the conflicts it leaves.
    Merge {
        /// Parent plan file.
        file: PathBuf,
        /// Branch name.
        name: String,
        /// Merge a proposal even though its review requested changes.
        #[arg(long)]
        force: bool,
        /// The branch file, when it moved since it was created.
        #[arg(long, value_name = "FILE")]
        branch_file: Option<PathBuf>,
        #[command(flatten)]
        author: Author,
    },
    /// Mark a branch abandoned (its file is left alone).
    Close {
        /// Parent plan file.
        file: PathBuf,
        /// Branch name.
        name: String,
        #[command(flatten)]
        author: Author,
    },
}

/// `arxos proposal ...`.
#[derive(Debug, Subcommand)]
pub enum ProposalCmd {
    /// Propose changes: a branch that is reviewed before it is merged.
    Create {
        /// Parent plan file.
        file: PathBuf,
        /// Proposal name.
        name: String,
        /// What it changes and why.
        #[arg(short, long, default_value = "")]
        message: String,
        /// Fork at this version instead of the current state.
        #[arg(long, value_name = "VERSION")]
        from: Option<String>,
        /// Proposal file [default: `<stem>.<NAME>.arx` beside the plan].
        #[arg(short, long)]
        output: Option<PathBuf>,
        #[command(flatten)]
        author: Author,
    },
    /// List proposals with their review state.
    List {
        /// Parent plan file.
        file: PathBuf,
    },
    /// A proposal with its review comments.
    Show {
        /// Parent plan file.
        file: PathBuf,
        /// Proposal name.
        name: String,
    },
    /// Approve a proposal.
    Approve {
        /// Parent plan file.
        file: PathBuf,
        /// Proposal name.
        name: String,
        /// Optional comment.
        #[arg(short, long)]
        message: Option<String>,
        #[command(flatten)]
        author: Author,
    },
    /// Ask for changes (merging is then refused unless forced).
    RequestChanges {
        /// Parent plan file.
        file: PathBuf,
        /// Proposal name.
        name: String,
        /// What should change.
        #[arg(short, long)]
        message: String,
        #[command(flatten)]
        author: Author,
    },
    /// Comment on a proposal.
    Comment {
        /// Parent plan file.
        file: PathBuf,
        /// Proposal name.
        name: String,
        /// The comment.
        #[arg(short, long)]
        message: String,
        #[command(flatten)]
        author: Author,
    },
    /// Merge a proposal (same as `arxos branch merge`).
    Merge {
        /// Parent plan file.
        file: PathBuf,
        /// Proposal name.
        name: String,
        /// Merge even though the review requested changes.
        #[arg(long)]
        force: bool,
        /// The proposal file, when it moved since it was created.
        #[arg(long, value_name = "FILE")]
        branch_file: Option<PathBuf>,
        #[command(flatten)]
        author: Author,
    },
}

// ---- versions -------------------------------------------------------------------------

/// Runs `arxos version ...`.
pub fn run_version(out: Out, cmd: VersionCmd) -> anyhow::Result<()> {
    out.guard(|| match cmd {
        VersionCmd::Create {
            file,
            name,
            message,
            author,
        } => version_create(out, &file, &name, &message, &author),
        VersionCmd::List { file } => version_list(out, &file),
        VersionCmd::Show { file, name } => version_show(out, &file, &name),
        VersionCmd::Diff { file, from, to } => version_diff(
            out,
            &file,
            &from,
            to.as_deref().unwrap_or(versions::CURRENT),
        ),
        VersionCmd::Revert { file, name, author } => version_revert(out, &file, &name, &author),
        VersionCmd::Delete { file, name, author } => {
            let (mut pf, mut doc) = PlanFile::open(&file)?;
            let v = versions::delete_version(&mut doc, &EditContext::now(author.name()), &name)?;
            pf.save(&mut doc)?;
            out.emit(&version_row(&v), || {
                outln!("deleted version {name} of {}", file.display());
            })
        }
    })
}

#[derive(Serialize)]
struct VersionRow<'a> {
    #[serde(flatten)]
    version: &'a Version,
    time: String,
}

fn version_row(v: &Version) -> VersionRow<'_> {
    VersionRow {
        version: v,
        time: rfc3339_ms(v.time_ms),
    }
}

fn version_create(
    out: Out,
    path: &Path,
    name: &str,
    message: &str,
    author: &Author,
) -> anyhow::Result<()> {
    let (mut file, mut doc) = PlanFile::open(path)?;
    let v = versions::create_version(&mut doc, &EditContext::now(author.name()), name, message)?;
    file.save(&mut doc)?;
    out.emit(&version_row(&v), || {
        outln!("created version {name} of {}", path.display());
    })
}

fn version_list(out: Out, path: &Path) -> anyhow::Result<()> {
    let doc = file::load(path)?;
    let list = versions::list_versions(&doc);
    let rows: Vec<VersionRow<'_>> = list.iter().map(version_row).collect();
    out.emit(&rows, || {
        for r in &rows {
            outln!(
                "{:<20} {}  {:<12} {}",
                esc(&r.version.name),
                r.time,
                esc(&r.version.author),
                esc(&r.version.description)
            );
        }
        if rows.is_empty() {
            outln!("no versions (create one with `arxos version create`)");
        }
    })
}

#[derive(Serialize)]
struct VersionShow<'a> {
    #[serde(flatten)]
    version: VersionRow<'a>,
    floors: usize,
    layers: usize,
    elements: usize,
    deleted: usize,
    by_kind: std::collections::BTreeMap<ElementKind, usize>,
}

fn version_show(out: Out, path: &Path, name: &str) -> anyhow::Result<()> {
    let mut doc = file::load(path)?;
    let v = versions::get_version(&doc, name)?;
    let mut preview = versions::preview(&mut doc, &v)?;
    let stats = preview.stats();
    let show = VersionShow {
        version: version_row(&v),
        floors: preview.floors().len(),
        layers: preview.layers().len(),
        elements: stats.elements,
        deleted: stats.deleted,
        by_kind: stats.by_kind,
    };
    out.emit(&show, || {
        outln!("version {}", v.name);
        outln!("  created  {} by {}", show.version.time, esc(&v.author));
        if !v.description.is_empty() {
            outln!("  about    {}", esc(&v.description));
        }
        outln!(
            "  heads    {}",
            v.heads
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
        outln!(
            "  plan     {} element(s), {} deleted, {} floor(s), {} layer(s)",
            show.elements,
            show.deleted,
            show.floors,
            show.layers
        );
        for (kind, n) in &show.by_kind {
            outln!("    {kind:<10} {n}");
        }
    })
}

#[derive(Serialize)]
struct DiffReport<'a> {
    from: &'a str,
    to: &'a str,
    #[serde(flatten)]
    diff: &'a Diff,
}

fn show_value(v: Option<&PropValue>) -> String {
    match v {
        None => "(none)".into(),
        Some(PropValue::Text(t)) => format!("{t:?}"),
        Some(other) => other.to_string(),
    }
}

fn print_fields(indent: &str, fields: &[FieldChange]) {
    for f in fields {
        outln!(
            "{indent}{}: {} -> {}",
            f.key,
            show_value(f.old.as_ref()),
            show_value(f.new.as_ref())
        );
    }
}

fn print_structure(what: &str, changes: &[StructureChange]) {
    for c in changes {
        let verb = match c.change {
            versions::StructureChangeKind::Added => "added",
            versions::StructureChangeKind::Removed => "removed",
            versions::StructureChangeKind::Changed => "changed",
        };
        outln!("{what} {} {verb}", c.id);
        print_fields("    ", &c.fields);
    }
}

fn version_diff(out: Out, path: &Path, from: &str, to: &str) -> anyhow::Result<()> {
    let mut doc = file::load(path)?;
    let a = versions::resolve_heads(&mut doc, from)?;
    let b = versions::resolve_heads(&mut doc, to)?;
    let d = versions::diff(&mut doc, &a, &b)?;
    let report = DiffReport { from, to, diff: &d };
    out.emit(&report, || {
        outln!(
            "{from} -> {to}: {} added, {} removed, {} changed",
            d.added.len(),
            d.removed.len(),
            d.changed.len()
        );
        let line = |sign: &str, e: &ElementChange| outln!("{sign} {} ({})", e.tag, e.kind);
        for e in &d.added {
            line("+", e);
        }
        for e in &d.removed {
            line("-", e);
        }
        for e in &d.changed {
            line("~", e);
            print_fields("    ", &e.fields);
        }
        print_structure("floor", &d.floors);
        print_structure("layer", &d.layers);
        if !d.meta.is_empty() {
            outln!("plan info changed");
            print_fields("    ", &d.meta);
        }
    })
}

#[derive(Serialize)]
struct Reverted<'a> {
    file: String,
    version: &'a str,
    author: &'a str,
    changes: &'a ChangeSet,
    saved: SaveKind,
}

fn version_revert(out: Out, path: &Path, name: &str, author: &Author) -> anyhow::Result<()> {
    let who = author.name();
    let done = workflow::revert_file(path, name, &EditContext::now(&who))?;
    let changes = &done.changes;
    let report = Reverted {
        file: path.display().to_string(),
        version: name,
        author: &who,
        changes,
        saved: done.saved,
    };
    out.emit(&report, || {
        if changes.is_empty() {
            outln!(
                "{} already matches version {name}; nothing written",
                path.display()
            );
        } else {
            outln!(
                "reverted {} to version {name}: {} restored, {} updated, {} removed",
                path.display(),
                changes.added.len(),
                changes.updated.len(),
                changes.removed.len()
            );
        }
    })
}

// ---- branches and proposals -----------------------------------------------------------

/// Runs `arxos branch ...`.
pub fn run_branch(out: Out, cmd: BranchCmd) -> anyhow::Result<()> {
    out.guard(|| match cmd {
        BranchCmd::Create {
            file,
            name,
            from,
            output,
            author,
        } => branch_create(out, &file, &name, from.as_deref(), output, None, &author),
        BranchCmd::List { file } => branch_list(out, &file),
        BranchCmd::Merge {
            file,
            name,
            force,
            branch_file,
            author,
        } => branch_merge(out, &file, &name, force, branch_file, &author),
        BranchCmd::Close { file, name, author } => {
            let b = workflow::close_branch_file(&file, &name, &EditContext::now(author.name()))?;
            out.emit(&b, || {
                outln!("closed {name}; {} is left as it is", b.file);
            })
        }
    })
}

/// Runs `arxos proposal ...`.
pub fn run_proposal(out: Out, cmd: ProposalCmd) -> anyhow::Result<()> {
    out.guard(|| match cmd {
        ProposalCmd::Create {
            file,
            name,
            message,
            from,
            output,
            author,
        } => branch_create(
            out,
            &file,
            &name,
            from.as_deref(),
            output,
            Some(&message),
            &author,
        ),
        ProposalCmd::List { file } => proposal_list(out, &file),
        ProposalCmd::Show { file, name } => proposal_show(out, &file, &name),
        ProposalCmd::Approve {
            file,
            name,
            message,
            author,
        } => review(out, &file, &name, &author, &ReviewAction::Approve(message)),
        ProposalCmd::RequestChanges {
            file,
            name,
            message,
            author,
        } => review(
            out,
            &file,
            &name,
            &author,
            &ReviewAction::RequestChanges(message),
        ),
        ProposalCmd::Comment {
            file,
            name,
            message,
            author,
        } => review(out, &file, &name, &author, &ReviewAction::Comment(message)),
        ProposalCmd::Merge {
            file,
            name,
            force,
            branch_file,
            author,
        } => branch_merge(out, &file, &name, force, branch_file, &author),
    })
}

/// Adds the command-line way out to the library's errors.
fn hint(e: DocError) -> anyhow::Error {
    match e {
        DocError::FileExists { path } => anyhow::anyhow!(
            "{} already exists; choose another file with -o",
            path.display()
        ),
        DocError::BranchFileNotFound { .. } => anyhow::anyhow!("{e} with --branch-file"),
        DocError::ChangesRequested(_) => anyhow::anyhow!("{e} (--force)"),
        other => other.into(),
    }
}

#[derive(Serialize)]
struct Created<'a> {
    #[serde(flatten)]
    branch: &'a Branch,
    time: String,
}

fn branch_create(
    out: Out,
    path: &Path,
    name: &str,
    from: Option<&str>,
    output: Option<PathBuf>,
    proposal: Option<&str>,
    author: &Author,
) -> anyhow::Result<()> {
    let opts = BranchOptions {
        from: from.map(ToOwned::to_owned),
        output,
        proposal: proposal.map(ToOwned::to_owned),
    };
    let created = workflow::create_branch_file(path, name, &opts, &EditContext::now(author.name()))
        .map_err(hint)?;
    let (branch, shown) = (&created.branch, created.file.display().to_string());
    let what = if branch.proposal {
        "proposal"
    } else {
        "branch"
    };
    out.emit(
        &Created {
            branch,
            time: rfc3339_ms(branch.time_ms),
        },
        || {
            let at = branch
                .from_version
                .as_deref()
                .unwrap_or("the current state");
            outln!("created {what} {name} from {at}: {shown}");
        },
    )
}

fn branch_list(out: Out, path: &Path) -> anyhow::Result<()> {
    let doc = file::load(path)?;
    let list = branches::list_branches(&doc);
    out.emit(&list, || {
        for b in &list {
            let review = b
                .review
                .map(|r| format!(" proposal, review {}", r.as_str()))
                .unwrap_or_default();
            outln!(
                "{:<20} {:<7}{review}  from {}  by {}  {}",
                b.name,
                b.state.as_str(),
                b.from_version.clone().unwrap_or_else(|| b
                    .from_heads
                    .first()
                    .map(|h| h.to_string().chars().take(12).collect())
                    .unwrap_or_default()),
                b.created_by,
                b.file
            );
        }
        if list.is_empty() {
            outln!("no branches");
        }
    })
}

#[derive(Serialize)]
struct MergeReport<'a> {
    file: String,
    branch_file: String,
    #[serde(flatten)]
    merge: &'a BranchMerge,
    auto_resolved: &'a [AutoResolution],
    conflicts: &'a [Conflict],
    saved: SaveKind,
}

fn branch_merge(
    out: Out,
    path: &Path,
    name: &str,
    force: bool,
    branch_file: Option<PathBuf>,
    author: &Author,
) -> anyhow::Result<()> {
    let opts = BranchMergeOptions { force, branch_file };
    let m = workflow::merge_branch_file(path, name, &opts, &EditContext::now(author.name()))
        .map_err(hint)?;
    let (merged, auto, open) = (
        &m.merged.merge,
        &m.merged.auto_resolved,
        &m.merged.conflicts,
    );
    let report = MergeReport {
        file: path.display().to_string(),
        branch_file: m.branch_file.display().to_string(),
        merge: merged,
        auto_resolved: auto,
        conflicts: open,
        saved: m.saved,
    };
    out.emit(&report, || {
        let c = &merged.changes;
        outln!(
            "merged {name} into {}: {} added, {} updated, {} removed",
            path.display(),
            c.added.len(),
            c.updated.len(),
            c.removed.len()
        );
        if !auto.is_empty() {
            outln!("{} conflict(s) settled by the plan's rules", auto.len());
        }
        if open.is_empty() {
            outln!("no conflicts");
        } else {
            outln!(
                "{} conflict(s) to decide (arxos conflicts list {}):",
                open.len(),
                path.display()
            );
            for c in open {
                outln!("  {:<16} {:<8} {}", c.id, c.severity, c.message);
            }
        }
    })
}

#[derive(Serialize)]
struct Done<'a> {
    file: String,
    author: &'a str,
    summary: &'a str,
}

/// Applies one review action to the proposal `name`, and reports it.
fn review(
    out: Out,
    path: &Path,
    name: &str,
    author: &Author,
    action: &ReviewAction,
) -> anyhow::Result<()> {
    let who = author.name();
    let done = workflow::review_file(path, name, action, &EditContext::now(&who))?;
    let what = &done.summary;
    out.emit(
        &Done {
            file: path.display().to_string(),
            author: &who,
            summary: what,
        },
        || outln!("{what}"),
    )
}

fn proposal_list(out: Out, path: &Path) -> anyhow::Result<()> {
    let doc = file::load(path)?;
    let list = branches::list_proposals(&doc);
    out.emit(&list, || {
        for p in &list {
            outln!(
                "{:<20} {:<17} {:<7} by {:<12} {} comment(s)  {}",
                p.branch.name,
                p.branch.review.map_or("open", |r| r.as_str()),
                p.branch.state.as_str(),
                p.branch.created_by,
                p.comments.len(),
                p.branch.description
            );
        }
        if list.is_empty() {
            outln!("no proposals");
        }
    })
}

fn proposal_show(out: Out, path: &Path, name: &str) -> anyhow::Result<()> {
    let doc = file::load(path)?;
    let view: ProposalView = branches::list_proposals(&doc)
        .into_iter()
        .find(|p| p.branch.name == name)
        .with_context(|| format!("no proposal named `{name}`"))?;
    out.emit(&view, || {
        let b = &view.branch;
        outln!("proposal {}", b.name);
        outln!("  by       {} at {}", b.created_by, rfc3339_ms(b.time_ms));
        if !b.description.is_empty() {
            outln!("  about    {}", b.description);
        }
        outln!("  review   {}", b.review.map_or("open", |r| r.as_str()));
        outln!("  state    {}", b.state.as_str());
        outln!("  file     {}", b.file);
        for c in &view.comments {
            print_comment(c);
        }
    })
}

fn print_comment(c: &Comment) {
    outln!(
        "  - {} {} ({}): {}",
        rfc3339_ms(c.time_ms),
        c.author,
        c.action,
        c.text
    );
}
