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

#[test]
fn the_saved_plan_is_read_with_its_digest_only_while_the_file_holds_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.arx");
    let ctx = arxos_doc::EditContext::at("t", 1);
    let mut doc = Document::new_plan("digest", &ctx).unwrap();
    arxos_doc::file::PlanFile::create(&path, &mut doc).unwrap();
    let client = SyncClient::start(ClientConfig::local(&path)).unwrap();
    let digest = |c: &SyncClient| c.read_saved(|_, d| *d).unwrap();
    let on_disk = || arxos_doc::file::content_digest(&path).unwrap();

    assert_eq!(
        digest(&client),
        Some(on_disk()),
        "just opened: the file is the plan"
    );
    let layer = client.read(|d| d.layers().keys().next().unwrap().clone());
    let rename = |name: &str| arxos_doc::Command::UpdateLayer {
        id: layer.clone(),
        name: Some(name.into()),
        color: None,
        visible: None,
    };
    client.apply(&ctx, "rename", vec![rename("Ours")]).unwrap();
    assert_eq!(digest(&client), None, "an edit not yet saved");
    client.save_now();
    let saved = digest(&client).expect("saved: the file is the plan again");
    assert_eq!(saved, on_disk());

    // Another program appends: until this client has read it, the file is not its plan.
    let (mut file, mut theirs) = arxos_doc::file::PlanFile::open(&path).unwrap();
    theirs.apply(&ctx, rename("Theirs")).unwrap();
    file.save(&mut theirs).unwrap();
    assert_eq!(digest(&client), None, "the file moved on");
    client.save_now();
    assert_eq!(digest(&client), Some(on_disk()), "read in: the same again");
    client.shutdown();
}
