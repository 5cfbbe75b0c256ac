//! Per-kind tessellation: what each element kind turns into.

use arxos_doc::{ElementId, FloorId, LayerId, Property, Style};

use super::*;
use crate::mesh::Vertex;

fn element(kind: ElementKind, geometry: Geometry, transform: Transform) -> Element {
    Element {
        id: ElementId::new("e1"),
        kind,
        tag: format!("{kind}:t"),
        floor: FloorId::new("f"),
        layer: LayerId::new("l"),
        geometry,
        transform,
        style: Style::default(),
        text: None,
        props: std::collections::BTreeMap::new(),
        refs: std::collections::BTreeMap::new(),
        z: "80".into(),
        deleted: false,
    }
}

fn with_number(mut e: Element, name: &str, v: f64) -> Element {
    e.props.insert(
        name.into(),
        Property {
            value: PropValue::Number(v),
            unit: Some("mm".into()),
        },
    );
    e
}

fn tess() -> Tessellator {
    Tessellator::new(Theme::light()).unwrap()
}

fn extruded(v: &Vertex) -> (f32, f32) {
    let h = v.half_width_mm.abs();
    (
        v.position[0] + v.normal[0] * h,
        v.position[1] + v.normal[1] * h,
    )
}

fn span(m: &Mesh) -> (f32, f32, f32, f32) {
    m.vertices.iter().map(extruded).fold(
        (f32::MAX, f32::MAX, f32::MIN, f32::MIN),
        |(a, b, c, d), (x, y)| (a.min(x), b.min(y), c.max(x), d.max(y)),
    )
}

#[test]
fn wall_strokes_at_its_thickness_in_plan_units() {
    let wall = element(
        ElementKind::Wall,
        Geometry::Polyline {
            points: vec![Point::new(0.0, 0.0), Point::new(5_000.0, 0.0)],
        },
        Transform {
            x: 100.0,
            y: 200.0,
            rotation: 0.0,
        },
    );
    let d = tess().element(
        &with_number(wall, "thickness", 300.0),
        BuildingSystem::Architectural,
    );
    assert!(d.symbol.is_none());
    assert!(
        d.mesh
            .vertices
            .iter()
            .all(|v| (v.half_width_mm - 150.0).abs() < 1e-3)
    );
    let (x0, y0, x1, y1) = span(&d.mesh);
    // Square caps reach half the thickness past each end.
    assert!(
        (x0 - -50.0).abs() < 1e-2 && (x1 - 5_250.0).abs() < 1e-2,
        "{x0} {x1}"
    );
    assert!(
        (y0 - 50.0).abs() < 1e-2 && (y1 - 350.0).abs() < 1e-2,
        "{y0} {y1}"
    );
    assert_eq!(d.mesh.vertices[0].color, Theme::light().wall.0);
}

#[test]
fn equipment_points_become_instances() {
    let outlet = element(
        ElementKind::Outlet,
        Geometry::Point,
        Transform {
            x: 10.0,
            y: 20.0,
            rotation: 90.0,
        },
    );
    let d = tess().element(&outlet, BuildingSystem::Electrical);
    assert!(d.mesh.is_empty());
    let (kind, inst) = d.symbol.unwrap();
    assert_eq!(kind, SymbolKind::Outlet);
    assert!((inst.position[0] - 10.0).abs() < 1e-6 && (inst.position[1] - 20.0).abs() < 1e-6);
    assert!(inst.rotation[0].abs() < 1e-6 && (inst.rotation[1] - 1.0).abs() < 1e-6);
    assert_eq!(
        inst.color,
        Theme::light().system(BuildingSystem::Electrical).ink.0
    );
}

#[test]
fn rooms_fill_and_style_overrides_win() {
    let mut room = element(
        ElementKind::Room,
        Geometry::Polygon {
            points: vec![
                Point::new(0.0, 0.0),
                Point::new(4_000.0, 0.0),
                Point::new(4_000.0, 3_000.0),
            ],
        },
        Transform::default(),
    );
    let d = tess().element(&room, BuildingSystem::Architectural);
    let fills: Vec<&Vertex> = d
        .mesh
        .vertices
        .iter()
        .filter(|v| v.half_width_mm == 0.0)
        .collect();
    assert_eq!(fills.len(), 3);
    assert!(fills.iter().all(|v| v.color == Theme::light().room_fill.0));
    room.style.fill = Some("#ff0000".into());
    let d = tess().element(&room, BuildingSystem::Architectural);
    assert!(d.mesh.vertices.iter().any(|v| v.color == [255, 0, 0, 255]));
}

#[test]
fn text_and_dimensions_make_text_vertices() {
    let mut text = element(ElementKind::Text, Geometry::Point, Transform::default());
    text.text = Some("Lab 46".into());
    let d = tess().element(&text, BuildingSystem::Annotation);
    assert!(d.symbol.is_none());
    assert!(d.mesh.vertices.iter().all(|v| v.half_width_mm < 0.0));
    // The label is centred on its anchor and about 250 mm tall.
    let (x0, y0, x1, y1) = span(&d.mesh);
    assert!((x0 + x1).abs() < 60.0, "{x0}..{x1}");
    assert!((200.0..400.0).contains(&(y1 - y0)), "{y0}..{y1}");

    let dim = element(
        ElementKind::Dimension,
        Geometry::Polyline {
            points: vec![Point::new(0.0, 0.0), Point::new(0.0, 3_600.0)],
        },
        Transform::default(),
    );
    let d = tess().element(&dim, BuildingSystem::Annotation);
    assert!(
        d.mesh.vertices.iter().any(|v| v.half_width_mm > 0.0),
        "lines"
    );
    assert!(
        d.mesh.vertices.iter().any(|v| v.half_width_mm < 0.0),
        "figure"
    );
}

#[test]
fn doors_windows_ducts_and_paths_draw() {
    let mut t = tess();
    let rect = Geometry::Rect {
        width: 900.0,
        height: 150.0,
    };
    let door = t.element(
        &element(ElementKind::Door, rect.clone(), Transform::default()),
        BuildingSystem::Architectural,
    );
    // The opening knocks out the wall in the canvas colour; the swing reaches a leaf away.
    assert!(
        door.mesh
            .vertices
            .iter()
            .any(|v| v.color == Theme::light().canvas.0)
    );
    let (_, y0, _, _) = span(&door.mesh);
    assert!(y0 < -880.0, "{y0}");
    let window = t.element(
        &element(ElementKind::Window, rect, Transform::default()),
        BuildingSystem::Architectural,
    );
    assert!(
        window
            .mesh
            .vertices
            .iter()
            .any(|v| v.color == Theme::light().glass.0)
    );
    let duct = with_number(
        element(
            ElementKind::Duct,
            Geometry::Polyline {
                points: vec![Point::new(0.0, 0.0), Point::new(1_000.0, 0.0)],
            },
            Transform::default(),
        ),
        "width",
        600.0,
    );
    let d = t.element(&duct, BuildingSystem::Mechanical);
    assert!(
        d.mesh
            .vertices
            .iter()
            .any(|v| (v.half_width_mm - 300.0).abs() < 1e-3)
    );
    let path = element(
        ElementKind::Path,
        Geometry::Path {
            d: "M 0 0 C 100 0 200 100 200 200 L 0 200 Z".into(),
        },
        Transform::default(),
    );
    assert!(!t.element(&path, BuildingSystem::Annotation).mesh.is_empty());
    let circle = element(
        ElementKind::Fixture,
        Geometry::Circle { radius: 300.0 },
        Transform::default(),
    );
    assert!(!t.element(&circle, BuildingSystem::Plumbing).mesh.is_empty());
    assert_eq!(t.failures(), 0);
}
