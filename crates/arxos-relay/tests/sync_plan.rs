//! Plan identity at a real relay process, over the raw wire protocol: the relay names the plan
//! a room holds before anything else, refuses another plan's changes (for every role, owners
//! included) and fills presence roles from invites.

#![allow(clippy::unwrap_used)] // the helpers below are test code too

#[path = "support/raw.rs"]
mod raw;
#[path = "support/relay.rs"]
mod support;

use std::time::Duration;

use arxos_doc::schema::{self, root};
use arxos_doc::{
    Command, Document, EditContext, ElementId, ElementKind, FloorId, Geometry, LayerId, NewElement,
    Transform,
};
use arxos_sync::protocol::payload::{ArxPayload, Presence};
use arxos_sync::{Grant, Role};
use automerge::{Automerge, ROOT, ReadDoc};
use raw::RawPeer;
use support::RelayProc;

const QUIET: Duration = Duration::from_millis(300);
const MAX: Duration = Duration::from_secs(20);

fn ctx() -> EditContext {
    EditContext::now("test")
}

/// Adds one outlet to `plan` and returns its id.
fn add_outlet(plan: &mut Document, tag: &str) -> ElementId {
    let set = plan
        .apply(
            &ctx(),
            Command::Create(Box::new(NewElement::new(
                ElementKind::Outlet,
                tag,
                FloorId::new("level-1"),
                LayerId::new("electrical"),
                Geometry::Point,
                Transform::default(),
            ))),
        )
        .unwrap();
    set.added[0].clone()
}

fn has_element(doc: &Automerge, id: &ElementId) -> bool {
    schema::root_map(doc, root::ELEMENTS)
        .and_then(|elements| doc.get(&elements, id.as_str()).unwrap())
        .is_some()
}

/// Loads a plan into a raw peer's document.
fn load_into(peer: &mut RawPeer, plan: &mut Document) {
    peer.doc = Automerge::load(&plan.save()).unwrap();
}

/// A room info with the relay's clock checked (now, give or take a minute) and left out, so
/// the rest compares exactly.
fn without_clock(payload: ArxPayload) -> ArxPayload {
    let ArxPayload::RoomInfo {
        plan_id,
        role,
        grant,
        time_ms,
    } = payload
    else {
        panic!("not a room info: {payload:?}");
    };
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let relay_ms = u128::from(time_ms.expect("the relay tells its time"));
    assert!(relay_ms.abs_diff(now_ms) < 60_000, "{relay_ms} vs {now_ms}");
    ArxPayload::RoomInfo {
        plan_id,
        role,
        grant,
        time_ms: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn room_info_names_the_plan_before_anything_else() {
    let dir = tempfile::tempdir().unwrap();
    let relay = RelayProc::start(&dir.path().join("relay"), &[]);
    let (_doc, owner_code) = relay.create_room(false);

    // An empty room: `peer` (read by connect), then the room info, saying no plan.
    let mut alice = RawPeer::connect(&owner_code, "alice").await;
    assert_eq!(
        without_clock(alice.next_payload().await),
        ArxPayload::RoomInfo {
            plan_id: None,
            role: Some(arxos_sync::Role::Owner),
            grant: None,
            time_ms: None,
        }
    );

    let mut plan = Document::new_plan("Plan A", &ctx()).unwrap();
    load_into(&mut alice, &mut plan);
    alice.sync_until_quiet(QUIET, MAX).await;
    assert!(alice.refused.is_empty(), "{:?}", alice.refused);

    // A room holding plan A names it, right after `peer`.
    let mut bob = RawPeer::connect(&owner_code, "bob").await;
    assert_eq!(
        without_clock(bob.next_payload().await),
        ArxPayload::RoomInfo {
            plan_id: Some(plan.meta().id.clone()),
            role: Some(arxos_sync::Role::Owner),
            grant: None,
            time_ms: None,
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_plans_changes_are_refused_and_never_fanned_out() {
    let dir = tempfile::tempdir().unwrap();
    let relay = RelayProc::start(&dir.path().join("relay"), &[]);
    let (doc, owner_code) = relay.create_room(false);
    let mut plan_a = Document::new_plan("Plan A", &ctx()).unwrap();
    let mut plan_b = Document::new_plan("Plan B", &ctx()).unwrap();
    let b_element = add_outlet(&mut plan_b, "outlet:B");

    let mut alice = RawPeer::connect(&owner_code, "alice").await;
    load_into(&mut alice, &mut plan_a);
    alice.sync_until_quiet(QUIET, MAX).await;

    let (_, editor_code) = relay.invite(doc, Role::Editor, Grant::default(), None);
    let mut carol = RawPeer::connect(&editor_code, "carol").await;
    carol.sync_until_quiet(QUIET, MAX).await;
    assert_eq!(
        schema::read_meta(&carol.doc).map(|m| m.id),
        Some(plan_a.meta().id.clone())
    );

    // Bob pushes plan B into the room with the owner's invite: refused, with the reason.
    let mut bob = RawPeer::connect(&owner_code, "bob").await;
    load_into(&mut bob, &mut plan_b);
    bob.sync_until_refused(MAX).await;
    assert!(!bob.refused.is_empty(), "plan B was not refused");
    let reason = &bob.refused[0].reason;
    assert!(
        reason.contains(&format!("another plan (plan id {})", plan_b.meta().id))
            && reason.contains(&format!("the room holds plan {}", plan_a.meta().id)),
        "{reason}"
    );
    let b_changes = plan_b.automerge().clone().get_changes(&[]).len();
    assert_eq!(bob.refused.len(), b_changes, "every change of plan B");

    // Plan A's own later edits still pass and reach Carol; plan B never does.
    let before = plan_a.heads();
    let a_element = add_outlet(&mut plan_a, "outlet:A");
    let edit = plan_a.automerge().clone().get_changes(&before);
    alice.doc.apply_changes(edit).unwrap();
    alice.sync_until_quiet(QUIET, MAX).await;
    assert!(alice.refused.is_empty(), "{:?}", alice.refused);
    let deadline = tokio::time::Instant::now() + MAX;
    while !has_element(&carol.doc, &a_element) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "A's edit never arrived"
        );
        carol.sync_until_quiet(QUIET, MAX).await;
    }
    assert!(!has_element(&carol.doc, &b_element));
    assert_eq!(carol.doc.get_all(ROOT, root::META).unwrap().len(), 1);
    assert_eq!(
        schema::read_meta(&carol.doc).map(|m| m.id),
        Some(plan_a.meta().id.clone())
    );

    // A newcomer gets plan A only, and so does the relay's storage after a restart.
    drop((alice, bob, carol));
    let mut relay = relay;
    relay.terminate();
    relay.spawn();
    let mut dave = RawPeer::connect(&editor_code, "dave").await;
    assert_eq!(
        without_clock(dave.next_payload().await),
        ArxPayload::RoomInfo {
            plan_id: Some(plan_a.meta().id.clone()),
            role: Some(arxos_sync::Role::Editor),
            grant: None,
            time_ms: None,
        }
    );
    dave.sync_until_quiet(QUIET, MAX).await;
    assert!(has_element(&dave.doc, &a_element));
    assert!(!has_element(&dave.doc, &b_element));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_carries_the_invite_role_not_the_claimed_one() {
    let dir = tempfile::tempdir().unwrap();
    let relay = RelayProc::start(&dir.path().join("relay"), &["--presence-tick-ms", "20"]);
    let (doc, owner_code) = relay.create_room(false);
    let (_, viewer_code) = relay.invite(doc, Role::Viewer, Grant::default(), None);
    let mut owner = RawPeer::connect(&owner_code, "owner").await;
    let mut viewer = RawPeer::connect(&viewer_code, "viewer").await;
    viewer
        .send_payload(&ArxPayload::Presence(Presence {
            user: "vera".into(),
            role: Some("owner".into()),
            client: Some("cli".into()),
            ..Presence::default()
        }))
        .await;
    let deadline = tokio::time::Instant::now() + MAX;
    let entry = loop {
        assert!(tokio::time::Instant::now() < deadline, "no presence batch");
        owner.listen(QUIET).await;
        let found = owner.payloads.iter().find_map(|p| match p {
            ArxPayload::PresenceBatch { entries, .. } => {
                entries.iter().find(|e| e.presence.user == "vera").cloned()
            }
            _ => None,
        });
        if let Some(entry) = found {
            break entry;
        }
    };
    assert_eq!(entry.presence.role.as_deref(), Some("viewer"));
    assert_eq!(entry.presence.client.as_deref(), Some("cli"));
}
