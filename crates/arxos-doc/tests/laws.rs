//! Property tests of the two laws the product stands on:
//! 1. export → import is lossless;
//! 2. replicas that exchange all their changes, in any order, reach identical documents.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use std::collections::BTreeMap;

use arxos_doc::svgx::{ExportOptions, export_svgx, import_svg};
use arxos_doc::{
    Command, Document, EditContext, Element, ElementId, ElementKind, FloorId, Geometry, LayerId,
    NewElement, Point, PropValue, Style, Transform, ZPosition, prop,
};
use proptest::prelude::*;

fn ctx(author: &str) -> EditContext {
    EditContext::at(author, 1_700_000_000_000)
}

fn finite() -> impl Strategy<Value = f64> {
    prop_oneof![
        -1e7..1e7f64,
        (-100_000i64..100_000).prop_map(|i| i as f64),
        Just(0.1 + 0.2),
        Just(1e-9),
    ]
}

fn positive() -> impl Strategy<Value = f64> {
    prop_oneof![0.001..1e6f64, (1i64..10_000).prop_map(|i| i as f64)]
}

fn text() -> impl Strategy<Value = String> {
    // Markup characters, quotes, whitespace of every kind, non-ASCII.
    "[a-zA-Z0-9 <>&\"'\t\n\r=.é漢😀-]{0,16}"
}

fn geometry() -> impl Strategy<Value = Geometry> {
    let pts = |min| prop::collection::vec((finite(), finite()), min..6);
    prop_oneof![
        Just(Geometry::Point),
        pts(2).prop_map(|p| Geometry::Polyline {
            points: p.into_iter().map(|(x, y)| Point::new(x, y)).collect()
        }),
        pts(3).prop_map(|p| Geometry::Polygon {
            points: p.into_iter().map(|(x, y)| Point::new(x, y)).collect()
        }),
        (positive(), positive()).prop_map(|(width, height)| Geometry::Rect { width, height }),
        positive().prop_map(|radius| Geometry::Circle { radius }),
        (finite(), finite(), finite(), finite()).prop_map(|(a, b, c, d)| Geometry::Path {
            d: format!("M {a} {b} L {c} {d} Q {a} {d} {c} {b} Z")
        }),
    ]
}

fn value() -> impl Strategy<Value = PropValue> {
    prop_oneof![
        finite().prop_map(PropValue::Number),
        text().prop_map(PropValue::Text),
        any::<bool>().prop_map(PropValue::Bool),
    ]
}

#[derive(Clone, Debug)]
struct Spec {
    kind: ElementKind,
    floor: usize,
    layer: usize,
    geometry: Geometry,
    transform: Transform,
    style: Style,
    text: Option<String>,
    props: Vec<(String, PropValue, Option<String>)>,
    host: Option<usize>,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        prop::sample::select(ElementKind::ALL.to_vec()),
        0..2usize,
        0..6usize,
        geometry(),
        (finite(), finite(), 0.0..360.0f64),
        (
            prop::option::of("#[0-9a-f]{6}"),
            prop::option::of("#[0-9a-f]{6}|none"),
            prop::option::of(positive()),
        ),
        prop::option::of(text()),
        prop::collection::vec(
            (
                "[a-z][a-z0-9_-]{0,8}",
                value(),
                prop::option::of("[A-Za-z/0-9]{1,4}"),
            ),
            0..4,
        ),
        prop::option::of(0..20usize),
    )
        .prop_map(
            |(
                kind,
                floor,
                layer,
                geometry,
                (x, y, rotation),
                (stroke, fill, sw),
                text,
                props,
                host,
            )| {
                Spec {
                    kind,
                    floor,
                    layer,
                    geometry,
                    transform: Transform { x, y, rotation },
                    style: Style {
                        stroke,
                        fill,
                        stroke_width: sw,
                    },
                    text,
                    props,
                    host,
                }
            },
        )
}

/// Builds a valid plan from specs (known property names get the right type).
fn build(specs: &[Spec], name: &str) -> Document {
    let mut doc = Document::new_plan(name, &ctx("gen")).unwrap();
    doc.apply(
        &ctx("gen"),
        Command::AddFloor {
            id: FloorId::new("level-2"),
            name: "Level <2> & \"up\"".into(),
            elevation_mm: 3600.5,
            order: 2,
        },
    )
    .unwrap();
    let layers: Vec<LayerId> = doc.layers().keys().cloned().collect();
    let floors = [FloorId::new("level-1"), FloorId::new("level-2")];
    let mut walls: Vec<ElementId> = Vec::new();
    for (i, s) in specs.iter().enumerate() {
        let mut n = NewElement::new(
            s.kind,
            format!("{}:E{i}", s.kind),
            floors[s.floor].clone(),
            layers[s.layer % layers.len()].clone(),
            s.geometry.clone(),
            s.transform,
        );
        n.style = s.style.clone();
        n.text.clone_from(&s.text);
        for (k, v, u) in &s.props {
            let v = match arxos_doc::props::known(k) {
                Some((arxos_doc::props::PropType::Number, _)) => PropValue::Number(1.5),
                Some((arxos_doc::props::PropType::Text, _)) => PropValue::Text("x".into()),
                Some((arxos_doc::props::PropType::Bool, _)) => PropValue::Bool(true),
                None => v.clone(),
            };
            n = n.with_prop(k, v, u.as_deref());
        }
        if let (Some(h), false) = (s.host, walls.is_empty()) {
            n = n.with_ref("host", walls[h % walls.len()].clone());
        }
        let set = doc
            .apply(&ctx("gen"), Command::Create(Box::new(n)))
            .unwrap();
        if s.kind == ElementKind::Wall {
            walls.push(set.added[0].clone());
        }
    }
    doc
}

fn snapshot(
    doc: &Document,
) -> (
    String,
    String,
    BTreeMap<ElementId, Element>,
    Vec<String>,
    Vec<String>,
) {
    (
        doc.meta().name.clone(),
        doc.meta().units.clone(),
        doc.elements().map(|e| (e.id.clone(), e.clone())).collect(),
        doc.floors().values().map(|f| format!("{f:?}")).collect(),
        doc.layers().values().map(|l| format!("{l:?}")).collect(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn export_then_import_is_lossless(specs in prop::collection::vec(spec(), 0..25), name in text()) {
        let doc = build(&specs, &name);
        let svg = export_svgx(&doc, &ExportOptions::default());
        let (back, report) = import_svg(&svg, "fallback", &ctx("importer")).unwrap();
        prop_assert!(report.warnings.is_empty(), "{:?}", report.warnings);
        prop_assert_eq!(report.plain_paths, 0);
        prop_assert_eq!(snapshot(&back), snapshot(&doc));
        // And the second export is byte-identical.
        prop_assert_eq!(export_svgx(&back, &ExportOptions::default()), svg);
    }
}

/// One random edit on a replica, expressed against the shared base elements.
#[derive(Clone, Debug)]
enum Op {
    SetProp(usize, String, f64),
    Move(usize, f64, f64),
    Delete(usize),
    Restore(usize),
    Create(usize),
    Retag(usize, usize),
    Reorder(usize, bool),
    Rotate(usize, f64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (
            0..8usize,
            prop::sample::select(vec!["voltage", "amperage", "label"]),
            finite()
        )
            .prop_map(|(i, k, v)| Op::SetProp(i, k.to_owned(), v)),
        (0..8usize, finite(), finite()).prop_map(|(i, x, y)| Op::Move(i, x, y)),
        (0..8usize).prop_map(Op::Delete),
        (0..8usize).prop_map(Op::Restore),
        (0..1000usize).prop_map(Op::Create),
        (0..8usize, 0..4usize).prop_map(|(i, t)| Op::Retag(i, t)),
        (0..8usize, any::<bool>()).prop_map(|(i, top)| Op::Reorder(i, top)),
        (0..8usize, 0.0..360.0f64).prop_map(|(i, r)| Op::Rotate(i, r)),
    ]
}

fn apply_op(doc: &mut Document, base: &[ElementId], author: &str, op: &Op) {
    let id = |i: usize| base[i % base.len()].clone();
    let cmd = match op {
        Op::SetProp(i, k, v) => Command::SetProperties {
            id: id(*i),
            set: vec![(k.clone(), prop(PropValue::Number(*v), None))],
            remove: vec![],
        },
        Op::Move(i, x, y) => Command::MoveTo {
            id: id(*i),
            x: *x,
            y: *y,
        },
        Op::Delete(i) => Command::Delete { ids: vec![id(*i)] },
        Op::Restore(i) => Command::Restore { ids: vec![id(*i)] },
        Op::Create(n) => Command::Create(Box::new(NewElement::new(
            ElementKind::Light,
            format!("light:{author}-{n}"),
            FloorId::new("level-1"),
            LayerId::new("electrical"),
            Geometry::Point,
            Transform::default(),
        ))),
        Op::Retag(i, t) => Command::SetTag {
            id: id(*i),
            tag: format!("outlet:shared-{t}"),
        },
        Op::Reorder(i, top) => Command::Reorder {
            id: id(*i),
            to: if *top {
                ZPosition::Top
            } else {
                ZPosition::Bottom
            },
        },
        Op::Rotate(i, r) => Command::Rotate {
            id: id(*i),
            rotation_deg: *r,
        },
    };
    // Invalid edits (deleted target, taken tag) are refused; replicas just skip them.
    let _ = doc.apply(&ctx(author), cmd);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn replicas_converge_in_any_merge_order(
        replicas in 2..=4usize,
        ops in prop::collection::vec(prop::collection::vec(op(), 0..12), 4),
        orders in prop::collection::vec(Just(()).prop_perturb(|(), mut rng| {
            let mut v: Vec<usize> = (0..4).collect();
            for i in (1..v.len()).rev() {
                v.swap(i, rng.random_range(0..=i));
            }
            v
        }), 4),
    ) {
        let mut base = Document::new_plan("base", &ctx("gen")).unwrap();
        let mut ids = Vec::new();
        for i in 0..8 {
            let n = NewElement::new(
                ElementKind::Outlet,
                format!("outlet:B{i}"),
                FloorId::new("level-1"),
                LayerId::new("electrical"),
                Geometry::Point,
                Transform::default(),
            )
            .with_prop("voltage", PropValue::Number(230.0), None);
            ids.extend(base.apply(&ctx("gen"), Command::Create(Box::new(n))).unwrap().added);
        }
        let mut reps: Vec<Document> = (0..replicas).map(|_| base.fork()).collect();
        for (r, doc) in reps.iter_mut().enumerate() {
            for o in &ops[r] {
                apply_op(doc, &ids, &format!("user-{r}"), o);
            }
        }
        // Every replica merges every other, each in its own random order; the merges reuse
        // forks so the sources are unchanged snapshots.
        let mut snapshots: Vec<Document> = reps.iter_mut().map(Document::fork).collect();
        for (r, doc) in reps.iter_mut().enumerate() {
            for &o in &orders[r] {
                if o < snapshots.len() && o != r {
                    doc.merge(&mut snapshots[o]).unwrap();
                }
            }
        }
        let first = snapshot(&reps[0]);
        let heads0 = reps[0].heads();
        for doc in &mut reps[1..] {
            prop_assert_eq!(doc.heads(), heads0.clone());
            prop_assert_eq!(snapshot(doc), first.clone());
        }
        // The incremental read model equals a fresh decode of the merged CRDT.
        let reloaded = Document::load(&reps[0].save()).unwrap();
        prop_assert_eq!(snapshot(&reloaded), first);
    }
}
