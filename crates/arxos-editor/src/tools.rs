//! The drawing tools and what each one creates: typed `NewElement`s with the defaults a
//! professional expects (wall thickness, door width, an outlet's voltage and amperage), placed
//! on the layer of the right building system. Pure: no egui, testable on a plain `Document`.

use arxos_doc::{
    BuildingSystem, Command, Document, ElementId, ElementKind, FloorId, Geometry, LayerId,
    NewElement, Point, PropValue, Transform,
};

use crate::snap::WallHit;

/// A tool of the tool bar.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Tool {
    /// Select, move, resize, rotate.
    Select,
    /// Draw a wall (a polyline with thickness).
    Wall,
    /// Draw a room (a polygon with name and area).
    Room,
    /// Place a door in a wall.
    Door,
    /// Place a window in a wall.
    Window,
    /// Place a power outlet.
    Outlet,
    /// Place a light switch.
    Switch,
    /// Place a light fitting.
    Light,
    /// Place a fixture.
    Fixture,
    /// Place a text label.
    Text,
    /// Draw a dimension line.
    Dimension,
}

impl Tool {
    /// Every tool, in tool-bar order.
    pub const ALL: [Self; 11] = [
        Self::Select,
        Self::Wall,
        Self::Room,
        Self::Door,
        Self::Window,
        Self::Outlet,
        Self::Switch,
        Self::Light,
        Self::Fixture,
        Self::Text,
        Self::Dimension,
    ];

    /// The tool's name (its accessible label).
    pub fn label(self) -> &'static str {
        match self {
            Self::Select => "Select",
            Self::Wall => "Wall",
            Self::Room => "Room",
            Self::Door => "Door",
            Self::Window => "Window",
            Self::Outlet => "Outlet",
            Self::Switch => "Switch",
            Self::Light => "Light",
            Self::Fixture => "Fixture",
            Self::Text => "Text",
            Self::Dimension => "Dimension",
        }
    }

    /// Its keyboard shortcut (a letter key).
    pub fn shortcut(self) -> &'static str {
        match self {
            Self::Select => "V",
            Self::Wall => "W",
            Self::Room => "R",
            Self::Door => "D",
            Self::Window => "N",
            Self::Outlet => "O",
            Self::Switch => "S",
            Self::Light => "L",
            Self::Fixture => "X",
            Self::Text => "T",
            Self::Dimension => "M",
        }
    }

    /// What to do with it, for the status bar.
    pub fn hint(self) -> &'static str {
        match self {
            Self::Select => {
                "Click to select, Shift-click to add; drag to move; drag across empty space to box-select (rightwards: inside, leftwards: touching)"
            }
            Self::Wall => "Click each corner; double-click or Enter to finish, Esc to cancel",
            Self::Room => {
                "Click each corner; click the first point, double-click or Enter to close"
            }
            Self::Door | Self::Window => "Click on a wall to place it there",
            Self::Outlet | Self::Switch | Self::Light | Self::Fixture => "Click to place",
            Self::Text => "Click to place a label, then type its text in the inspector",
            Self::Dimension => "Click the two ends of the dimension",
        }
    }

    /// The element kind it creates.
    pub fn kind(self) -> Option<ElementKind> {
        Some(match self {
            Self::Select => return None,
            Self::Wall => ElementKind::Wall,
            Self::Room => ElementKind::Room,
            Self::Door => ElementKind::Door,
            Self::Window => ElementKind::Window,
            Self::Outlet => ElementKind::Outlet,
            Self::Switch => ElementKind::Switch,
            Self::Light => ElementKind::Light,
            Self::Fixture => ElementKind::Fixture,
            Self::Text => ElementKind::Text,
            Self::Dimension => ElementKind::Dimension,
        })
    }

    /// Tools that collect several clicks before they create anything.
    pub fn is_multi_point(self) -> bool {
        matches!(self, Self::Wall | Self::Room | Self::Dimension)
    }
}

/// Where new elements go.
#[derive(Clone, Debug, PartialEq)]
pub struct Placement {
    /// The floor shown.
    pub floor: FloorId,
    /// Wall thickness for new walls.
    pub wall_thickness_mm: f64,
    /// Width of new doors.
    pub door_width_mm: f64,
    /// Width of new windows.
    pub window_width_mm: f64,
}

impl Placement {
    /// Defaults on `floor`.
    pub fn on(floor: FloorId) -> Self {
        Self {
            floor,
            wall_thickness_mm: 150.0,
            door_width_mm: 900.0,
            window_width_mm: 1_500.0,
        }
    }
}

/// The building system an element kind belongs to.
pub fn system_of(kind: ElementKind) -> BuildingSystem {
    match kind {
        ElementKind::Outlet | ElementKind::Switch | ElementKind::Light => {
            BuildingSystem::Electrical
        }
        ElementKind::Duct => BuildingSystem::Mechanical,
        ElementKind::Pipe => BuildingSystem::Plumbing,
        ElementKind::Text | ElementKind::Dimension | ElementKind::Path => {
            BuildingSystem::Annotation
        }
        _ => BuildingSystem::Architectural,
    }
}

/// The layer new elements of `kind` go on: the first visible layer of its building system,
/// else the first layer of the plan.
pub fn layer_for(doc: &Document, kind: ElementKind) -> Option<LayerId> {
    let system = system_of(kind);
    let layers = doc.layers();
    layers
        .values()
        .find(|l| l.system == system && l.visible)
        .or_else(|| layers.values().find(|l| l.system == system))
        .or_else(|| layers.values().next())
        .map(|l| l.id.clone())
}

/// A tag for a new element of `kind` that no element of the plan has: `outlet:E-7`.
pub fn next_tag(doc: &Document, kind: ElementKind) -> String {
    let prefix = match kind {
        ElementKind::Wall => "W",
        ElementKind::Room => "RM",
        ElementKind::Door => "D",
        ElementKind::Window => "WN",
        ElementKind::Outlet => "E",
        ElementKind::Switch => "S",
        ElementKind::Light => "L",
        ElementKind::Fixture => "F",
        ElementKind::Text => "T",
        ElementKind::Dimension => "DIM",
        _ => "X",
    };
    let stem = format!("{}:{prefix}-", kind.as_str());
    let highest = doc
        .elements()
        .chain(doc.deleted_elements())
        .filter_map(|e| e.tag.strip_prefix(&stem)?.parse::<u64>().ok())
        .max()
        .unwrap_or(0);
    let mut n = highest + 1;
    loop {
        let tag = format!("{stem}{n}");
        if doc.element_by_tag(&tag).is_err() {
            return tag;
        }
        n += 1;
    }
}

fn element(
    doc: &Document,
    kind: ElementKind,
    floor: &FloorId,
    geometry: Geometry,
    transform: Transform,
) -> Result<NewElement, String> {
    let layer = layer_for(doc, kind).ok_or("the plan has no layers to draw on")?;
    let mut n = NewElement::new(
        kind,
        next_tag(doc, kind),
        floor.clone(),
        layer,
        geometry,
        transform,
    );
    n.id = Some(ElementId::random());
    Ok(n)
}

fn at(p: Point) -> Transform {
    Transform {
        x: p.x,
        y: p.y,
        rotation: 0.0,
    }
}

/// A wall along `points` (world coordinates; at least two distinct ones).
pub fn wall(doc: &Document, place: &Placement, points: &[Point]) -> Result<NewElement, String> {
    let points = distinct(points);
    if points.len() < 2 {
        return Err("a wall needs two different points".into());
    }
    let n = element(
        doc,
        ElementKind::Wall,
        &place.floor,
        Geometry::Polyline { points },
        Transform::default(),
    )?;
    Ok(n.with_prop(
        "thickness",
        PropValue::Number(place.wall_thickness_mm),
        Some("mm"),
    ))
}

/// A room with corners `points`, its area computed, named after its number.
pub fn room(doc: &Document, place: &Placement, points: &[Point]) -> Result<NewElement, String> {
    let points = distinct(points);
    if points.len() < 3 {
        return Err("a room needs three corners".into());
    }
    let area = polygon_area_m2(&points);
    if area <= 0.0 {
        return Err("a room needs an area: its corners are on one line".into());
    }
    let mut n = element(
        doc,
        ElementKind::Room,
        &place.floor,
        Geometry::Polygon { points },
        Transform::default(),
    )?;
    let number = n.tag.rsplit('-').next().unwrap_or("1").to_owned();
    n = n
        .with_prop("name", PropValue::Text(format!("Room {number}")), None)
        .with_prop("area", PropValue::Number(round_to(area, 2)), Some("m2"));
    Ok(n)
}

/// A door or window in the wall `hit`, centred where the wall was clicked. Refused when the
/// opening does not fit in the wall segment.
pub fn opening(
    doc: &Document,
    place: &Placement,
    kind: ElementKind,
    hit: &WallHit,
) -> Result<NewElement, String> {
    let width = if kind == ElementKind::Door {
        place.door_width_mm
    } else {
        place.window_width_mm
    };
    if hit.segment_len < width {
        return Err(format!(
            "a {width} mm {kind} does not fit in this {:.0} mm wall",
            hit.segment_len
        ));
    }
    // Keep the opening inside the segment, its centre at the click.
    let start_along = (hit.along - width / 2.0).clamp(0.0, hit.segment_len - width);
    let (s, c) = hit.angle_deg.to_radians().sin_cos();
    let shift = start_along - hit.along;
    let start = Point::new(hit.point.x + c * shift, hit.point.y + s * shift);
    // The rect's local y runs across the wall: its origin sits half a thickness to one side.
    let origin = Point::new(
        start.x + s * hit.thickness / 2.0,
        start.y - c * hit.thickness / 2.0,
    );
    let n = element(
        doc,
        kind,
        &place.floor,
        Geometry::Rect {
            width,
            height: hit.thickness,
        },
        Transform {
            x: origin.x,
            y: origin.y,
            rotation: hit.angle_deg,
        },
    )?;
    Ok(n.with_prop("width", PropValue::Number(width), Some("mm"))
        .with_ref("host", hit.wall.clone()))
}

/// A piece of equipment at `p`, with its kind's default properties.
pub fn equipment(
    doc: &Document,
    place: &Placement,
    kind: ElementKind,
    p: Point,
) -> Result<NewElement, String> {
    let n = element(doc, kind, &place.floor, Geometry::Point, at(p))?;
    Ok(match kind {
        ElementKind::Outlet => n
            .with_prop("voltage", PropValue::Number(230.0), Some("V"))
            .with_prop("amperage", PropValue::Number(16.0), Some("A"))
            .with_prop("gfci", PropValue::Bool(false), None),
        ElementKind::Switch => n
            .with_prop("voltage", PropValue::Number(230.0), Some("V"))
            .with_prop("poles", PropValue::Number(1.0), None),
        ElementKind::Light => n
            .with_prop("wattage", PropValue::Number(36.0), Some("W"))
            .with_prop("emergency", PropValue::Bool(false), None),
        _ => n.with_prop("name", PropValue::Text("Fixture".into()), None),
    })
}

/// A text label at `p`.
pub fn text(doc: &Document, place: &Placement, p: Point, s: &str) -> Result<NewElement, String> {
    let mut n = element(doc, ElementKind::Text, &place.floor, Geometry::Point, at(p))?;
    n.text = Some(s.to_owned());
    Ok(n)
}

/// A dimension from `a` to `b`, labelled with its length.
pub fn dimension(
    doc: &Document,
    place: &Placement,
    a: Point,
    b: Point,
) -> Result<NewElement, String> {
    let len = (b.x - a.x).hypot(b.y - a.y);
    if len < 1.0 {
        return Err("a dimension needs two different points".into());
    }
    let mut n = element(
        doc,
        ElementKind::Dimension,
        &place.floor,
        Geometry::Polyline { points: vec![a, b] },
        Transform::default(),
    )?;
    n.text = Some(format!("{len:.0}"));
    Ok(n)
}

/// The area of a simple polygon (millimetre coordinates) in square metres.
pub fn polygon_area_m2(points: &[Point]) -> f64 {
    let n = points.len();
    let twice: f64 = (0..n)
        .map(|i| {
            let (a, b) = (points[i], points[(i + 1) % n]);
            a.x * b.y - b.x * a.y
        })
        .sum();
    (twice / 2.0).abs() / 1e6
}

fn round_to(v: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (v * f).round() / f
}

/// Drops points that repeat the previous one (a double-click lands twice).
fn distinct(points: &[Point]) -> Vec<Point> {
    let mut out: Vec<Point> = Vec::with_capacity(points.len());
    for p in points {
        if out
            .last()
            .is_none_or(|q| (q.x - p.x).hypot(q.y - p.y) > 0.5)
        {
            out.push(*p);
        }
    }
    out
}

/// Doors and windows hosted by any of `walls`: they move with their wall.
pub fn hosted_by(doc: &Document, walls: &[ElementId]) -> Vec<ElementId> {
    doc.elements()
        .filter(|e| e.kind.is_hosted())
        .filter(|e| e.refs.get("host").is_some_and(|h| walls.contains(h)))
        .map(|e| e.id.clone())
        .collect()
}

/// The `Move` for `ids` and the openings they host, as one command.
pub fn move_with_hosted(doc: &Document, ids: &[ElementId], dx: f64, dy: f64) -> Command {
    let mut all: Vec<ElementId> = ids.to_vec();
    for h in hosted_by(doc, ids) {
        if !all.contains(&h) {
            all.push(h);
        }
    }
    Command::Move { ids: all, dx, dy }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arxos_doc::EditContext;

    fn plan() -> (Document, Placement) {
        let doc = Document::new_plan("t", &EditContext::at("t", 1)).unwrap();
        (doc, Placement::on(FloorId::new("level-1")))
    }

    #[test]
    fn tags_are_unique_and_count_up() {
        let (mut doc, place) = plan();
        let w = wall(
            &doc,
            &place,
            &[Point::new(0.0, 0.0), Point::new(1.0e3, 0.0)],
        )
        .unwrap();
        assert_eq!(w.tag, "wall:W-1");
        doc.apply(&EditContext::at("t", 2), Command::Create(Box::new(w)))
            .unwrap();
        assert_eq!(next_tag(&doc, ElementKind::Wall), "wall:W-2");
    }

    #[test]
    fn a_room_gets_its_area_and_a_degenerate_one_is_refused() {
        let (doc, place) = plan();
        let pts = [
            Point::new(0.0, 0.0),
            Point::new(4_000.0, 0.0),
            Point::new(4_000.0, 2_500.0),
            Point::new(0.0, 2_500.0),
        ];
        let r = room(&doc, &place, &pts).unwrap();
        assert_eq!(r.props["area"].value, PropValue::Number(10.0));
        assert_eq!(r.layer, LayerId::new("architectural"));
        let line = [
            Point::new(0.0, 0.0),
            Point::new(1.0, 0.0),
            Point::new(2.0, 0.0),
        ];
        assert!(room(&doc, &place, &line).is_err());
    }

    #[test]
    fn an_opening_sits_in_its_wall_and_refuses_a_short_one() {
        let (doc, place) = plan();
        let hit = WallHit {
            wall: ElementId::new("w"),
            point: Point::new(0.0, 2_000.0),
            angle_deg: 90.0,
            thickness: 200.0,
            segment_len: 4_000.0,
            along: 2_000.0,
        };
        let d = opening(&doc, &place, ElementKind::Door, &hit).unwrap();
        assert_eq!(d.refs["host"], ElementId::new("w"));
        // A vertical wall at x = 0: the door spans 1550..2450 along y, across -100..100 in x.
        let b = arxos_doc::geometry::element_bounds(&d.geometry, &d.transform);
        assert!(
            (b.min.x + 100.0).abs() < 1e-6 && (b.max.x - 100.0).abs() < 1e-6,
            "{b:?}"
        );
        assert!(
            (b.min.y - 1_550.0).abs() < 1e-6 && (b.max.y - 2_450.0).abs() < 1e-6,
            "{b:?}"
        );
        let short = WallHit {
            segment_len: 600.0,
            along: 300.0,
            ..hit
        };
        assert!(opening(&doc, &place, ElementKind::Door, &short).is_err());
    }

    #[test]
    fn an_outlet_has_its_defaults_on_the_electrical_layer() {
        let (doc, place) = plan();
        let o = equipment(&doc, &place, ElementKind::Outlet, Point::new(5.0, 5.0)).unwrap();
        assert_eq!(o.layer, LayerId::new("electrical"));
        assert_eq!(o.props["voltage"].value, PropValue::Number(230.0));
        assert_eq!(o.props["voltage"].unit.as_deref(), Some("V"));
    }
}
