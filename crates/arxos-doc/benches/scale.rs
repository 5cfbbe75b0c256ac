//! How the document core grows with plan size: 1,000, 10,000 and 50,000 elements. Every
//! figure should grow at most linearly; the targets (issue #9) are for 50,000 elements:
//! open + read model ≤ 300 ms (also after a whole-plan edit was appended), a whole-plan
//! command ≤ 1 s, `generate` ≤ 2 s, SVGX import ≤ 2 s, a relay-style replay of the stored
//! snapshot and change log ≤ 1 s.
//!
//! Run: `cargo bench -p arxos-doc --bench scale -- --warm-up-time 1 --measurement-time 3`
//! (add a filter such as `50000` to run one size).

#![allow(clippy::unwrap_used)] // benchmark setup

use std::hint::black_box;

use arxos_doc::generate::{GenerateOptions, generate};
use arxos_doc::svgx::{ExportOptions, export_svgx, import_svg};
use arxos_doc::{Command, Document, EditContext, ElementId, LayerId};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

const SIZES: [usize; 3] = [1_000, 10_000, 50_000];

fn plan(n: usize) -> Document {
    generate(
        &GenerateOptions {
            elements: n,
            floors: 4,
            seed: 1,
            name: "bench".into(),
        },
        &EditContext::at("bench", 0),
        |_, _| {},
    )
    .unwrap()
}

fn ids(doc: &Document) -> Vec<ElementId> {
    doc.elements().map(|e| e.id.clone()).collect()
}

fn move_all(doc: &Document) -> Command {
    Command::Move {
        ids: ids(doc),
        dx: 100.0,
        dy: -50.0,
    }
}

/// The saved plan of `n` elements, and the change chunk of a Move of all of them.
fn saved(n: usize) -> (Vec<u8>, Vec<u8>) {
    let mut doc = plan(n);
    let bytes = doc.save();
    let mut edited = Document::load(&bytes).unwrap();
    let _ = edited.save_incremental();
    edited
        .apply(&EditContext::at("bench", 1), move_all(&edited))
        .unwrap();
    (bytes, edited.save_incremental())
}

// Setup runs inside each closure: criterion calls only the closures a filter selects.
fn benches(c: &mut Criterion) {
    let ctx = EditContext::at("bench", 1);
    for n in SIZES {
        let mut g = c.benchmark_group(format!("{n} elements"));
        g.sample_size(10);
        g.bench_function("generate", |b| b.iter(|| plan(black_box(n))));
        g.bench_function("open + read model", |b| {
            let (bytes, _) = saved(n);
            b.iter(|| Document::load(black_box(&bytes)).unwrap());
        });
        g.bench_function("apply Move of every element", |b| {
            let (bytes, _) = saved(n);
            b.iter_batched(
                || {
                    let d = Document::load(&bytes).unwrap();
                    let cmd = move_all(&d);
                    (d, cmd)
                },
                |(mut d, cmd)| d.apply(&ctx, cmd).unwrap(),
                BatchSize::LargeInput,
            );
        });
        g.bench_function("apply SetLayer of every element", |b| {
            let (bytes, _) = saved(n);
            b.iter_batched(
                || {
                    let d = Document::load(&bytes).unwrap();
                    let cmd = Command::SetLayer {
                        ids: ids(&d),
                        layer: LayerId::new("annotation"),
                    };
                    (d, cmd)
                },
                |(mut d, cmd)| d.apply(&ctx, cmd).unwrap(),
                BatchSize::LargeInput,
            );
        });
        // The file after that edit was appended: compacted body + one big change chunk.
        g.bench_function("open + read model after a whole-plan edit", |b| {
            let (mut bytes, tail) = saved(n);
            println!(
                "{n}: body {} bytes, whole-plan change {} bytes",
                bytes.len(),
                tail.len()
            );
            bytes.extend_from_slice(&tail);
            b.iter(|| Document::load(black_box(&bytes)).unwrap());
        });
        // What a relay does at restart: load the snapshot, then replay the change log.
        g.bench_function("replay snapshot + whole-plan change", |b| {
            let (bytes, tail) = saved(n);
            b.iter(|| {
                let mut am = arxos_doc::automerge::Automerge::new();
                am.load_incremental(&bytes).unwrap();
                am.load_incremental(&tail).unwrap();
                am
            });
        });
        g.bench_function("save full", |b| {
            let mut doc = plan(n);
            b.iter(|| doc.save().len());
        });
        g.bench_function("import its SVGX export", |b| {
            let svg = export_svgx(&plan(n), &ExportOptions::default());
            b.iter(|| import_svg(black_box(&svg), "bench", &ctx).unwrap());
        });
        g.finish();
    }
}

criterion_group!(scale_benches, benches);
criterion_main!(scale_benches);
