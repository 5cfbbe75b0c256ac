//! Unit tests of the engine handle.

use super::*;

/// A client of a relay that is not there (nothing listens on port 1): it stays offline.
fn offline_client(dir: &std::path::Path) -> SyncClient {
    let invite = InviteCode {
        relay: "ws://127.0.0.1:1".into(),
        also: Vec::new(),
        document_id: crate::DocumentId::random(),
        secret: "unused".into(),
    };
    let mut config = ClientConfig::new(invite, dir.join("plan.arx"));
    config.allow_missing = true;
    config.identity = Identity {
        name: "mover".into(),
        color: "#123456".into(),
    };
    SyncClient::start(config).unwrap()
}

#[test]
fn unsent_presence_is_replaced_not_queued() {
    let dir = tempfile::tempdir().unwrap();
    let client = offline_client(dir.path());
    // Far more than the command queue holds: none is refused as busy...
    for n in 0..1000 {
        let presence = Presence {
            sent_at_us: n,
            ..Presence::default()
        };
        client.set_presence(presence).unwrap();
    }
    // ...only the latest waits to be sent...
    let waiting = lock(&client.shared.presence_out).clone();
    assert_eq!(waiting.map(|p| p.sent_at_us), Some(999));
    // ...and lock requests still have the whole queue.
    for _ in 0..100 {
        client.request_locks(vec!["e1".into()]).unwrap();
    }
    client.shutdown();
}
