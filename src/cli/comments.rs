//! Review comments on the command line: `comment add|list|reply|resolve|reopen`.
//!
//! Argument parsing and output around `arxos_doc::comments`. Every editing command opens the
//! plan, writes one change through `arxos_doc::workflow::edit_file` (the path the other edit
//! commands take, so a `join` or `host` running on the same file picks it up) and saves; a
//! refused command writes nothing.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use arxos_doc::audit::rfc3339_ms;
use arxos_doc::comments::{self, Anchor, Comment, Thread};
use arxos_doc::file::{self, SaveKind};
use arxos_doc::{Command, DocError, Document, EditContext, Element, ElementId, FloorId, workflow};
use clap::{ArgGroup, Subcommand};
use serde::Serialize;

use super::output::esc;
use super::{Author, Out};

/// `arxos comment ...`.
#[derive(Debug, Subcommand)]
pub enum CommentCmd {
    /// Pin a comment to an element (`--on`) or a point (`--at X,Y`); prints its id.
    #[command(group(ArgGroup::new("anchor").required(true).args(["on", "at"])))]
    Add {
        /// Plan file.
        file: PathBuf,
        /// The element it is about (id or tag).
        #[arg(long, value_name = "ELEMENT")]
        on: Option<String>,
        /// A point of the plan, `X,Y` in plan millimetres.
        #[arg(long, value_name = "X,Y", allow_hyphen_values = true)]
        at: Option<String>,
        /// The point's floor (id or name) [default: every floor].
        #[arg(long, requires = "at")]
        floor: Option<String>,
        /// The comment; `@name` mentions someone.
        text: String,
        #[command(flatten)]
        author: Author,
    },
    /// Comment threads, oldest first, with their replies indented.
    List {
        /// Plan file.
        file: PathBuf,
        /// Only open threads (the default).
        #[arg(long, conflicts_with = "all")]
        open: bool,
        /// Resolved threads too.
        #[arg(long)]
        all: bool,
        /// Only threads on this element (id or tag).
        #[arg(long, value_name = "ELEMENT")]
        on: Option<String>,
    },
    /// Reply to a thread (a reply to a reply joins its thread); prints the reply's id.
    Reply {
        /// Plan file.
        file: PathBuf,
        /// The comment replied to (its id, or a unique start of it).
        id: String,
        /// The reply; `@name` mentions someone.
        text: String,
        #[command(flatten)]
        author: Author,
    },
    /// Mark a thread resolved.
    Resolve {
        /// Plan file.
        file: PathBuf,
        /// A comment of the thread (its id, or a unique start of it).
        id: String,
        #[command(flatten)]
        author: Author,
    },
    /// Reopen a resolved thread.
    Reopen {
        /// Plan file.
        file: PathBuf,
        /// A comment of the thread (its id, or a unique start of it).
        id: String,
        #[command(flatten)]
        author: Author,
    },
}

/// Runs `arxos comment ...`.
pub fn run_comment(out: Out, cmd: CommentCmd) -> anyhow::Result<()> {
    out.guard(|| match cmd {
        CommentCmd::Add {
            file,
            on,
            at,
            floor,
            text,
            author,
        } => add(
            out,
            &file,
            on.as_deref(),
            at.as_deref(),
            floor.as_deref(),
            &text,
            &author,
        ),
        CommentCmd::List {
            file,
            open: _,
            all,
            on,
        } => list(out, &file, all, on.as_deref()),
        CommentCmd::Reply {
            file,
            id,
            text,
            author,
        } => write(
            out,
            &file,
            &author,
            &format!("reply to comment {id}"),
            |doc, ctx| {
                let (id, cmd) = comments::reply(doc, ctx, &id, &text)?;
                Ok((Some(id), cmd))
            },
        ),
        CommentCmd::Resolve { file, id, author } => write(
            out,
            &file,
            &author,
            &format!("resolve comment {id}"),
            |doc, ctx| Ok((None, comments::resolve(doc, ctx, &id)?)),
        ),
        CommentCmd::Reopen { file, id, author } => write(
            out,
            &file,
            &author,
            &format!("reopen comment {id}"),
            |doc, ctx| Ok((None, comments::reopen(doc, ctx, &id)?)),
        ),
    })
}

#[derive(Serialize)]
struct Written<'a> {
    file: String,
    author: &'a str,
    summary: &'a str,
    /// The new comment's id (`add`, `reply`).
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    saved: SaveKind,
}

/// Builds one comment command from the plan as it is, writes it as one change, and reports:
/// the new id for `add` and `reply` (alone on its line, for scripts), else the summary.
fn write(
    out: Out,
    path: &Path,
    author: &Author,
    summary: &str,
    build: impl FnOnce(&Document, &EditContext) -> anyhow::Result<(Option<String>, Command)>,
) -> anyhow::Result<()> {
    let who = author.name();
    let ctx = EditContext::now(&who);
    let mut new_id = None;
    let done = workflow::edit_file(path, &ctx, summary, |doc| {
        let (id, cmd) = build(doc, &ctx)?;
        new_id = id;
        Ok::<_, anyhow::Error>(vec![cmd])
    })?;
    let report = Written {
        file: path.display().to_string(),
        author: &who,
        summary,
        id: new_id.as_deref(),
        saved: done.saved,
    };
    out.emit(&report, || {
        if let Some(id) = &new_id {
            outln!("{id}");
        } else {
            outln!("{} (saved to {})", esc(summary), path.display());
        }
    })
}

fn add(
    out: Out,
    path: &Path,
    on: Option<&str>,
    at: Option<&str>,
    floor: Option<&str>,
    text: &str,
    author: &Author,
) -> anyhow::Result<()> {
    // Parse the point before opening the plan: a typo is reported without reading the file.
    let point = at.map(parse_point).transpose()?;
    let summary = match (on, point) {
        (Some(target), _) => format!("comment on {target}"),
        (None, Some((x, y))) => format!("comment at ({x}, {y})"),
        (None, None) => bail!("give --on ELEMENT or --at X,Y"),
    };
    write(out, path, author, &summary, |doc, ctx| {
        let anchor = match (on, point) {
            (Some(target), _) => Anchor::Element(live_element(doc, target)?),
            (None, Some((x, y))) => Anchor::Point {
                floor: floor.map(|f| floor_id(doc, f)).transpose()?,
                x,
                y,
            },
            (None, None) => bail!("give --on ELEMENT or --at X,Y"),
        };
        let (id, cmd) = comments::add(doc, ctx, &anchor, text)?;
        Ok((Some(id), cmd))
    })
}

/// `X,Y` as two finite numbers (range is checked by the document crate).
fn parse_point(s: &str) -> anyhow::Result<(f64, f64)> {
    let parsed = s.split_once(',').and_then(|(x, y)| {
        let x: f64 = x.trim().parse().ok()?;
        let y: f64 = y.trim().parse().ok()?;
        (x.is_finite() && y.is_finite()).then_some((x, y))
    });
    parsed.with_context(|| format!("--at `{s}`: expected X,Y (two numbers, plan millimetres)"))
}

/// An element by id or tag (deleted ones too), as other commands name elements.
fn element<'d>(doc: &'d Document, target: &str) -> anyhow::Result<&'d Element> {
    match doc.resolve(target) {
        Ok(e) => Ok(e),
        Err(DocError::UnknownTag(_)) => {
            bail!("no element `{target}` (give an element id or tag)")
        }
        Err(e) => Err(e.into()),
    }
}

fn live_element(doc: &Document, target: &str) -> anyhow::Result<ElementId> {
    let e = element(doc, target)?;
    if e.deleted {
        bail!("`{target}` is deleted (restore it first with `arxos restore`)");
    }
    Ok(e.id.clone())
}

/// A floor by id, else by name.
fn floor_id(doc: &Document, name: &str) -> anyhow::Result<FloorId> {
    let floors = doc.floors();
    if floors.contains_key(&FloorId::new(name)) {
        return Ok(FloorId::new(name));
    }
    floors
        .values()
        .find(|f| f.name == name)
        .map(|f| f.id.clone())
        .ok_or_else(|| DocError::UnknownFloor(name.to_owned()).into())
}

/// A thread as listed with `--json`: the thread, and the tag of the element it is on.
#[derive(Serialize)]
struct Listed<'a> {
    #[serde(flatten)]
    thread: &'a Thread,
    #[serde(skip_serializing_if = "Option::is_none")]
    element_tag: Option<&'a str>,
}

fn list(out: Out, path: &Path, all: bool, on: Option<&str>) -> anyhow::Result<()> {
    let doc = file::load(path)?;
    let on = on
        .map(|t| element(&doc, t).map(|e| e.id.clone()))
        .transpose()?;
    let threads: Vec<Thread> = comments::threads(&doc)
        .into_iter()
        .filter(|t| {
            on.as_ref()
                .is_none_or(|e| t.root.anchor == Anchor::Element(e.clone()))
        })
        .collect();
    let hidden = if all {
        0
    } else {
        threads.iter().filter(|t| !t.is_open()).count()
    };
    let shown: Vec<&Thread> = threads.iter().filter(|t| all || t.is_open()).collect();
    let tag = |a: &Anchor| match a {
        Anchor::Element(id) => doc.element_any(id).map(|e| e.tag.as_str()),
        Anchor::Point { .. } => None,
    };
    let listed: Vec<Listed<'_>> = shown
        .iter()
        .map(|t| Listed {
            thread: t,
            element_tag: tag(&t.root.anchor),
        })
        .collect();
    out.emit(&listed, || {
        for t in &shown {
            let c = &t.root;
            let state = match (&c.resolved_by, c.resolved_ms) {
                _ if !c.resolved => "[open]".to_owned(),
                (Some(by), Some(ms)) => format!("[resolved by {} {}]", esc(by), rfc3339_ms(ms)),
                _ => "[resolved]".to_owned(),
            };
            outln!(
                "{}  {state}  {}  {}: {}",
                c.id,
                heading(c),
                place(&doc, &c.anchor),
                esc(&c.text)
            );
            for r in &t.replies {
                outln!("  ↳ {}  {}: {}", r.id, heading(r), esc(&r.text));
            }
        }
        if shown.is_empty() {
            outln!(
                "{}",
                if all {
                    "no comments"
                } else {
                    "no open comments"
                }
            );
        }
        if hidden > 0 {
            outln!("({hidden} resolved thread(s) not shown; --all lists them)");
        }
    })
}

/// `author  time` of a comment.
fn heading(c: &Comment) -> String {
    format!("{}  {}", esc(&c.author), rfc3339_ms(c.created_ms))
}

/// Where a comment is pinned, for people: `on` the element's tag, or `at` the point and its
/// floor.
fn place(doc: &Document, anchor: &Anchor) -> String {
    match anchor {
        Anchor::Element(id) => match doc.element_any(id) {
            Some(e) if e.deleted => format!("on {} (deleted)", esc(&e.tag)),
            Some(e) => format!("on {}", esc(&e.tag)),
            None => format!("on {} (missing)", esc(id.as_str())),
        },
        Anchor::Point { floor, x, y } => {
            let floor = floor.as_ref().map_or_else(
                || "every floor".to_owned(),
                |f| {
                    doc.floors()
                        .get(f)
                        .map_or_else(|| f.to_string(), |fl| fl.name.clone())
                },
            );
            format!("at ({x}, {y}), {}", esc(&floor))
        }
    }
}
