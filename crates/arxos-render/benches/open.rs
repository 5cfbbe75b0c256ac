//! Opening a plan in the editor (what it does before its first frame), from disk to the first frame's draw list, on generated plans
//! of 1k, 10k and 50k elements: the file read and the read model (`PlanFile::open`), the
//! canvas scene (every element tessellated), and the first frame planned (culling through the
//! area index). The GPU upload of that first frame is measured by `arxos-render`'s
//! `gpu/*` benches. Also reports the resident memory with the 50k plan and its scene held.
//!
//! Then the same first frame from the drawing cached by an earlier run (`SceneCache`): the
//! file's digest, the cached picture read and checked, and the first frame planned: what the
//! editor shows while the plan itself loads.
//!
//! Run: `cargo bench -p arxos-render --bench open` (a bench binary, not criterion: each
//! figure is the median of 5 cold opens, and criterion's statistics add nothing to that).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use arxos_doc::EditContext;
use arxos_doc::generate::{GenerateOptions, generate};
use arxos_render::{Scene, SceneCache, SnapshotInfo, Theme, View};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

fn main() {
    let dir = tempfile::tempdir().expect("scratch dir");
    println!(
        "elements | open file + read model | scene (tessellate all) | first frame plan | total"
    );
    for n in [1_000, 10_000, 50_000] {
        let path = dir.path().join(format!("plan-{n}.arx"));
        let mut doc = generate(
            &GenerateOptions {
                elements: n,
                floors: 1,
                seed: 7,
                name: format!("bench {n}"),
            },
            &EditContext::at("bench", 0),
            |_, _| {},
        )
        .expect("generate");
        arxos_doc::file::PlanFile::create(&path, &mut doc).expect("save");
        drop(doc);
        let (mut open, mut scene_t, mut frame_t, mut total) = (vec![], vec![], vec![], vec![]);
        let mut keep = None;
        for _ in 0..5 {
            let t0 = Instant::now();
            let (_file, doc) = arxos_doc::file::PlanFile::open(&path).expect("open");
            let t1 = Instant::now();
            let mut scene = Scene::from_document(&doc, Theme::light()).expect("scene");
            let t2 = Instant::now();
            let view = View::fit(doc.extent().expect("elements"), [1148, 750], 48.0);
            let frame = scene.plan_frame(&doc, &view);
            let t3 = Instant::now();
            assert!(!frame.chunks.is_empty());
            open.push(t1 - t0);
            scene_t.push(t2 - t1);
            frame_t.push(t3 - t2);
            total.push(t3 - t0);
            keep = Some((doc, scene));
        }
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!(
            "{n:>8} | {:>8.1} ms | {:>8.1} ms | {:>6.2} ms | {:>8.1} ms",
            ms(median(open)),
            ms(median(scene_t)),
            ms(median(frame_t)),
            ms(median(total))
        );
        let (cached, bytes) = from_cache(&path, dir.path(), keep.as_ref().expect("opened"));
        println!(
            "{n:>8} | from the cached drawing ({:.1} MB): digest {:.1} ms, picture {:.1} ms, first frame {:.2} ms, total {:.1} ms",
            bytes as f64 / 1e6,
            ms(cached[0]),
            ms(cached[1]),
            ms(cached[2]),
            ms(cached[0] + cached[1] + cached[2]),
        );
        if n == 50_000
            && let Some(mb) = rss_mb()
        {
            println!("resident memory with the 50k plan and its scene open: {mb:.0} MB");
        }
        drop(keep);
    }
}

/// Stores the opened plan's drawing, then times the cached first frame 5 times: medians of the
/// digest, the picture read, and the frame plan; and the entry's size.
fn from_cache(
    path: &std::path::Path,
    dir: &std::path::Path,
    (doc, scene): &(arxos_doc::Document, Scene),
) -> ([Duration; 3], u64) {
    let cache = SceneCache::new(dir.join("scenes"));
    let digest = arxos_doc::file::content_digest(path).expect("digest");
    cache
        .store(&digest, scene, &SnapshotInfo::of(doc))
        .expect("store");
    let (mut d, mut p, mut f) = (vec![], vec![], vec![]);
    for _ in 0..5 {
        let t0 = Instant::now();
        let digest = arxos_doc::file::content_digest(path).expect("digest");
        let t1 = Instant::now();
        let mut picture = cache.load(&digest, &Theme::light()).expect("cached");
        let t2 = Instant::now();
        let extent = picture
            .snapshot_info()
            .and_then(|i| i.extent)
            .expect("extent");
        let frame = picture.plan_frame(doc, &View::fit(extent, [1148, 750], 48.0));
        let t3 = Instant::now();
        assert!(!frame.chunks.is_empty());
        d.push(t1 - t0);
        p.push(t2 - t1);
        f.push(t3 - t2);
    }
    let size = std::fs::read_dir(dir.join("scenes"))
        .expect("cache dir")
        .filter_map(Result::ok)
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .max()
        .unwrap_or(0);
    ([median(d), median(p), median(f)], size)
}
