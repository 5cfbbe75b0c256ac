//! Real relay process: clients converge, offline edits merge, presence is coalesced.

#[path = "support/relay.rs"]
mod support;

use std::time::Duration;

use arxos_sync::client::ConnectionState;
use arxos_sync::protocol::payload::{Cursor, Presence, PresenceStatus};
use support::{RelayProc, client, eventually, get_elem, heads, in_sync, seeded_client, set_elem};

const T: Duration = Duration::from_secs(20);

#[test]
fn ten_clients_converge() {
    let dir = tempfile::tempdir().unwrap();
    let relay = RelayProc::start(&dir.path().join("relay"), &[]);
    let (_doc, owner) = relay.create_room(false);
    let seeder = seeded_client(dir.path(), "seed", &owner);
    seeder.wait_synced(T).unwrap();
    let clients: Vec<_> = (0..10)
        .map(|i| client(dir.path(), &format!("c{i}"), &owner))
        .collect();
    for c in &clients {
        c.wait_synced(T).unwrap();
    }
    for (i, c) in clients.iter().enumerate() {
        for round in 0..5 {
            set_elem(c, &format!("el-{i}"), "x", f64::from(round));
        }
    }
    let expected = seeder.heads().len();
    assert!(expected > 0);
    eventually(T, "all ten clients converge on one set of heads", || {
        let heads: Vec<_> = clients.iter().map(heads).collect();
        heads.windows(2).all(|w| w[0] == w[1]) && clients.iter().all(in_sync)
    });
    for c in &clients {
        for i in 0..10 {
            assert_eq!(get_elem(c, &format!("el-{i}"), "x"), Some(4.0));
        }
    }
}

#[test]
fn offline_edits_merge_on_reconnect_and_pending_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut relay = RelayProc::start(&dir.path().join("relay"), &[]);
    let (_doc, owner) = relay.create_room(false);
    let a = seeded_client(dir.path(), "a", &owner);
    a.wait_synced(T).unwrap();
    let b = client(dir.path(), "b", &owner);
    b.wait_synced(T).unwrap();

    relay.kill9();
    eventually(T, "both offline", || {
        a.status().state == ConnectionState::Offline && b.status().state == ConnectionState::Offline
    });
    set_elem(&a, "e1", "x", 10.0);
    set_elem(&b, "e2", "x", 20.0);
    set_elem(&b, "e1", "rotation", 90.0);
    assert_eq!(a.status().pending, 1);
    assert_eq!(b.status().pending, 2);
    // Restart client b while offline: its pending changes are still pending.
    drop(b);
    let b = client(dir.path(), "b", &owner);
    eventually(T, "b reloads with 2 pending", || b.status().pending == 2);

    relay.spawn();
    for c in [&a, &b] {
        eventually(T, "reconnect and sync", || in_sync(c));
    }
    eventually(T, "offline edits merged on both", || {
        [&a, &b].iter().all(|c| {
            get_elem(c, "e1", "x") == Some(10.0)
                && get_elem(c, "e2", "x") == Some(20.0)
                && get_elem(c, "e1", "rotation") == Some(90.0)
        })
    });
}

#[test]
fn presence_is_delivered_and_coalesced() {
    let dir = tempfile::tempdir().unwrap();
    let relay = RelayProc::start(&dir.path().join("relay"), &["--presence-tick-ms", "50"]);
    let (_doc, owner) = relay.create_room(false);
    let a = client(dir.path(), "alice", &owner);
    let b = client(dir.path(), "bob", &owner);
    a.wait_synced(T).unwrap();
    b.wait_synced(T).unwrap();
    let mut events = b.subscribe();
    let updates = 200;
    for i in 0..updates {
        let p = Presence {
            user: "alice".into(),
            color: "#ff0000".into(),
            status: PresenceStatus::Editing,
            cursor: Some(Cursor {
                floor: "f1".into(),
                x_mm: f64::from(i),
                y_mm: 1.0,
            }),
            selection: vec!["e1".into()],
            activity: Some("moving".into()),
            client: Some("cli".into()),
            ..Presence::default()
        };
        while a.set_presence(p.clone()).is_err() {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    let alice = a.peer_id().to_string();
    eventually(T, "bob sees alice's last cursor", || {
        b.presence()
            .get(&alice)
            .and_then(|p| p.cursor.as_ref().map(|c| c.x_mm))
            == Some(f64::from(updates - 1))
    });
    // The relay names alice's role from her invite.
    assert_eq!(
        b.presence()
            .get(&alice)
            .and_then(|p| p.role.clone())
            .as_deref(),
        Some("owner")
    );
    let mut batches_with_alice = 0;
    while let Ok(ev) = events.try_recv() {
        if let arxos_sync::client::ClientEvent::Presence { entries, .. } = ev
            && entries.iter().any(|e| e.peer == alice)
        {
            batches_with_alice += 1;
        }
    }
    assert!(batches_with_alice >= 1);
    assert!(
        batches_with_alice < updates / 4,
        "{updates} updates should coalesce into few ticks, got {batches_with_alice} batches"
    );
    drop(a);
    eventually(T, "alice gone from bob's presence", || {
        !b.presence().contains_key(&alice)
    });
}
