//! Collaboration in the editor, end to end: editor workspaces (the state behind each window)
//! in one session hosted by one of them, with the relay library serving real WebSocket
//! connections on 127.0.0.1. What one window does reaches the others through the relay:
//! cursors and selections, leases that block edits, one conflict seen by both and cleared in
//! both by one resolution, a viewer who cannot edit, a commenter's comment.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::float_cmp)] // tests; coordinates travel exactly

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use arxos_doc::conflict::{Choice, ConflictType};
use arxos_doc::{Command, EditContext, ElementId, Point, PropValue, Property};
use arxos_editor::workspace::{Start, Workspace};
use arxos_sync::Role;

mod support;

use support::hosted;

const WAIT: Duration = Duration::from_secs(20);

/// Polls `ok` (refreshing every workspace's view of the session) until it holds.
fn until(
    what: &str,
    wss: &mut [&mut Workspace],
    mut ok: impl FnMut(&mut [&mut Workspace]) -> bool,
) {
    let start = Instant::now();
    loop {
        for ws in wss.iter_mut() {
            ws.pump();
            ws.refresh_collab(Instant::now());
        }
        if ok(wss) {
            return;
        }
        assert!(start.elapsed() < WAIT, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn joined(host: &Workspace, role: Role, dir: &Path, name: &str) -> Workspace {
    let code = support::invite(host, role);
    let ws = Workspace::join(&code, &dir.join(name), None).unwrap();
    ws.live().unwrap().wait_synced(WAIT).unwrap();
    ws
}

/// An element with a property to fight over.
fn outlet(ws: &Workspace) -> (ElementId, String) {
    ws.read(|doc| {
        doc.elements()
            .find_map(|e| e.props.keys().next().map(|k| (e.id.clone(), k.clone())))
            .unwrap()
    })
    .unwrap()
}

fn set(id: &ElementId, key: &str, v: &str) -> Command {
    Command::SetProperties {
        id: id.clone(),
        set: vec![(
            key.to_owned(),
            Property {
                value: PropValue::Text(v.to_owned()),
                unit: None,
            },
        )],
        remove: Vec::new(),
    }
}

#[test]
fn cursors_and_selections_of_one_window_appear_in_the_other() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = hosted(dir.path());
    let mut b = joined(&a, Role::Editor, dir.path(), "b.arx");
    let (id, _) = outlet(&a);
    let a_peer = a.me();
    a.selection = BTreeSet::from([id.clone()]);
    let view = arxos_render::View::new(Point::new(5_000.0, 4_000.0), 0.08, [800, 600]);
    let t0 = Instant::now();
    assert_eq!(
        a.broadcast(
            Some(Point::new(1_234.0, 2_345.0)),
            Some(&view),
            Duration::ZERO,
            t0
        ),
        None
    );
    until("a's cursor in b", &mut [&mut b], |w| {
        w[0].people.by_peer.get(&a_peer).is_some_and(|p| {
            p.presence
                .cursor
                .as_ref()
                .is_some_and(|c| c.x_mm == 1_234.0 && c.y_mm == 2_345.0)
                && p.presence.selection == vec![id.as_str().to_owned()]
                && p.presence
                    .viewport
                    .as_ref()
                    .is_some_and(|v| v.center_x_mm == 5_000.0)
        })
    });
    // The glide ends where the cursor is.
    let later = Instant::now() + Duration::from_secs(1);
    let g = b.people.by_peer[&a_peer].cursor.unwrap();
    assert_eq!(g.position(later), Point::new(1_234.0, 2_345.0));
    // The relay vouches for the role.
    assert_eq!(b.people.by_peer[&a_peer].role(), "owner");
    // A move glides from the old position.
    std::thread::sleep(Duration::from_millis(30));
    a.broadcast(
        Some(Point::new(2_000.0, 2_345.0)),
        Some(&view),
        Duration::ZERO,
        Instant::now(),
    );
    until("a's cursor moved in b", &mut [&mut b], |w| {
        w[0].people.by_peer[&a_peer]
            .presence
            .cursor
            .as_ref()
            .is_some_and(|c| c.x_mm == 2_000.0)
    });
}

#[test]
fn a_lease_held_in_one_window_blocks_the_edit_in_the_other() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = hosted(dir.path());
    let mut b = joined(&a, Role::Editor, dir.path(), "b.arx");
    let (id, _) = outlet(&a);
    a.work_on(&BTreeSet::from([id.clone()]));
    until("the lease in b", &mut [&mut b], |w| {
        w[0].permission.held_by_others.contains_key(id.as_str())
    });
    let mv = || Command::Move {
        ids: vec![id.clone()],
        dx: 100.0,
        dy: 0.0,
    };
    let err = b
        .edit("move", std::slice::from_ref(&id), &[], vec![mv()])
        .unwrap_err();
    assert!(err.contains("being edited by"), "{err}");
    // The holder itself edits freely.
    a.edit("move", std::slice::from_ref(&id), &[], vec![mv()])
        .unwrap();
    // Released: the other may edit.
    a.work_on(&BTreeSet::new());
    until("the lease released in b", &mut [&mut b], |w| {
        !w[0].permission.held_by_others.contains_key(id.as_str())
    });
    b.edit("move", std::slice::from_ref(&id), &[], vec![mv()])
        .unwrap();
    // An explicit lock (the context menu's) holds until unlocked, work or no work.
    assert_eq!(b.lock(std::slice::from_ref(&id)).unwrap(), 1);
    b.work_on(&BTreeSet::from([id.clone()]));
    b.work_on(&BTreeSet::new());
    until("b's lock in a", &mut [&mut a], |w| {
        w[0].permission.held_by_others.contains_key(id.as_str())
    });
    assert!(
        a.edit("move", std::slice::from_ref(&id), &[], vec![mv()])
            .is_err()
    );
    assert_eq!(b.unlock(std::slice::from_ref(&id)).unwrap(), 1);
    until("b's lock gone in a", &mut [&mut a], |w| {
        !w[0].permission.held_by_others.contains_key(id.as_str())
    });
}

#[test]
fn one_conflict_appears_in_both_windows_and_one_resolution_clears_both() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = hosted(dir.path());
    let mut b = joined(&a, Role::Editor, dir.path(), "b.arx");
    let (id, _) = outlet(&a);
    let key = "review_note".to_owned();
    // b works offline; both change the same property meanwhile.
    b.leave().unwrap();
    a.edit(
        "set",
        std::slice::from_ref(&id),
        &[],
        vec![set(&id, &key, "from-a")],
    )
    .unwrap();
    b.edit(
        "set",
        std::slice::from_ref(&id),
        &[],
        vec![set(&id, &key, "from-b")],
    )
    .unwrap();
    assert!(b.status().pending > 0 || !b.is_shared());
    let (session, _) = Start::Reconnect.run(b.path()).unwrap();
    b.attach(session).unwrap();
    let conflict_of = |w: &Workspace| {
        w.live().and_then(|s| {
            s.client()
                .conflicts()
                .into_iter()
                .find(|c| c.kind == ConflictType::Property && c.element == id)
        })
    };
    until("the conflict in both", &mut [&mut a, &mut b], |w| {
        conflict_of(w[0]).is_some() && conflict_of(w[1]).is_some()
    });
    let ca = conflict_of(&a).unwrap();
    let cb = conflict_of(&b).unwrap();
    assert_eq!(ca.id, cb.id, "one conflict, the same in both windows");
    // In a live replica "local" is the value shown now (the same in both windows); b takes
    // the competing one, so the resolution is a real change both must receive.
    let shown = |w: &Workspace| {
        w.read(|doc| doc.element(&id).unwrap().props[&key].value.clone())
            .unwrap()
    };
    let competing = cb.remote.as_ref().and_then(|s| s.value.clone()).unwrap();
    assert_ne!(shown(&b), competing);
    b.live()
        .unwrap()
        .client()
        .resolve(&EditContext::now("b"), &cb.id, &Choice::Remote)
        .unwrap();
    until("the conflict cleared in both", &mut [&mut a, &mut b], |w| {
        conflict_of(w[0]).is_none() && conflict_of(w[1]).is_none()
    });
    assert_eq!(shown(&b), competing);
    until("the chosen value in a", &mut [&mut a], |w| {
        shown(w[0]) == competing
    });
}

#[test]
fn a_viewer_cannot_edit_and_a_commenters_comment_reaches_the_editor() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = hosted(dir.path());
    let mut v = joined(&a, Role::Viewer, dir.path(), "v.arx");
    let mut c = joined(&a, Role::Commenter, dir.path(), "c.arx");
    until("roles known", &mut [&mut v, &mut c], |w| {
        w[0].role() == Some(Role::Viewer) && w[1].role() == Some(Role::Commenter)
    });
    let (id, _) = outlet(&a);
    assert!(v.permission.read_only().unwrap().contains("viewer"));
    let mv = Command::Move {
        ids: vec![id.clone()],
        dx: 10.0,
        dy: 0.0,
    };
    let err = v
        .edit("move", std::slice::from_ref(&id), &[], vec![mv.clone()])
        .unwrap_err();
    assert!(err.contains("viewer"), "{err}");
    let err = c
        .edit("move", std::slice::from_ref(&id), &[], vec![mv])
        .unwrap_err();
    assert!(err.contains("commenter"), "{err}");
    // A commenter may comment; the editor's window gets it, as a thread.
    let (cid, comment) = c
        .read(|doc| {
            arxos_doc::comments::add(
                doc,
                &EditContext::now("Carla"),
                &arxos_doc::comments::Anchor::Element(id.clone()),
                "check this outlet @Ana",
            )
        })
        .unwrap()
        .unwrap();
    c.apply_records(arxos_doc::ChangeKind::Edit, "comment", vec![comment])
        .unwrap();
    until("the comment in the editor", &mut [&mut a], |w| {
        w[0].refresh_threads();
        w[0].threads.iter().any(|t| t.root.id == cid)
    });
    let t = a.threads.iter().find(|t| t.root.id == cid).unwrap();
    assert_eq!(t.root.mentions, vec!["Ana".to_owned()]);
    // A viewer may not.
    let (_, by_viewer) = v
        .read(|doc| {
            arxos_doc::comments::add(
                doc,
                &EditContext::now("Vic"),
                &arxos_doc::comments::Anchor::Element(id.clone()),
                "me too",
            )
        })
        .unwrap()
        .unwrap();
    let err = v
        .apply_records(arxos_doc::ChangeKind::Edit, "comment", vec![by_viewer])
        .unwrap_err();
    assert!(err.contains("viewer"), "{err}");
    assert!(c.live().unwrap().client().refused().is_empty());
}

#[test]
fn another_program_pauses_a_windows_session_and_reads_its_queue() {
    use arxos_session::control::{self, Reply, Request};
    let dir = tempfile::tempdir().unwrap();
    let mut a = hosted(dir.path());
    let mut b = joined(&a, Role::Editor, dir.path(), "b.arx");
    let file = dir.path().join("b.arx");
    let (id, _) = outlet(&a);
    let key = "review_note".to_owned();
    let Some(Reply::Toggled(paused)) = control::call(&file, &Request::Pause).unwrap() else {
        panic!("the window's session answers on its control socket");
    };
    assert!(paused.changed && paused.status.paused);
    assert!(b.status().paused, "the window sees it is paused");

    b.edit(
        "set",
        std::slice::from_ref(&id),
        &[],
        vec![set(&id, &key, "made-while-paused")],
    )
    .unwrap();
    let Some(Reply::Queue(queued)) = control::call(&file, &Request::Queue).unwrap() else {
        panic!("a queue");
    };
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].elements, vec![id.clone()]);
    let shown = |w: &Workspace| {
        w.read(|doc| {
            doc.element(&id)
                .unwrap()
                .props
                .get(&key)
                .map(|p| p.value.clone())
        })
        .unwrap()
    };
    let made = Some(PropValue::Text("made-while-paused".into()));
    std::thread::sleep(Duration::from_millis(500));
    a.pump();
    assert_ne!(shown(&a), made);

    control::call(&file, &Request::Resume).unwrap();
    until(
        "the queued edit reaches the host",
        &mut [&mut a, &mut b],
        |w| shown(w[0]) == made,
    );
    // A status set from another program becomes the window's own, and the others see it.
    let b_peer = b.me();
    let set = Request::SetStatus {
        text: Some("on site".into()),
        state: None,
    };
    control::call(&file, &set).unwrap();
    b.broadcast(None, None, Duration::ZERO, Instant::now());
    assert_eq!(b.status_text, "on site");
    until("b's status in a", &mut [&mut a], |w| {
        w[0].people
            .by_peer
            .get(&b_peer)
            .is_some_and(|p| p.presence.activity.as_deref() == Some("on site"))
    });
    // Closing the window stops its controls with the session.
    b.close();
    assert!(control::call(&file, &Request::Status).unwrap().is_none());
}

#[test]
fn a_mention_is_told_once_a_lost_relay_once_and_notifications_can_be_turned_off() {
    use arxos_editor::workspace::Notice;
    let dir = tempfile::tempdir().unwrap();
    let mut a = hosted(dir.path());
    let mut c = joined(&a, Role::Commenter, dir.path(), "c.arx");
    let (id, _) = outlet(&a);
    let post = |c: &mut Workspace, text: &str| {
        let (cid, comment) = c
            .read(|doc| {
                arxos_doc::comments::add(
                    doc,
                    &EditContext::now("Carla"),
                    &arxos_doc::comments::Anchor::Element(id.clone()),
                    text,
                )
            })
            .unwrap()
            .unwrap();
        c.apply_records(arxos_doc::ChangeKind::Edit, "comment", vec![comment])
            .unwrap();
        cid
    };
    let mentioned = |n: &Notice| matches!(n, Notice::Info(m) if m.contains("mentioned you"));
    // Collects a's notices until `done` (bounded).
    let told = |a: &mut Workspace, done: &dyn Fn(&Workspace) -> bool| {
        let mut all = Vec::new();
        let start = Instant::now();
        while !done(a) {
            all.extend(a.pump());
            a.refresh_threads();
            assert!(start.elapsed() < WAIT, "timed out");
            std::thread::sleep(Duration::from_millis(20));
        }
        for _ in 0..10 {
            all.extend(a.pump());
            std::thread::sleep(Duration::from_millis(20));
        }
        all
    };
    let me = a.author().to_owned();
    let first = post(&mut c, &format!("@{me} is this outlet right?"));
    let notices = told(&mut a, &|a| a.threads.iter().any(|t| t.root.id == first));
    let told_of: Vec<&Notice> = notices.iter().filter(|n| mentioned(n)).collect();
    assert_eq!(told_of.len(), 1, "{notices:?}");
    assert!(matches!(told_of[0], Notice::Info(m) if m.contains("Carla")));

    a.notifications.mentions = false;
    let second = post(&mut c, &format!("@{me} and this one?"));
    let notices = told(&mut a, &|a| a.threads.iter().any(|t| t.root.id == second));
    assert!(!notices.iter().any(mentioned), "{notices:?}");

    // The host goes away: the commenter's window tells of it once, however often it retries.
    a.close();
    let start = Instant::now();
    let mut errors = Vec::new();
    while start.elapsed() < Duration::from_secs(3) {
        errors.extend(
            c.pump()
                .into_iter()
                .filter(|n| matches!(n, Notice::Error(m) if m.starts_with("Sync: "))),
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(errors.len(), 1, "{errors:?}");
}
