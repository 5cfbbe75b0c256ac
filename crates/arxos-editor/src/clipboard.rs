//! Copy and paste of elements, within a plan and between plans.
//!
//! The clipboard holds elements as JSON text (on the system clipboard too), so a selection
//! copied in one plan pastes into another plan, or into another window of the app. Pasting
//! creates new elements with new ids and new unique tags, on the floor shown, keeping a layer
//! of the same id or building system; references to elements that were not copied are
//! dropped (a door pasted without its wall has no host to point at).

use std::collections::BTreeMap;

use arxos_doc::{Command, Document, Element, ElementId, FloorId, NewElement, Point};
use serde::{Deserialize, Serialize};

use crate::tools::{layer_for, next_tag};

/// What the system clipboard carries.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Clip {
    /// Marks the text as ours.
    pub arxos_clipboard: u32,
    /// The copied elements, as they were.
    pub elements: Vec<Element>,
}

/// Clipboard text for `elements`.
pub fn copy(elements: Vec<Element>) -> String {
    let clip = Clip {
        arxos_clipboard: 1,
        elements,
    };
    serde_json::to_string(&clip).unwrap_or_default()
}

/// Reads clipboard text; `None` when it is not a copy of elements.
pub fn parse(text: &str) -> Option<Clip> {
    serde_json::from_str::<Clip>(text)
        .ok()
        .filter(|c| c.arxos_clipboard == 1 && !c.elements.is_empty())
}

/// The commands that paste `clip` into `doc` on `floor`, moved by `offset`, and the new ids.
pub fn paste(
    doc: &Document,
    clip: &Clip,
    floor: &FloorId,
    offset: Point,
) -> (Vec<Command>, Vec<ElementId>) {
    let new_ids: BTreeMap<ElementId, ElementId> = clip
        .elements
        .iter()
        .map(|e| (e.id.clone(), ElementId::random()))
        .collect();
    let mut cmds = Vec::new();
    let mut ids = Vec::new();
    let mut taken: Vec<String> = Vec::new();
    // Referenced elements first: a door is created after the wall it is hosted by.
    let mut order: Vec<&Element> = clip.elements.iter().collect();
    order.sort_by_key(|e| !e.refs.is_empty());
    for e in order {
        let Some(layer) = doc
            .layers()
            .get(&e.layer)
            .map(|l| l.id.clone())
            .or_else(|| layer_for(doc, e.kind))
        else {
            continue;
        };
        let mut tag = next_tag(doc, e.kind);
        // Tags handed out in this paste are not in the document yet.
        while taken.contains(&tag) {
            let (stem, n) = tag.rsplit_once('-').unwrap_or((tag.as_str(), "0"));
            tag = format!("{stem}-{}", n.parse::<u64>().unwrap_or(0) + 1);
        }
        taken.push(tag.clone());
        let mut t = e.transform;
        t.x += offset.x;
        t.y += offset.y;
        let id = new_ids[&e.id].clone();
        let mut n = NewElement::new(e.kind, tag, floor.clone(), layer, e.geometry.clone(), t);
        n.id = Some(id.clone());
        n.style.clone_from(&e.style);
        n.text.clone_from(&e.text);
        n.props.clone_from(&e.props);
        n.refs = e
            .refs
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), new_ids.get(v)?.clone())))
            .collect();
        cmds.push(Command::Create(Box::new(n)));
        ids.push(id);
    }
    (cmds, ids)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arxos_doc::{EditContext, ElementKind, Geometry, LayerId, Transform};

    #[test]
    fn a_door_pasted_with_its_wall_points_at_the_new_wall_and_tags_stay_unique() {
        let ctx = EditContext::at("t", 1);
        let mut from = Document::new_plan("a", &ctx).unwrap();
        let floor = FloorId::new("level-1");
        let mut wall = NewElement::new(
            ElementKind::Wall,
            "wall:W-1",
            floor.clone(),
            LayerId::new("architectural"),
            Geometry::Polyline {
                points: vec![Point::new(0.0, 0.0), Point::new(3_000.0, 0.0)],
            },
            Transform::default(),
        );
        wall.id = Some(ElementId::new("w"));
        let mut door = NewElement::new(
            ElementKind::Door,
            "door:D-1",
            floor.clone(),
            LayerId::new("architectural"),
            Geometry::Rect {
                width: 900.0,
                height: 150.0,
            },
            Transform::default(),
        )
        .with_ref("host", ElementId::new("w"));
        door.id = Some(ElementId::new("d"));
        from.apply_batch(
            &ctx,
            "seed",
            vec![
                Command::Create(Box::new(wall)),
                Command::Create(Box::new(door)),
            ],
        )
        .unwrap();
        let text = copy(from.elements().cloned().collect());
        let clip = parse(&text).unwrap();
        // Into the same plan: new tags; into another: fine too.
        let (cmds, ids) = paste(&from, &clip, &floor, Point::new(500.0, 500.0));
        from.apply_batch(&ctx, "paste", cmds).unwrap();
        assert_eq!(from.elements().count(), 4);
        let pasted_door = ids
            .iter()
            .map(|id| from.element(id).unwrap())
            .find(|e| e.kind == ElementKind::Door)
            .unwrap();
        assert!(ids.contains(&pasted_door.refs["host"]));
        assert!((pasted_door.transform.x - 500.0).abs() < 1e-9);
        let mut other = Document::new_plan("b", &ctx).unwrap();
        let (cmds, _) = paste(&other, &clip, &floor, Point::new(0.0, 0.0));
        other.apply_batch(&ctx, "paste", cmds).unwrap();
        assert_eq!(other.elements().count(), 2);
        assert!(parse("just text").is_none());
    }
}
