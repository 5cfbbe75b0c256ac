//! Editing subcommands: set, unset, delete/restore, move, apply. Each opens the plan, turns the
//! arguments into typed commands, applies them as one change and saves incrementally. Nothing
//! is written unless every command validates.

use std::io::Read as _;
use std::path::Path;

use anyhow::{Context as _, bail};
use arxos_doc::props::split_tag_prop;
use arxos_doc::workflow;
use arxos_doc::{ChangeSet, Command, Document, EditContext, ElementId};
use serde::Serialize;

use super::{Author, Out};

#[derive(Serialize)]
struct Applied<'a> {
    file: String,
    author: &'a str,
    summary: &'a str,
    changes: &'a ChangeSet,
    saved: arxos_doc::file::SaveKind,
}

/// Applies the commands `build` makes as one change by `author`, saved, and reports.
fn edit_file(
    out: Out,
    path: &Path,
    author: &Author,
    summary: &str,
    build: impl FnOnce(&Document) -> anyhow::Result<Vec<Command>>,
) -> anyhow::Result<()> {
    let who = author.name();
    let done = workflow::edit_file(path, &EditContext::now(&who), summary, build)?;
    let changes = &done.changes;
    let report = Applied {
        file: path.display().to_string(),
        author: &who,
        summary,
        changes,
        saved: done.saved,
    };
    out.emit(&report, || {
        let n = changes.added.len() + changes.updated.len() + changes.removed.len();
        outln!(
            "{} ({n} element(s) changed, saved to {})",
            super::output::esc(summary),
            path.display()
        );
    })
}

/// Resolves a live element by tag or id.
fn live(doc: &Document, target: &str) -> anyhow::Result<ElementId> {
    let e = doc.resolve(target)?;
    if e.deleted {
        bail!("`{target}` is deleted (use `arxos restore`)");
    }
    Ok(e.id.clone())
}

/// `arxos set FILE TAG.prop=value...`.
pub fn set(
    out: Out,
    path: &Path,
    assignments: &[String],
    unit: Option<&str>,
    author: &Author,
) -> anyhow::Result<()> {
    out.guard(|| {
        edit_file(
            out,
            path,
            author,
            &format!("set {}", assignments.join(" ")),
            |doc| {
                let mut cmds = Vec::new();
                for a in assignments {
                    let (lhs, raw) = a
                        .split_once('=')
                        .with_context(|| format!("`{a}`: expected TAG.prop=value"))?;
                    let (tag, prop) = split_tag_prop(lhs);
                    let prop = prop.with_context(|| format!("`{a}`: expected TAG.prop=value"))?;
                    let id = live(doc, tag)?;
                    let value = workflow::property_value(doc, &id, tag, prop, raw)?;
                    cmds.push(Command::SetProperties {
                        id,
                        set: vec![(prop.to_owned(), arxos_doc::prop(value, unit))],
                        remove: vec![],
                    });
                }
                Ok(cmds)
            },
        )
    })
}

/// `arxos unset FILE TAG.prop...`.
pub fn unset(out: Out, path: &Path, targets: &[String], author: &Author) -> anyhow::Result<()> {
    out.guard(|| {
        edit_file(
            out,
            path,
            author,
            &format!("unset {}", targets.join(" ")),
            |doc| {
                targets
                    .iter()
                    .map(|t| {
                        let (tag, prop) = split_tag_prop(t);
                        let prop = prop.with_context(|| format!("`{t}`: expected TAG.prop"))?;
                        Ok(Command::SetProperties {
                            id: live(doc, tag)?,
                            set: vec![],
                            remove: vec![prop.to_owned()],
                        })
                    })
                    .collect()
            },
        )
    })
}

/// `arxos delete` (when `delete`) or `arxos restore`.
pub fn delete(
    out: Out,
    path: &Path,
    targets: &[String],
    author: &Author,
    delete: bool,
) -> anyhow::Result<()> {
    out.guard(|| {
        let verb = if delete { "delete" } else { "restore" };
        edit_file(
            out,
            path,
            author,
            &format!("{verb} {}", targets.join(" ")),
            |doc| {
                let mut ids = Vec::new();
                for t in targets {
                    let e = doc.resolve(t)?;
                    if delete && e.deleted {
                        bail!("`{t}` is already deleted");
                    }
                    if !delete && !e.deleted {
                        bail!("`{t}` is not deleted");
                    }
                    ids.push(e.id.clone());
                }
                Ok(vec![if delete {
                    Command::Delete { ids }
                } else {
                    Command::Restore { ids }
                }])
            },
        )
    })
}

/// `arxos move`.
pub fn move_by(
    out: Out,
    path: &Path,
    targets: &[String],
    dx: f64,
    dy: f64,
    author: &Author,
) -> anyhow::Result<()> {
    out.guard(|| {
        if !(dx.is_finite() && dy.is_finite()) {
            bail!("--dx and --dy must be finite numbers");
        }
        if dx == 0.0 && dy == 0.0 {
            bail!("give --dx, --dy or both (a move by (0, 0) changes nothing)");
        }
        edit_file(
            out,
            path,
            author,
            &format!("move {} by ({dx}, {dy})", targets.join(" ")),
            |doc| {
                let ids = targets
                    .iter()
                    .map(|t| live(doc, t))
                    .collect::<anyhow::Result<Vec<_>>>()?;
                Ok(vec![Command::Move { ids, dx, dy }])
            },
        )
    })
}

/// `arxos apply FILE commands.json`.
pub fn apply_json(
    out: Out,
    path: &Path,
    commands: &Path,
    message: &str,
    author: &Author,
) -> anyhow::Result<()> {
    out.guard(|| {
        let text = if commands.as_os_str() == "-" {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("reading commands from standard input")?;
            s
        } else {
            std::fs::read_to_string(commands)
                .with_context(|| format!("reading {}", commands.display()))?
        };
        let mut cmds: Vec<Command> = serde_json::from_str(&text).with_context(|| {
            format!(
                "{}: not a JSON array of commands (see `arxos apply --help`)",
                commands.display()
            )
        })?;
        edit_file(out, path, author, message, |doc| {
            workflow::resolve_targets(doc, &mut cmds);
            Ok(cmds)
        })
    })
}
