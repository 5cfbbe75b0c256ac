//! Document-core benchmarks on a 50,000-element plan: typed edits, area queries, conflict
//! scans, saving and loading, and SVGX import of the sample.
//!
//! Run: `cargo bench -p arxos-doc --bench doc`.

#![allow(clippy::unwrap_used)] // benchmark setup

use std::hint::black_box;

use arxos_doc::conflict::{ConflictIndex, LocalSide};
use arxos_doc::generate::{GenerateOptions, generate};
use arxos_doc::{
    Bounds, Command, Document, EditContext, ElementKind, Filter, Point, PropValue, prop,
};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

fn big() -> Document {
    generate(
        &GenerateOptions {
            elements: 50_000,
            floors: 4,
            seed: 1,
            name: "bench".into(),
        },
        &EditContext::at("bench", 0),
        |_, _| {},
    )
    .unwrap()
}

#[allow(clippy::too_many_lines)] // one benchmark after another over one shared plan
fn benches(c: &mut Criterion) {
    let mut doc = big();
    let ctx = EditContext::at("bench", 1);
    let outlets: Vec<_> = doc
        .query(&Filter {
            kind: Some(ElementKind::Outlet),
            ..Filter::default()
        })
        .map(|e| e.id.clone())
        .take(1000)
        .collect();

    let mut i = 0usize;
    c.bench_function("apply SetProperties (50k plan)", |b| {
        b.iter(|| {
            i += 1;
            let id = outlets[i % outlets.len()].clone();
            doc.apply(
                &ctx,
                Command::SetProperties {
                    id,
                    set: vec![("voltage".into(), prop(PropValue::Number(i as f64), None))],
                    remove: vec![],
                },
            )
            .unwrap()
        });
    });
    c.bench_function("apply Move (50k plan)", |b| {
        b.iter(|| {
            i += 1;
            let id = outlets[i % outlets.len()].clone();
            doc.apply(
                &ctx,
                Command::Move {
                    ids: vec![id],
                    dx: 1.0,
                    dy: 0.0,
                },
            )
            .unwrap()
        });
    });
    let mut remote = doc.fork();
    c.bench_function("merge one remote edit (50k plan)", |b| {
        b.iter_batched(
            || {
                i += 1;
                let id = outlets[i % outlets.len()].clone();
                remote
                    .apply(
                        &ctx,
                        Command::Move {
                            ids: vec![id],
                            dx: 0.0,
                            dy: 1.0,
                        },
                    )
                    .unwrap();
                remote.save_incremental()
            },
            |bytes| doc.load_incremental(&bytes).unwrap(),
            BatchSize::SmallInput,
        );
    });
    let area = Bounds::from_corners(
        Point::new(20_000.0, 10_000.0),
        Point::new(30_000.0, 20_000.0),
    );
    c.bench_function("query_area 10x10 m (50k plan)", |b| {
        b.iter(|| doc.query_area(black_box(&area), &Filter::default()).count());
    });
    c.bench_function("element_by_tag (50k plan)", |b| {
        b.iter(|| doc.element_by_tag(black_box("outlet:T7-R45-3")).is_ok());
    });

    let mut g = c.benchmark_group("whole document");
    g.sample_size(10);
    g.bench_function("conflict full scan (50k plan)", |b| {
        b.iter(|| ConflictIndex::scan(&mut doc, LocalSide::Winner).len());
    });
    let bytes = doc.save();
    println!("50k plan: {} bytes saved", bytes.len());
    g.bench_function("save full (50k plan)", |b| b.iter(|| doc.save().len()));
    g.bench_function("load (50k plan)", |b| {
        b.iter(|| Document::load(black_box(&bytes)).unwrap());
    });
    g.bench_function("edit + save_incremental (50k plan)", |b| {
        b.iter(|| {
            i += 1;
            doc.apply(
                &ctx,
                Command::MoveTo {
                    id: outlets[i % outlets.len()].clone(),
                    x: i as f64,
                    y: 0.0,
                },
            )
            .unwrap();
            doc.save_incremental().len()
        });
    });
    let sample = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../assets/sample-office.svgx"
    ))
    .unwrap();
    g.bench_function("import sample SVGX (1,128 elements)", |b| {
        b.iter(|| arxos_doc::svgx::import_svg(&sample, "sample", &ctx).unwrap());
    });
    g.finish();
}

criterion_group!(doc_benches, benches);
criterion_main!(doc_benches);
