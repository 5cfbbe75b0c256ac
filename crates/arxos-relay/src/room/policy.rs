//! Plan identity, role, grant and hard-lock enforcement on incoming changes.
//!
//! A change is judged by applying it to a working copy of the room document and reading the
//! patches between the heads before and after: the elements it touches (and their floor and
//! layer before and after), and the other root sections it touches. Key names come from
//! [`arxos_doc::schema`], so the relay judges exactly the layout the document crate writes.
//!
//! Before any role check, a change must not create the plan's root maps a second time: root
//! maps are made once, when a plan is created, so a change that makes them again in a room
//! that already holds a plan belongs to another plan (a different file pushed into the room)
//! and would leave two competing `meta`, `elements`, … objects side by side on every replica.

use std::collections::{BTreeSet, HashMap, HashSet};

use arxos_doc::schema::{self, ELEMENT_FLOOR, ELEMENT_LAYER, META_ID, root};
use arxos_sync::{Grant, Role};
use automerge::legacy::ObjectId as LegacyObjectId;
use automerge::{Automerge, Change, ChangeHash, ObjId, ObjType, Prop, ReadDoc, Value};
use automerge::{ROOT, patches::PatchAction};

/// Who is writing.
pub(crate) struct Writer<'a> {
    pub(crate) role: Role,
    pub(crate) grant: &'a Grant,
}

impl Writer<'_> {
    /// Whether changes from this writer need no inspection (besides hard locks).
    pub(crate) fn is_unrestricted(&self) -> bool {
        self.role == Role::Owner || (self.role == Role::Editor && !self.grant.is_narrowed())
    }
}

/// What one change touches.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Touched {
    /// Element ids under root `elements`.
    pub(crate) elements: BTreeSet<String>,
    /// Other root keys (`comments`, `meta`, `floors`, `layers`, …), including `elements`
    /// itself when the whole map is replaced.
    pub(crate) roots: BTreeSet<String>,
}

fn prop_key(prop: &Prop) -> Option<&str> {
    match prop {
        Prop::Map(key) => Some(key),
        Prop::Seq(_) => None,
    }
}

fn action_key(action: &PatchAction) -> Option<&str> {
    match action {
        PatchAction::PutMap { key, .. } | PatchAction::DeleteMap { key } => Some(key),
        PatchAction::Increment { prop, .. } | PatchAction::Conflict { prop } => prop_key(prop),
        _ => None,
    }
}

/// Collects what the patches between `before` and `after` touch.
pub(crate) fn touched(doc: &Automerge, before: &[ChangeHash], after: &[ChangeHash]) -> Touched {
    let mut out = Touched::default();
    for patch in doc.diff(before, after) {
        let root_key = match patch.path.first() {
            Some((_, prop)) => prop_key(prop).map(str::to_owned),
            None => action_key(&patch.action).map(str::to_owned),
        };
        let Some(root_key) = root_key else { continue };
        if root_key != root::ELEMENTS || patch.path.is_empty() {
            out.roots.insert(root_key);
            continue;
        }
        let element = match patch.path.get(1) {
            Some((_, prop)) => prop_key(prop).map(str::to_owned),
            None => action_key(&patch.action).map(str::to_owned),
        };
        match element {
            Some(id) => {
                out.elements.insert(id);
            }
            None => {
                out.roots.insert(root_key);
            }
        }
    }
    out
}

fn text_at(doc: &Automerge, obj: &ObjId, key: &str, heads: &[ChangeHash]) -> Option<String> {
    match doc.get_at(obj, key, heads).ok().flatten()? {
        (Value::Scalar(s), _) => s.as_str().map(str::to_owned),
        _ => None,
    }
}

/// Where an entry of the `elements` map stands at some heads.
#[derive(Debug, PartialEq, Eq)]
enum Placement {
    /// There is no such entry.
    Absent,
    /// The entry is not a map (a scalar, a list): no element the document crate writes.
    NotAnElement,
    /// An element map, with its `floor` and `layer` when they are text.
    At(Option<String>, Option<String>),
}

/// The entry `id` of the `elements` map at `heads`.
fn placement(doc: &Automerge, id: &str, heads: &[ChangeHash]) -> Placement {
    let Some((Value::Object(ObjType::Map), elements)) =
        doc.get_at(ROOT, root::ELEMENTS, heads).ok().flatten()
    else {
        return Placement::Absent;
    };
    match doc.get_at(&elements, id, heads).ok().flatten() {
        None => Placement::Absent,
        Some((Value::Object(ObjType::Map), element)) => Placement::At(
            text_at(doc, &element, ELEMENT_FLOOR, heads),
            text_at(doc, &element, ELEMENT_LAYER, heads),
        ),
        Some(_) => Placement::NotAnElement,
    }
}

/// The id of the plan a document holds (`meta.id`), or `None` when it holds no plan yet (or
/// one written without an id).
pub(crate) fn plan_id(doc: &Automerge) -> Option<String> {
    schema::read_meta(doc)
        .map(|meta| meta.id)
        .filter(|id| !id.is_empty())
}

/// The map stored at `ROOT/name` at `heads` (the winning value, when there are several).
fn root_map_at(doc: &Automerge, name: &str, heads: &[ChangeHash]) -> Option<ObjId> {
    match doc.get_at(ROOT, name, heads).ok().flatten()? {
        (Value::Object(ObjType::Map), id) => Some(id),
        _ => None,
    }
}

/// Whether a change writes to the document root itself (creates, replaces or deletes a root
/// map). After a plan's first change nothing does, so this is the cheap test that sends a
/// change from the fast path to a full judgement.
pub(crate) fn writes_root(change: &Change) -> bool {
    change
        .decode()
        .operations
        .iter()
        .any(|op| op.obj == LegacyObjectId::Root)
}

/// Why the change between `before` and `after` must be refused for re-making a root map the
/// room's plan already has (or removing it), or `None` when it leaves every root map alone.
fn second_plan(doc: &Automerge, before: &[ChangeHash], after: &[ChangeHash]) -> Option<String> {
    let name = root::ALL.iter().copied().find(|name| {
        root_map_at(doc, name, before).is_some_and(|existing| {
            let now = doc.get_all_at(ROOT, *name, after).unwrap_or_default();
            !(now.len() == 1 && now[0].1 == existing)
        })
    })?;
    let our_meta = root_map_at(doc, root::META, before);
    let ours = our_meta
        .as_ref()
        .and_then(|meta| text_at(doc, meta, META_ID, before))
        .filter(|id| !id.is_empty());
    // The other plan's id, from the `meta` map the change brought beside ours.
    let theirs = doc
        .get_all_at(ROOT, root::META, after)
        .unwrap_or_default()
        .into_iter()
        .filter(|(value, id)| {
            matches!(value, Value::Object(ObjType::Map)) && Some(id) != our_meta.as_ref()
        })
        .filter_map(|(_, meta)| text_at(doc, &meta, META_ID, after))
        .find(|id| !id.is_empty());
    let ours = ours.as_deref().unwrap_or("without an id");
    Some(match theirs {
        Some(theirs) => format!(
            "this change belongs to another plan (plan id {theirs}); the room holds plan {ours}"
        ),
        None => format!(
            "this change re-creates or removes the root map `{name}` of the room's plan \
             (plan {ours}); root maps are made once, when a plan is created"
        ),
    })
}

/// Judges one change already applied to `doc` (between `before` and `after`).
///
/// `locked_by_others` holds element ids leased by someone else (empty unless the room's locks
/// are hard).
pub(crate) fn judge(
    doc: &Automerge,
    before: &[ChangeHash],
    after: &[ChangeHash],
    writer: &Writer<'_>,
    locked_by_others: &dyn Fn(&str) -> Option<String>,
) -> Result<(), String> {
    // First, for every role: a change of another plan is refused as such, so its author learns
    // that the file is the wrong one rather than that they lack a permission.
    if let Some(reason) = second_plan(doc, before, after) {
        return Err(reason);
    }
    if writer.role == Role::Viewer {
        return Err("viewers may not change the document".into());
    }
    let touched = touched(doc, before, after);
    if writer.role == Role::Commenter
        && (!touched.elements.is_empty() || touched.roots.iter().any(|r| r != root::COMMENTS))
    {
        return Err("commenters may only change comments".into());
    }
    if writer.grant.is_narrowed() {
        if let Some(root) = touched.roots.iter().find(|r| r.as_str() != root::COMMENTS) {
            return Err(format!(
                "the grant covers elements only; change touches `{root}`"
            ));
        }
        for id in &touched.elements {
            for heads in [before, after] {
                match placement(doc, id, heads) {
                    Placement::Absent => {}
                    // Not on any floor, so outside every narrowed grant (found by fuzzing:
                    // a scalar put straight into `elements` had no placement to check).
                    Placement::NotAnElement => {
                        return Err(format!(
                            "`{id}` in the elements map is not an element, outside the grant"
                        ));
                    }
                    Placement::At(floor, layer) => {
                        if !writer.grant.allows(floor.as_deref(), layer.as_deref()) {
                            return Err(format!(
                                "element {id} is on floor {} / layer {}, outside the grant",
                                floor.as_deref().unwrap_or("-"),
                                layer.as_deref().unwrap_or("-")
                            ));
                        }
                    }
                }
            }
        }
    }
    for id in &touched.elements {
        if let Some(holder) = locked_by_others(id) {
            return Err(format!("element {id} is locked by {holder}"));
        }
    }
    Ok(())
}

/// Outcome of vetting a batch of incoming changes.
pub(crate) struct Vetted {
    /// Changes to apply, in causal order.
    pub(crate) accepted: Vec<Change>,
    /// Refused changes with reasons.
    pub(crate) refused: Vec<(ChangeHash, String)>,
}

/// Vets `incoming` (new to `room`, in causal order) change by change.
///
/// `previously_refused` are hashes refused earlier: changes depending on them are refused too.
pub(crate) fn vet(
    room: &Automerge,
    incoming: Vec<Change>,
    writer: &Writer<'_>,
    previously_refused: &HashMap<ChangeHash, String>,
    locked_by_others: &dyn Fn(&str) -> Option<String>,
) -> Vetted {
    let mut work = room.clone();
    let mut accepted: Vec<Change> = Vec::new();
    let mut refused: Vec<(ChangeHash, String)> = Vec::new();
    let mut refused_now: HashSet<ChangeHash> = HashSet::new();
    for change in incoming {
        let hash = change.hash();
        if let Some(reason) = previously_refused.get(&hash) {
            refused.push((hash, reason.clone()));
            refused_now.insert(hash);
            continue;
        }
        if let Some(dep) = change
            .deps()
            .iter()
            .find(|d| previously_refused.contains_key(d) || refused_now.contains(d))
        {
            refused.push((hash, format!("depends on refused change {dep}")));
            refused_now.insert(hash);
            continue;
        }
        let before = work.get_heads();
        if let Err(err) = work.apply_changes([change.clone()]) {
            refused.push((hash, format!("invalid change: {err}")));
            refused_now.insert(hash);
            continue;
        }
        let after = work.get_heads();
        match judge(&work, &before, &after, writer, locked_by_others) {
            Ok(()) => accepted.push(change),
            Err(reason) => {
                refused.push((hash, reason));
                refused_now.insert(hash);
                // Rebuild the working copy without the refused change.
                work = room.clone();
                if let Err(err) = work.apply_changes(accepted.iter().cloned()) {
                    tracing::error!(%err, "re-applying accepted changes failed");
                }
            }
        }
    }
    Vetted { accepted, refused }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arxos_doc::{
        Command, Document, EditContext, ElementKind, FloorId, Geometry, LayerId, NewElement,
        Transform,
    };
    use automerge::AutoCommit;
    use automerge::transaction::Transactable;

    fn base() -> AutoCommit {
        let mut doc = AutoCommit::new();
        let elements = doc.put_object(ROOT, root::ELEMENTS, ObjType::Map).unwrap();
        doc.put_object(ROOT, root::COMMENTS, ObjType::Map).unwrap();
        doc.put_object(ROOT, root::META, ObjType::Map).unwrap();
        for (id, floor, layer) in [("e1", "f1", "elec"), ("e2", "f2", "elec")] {
            let e = doc.put_object(&elements, id, ObjType::Map).unwrap();
            doc.put(&e, ELEMENT_FLOOR, floor).unwrap();
            doc.put(&e, ELEMENT_LAYER, layer).unwrap();
            doc.put(&e, "x", 0.0).unwrap();
        }
        doc.commit();
        doc
    }

    fn change_with(doc: &AutoCommit, f: impl FnOnce(&mut AutoCommit)) -> Change {
        let mut fork = doc.clone().with_actor(automerge::ActorId::random());
        f(&mut fork);
        fork.commit();
        fork.get_last_local_change().unwrap()
    }

    fn element(doc: &AutoCommit, id: &str) -> automerge::ObjId {
        let (_, elements) = doc.get(ROOT, root::ELEMENTS).unwrap().unwrap();
        doc.get(&elements, id).unwrap().unwrap().1
    }

    fn vet_one(doc: &AutoCommit, change: Change, role: Role, grant: &Grant) -> Vetted {
        let room = Automerge::load(&doc.clone().save()).unwrap();
        vet(
            &room,
            vec![change],
            &Writer { role, grant },
            &HashMap::new(),
            &|_| None,
        )
    }

    #[test]
    fn viewer_is_refused_and_owner_accepted() {
        let doc = base();
        let c = change_with(&doc, |d| {
            let e = element(d, "e1");
            d.put(&e, "x", 5.0).unwrap();
        });
        let v = vet_one(&doc, c.clone(), Role::Viewer, &Grant::default());
        assert!(v.accepted.is_empty());
        assert!(v.refused[0].1.contains("viewers"));
        let v = vet_one(&doc, c, Role::Owner, &Grant::default());
        assert_eq!(v.accepted.len(), 1);
    }

    #[test]
    fn commenter_may_only_touch_comments() {
        let doc = base();
        let comment = change_with(&doc, |d| {
            let (_, comments) = d.get(ROOT, root::COMMENTS).unwrap().unwrap();
            let c = d.put_object(&comments, "c1", ObjType::Map).unwrap();
            d.put(&c, "text", "check this").unwrap();
        });
        assert_eq!(
            vet_one(&doc, comment, Role::Commenter, &Grant::default())
                .accepted
                .len(),
            1
        );
        let edit = change_with(&doc, |d| {
            let e = element(d, "e1");
            d.put(&e, "x", 5.0).unwrap();
        });
        let v = vet_one(&doc, edit, Role::Commenter, &Grant::default());
        assert!(v.refused[0].1.contains("commenters"));
        let meta = change_with(&doc, |d| {
            let (_, meta) = d.get(ROOT, root::META).unwrap().unwrap();
            d.put(&meta, "name", "x").unwrap();
        });
        assert_eq!(
            vet_one(&doc, meta, Role::Commenter, &Grant::default())
                .refused
                .len(),
            1
        );
    }

    #[test]
    fn narrowed_editor_may_not_put_anything_but_elements_into_the_elements_map() {
        let doc = base();
        let grant = Grant {
            floors: vec!["f1".into()],
            layers: vec![],
        };
        let scalar = change_with(&doc, |d| {
            let (_, elements) = d.get(ROOT, root::ELEMENTS).unwrap().unwrap();
            d.put(&elements, "junk", "f1").unwrap();
        });
        let v = vet_one(&doc, scalar.clone(), Role::Editor, &grant);
        assert!(v.refused[0].1.contains("not an element"), "{:?}", v.refused);
        // The owner may (it is the owner's plan).
        let v = vet_one(&doc, scalar, Role::Owner, &Grant::default());
        assert_eq!(v.accepted.len(), 1);
    }

    #[test]
    fn narrowed_editor_checks_floor_before_and_after() {
        let doc = base();
        let grant = Grant {
            floors: vec!["f1".into()],
            layers: vec![],
        };
        let inside = change_with(&doc, |d| {
            let e = element(d, "e1");
            d.put(&e, "x", 5.0).unwrap();
        });
        assert_eq!(
            vet_one(&doc, inside, Role::Editor, &grant).accepted.len(),
            1
        );
        let outside = change_with(&doc, |d| {
            let e = element(d, "e2");
            d.put(&e, "x", 5.0).unwrap();
        });
        assert!(
            vet_one(&doc, outside, Role::Editor, &grant).refused[0]
                .1
                .contains("outside the grant")
        );
        let move_out = change_with(&doc, |d| {
            let e = element(d, "e1");
            d.put(&e, ELEMENT_FLOOR, "f2").unwrap();
        });
        assert_eq!(
            vet_one(&doc, move_out, Role::Editor, &grant).refused.len(),
            1
        );
        let delete_out = change_with(&doc, |d| {
            let (_, elements) = d.get(ROOT, root::ELEMENTS).unwrap().unwrap();
            d.delete(&elements, "e2").unwrap();
        });
        assert_eq!(
            vet_one(&doc, delete_out, Role::Editor, &grant)
                .refused
                .len(),
            1
        );
        let create_in = change_with(&doc, |d| {
            let (_, elements) = d.get(ROOT, root::ELEMENTS).unwrap().unwrap();
            let e = d.put_object(&elements, "e3", ObjType::Map).unwrap();
            d.put(&e, ELEMENT_FLOOR, "f1").unwrap();
        });
        assert_eq!(
            vet_one(&doc, create_in, Role::Editor, &grant)
                .accepted
                .len(),
            1
        );
    }

    #[test]
    fn hard_locks_and_refused_dependencies() {
        let doc = base();
        let room = Automerge::load(&doc.clone().save()).unwrap();
        let first = change_with(&doc, |d| {
            let e = element(d, "e1");
            d.put(&e, "x", 5.0).unwrap();
        });
        let mut after_first = doc.clone();
        after_first.apply_changes([first.clone()]).unwrap();
        let second = change_with(&after_first, |d| {
            let e = element(d, "e2");
            d.put(&e, "x", 7.0).unwrap();
        });
        let v = vet(
            &room,
            vec![first, second],
            &Writer {
                role: Role::Editor,
                grant: &Grant::default(),
            },
            &HashMap::new(),
            &|id| (id == "e1").then(|| "bob".to_owned()),
        );
        assert!(v.accepted.is_empty());
        assert!(v.refused[0].1.contains("locked by bob"));
        assert!(v.refused[1].1.contains("depends on refused change"));
    }

    fn plan(name: &str) -> Document {
        Document::new_plan(name, &EditContext::at("test", 0)).unwrap()
    }

    fn room_of(doc: &mut Document) -> Automerge {
        Automerge::load(&doc.save()).unwrap()
    }

    fn owner() -> Writer<'static> {
        static NONE: Grant = Grant {
            floors: Vec::new(),
            layers: Vec::new(),
        };
        Writer {
            role: Role::Owner,
            grant: &NONE,
        }
    }

    #[test]
    fn another_plan_is_refused_for_owners_and_the_plans_own_edits_pass() {
        let mut a = plan("A");
        let b = plan("B");
        let room = room_of(&mut a);
        assert_eq!(plan_id(&room).as_deref(), Some(a.meta().id.as_str()));
        assert_eq!(plan_id(&Automerge::new()), None);

        let theirs = b.automerge().clone().get_changes(&[]);
        assert!(
            writes_root(&theirs[0]),
            "a plan's first change makes its roots"
        );
        let v = vet(&room, theirs.clone(), &owner(), &HashMap::new(), &|_| None);
        assert!(v.accepted.is_empty());
        assert_eq!(v.refused.len(), theirs.len());
        let reason = &v.refused[0].1;
        assert!(
            reason.contains(&format!("another plan (plan id {})", b.meta().id))
                && reason.contains(&format!("the room holds plan {}", a.meta().id)),
            "{reason}"
        );
        assert!(v.refused[1].1.contains("depends on refused change"));

        // Plan A's own edit passes, and never writes the root.
        let before = a.heads();
        a.apply(
            &EditContext::at("test", 1),
            Command::Create(Box::new(NewElement::new(
                ElementKind::Outlet,
                "outlet:1",
                FloorId::new("level-1"),
                LayerId::new("electrical"),
                Geometry::Point,
                Transform::default(),
            ))),
        )
        .unwrap();
        let ours = a.automerge().clone().get_changes(&before);
        assert!(!ours.iter().any(writes_root));
        let v = vet(&room, ours, &owner(), &HashMap::new(), &|_| None);
        assert!(v.refused.is_empty(), "{:?}", v.refused);
        assert_eq!(v.accepted.len(), 1);
    }

    #[test]
    fn typed_comments_pass_for_commenters_and_element_edits_do_not() {
        use arxos_doc::comments::{self, Anchor};
        let mut doc = plan("commented");
        let ctx = EditContext::at("owner", 1);
        let outlet = doc
            .apply(
                &ctx,
                Command::Create(Box::new(NewElement::new(
                    ElementKind::Outlet,
                    "outlet:1",
                    FloorId::new("level-1"),
                    LayerId::new("electrical"),
                    Geometry::Point,
                    Transform::default(),
                ))),
            )
            .unwrap()
            .added[0]
            .clone();
        let room = room_of(&mut doc);
        let commenter = Writer {
            role: Role::Commenter,
            grant: &Grant::default(),
        };
        let vet_as = |room: &Automerge, doc: &mut Document, before: &[ChangeHash]| {
            let changes = doc.automerge().clone().get_changes(before);
            vet(room, changes, &commenter, &HashMap::new(), &|_| None)
        };

        // A thread on the outlet, a reply, and a resolve: all only the `comments` root.
        let before = doc.heads();
        let by = EditContext::at("reviewer", 2);
        let (id, add) =
            comments::add(&doc, &by, &Anchor::Element(outlet.clone()), "240 V?").unwrap();
        doc.apply(&by, add).unwrap();
        let (_, reply) = comments::reply(&doc, &by, &id, "@owner please check").unwrap();
        doc.apply(&by, reply).unwrap();
        let resolve = comments::resolve(&doc, &by, &id).unwrap();
        doc.apply(&by, resolve).unwrap();
        let v = vet_as(&room, &mut doc, &before);
        assert!(v.refused.is_empty(), "{:?}", v.refused);
        assert_eq!(v.accepted.len(), 3);
        let after = room_after(&room, &v.accepted);
        let t = touched(&after, &room.get_heads(), &after.get_heads());
        assert!(t.elements.is_empty(), "{t:?}");
        assert_eq!(t.roots, BTreeSet::from([root::COMMENTS.to_owned()]));

        // The commenter moving the outlet is refused (judged in the room that took the
        // comments, so the edit's dependencies are there).
        let before = doc.heads();
        doc.apply(
            &by,
            Command::MoveTo {
                id: outlet,
                x: 10.0,
                y: 0.0,
            },
        )
        .unwrap();
        let v = vet_as(&after, &mut doc, &before);
        assert!(v.accepted.is_empty());
        assert!(v.refused[0].1.contains("commenters"), "{:?}", v.refused);
    }

    fn room_after(room: &Automerge, changes: &[Change]) -> Automerge {
        let mut r = room.clone();
        r.apply_changes(changes.iter().cloned()).unwrap();
        r
    }

    #[test]
    fn replacing_or_removing_a_root_map_is_refused() {
        let doc = base();
        let replace = change_with(&doc, |d| {
            d.put_object(ROOT, root::ELEMENTS, ObjType::Map).unwrap();
        });
        assert!(writes_root(&replace));
        let v = vet_one(&doc, replace, Role::Owner, &Grant::default());
        assert!(v.refused[0].1.contains("`elements`"), "{:?}", v.refused);
        let remove = change_with(&doc, |d| d.delete(ROOT, root::COMMENTS).unwrap());
        let v = vet_one(&doc, remove, Role::Owner, &Grant::default());
        assert!(v.refused[0].1.contains("`comments`"), "{:?}", v.refused);
        // A root map the plan never had may still be made (older plans lack some).
        let new_root = change_with(&doc, |d| {
            d.put_object(ROOT, root::RULES, ObjType::Map).unwrap();
        });
        let v = vet_one(&doc, new_root, Role::Owner, &Grant::default());
        assert_eq!(v.accepted.len(), 1, "{:?}", v.refused);
    }
}
