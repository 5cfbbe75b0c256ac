//! What the editor's integration tests share: the bundled sample plan as a file, a workspace
//! hosting it on 127.0.0.1, and a real click (press and release in separate frames).

#![allow(dead_code, clippy::unwrap_used)] // each test file uses a subset; test helpers

use std::path::{Path, PathBuf};

use arxos_doc::EditContext;
use arxos_editor::EditorApp;
use arxos_editor::workspace::{Start, Workspace};
use egui::{Event, Modifiers, PointerButton, Pos2};
use egui_kittest::Harness;

/// The bundled sample office, written to `dir/name`.
pub fn sample_plan(dir: &Path, name: &str) -> PathBuf {
    let svgx = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../assets/sample-office.svgx"
    ));
    let (mut doc, _) =
        arxos_doc::svgx::import_svg(svgx, "office", &EditContext::at("setup", 1)).unwrap();
    let path = dir.join(name);
    arxos_doc::file::PlanFile::create(&path, &mut doc).unwrap();
    path
}

/// A workspace hosting the sample plan from this process (the relay library on a free port
/// of 127.0.0.1), as the Host button does.
pub fn hosted(dir: &Path) -> Workspace {
    let plan = sample_plan(dir, "host.arx");
    let mut host = Workspace::open(&plan, None).unwrap();
    let (session, _) = Start::Host("127.0.0.1:0".parse().unwrap())
        .run(&plan)
        .unwrap();
    host.attach(session).unwrap();
    host
}

/// A click with `button` at `pos`: hover, press and release, each in its own frame.
pub fn click(h: &mut Harness<'static, EditorApp>, pos: Pos2, button: PointerButton) {
    h.hover_at(pos);
    h.run_steps(1);
    for pressed in [true, false] {
        h.event(Event::PointerButton {
            pos,
            button,
            pressed,
            modifiers: Modifiers::NONE,
        });
        h.run_steps(1);
    }
}

/// The invite `host` hands out for `role`.
pub fn invite(host: &Workspace, role: arxos_sync::Role) -> arxos_sync::InviteCode {
    host.live()
        .and_then(|s| s.hosted())
        .and_then(|h| h.code(role))
        .cloned()
        .unwrap()
}

/// Selects the plan's first element in the window; returns its id.
pub fn select_first(h: &mut Harness<'static, EditorApp>) -> arxos_doc::ElementId {
    let ws = h.state_mut().ws.as_mut().unwrap();
    let id = ws
        .read(|doc| doc.elements().next().map(|e| e.id.clone()))
        .flatten()
        .unwrap();
    ws.selection = std::collections::BTreeSet::from([id.clone()]);
    id
}
