//! Canvas frame costs on generated plans of 1k, 10k and 50k elements:
//! - `tessellate_all`: a scene built from scratch (what every frame would cost uncached);
//! - `unchanged_frame`: an empty change set plus culling for the whole-plan view;
//! - `query_area` / `cull`: the document's area query alone, and culling through it uncached
//!   (the worst frame: a view that left the culling cache's window);
//! - `panned_frame`: a steady 40 px-per-frame pan (culling cache re-queried as it leaves
//!   its window);
//! - `one_edited`: one element moved, its re-tessellation, its chunk re-joined, culling;
//! - `gpu/*`: whole offscreen frames (upload, draw, rasterize, read back) on the adapter.
//!
//! Run: `cargo bench -p arxos-render --bench render`.

#![allow(missing_docs)] // criterion's macros generate undocumented items

use std::hint::black_box;
use std::time::{Duration, Instant};

use arxos_doc::generate::{GenerateOptions, generate};
use arxos_doc::{ChangeSet, Command, Document, EditContext, ElementKind};
use arxos_render::{Offscreen, Scene, Theme, View};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

fn plan(elements: usize) -> Document {
    generate(
        &GenerateOptions {
            elements,
            floors: 1,
            seed: 7,
            name: format!("bench {elements}"),
        },
        &EditContext::at("bench", 0),
        |_, _| {},
    )
    .expect("generate plan")
}

fn frames(c: &mut Criterion) {
    let mut group = c.benchmark_group("render");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(3));
    for n in [1_000, 10_000, 50_000] {
        let mut doc = plan(n);
        let view = View::fit(doc.extent().expect("elements"), [1600, 1000], 20.0);
        let mut scene = Scene::from_document(&doc, Theme::light()).expect("scene");

        group.bench_with_input(BenchmarkId::new("tessellate_all", n), &n, |b, _| {
            b.iter(|| scene.rebuild(black_box(&doc)));
        });
        let area = view.visible_bounds();
        let all = arxos_doc::Filter::default();
        group.bench_with_input(BenchmarkId::new("query_area", n), &n, |b, _| {
            b.iter(|| black_box(doc.query_area(&area, &all).count()));
        });
        group.bench_with_input(BenchmarkId::new("cull", n), &n, |b, _| {
            b.iter(|| black_box(scene.visible_chunks(&doc, &view).len()));
        });
        group.bench_with_input(BenchmarkId::new("unchanged_frame", n), &n, |b, _| {
            b.iter(|| {
                scene.apply_changes(&doc, &ChangeSet::default());
                black_box(scene.plan_frame(&doc, &view).chunks.len())
            });
        });
        // A steady pan of 40 px a frame across 2,000 px, then back: the culling cache is
        // re-queried whenever the view leaves its guard band, so this is the amortised cost.
        let mut step = 0u32;
        group.bench_with_input(BenchmarkId::new("panned_frame", n), &n, |b, _| {
            b.iter(|| {
                step = (step + 1) % 50;
                let panned = view.panned_px(-40.0 * f64::from(step), 0.0);
                scene.apply_changes(&doc, &ChangeSet::default());
                black_box(scene.plan_frame(&doc, &panned).chunks.len())
            });
        });
        let target = doc
            .elements()
            .find(|e| e.kind == ElementKind::Outlet)
            .expect("an outlet")
            .id
            .clone();
        let ctx = EditContext::at("bench", 1);
        let mut step = 10.0;
        group.bench_with_input(BenchmarkId::new("one_edited", n), &n, |b, _| {
            b.iter_custom(|iters| {
                let mut spent = Duration::ZERO;
                for _ in 0..iters {
                    // The document edit is not canvas work: only the scene update is timed.
                    step = -step;
                    let cmd = Command::Move {
                        ids: vec![target.clone()],
                        dx: step,
                        dy: 0.0,
                    };
                    let changes = doc.apply(&ctx, cmd).expect("move");
                    let t = Instant::now();
                    scene.apply_changes(&doc, &changes);
                    black_box(scene.plan_frame(&doc, &view).chunks.len());
                    spent += t.elapsed();
                    assert_eq!(scene.counters().tessellated_last, 1);
                }
                spent
            });
        });
    }
    group.finish();
}

/// Whole offscreen frames on whatever adapter there is (lavapipe here): prepare, paint,
/// rasterize with 4× MSAA, and read back 1280×800 pixels. Skipped without an adapter.
fn gpu_frames(c: &mut Criterion) {
    let mut scene = Scene::new(Theme::light()).expect("scene");
    let mut off = match Offscreen::new(&mut scene) {
        Ok(off) => off,
        Err(e) => {
            eprintln!("skipping GPU frames: {e}");
            return;
        }
    };
    let mut group = c.benchmark_group("gpu");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(3));
    // 50k is left out: one software-rasterized frame of it takes seconds, and the setup of
    // every size runs even when a filter skips the group.
    for n in [1_000, 10_000] {
        let doc = plan(n);
        scene.rebuild(&doc);
        let view = View::fit(doc.extent().expect("elements"), [1280, 800], 20.0);
        off.render(&mut scene, &doc, &view).expect("first frame");
        group.bench_with_input(BenchmarkId::new("unchanged_frame", n), &n, |b, _| {
            b.iter(|| off.render(&mut scene, &doc, &view).expect("frame"));
        });
        let mut dx = 0.0;
        group.bench_with_input(BenchmarkId::new("panned_frame", n), &n, |b, _| {
            b.iter(|| {
                dx = if dx > 0.0 { -40.0 } else { 40.0 };
                off.render(&mut scene, &doc, &view.panned_px(dx, 0.0))
                    .expect("frame")
            });
        });
    }
    group.finish();
}

criterion_group!(benches, frames, gpu_frames);
criterion_main!(benches);
