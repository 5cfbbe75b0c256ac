//! Locks: first come first served, contention, hard-mode refusal, expiry, release on leave.

#[path = "support/relay.rs"]
mod support;

use std::time::Duration;

use arxos_sync::client::{ClientEvent, SyncClient};
use support::{RelayProc, client, eventually, get_elem, seeded_client, set_elem};

const T: Duration = Duration::from_secs(20);

fn next_event(
    rx: &mut tokio::sync::broadcast::Receiver<ClientEvent>,
    pred: impl Fn(&ClientEvent) -> bool,
) -> ClientEvent {
    let deadline = std::time::Instant::now() + T;
    loop {
        match rx.try_recv() {
            Ok(ev) if pred(&ev) => return ev,
            Ok(_) => {}
            Err(tokio::sync::broadcast::error::TryRecvError::Empty) => {
                assert!(std::time::Instant::now() < deadline, "event did not arrive");
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn lock_contention_hard_mode_expiry_and_release() {
    let dir = tempfile::tempdir().unwrap();
    let relay = RelayProc::start(&dir.path().join("relay"), &["--lock-ttl-ms", "800"]);
    let (_doc, code) = relay.create_room(true);
    let a = seeded_client(dir.path(), "ann", &code);
    a.wait_synced(T).unwrap();
    let b = client(dir.path(), "bob", &code);
    b.wait_synced(T).unwrap();
    let mut a_events = a.subscribe();
    let mut b_events = b.subscribe();

    a.request_locks(vec!["e1".into()]).unwrap();
    let granted = next_event(&mut a_events, |e| matches!(e, ClientEvent::LockGranted(_)));
    assert!(matches!(granted, ClientEvent::LockGranted(ids) if ids == ["e1"]));
    eventually(T, "bob sees the lock table", || {
        b.locks().iter().any(|l| l.id == "e1")
    });

    b.request_locks(vec!["e1".into(), "e2".into()]).unwrap();
    let denied = next_event(&mut b_events, |e| matches!(e, ClientEvent::LockDenied(_)));
    let ClientEvent::LockDenied(held) = denied else {
        unreachable!()
    };
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].id, "e1");
    assert_eq!(held[0].holder_peer, a.peer_id().to_string());

    // Hard mode: bob's edit of ann's locked element is refused; his own lock on e2 works.
    set_elem(&b, "e1", "x", 9.0);
    eventually(T, "locked edit refused", || b.status().refused == 1);
    assert!(b.refused().values().next().unwrap().contains("locked by"));
    // The engine sets the refused change aside by itself (later edits would build on it),
    // keeping the plan as it was in a copy; nothing is left to discard by hand.
    eventually(T, "refused change set aside", || {
        get_elem(&b, "e1", "x") == Some(0.0)
    });
    assert_eq!(b.discard_refused().unwrap(), (0, 0));
    assert!(
        dir.path().join("bob.arx.refused.arx").exists(),
        "refused change kept in a copy"
    );
    set_elem(&b, "e2", "x", 8.0);
    eventually(T, "unlocked edit accepted", || {
        get_elem(&a, "e2", "x") == Some(8.0)
    });
    assert_eq!(get_elem(&a, "e1", "x"), Some(0.0));

    // Ann's heartbeat keeps her lease beyond the TTL.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        b.locks()
            .iter()
            .any(|l| l.id == "e1" && l.holder_peer == a.peer_id().to_string())
    );

    // Released on disconnect.
    drop(a);
    eventually(T, "ann's lock released on leave", || {
        !b.locks().iter().any(|l| l.id == "e1")
    });

    // Expiry: a holder that does not renew loses the lease after the TTL.
    let mut config = support::config(dir.path(), "lazy", &code);
    config.auto_renew_locks = false;
    let lazy = SyncClient::start(config).unwrap();
    lazy.wait_synced(T).unwrap();
    lazy.request_locks(vec!["e1".into()]).unwrap();
    eventually(T, "lazy holds e1", || {
        b.locks().iter().any(|l| l.id == "e1")
    });
    eventually(T, "lazy's lease expires", || {
        !b.locks().iter().any(|l| l.id == "e1")
    });
    b.request_locks(vec!["e1".into()]).unwrap();
    eventually(T, "bob now holds e1", || {
        b.locks()
            .iter()
            .any(|l| l.id == "e1" && l.holder_peer == b.peer_id().to_string())
    });
}
