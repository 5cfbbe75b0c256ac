//! The check the `room_judge` fuzz target in `fuzz/` runs, kept here so that the target
//! (nightly, cargo-fuzz) and the regression test over its corpus (stable, `cargo test`) run
//! the same code: a room judging an arbitrary change from an editor whose invite is narrowed
//! to one floor and one layer, with one element leased by somebody else.
//!
//! The fuzzer's bytes are read as a small program of raw Automerge operations (what a hostile
//! client can write, not only what the document crate writes), committed as one change; a
//! leading `0xff` instead hands the rest to Automerge as the bytes of a change. The property is
//! checked against the whole document, independently of how the judge works: whatever the
//! room accepts changes nothing outside the grant, nothing leased by another, nothing outside
//! `elements` and `comments`, and never replaces the `elements` map.
//!
//! Not an API: hidden from the docs, and free to change with the target.

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

use arxos_doc::schema::{ELEMENT_FLOOR, ELEMENT_LAYER, root};
use arxos_sync::{Grant, Role};
use automerge::hydrate;
use automerge::transaction::Transactable;
use automerge::{
    ActorId, AutoCommit, Automerge, Change, ObjId, ObjType, ROOT, ReadDoc, ScalarValue,
};

use crate::room::policy::{Writer, vet};

/// The element another person holds a lease on.
const LEASED: &str = "e-leased";
/// Elements of the room before the change: (id, floor, layer).
const ELEMENTS: [(&str, &str, &str); 4] = [
    ("e-inside", "level-1", "electrical"),
    ("e-other-floor", "level-2", "electrical"),
    ("e-other-layer", "level-1", "architectural"),
    (LEASED, "level-1", "electrical"),
];
/// Element ids a program may name: the room's and two new ones.
const IDS: [&str; 6] = [
    "e-inside",
    "e-other-floor",
    "e-other-layer",
    LEASED,
    "e-new",
    "",
];
/// Keys a program may write in an element (or a root map).
const KEYS: [&str; 8] = [
    ELEMENT_FLOOR,
    ELEMENT_LAYER,
    "x",
    "tag",
    "kind",
    "deleted",
    "props.v",
    "z",
];
/// Text values a program may write: the floors and layers of both sides of the grant.
const TEXTS: [&str; 6] = [
    "level-1",
    "level-2",
    "electrical",
    "architectural",
    "",
    "wall",
];

fn room() -> &'static Automerge {
    static ROOM: OnceLock<Automerge> = OnceLock::new();
    ROOM.get_or_init(|| {
        let mut doc = AutoCommit::new().with_actor(ActorId::from(&b"room-owner"[..]));
        let mut elements = None;
        for name in root::ALL {
            let map = doc.put_object(ROOT, name, ObjType::Map);
            if name == root::ELEMENTS {
                elements = map.ok();
            }
        }
        if let Some(elements) = elements {
            for (id, floor, layer) in ELEMENTS {
                if let Ok(e) = doc.put_object(&elements, id, ObjType::Map) {
                    let _ = doc.put(&e, ELEMENT_FLOOR, floor);
                    let _ = doc.put(&e, ELEMENT_LAYER, layer);
                    let _ = doc.put(&e, "x", 0.0);
                }
            }
        }
        if let Ok(Some((_, meta))) = doc.get(ROOT, root::META) {
            let _ = doc.put(&meta, "id", "fuzz-plan");
        }
        doc.commit();
        doc.document().clone()
    })
}

fn pick<T: Copy>(list: &[T], byte: u8) -> T {
    list[usize::from(byte) % list.len()]
}

fn map_at(doc: &impl ReadDoc, obj: &ObjId, key: &str) -> Option<ObjId> {
    match doc.get(obj, key).ok().flatten()? {
        (automerge::Value::Object(ObjType::Map), id) => Some(id),
        _ => None,
    }
}

fn scalar(kind: u8, arg: u8) -> ScalarValue {
    match kind % 5 {
        0 => ScalarValue::Str(pick(&TEXTS, arg).into()),
        1 => ScalarValue::F64(f64::from(arg) - 128.0),
        2 => ScalarValue::Boolean(arg.is_multiple_of(2)),
        3 => ScalarValue::Null,
        _ => ScalarValue::Int(i64::from(arg)),
    }
}

/// Runs the program in `data` as one change by a new actor on the room's document.
fn program_change(data: &[u8]) -> Option<Change> {
    // A fork has a new actor: another person writing on top of the room.
    let mut fork = room().fork();
    let mut doc = fork.transaction();
    let elements = map_at(&doc, &ROOT, root::ELEMENTS)?;
    for op in data.chunks(4) {
        let [code, a, b, c] = [0, 1, 2, 3].map(|i| op.get(i).copied().unwrap_or(0));
        let id = pick(&IDS, a);
        let key = pick(&KEYS, b);
        // Errors are part of the game: an op on a missing map just does nothing.
        match code % 8 {
            0 | 1 => {
                if let Some(e) = map_at(&doc, &elements, id) {
                    let _ = doc.put(&e, key, scalar(c, a ^ b));
                }
            }
            2 => {
                if let Some(e) = map_at(&doc, &elements, id) {
                    let _ = doc.delete(&e, key);
                }
            }
            3 => {
                if let Ok(e) = doc.put_object(&elements, id, ObjType::Map) {
                    let _ = doc.put(&e, ELEMENT_FLOOR, pick(&TEXTS, b));
                    let _ = doc.put(&e, ELEMENT_LAYER, pick(&TEXTS, c));
                }
            }
            4 => {
                let _ = doc.delete(&elements, id);
            }
            5 => {
                let name = pick(&root::ALL, a);
                if let Some(map) = map_at(&doc, &ROOT, name) {
                    let _ = doc.put(&map, key, scalar(c, b));
                }
            }
            6 => {
                let name = pick(&root::ALL, a);
                let _ = match c % 3 {
                    0 => doc.put_object(ROOT, name, ObjType::Map).map(|_| ()),
                    1 => doc.delete(ROOT, name),
                    _ => doc.put(ROOT, name, scalar(b, c)),
                };
            }
            _ => {
                if let Some(e) = map_at(&doc, &elements, id) {
                    let _ = doc.put_object(&e, key, ObjType::List);
                }
            }
        }
    }
    doc.commit();
    fork.get_last_local_change()
}

/// The room's plan as plain values: root maps by name, and the elements by id.
fn snapshot(
    doc: &Automerge,
) -> (
    BTreeMap<String, hydrate::Value>,
    BTreeMap<String, hydrate::Value>,
) {
    let hydrate::Value::Map(mut roots) = doc.hydrate(None) else {
        return (BTreeMap::new(), BTreeMap::new());
    };
    let elements = match roots.remove(root::ELEMENTS).map(|entry| entry.value) {
        Some(hydrate::Value::Map(map)) => map
            .iter()
            .map(|(id, entry)| (id.to_owned(), entry.value.clone()))
            .collect(),
        _ => BTreeMap::new(),
    };
    let roots = roots
        .iter()
        .filter(|(name, _)| *name != root::COMMENTS)
        .map(|(name, entry)| (name.to_owned(), entry.value.clone()))
        .collect();
    (roots, elements)
}

fn placement(element: Option<&hydrate::Value>) -> Option<(Option<String>, Option<String>)> {
    let hydrate::Value::Map(map) = element? else {
        return Some((None, None));
    };
    let text = |key| match map.get(key) {
        Some(hydrate::Value::Scalar(ScalarValue::Str(s))) => Some(s.to_string()),
        _ => None,
    };
    Some((text(ELEMENT_FLOOR), text(ELEMENT_LAYER)))
}

/// Judges the change the fuzzer's bytes make; panics if an accepted change breaks the rules.
/// Returns whether the room accepted it (`None` when the bytes make no change).
pub fn room_judge(data: &[u8]) -> Option<bool> {
    let change = match data.split_first() {
        Some((0xff, raw)) => Change::from_bytes(raw.to_vec()).ok(),
        _ => program_change(data),
    };
    let change = change?;
    let room = room();
    let grant = Grant {
        floors: vec!["level-1".into()],
        layers: vec!["electrical".into()],
    };
    let writer = Writer {
        role: Role::Editor,
        grant: &grant,
    };
    let leased = |id: &str| (id == LEASED).then(|| "somebody else".to_owned());
    let vetted = vet(room, vec![change], &writer, &HashMap::new(), &leased);
    if vetted.accepted.is_empty() {
        return Some(false);
    }
    let mut after = room.clone();
    if let Err(err) = after.apply_changes(vetted.accepted) {
        panic!("the room accepted a change it cannot apply: {err}");
    }
    let elements_obj = |d: &Automerge| d.get(ROOT, root::ELEMENTS).ok().flatten().map(|(_, id)| id);
    assert_eq!(
        elements_obj(room),
        elements_obj(&after),
        "an accepted change replaced the elements map"
    );
    let (roots_before, elements_before) = snapshot(room);
    let (roots_after, elements_after) = snapshot(&after);
    assert_eq!(
        roots_before, roots_after,
        "an accepted change touched a root outside the grant"
    );
    let allowed = |p: Option<(Option<String>, Option<String>)>| {
        p.is_none_or(|(floor, layer)| grant.allows(floor.as_deref(), layer.as_deref()))
    };
    for id in elements_before.keys().chain(elements_after.keys()) {
        let (before, after) = (elements_before.get(id), elements_after.get(id));
        if before == after {
            continue;
        }
        assert_ne!(id, LEASED, "an accepted change edited the leased element");
        assert!(
            allowed(placement(before)) && allowed(placement(after)),
            "an accepted change edited {id} outside the grant: {before:?} -> {after:?}"
        );
    }
    Some(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_program_inside_the_grant_is_accepted_and_one_outside_refused() {
        // Set `x` of the element inside the grant: accepted.
        assert_eq!(room_judge(&[0, 0, 2, 1]), Some(true));
        // The same on another floor, and on the leased element: refused.
        assert_eq!(room_judge(&[0, 1, 2, 1]), Some(false));
        assert_eq!(room_judge(&[0, 3, 2, 1]), Some(false));
        // Moving the element inside the grant to a layer outside it (`level-2`): refused.
        assert_eq!(room_judge(&[0, 0, 1, 5]), Some(false));
        // A key in `meta`, and a new `elements` map: refused.
        assert_eq!(room_judge(&[5, 0, 2, 0]), Some(false));
        assert_eq!(room_judge(&[6, 3, 0, 0]), Some(false));
        // Bytes that are not a change.
        assert_eq!(room_judge(&[0xff, 1, 2, 3]), None);
    }
}
