//! History: named versions (create, list, diff, preview, revert), branches (create, merge),
//! change proposals (review states, comments) and the audit trail (CSV).

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use std::collections::BTreeMap;

use arxos_doc::audit::{self, AuditEntry};
use arxos_doc::branches::{self, BranchState, ReviewState};
use arxos_doc::versions::{self, FieldChange, StructureChangeKind};
use arxos_doc::{
    ChangeKind, Command, DocError, Document, EditContext, Element, ElementId, ElementKind, FloorId,
    Geometry, LayerId, NewElement, PropValue, Transform, prop,
};

#[path = "support/plan.rs"]
mod support;

use support::{ctx, outlet, plan, wall};

fn at(author: &str, time_ms: i64) -> EditContext {
    EditContext::at(author, time_ms)
}

fn door(tag: &str, host: &ElementId) -> NewElement {
    NewElement::new(
        ElementKind::Door,
        tag,
        FloorId::new("level-1"),
        LayerId::new("architectural"),
        Geometry::Rect {
            width: 900.0,
            height: 150.0,
        },
        Transform::default(),
    )
    .with_ref("host", host.clone())
}

fn create(doc: &mut Document, n: NewElement) -> ElementId {
    let set = doc.apply(&ctx(), Command::Create(Box::new(n))).unwrap();
    set.added[0].clone()
}

fn set_voltage(doc: &mut Document, id: &ElementId, v: f64) {
    doc.apply(
        &ctx(),
        Command::SetProperties {
            id: id.clone(),
            set: vec![("voltage".into(), prop(PropValue::Number(v), None))],
            remove: vec![],
        },
    )
    .unwrap();
}

fn live(doc: &Document) -> BTreeMap<ElementId, Element> {
    doc.elements().map(|e| (e.id.clone(), e.clone())).collect()
}

#[allow(clippy::unnecessary_wraps)] // matches `FieldChange::old`/`new` at call sites
fn num(n: f64) -> Option<PropValue> {
    Some(PropValue::Number(n))
}

fn change(key: &str, old: Option<PropValue>, new: Option<PropValue>) -> FieldChange {
    FieldChange {
        key: key.into(),
        old,
        new,
    }
}

// ---- versions -------------------------------------------------------------------------

#[test]
fn versions_are_created_listed_and_unique() {
    let mut doc = plan();
    create(&mut doc, outlet("outlet:A1", 100.0, 0.0));
    let heads = doc.heads();
    let v1 = versions::create_version(&mut doc, &at("ana", 1_000), "v1", "first issue").unwrap();
    assert_eq!(
        v1.heads, heads,
        "a version names the state before its own record"
    );
    create(&mut doc, outlet("outlet:A2", 200.0, 0.0));
    let v2 = versions::create_version(&mut doc, &at("bo", 2_000), "for review", "").unwrap();

    let list = versions::list_versions(&doc);
    assert_eq!(list, vec![v1.clone(), v2]);
    assert_eq!(list[0].name, "v1");
    assert_eq!(list[0].description, "first issue");
    assert_eq!(list[0].author, "ana");
    assert_eq!(list[0].time_ms, 1_000);
    assert_eq!(versions::get_version(&doc, "v1").unwrap(), v1);

    let before = doc.heads();
    let err = versions::create_version(&mut doc, &ctx(), "v1", "again").unwrap_err();
    assert!(matches!(&err, DocError::DuplicateName { what: "version", name } if name == "v1"));
    assert_eq!(err.to_string(), "a version named `v1` already exists");
    for reserved in ["current", "HEAD", ""] {
        let err = versions::create_version(&mut doc, &ctx(), reserved, "").unwrap_err();
        assert!(matches!(err, DocError::InvalidName { .. }), "{reserved:?}");
    }
    assert_eq!(doc.heads(), before, "refused versions write nothing");
    assert!(matches!(
        versions::get_version(&doc, "v9"),
        Err(DocError::UnknownName {
            what: "version",
            ..
        })
    ));
    let last = doc.history().pop().unwrap();
    assert_eq!(last.kind, ChangeKind::Version);
    assert_eq!(last.summary, "create version for review");
}

#[test]
fn a_deleted_version_is_gone_but_its_name_can_be_reused() {
    let mut doc = plan();
    let v1 = versions::create_version(&mut doc, &ctx(), "v1", "").unwrap();
    assert_eq!(
        versions::delete_version(&mut doc, &ctx(), "v1").unwrap(),
        v1
    );
    assert!(versions::list_versions(&doc).is_empty());
    let last = doc.history().pop().unwrap();
    assert_eq!(last.kind, ChangeKind::Version);
    assert_eq!(last.summary, "delete version v1");
    assert!(matches!(
        versions::delete_version(&mut doc, &ctx(), "v1"),
        Err(DocError::UnknownName { .. })
    ));
    versions::create_version(&mut doc, &ctx(), "v1", "again").unwrap();
    assert_eq!(
        versions::get_version(&doc, "v1").unwrap().description,
        "again"
    );
}

#[test]
fn versions_survive_save_and_load() {
    let mut doc = plan();
    let v = versions::create_version(&mut doc, &ctx(), "v1", "saved").unwrap();
    let mut back = Document::load(&doc.save()).unwrap();
    assert_eq!(versions::get_version(&back, "v1").unwrap(), v);
    assert!(versions::preview(&mut back, &v).is_ok());
}

#[test]
fn diff_lists_added_removed_and_changed_elements_with_old_and_new_values() {
    let mut doc = plan();
    let a = create(&mut doc, outlet("outlet:A", 100.0, 0.0));
    let b = create(&mut doc, outlet("outlet:B", 200.0, 0.0));
    let v1 = versions::create_version(&mut doc, &ctx(), "v1", "").unwrap();

    set_voltage(&mut doc, &a, 120.0);
    doc.apply(
        &ctx(),
        Command::MoveTo {
            id: a.clone(),
            x: 150.0,
            y: 0.0,
        },
    )
    .unwrap();
    doc.apply(
        &ctx(),
        Command::Delete {
            ids: vec![b.clone()],
        },
    )
    .unwrap();
    let c = create(&mut doc, outlet("outlet:C", 300.0, 0.0));
    doc.apply(
        &ctx(),
        Command::UpdateFloor {
            id: FloorId::new("level-1"),
            name: Some("Ground".into()),
            elevation_mm: None,
            order: None,
        },
    )
    .unwrap();
    doc.apply(
        &ctx(),
        Command::SetMeta {
            name: Some("renamed".into()),
            units: None,
        },
    )
    .unwrap();

    let now = versions::resolve_heads(&mut doc, "current").unwrap();
    let d = versions::diff(&mut doc, &v1.heads, &now).unwrap();
    assert_eq!(d.changed.len(), 1);
    assert_eq!(d.changed[0].id, a);
    assert_eq!(d.changed[0].tag, "outlet:A");
    assert_eq!(
        d.changed[0].fields,
        vec![
            change("props.voltage", num(230.0), num(120.0)),
            change("x", num(100.0), num(150.0)),
        ]
    );
    assert_eq!(d.removed.len(), 1);
    assert_eq!(d.removed[0].id, b);
    assert_eq!(
        d.removed[0].fields,
        vec![change(
            "deleted",
            Some(PropValue::Bool(false)),
            Some(PropValue::Bool(true))
        )]
    );
    assert_eq!(d.added.len(), 1);
    assert_eq!(d.added[0].id, c);
    assert_eq!(d.added[0].kind, ElementKind::Outlet);
    let tag = d.added[0].fields.iter().find(|f| f.key == "tag").unwrap();
    assert_eq!(tag.old, None);
    assert_eq!(tag.new, Some(PropValue::Text("outlet:C".into())));
    assert!(d.added[0].fields.iter().all(|f| f.old.is_none()));
    assert_eq!(d.floors.len(), 1);
    assert_eq!(d.floors[0].id, "level-1");
    assert_eq!(d.floors[0].change, StructureChangeKind::Changed);
    assert_eq!(
        d.floors[0].fields,
        vec![change(
            "name",
            Some(PropValue::Text("Level 1".into())),
            Some(PropValue::Text("Ground".into()))
        )]
    );
    assert!(d.layers.is_empty());
    assert_eq!(
        d.meta,
        vec![change(
            "name",
            Some(PropValue::Text("test".into())),
            Some(PropValue::Text("renamed".into()))
        )]
    );

    // The other way round, everything swaps.
    let back = versions::diff(&mut doc, &now, &v1.heads).unwrap();
    assert_eq!(back.added[0].id, b);
    assert_eq!(back.removed[0].id, c);
    assert_eq!(
        back.changed[0].fields[0],
        change("props.voltage", num(120.0), num(230.0))
    );
    // A state against itself: nothing.
    assert!(versions::diff(&mut doc, &now, &now).unwrap().is_empty());
}

#[test]
fn preview_is_the_state_at_the_version() {
    let mut doc = plan();
    let a = create(&mut doc, outlet("outlet:A", 100.0, 0.0));
    let v1 = versions::create_version(&mut doc, &ctx(), "v1", "").unwrap();
    let at_v1 = live(&doc);
    set_voltage(&mut doc, &a, 110.0);
    create(&mut doc, outlet("outlet:B", 200.0, 0.0));

    let stored = versions::get_version(&doc, "v1").unwrap();
    assert_eq!(stored, v1);
    let mut p = versions::preview(&mut doc, &stored).unwrap();
    assert_eq!(live(&p), at_v1);
    assert_eq!(
        p.element(&a).unwrap().props["voltage"].value,
        PropValue::Number(230.0)
    );
    assert!(p.element_by_tag("outlet:B").is_err());
    assert_eq!(p.stats().elements, 1);
    // The live document is untouched by previewing.
    assert_eq!(doc.elements().count(), 2);
    assert_eq!(
        doc.element(&a).unwrap().props["voltage"].value,
        PropValue::Number(110.0)
    );
}

#[test]
#[allow(clippy::too_many_lines)] // one scenario, step by step
fn revert_restores_exact_old_values_as_one_new_change() {
    let mut doc = plan();
    let w1 = create(&mut doc, wall("wall:W1", 0.0));
    let d1 = create(&mut doc, door("door:D1", &w1));
    let a = create(&mut doc, outlet("outlet:A", 100.0, 0.0));
    let b = create(&mut doc, outlet("outlet:B", 200.0, 0.0));
    let gone = create(&mut doc, outlet("outlet:GONE", 300.0, 0.0));
    doc.apply(&ctx(), Command::Delete { ids: vec![gone] })
        .unwrap();
    let v1 = versions::create_version(&mut doc, &ctx(), "v1", "").unwrap();
    let state = live(&doc);
    let (floors, layers, meta) = (
        doc.floors().clone(),
        doc.layers().clone(),
        doc.meta().clone(),
    );

    // Edit, delete, create, swap tags, re-host the door on a new wall, delete the old wall,
    // add a floor and a layer, rename the plan.
    set_voltage(&mut doc, &a, 120.0);
    doc.apply(
        &ctx(),
        Command::Delete {
            ids: vec![b.clone()],
        },
    )
    .unwrap();
    let w2 = create(&mut doc, wall("wall:W2", 9000.0));
    doc.apply_batch(
        &ctx(),
        "rehost",
        vec![
            Command::SetReference {
                id: d1.clone(),
                name: "host".into(),
                target: Some(w2.clone()),
            },
            Command::Delete {
                ids: vec![w1.clone()],
            },
        ],
    )
    .unwrap();
    let c = create(&mut doc, outlet("outlet:C", 400.0, 0.0));
    doc.apply_batch(
        &ctx(),
        "swap tags",
        vec![
            Command::SetTag {
                id: a.clone(),
                tag: "tmp".into(),
            },
            Command::SetTag {
                id: c.clone(),
                tag: "outlet:B".into(),
            },
            Command::SetTag {
                id: a.clone(),
                tag: "outlet:C".into(),
            },
        ],
    )
    .unwrap();
    doc.apply_batch(
        &ctx(),
        "structure",
        vec![
            Command::UpdateLayer {
                id: LayerId::new("electrical"),
                name: Some("Power".into()),
                color: Some("#ff0000".into()),
                visible: Some(false),
            },
            Command::UpdateFloor {
                id: FloorId::new("level-1"),
                name: None,
                elevation_mm: Some(250.0),
                order: None,
            },
            Command::SetMeta {
                name: Some("renamed".into()),
                units: Some("cm".into()),
            },
        ],
    )
    .unwrap();
    assert_ne!(live(&doc), state);
    let history_before = doc.history().len();

    let set = versions::revert_to(&mut doc, &at("rita", 5_000), &v1).unwrap();
    assert_eq!(
        live(&doc),
        state,
        "live elements equal the version's exactly"
    );
    assert_eq!(doc.floors(), &floors);
    assert_eq!(doc.layers(), &layers);
    assert_eq!(doc.meta(), &meta);
    assert_eq!(doc.element(&d1).unwrap().refs["host"], w1);
    assert_eq!(doc.element(&a).unwrap().tag, "outlet:A");
    assert_eq!(
        doc.element(&a).unwrap().props["voltage"].value,
        PropValue::Number(230.0)
    );
    assert!(doc.element(&b).is_some(), "a deleted element is back");
    assert!(doc.element(&c).is_none(), "a newer element is gone");
    assert!(doc.element(&w2).is_none());
    assert!(doc.element_any(&c).unwrap().deleted, "as a tombstone");
    assert!(set.added.contains(&b) && set.added.contains(&w1));
    assert!(set.removed.contains(&c) && set.removed.contains(&w2));
    assert!(set.updated.contains(&a) && set.updated.contains(&d1));

    // One new change, recorded as a revert; history is kept.
    let history = doc.history();
    assert_eq!(history.len(), history_before + 1);
    let last = history.last().unwrap();
    assert_eq!(last.kind, ChangeKind::Revert);
    assert_eq!(last.author, "rita");
    assert_eq!(last.summary, "revert to version v1");
    assert!(versions::list_versions(&doc).len() == 1, "records are kept");

    // Reverting again changes nothing and writes nothing.
    let heads = doc.heads();
    assert!(
        versions::revert_to(&mut doc, &ctx(), &v1)
            .unwrap()
            .is_empty()
    );
    assert_eq!(doc.heads(), heads);
    // A diff against the version is now empty for the drawing.
    let now = doc.heads();
    assert!(
        versions::diff(&mut doc, &v1.heads, &now)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_reference_that_dangled_at_the_version_does_not_block_a_revert() {
    let mut doc = plan();
    let w1 = create(&mut doc, wall("wall:W1", 0.0));
    let d1 = create(&mut doc, door("door:D1", &w1));
    // Deleting the host leaves the door's link dangling (a relationship conflict).
    doc.apply(&ctx(), Command::Delete { ids: vec![w1] })
        .unwrap();
    let v1 = versions::create_version(&mut doc, &ctx(), "v1", "").unwrap();
    doc.apply(
        &ctx(),
        Command::Delete {
            ids: vec![d1.clone()],
        },
    )
    .unwrap();
    versions::revert_to(&mut doc, &ctx(), &v1).unwrap();
    let door = doc.element(&d1).unwrap();
    assert_eq!(door.tag, "door:D1");
    assert!(
        door.refs.is_empty(),
        "the dangling link is dropped, as by `Restore`"
    );
}

#[test]
fn a_revert_can_itself_be_reverted() {
    let mut doc = plan();
    let a = create(&mut doc, outlet("outlet:A", 100.0, 0.0));
    let v1 = versions::create_version(&mut doc, &ctx(), "v1", "").unwrap();
    set_voltage(&mut doc, &a, 120.0);
    let v2 = versions::create_version(&mut doc, &ctx(), "v2", "").unwrap();
    versions::revert_to(&mut doc, &ctx(), &v1).unwrap();
    assert_eq!(
        doc.element(&a).unwrap().props["voltage"].value,
        PropValue::Number(230.0)
    );
    versions::revert_to(&mut doc, &ctx(), &v2).unwrap();
    assert_eq!(
        doc.element(&a).unwrap().props["voltage"].value,
        PropValue::Number(120.0)
    );
}

// ---- branches -------------------------------------------------------------------------

#[test]
fn branch_edits_merge_into_the_parent() {
    let mut parent = plan();
    let a = create(&mut parent, outlet("outlet:A", 100.0, 0.0));
    let b = create(&mut parent, outlet("outlet:B", 200.0, 0.0));
    let (branch, mut fork) = branches::create_branch(
        &mut parent,
        &at("ana", 10),
        "rewire",
        None,
        "plan.rewire.arx",
    )
    .unwrap();
    assert_eq!(branch.name, "rewire");
    assert_eq!(branch.parent, parent.meta().id);
    assert_eq!(branch.state, BranchState::Open);
    assert!(!branch.proposal && branch.review.is_none());
    assert_eq!(branch.file, "plan.rewire.arx");
    assert_eq!(branch.created_by, "ana");
    assert_eq!(fork.meta().id, parent.meta().id, "same plan, own replica");
    assert_eq!(fork.heads(), branch.from_heads);
    assert_eq!(branches::list_branches(&parent), vec![branch.clone()]);
    assert!(matches!(
        branches::create_branch(&mut parent, &ctx(), "rewire", None, "x.arx"),
        Err(DocError::DuplicateName { what: "branch", .. })
    ));

    // Work on both sides.
    set_voltage(&mut fork, &a, 120.0);
    let c = create(&mut fork, outlet("outlet:C", 300.0, 0.0));
    doc_move(&mut parent, &b, 250.0);

    let merged =
        branches::merge_branch(&mut parent, &mut fork, &at("bo", 20), "rewire", false).unwrap();
    assert!(merged.changes.added.contains(&c));
    assert!(merged.changes.updated.contains(&a));
    assert_eq!(merged.branch_heads, fork.heads());
    assert_eq!(
        parent.element(&a).unwrap().props["voltage"].value,
        PropValue::Number(120.0)
    );
    assert!(
        (parent.element(&b).unwrap().transform.x - 250.0).abs() < 1e-9,
        "parent edit kept"
    );
    assert!(parent.element(&c).is_some());
    let rec = branches::get_branch(&parent, "rewire").unwrap();
    assert_eq!(rec.state, BranchState::Merged);
    assert_eq!(rec.merged_by.as_deref(), Some("bo"));
    assert_eq!(rec.merged_ms, Some(20));
    // `before` is the parent's state before the merge: it has the parent's edit only.
    let p = versions::preview_at(&mut parent, &merged.before).unwrap();
    assert!(p.element(&c).is_none());
    assert!((p.element(&b).unwrap().transform.x - 250.0).abs() < 1e-9);
    let last = parent.history().pop().unwrap();
    assert_eq!(last.kind, ChangeKind::Merge);
    assert_eq!(
        last.summary,
        "merge branch rewire (1 added, 1 updated, 0 removed)"
    );

    // Merging twice is refused.
    let err = branches::merge_branch(&mut parent, &mut fork, &ctx(), "rewire", false).unwrap_err();
    assert_eq!(
        err.to_string(),
        "branch `rewire` is merged; cannot merge it"
    );
}

fn doc_move(doc: &mut Document, id: &ElementId, x: f64) {
    doc.apply(
        &ctx(),
        Command::MoveTo {
            id: id.clone(),
            x,
            y: 0.0,
        },
    )
    .unwrap();
}

#[test]
fn a_branch_from_a_version_starts_at_that_version() {
    let mut parent = plan();
    create(&mut parent, outlet("outlet:A", 100.0, 0.0));
    let v1 = versions::create_version(&mut parent, &ctx(), "v1", "").unwrap();
    create(&mut parent, outlet("outlet:B", 200.0, 0.0));
    let (branch, fork) =
        branches::create_branch(&mut parent, &ctx(), "old", Some(&v1), "old.arx").unwrap();
    assert_eq!(branch.from_heads, v1.heads);
    assert_eq!(branch.from_version.as_deref(), Some("v1"));
    assert!(fork.element_by_tag("outlet:A").is_ok());
    assert!(fork.element_by_tag("outlet:B").is_err());
}

#[test]
fn a_foreign_plan_or_an_unknown_branch_is_refused() {
    let mut parent = plan();
    branches::create_branch(&mut parent, &ctx(), "x", None, "x.arx").unwrap();
    let mut other = plan();
    let before = parent.heads();
    let err = branches::merge_branch(&mut parent, &mut other, &ctx(), "x", false).unwrap_err();
    assert!(matches!(err, DocError::ForeignBranch { .. }), "{err}");
    let err = branches::merge_branch(&mut parent, &mut other, &ctx(), "y", false).unwrap_err();
    assert_eq!(err.to_string(), "no branch named `y`");
    assert_eq!(parent.heads(), before, "nothing written");
}

#[test]
fn a_closed_branch_cannot_be_merged() {
    let mut parent = plan();
    let (_, mut fork) = branches::create_branch(&mut parent, &ctx(), "x", None, "x.arx").unwrap();
    assert_eq!(
        branches::close_branch(&mut parent, &ctx(), "x")
            .unwrap()
            .state,
        BranchState::Closed
    );
    let err = branches::merge_branch(&mut parent, &mut fork, &ctx(), "x", true).unwrap_err();
    assert_eq!(err.to_string(), "branch `x` is closed; cannot merge it");
}

// ---- proposals ------------------------------------------------------------------------

#[test]
fn proposals_go_through_review_states() {
    let mut parent = plan();
    let a = create(&mut parent, outlet("outlet:A", 100.0, 0.0));
    let (p, mut fork) = branches::create_proposal(
        &mut parent,
        &at("ana", 10),
        "new-circuit",
        None,
        "p.arx",
        "move A to 120 V",
    )
    .unwrap();
    assert!(p.proposal);
    assert_eq!(p.review, Some(ReviewState::Open));
    set_voltage(&mut fork, &a, 120.0);

    let rc =
        branches::request_changes(&mut parent, &at("bo", 20), "new-circuit", "use 110 V").unwrap();
    assert_eq!(rc.review, Some(ReviewState::ChangesRequested));
    branches::comment(
        &mut parent,
        &at("ana", 30),
        "new-circuit",
        "will do, \"soon\"",
    )
    .unwrap();
    let list = branches::list_proposals(&parent);
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].branch.review, Some(ReviewState::ChangesRequested));
    assert_eq!(list[0].branch.description, "move A to 120 V");
    let c: Vec<(&str, &str, &str, i64)> = list[0]
        .comments
        .iter()
        .map(|c| {
            (
                c.author.as_str(),
                c.action.as_str(),
                c.text.as_str(),
                c.time_ms,
            )
        })
        .collect();
    assert_eq!(
        c,
        vec![
            ("bo", "request-changes", "use 110 V", 20),
            ("ana", "comment", "will do, \"soon\"", 30),
        ]
    );
    let last = parent.history().pop().unwrap();
    assert_eq!(last.kind, ChangeKind::Review);

    // Changes requested: merging is refused unless forced, and nothing is written.
    let before = parent.heads();
    let err =
        branches::merge_branch(&mut parent, &mut fork, &ctx(), "new-circuit", false).unwrap_err();
    assert!(matches!(err, DocError::ChangesRequested(ref n) if n == "new-circuit"));
    assert_eq!(parent.heads(), before);

    set_voltage(&mut fork, &a, 110.0);
    let ok = branches::approve(&mut parent, &at("bo", 40), "new-circuit", Some("thanks")).unwrap();
    assert_eq!(ok.review, Some(ReviewState::Approved));
    assert_eq!(
        branches::get_branch(&parent, "new-circuit").unwrap().review,
        Some(ReviewState::Approved)
    );
    branches::merge_branch(&mut parent, &mut fork, &ctx(), "new-circuit", false).unwrap();
    assert_eq!(
        parent.element(&a).unwrap().props["voltage"].value,
        PropValue::Number(110.0)
    );
    let view = &branches::list_proposals(&parent)[0];
    assert_eq!(view.branch.state, BranchState::Merged);
    assert_eq!(view.comments.len(), 3);
    assert_eq!(view.comments[2].action, "approve");
    // A merged proposal is no longer reviewed.
    assert!(matches!(
        branches::approve(&mut parent, &ctx(), "new-circuit", None),
        Err(DocError::BranchState { .. })
    ));
}

#[test]
fn a_forced_merge_overrides_changes_requested() {
    let mut parent = plan();
    let (_, mut fork) =
        branches::create_proposal(&mut parent, &ctx(), "p", None, "p.arx", "").unwrap();
    branches::request_changes(&mut parent, &ctx(), "p", "no").unwrap();
    let m = branches::merge_branch(&mut parent, &mut fork, &ctx(), "p", true).unwrap();
    assert_eq!(m.branch.state, BranchState::Merged);
}

#[test]
fn plain_branches_are_not_reviewed() {
    let mut parent = plan();
    branches::create_branch(&mut parent, &ctx(), "b", None, "b.arx").unwrap();
    let err = branches::approve(&mut parent, &ctx(), "b", None).unwrap_err();
    assert!(matches!(err, DocError::NotAProposal(ref n) if n == "b"));
    let err = branches::request_changes(&mut parent, &ctx(), "p", "x").unwrap_err();
    assert_eq!(err.to_string(), "no proposal named `p`");
    assert!(branches::list_proposals(&parent).is_empty());
}

// ---- audit ----------------------------------------------------------------------------

#[test]
fn audit_trail_lists_every_change_with_its_kind() {
    let mut doc = plan();
    let a = create(&mut doc, outlet("outlet:A", 100.0, 0.0));
    let v1 = versions::create_version(&mut doc, &at("ana", 2_000), "v1", "").unwrap();
    set_voltage(&mut doc, &a, 120.0);
    versions::revert_to(&mut doc, &at("rita", 3_000), &v1).unwrap();
    let trail = audit::audit_trail(&mut doc);
    let kinds: Vec<&str> = trail.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        vec!["import", "edit", "edit", "version", "edit", "revert"]
    );
    let revert = trail.last().unwrap();
    assert_eq!(revert.author, "rita");
    assert_eq!(revert.time_ms, 3_000);
    assert_eq!(revert.time, "1970-01-01T00:00:03.000Z");
    assert_eq!(revert.summary, "revert to version v1");
    assert_eq!(revert.change, doc.heads()[0].to_string());
}

#[test]
fn audit_csv_quotes_commas_quotes_and_line_breaks() {
    let entries = vec![
        AuditEntry {
            time: audit::rfc3339_ms(1_700_000_000_000),
            time_ms: 1_700_000_000_000,
            author: "Doe, Jane".into(),
            kind: ChangeKind::Resolve,
            summary: "set \"voltage\" = 120\nthen moved".into(),
            change: "abc123".into(),
        },
        AuditEntry {
            time: audit::rfc3339_ms(0),
            time_ms: 0,
            author: "bo".into(),
            kind: ChangeKind::Edit,
            summary: "plain".into(),
            change: "def".into(),
        },
    ];
    assert_eq!(
        audit::to_csv(&entries),
        "time,time_ms,author,kind,summary,change\n\
         2023-11-14T22:13:20.000Z,1700000000000,\"Doe, Jane\",resolve,\
         \"set \"\"voltage\"\" = 120\nthen moved\",abc123\n\
         1970-01-01T00:00:00.000Z,0,bo,edit,plain,def\n"
    );
}

#[test]
fn audit_csv_of_a_real_document_has_one_row_per_change() {
    let mut doc = plan();
    doc.apply_batch(
        &at("Doe, Jane", 5),
        "a \"quoted\", summary",
        vec![Command::Create(Box::new(outlet("outlet:A", 1.0, 0.0)))],
    )
    .unwrap();
    let trail = audit::audit_trail(&mut doc);
    let csv = audit::to_csv(&trail);
    assert_eq!(csv.lines().count(), trail.len() + 1);
    assert!(csv.starts_with("time,time_ms,author,kind,summary,change\n"));
    for e in &trail {
        assert!(csv.contains(&e.change));
    }
    let last = csv.lines().last().unwrap();
    assert_eq!(
        last,
        format!(
            "1970-01-01T00:00:00.005Z,5,\"Doe, Jane\",edit,\"a \"\"quoted\"\", summary\",{}",
            trail.last().unwrap().change
        )
    );
}

// ---- laws -----------------------------------------------------------------------------

mod laws {
    use super::*;
    use proptest::prelude::*;

    /// One random edit; `i` picks an element (live or deleted) by position.
    #[derive(Clone, Debug)]
    enum Op {
        Voltage(usize, u8),
        Move(usize, i16),
        Delete(usize),
        Restore(usize),
        Create(u8),
        Tag(usize, u8),
        Rehost(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (any::<usize>(), any::<u8>()).prop_map(|(i, v)| Op::Voltage(i, v)),
            (any::<usize>(), any::<i16>()).prop_map(|(i, d)| Op::Move(i, d)),
            any::<usize>().prop_map(Op::Delete),
            any::<usize>().prop_map(Op::Restore),
            any::<u8>().prop_map(Op::Create),
            (any::<usize>(), 0u8..6).prop_map(|(i, t)| Op::Tag(i, t)),
            any::<usize>().prop_map(Op::Rehost),
        ]
    }

    fn pick(doc: &Document, i: usize) -> ElementId {
        let all: Vec<ElementId> = doc
            .elements()
            .chain(doc.deleted_elements())
            .map(|e| e.id.clone())
            .collect();
        all[i % all.len()].clone()
    }

    /// Applies `op`; refused edits (unknown, duplicate tag...) write nothing and are skipped.
    fn run(doc: &mut Document, op: &Op) {
        let cmd = match op {
            Op::Voltage(i, v) => Command::SetProperties {
                id: pick(doc, *i),
                set: vec![(
                    "voltage".into(),
                    prop(PropValue::Number(f64::from(*v)), None),
                )],
                remove: vec![],
            },
            Op::Move(i, d) => Command::Move {
                ids: vec![pick(doc, *i)],
                dx: f64::from(*d),
                dy: 0.0,
            },
            Op::Delete(i) => Command::Delete {
                ids: vec![pick(doc, *i)],
            },
            Op::Restore(i) => Command::Restore {
                ids: vec![pick(doc, *i)],
            },
            Op::Create(n) => Command::Create(Box::new(outlet(&format!("outlet:N{n}"), 7.0, 0.0))),
            Op::Tag(i, t) => Command::SetTag {
                id: pick(doc, *i),
                tag: format!("outlet:T{t}"),
            },
            Op::Rehost(i) => {
                let Ok(d) = doc.element_by_tag("door:D1").map(|e| e.id.clone()) else {
                    return;
                };
                Command::SetReference {
                    id: d,
                    name: "host".into(),
                    target: Some(pick(doc, *i)),
                }
            }
        };
        let _ = doc.apply(&ctx(), cmd);
    }

    fn without_dangling(mut state: BTreeMap<ElementId, Element>) -> BTreeMap<ElementId, Element> {
        let ids: Vec<ElementId> = state.keys().cloned().collect();
        for e in state.values_mut() {
            e.refs.retain(|_, to| ids.contains(to));
        }
        state
    }

    fn linked(doc: &Document) -> BTreeMap<ElementId, Element> {
        without_dangling(live(doc))
    }

    fn start() -> Document {
        let mut doc = plan();
        let w1 = create(&mut doc, wall("wall:W1", 0.0));
        create(&mut doc, wall("wall:W2", 6000.0));
        create(&mut doc, door("door:D1", &w1));
        for (n, x) in [("outlet:A", 1.0), ("outlet:B", 2.0), ("outlet:C", 3.0)] {
            create(&mut doc, outlet(n, x, 0.0));
        }
        doc
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Whatever happened before and after a version, reverting to it gives back exactly
        /// its drawing, as one new change, and diffing against it is then empty.
        #[test]
        fn revert_gives_back_exactly_the_version(
            before in prop::collection::vec(op(), 0..8),
            after in prop::collection::vec(op(), 0..12),
        ) {
            let mut doc = start();
            for o in &before {
                run(&mut doc, o);
            }
            let v = versions::create_version(&mut doc, &ctx(), "v", "").unwrap();
            let state = live(&doc);
            for o in &after {
                run(&mut doc, o);
            }
            let changes = doc.history().len();
            let set = versions::revert_to(&mut doc, &ctx(), &v).unwrap();
            // Exactly the version's drawing, up to references that already dangled then
            // (no command writes a dangling link).
            prop_assert_eq!(linked(&doc), without_dangling(state));
            prop_assert_eq!(doc.history().len(), changes + usize::from(!set.is_empty()));
            let now = doc.heads();
            let d = versions::diff(&mut doc, &v.heads, &now).unwrap();
            prop_assert!(d.added.is_empty() && d.removed.is_empty());
            for c in &d.changed {
                prop_assert!(c.fields.iter().all(|f| f.key.starts_with("ref.") && f.new.is_none()));
            }
            // And it survives a save and load.
            let back = Document::load(&doc.save()).unwrap();
            prop_assert_eq!(live(&back), live(&doc));
        }
    }
}

#[test]
fn changes_after_a_version_are_described_with_their_author_and_elements() {
    let mut doc = plan();
    let a = create(&mut doc, outlet("O-1", 0.0, 0.0));
    let b = create(&mut doc, outlet("O-2", 1000.0, 0.0));
    let synced = doc.heads();
    doc.apply(
        &at("ana", 5_000),
        Command::SetProperties {
            id: a.clone(),
            set: vec![("voltage".into(), prop(PropValue::Number(415.0), None))],
            remove: vec![],
        },
    )
    .unwrap();
    doc.apply(
        &at("ben", 6_000),
        Command::Delete {
            ids: vec![b.clone()],
        },
    )
    .unwrap();

    let queued = doc.describe_changes_after(&synced).unwrap();
    let seen: Vec<(&str, i64, Vec<ElementId>)> = queued
        .iter()
        .map(|c| (c.entry.author.as_str(), c.entry.time_ms, c.elements.clone()))
        .collect();
    assert_eq!(
        seen,
        vec![
            ("ana", 5_000, vec![a.clone()]),
            ("ben", 6_000, vec![b.clone()])
        ]
    );
    // Nothing after the current heads; everything after nothing.
    let now = doc.heads();
    assert!(doc.describe_changes_after(&now).unwrap().is_empty());
    assert_eq!(
        doc.describe_changes_after(&[]).unwrap().len(),
        doc.history().len()
    );
}
