//! Several real `arxos-relay` processes serving the same rooms through one real
//! `nats-server -js`, all on 127.0.0.1: nothing acknowledged is lost when JetStream or a node
//! goes away, and a dead node's clients leave the presence the others show. What every backend
//! must do (convergence, roles, presence, revocations, locks) is in `tests/backends.rs`, run on
//! files and on a cluster; failover under an edit storm in `tests/cluster_failover.rs`.
//!
//! Without `nats-server` on the PATH each test prints why and passes, unless
//! `ARXOS_REQUIRE_NATS=1`, when it fails (see `support/nats.rs`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // the NATS helpers below panic on failure

#[path = "support/relay.rs"]
mod support;

use std::time::{Duration, Instant};

use arxos_sync::protocol::payload::Presence;
use support::{client, eventually, get_elem, heads, in_sync, seeded_client, set_elem};

#[path = "support/nats.rs"]
mod nats;
use nats::{Nats, cluster, nats_binary, via};

const T: Duration = Duration::from_secs(20);

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

#[test]
fn an_invite_names_every_node_and_its_clients_fall_back_through_it_alone() {
    let dir = tempfile::tempdir().unwrap();
    let Some(bin) = nats_binary() else {
        return;
    };
    let nats = Nats::start(bin, dir.path());
    let b = nats.node(dir.path(), "node-b", &[]);
    let b_url = b.ws();
    let mut a = nats.node(dir.path(), "node-a", &["--also-url", &b_url]);
    let (_doc, owner) = a.create_room(false);
    // The code itself carries B: no client configuration names it.
    assert_eq!(owner.relay, a.ws());
    assert_eq!(owner.also, std::slice::from_ref(&b_url));
    let ann = seeded_client(dir.path(), "ann", &owner);
    ann.wait_synced(T).unwrap();
    set_elem(&ann, "k", "x", 1.0);
    eventually(T, "ann's edit is acknowledged by A", || in_sync(&ann));
    a.kill9();
    set_elem(&ann, "k", "x", 2.0);
    eventually(
        T,
        "ann is back in sync through B, named only by the invite",
        || in_sync(&ann),
    );
    let bob = client(dir.path(), "bob", &via(&owner, &b));
    bob.wait_synced(T).unwrap();
    assert_eq!(get_elem(&bob, "k", "x"), Some(2.0));
}

#[test]
fn a_stream_made_before_origins_were_recorded_gets_their_subject() {
    let Some(bin) = nats_binary() else { return };
    let dir = tempfile::tempdir().unwrap();
    let nats = Nats::start(bin, dir.path());
    // The stream as relays before change origins made it: changes and refusals only.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let js = async_nats::jetstream::new(async_nats::connect(nats.url()).await.unwrap());
        js.create_stream(async_nats::jetstream::stream::Config {
            name: "ARXOS_ROOMS".into(),
            subjects: vec!["arxos.changes.*".into(), "arxos.refused.*".into()],
            deny_delete: true,
            deny_purge: true,
            ..Default::default()
        })
        .await
        .unwrap();
    });
    let node = nats.node(dir.path(), "node", &[]);
    let (doc, owner) = node.create_room(false);
    let seeder = seeded_client(dir.path(), "seed", &owner);
    seeder.wait_synced(T).unwrap();
    set_elem(&seeder, "e1", "x", 5.0);
    eventually(T, "the edit is acknowledged", || in_sync(&seeder));
    let origins = node.admin().origins(doc).unwrap();
    assert!(
        origins.iter().any(|o| o.label == "owner"),
        "origins recorded on the old stream: {origins:?}"
    );
}
