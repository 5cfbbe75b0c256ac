//! `arxos undo --as NAME`: one person's latest change to a plan taken back as a new change,
//! with the rule the editor's undo follows ([`super::revert_commands`]): only the fields that
//! still hold what that change wrote go back, so a later edit by anyone else is kept.
//!
//! The step is rebuilt from history: the plan as it was just before the change (at its
//! dependencies) and just after it (at the change itself). An undo is recorded with the undone
//! change's hash in its summary (`undo [HASH] …`), so the next `undo --as` goes one change
//! further back instead of undoing the undo.

use std::collections::BTreeSet;
use std::path::Path;

use automerge::ChangeHash;
use serde::Serialize;

use super::{Step, revert_commands};
use crate::command::{ChangeKind, EditContext};
use crate::document::{ChangeSet, Document};
use crate::error::{DocError, Result};
use crate::file::{PlanFile, SaveKind};
use crate::history::HistoryEntry;
use crate::ids::ElementId;

const PREFIX: &str = "undo [";

/// What an author undo did.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AuthorUndo {
    /// The change taken back (hash, hex).
    pub undone: String,
    /// Its summary.
    pub summary: String,
    /// When it was made, milliseconds since the Unix epoch.
    pub time_ms: i64,
    /// Elements it touched.
    pub elements: Vec<ElementId>,
    /// Fields left alone because someone changed them since.
    pub kept: usize,
    /// What the undo change did.
    pub changes: ChangeSet,
}

/// The summary recorded for the undo of `entry`.
fn undo_summary(entry: &HistoryEntry) -> String {
    format!("{PREFIX}{}] {}", entry.hash, entry.summary)
}

/// The change an undo summary names, if `summary` is one.
fn undone_by(summary: &str) -> Option<&str> {
    let rest = summary.strip_prefix(PREFIX)?;
    let (hash, _) = rest.split_once(']')?;
    (hash.len() == 64 && hash.chars().all(|c| c.is_ascii_hexdigit())).then_some(hash)
}

/// The elements `entry` touched, before and after it.
pub fn step_of(doc: &mut Document, entry: &HistoryEntry) -> Result<Step> {
    let parse = |h: &str| {
        h.parse::<ChangeHash>().map_err(|_| DocError::Parse {
            input: h.to_owned(),
            what: "a change hash",
        })
    };
    let deps = entry
        .deps
        .iter()
        .map(|h| parse(h))
        .collect::<Result<Vec<_>>>()?;
    let before = doc.fork_at(&deps)?;
    let after = doc.fork_at(&[parse(&entry.hash)?])?;
    let ids: BTreeSet<&ElementId> = before
        .elements()
        .chain(before.deleted_elements())
        .chain(after.elements())
        .chain(after.deleted_elements())
        .map(|e| &e.id)
        .collect();
    let touched: Vec<ElementId> = ids
        .into_iter()
        .filter(|id| before.element_any(id) != after.element_any(id))
        .cloned()
        .collect();
    let mut step = Step::begin(entry.summary.clone(), &before, &touched);
    step.finish(&after, &[]);
    Ok(step)
}

/// `author`'s latest change that edited elements and is not undone yet, with its step.
pub fn last_change_by(doc: &mut Document, author: &str) -> Result<(HistoryEntry, Step)> {
    let history = doc.history();
    let mut undone: BTreeSet<String> = BTreeSet::new();
    let mut seen_any = false;
    for entry in history.iter().rev().filter(|e| e.author == author) {
        seen_any = true;
        if let Some(hash) = undone_by(&entry.summary) {
            undone.insert(hash.to_owned());
            continue;
        }
        if entry.kind != ChangeKind::Edit || undone.contains(&entry.hash) {
            continue;
        }
        let step = step_of(doc, entry)?;
        if !step.is_noop() {
            return Ok((entry.clone(), step));
        }
    }
    Err(DocError::NothingToUndo {
        author: author.to_owned(),
        reason: if seen_any {
            "every change of theirs that edited elements is undone already".into()
        } else {
            "they made no change to this plan".into()
        },
    })
}

/// Takes back `author`'s latest change in `doc` as a new change by `ctx`.
pub fn undo_last_by(doc: &mut Document, ctx: &EditContext, author: &str) -> Result<AuthorUndo> {
    let (entry, step) = last_change_by(doc, author)?;
    let (cmds, kept) = revert_commands(&step, doc);
    let changes = if cmds.is_empty() {
        ChangeSet::default()
    } else {
        doc.apply_batch(ctx, &undo_summary(&entry), cmds)?
    };
    if changes.is_empty() && kept > 0 {
        return Err(DocError::NothingToUndo {
            author: author.to_owned(),
            reason: format!(
                "their last change ({}) was overwritten since: every field it wrote ({kept}) \
                 holds someone's later edit",
                entry.summary
            ),
        });
    }
    Ok(AuthorUndo {
        undone: entry.hash,
        summary: entry.summary,
        time_ms: entry.time_ms,
        elements: step.before.keys().cloned().collect(),
        kept,
        changes,
    })
}

/// [`undo_last_by`] on the plan at `path`, saved; nothing is written when it is refused.
pub fn undo_last_by_file(
    path: &Path,
    ctx: &EditContext,
    author: &str,
) -> Result<(AuthorUndo, SaveKind)> {
    let (mut file, mut doc) = PlanFile::open(path)?;
    let undo = undo_last_by(&mut doc, ctx, author)?;
    let saved = file.save(&mut doc)?;
    Ok((undo, saved))
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // positions are written and read back exactly
mod tests {
    use super::*;
    use crate::command::Command;
    use crate::model::PropValue;
    use crate::prop;
    use crate::workflow::fixtures::{at, plan_with_outlet};

    fn volts(doc: &Document, id: &ElementId) -> PropValue {
        doc.element(id).unwrap().props["voltage"].value.clone()
    }

    fn set_volts(doc: &mut Document, who: &str, t: i64, id: &ElementId, v: f64) {
        doc.apply(
            &at(who, t),
            Command::SetProperties {
                id: id.clone(),
                set: vec![("voltage".into(), prop(PropValue::Number(v), Some("V")))],
                remove: vec![],
            },
        )
        .unwrap();
    }

    #[test]
    fn undo_takes_back_the_authors_last_change_and_keeps_a_later_one_by_someone_else() {
        let (mut doc, id) = plan_with_outlet();
        let start = volts(&doc, &id);
        let set = Command::SetProperties {
            id: id.clone(),
            set: vec![("voltage".into(), prop(PropValue::Number(240.0), Some("V")))],
            remove: vec![],
        };
        let mv = Command::MoveTo {
            id: id.clone(),
            x: 5000.0,
            y: 10.0,
        };
        doc.apply_batch(&at("ana", 10), "set and move", vec![set, mv])
            .unwrap();
        // Bo moves it again afterwards: his move is his now and stays.
        doc.apply(
            &at("bo", 12),
            Command::MoveTo {
                id: id.clone(),
                x: 7000.0,
                y: 10.0,
            },
        )
        .unwrap();
        let u = undo_last_by(&mut doc, &at("ana", 13), "ana").unwrap();
        assert_eq!((u.kept, u.summary.as_str()), (1, "set and move"), "{u:?}");
        assert_eq!(u.elements, vec![id.clone()]);
        assert_eq!(doc.element(&id).unwrap().transform.x, 7000.0);
        assert_eq!(volts(&doc, &id), start);
        // Bo's move is his last change; undoing it goes back to ana's position.
        undo_last_by(&mut doc, &at("bo", 14), "bo").unwrap();
        assert_eq!(doc.element(&id).unwrap().transform.x, 5000.0);
    }

    #[test]
    fn a_change_everyone_overwrote_since_is_not_undone() {
        let (mut doc, id) = plan_with_outlet();
        set_volts(&mut doc, "ana", 10, &id, 240.0);
        set_volts(&mut doc, "bo", 11, &id, 250.0);
        let e = undo_last_by(&mut doc, &at("ana", 12), "ana").unwrap_err();
        assert!(e.to_string().contains("overwritten since"), "{e}");
        assert_eq!(volts(&doc, &id), PropValue::Number(250.0));
    }

    #[test]
    fn a_second_undo_goes_one_change_further_back() {
        let (mut doc, id) = plan_with_outlet();
        let start = volts(&doc, &id);
        set_volts(&mut doc, "ana", 10, &id, 240.0);
        set_volts(&mut doc, "ana", 11, &id, 250.0);
        undo_last_by(&mut doc, &at("ana", 12), "ana").unwrap();
        assert_eq!(volts(&doc, &id), PropValue::Number(240.0));
        undo_last_by(&mut doc, &at("ana", 13), "ana").unwrap();
        assert_eq!(volts(&doc, &id), start);
        let e = undo_last_by(&mut doc, &at("ana", 14), "ana").unwrap_err();
        assert!(e.to_string().contains("nothing to undo for `ana`"), "{e}");
        let e = undo_last_by(&mut doc, &at("ana", 14), "nobody").unwrap_err();
        assert!(e.to_string().contains("no change"), "{e}");
    }
}
