//! Undo and redo of one's own edits in a shared plan: the one implementation behind the
//! editor's Ctrl+Z and `arxos undo --as NAME` ([`by_author`]).
//!
//! A plan is edited by several people at once, so undo cannot rewind the document: it would
//! take back the others' work too. Instead every local edit records the elements it touched
//! as they were before and after ([`Step`]), and undoing it writes, as a new change, the
//! "before" value of each field *this edit* changed, and only where that field still holds
//! what this edit wrote. A field someone else changed since is theirs now: undo leaves it
//! alone (and says so), never silently overwriting a collaborator. Redo is the same walk in
//! the other direction.

pub mod by_author;

use std::collections::BTreeMap;

use crate::{Command, Document, Element, ElementId, Property};

/// How many steps each history keeps.
const DEPTH: usize = 200;

/// The elements one edit touched, before and after it (`None`: did not exist).
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// What the edit was, for the menu ("Undo move 3 elements").
    pub label: String,
    /// Element states before the edit.
    pub before: BTreeMap<ElementId, Option<Element>>,
    /// Element states after the edit.
    pub after: BTreeMap<ElementId, Option<Element>>,
}

impl Step {
    /// Snapshots `ids` in `doc` (live or deleted) as the "before" side.
    pub fn begin(label: impl Into<String>, doc: &Document, ids: &[ElementId]) -> Self {
        Self {
            label: label.into(),
            before: snapshot(doc, ids),
            after: BTreeMap::new(),
        }
    }

    /// Records the "after" side from `doc`, for the same elements plus `created`.
    pub fn finish(&mut self, doc: &Document, created: &[ElementId]) {
        for id in created {
            self.before.entry(id.clone()).or_insert(None);
        }
        let ids: Vec<ElementId> = self.before.keys().cloned().collect();
        self.after = snapshot(doc, &ids);
    }

    /// Whether the edit changed nothing that undo could take back.
    pub fn is_noop(&self) -> bool {
        self.before == self.after
    }

    /// The same step the other way round (what redo records after an undo).
    fn reversed(&self) -> Self {
        Self {
            label: self.label.clone(),
            before: self.after.clone(),
            after: self.before.clone(),
        }
    }
}

fn snapshot(doc: &Document, ids: &[ElementId]) -> BTreeMap<ElementId, Option<Element>> {
    ids.iter()
        .map(|id| (id.clone(), doc.element_any(id).cloned()))
        .collect()
}

/// The commands that take `step` back in `doc` as it is now, and how many fields were left
/// alone because someone else changed them since.
pub fn revert_commands(step: &Step, doc: &Document) -> (Vec<Command>, usize) {
    let mut cmds = Vec::new();
    let mut kept = 0;
    for (id, after) in &step.after {
        let before = step.before.get(id).cloned().flatten();
        let now = doc.element_any(id);
        match (before, after, now) {
            // Created by this edit: delete it again (a tombstone, so a concurrent edit of it
            // is kept and redo can restore it).
            (None, Some(_), Some(now)) if !now.deleted => {
                cmds.push(Command::Delete {
                    ids: vec![id.clone()],
                });
            }
            // Redoing a creation: the element exists as a tombstone; bring it back.
            (Some(before), None, Some(now)) if now.deleted && !before.deleted => {
                cmds.push(Command::Restore {
                    ids: vec![id.clone()],
                });
            }
            (Some(before), Some(after), Some(now)) => {
                kept += fields_back(id, &before, after, now, &mut cmds);
            }
            _ => {}
        }
    }
    (cmds, kept)
}

/// Field by field: where `now` still holds what `after` wrote, write `before` back.
// Exact comparison on purpose: a value is "still ours" only if it is bit for bit what we wrote.
#[allow(clippy::float_cmp, clippy::too_many_lines)] // and one short block per element field
fn fields_back(
    id: &ElementId,
    before: &Element,
    after: &Element,
    now: &Element,
    cmds: &mut Vec<Command>,
) -> usize {
    let mut kept = 0;
    let mut field = |changed: bool, still_ours: bool, cmd: Command| {
        if changed {
            if still_ours {
                cmds.push(cmd);
            } else {
                kept += 1;
            }
        }
    };
    if before.deleted != after.deleted {
        let cmd = if before.deleted {
            Command::Delete {
                ids: vec![id.clone()],
            }
        } else {
            Command::Restore {
                ids: vec![id.clone()],
            }
        };
        field(true, now.deleted == after.deleted, cmd);
    }
    field(
        before.geometry != after.geometry,
        now.geometry == after.geometry,
        Command::SetGeometry {
            id: id.clone(),
            geometry: before.geometry.clone(),
        },
    );
    let (bt, at, nt) = (before.transform, after.transform, now.transform);
    field(
        (bt.x, bt.y) != (at.x, at.y),
        (nt.x, nt.y) == (at.x, at.y),
        Command::MoveTo {
            id: id.clone(),
            x: bt.x,
            y: bt.y,
        },
    );
    field(
        bt.rotation != at.rotation,
        nt.rotation == at.rotation,
        Command::Rotate {
            id: id.clone(),
            rotation_deg: bt.rotation,
        },
    );
    field(
        before.tag != after.tag,
        now.tag == after.tag,
        Command::SetTag {
            id: id.clone(),
            tag: before.tag.clone(),
        },
    );
    field(
        before.text != after.text,
        now.text == after.text,
        Command::SetText {
            id: id.clone(),
            text: before.text.clone(),
        },
    );
    field(
        before.style != after.style,
        now.style == after.style,
        Command::SetStyle {
            id: id.clone(),
            style: before.style.clone(),
        },
    );
    field(
        before.layer != after.layer,
        now.layer == after.layer,
        Command::SetLayer {
            ids: vec![id.clone()],
            layer: before.layer.clone(),
        },
    );
    field(
        before.floor != after.floor,
        now.floor == after.floor,
        Command::SetFloor {
            ids: vec![id.clone()],
            floor: before.floor.clone(),
        },
    );
    let names: std::collections::BTreeSet<&String> =
        before.refs.keys().chain(after.refs.keys()).collect();
    for name in names {
        let (b, a, n) = (
            before.refs.get(name),
            after.refs.get(name),
            now.refs.get(name),
        );
        field(
            b != a,
            n == a,
            Command::SetReference {
                id: id.clone(),
                name: name.clone(),
                target: b.cloned(),
            },
        );
    }
    kept + props_back(id, &before.props, &after.props, &now.props, cmds)
}

fn props_back(
    id: &ElementId,
    before: &BTreeMap<String, Property>,
    after: &BTreeMap<String, Property>,
    now: &BTreeMap<String, Property>,
    cmds: &mut Vec<Command>,
) -> usize {
    let mut set = Vec::new();
    let mut remove = Vec::new();
    let mut kept = 0;
    let names: std::collections::BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    for name in names {
        let (b, a) = (before.get(name), after.get(name));
        if b == a {
            continue;
        }
        if now.get(name) != a {
            kept += 1;
            continue;
        }
        match b {
            Some(p) => set.push((name.clone(), p.clone())),
            None => remove.push(name.clone()),
        }
    }
    if !set.is_empty() || !remove.is_empty() {
        cmds.push(Command::SetProperties {
            id: id.clone(),
            set,
            remove,
        });
    }
    kept
}

/// The undo and redo stacks of one person on one plan.
#[derive(Clone, Debug, Default)]
pub struct History {
    undo: Vec<Step>,
    redo: Vec<Step>,
}

impl History {
    /// Records a new local edit; clears redo, as every editor does.
    pub fn record(&mut self, step: Step) {
        if step.is_noop() {
            return;
        }
        self.undo.push(step);
        if self.undo.len() > DEPTH {
            self.undo.remove(0);
        }
        self.redo.clear();
    }

    /// The label of what undo would take back.
    pub fn undo_label(&self) -> Option<&str> {
        self.undo.last().map(|s| s.label.as_str())
    }

    /// The label of what redo would do again.
    pub fn redo_label(&self) -> Option<&str> {
        self.redo.last().map(|s| s.label.as_str())
    }

    /// Takes the step undo would revert (the caller applies [`revert_commands`] and then
    /// hands the step to [`Self::undone`]).
    pub fn pop_undo(&mut self) -> Option<Step> {
        self.undo.pop()
    }

    /// Takes the step redo would apply again (as a reversed step: revert it to redo).
    pub fn pop_redo(&mut self) -> Option<Step> {
        self.redo.pop().map(|s| s.reversed())
    }

    /// Puts an undone step on the redo stack.
    pub fn undone(&mut self, step: &Step) {
        self.redo.push(step.clone());
    }

    /// Puts a redone step back on the undo stack.
    pub fn redone(&mut self, reversed: &Step) {
        self.undo.push(reversed.reversed());
    }

    /// Puts a step back where it came from when applying it failed.
    pub fn restore_undo(&mut self, step: Step) {
        self.undo.push(step);
    }

    /// Puts a reversed redo step back when applying it failed.
    pub fn restore_redo(&mut self, reversed: &Step) {
        self.redo.push(reversed.reversed());
    }

    /// Forgets everything (another plan was opened).
    pub fn clear(&mut self) {
        self.undo.clear();
        self.redo.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        EditContext, ElementKind, FloorId, Geometry, LayerId, NewElement, Point, PropValue,
        Transform,
    };

    fn plan() -> (Document, ElementId) {
        let ctx = EditContext::at("me", 1);
        let mut doc = Document::new_plan("t", &ctx).unwrap();
        let id = ElementId::new("o1");
        let mut n = NewElement::new(
            ElementKind::Outlet,
            "outlet:1",
            FloorId::new("level-1"),
            LayerId::new("electrical"),
            Geometry::Point,
            Transform {
                x: 100.0,
                y: 100.0,
                rotation: 0.0,
            },
        )
        .with_prop("voltage", PropValue::Number(230.0), Some("V"));
        n.id = Some(id.clone());
        doc.apply(&ctx, Command::Create(Box::new(n))).unwrap();
        (doc, id)
    }

    fn edit(doc: &mut Document, who: &str, ids: &[ElementId], cmds: Vec<Command>) -> Step {
        let mut step = Step::begin("edit", doc, ids);
        doc.apply_batch(&EditContext::at(who, 2), "edit", cmds)
            .unwrap();
        step.finish(doc, &[]);
        step
    }

    fn volts(doc: &Document, id: &ElementId) -> PropValue {
        doc.element(id).unwrap().props["voltage"].value.clone()
    }

    #[test]
    fn undo_takes_back_only_my_field_and_keeps_a_collaborators() {
        let (mut doc, id) = plan();
        let mine = edit(
            &mut doc,
            "me",
            std::slice::from_ref(&id),
            vec![
                Command::SetProperties {
                    id: id.clone(),
                    set: vec![(
                        "voltage".into(),
                        Property {
                            value: PropValue::Number(240.0),
                            unit: Some("V".into()),
                        },
                    )],
                    remove: vec![],
                },
                Command::MoveTo {
                    id: id.clone(),
                    x: 500.0,
                    y: 100.0,
                },
            ],
        );
        // A collaborator moves it again afterwards.
        doc.apply(
            &EditContext::at("other", 3),
            Command::MoveTo {
                id: id.clone(),
                x: 900.0,
                y: 900.0,
            },
        )
        .unwrap();
        let (cmds, kept) = revert_commands(&mine, &doc);
        assert_eq!(kept, 1, "the position is the collaborator's now");
        doc.apply_batch(&EditContext::at("me", 4), "undo", cmds)
            .unwrap();
        assert_eq!(volts(&doc, &id), PropValue::Number(230.0));
        let t = doc.element(&id).unwrap().transform;
        assert_eq!((t.x, t.y), (900.0, 900.0));
    }

    #[test]
    fn undo_then_redo_of_a_creation() {
        let ctx = EditContext::at("me", 1);
        let mut doc = Document::new_plan("t", &ctx).unwrap();
        let id = ElementId::new("w1");
        let mut step = Step::begin("draw wall", &doc, &[]);
        let mut n = NewElement::new(
            ElementKind::Wall,
            "wall:1",
            FloorId::new("level-1"),
            LayerId::new("architectural"),
            Geometry::Polyline {
                points: vec![Point::new(0.0, 0.0), Point::new(1000.0, 0.0)],
            },
            Transform::default(),
        );
        n.id = Some(id.clone());
        doc.apply(&ctx, Command::Create(Box::new(n))).unwrap();
        step.finish(&doc, std::slice::from_ref(&id));
        let mut history = History::default();
        history.record(step);

        let step = history.pop_undo().unwrap();
        let (cmds, _) = revert_commands(&step, &doc);
        doc.apply_batch(&ctx, "undo", cmds).unwrap();
        history.undone(&step);
        assert!(doc.element(&id).is_none());

        let step = history.pop_redo().unwrap();
        let (cmds, _) = revert_commands(&step, &doc);
        doc.apply_batch(&ctx, "redo", cmds).unwrap();
        history.redone(&step);
        assert!(doc.element(&id).is_some());
        assert_eq!(history.undo_label(), Some("draw wall"));
    }

    #[test]
    fn a_property_added_by_me_is_removed_by_undo() {
        let (mut doc, id) = plan();
        let step = edit(
            &mut doc,
            "me",
            std::slice::from_ref(&id),
            vec![Command::SetProperties {
                id: id.clone(),
                set: vec![(
                    "circuit_no".into(),
                    Property {
                        value: PropValue::Text("C4".into()),
                        unit: None,
                    },
                )],
                remove: vec![],
            }],
        );
        let (cmds, kept) = revert_commands(&step, &doc);
        assert_eq!(kept, 0);
        doc.apply_batch(&EditContext::at("me", 5), "undo", cmds)
            .unwrap();
        assert!(!doc.element(&id).unwrap().props.contains_key("circuit_no"));
    }
}
