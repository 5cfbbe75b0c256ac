//! `kill -9` the relay during an edit storm: nothing it acknowledged is lost, and clients
//! reconnect by themselves. Also: SIGTERM shuts down cleanly and keeps everything; a second
//! relay on the same data folder refuses to start.

#[path = "support/relay.rs"]
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use support::{RelayProc, client, eventually, has_plan, heads, in_sync, seeded_client, set_elem};

const T: Duration = Duration::from_secs(30);

#[test]
fn kill_9_during_edit_storm_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let mut relay = RelayProc::start(&dir.path().join("relay"), &["--compact-every", "40"]);
    let (_doc, owner) = relay.create_room(false);
    let clients: Vec<_> = (0..4)
        .map(|i| {
            let name = format!("w{i}");
            Arc::new(if i == 0 {
                seeded_client(dir.path(), &name, &owner)
            } else {
                client(dir.path(), &name, &owner)
            })
        })
        .collect();
    for c in &clients {
        c.wait_synced(T).unwrap();
        eventually(T, "the seeded plan reached every writer", || has_plan(c));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = clients
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let c = Arc::clone(c);
            let stop = Arc::clone(&stop);
            std::thread::Builder::new()
                .name(format!("storm-{i}"))
                .spawn(move || {
                    let mut n = 0_u32;
                    while !stop.load(Ordering::Relaxed) {
                        // Spread out: equipment on top of each other is a spatial
                        // conflict, and re-checking a growing pile slows every edit.
                        let x = f64::from(n) * 1000.0 + f64::from(i as u32) * 250.0;
                        set_elem(&c, &format!("storm-{i}-{}", n % 50), "x", x);
                        n += 1;
                        std::thread::sleep(Duration::from_millis(3));
                    }
                    n
                })
                .unwrap()
        })
        .collect();
    std::thread::sleep(Duration::from_millis(800));
    relay.kill9();
    // Whatever the relay acknowledged before dying must survive it.
    let acked: Vec<Vec<automerge::ChangeHash>> = clients.iter().map(|c| c.acked_heads()).collect();
    assert!(
        acked.iter().all(|a| !a.is_empty()),
        "every client saw acknowledgements"
    );
    std::thread::sleep(Duration::from_millis(300));
    relay.spawn();
    std::thread::sleep(Duration::from_millis(700));
    stop.store(true, Ordering::Relaxed);
    let made: u32 = writers.into_iter().map(|w| w.join().unwrap()).sum();
    assert!(made > 100, "storm made {made} edits");

    // A fresh client sees every acknowledged change.
    let verifier = client(dir.path(), "verifier", &owner);
    verifier.wait_synced(T).unwrap();
    for heads in &acked {
        for h in heads {
            assert!(
                verifier.has_change(h),
                "acknowledged change {h} lost by the relay"
            );
        }
    }
    // And the writers reconnected by themselves and converged.
    eventually(T, "writers reconnect, flush and converge", || {
        let target = heads(&verifier);
        clients.iter().all(|c| in_sync(c) && heads(c) == target) || {
            // The verifier may lag the final flushes; nudge it to resync.
            verifier.notify_local_change();
            false
        }
    });
}

#[test]
fn sigterm_shuts_down_cleanly_and_restart_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let mut relay = RelayProc::start(&dir.path().join("relay"), &[]);
    let (_doc, owner) = relay.create_room(false);
    let a = seeded_client(dir.path(), "a", &owner);
    for i in 0..20 {
        set_elem(&a, "e1", "x", f64::from(i));
    }
    a.wait_synced(T).unwrap();
    eventually(T, "all acknowledged", || a.status().pending == 0);
    let heads = a.heads();
    drop(a);
    let status = relay.terminate();
    assert!(status.success(), "clean exit on SIGTERM: {status:?}");
    relay.spawn();
    let b = client(dir.path(), "b", &owner);
    b.wait_synced(T).unwrap();
    for h in &heads {
        assert!(b.has_change(h));
    }
}

#[test]
fn a_second_relay_on_the_same_data_folder_refuses_to_start_naming_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("relay");
    let mut first = RelayProc::start(&data, &[]);
    let (doc, _owner) = first.create_room(false);
    let before = first.admin().list_invites(Some(doc)).unwrap().len();

    let mut second = std::process::Command::new(env!("CARGO_BIN_EXE_arxos-relay"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--admin-token",
            support::TOKEN,
            "--data",
        ])
        .arg(&data)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + T;
    let status = loop {
        if let Some(status) = second.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            second.kill().unwrap();
            panic!("the second relay kept running on a folder in use");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut second.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!status.success(), "the second relay exited {status}");
    assert!(stderr.contains("in use by another relay"), "{stderr}");
    let pid = first.pid().unwrap();
    assert!(stderr.contains(&format!("pid {pid}")), "{stderr}");
    assert!(
        stderr.contains(&format!("127.0.0.1:{}", first.port)),
        "{stderr}"
    );

    // The first relay is untouched and still serves what it created.
    assert_eq!(first.admin().list_invites(Some(doc)).unwrap().len(), before);

    // A crash frees the folder: the operating system drops the lock with the process.
    first.kill9();
    first.spawn();
    assert_eq!(first.admin().list_invites(Some(doc)).unwrap().len(), before);
}

#[test]
fn a_corrupt_snapshot_refuses_its_room_with_a_clear_error_and_leaves_the_rest_serving() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("relay");
    let mut relay = RelayProc::start(&data, &[]);
    let (damaged_doc, damaged) = relay.create_room(false);
    let (_, healthy) = relay.create_room(false);
    let a = seeded_client(dir.path(), "a", &damaged);
    let b = seeded_client(dir.path(), "b", &healthy);
    for c in [&a, &b] {
        set_elem(c, "e1", "x", 5.0);
        c.wait_synced(T).unwrap();
        eventually(T, "all acknowledged", || c.status().pending == 0);
    }
    let healthy_heads = b.heads();
    drop((a, b));
    // A clean stop compacts every room into its snapshot.
    assert!(relay.terminate().success());
    let snapshot = data
        .join("rooms")
        .join(damaged_doc.to_string())
        .join("snapshot.am");
    let bytes = std::fs::read(&snapshot).unwrap();
    let damaged_bytes = bytes[..bytes.len() / 2].to_vec();
    std::fs::write(&snapshot, &damaged_bytes).unwrap();

    relay.spawn();
    let a2 = client(dir.path(), "a2", &damaged);
    eventually(T, "the damaged room is refused with its reason", || {
        a2.status()
            .last_error
            .is_some_and(|e| e.contains("corrupt") && e.contains("recovery"))
    });
    assert!(!has_plan(&a2), "nothing of the damaged room was served");
    let b2 = client(dir.path(), "b2", &healthy);
    b2.wait_synced(T).unwrap();
    for h in &healthy_heads {
        assert!(b2.has_change(h), "the healthy room lost {h}");
    }
    drop((a2, b2));
    assert!(relay.terminate().success());
    assert_eq!(
        std::fs::read(&snapshot).unwrap(),
        damaged_bytes,
        "the damaged snapshot is left for recovery"
    );
}
