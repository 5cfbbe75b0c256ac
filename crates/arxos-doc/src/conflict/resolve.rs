//! Settling conflicts: by a person's choice, or automatically by the document's rules.

use serde::Serialize;

use super::rules::{Strategy, role_rank, rules, strategy_for};
use super::{Conflict, ConflictType, Side};
use crate::command::{ChangeKind, Command, EditContext, RecordSet};
use crate::document::{ChangeSet, Document};
use crate::error::{DocError, Result};
use crate::model::PropValue;
use crate::schema;

/// What a person chose.
#[derive(Clone, Debug, PartialEq)]
pub enum Choice {
    /// Keep our value (for delete-vs-edit: our side, deleted or edited).
    Local,
    /// Keep their value.
    Remote,
    /// Go back to the value both started from.
    Base,
    /// A value of one's own.
    Value(PropValue),
    /// Bring the deleted element back, with the edits made meanwhile.
    Restore,
    /// Keep the element deleted (the edits stay in history).
    Delete,
    /// Drop a dangling reference.
    ClearReference,
    /// Leave things as they are and stop listing the finding (spatial, constraint).
    Accept,
}

impl Choice {
    /// Parses a `--choose` word.
    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "local" | "ours" => Self::Local,
            "remote" | "theirs" => Self::Remote,
            "base" => Self::Base,
            "restore" => Self::Restore,
            "delete" => Self::Delete,
            "clear" => Self::ClearReference,
            "accept" => Self::Accept,
            _ => {
                return Err(DocError::Parse {
                    what: "a choice (local, remote, base, restore, delete, clear, accept)",
                    input: s.to_owned(),
                });
            }
        })
    }
}

fn invalid(c: &Conflict, reason: &str) -> DocError {
    DocError::InvalidChoice {
        conflict: format!("{} ({})", c.id, c.kind),
        reason: reason.to_owned(),
    }
}

fn value_of(side: Option<&Side>) -> Option<PropValue> {
    side.and_then(|s| s.value.clone())
}

fn is_deleted_side(s: Option<&Side>) -> bool {
    s.is_some_and(|s| s.value == Some(PropValue::Text("deleted".into())))
}

fn relationship_command(
    doc: &Document,
    c: &Conflict,
    choice: &Choice,
    id: crate::ids::ElementId,
    key: &str,
) -> Result<(Command, String)> {
    let name = key
        .strip_prefix(schema::REF_PREFIX)
        .unwrap_or(key)
        .to_owned();
    match choice {
        Choice::ClearReference => Ok((
            Command::SetReference {
                id,
                name: name.clone(),
                target: None,
            },
            format!("resolve {}: clear {name}", c.tag),
        )),
        Choice::Restore => {
            let target = c
                .related
                .first()
                .cloned()
                .ok_or_else(|| invalid(c, "nothing to restore"))?;
            if doc.element_any(&target).is_none() {
                return Err(invalid(c, "the target is gone for good; choose clear"));
            }
            Ok((
                Command::Restore { ids: vec![target] },
                format!("resolve {}: restore its {name}", c.tag),
            ))
        }
        Choice::Value(PropValue::Text(t)) => {
            let target = doc.resolve(t)?.id.clone();
            Ok((
                Command::SetReference {
                    id,
                    name: name.clone(),
                    target: Some(target),
                },
                format!("resolve {}: {name} -> {t}", c.tag),
            ))
        }
        _ => Err(invalid(
            c,
            "choose clear, restore, or give another element's tag as the value",
        )),
    }
}

/// The command settling `c` as `choice`, and a summary for history: what [`resolve`]
/// applies, for callers that apply commands through their own engine (kind `resolve`).
pub fn resolution(doc: &Document, c: &Conflict, choice: &Choice) -> Result<(Command, String)> {
    let id = c.element.clone();
    let key = c.property.clone().unwrap_or_default();
    match c.kind {
        ConflictType::Property => {
            let (value, label) = match choice {
                Choice::Local => (value_of(c.local.as_ref()), "local"),
                Choice::Remote => (value_of(c.remote.as_ref()), "remote"),
                Choice::Base => (c.base.clone(), "base"),
                Choice::Value(v) => (Some(v.clone()), "a new value"),
                _ => return Err(invalid(c, "choose local, remote, base or give a value")),
            };
            let shown = value.as_ref().map_or("(none)".into(), ToString::to_string);
            Ok((
                Command::ResolveKey {
                    id,
                    key: key.clone(),
                    value,
                },
                format!("resolve {}.{key}: {label} ({shown})", c.tag),
            ))
        }
        ConflictType::DeleteVsEdit => {
            let restore = match choice {
                Choice::Restore => true,
                Choice::Delete => false,
                Choice::Local => !is_deleted_side(c.local.as_ref()),
                Choice::Remote => !is_deleted_side(c.remote.as_ref()),
                _ => return Err(invalid(c, "choose restore or delete (or local/remote)")),
            };
            Ok((
                Command::ResolveKey {
                    id,
                    key: "deleted".into(),
                    value: Some(PropValue::Bool(!restore)),
                },
                if restore {
                    format!("resolve {}: restore with the concurrent edits", c.tag)
                } else {
                    format!("resolve {}: confirm delete", c.tag)
                },
            ))
        }
        ConflictType::Relationship => relationship_command(doc, c, choice, id, &key),
        ConflictType::Spatial | ConflictType::Constraint => match choice {
            Choice::Accept => Ok((
                Command::PutRecord {
                    set: RecordSet::Acks,
                    id: c.id.clone(),
                    fields: [
                        ("type".to_owned(), PropValue::Text(c.kind.as_str().into())),
                        ("element".to_owned(), PropValue::Text(c.element.to_string())),
                        ("message".to_owned(), PropValue::Text(c.message.clone())),
                    ]
                    .into(),
                },
                format!("accept {} finding on {}", c.kind, c.tag),
            )),
            _ => Err(invalid(c, "choose accept, or edit the element to fix it")),
        },
    }
}

/// Settles one conflict as one change (kind `resolve`), which syncs like any edit.
pub fn resolve(
    doc: &mut Document,
    ctx: &EditContext,
    c: &Conflict,
    choice: &Choice,
) -> Result<ChangeSet> {
    let (cmd, summary) = resolution(doc, c, choice)?;
    doc.apply_batch_as(ctx, ChangeKind::Resolve, &summary, vec![cmd])
}

/// One conflict settled by a rule.
#[derive(Clone, Debug, Serialize)]
pub struct AutoResolution {
    /// The conflict.
    pub conflict: String,
    /// Element tag.
    pub tag: String,
    /// The key.
    pub property: String,
    /// The strategy applied.
    pub strategy: &'static str,
    /// The rule that chose it.
    pub rule: Option<String>,
    /// The value kept.
    pub chosen: Option<PropValue>,
    /// Whose value it was.
    pub author: String,
}

/// Applies the document's strategy rules to property conflicts: last-write-wins,
/// first-write-wins or priority settle them; merge-compatible and manual (and critical layers)
/// leave them for people. Deletes are never settled automatically. One change for all.
pub fn auto_resolve(
    doc: &mut Document,
    ctx: &EditContext,
    conflicts: &[Conflict],
) -> Result<Vec<AutoResolution>> {
    let rules = rules(doc);
    let mut cmds = Vec::new();
    let mut done = Vec::new();
    for c in conflicts
        .iter()
        .filter(|c| c.kind == ConflictType::Property)
    {
        let Some(e) = doc.element_any(&c.element) else {
            continue;
        };
        let (strategy, rule) = strategy_for(&rules, e);
        if !strategy.is_automatic() {
            continue;
        }
        let sides: Vec<&Side> = c
            .local
            .iter()
            .chain(c.remote.iter())
            .chain(c.others.iter())
            .collect();
        let pick = match strategy {
            Strategy::LastWriteWins => sides
                .iter()
                .max_by(|a, b| (a.time_ms, &a.change).cmp(&(b.time_ms, &b.change))),
            Strategy::FirstWriteWins => sides
                .iter()
                .min_by(|a, b| (a.time_ms, &a.change).cmp(&(b.time_ms, &b.change))),
            Strategy::Priority => sides.iter().max_by(|a, b| {
                (role_rank(&rules, &a.author), a.time_ms, &a.change).cmp(&(
                    role_rank(&rules, &b.author),
                    b.time_ms,
                    &b.change,
                ))
            }),
            Strategy::MergeCompatible | Strategy::Manual => None,
        };
        let Some(side) = pick else {
            continue;
        };
        let key = c.property.clone().unwrap_or_default();
        cmds.push(Command::ResolveKey {
            id: c.element.clone(),
            key: key.clone(),
            value: side.value.clone(),
        });
        done.push(AutoResolution {
            conflict: c.id.clone(),
            tag: c.tag.clone(),
            property: key,
            strategy: strategy.as_str(),
            rule,
            chosen: side.value.clone(),
            author: side.author.clone(),
        });
    }
    if !cmds.is_empty() {
        let summary = format!("auto-resolve {} conflict(s) by rule", cmds.len());
        doc.apply_batch_as(ctx, ChangeKind::Resolve, &summary, cmds)?;
    }
    Ok(done)
}
