//! The editor window in a live session (kittest, driven through AccessKit): a viewer joins a
//! session hosted on 127.0.0.1 the way `arxos join CODE` does; their tools are disabled with
//! the reason, and the host's cursor reaches their window.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests

use std::path::Path;
use std::time::{Duration, Instant};

use arxos_doc::Point;
use arxos_editor::workspace::Workspace;
use arxos_editor::{EditorApp, Launch};
use arxos_sync::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT as _, Queryable as _};

mod support;

use support::{click, hosted};

/// Runs frames until `ok` holds (bounded).
fn until(h: &mut Harness<'static, EditorApp>, what: &str, ok: impl Fn(&EditorApp) -> bool) {
    let start = Instant::now();
    while !ok(h.state()) {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        h.run_steps(1);
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// An editor window joined to `host`'s session with `role`, the way `arxos join CODE` opens
/// one, run until the plan is open and the relay said the role.
fn window(host: &Workspace, role: Role, file: &Path) -> Harness<'static, EditorApp> {
    let code = support::invite(host, role);
    let launch = Launch {
        file: Some(file.to_owned()),
        sample_svgx: "",
        msaa_samples: 1,
        persist_settings: false,
        join: Some(code),
        ..Launch::default()
    };
    let mut h = Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .build_eframe(move |cc| EditorApp::new(cc, launch));
    let name = file.file_name().unwrap().to_owned();
    until(&mut h, "the joined plan", |app| {
        app.ws
            .as_ref()
            .is_some_and(|w| w.path().ends_with(&name) && w.role() == Some(role))
    });
    h.run_steps(3);
    h
}

/// Runs the window and the host until `ok` holds of the host (bounded).
fn until_host(
    h: &mut Harness<'static, EditorApp>,
    host: &mut Workspace,
    what: &str,
    ok: impl Fn(&Workspace) -> bool,
) {
    let start = Instant::now();
    loop {
        h.run_steps(1);
        host.refresh_collab(Instant::now());
        if ok(host) {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_viewer_joins_sees_the_hosts_cursor_and_cannot_pick_a_drawing_tool() {
    let dir = tempfile::tempdir().unwrap();
    let mut host = hosted(dir.path());
    let mut h = window(&host, Role::Viewer, &dir.path().join("viewer.arx"));
    // The drawing tools are disabled, the reason is on screen, the selection tool is not.
    assert!(h.get_by_label("Wall").accesskit_node().is_disabled());
    assert!(!h.get_by_label("Select").accesskit_node().is_disabled());
    h.get_by_label_contains("you joined as a viewer");
    // The host moves its cursor; the viewer's window has it, under the host's name.
    let host_peer = host.me();
    host.broadcast(
        Some(Point::new(3_000.0, 2_000.0)),
        None,
        Duration::ZERO,
        Instant::now(),
    );
    until(&mut h, "the host's cursor", |app| {
        app.ws.as_ref().is_some_and(|w| {
            w.people
                .by_peer
                .get(&host_peer)
                .is_some_and(|p| p.cursor.is_some())
        })
    });
    // Everyone in the session is listed in the People section.
    h.get_by_label_contains("(you)");
}

#[test]
fn dragging_an_element_in_the_window_leases_it_for_the_others() {
    use egui::{Event, Modifiers, PointerButton};
    let dir = tempfile::tempdir().unwrap();
    let mut host = hosted(dir.path());
    let mut h = window(&host, Role::Editor, &dir.path().join("editor.arx"));
    // A room of the sample: big enough to grab by its middle.
    let (_room, at) = h
        .state()
        .ws
        .as_ref()
        .unwrap()
        .read(|doc| {
            doc.elements()
                .find(|e| e.kind == arxos_doc::ElementKind::Room)
                .map(|e| {
                    let b = e.bounds();
                    (
                        e.id.clone(),
                        Point::new(
                            f64::midpoint(b.min.x, b.max.x),
                            f64::midpoint(b.min.y, b.max.y),
                        ),
                    )
                })
                .unwrap()
        })
        .unwrap();
    let pos = h.state().screen_pos(at).unwrap();
    h.hover_at(pos);
    h.run_steps(1);
    h.event(Event::PointerButton {
        pos,
        button: PointerButton::Primary,
        pressed: true,
        modifiers: Modifiers::NONE,
    });
    h.run_steps(1);
    for step in 1..=5 {
        h.hover_at(pos + egui::vec2(8.0 * step as f32, 4.0 * step as f32));
        h.run_steps(1);
    }
    // What is under the pointer there (the room, or its label) is what the drag moves.
    let working = h.state().canvas.working_ids();
    assert_eq!(working.len(), 1, "one element dragged");
    let id = working[0].clone();
    // While the drag goes on, the host sees the lease and would be refused.
    let holder = h.state().ws.as_ref().unwrap().me();
    until_host(&mut h, &mut host, "the lease at the host", |w| {
        w.permission
            .held_by_others
            .get(id.as_str())
            .is_some_and(|l| l.holder_peer == holder)
    });
    let mv = arxos_doc::Command::Move {
        ids: vec![id.clone()],
        dx: 1.0,
        dy: 0.0,
    };
    let err = host
        .edit("move", std::slice::from_ref(&id), &[], vec![mv])
        .unwrap_err();
    assert!(err.contains("being edited by"), "{err}");
    // Dropping ends the work: the lease goes.
    h.event(Event::PointerButton {
        pos: pos + egui::vec2(40.0, 20.0),
        button: PointerButton::Primary,
        pressed: false,
        modifiers: Modifiers::NONE,
    });
    until_host(&mut h, &mut host, "the lease released", |w| {
        !w.permission.held_by_others.contains_key(id.as_str())
    });
}

#[test]
fn the_context_menu_locks_the_selection_for_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let mut host = hosted(dir.path());
    let mut h = window(&host, Role::Editor, &dir.path().join("editor.arx"));
    let id = support::select_first(&mut h);
    h.run_steps(2);
    let pos = h.state().screen_pos(Point::new(1_000.0, 1_000.0)).unwrap();
    click(&mut h, pos, egui::PointerButton::Secondary);
    h.run_steps(1);
    // A real click on the item: press and release in separate frames, as a hand does.
    let item = h.get_by_label("Lock 1 element").rect().center();
    click(&mut h, item, egui::PointerButton::Primary);
    h.run_steps(1);
    assert!(h.state().ws.as_ref().unwrap().locked_by_me(&id));
    until_host(&mut h, &mut host, "the lock at the host", |w| {
        w.permission.held_by_others.contains_key(id.as_str())
    });
}
