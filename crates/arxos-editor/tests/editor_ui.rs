//! The real editor app driven through AccessKit by `egui_kittest`, as a person would: choose
//! a tool by its label, draw on the canvas, edit in the inspector, undo, redo, hide a layer;
//! the plan (the document the session holds, and the file on disk) is checked after each step.
//!
//! Editing needs no GPU (the canvas draws through wgpu only when one is there); the snapshot
//! test at the end renders the whole window on the software adapter, and skips with a printed
//! reason when there is none, unless `ARXOS_REQUIRE_GPU=1`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use arxos_doc::{Document, EditContext, ElementKind, Geometry, LayerId, Point, PropValue};
use arxos_editor::{EditorApp, Launch};
use egui::{Event, Key, Modifiers, PointerButton};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;

fn plan_file(dir: &Path) -> PathBuf {
    let path = dir.join("plan.arx");
    let mut doc = Document::new_plan("Test plan", &EditContext::at("setup", 1)).unwrap();
    arxos_doc::file::PlanFile::create(&path, &mut doc).unwrap();
    path
}

fn launch(file: &Path) -> Launch {
    Launch {
        file: Some(file.to_owned()),
        sample_svgx: "",
        msaa_samples: 1,
        persist_settings: false,
        join: None,
        ..Launch::default()
    }
}

fn harness(file: &Path) -> Harness<'static, EditorApp> {
    let launch = launch(file);
    let mut h = Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .build_eframe(move |cc| EditorApp::new(cc, launch));
    h.run_steps(3);
    h
}

/// A click on the canvas at a plan point.
fn click_plan(h: &mut Harness<'static, EditorApp>, p: Point) {
    let pos = h.state().screen_pos(p).expect("the canvas was laid out");
    h.hover_at(pos);
    h.run_steps(1);
    for pressed in [true, false] {
        h.event(Event::PointerButton {
            pos,
            button: PointerButton::Primary,
            pressed,
            modifiers: Modifiers::NONE,
        });
        h.run_steps(1);
    }
    h.run_steps(2);
}

fn read<R>(h: &Harness<'static, EditorApp>, f: impl FnOnce(&Document) -> R) -> R {
    h.state().ws.as_ref().unwrap().read(f).unwrap()
}

fn voltage(h: &Harness<'static, EditorApp>) -> PropValue {
    read(h, |doc| {
        doc.elements()
            .find(|e| e.kind == ElementKind::Outlet)
            .unwrap()
            .props["voltage"]
            .value
            .clone()
    })
}

/// Waits (bounded) until the file on disk, read fresh, satisfies `check`: the session writes
/// within 100 ms of an edit.
fn eventually_on_disk(file: &Path, check: impl Fn(&Document) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(doc) = arxos_doc::file::load(file)
            && check(&doc)
        {
            return;
        }
        assert!(Instant::now() < deadline, "the file never showed the edit");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn draw_a_wall_place_an_outlet_edit_undo_redo_and_hide_a_layer() {
    let dir = tempfile::tempdir().unwrap();
    let file = plan_file(dir.path());
    let mut h = harness(&file);

    // Draw a wall: the Wall tool, two clicks, Enter.
    h.get_by_label("Wall").click();
    h.run_steps(2);
    assert_eq!(h.state().tool, arxos_editor::tools::Tool::Wall);
    click_plan(&mut h, Point::new(0.0, 0.0));
    click_plan(&mut h, Point::new(4_000.0, 0.0));
    h.key_press(Key::Enter);
    h.run_steps(3);
    let walls: Vec<(Geometry, PropValue)> = read(&h, |doc| {
        doc.elements()
            .filter(|e| e.kind == ElementKind::Wall)
            .map(|e| (e.geometry.clone(), e.props["thickness"].value.clone()))
            .collect()
    });
    assert_eq!(walls.len(), 1, "one wall drawn");
    assert_eq!(
        walls[0].0,
        Geometry::Polyline {
            points: vec![Point::new(0.0, 0.0), Point::new(4_000.0, 0.0)]
        },
        "snapped to the grid"
    );
    assert_eq!(walls[0].1, PropValue::Number(150.0));

    // Place an outlet.
    h.get_by_label("Outlet").click();
    h.run_steps(2);
    click_plan(&mut h, Point::new(2_000.0, 1_000.0));
    let (at, layer) = read(&h, |doc| {
        let o = doc
            .elements()
            .find(|e| e.kind == ElementKind::Outlet)
            .unwrap();
        ((o.transform.x, o.transform.y), o.layer.clone())
    });
    assert_eq!(at, (2_000.0, 1_000.0));
    assert_eq!(layer, LayerId::new("electrical"));
    assert_eq!(voltage(&h), PropValue::Number(230.0));
    assert_eq!(
        h.state().ws.as_ref().unwrap().selection.len(),
        1,
        "the new outlet is selected"
    );

    // Edit its voltage in the inspector: the field labelled "voltage".
    let field = h.get_by_label("voltage");
    field.focus();
    h.run_steps(1);
    h.key_press_modifiers(Modifiers::COMMAND, Key::A);
    h.run_steps(1);
    h.get_by_label("voltage").type_text("240");
    h.run_steps(1);
    h.key_press(Key::Enter);
    h.run_steps(3);
    assert_eq!(voltage(&h), PropValue::Number(240.0));
    eventually_on_disk(&file, |doc| {
        doc.elements().any(|e| {
            e.kind == ElementKind::Outlet && e.props["voltage"].value == PropValue::Number(240.0)
        })
    });

    // Undo and redo, from the tool bar.
    h.get_by_label("Undo").click();
    h.run_steps(3);
    assert_eq!(
        voltage(&h),
        PropValue::Number(230.0),
        "undo takes the edit back"
    );
    h.get_by_label("Redo").click();
    h.run_steps(3);
    assert_eq!(voltage(&h), PropValue::Number(240.0), "redo does it again");

    // Hide the electrical layer on this screen: the plan is untouched, the outlet can no
    // longer be picked, and it is no longer selected.
    let snapshot = |doc: &Document| {
        (
            doc.elements().cloned().collect::<Vec<_>>(),
            doc.layers().clone(),
        )
    };
    let before = read(&h, snapshot);
    h.get_by_label("Electrical").click();
    h.run_steps(3);
    let ws = h.state().ws.as_ref().unwrap();
    assert!(ws.hidden_layers.contains(&LayerId::new("electrical")));
    assert!(ws.selection.is_empty());
    assert_eq!(
        read(&h, snapshot),
        before,
        "hiding a layer on screen edits nothing"
    );
    h.get_by_label("Select").click();
    h.run_steps(2);
    click_plan(&mut h, Point::new(2_000.0, 1_000.0));
    assert!(
        h.state().ws.as_ref().unwrap().selection.is_empty(),
        "a hidden layer's element is not picked"
    );
    // The wall still is, on its body.
    click_plan(&mut h, Point::new(1_000.0, 40.0));
    assert_eq!(h.state().ws.as_ref().unwrap().selection.len(), 1);
}

#[test]
fn a_door_refuses_to_be_placed_off_a_wall_and_moves_with_its_wall() {
    let dir = tempfile::tempdir().unwrap();
    let file = plan_file(dir.path());
    let mut h = harness(&file);
    h.get_by_label("Wall").click();
    h.run_steps(2);
    click_plan(&mut h, Point::new(0.0, 0.0));
    click_plan(&mut h, Point::new(6_000.0, 0.0));
    h.key_press(Key::Enter);
    h.run_steps(2);

    h.get_by_label("Door").click();
    h.run_steps(2);
    click_plan(&mut h, Point::new(3_000.0, 3_000.0));
    assert_eq!(
        read(&h, |doc| doc
            .elements()
            .filter(|e| e.kind == ElementKind::Door)
            .count()),
        0
    );
    click_plan(&mut h, Point::new(3_000.0, 20.0));
    let host = read(&h, |doc| {
        doc.elements()
            .find(|e| e.kind == ElementKind::Door)
            .map(|d| d.refs["host"].clone())
    });
    let wall = read(&h, |doc| {
        doc.elements()
            .find(|e| e.kind == ElementKind::Wall)
            .unwrap()
            .id
            .clone()
    });
    assert_eq!(host, Some(wall.clone()));

    // Select the wall and nudge it: the door goes along.
    h.get_by_label("Select").click();
    h.run_steps(2);
    click_plan(&mut h, Point::new(1_000.0, 0.0));
    assert!(h.state().ws.as_ref().unwrap().selection.contains(&wall));
    let door_y = |h: &Harness<'static, EditorApp>| {
        read(h, |doc| {
            doc.elements()
                .find(|e| e.kind == ElementKind::Door)
                .unwrap()
                .transform
                .y
        })
    };
    let before = door_y(&h);
    h.key_press(Key::ArrowDown);
    h.run_steps(3);
    assert!(
        (door_y(&h) - before - 100.0).abs() < 1e-6,
        "the door moved with its wall"
    );
}

/// Whether a wgpu adapter exists; without one, the rendering test skips (unless required).
fn gpu_available() -> bool {
    if arxos_render::Gpu::headless().is_ok() {
        return true;
    }
    assert!(
        std::env::var("ARXOS_REQUIRE_GPU").as_deref() != Ok("1"),
        "ARXOS_REQUIRE_GPU=1 but no wgpu adapter was found"
    );
    eprintln!("skipping: no wgpu adapter (install mesa-vulkan-drivers for lavapipe)");
    false
}

#[test]
fn the_window_renders_the_plan_on_the_gpu() {
    if !gpu_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sample.arx");
    let svgx = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../assets/sample-office.svgx"
    ))
    .unwrap();
    let (mut doc, _) =
        arxos_doc::svgx::import_svg(&svgx, "sample", &EditContext::at("t", 1)).unwrap();
    arxos_doc::file::PlanFile::create(&file, &mut doc).unwrap();
    let launch = launch(&file);
    let mut h = Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .wgpu()
        .build_eframe(move |cc| EditorApp::new(cc, launch));
    h.run_steps(3);
    let image = h.render().expect("the window renders");
    // The canvas shows the drawing: walls are the darkest ink on the plan, so the canvas
    // region holds many near-black pixels, and the paper around them.
    let m = h.state().canvas.mapping.unwrap();
    let ppp = m.ppp;
    let (mut ink, mut paper) = (0usize, 0usize);
    for y in (m.rect.top() * ppp) as u32..(m.rect.bottom() * ppp) as u32 {
        for x in (m.rect.left() * ppp) as u32..(m.rect.right() * ppp) as u32 {
            let p = image.get_pixel(x, y).0;
            let lum = u32::from(p[0]) + u32::from(p[1]) + u32::from(p[2]);
            if lum < 3 * 90 {
                ink += 1;
            } else if lum > 3 * 240 {
                paper += 1;
            }
        }
    }
    assert!(ink > 5_000, "walls drawn: {ink} dark pixels");
    assert!(
        paper > 50_000,
        "paper around the plan: {paper} light pixels"
    );

    // A selection: the wall clicked where the corridor meets the west wall; its outline, handles and the
    // inspector are drawn over the GPU canvas. The image is committed under
    // tests/snapshots/ (`UPDATE_SNAPSHOTS=1` rewrites it; diff images are ignored by git).
    click_plan(&mut h, Point::new(0.0, 12_000.0));
    assert_eq!(h.state().ws.as_ref().unwrap().selection.len(), 1);
    h.run_steps(2);
    h.snapshot("editor-selection");
}

/// Steps the window until the plan opening in the background is ready (bounded).
fn step_until_open(h: &mut Harness<'static, EditorApp>) {
    let deadline = Instant::now() + Duration::from_mins(1);
    while h.state().opening().is_some() {
        assert!(Instant::now() < deadline, "the plan never finished opening");
        std::thread::sleep(Duration::from_millis(20));
        h.step();
    }
    h.run_steps(2);
}

#[test]
fn a_large_plan_opens_in_the_background_and_shows_its_kept_drawing_next_time() {
    let dir = tempfile::tempdir().unwrap();
    // Large enough that loading takes many frames, so the opening state can be looked at.
    let plan = dir.path().join("plan.arx");
    let mut doc = arxos_doc::generate::generate(
        &arxos_doc::generate::GenerateOptions {
            elements: 8_000,
            floors: 1,
            seed: 5,
            name: "Large plan".into(),
        },
        &EditContext::at("setup", 1),
        |_, _| {},
    )
    .unwrap();
    arxos_doc::file::PlanFile::create(&plan, &mut doc).unwrap();
    drop(doc);
    let scenes = dir.path().join("scenes");
    let gpu = gpu_available();
    let open = |plan: &Path| {
        let launch = Launch {
            scene_cache: Some(scenes.clone()),
            // Every plan counts as large here.
            open_in_background_from: 0,
            ..launch(plan)
        };
        let builder = Harness::builder().with_size(egui::vec2(1280.0, 800.0));
        if gpu { builder.wgpu() } else { builder }
            .build_eframe(move |cc| EditorApp::new(cc, launch))
    };
    // Dark pixels in the middle of the canvas (the drawing's walls and labels).
    let ink = |h: &mut Harness<'static, EditorApp>| {
        let image = h.render().expect("the window renders");
        let mut n = 0;
        for y in 150..650 {
            for x in 250..900 {
                let p = image.get_pixel(x, y).0;
                n += usize::from(u32::from(p[0]) + u32::from(p[1]) + u32::from(p[2]) < 3 * 90);
            }
        }
        n
    };

    // First open: nothing kept, so the window says it is opening, and nothing can be used.
    let mut h = open(&plan);
    assert_eq!(h.state().opening(), Some(false), "no drawing kept yet");
    h.step();
    h.get_by_label_contains("Opening plan.arx");
    if gpu {
        assert_eq!(ink(&mut h), 0, "nothing drawn while a plan first opens");
    }
    assert!(h.state().ws.is_none());
    step_until_open(&mut h);
    assert!(h.state().ws.is_some());
    assert!(h.query_by_label_contains("Opening plan.arx").is_none());
    // Closing the window keeps the drawing of what the file holds.
    eframe::App::on_exit(h.state_mut());
    drop(h);
    let kept: Vec<_> = std::fs::read_dir(&scenes).unwrap().collect();
    assert_eq!(kept.len(), 1, "one drawing kept");

    // Second open: the kept drawing is shown at once, marked view only, until the plan loads.
    let mut h = open(&plan);
    assert_eq!(h.state().opening(), Some(true), "the kept drawing is shown");
    h.step();
    if gpu {
        h.get_by_label_contains("view only until it has loaded");
        let drawn = ink(&mut h);
        assert!(
            drawn > 2_000,
            "the kept drawing is on the canvas: {drawn} dark pixels"
        );
        assert!(
            h.state().opening().is_some(),
            "drawn before the plan loaded"
        );
    } else {
        // Without a GPU the drawing cannot be shown; the window says it is opening.
        h.get_by_label_contains("Opening plan.arx");
    }
    step_until_open(&mut h);
    let ws = h.state().ws.as_ref().unwrap();
    assert_eq!(ws.read(|d| d.floors().len()), Some(1));
    eframe::App::on_exit(h.state_mut());
    drop(h);

    // Another program writes the plan: the drawing kept is not of this file any more.
    let (mut file, mut doc) = arxos_doc::file::PlanFile::open(&plan).unwrap();
    let layer = doc.layers().keys().next().unwrap().clone();
    doc.apply(
        &EditContext::at("cli", 2),
        arxos_doc::Command::UpdateLayer {
            id: layer,
            name: Some("Renamed".into()),
            color: None,
            visible: None,
        },
    )
    .unwrap();
    file.save(&mut doc).unwrap();
    let mut h = open(&plan);
    assert_eq!(
        h.state().opening(),
        Some(false),
        "a stale drawing is never shown"
    );
    step_until_open(&mut h);
    assert!(h.state().ws.is_some());
}

#[test]
fn a_large_file_that_is_not_a_plan_is_told_and_the_open_plan_stays() {
    let dir = tempfile::tempdir().unwrap();
    let plan = plan_file(dir.path());
    let bad = dir.path().join("bad.arx");
    std::fs::write(&bad, b"this is not a plan").unwrap();
    let launch = Launch {
        open_in_background_from: 0,
        ..launch(&plan)
    };
    let mut h = Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .build_eframe(move |cc| EditorApp::new(cc, launch));
    step_until_open(&mut h);
    let ctx = h.ctx.clone();
    h.state_mut().open_path(&ctx, &bad);
    step_until_open(&mut h);
    h.get_by_label_contains("bad.arx");
    let ws = h.state().ws.as_ref().unwrap();
    assert_eq!(ws.path(), plan.as_path(), "the open plan stays open");
}
