//! Several real `arxos-relay` processes serving the same rooms through one real
//! `nats-server -js`, all on 127.0.0.1: clients spread over the nodes converge, roles, presence,
//! revocations and locks hold across nodes, and nothing acknowledged is lost when JetStream or a
//! node goes away.
//!
//! Without `nats-server` on the PATH each test prints why and passes, unless
//! `ARXOS_REQUIRE_NATS=1`, when it fails (see support/nats.rs).

#![allow(clippy::unwrap_used, clippy::expect_used)] // the NATS helpers below panic on failure

#[path = "support/relay.rs"]
mod support;

use std::time::{Duration, Instant};

use arxos_sync::protocol::payload::{Presence, PresenceStatus};
use arxos_sync::{Grant, Role};
use support::{client, eventually, get_elem, heads, in_sync, seeded_client, set_elem};

#[path = "support/nats.rs"]
mod nats;
use nats::{cluster, via};

const T: Duration = Duration::from_secs(20);

#[test]
fn clients_spread_over_two_nodes_converge() {
    let dir = tempfile::tempdir().unwrap();
    let Some((_nats, a, b)) = cluster(dir.path(), &[]) else {
        return;
    };
    let (doc, owner) = a.create_room(false);
    // The room and an invite made on B are known on A: settings and invites are shared.
    let (_, editor) = b.invite(doc, Role::Editor, Grant::default(), None);
    let seeder = seeded_client(dir.path(), "seed", &owner);
    seeder.wait_synced(T).unwrap();
    let clients: Vec<_> = (0..6)
        .map(|i| {
            let node = if i % 2 == 0 { &a } else { &b };
            client(dir.path(), &format!("c{i}"), &via(&editor, node))
        })
        .collect();
    for c in &clients {
        c.wait_synced(T).unwrap();
    }
    for (i, c) in clients.iter().enumerate() {
        for round in 0..5 {
            set_elem(c, &format!("el-{i}"), "x", f64::from(round));
        }
    }
    set_elem(&seeder, "e1", "x", 42.0);
    let all: Vec<_> = clients.iter().chain([&seeder]).collect();
    eventually(
        T,
        "every client on either node has one set of heads",
        || {
            let heads: Vec<_> = all.iter().map(|c| heads(c)).collect();
            heads.windows(2).all(|w| w[0] == w[1]) && all.iter().all(|c| in_sync(c))
        },
    );
    for c in &all {
        assert_eq!(get_elem(c, "e1", "x"), Some(42.0));
        for i in 0..6 {
            assert_eq!(get_elem(c, &format!("el-{i}"), "x"), Some(4.0));
        }
    }
    let listed = b.admin().list_rooms().unwrap();
    assert!(listed.contains(&doc), "B lists the room A created");
}

#[test]
fn a_viewer_is_refused_whichever_node_it_reaches() {
    let dir = tempfile::tempdir().unwrap();
    let Some((_nats, a, b)) = cluster(dir.path(), &[]) else {
        return;
    };
    let (doc, owner_code) = a.create_room(false);
    let owner = seeded_client(dir.path(), "owner", &via(&owner_code, &b));
    owner.wait_synced(T).unwrap();
    let (_, viewer_code) = a.invite(doc, Role::Viewer, Grant::default(), None);
    for (name, node) in [("viewer-a", &a), ("viewer-b", &b)] {
        let viewer = client(dir.path(), name, &via(&viewer_code, node));
        viewer.wait_synced(T).unwrap();
        set_elem(&viewer, "e1", "x", 111.0);
        eventually(T, "the viewer's change is refused", || {
            viewer.status().refused == 1
        });
        let reasons: Vec<String> = viewer.refused().into_values().collect();
        assert!(reasons[0].contains("viewers"), "{reasons:?}");
    }
    // An editor's change still passes, so the owner is listening; the viewers' never came.
    let (_, editor_code) = b.invite(doc, Role::Editor, Grant::default(), None);
    let editor = client(dir.path(), "editor", &via(&editor_code, &a));
    editor.wait_synced(T).unwrap();
    set_elem(&editor, "e2", "x", 7.0);
    eventually(
        T,
        "the owner on B sees the editor's change made on A",
        || get_elem(&owner, "e2", "x") == Some(7.0),
    );
    assert_eq!(get_elem(&owner, "e1", "x"), Some(0.0));
    assert!(a.metric("arxos_relay_refused_changes_total") >= 1);
    assert!(b.metric("arxos_relay_refused_changes_total") >= 1);
}

#[test]
fn presence_from_a_is_seen_on_b() {
    let dir = tempfile::tempdir().unwrap();
    let Some((_nats, a, b)) = cluster(dir.path(), &[]) else {
        return;
    };
    let (_doc, owner) = a.create_room(false);
    let ann = seeded_client(dir.path(), "ann", &via(&owner, &a));
    ann.wait_synced(T).unwrap();
    let bob = client(dir.path(), "bob", &via(&owner, &b));
    bob.wait_synced(T).unwrap();
    ann.set_presence(Presence {
        user: "Ann".into(),
        color: "#ff0000".into(),
        status: PresenceStatus::Editing,
        selection: vec!["e1".into()],
        ..Presence::default()
    })
    .unwrap();
    let ann_id = ann.peer_id().to_string();
    eventually(T, "bob on B sees ann's presence from A", || {
        bob.presence()
            .get(&ann_id)
            .is_some_and(|p| p.user == "Ann" && p.selection == ["e1"])
    });
    let seen = bob.presence()[&ann_id].clone();
    assert_eq!(
        seen.role.as_deref(),
        Some("owner"),
        "the role is the invite's"
    );
    // A newcomer on B hears ann's presence at once, and ann hears when bob leaves.
    bob.set_presence(Presence {
        user: "Bob".into(),
        ..Presence::default()
    })
    .unwrap();
    let bob_id = bob.peer_id().to_string();
    eventually(T, "ann on A sees bob", || {
        ann.presence().contains_key(&bob_id)
    });
    let carol = client(dir.path(), "carol", &via(&owner, &b));
    carol.wait_synced(T).unwrap();
    eventually(T, "a newcomer on B sees ann", || {
        carol.presence().contains_key(&ann_id)
    });
    drop(bob);
    eventually(T, "ann hears that bob left", || {
        !ann.presence().contains_key(&bob_id)
    });
}

#[test]
fn an_invite_revoked_on_a_closes_its_sessions_on_b() {
    let dir = tempfile::tempdir().unwrap();
    let Some((_nats, a, b)) = cluster(dir.path(), &[]) else {
        return;
    };
    let (doc, owner) = a.create_room(false);
    let seeder = seeded_client(dir.path(), "seed", &owner);
    seeder.wait_synced(T).unwrap();
    let (info, code) = a.invite(doc, Role::Editor, Grant::default(), None);
    let on_b = client(dir.path(), "on-b", &via(&code, &b));
    on_b.wait_synced(T).unwrap();
    a.admin().revoke_invite(&info.id).unwrap();
    let cut = on_b
        .wait_for(T, |s| s.rejected)
        .expect("the session on B ended when A revoked its invite");
    assert!(cut.last_error.unwrap_or_default().contains("revoked"));
    let again = client(dir.path(), "again-b", &via(&code, &b));
    match again.wait_synced(T) {
        Err(arxos_sync::client::ClientError::Rejected(reason)) => {
            assert!(reason.contains("revoked"), "{reason}");
        }
        other => panic!("expected B to refuse the revoked invite, got {other:?}"),
    }
    assert!(
        b.admin()
            .list_invites(Some(doc))
            .unwrap()
            .iter()
            .any(|i| i.id == info.id && i.revoked)
    );
}

#[test]
fn a_lock_held_through_a_blocks_the_element_through_b() {
    let dir = tempfile::tempdir().unwrap();
    let Some((_nats, a, b)) = cluster(dir.path(), &[]) else {
        return;
    };
    let (_doc, owner) = a.create_room(true);
    let ann = seeded_client(dir.path(), "ann", &via(&owner, &a));
    ann.wait_synced(T).unwrap();
    let bob = client(dir.path(), "bob", &via(&owner, &b));
    bob.wait_synced(T).unwrap();
    let ann_id = ann.peer_id().to_string();

    ann.request_locks(vec!["e1".into()]).unwrap();
    eventually(T, "bob on B sees ann's lock", || {
        bob.locks()
            .iter()
            .any(|l| l.id == "e1" && l.holder_peer == ann_id)
    });
    let mut events = bob.subscribe();
    bob.request_locks(vec!["e1".into(), "e2".into()]).unwrap();
    let deadline = Instant::now() + T;
    let denied = loop {
        match events.try_recv() {
            Ok(arxos_sync::client::ClientEvent::LockDenied(held)) => break held,
            Ok(_) | Err(tokio::sync::broadcast::error::TryRecvError::Empty) => {
                assert!(Instant::now() < deadline, "bob's request was never denied");
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("{e}"),
        }
    };
    assert_eq!(denied.len(), 1);
    assert_eq!(denied[0].id, "e1");
    assert_eq!(denied[0].holder_peer, ann_id);
    eventually(T, "bob holds e2", || {
        ann.locks()
            .iter()
            .any(|l| l.id == "e2" && l.holder_peer == bob.peer_id().to_string())
    });
    // Hard locks: B refuses bob's edit of the element ann locked through A.
    set_elem(&bob, "e1", "x", 9.0);
    eventually(T, "bob's edit of ann's element refused on B", || {
        bob.status().refused == 1
    });
    assert!(bob.refused().values().next().unwrap().contains("locked by"));
    set_elem(&bob, "e2", "x", 8.0);
    eventually(T, "bob's edit of his own element reaches ann", || {
        get_elem(&ann, "e2", "x") == Some(8.0)
    });
    assert_eq!(get_elem(&ann, "e1", "x"), Some(0.0));
    // Released when ann leaves A; then B grants it to bob.
    drop(ann);
    eventually(T, "ann's lease released", || {
        !bob.locks().iter().any(|l| l.id == "e1")
    });
    bob.request_locks(vec!["e1".into()]).unwrap();
    eventually(T, "bob now holds e1", || {
        bob.locks()
            .iter()
            .any(|l| l.id == "e1" && l.holder_peer == bob.peer_id().to_string())
    });
}

#[test]
fn without_jetstream_nothing_is_acknowledged_and_nothing_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let Some((mut nats, a, b)) = cluster(dir.path(), &[]) else {
        return;
    };
    let (_doc, owner) = a.create_room(false);
    let ann = seeded_client(dir.path(), "ann", &via(&owner, &a));
    ann.wait_synced(T).unwrap();
    let bob = client(dir.path(), "bob", &via(&owner, &b));
    bob.wait_synced(T).unwrap();
    set_elem(&ann, "e1", "x", 1.0);
    eventually(T, "the first edit is acknowledged", || in_sync(&ann));

    nats.kill9();
    set_elem(&ann, "e1", "x", 2.0);
    // A cannot get JetStream's acknowledgement, so it acknowledges nothing. (The change's
    // hash, not the pending count: the engine recounts pending a moment after an edit.)
    let edit = ann.heads();
    let until = Instant::now() + Duration::from_secs(4);
    while Instant::now() < until {
        let acked = ann.acked_heads();
        assert!(
            !edit.iter().any(|h| acked.contains(h)),
            "acknowledged without JetStream"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(ann.status().pending >= 1);

    nats.spawn();
    eventually(
        Duration::from_secs(40),
        "acknowledged once JetStream is back",
        || in_sync(&ann),
    );
    eventually(Duration::from_secs(40), "bob on B gets it", || {
        get_elem(&bob, "e1", "x") == Some(2.0)
    });
    // Both edits are in the log: a node started now has them.
    let c = nats.node(dir.path(), "node-c", &[]);
    let late = client(dir.path(), "late", &via(&owner, &c));
    late.wait_synced(T).unwrap();
    assert_eq!(get_elem(&late, "e1", "x"), Some(2.0));
    assert_eq!(heads(&late), heads(&ann));
}

#[test]
fn a_killed_node_loses_nothing_it_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let Some((_nats, mut a, b)) = cluster(dir.path(), &[]) else {
        return;
    };
    let (_doc, owner) = a.create_room(false);
    let ann = seeded_client(dir.path(), "ann", &via(&owner, &a));
    ann.wait_synced(T).unwrap();
    for i in 0..20 {
        set_elem(&ann, &format!("k{i}"), "x", f64::from(i));
    }
    eventually(T, "ann's edits are acknowledged by A", || in_sync(&ann));
    let acked = heads(&ann);
    a.kill9();
    // B never had a client in the room: it has the edits only from JetStream.
    let bob = client(dir.path(), "bob", &via(&owner, &b));
    bob.wait_synced(T).unwrap();
    assert_eq!(heads(&bob), acked, "B serves everything A acknowledged");
    // A comes back on its port with an empty data folder's worth of rooms, and ann resumes.
    a.spawn();
    eventually(T, "ann is back in sync through A", || in_sync(&ann));
    set_elem(&ann, "k0", "y", 5.0);
    eventually(T, "bob sees ann's edit after A's restart", || {
        get_elem(&bob, "k0", "y") == Some(5.0)
    });
}

#[test]
fn a_dead_node_s_clients_leave_the_presence_the_others_show() {
    let dir = tempfile::tempdir().unwrap();
    let Some((_nats, mut a, b)) = cluster(dir.path(), &[]) else {
        return;
    };
    let (_doc, owner) = a.create_room(false);
    let ann = seeded_client(dir.path(), "ann", &via(&owner, &a));
    ann.wait_synced(T).unwrap();
    let bob = client(dir.path(), "bob", &via(&owner, &b));
    bob.wait_synced(T).unwrap();
    ann.set_presence(Presence {
        user: "Ann".into(),
        ..Presence::default()
    })
    .unwrap();
    let ann_id = ann.peer_id().to_string();
    eventually(T, "bob on B sees ann's presence from A", || {
        bob.presence().contains_key(&ann_id)
    });
    // Longer than a node may stay silent: A says nothing new about ann, but its heartbeats
    // keep her present on B.
    std::thread::sleep(Duration::from_secs(8));
    assert!(
        bob.presence().contains_key(&ann_id),
        "a quiet client of a live node was dropped"
    );
    a.kill9();
    eventually(T, "B drops the presence of the dead node's client", || {
        !bob.presence().contains_key(&ann_id)
    });
}
