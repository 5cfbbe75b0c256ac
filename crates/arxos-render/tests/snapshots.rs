//! Snapshot tests: the bundled sample plan rendered offscreen and compared with committed PNGs
//! under `tests/snapshots/`.
//!
//! Without a GPU adapter these tests print why and pass, unless `ARXOS_REQUIRE_GPU=1`, in
//! which case they fail. A missing snapshot (or `ARXOS_UPDATE_SNAPSHOTS=1`) is written and the
//! test passes; a mismatch writes `<name>.new.png` and `<name>.diff.png` (ignored by git) and
//! fails.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, OnceLock};

use arxos_doc::{BuildingSystem, ChangeSet, Command, Document, EditContext, Point};
use arxos_render::{Offscreen, Scene, SceneOptions, Theme, View, encode_png};
use image::{Rgba, RgbaImage};

/// Channel difference tolerated per pixel (anti-aliasing differs a little between drivers).
const CHANNEL_TOLERANCE: u8 = 24;
/// Share of pixels allowed beyond that tolerance.
const PIXEL_BUDGET: f64 = 0.002;

const SAMPLE_SVGX: &str = include_str!("../../../assets/sample-office.svgx");

fn sample() -> Document {
    let (doc, _) =
        arxos_doc::svgx::import_svg(SAMPLE_SVGX, "sample-office", &EditContext::at("test", 0))
            .expect("the bundled sample imports");
    doc
}

/// One offscreen GPU shared by the tests of this binary (opening a device is slow on the
/// software rasterizer), or `None` with the reason printed when there is no adapter.
fn gpu() -> Option<MutexGuard<'static, (Offscreen, Scene)>> {
    static GPU: OnceLock<Option<Mutex<(Offscreen, Scene)>>> = OnceLock::new();
    let cell = GPU.get_or_init(|| {
        let mut scene = Scene::new(Theme::light()).expect("scene");
        match Offscreen::new(&mut scene) {
            Ok(off) => {
                let info = &off.gpu().adapter_info;
                eprintln!(
                    "rendering on {} ({:?}), {}x MSAA",
                    info.name,
                    info.backend,
                    off.gpu().sample_count
                );
                Some(Mutex::new((off, scene)))
            }
            Err(e) => {
                assert!(
                    std::env::var("ARXOS_REQUIRE_GPU").as_deref() != Ok("1"),
                    "ARXOS_REQUIRE_GPU=1 but {e}"
                );
                eprintln!("skipping GPU test: {e}");
                None
            }
        }
    });
    cell.as_ref()
        .map(|m| m.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
}

fn snapshot_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots")
}

/// Compares `img` with the committed snapshot `name`.
fn check(name: &str, img: &RgbaImage) {
    let dir = snapshot_dir();
    let path = dir.join(format!("{name}.png"));
    let new_path = dir.join(format!("{name}.new.png"));
    let diff_path = dir.join(format!("{name}.diff.png"));
    let _ = std::fs::remove_file(&new_path);
    let _ = std::fs::remove_file(&diff_path);
    let update = std::env::var("ARXOS_UPDATE_SNAPSHOTS").as_deref() == Ok("1");
    if update || !path.exists() {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(&path, encode_png(img).unwrap()).unwrap();
        eprintln!("wrote snapshot {}", path.display());
        return;
    }
    let old = image::open(&path).unwrap().to_rgba8();
    let mismatch = if old.dimensions() == img.dimensions() {
        let mut diff = RgbaImage::new(img.width(), img.height());
        let mut bad = 0usize;
        for (x, y, p) in img.enumerate_pixels() {
            let q = old.get_pixel(x, y);
            let off =
                p.0.iter()
                    .zip(q.0)
                    .any(|(a, b)| a.abs_diff(b) > CHANNEL_TOLERANCE);
            if off {
                bad += 1;
            }
            diff.put_pixel(
                x,
                y,
                if off {
                    Rgba([255, 0, 0, 255])
                } else {
                    // The old image, faded, so the red stands out in context.
                    Rgba(q.0.map(|c| 128 + c / 2))
                },
            );
        }
        let share = bad as f64 / f64::from(img.width() * img.height());
        (share > PIXEL_BUDGET).then(|| {
            diff.save(&diff_path).unwrap();
            format!("{bad} pixels ({:.3}%) differ", share * 100.0)
        })
    } else {
        Some(format!(
            "size {:?} != snapshot {:?}",
            img.dimensions(),
            old.dimensions()
        ))
    };
    if let Some(why) = mismatch {
        std::fs::write(&new_path, encode_png(img).unwrap()).unwrap();
        panic!(
            "snapshot {name}: {why}; see {} and {}",
            new_path.display(),
            diff_path.display()
        );
    }
}

fn render(doc: &Document, options: SceneOptions, view: &View) -> Option<RgbaImage> {
    let mut guard = gpu()?;
    let (off, scene) = &mut *guard;
    scene.rebuild(doc);
    scene.options = options;
    Some(off.render(scene, doc, view).expect("render"))
}

fn whole_plan(doc: &Document) -> View {
    View::fit(doc.extent().expect("plan has elements"), [1400, 860], 24.0)
}

#[test]
fn whole_sample_plan() {
    let doc = sample();
    if let Some(img) = render(&doc, SceneOptions::default(), &whole_plan(&doc)) {
        check("sample-plan", &img);
    }
}

#[test]
fn sample_plan_with_electrical_hidden() {
    let doc = sample();
    let electrical = doc
        .layers()
        .values()
        .find(|l| l.system == BuildingSystem::Electrical)
        .expect("sample has an electrical layer")
        .id
        .clone();
    let options = SceneOptions {
        hidden_layers: [electrical].into(),
        ..SceneOptions::default()
    };
    if let Some(img) = render(&doc, options, &whole_plan(&doc)) {
        check("sample-plan-no-electrical", &img);
    }
}

#[test]
fn zoomed_detail() {
    let doc = sample();
    // Room 01 at 1:100-ish: its label at true size, door and swing, outlets, a switch,
    // lights, the branch duct and the corridor main.
    let view = View::new(Point::new(3_000.0, 7_400.0), 0.1, [1000, 640]);
    if let Some(img) = render(&doc, SceneOptions::default(), &view) {
        check("sample-detail", &img);
    }
}

#[test]
fn one_edit_uploads_one_chunk() {
    let mut doc = sample();
    let Some(mut guard) = gpu() else { return };
    let (off, scene) = &mut *guard;
    scene.rebuild(&doc);
    scene.options = SceneOptions::default();
    let view = whole_plan(&doc);
    off.render(scene, &doc, &view).expect("render");
    assert!(off.renderer().stats().chunks_uploaded > 1);

    // An unchanged frame uploads nothing but the view uniforms.
    scene.apply_changes(&doc, &ChangeSet::default());
    off.render(scene, &doc, &view).expect("render");
    assert_eq!(off.renderer().stats().chunks_uploaded, 0);

    let light = doc.element_by_tag("light:R01-1").unwrap().id.clone();
    let changes = doc
        .apply(
            &EditContext::at("test", 1),
            Command::Move {
                ids: vec![light],
                dx: 300.0,
                dy: 0.0,
            },
        )
        .unwrap();
    scene.apply_changes(&doc, &changes);
    assert_eq!(scene.counters().tessellated_last, 1);
    off.render(scene, &doc, &view).expect("render");
    assert_eq!(off.renderer().stats().chunks_uploaded, 1);
}
