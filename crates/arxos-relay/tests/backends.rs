//! The scenarios every backend must pass, run against both: one relay on files (two
//! "nodes" are the same process) and two relay nodes on one `nats-server -js`. Clients spread
//! over the nodes converge; a viewer's change is refused whichever node it reaches; presence
//! from one node is seen on the other; an invite revoked on one closes its sessions on the
//! other; a lock held through one blocks the element through the other; every accepted
//! change's origin (its invite) is on record, on either node.
//!
//! The cluster half skips (saying why) without `nats-server`, unless `ARXOS_REQUIRE_NATS=1`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step is a failure

#[path = "support/relay.rs"]
mod support;

#[path = "support/nats.rs"]
mod nats;

use std::path::Path;
use std::time::{Duration, Instant};

use arxos_sync::protocol::payload::{Presence, PresenceStatus};
use arxos_sync::{Grant, Role};
use nats::{Nats, nats_binary, via};
use support::{RelayProc, client, eventually, get_elem, heads, in_sync, seeded_client, set_elem};

const T: Duration = Duration::from_secs(20);

/// Where the rooms live.
#[derive(Clone, Copy, Debug)]
enum Backend {
    /// One relay, files in its data folder.
    Files,
    /// Two relay nodes on one NATS server.
    Cluster,
}

/// The relay nodes of a scenario, and the NATS server they share in cluster mode.
struct Nodes {
    nodes: Vec<RelayProc>,
    _nats: Option<Nats>,
}

impl Nodes {
    /// Starts the backend, or `None` when the cluster half skips.
    fn start(backend: Backend, dir: &Path) -> Option<Self> {
        Some(match backend {
            Backend::Files => Self {
                nodes: vec![RelayProc::start(&dir.join("relay"), &[])],
                _nats: None,
            },
            Backend::Cluster => {
                let nats = Nats::start(nats_binary()?, dir);
                let nodes = vec![nats.node(dir, "node-a", &[]), nats.node(dir, "node-b", &[])];
                Self {
                    nodes,
                    _nats: Some(nats),
                }
            }
        })
    }

    /// "Node A": the first node.
    fn a(&self) -> &RelayProc {
        &self.nodes[0]
    }

    /// "Node B": the second node in a cluster, the same relay on files.
    fn b(&self) -> &RelayProc {
        &self.nodes[self.nodes.len() - 1]
    }
}

/// A scenario as two tests, `<scenario>::files` and `<scenario>::cluster`.
macro_rules! on_both_backends {
    ($($scenario:ident),* $(,)?) => {
        $(mod $scenario {
            #[test]
            fn files() {
                super::$scenario(super::Backend::Files);
            }
            #[test]
            fn cluster() {
                super::$scenario(super::Backend::Cluster);
            }
        })*
    };
}

on_both_backends!(
    clients_spread_over_two_nodes_converge,
    a_viewer_is_refused_whichever_node_it_reaches,
    presence_from_a_is_seen_on_b,
    an_invite_revoked_on_a_closes_its_sessions_on_b,
    a_lock_held_through_a_blocks_the_element_through_b,
);

fn clients_spread_over_two_nodes_converge(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some(nodes) = Nodes::start(backend, dir.path()) else {
        return;
    };
    let (a, b) = (nodes.a(), nodes.b());
    let (doc, owner) = a.create_room(false);
    // The room and an invite made on B are known on A: settings and invites are shared.
    let (_, editor) = b.invite(doc, Role::Editor, Grant::default(), None);
    let seeder = seeded_client(dir.path(), "seed", &owner);
    seeder.wait_synced(T).unwrap();
    let clients: Vec<_> = (0..6)
        .map(|i| {
            let node = if i % 2 == 0 { a } else { b };
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

fn a_viewer_is_refused_whichever_node_it_reaches(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some(nodes) = Nodes::start(backend, dir.path()) else {
        return;
    };
    let (a, b) = (nodes.a(), nodes.b());
    let (doc, owner_code) = a.create_room(false);
    let owner = seeded_client(dir.path(), "owner", &via(&owner_code, b));
    owner.wait_synced(T).unwrap();
    let (_, viewer_code) = a.invite(doc, Role::Viewer, Grant::default(), None);
    for (name, node) in [("viewer-a", a), ("viewer-b", b)] {
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
    let (editor_invite, editor_code) = b.invite(doc, Role::Editor, Grant::default(), None);
    let editor = client(dir.path(), "editor", &via(&editor_code, a));
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
    // Every accepted change is on record with the invite it came through, whichever node
    // accepted it and whichever is asked; the viewers' refused changes are not.
    eventually(T, "the editor's change is on record on B", || {
        b.admin()
            .origins(doc)
            .unwrap()
            .iter()
            .any(|o| o.invite == editor_invite.id && o.role == Role::Editor)
    });
    let origins = a.admin().origins(doc).unwrap();
    assert!(
        origins.iter().all(|o| o.role != Role::Viewer),
        "{origins:?}"
    );
    assert!(
        origins
            .iter()
            .any(|o| o.role == Role::Owner && o.label == "owner"),
        "the seed came through the owner's invite: {origins:?}"
    );
}

fn presence_from_a_is_seen_on_b(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some(nodes) = Nodes::start(backend, dir.path()) else {
        return;
    };
    let (a, b) = (nodes.a(), nodes.b());
    let (_doc, owner) = a.create_room(false);
    let ann = seeded_client(dir.path(), "ann", &via(&owner, a));
    ann.wait_synced(T).unwrap();
    let bob = client(dir.path(), "bob", &via(&owner, b));
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
    let carol = client(dir.path(), "carol", &via(&owner, b));
    carol.wait_synced(T).unwrap();
    eventually(T, "a newcomer on B sees ann", || {
        carol.presence().contains_key(&ann_id)
    });
    drop(bob);
    eventually(T, "ann hears that bob left", || {
        !ann.presence().contains_key(&bob_id)
    });
}

fn an_invite_revoked_on_a_closes_its_sessions_on_b(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some(nodes) = Nodes::start(backend, dir.path()) else {
        return;
    };
    let (a, b) = (nodes.a(), nodes.b());
    let (doc, owner) = a.create_room(false);
    let seeder = seeded_client(dir.path(), "seed", &owner);
    seeder.wait_synced(T).unwrap();
    let (info, code) = a.invite(doc, Role::Editor, Grant::default(), None);
    let on_b = client(dir.path(), "on-b", &via(&code, b));
    on_b.wait_synced(T).unwrap();
    a.admin().revoke_invite(&info.id).unwrap();
    let cut = on_b
        .wait_for(T, |s| s.rejected)
        .expect("the session on B ended when A revoked its invite");
    assert!(cut.last_error.unwrap_or_default().contains("revoked"));
    let again = client(dir.path(), "again-b", &via(&code, b));
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

fn a_lock_held_through_a_blocks_the_element_through_b(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some(nodes) = Nodes::start(backend, dir.path()) else {
        return;
    };
    let (a, b) = (nodes.a(), nodes.b());
    let (_doc, owner) = a.create_room(true);
    let ann = seeded_client(dir.path(), "ann", &via(&owner, a));
    ann.wait_synced(T).unwrap();
    let bob = client(dir.path(), "bob", &via(&owner, b));
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
