//! Review comments on the plan: notes pinned to an element or a point, with threaded replies,
//! `@name` mentions and a resolved state.
//!
//! Every comment is one flat record in the `comments` root map (one key per field), so the
//! changes a commenter makes touch nothing but that map, which is all the relay lets a
//! commenter invite write. A reply is its own record pointing at its thread's root through
//! `parent`, never an entry in a list inside the root: two people replying at once add two
//! records, and a resolve (which writes only the root's `resolved*` keys) merges with a
//! concurrent reply without a conflict.
//!
//! Fields: `anchor` = `element` (with `element`, an element id) or `point` (with `x`, `y` in
//! plan millimetres and an optional `floor`); `author`; `time_ms` (milliseconds since the Unix
//! epoch, as versions and branches store time); `text`; `mentions` (the names `@name` in the
//! text, comma-separated); `parent` (a reply's thread root); `resolved` with `resolved_by` and
//! `resolved_ms`, and `reopened_by`/`reopened_ms` once a thread is reopened (a record's keys
//! can be written but not removed by a command, so reopening flips `resolved` and says who).
//! A reply carries its root's anchor, so every record reads on its own.
//!
//! The same map holds the review comments of change proposals ([`crate::branches`]); those
//! carry a `branch` field and are not plan comments, so they are left out here.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::command::{Command, EditContext, RecordSet};
use crate::document::Document;
use crate::error::{DocError, Result};
use crate::geometry::{MAX_COORD, in_range, num_text};
use crate::ids::{ElementId, FloorId};
use crate::model::PropValue;
use crate::versions::{Fields, text};

/// The longest comment text accepted, in characters: long enough for any review note, short
/// enough that one record cannot bloat every replica of the plan.
pub const MAX_TEXT_CHARS: usize = 10_000;

/// What a comment is about.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Anchor {
    /// An element (it may have been deleted since the comment was written).
    Element(ElementId),
    /// A point of the plan, in plan millimetres, on one floor or on every floor.
    Point {
        /// The floor, or `None` for a note that holds on every floor.
        floor: Option<FloorId>,
        /// X, plan millimetres.
        x: f64,
        /// Y, plan millimetres.
        y: f64,
    },
}

/// One comment or reply.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Comment {
    /// Random id (the record id).
    pub id: String,
    /// Who wrote it.
    pub author: String,
    /// When, milliseconds since the Unix epoch.
    pub created_ms: i64,
    /// The text as written (may hold line breaks).
    pub text: String,
    /// Where it is pinned (a reply: its thread's anchor).
    pub anchor: Anchor,
    /// The thread root this replies to, or `None` for a thread root.
    pub parent: Option<String>,
    /// Names mentioned as `@name` in the text, in order, each once.
    pub mentions: Vec<String>,
    /// Whether the thread was marked resolved (meaningful on thread roots).
    pub resolved: bool,
    /// Who resolved it (only while resolved).
    pub resolved_by: Option<String>,
    /// When it was resolved, milliseconds since the Unix epoch (only while resolved).
    pub resolved_ms: Option<i64>,
}

/// A thread: a root comment and its replies, oldest first.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Thread {
    /// The comment that opened the thread (its id, anchor and resolved state are the thread's).
    #[serde(flatten)]
    pub root: Comment,
    /// The replies, oldest first.
    pub replies: Vec<Comment>,
}

impl Thread {
    /// Whether the thread is still open (not resolved).
    pub fn is_open(&self) -> bool {
        !self.root.resolved
    }
}

/// Every readable plan comment and reply, sorted by creation time, then id. Damaged records
/// are skipped with a warning; proposal review comments are not plan comments and are left out.
pub fn comments(doc: &Document) -> Vec<Comment> {
    let mut out: Vec<Comment> = doc
        .records(RecordSet::Comments)
        .iter()
        .filter(|(_, fields)| !fields.contains_key("branch"))
        .filter_map(|(id, fields)| match decode(id, fields) {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!(%e, "skipping a damaged comment record");
                None
            }
        })
        .collect();
    out.sort_by(|a, b| a.created_ms.cmp(&b.created_ms).then(a.id.cmp(&b.id)));
    out
}

/// The comments grouped in threads, oldest thread first, each with its replies in order.
///
/// A reply whose root is gone (a damaged record) becomes the root of its own thread rather
/// than disappearing; a reply to a reply (written by another tool) joins the thread of the
/// root it leads to.
pub fn threads(doc: &Document) -> Vec<Thread> {
    let all = comments(doc);
    let root_ids: Vec<String> = {
        let parent_of: BTreeMap<&str, Option<&str>> = all
            .iter()
            .map(|c| (c.id.as_str(), c.parent.as_deref()))
            .collect();
        // Follow parents up to the first comment without a readable parent; the bound stops
        // a cycle that damaged records could form.
        let root_of = |id: &str| -> String {
            let mut at = id;
            for _ in 0..=parent_of.len() {
                match parent_of.get(at).copied().flatten() {
                    Some(p) if parent_of.contains_key(p) => at = p,
                    _ => break,
                }
            }
            at.to_owned()
        };
        all.iter().map(|c| root_of(&c.id)).collect()
    };
    let mut roots: Vec<Thread> = Vec::new();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    let mut replies: Vec<(String, Comment)> = Vec::new();
    for (c, root) in all.into_iter().zip(root_ids) {
        if root == c.id {
            index.insert(c.id.clone(), roots.len());
            roots.push(Thread {
                root: c,
                replies: Vec::new(),
            });
        } else {
            replies.push((root, c));
        }
    }
    // `all` is sorted, so replies stay in creation order within each thread.
    for (root, c) in replies {
        if let Some(&i) = index.get(&root) {
            roots[i].replies.push(c);
        } else {
            index.insert(c.id.clone(), roots.len());
            roots.push(Thread {
                root: c,
                replies: Vec::new(),
            });
        }
    }
    roots
}

/// The comment with this id, or the one whose id starts with it (a unique prefix).
pub fn get(doc: &Document, id: &str) -> Result<Comment> {
    let all = comments(doc);
    if let Some(c) = all.iter().find(|c| c.id == id) {
        return Ok(c.clone());
    }
    let mut found = all
        .into_iter()
        .filter(|c| !id.is_empty() && c.id.starts_with(id));
    match (found.next(), found.next()) {
        (Some(c), None) => Ok(c),
        (Some(_), Some(_)) => Err(DocError::AmbiguousComment(id.to_owned())),
        _ => Err(DocError::UnknownComment(id.to_owned())),
    }
}

/// A new thread by `ctx.author` at `ctx.time_ms`: the new comment's id and the command that
/// writes it. Refuses empty or overlong text, a missing or deleted element, an unknown floor
/// and a point out of range.
pub fn add(
    doc: &Document,
    ctx: &EditContext,
    anchor: &Anchor,
    text: &str,
) -> Result<(String, Command)> {
    check_author(&ctx.author)?;
    check_text(text)?;
    check_anchor(doc, anchor)?;
    let id = new_id();
    let cmd = put(&id, ctx, anchor, text, None);
    Ok((id, cmd))
}

/// A reply to the thread of `parent_id` (an id or unique prefix): a reply to a reply goes to
/// its thread's root. Returns the reply's id and the command that writes it.
pub fn reply(
    doc: &Document,
    ctx: &EditContext,
    parent_id: &str,
    text: &str,
) -> Result<(String, Command)> {
    check_author(&ctx.author)?;
    check_text(text)?;
    let root = thread_root(doc, parent_id)?;
    let id = new_id();
    let cmd = put(&id, ctx, &root.anchor, text, Some(&root.id));
    Ok((id, cmd))
}

/// Marks the thread of `id` resolved by `ctx.author`; refused when it already is.
pub fn resolve(doc: &Document, ctx: &EditContext, id: &str) -> Result<Command> {
    check_author(&ctx.author)?;
    let root = thread_root(doc, id)?;
    if root.resolved {
        return Err(DocError::CommentState {
            id: root.id,
            state: "resolved",
        });
    }
    Ok(state_command(&root.id, ctx, true))
}

/// Reopens the resolved thread of `id`; refused when it is open.
pub fn reopen(doc: &Document, ctx: &EditContext, id: &str) -> Result<Command> {
    check_author(&ctx.author)?;
    let root = thread_root(doc, id)?;
    if !root.resolved {
        return Err(DocError::CommentState {
            id: root.id,
            state: "open",
        });
    }
    Ok(state_command(&root.id, ctx, false))
}

/// The names mentioned as `@name` in `text`, in order, each once. A name starts with a letter,
/// digit or `_` and goes on with those, `-` and `.` (a trailing `.` ends the sentence, not the
/// name); an `@` inside a word (an e-mail address) is not a mention.
pub fn parse_mentions(text: &str) -> Vec<String> {
    let is_name = |c: char| c.is_alphanumeric() || matches!(c, '_' | '-' | '.');
    let mut out: Vec<String> = Vec::new();
    let mut prev: Option<char> = None;
    for (i, c) in text.char_indices() {
        if c == '@' && !prev.is_some_and(|p| p.is_alphanumeric() || p == '_') {
            let rest = &text[i + 1..];
            let end = rest.find(|c: char| !is_name(c)).unwrap_or(rest.len());
            let name = rest[..end].trim_end_matches('.');
            let starts_well = name.starts_with(|c: char| c.is_alphanumeric() || c == '_');
            if starts_well && !out.iter().any(|n| n == name) {
                out.push(name.to_owned());
            }
        }
        prev = Some(c);
    }
    out
}

// ---- writing -------------------------------------------------------------------------------

fn new_id() -> String {
    format!("c{}", uuid::Uuid::new_v4().simple())
}

/// The thread root of the comment `id`: itself, or the root of the thread it replies to.
fn thread_root(doc: &Document, id: &str) -> Result<Comment> {
    let c = get(doc, id)?;
    if c.parent.is_none() {
        return Ok(c);
    }
    Ok(threads(doc)
        .into_iter()
        .find(|t| t.root.id == c.id || t.replies.iter().any(|r| r.id == c.id))
        .map_or(c, |t| t.root))
}

fn put(id: &str, ctx: &EditContext, anchor: &Anchor, body: &str, parent: Option<&str>) -> Command {
    let mut fields = BTreeMap::from([
        text("author", &ctx.author),
        ("time_ms".to_owned(), PropValue::Number(ctx.time_ms as f64)),
        text("text", body),
        text("mentions", &parse_mentions(body).join(",")),
        ("resolved".to_owned(), PropValue::Bool(false)),
    ]);
    match anchor {
        Anchor::Element(e) => {
            fields.extend([text("anchor", "element"), text("element", e.as_str())]);
        }
        Anchor::Point { floor, x, y } => {
            fields.extend([
                text("anchor", "point"),
                ("x".to_owned(), PropValue::Number(*x)),
                ("y".to_owned(), PropValue::Number(*y)),
            ]);
            if let Some(f) = floor {
                fields.extend([text("floor", f.as_str())]);
            }
        }
    }
    if let Some(p) = parent {
        fields.extend([text("parent", p)]);
    }
    Command::PutRecord {
        set: RecordSet::Comments,
        id: id.to_owned(),
        fields,
    }
}

fn state_command(id: &str, ctx: &EditContext, resolved: bool) -> Command {
    let (by, at) = if resolved {
        ("resolved_by", "resolved_ms")
    } else {
        ("reopened_by", "reopened_ms")
    };
    Command::PutRecord {
        set: RecordSet::Comments,
        id: id.to_owned(),
        fields: BTreeMap::from([
            ("resolved".to_owned(), PropValue::Bool(resolved)),
            text(by, &ctx.author),
            (at.to_owned(), PropValue::Number(ctx.time_ms as f64)),
        ]),
    }
}

// ---- validation ----------------------------------------------------------------------------

fn check_author(author: &str) -> Result<()> {
    if author.trim().is_empty() {
        return Err(DocError::InvalidComment(
            "a comment needs an author name".into(),
        ));
    }
    crate::props::check_text("comment author", Some(author))
}

fn check_text(body: &str) -> Result<()> {
    if body.trim().is_empty() {
        return Err(DocError::InvalidComment(
            "the text is empty; say something".into(),
        ));
    }
    let n = body.chars().count();
    if n > MAX_TEXT_CHARS {
        return Err(DocError::InvalidComment(format!(
            "the text is {n} characters long; at most {MAX_TEXT_CHARS} are allowed"
        )));
    }
    crate::props::check_text("comment text", Some(body))
}

fn check_anchor(doc: &Document, anchor: &Anchor) -> Result<()> {
    match anchor {
        Anchor::Element(id) => match doc.element(id) {
            Some(e) if !e.deleted => Ok(()),
            _ => Err(DocError::UnknownElement(id.to_string())),
        },
        Anchor::Point { floor, x, y } => {
            if !(in_range(*x) && in_range(*y)) {
                return Err(DocError::InvalidGeometry(format!(
                    "comment point ({}, {}) is not finite or out of range (at most {MAX_COORD:e} either way)",
                    num_text(*x),
                    num_text(*y)
                )));
            }
            match floor {
                Some(f) if !doc.floors().contains_key(f) => {
                    Err(DocError::UnknownFloor(f.to_string()))
                }
                _ => Ok(()),
            }
        }
    }
}

// ---- reading -------------------------------------------------------------------------------

fn decode(id: &str, map: &BTreeMap<String, PropValue>) -> Result<Comment> {
    let f = Fields {
        what: "comment",
        id,
        map,
    };
    let bad = |reason: String| DocError::BadRecord {
        what: "comment",
        id: id.to_owned(),
        reason,
    };
    let number = |key: &str| match map.get(key) {
        Some(PropValue::Number(n)) if n.is_finite() => Ok(*n),
        Some(other) => Err(bad(format!("`{key}` is a {}", other.type_name()))),
        None => Err(bad(format!("no `{key}`"))),
    };
    let anchor = match f.text("anchor")?.as_str() {
        "element" => Anchor::Element(ElementId::new(f.text("element")?)),
        "point" => Anchor::Point {
            floor: f.opt_text("floor").map(FloorId::new),
            x: number("x")?,
            y: number("y")?,
        },
        other => return Err(bad(format!("unknown anchor `{other}`"))),
    };
    let body = f.text("text")?;
    let mentions = match map.get("mentions") {
        Some(PropValue::Text(m)) => m
            .split(',')
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .collect(),
        _ => parse_mentions(&body),
    };
    let resolved = f.flag("resolved");
    Ok(Comment {
        id: id.to_owned(),
        author: f.text_or_default("author"),
        created_ms: f.time("time_ms")?,
        text: body,
        anchor,
        parent: f.opt_text("parent").filter(|p| p != id),
        mentions,
        resolved,
        resolved_by: f.opt_text("resolved_by").filter(|_| resolved),
        resolved_ms: f.opt_time("resolved_ms").filter(|_| resolved),
    })
}

#[cfg(test)]
mod tests;
