//! Commands written by a person or a script name elements by tag as readily as by id: this
//! turns every element named in a batch into its id before the batch is applied.
//!
//! A name that is the id of an element (live or deleted, or created earlier in the batch)
//! stays as it is; otherwise, a tag of an element created earlier in the batch, then a tag of
//! an element of the plan ([`Document::resolve`]), is replaced by that element's id. Anything
//! else is left for [`Document::apply_batch`] to refuse as an unknown element. A `Create`
//! without an id gets one here, so that later commands of the batch can name the new element
//! by its tag. Only element positions are resolved: the id a `Create` gives, the element of a
//! `Replace`, floors, layers and records are taken as written.

use std::collections::{BTreeMap, BTreeSet};

use crate::command::{Command, ZPosition};
use crate::document::Document;
use crate::ids::ElementId;

/// Replaces the tags naming elements in `cmds` by the elements' ids (see the module docs).
pub fn resolve_targets(doc: &Document, cmds: &mut [Command]) {
    let mut batch = Batch::default();
    for cmd in cmds {
        batch.command(doc, cmd);
    }
}

#[derive(Default)]
struct Batch {
    ids: BTreeSet<ElementId>,
    tags: BTreeMap<String, ElementId>,
}

impl Batch {
    fn fix(&self, doc: &Document, id: &mut ElementId) {
        if self.ids.contains(id) || doc.element_any(id).is_some() {
            return;
        }
        if let Some(found) = self.tags.get(id.as_str()) {
            *id = found.clone();
        } else if let Ok(e) = doc.resolve(id.as_str()) {
            *id = e.id.clone();
        }
    }

    fn all(&self, doc: &Document, ids: &mut [ElementId]) {
        for id in ids {
            self.fix(doc, id);
        }
    }

    fn command(&mut self, doc: &Document, cmd: &mut Command) {
        match cmd {
            Command::Create(n) => {
                for target in n.refs.values_mut() {
                    self.fix(doc, target);
                }
                let id = n.id.get_or_insert_with(ElementId::random).clone();
                self.tags.insert(n.tag.clone(), id.clone());
                self.ids.insert(id);
            }
            Command::SetProperties { id, .. }
            | Command::SetTag { id, .. }
            | Command::SetText { id, .. }
            | Command::SetStyle { id, .. }
            | Command::MoveTo { id, .. }
            | Command::Rotate { id, .. }
            | Command::SetGeometry { id, .. }
            | Command::ResolveKey { id, .. } => self.fix(doc, id),
            Command::SetReference { id, target, .. } => {
                self.fix(doc, id);
                if let Some(t) = target {
                    self.fix(doc, t);
                }
            }
            Command::Reorder { id, to } => {
                self.fix(doc, id);
                if let ZPosition::Above(t) | ZPosition::Below(t) = to {
                    self.fix(doc, t);
                }
            }
            Command::Move { ids, .. }
            | Command::SetLayer { ids, .. }
            | Command::SetFloor { ids, .. }
            | Command::Delete { ids }
            | Command::Restore { ids } => self.all(doc, ids),
            Command::SetMeta { .. }
            | Command::AddFloor { .. }
            | Command::UpdateFloor { .. }
            | Command::AddLayer { .. }
            | Command::UpdateLayer { .. }
            | Command::Replace(_)
            | Command::PutRecord { .. }
            | Command::DeleteRecord { .. } => {}
        }
        // A retagged element answers to its new tag later in the batch.
        if let Command::SetTag { id, tag } = cmd {
            self.tags.insert(tag.clone(), id.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::NewElement;
    use crate::ids::{FloorId, LayerId};
    use crate::model::{ElementKind, Geometry, Transform};
    use crate::workflow::fixtures::{at, plan_with_outlet};

    #[test]
    fn tags_name_elements_of_the_plan_and_of_the_batch() {
        let (mut doc, outlet) = plan_with_outlet();
        let mut cmds = vec![
            Command::Move {
                ids: vec!["outlet:R1".into(), outlet.clone(), "nobody".into()],
                dx: 10.0,
                dy: 0.0,
            },
            Command::Create(Box::new(NewElement::new(
                ElementKind::Light,
                "light:L1",
                FloorId::new("level-1"),
                LayerId::new("electrical"),
                Geometry::Point,
                Transform::default(),
            ))),
            Command::SetReference {
                id: "light:L1".into(),
                name: "circuit".into(),
                target: Some("outlet:R1".into()),
            },
        ];
        resolve_targets(&doc, &mut cmds);
        let Command::Move { ids, .. } = &cmds[0] else {
            panic!()
        };
        assert_eq!(ids, &[outlet.clone(), outlet.clone(), "nobody".into()]);
        let Command::Create(n) = &cmds[1] else {
            panic!()
        };
        let light = n.id.clone().unwrap();
        assert_eq!(
            cmds[2],
            Command::SetReference {
                id: light.clone(),
                name: "circuit".into(),
                target: Some(outlet.clone()),
            }
        );
        // The unknown name is left for apply to refuse; without it the batch applies.
        let Command::Move { ids, .. } = &mut cmds[0] else {
            panic!()
        };
        ids.pop();
        doc.apply_batch(&at("ana", 5), "by tag", cmds).unwrap();
        assert_eq!(doc.element(&light).unwrap().refs["circuit"], outlet);
        assert!((doc.element(&outlet).unwrap().transform.x - 20.0).abs() < 1e-9);
    }
}
