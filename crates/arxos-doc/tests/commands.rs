//! Typed commands: validation errors, change notifications, queries, history.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use arxos_doc::{
    Bounds, Command, DocError, Document, EditContext, ElementId, ElementKind, Filter, FloorId,
    Geometry, LayerId, NewElement, Point, PropValue, Transform, ZPosition, prop,
};

#[path = "support/plan.rs"]
mod support;

use support::{ctx, outlet, plan, wall};

fn create(doc: &mut Document, n: NewElement) -> ElementId {
    let set = doc.apply(&ctx(), Command::Create(Box::new(n))).unwrap();
    assert_eq!(set.added.len(), 1);
    set.added[0].clone()
}

#[test]
fn create_reports_added_and_fills_known_units() {
    let mut doc = plan();
    let id = create(&mut doc, outlet("outlet:A1", 100.0, 200.0));
    let e = doc.element(&id).unwrap();
    assert_eq!(e.tag, "outlet:A1");
    assert_eq!(e.props["voltage"].unit.as_deref(), Some("V"));
    assert_eq!(doc.element_by_tag("outlet:A1").unwrap().id, id);
}

#[test]
fn duplicate_tag_is_refused_and_nothing_changes() {
    let mut doc = plan();
    create(&mut doc, outlet("outlet:A1", 0.0, 0.0));
    let before = doc.heads();
    let err = doc
        .apply(
            &ctx(),
            Command::Create(Box::new(outlet("outlet:A1", 5.0, 5.0))),
        )
        .unwrap_err();
    assert!(matches!(err, DocError::DuplicateTag(t) if t == "outlet:A1"));
    assert_eq!(doc.heads(), before, "a refused command must not write");
}

#[test]
fn wrong_property_type_is_precise() {
    let mut doc = plan();
    let id = create(&mut doc, outlet("outlet:A1", 0.0, 0.0));
    let err = doc
        .apply(
            &ctx(),
            Command::SetProperties {
                id,
                set: vec![("voltage".into(), prop(PropValue::Text("high".into()), None))],
                remove: vec![],
            },
        )
        .unwrap_err();
    match err {
        DocError::WrongPropertyType {
            element,
            property,
            expected,
            found,
        } => {
            assert_eq!(
                (element.as_str(), property.as_str(), expected, found),
                ("outlet:A1", "voltage", "number", "string")
            );
        }
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn references_must_exist_and_hosts_must_be_walls() {
    let mut doc = plan();
    let o = create(&mut doc, outlet("outlet:A1", 0.0, 0.0));
    let door = NewElement::new(
        ElementKind::Door,
        "door:D1",
        FloorId::new("level-1"),
        LayerId::new("architectural"),
        Geometry::Rect {
            width: 900.0,
            height: 150.0,
        },
        Transform::default(),
    );
    let missing = door.clone().with_ref("host", ElementId::new("nope"));
    let err = doc
        .apply(&ctx(), Command::Create(Box::new(missing)))
        .unwrap_err();
    assert!(
        matches!(err, DocError::MissingReference { ref target, .. } if target == "nope"),
        "{err}"
    );
    let not_wall = door.clone().with_ref("host", o);
    assert!(
        doc.apply(&ctx(), Command::Create(Box::new(not_wall)))
            .is_err()
    );
    let w = create(&mut doc, wall("wall:W1", 0.0));
    let d = create(&mut doc, door.with_ref("host", w.clone()));
    assert_eq!(doc.element(&d).unwrap().refs["host"], w);
}

#[test]
fn batch_is_all_or_nothing_and_sees_its_own_creates() {
    let mut doc = plan();
    let w = ElementId::new("e-wall");
    let mut wall_new = wall("wall:W1", 0.0);
    wall_new.id = Some(w.clone());
    let mut door = NewElement::new(
        ElementKind::Door,
        "door:D1",
        FloorId::new("level-1"),
        LayerId::new("architectural"),
        Geometry::Rect {
            width: 900.0,
            height: 150.0,
        },
        Transform::default(),
    )
    .with_ref("host", w.clone());
    // A door hosted by a wall created earlier in the same batch is fine.
    let set = doc
        .apply_batch(
            &ctx(),
            "wall and door",
            vec![
                Command::Create(Box::new(wall_new.clone())),
                Command::Create(Box::new(door.clone())),
            ],
        )
        .unwrap();
    assert_eq!(set.added.len(), 2);
    // A batch whose last command fails writes nothing at all.
    let before = doc.heads();
    door.tag = "door:D2".into();
    let err = doc
        .apply_batch(
            &ctx(),
            "bad",
            vec![
                Command::Create(Box::new(door)),
                Command::Create(Box::new(outlet("bad tag", 0.0, 0.0))),
            ],
        )
        .unwrap_err();
    assert!(matches!(err, DocError::InvalidTag { .. }), "{err}");
    assert_eq!(doc.heads(), before);
    assert!(doc.element_by_tag("door:D2").is_err());
}

#[test]
fn move_writes_only_position_and_notifies_update() {
    let mut doc = plan();
    let id = create(&mut doc, outlet("outlet:A1", 10.0, 20.0));
    let set = doc
        .apply(
            &ctx(),
            Command::Move {
                ids: vec![id.clone()],
                dx: 5.0,
                dy: -5.0,
            },
        )
        .unwrap();
    assert_eq!(set.updated, vec![id.clone()]);
    assert!(set.added.is_empty() && set.removed.is_empty());
    let t = doc.element(&id).unwrap().transform;
    assert_eq!((t.x, t.y), (15.0, 15.0));
    // The change touched exactly two keys (x, y).
    let mut am = doc.automerge().clone();
    let last = am.get_last_local_change().unwrap();
    assert_eq!(last.len(), 2);
}

#[test]
fn delete_and_restore_keep_the_element() {
    let mut doc = plan();
    let id = create(&mut doc, outlet("outlet:A1", 0.0, 0.0));
    let set = doc
        .apply(
            &ctx(),
            Command::Delete {
                ids: vec![id.clone()],
            },
        )
        .unwrap();
    assert_eq!(set.removed, vec![id.clone()]);
    assert!(doc.element(&id).is_none());
    assert!(doc.element_any(&id).unwrap().deleted);
    assert!(matches!(
        doc.apply(
            &ctx(),
            Command::MoveTo {
                id: id.clone(),
                x: 1.0,
                y: 1.0
            }
        ),
        Err(DocError::UnknownElement(_))
    ));
    let set = doc
        .apply(
            &ctx(),
            Command::Restore {
                ids: vec![id.clone()],
            },
        )
        .unwrap();
    assert_eq!(set.added, vec![id.clone()]);
    assert_eq!(doc.element_by_tag("outlet:A1").unwrap().id, id);
}

#[test]
fn area_queries_use_bounds() {
    let mut doc = plan();
    let a = create(&mut doc, outlet("outlet:A1", 100.0, 100.0));
    create(&mut doc, outlet("outlet:A2", 9000.0, 9000.0));
    let w = create(&mut doc, wall("wall:W1", 0.0));
    let area = Bounds::from_corners(Point::new(0.0, 0.0), Point::new(500.0, 500.0));
    let mut hits: Vec<ElementId> = doc
        .query_area(&area, &Filter::default())
        .map(|e| e.id.clone())
        .collect();
    hits.sort();
    let mut want = vec![a.clone(), w];
    want.sort();
    assert_eq!(hits, want);
    let only_outlets = Filter {
        kind: Some(ElementKind::Outlet),
        ..Filter::default()
    };
    let hits: Vec<_> = doc.query_area(&area, &only_outlets).collect();
    assert_eq!(hits.len(), 1);
    // After a move the index follows.
    doc.apply(
        &ctx(),
        Command::MoveTo {
            id: a.clone(),
            x: 9000.0,
            y: 9100.0,
        },
    )
    .unwrap();
    assert_eq!(doc.query_area(&area, &only_outlets).count(), 0);
}

#[test]
fn reorder_changes_drawing_order() {
    let mut doc = plan();
    let a = create(&mut doc, outlet("outlet:A1", 0.0, 0.0));
    let b = create(&mut doc, outlet("outlet:A2", 0.0, 0.0));
    let c = create(&mut doc, outlet("outlet:A3", 0.0, 0.0));
    let order = |doc: &Document| -> Vec<ElementId> {
        doc.elements_in_z_order().map(|e| e.id.clone()).collect()
    };
    assert_eq!(order(&doc), vec![a.clone(), b.clone(), c.clone()]);
    doc.apply(
        &ctx(),
        Command::Reorder {
            id: c.clone(),
            to: ZPosition::Bottom,
        },
    )
    .unwrap();
    assert_eq!(order(&doc), vec![c.clone(), a.clone(), b.clone()]);
    doc.apply(
        &ctx(),
        Command::Reorder {
            id: c.clone(),
            to: ZPosition::Above(a.clone()),
        },
    )
    .unwrap();
    assert_eq!(order(&doc), vec![a.clone(), c.clone(), b.clone()]);
    doc.apply(
        &ctx(),
        Command::Reorder {
            id: a.clone(),
            to: ZPosition::Below(b.clone()),
        },
    )
    .unwrap();
    assert_eq!(order(&doc), vec![c, a, b]);
}

#[test]
fn history_records_author_time_and_summary() {
    let mut doc = plan();
    let id = create(&mut doc, outlet("outlet:A1", 0.0, 0.0));
    doc.apply(
        &EditContext::at("user-b", 1_800_000_000_123),
        Command::SetProperties {
            id,
            set: vec![("voltage".into(), prop(PropValue::Number(240.0), None))],
            remove: vec![],
        },
    )
    .unwrap();
    let h = doc.history();
    let last = h.last().unwrap();
    assert_eq!(last.author, "user-b");
    assert_eq!(last.time_ms, 1_800_000_000_123);
    assert!(last.summary.contains("voltage=240"), "{}", last.summary);
}

#[test]
fn merge_reports_remote_changes_incrementally() {
    let mut a = plan();
    let id = create(&mut a, outlet("outlet:A1", 0.0, 0.0));
    let mut b = a.fork();
    b.apply(
        &ctx(),
        Command::MoveTo {
            id: id.clone(),
            x: 5.0,
            y: 5.0,
        },
    )
    .unwrap();
    let new = create(&mut b, outlet("outlet:B1", 1.0, 1.0));
    let set = a.merge(&mut b).unwrap();
    assert_eq!(set.updated, vec![id]);
    assert_eq!(set.added, vec![new]);
    assert!(!set.floors && !set.layers);
}

#[test]
fn control_characters_are_refused() {
    let mut doc = plan();
    let mut n = outlet("outlet:A1", 0.0, 0.0);
    n.text = Some("bad\u{1}".into());
    let err = doc.apply(&ctx(), Command::Create(Box::new(n))).unwrap_err();
    assert!(
        matches!(err, DocError::ControlCharacter { code: 1, .. }),
        "{err}"
    );
}

#[test]
fn merge_reports_floors_layers_and_records() {
    let mut a = plan();
    let mut b = a.fork();
    b.apply_batch(
        &ctx(),
        "structure",
        vec![
            Command::AddFloor {
                id: FloorId::new("level-2"),
                name: "Level 2".into(),
                elevation_mm: 3600.0,
                order: 2,
            },
            Command::UpdateLayer {
                id: LayerId::new("electrical"),
                name: None,
                color: None,
                visible: Some(false),
            },
            Command::PutRecord {
                set: arxos_doc::RecordSet::Rules,
                id: "r1".into(),
                fields: [("type".to_owned(), PropValue::Text("critical".into()))].into(),
            },
        ],
    )
    .unwrap();
    let set = a.merge(&mut b).unwrap();
    assert!(set.floors && set.layers && !set.meta, "{set:?}");
    assert!(set.other.contains("rules"), "{set:?}");
    assert_eq!(a.floors().len(), 2);
    assert!(!a.layers()[&LayerId::new("electrical")].visible);
    // A second remote edit of the new floor is attributed through the owner index.
    b.apply(
        &ctx(),
        Command::UpdateFloor {
            id: FloorId::new("level-2"),
            name: Some("Mezzanine".into()),
            elevation_mm: None,
            order: None,
        },
    )
    .unwrap();
    let set = a.merge(&mut b).unwrap();
    assert!(set.floors && !set.layers, "{set:?}");
    assert_eq!(a.floors()[&FloorId::new("level-2")].name, "Mezzanine");
}
