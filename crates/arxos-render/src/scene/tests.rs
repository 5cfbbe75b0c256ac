//! Cache behaviour: what a change set re-tessellates.

use arxos_doc::{Command, EditContext, ElementKind, Geometry, NewElement, Point, Transform};

use super::*;
use crate::theme::Theme;

fn sample() -> Document {
    arxos_doc::generate::sample_office(&EditContext::at("test", 0)).unwrap()
}

fn electrical_layer(doc: &Document) -> LayerId {
    doc.layers()
        .values()
        .find(|l| l.system == BuildingSystem::Electrical)
        .unwrap()
        .id
        .clone()
}

#[test]
fn one_changed_element_retessellates_one_element() {
    let mut doc = sample();
    let mut scene = Scene::from_document(&doc, Theme::light()).unwrap();
    let all = scene.counters().tessellated_total;
    assert_eq!(all as usize, doc.elements().count());

    let outlet = doc.element_by_tag("outlet:R45-23").unwrap().id.clone();
    let changes = doc
        .apply(
            &EditContext::at("test", 1),
            Command::Move {
                ids: vec![outlet.clone()],
                dx: 500.0,
                dy: 0.0,
            },
        )
        .unwrap();
    assert_eq!(changes.updated, vec![outlet.clone()]);
    scene.apply_changes(&doc, &changes);
    let c = scene.counters();
    assert_eq!(c.tessellated_last, 1);
    assert_eq!(c.tessellated_total, all + 1);
    assert_eq!(c.chunks_rebuilt_last, 1);
    let (_, inst) = scene.element_draw(&outlet).unwrap().symbol.unwrap();
    let moved = doc.element(&outlet).unwrap().transform.x;
    assert!((f64::from(inst.position[0]) - moved).abs() < 1e-3);

    // Nothing changed: nothing is tessellated or re-joined.
    scene.apply_changes(&doc, &ChangeSet::default());
    assert_eq!(scene.counters().tessellated_last, 0);
    assert_eq!(scene.counters().chunks_rebuilt_last, 0);
}

#[test]
fn add_and_remove_follow_the_change_set() {
    let mut doc = sample();
    let mut scene = Scene::from_document(&doc, Theme::light()).unwrap();
    let n = scene.len();
    let wall = doc.element_by_tag("wall:ext-north").unwrap().clone();
    let new = NewElement::new(
        ElementKind::Wall,
        "wall:test",
        wall.floor.clone(),
        wall.layer.clone(),
        Geometry::Polyline {
            points: vec![Point::new(0.0, 0.0), Point::new(4_000.0, 0.0)],
        },
        Transform {
            x: 1_000.0,
            y: 30_000.0,
            rotation: 0.0,
        },
    );
    let ctx = EditContext::at("test", 1);
    let changes = doc.apply(&ctx, Command::Create(Box::new(new))).unwrap();
    scene.apply_changes(&doc, &changes);
    assert_eq!(scene.len(), n + 1);
    assert_eq!(scene.counters().tessellated_last, 1);
    let id = changes.added[0].clone();
    assert!(!scene.element_draw(&id).unwrap().mesh.is_empty());

    let changes = doc
        .apply(
            &ctx,
            Command::Delete {
                ids: vec![id.clone()],
            },
        )
        .unwrap();
    scene.apply_changes(&doc, &changes);
    assert_eq!(scene.len(), n);
    assert_eq!(scene.counters().tessellated_last, 0);
    assert!(scene.element_draw(&id).is_none());
}

#[test]
fn hiding_a_layer_retessellates_nothing_and_culls_its_chunks() {
    let doc = sample();
    let mut scene = Scene::from_document(&doc, Theme::light()).unwrap();
    let view = View::fit(doc.extent().unwrap(), [800, 500], 10.0);
    let before = scene.visible_chunks(&doc, &view).len();
    let electrical = electrical_layer(&doc);
    scene.options.hidden_layers.insert(electrical.clone());
    let after = scene.visible_chunks(&doc, &view);
    assert!(after.len() < before);
    assert!(after.iter().all(|k| k.layer != electrical));

    // A detail view draws fewer chunks than the whole plan.
    let detail = View::new(Point::new(3_000.0, 3_000.0), 0.2, [800, 500]);
    assert!(scene.visible_chunks(&doc, &detail).len() < after.len());
    // Another floor shows nothing of this one.
    scene.options.floor = Some(FloorId::new("nowhere"));
    assert!(scene.visible_chunks(&doc, &view).is_empty());
}

#[test]
fn the_culling_cache_follows_edits_and_visibility() {
    let mut doc = sample();
    let mut scene = Scene::from_document(&doc, Theme::light()).unwrap();
    let view = View::fit(doc.extent().unwrap(), [800, 500], 10.0);
    let first = scene.plan_frame(&doc, &view);
    assert_eq!(first.chunks.len(), scene.visible_chunks(&doc, &view).len());
    // A pan of a few pixels reuses the same answer.
    let again = scene.plan_frame(&doc, &view.panned_px(5.0, 0.0));
    assert!(std::sync::Arc::ptr_eq(&first.chunks, &again.chunks));

    // A pipe far from everything else (but in view) makes a new chunk, which the cached
    // answer gains without a new query, and loses when the pipe goes.
    let wall = doc.element_by_tag("wall:ext-north").unwrap().clone();
    let mech = doc
        .layers()
        .values()
        .find(|l| l.system == BuildingSystem::Plumbing)
        .unwrap()
        .id
        .clone();
    let pipe = NewElement::new(
        ElementKind::Pipe,
        "pipe:test",
        wall.floor.clone(),
        mech,
        Geometry::Polyline {
            points: vec![Point::new(0.0, 0.0), Point::new(1_000.0, 0.0)],
        },
        Transform {
            x: 1_000.0,
            y: 30_000.0,
            rotation: 0.0,
        },
    );
    let ctx = EditContext::at("test", 1);
    let changes = doc.apply(&ctx, Command::Create(Box::new(pipe))).unwrap();
    scene.apply_changes(&doc, &changes);
    let with_pipe = scene.plan_frame(&doc, &view);
    assert_eq!(with_pipe.chunks.len(), first.chunks.len() + 1);
    assert_eq!(
        with_pipe.chunks.to_vec(),
        scene
            .visible_chunks(&doc, &view)
            .into_iter()
            .cloned()
            .collect::<Vec<_>>()
    );
    let changes = doc
        .apply(
            &ctx,
            Command::Delete {
                ids: changes.added.clone(),
            },
        )
        .unwrap();
    scene.apply_changes(&doc, &changes);
    assert_eq!(
        scene.plan_frame(&doc, &view).chunks.len(),
        first.chunks.len()
    );

    // Hiding a layer re-culls.
    let arch = wall.layer.clone();
    scene.options.hidden_layers.insert(arch.clone());
    let hidden = scene.plan_frame(&doc, &view);
    assert!(hidden.chunks.iter().all(|k| k.layer != arch));
    // Zooming far in re-culls to fewer chunks.
    let detail = View::new(Point::new(3_000.0, 3_000.0), 0.5, [800, 500]);
    assert!(scene.plan_frame(&doc, &detail).chunks.len() < hidden.chunks.len());
}

#[test]
fn scenes_and_frames_can_cross_threads() {
    // The app keeps its scene behind a mutex shared with the paint callback.
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Scene>();
    assert_send_sync::<Frame>();
}

#[test]
fn every_kind_tessellates() {
    let doc = sample();
    let scene = Scene::from_document(&doc, Theme::light()).unwrap();
    for e in doc.elements() {
        let d = scene.element_draw(&e.id).unwrap();
        assert!(
            !d.mesh.is_empty() || d.symbol.is_some(),
            "{} draws nothing",
            e.tag
        );
        // Equipment at a point is instanced, not meshed.
        if matches!(e.geometry, Geometry::Point) && e.kind != ElementKind::Text {
            assert!(d.mesh.is_empty() && d.symbol.is_some(), "{}", e.tag);
        }
    }
    assert_eq!(scene.tess.failures(), 0);
}

#[test]
fn a_view_of_the_whole_plan_draws_what_the_area_index_finds() {
    let doc = sample();
    let mut scene = Scene::from_document(&doc, Theme::light()).unwrap();
    let electrical = electrical_layer(&doc);
    scene.options.hidden_layers.insert(electrical);
    let whole = View::fit(doc.extent().unwrap(), [800, 500], 10.0);
    let shortcut: Vec<ChunkKey> = scene
        .visible_chunks(&doc, &whole)
        .into_iter()
        .cloned()
        .collect();
    // The same answer through the index: an area that just misses nothing, asked per element.
    let area = cull_area(&whole);
    let filter = Filter::default();
    let mut by_index: Vec<ChunkKey> = doc
        .query_area(&area, &filter)
        .filter_map(|e| scene.elements.get(&e.id).map(|c| c.key.clone()))
        .filter(|k| !scene.options.hidden_layers.contains(&k.layer))
        .collect();
    by_index.sort();
    by_index.dedup();
    assert!(!shortcut.is_empty());
    assert_eq!(shortcut, by_index);
}
