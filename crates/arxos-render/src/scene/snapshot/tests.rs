//! Pictures written and read back: the same chunks, refused when damaged or foreign.

use arxos_doc::{Command, EditContext};

use super::*;

fn sample() -> arxos_doc::Document {
    arxos_doc::generate::sample_office(&EditContext::at("test", 0)).unwrap()
}

fn same_chunks(a: &Scene, b: &Scene) {
    let (ka, kb): (Vec<_>, Vec<_>) = (a.chunks.keys().collect(), b.chunks.keys().collect());
    assert_eq!(ka, kb);
    for (key, ca) in &a.chunks {
        let cb = &b.chunks[key];
        assert_eq!(ca.mesh, cb.mesh, "{key:?}");
        assert_eq!(ca.instances, cb.instances, "{key:?}");
        assert_eq!(ca.symbol_ranges, cb.symbol_ranges, "{key:?}");
        assert_eq!(ca.bounds, cb.bounds, "{key:?}");
    }
}

#[test]
fn a_picture_read_back_draws_the_same_chunks() {
    let doc = sample();
    let mut scene = Scene::from_document(&doc, Theme::light()).unwrap();
    let info = SnapshotInfo::of(&doc);
    assert_eq!(info.floors.len(), doc.floors().len());
    let bytes = scene.to_snapshot(&info);
    let mut back = Scene::from_snapshot(&bytes, Theme::light()).unwrap();
    assert!(back.is_snapshot() && !scene.is_snapshot());
    assert_eq!(back.snapshot_info(), Some(&info));
    same_chunks(&scene, &back);

    // Framed as the live canvas frames it: the whole plan, then a detail, per floor.
    let whole = View::fit(doc.extent().unwrap(), [1148, 750], 48.0);
    let detail = whole.zoomed_about(8.0, arxos_doc::Point::new(300.0, 200.0));
    for floor in std::iter::once(None).chain(info.floors.iter().cloned().map(Some)) {
        for view in [whole, detail] {
            scene.options.floor = floor.clone();
            back.options.floor = floor.clone();
            let picture = back.plan_frame(&doc, &view);
            assert!(!picture.chunks.is_empty());
            // Culling by chunk bounds may keep a chunk the index would drop, never the reverse.
            for k in scene.visible_chunks(&doc, &view) {
                assert!(picture.chunks.contains(k), "{k:?} missing from the picture");
            }
            if view == whole {
                assert_eq!(scene.plan_frame(&doc, &view).chunks, picture.chunks);
            }
        }
    }
}

#[test]
fn a_picture_honours_hidden_layers_and_becomes_live_on_the_first_change() {
    let mut doc = sample();
    let layer = doc.layers().keys().next().unwrap().clone();
    let scene = Scene::from_document(&doc, Theme::light()).unwrap();
    let mut back =
        Scene::from_snapshot(&scene.to_snapshot(&SnapshotInfo::of(&doc)), Theme::light()).unwrap();
    back.options.hidden_layers.insert(layer.clone());
    let view = View::fit(doc.extent().unwrap(), [800, 600], 48.0);
    let frame = back.plan_snapshot_frame(&view);
    assert!(frame.chunks.iter().all(|k| k.layer != layer));
    assert!(!frame.chunks.is_empty());

    let set = doc
        .apply(
            &EditContext::at("test", 1),
            Command::UpdateLayer {
                id: layer.clone(),
                name: None,
                color: None,
                visible: Some(false),
            },
        )
        .unwrap();
    back.options.hidden_layers.clear();
    back.apply_changes(&doc, &set);
    assert!(!back.is_snapshot(), "the document replaced the picture");
    assert_eq!(back.len(), doc.elements().count());
}

#[test]
fn damaged_truncated_or_foreign_bytes_are_refused_without_panicking() {
    let doc = sample();
    let scene = Scene::from_document(&doc, Theme::light()).unwrap();
    let bytes = scene.to_snapshot(&SnapshotInfo::of(&doc));
    let step = (bytes.len() / 97).max(1);
    for cut in (0..bytes.len()).step_by(step) {
        assert!(
            Scene::from_snapshot(&bytes[..cut], Theme::light()).is_err(),
            "cut at {cut}"
        );
    }
    for at in (0..bytes.len()).step_by(step) {
        let mut bad = bytes.clone();
        bad[at] ^= 0x40;
        assert!(
            Scene::from_snapshot(&bad, Theme::light()).is_err(),
            "flip at {at}"
        );
    }
    let mut other = Theme::light();
    other.wall = crate::theme::Rgba::parse("#ff0000").unwrap();
    let Err(err) = Scene::from_snapshot(&bytes, other) else {
        panic!("another theme's picture was accepted")
    };
    assert!(err.to_string().contains("another build or theme"), "{err}");
    assert!(Scene::from_snapshot(b"not a picture at all, just text", Theme::light()).is_err());
}

#[test]
fn an_inconsistent_picture_with_a_valid_checksum_is_refused() {
    // A picture whose checksum matches but whose contents lie (another writer's bug) must
    // still not reach the GPU with indices past its vertices.
    let doc = sample();
    let scene = Scene::from_document(&doc, Theme::light()).unwrap();
    let mut bytes = scene.to_snapshot(&SnapshotInfo::of(&doc));
    bytes.truncate(bytes.len() - TRAILER);
    let first_index = {
        // Find the first chunk's index list: walk the header as the reader does.
        let mut input = In {
            buf: &bytes,
            at: MAGIC.len() + 32,
        };
        input.str().unwrap();
        input.bounds().unwrap();
        for _ in 0..2 {
            for _ in 0..input.count().unwrap() {
                input.str().unwrap();
            }
        }
        input.count().unwrap();
        input.take(1).unwrap();
        input.str().unwrap();
        input.str().unwrap();
        input.i64().unwrap();
        input.i64().unwrap();
        input.bounds().unwrap();
        let v = input.count().unwrap();
        input.take(v * size_of::<Vertex>()).unwrap();
        assert!(input.count().unwrap() > 0);
        input.at
    };
    bytes[first_index..first_index + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    let sum: [u8; 32] = Sha256::digest(&bytes).into();
    bytes.extend_from_slice(&sum);
    let Err(err) = Scene::from_snapshot(&bytes, Theme::light()) else {
        panic!("a lying picture was accepted")
    };
    assert!(err.to_string().contains("index points past"), "{err}");
}
