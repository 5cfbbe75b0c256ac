//! The History section and the Conflict rules window, driven through AccessKit (kittest): a
//! version saved, the plan changed, the comparison highlighting what changed; a rule added and
//! removed. Everything goes through the session, so it is in the plan file too.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests

use arxos_doc::conflict::rules;
use arxos_doc::versions::list_versions;
use arxos_doc::{Command, ElementId};
use arxos_editor::{EditorApp, Launch};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;

mod support;

fn window(dir: &std::path::Path) -> Harness<'static, EditorApp> {
    let plan = support::sample_plan(dir, "plan.arx");
    let launch = Launch {
        file: Some(plan),
        sample_svgx: "",
        msaa_samples: 1,
        persist_settings: false,
        join: None,
        ..Launch::default()
    };
    let mut h = Harness::builder()
        .with_size(egui::vec2(1280.0, 900.0))
        .build_eframe(move |cc| EditorApp::new(cc, launch));
    h.run_steps(3);
    h
}

fn placeholder<'a>(
    h: &'a Harness<'static, EditorApp>,
    text: &'static str,
) -> egui_kittest::Node<'a> {
    h.get_by(move |n| n.placeholder() == Some(text))
}

/// Opens History and saves a version named `name`.
fn save_version(h: &mut Harness<'static, EditorApp>, name: &str) {
    h.get_by_label("History").click();
    h.run_steps(2);
    placeholder(h, "version name").click();
    h.run_steps(1);
    placeholder(h, "version name").type_text(name);
    h.run_steps(1);
    h.get_by_label("Save version").click();
    h.run_steps(3);
}

#[test]
fn a_version_is_saved_compared_with_now_and_the_change_highlighted() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = window(dir.path());
    save_version(&mut h, "issued");
    let names: Vec<String> = h
        .state()
        .ws
        .as_ref()
        .unwrap()
        .read(|doc| list_versions(doc).into_iter().map(|v| v.name).collect())
        .unwrap();
    assert_eq!(names, vec!["issued".to_owned()]);
    // Change one element after the version, then compare.
    let ws = h.state_mut().ws.as_mut().unwrap();
    let (id, x_before): (ElementId, f64) = ws
        .read(|doc| doc.elements().next().map(|e| (e.id.clone(), e.transform.x)))
        .flatten()
        .unwrap();
    ws.edit(
        "move",
        std::slice::from_ref(&id),
        &[],
        vec![Command::Move {
            ids: vec![id.clone()],
            dx: 100.0,
            dy: 0.0,
        }],
    )
    .unwrap();
    h.run_steps(2);
    h.get_by_label("Compare").click();
    h.run_steps(2);
    let highlighted = &h.state().ws.as_ref().unwrap().highlighted;
    assert!(highlighted.contains(&id), "{highlighted:?}");
    h.get_by_label_contains("changed since issued");
    // Revert brings the element back.
    h.get_by_label("Revert").click();
    h.run_steps(3);
    let x_now = h
        .state()
        .ws
        .as_ref()
        .unwrap()
        .read(|doc| doc.element(&id).map(|e| e.transform.x))
        .flatten()
        .unwrap();
    assert!((x_now - x_before).abs() < 1e-6, "{x_now} vs {x_before}");
}

#[test]
fn a_rule_is_added_and_removed_in_the_rules_window() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = window(dir.path());
    h.get_by_label_contains("Conflicts (").click();
    h.run_steps(2);
    h.get_by_label("Rules…").click();
    h.run_steps(2);
    placeholder(&h, "any, or R45-*").click();
    h.run_steps(1);
    placeholder(&h, "any, or R45-*").type_text("R1*");
    h.run_steps(1);
    h.get_by_label("Add rule").click();
    h.run_steps(3);
    let count = |h: &Harness<'static, EditorApp>| {
        h.state()
            .ws
            .as_ref()
            .unwrap()
            .read(|doc| rules::rules(doc).len())
            .unwrap()
    };
    assert_eq!(count(&h), 1);
    h.get_by_label("Remove").click();
    h.run_steps(3);
    assert_eq!(count(&h), 0);
}

#[test]
fn a_comment_is_posted_on_the_selection_replied_to_and_resolved() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = window(dir.path());
    let id = support::select_first(&mut h);
    h.run_steps(2);
    h.get_by_label_contains("Comments (0)").click();
    h.run_steps(2);
    placeholder(&h, "a comment (@name to mention)").click();
    h.run_steps(1);
    placeholder(&h, "a comment (@name to mention)").type_text("Is this the right height?");
    h.run_steps(1);
    h.get_by_label("On selection").click();
    h.run_steps(3);
    let threads = |h: &Harness<'static, EditorApp>| {
        h.state()
            .ws
            .as_ref()
            .unwrap()
            .read(arxos_doc::comments::threads)
            .unwrap()
    };
    let t = threads(&h);
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].root.text, "Is this the right height?");
    assert_eq!(
        t[0].root.anchor,
        arxos_doc::comments::Anchor::Element(id.clone())
    );
    placeholder(&h, "reply").click();
    h.run_steps(1);
    placeholder(&h, "reply").type_text("Yes, 300 mm");
    h.run_steps(1);
    h.get_by_label("Reply").click();
    h.run_steps(3);
    assert_eq!(threads(&h)[0].replies.len(), 1);
    h.get_by_label("Resolve").click();
    h.run_steps(3);
    assert!(threads(&h)[0].root.resolved);
}

#[test]
fn a_branch_is_made_worked_on_elsewhere_merged_back_and_a_proposal_approved() {
    use arxos_doc::branches::{BranchState, ReviewState, list_branches};
    let dir = tempfile::tempdir().unwrap();
    let mut h = window(dir.path());
    h.get_by_label("History").click();
    h.run_steps(2);
    let type_into = |h: &mut Harness<'static, EditorApp>, hint: &'static str, text: &str| {
        placeholder(h, hint).click();
        h.run_steps(1);
        placeholder(h, hint).type_text(text);
        h.run_steps(1);
    };
    type_into(&mut h, "branch name", "lobby");
    h.get_by_label("Branch").click();
    h.run_steps(3);
    let file = dir.path().join("plan.lobby.arx");
    assert!(file.is_file(), "the branch is a file beside the plan");
    let records = |h: &Harness<'static, EditorApp>| {
        h.state().ws.as_ref().unwrap().read(list_branches).unwrap()
    };
    assert_eq!(records(&h)[0].name, "lobby");

    // Someone works on the branch file (a CLI edit, another window).
    let (mut bf, mut branch_doc) = arxos_doc::file::PlanFile::open(&file).unwrap();
    let (id, x_before): (ElementId, f64) = branch_doc
        .elements()
        .next()
        .map(|e| (e.id.clone(), e.transform.x))
        .unwrap();
    branch_doc
        .apply(
            &arxos_doc::EditContext::now("ana"),
            Command::Move {
                ids: vec![id.clone()],
                dx: 250.0,
                dy: 0.0,
            },
        )
        .unwrap();
    bf.save(&mut branch_doc).unwrap();

    h.get_by_label("Merge").click();
    h.run_steps(3);
    let ws = h.state().ws.as_ref().unwrap();
    let x_now = ws
        .read(|doc| doc.element(&id).map(|e| e.transform.x))
        .flatten()
        .unwrap();
    assert!(
        (x_now - (x_before + 250.0)).abs() < 1e-6,
        "{x_before} → {x_now}"
    );
    assert_eq!(records(&h)[0].state, BranchState::Merged);

    // A proposal, reviewed in the window.
    type_into(&mut h, "branch name", "stairs");
    type_into(&mut h, "description, or what should change", "wider stairs");
    h.get_by_label("Propose").click();
    h.run_steps(3);
    h.get_by_label("Approve").click();
    h.run_steps(3);
    let stairs = records(&h)
        .into_iter()
        .find(|b| b.name == "stairs")
        .unwrap();
    assert!(stairs.proposal);
    assert_eq!(stairs.description, "wider stairs");
    assert_eq!(stairs.review, Some(ReviewState::Approved));
    assert!(dir.path().join("plan.stairs.arx").is_file());
}

#[test]
fn a_version_is_previewed_read_only_and_the_window_goes_back_to_the_plan() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = window(dir.path());
    save_version(&mut h, "issued");
    let x_of = |h: &Harness<'static, EditorApp>, id: &ElementId| {
        h.state()
            .ws
            .as_ref()
            .unwrap()
            .read(|doc| doc.element(id).map(|e| e.transform.x))
            .flatten()
            .unwrap()
    };
    let ws = h.state_mut().ws.as_mut().unwrap();
    let id: ElementId = ws
        .read(|doc| doc.elements().next().map(|e| e.id.clone()))
        .flatten()
        .unwrap();
    let mv = |id: &ElementId| Command::Move {
        ids: vec![id.clone()],
        dx: 100.0,
        dy: 0.0,
    };
    ws.edit("move", std::slice::from_ref(&id), &[], vec![mv(&id)])
        .unwrap();
    let moved = x_of(&h, &id);
    h.run_steps(2);

    h.get_by_label("Preview").click();
    h.run_steps(3);
    let ws = h.state_mut().ws.as_mut().unwrap();
    assert!(ws.title().contains("at version issued"), "{}", ws.title());
    let err = ws
        .edit("move", std::slice::from_ref(&id), &[], vec![mv(&id)])
        .unwrap_err();
    assert!(err.contains("preview of an earlier version"), "{err}");
    assert!(
        (x_of(&h, &id) - (moved - 100.0)).abs() < 1e-6,
        "as it was then"
    );
    h.get_by_label("Back to the plan").click();
    h.run_steps(3);
    assert!(!h.state().ws.as_ref().unwrap().title().contains("preview"));
    assert!(
        (x_of(&h, &id) - moved).abs() < 1e-6,
        "the plan as it is now"
    );
}
