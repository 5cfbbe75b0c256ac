//! Plan generators: the bundled sample office floor, and large synthetic plans (many office
//! floors and tiles) for benchmarks and tests. Deterministic for a given seed.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::command::{Command, EditContext, NewElement};
use crate::document::{Document, default_layers};
use crate::error::Result;
use crate::geometry::Point;
use crate::ids::{ElementId, FloorId, LayerId};
use crate::model::{ElementKind, Geometry, PropValue, Transform};

/// Settings of [`generate`].
#[derive(Clone, Debug)]
pub struct GenerateOptions {
    /// Stop after this many elements (at least one office tile's worth is laid out and cut).
    pub elements: usize,
    /// Spread tiles over this many floors.
    pub floors: usize,
    /// RNG seed.
    pub seed: u64,
    /// Plan name.
    pub name: String,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        Self {
            elements: 10_000,
            floors: 1,
            seed: 1,
            name: "Synthetic plan".into(),
        }
    }
}

const WALL_T: f64 = 150.0;
const EXT_WALL_T: f64 = 300.0;
const W: f64 = 60_000.0;
const H: f64 = 36_000.0;

/// Lays out one office floor (about 50 rooms) as commands.
struct Office<'r> {
    rng: &'r mut StdRng,
    floor: FloorId,
    origin: Point,
    /// Tag prefix for tiles after the first (`T2-`), empty for the sample.
    prefix: String,
    cmds: Vec<Command>,
    room_no: u32,
}

struct Room {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
    /// Wall the door goes in, and the door's y on it.
    door_wall: ElementId,
    door_y: f64,
    name: &'static str,
    open_plan: bool,
    window_wall: Option<(ElementId, f64)>,
}

impl Office<'_> {
    fn id(&mut self) -> ElementId {
        ElementId::new(format!("e{:032x}", self.rng.random::<u128>()))
    }

    fn layer(system: &str) -> LayerId {
        LayerId::new(system)
    }

    fn push(&mut self, n: NewElement) -> ElementId {
        let id = n.id.clone().unwrap_or_else(|| self.id());
        let mut n = n;
        n.id = Some(id.clone());
        self.cmds.push(Command::Create(Box::new(n)));
        id
    }

    fn at(&self, x: f64, y: f64) -> Transform {
        Transform {
            x: self.origin.x + x,
            y: self.origin.y + y,
            rotation: 0.0,
        }
    }

    fn wall(&mut self, name: &str, a: Point, b: Point, thickness: f64) -> ElementId {
        let tag = format!("wall:{}{name}", self.prefix);
        let t = self.at(0.0, 0.0);
        let n = NewElement::new(
            ElementKind::Wall,
            tag,
            self.floor.clone(),
            Self::layer("architectural"),
            Geometry::Polyline { points: vec![a, b] },
            t,
        )
        .with_prop("thickness", PropValue::Number(thickness), Some("mm"));
        self.push(n)
    }

    #[allow(clippy::too_many_lines)] // the floor layout reads top to bottom
    fn build(&mut self) {
        let p = Point::new;
        // Envelope.
        let north = self.wall("ext-north", p(0.0, 0.0), p(W, 0.0), EXT_WALL_T);
        let south = self.wall("ext-south", p(0.0, H), p(W, H), EXT_WALL_T);
        self.wall("ext-west", p(0.0, 0.0), p(0.0, H), EXT_WALL_T);
        self.wall("ext-east", p(W, 0.0), p(W, H), EXT_WALL_T);
        // Two corridors running east-west, 2 m wide.
        let c1n = self.wall("corridor-1-n", p(0.0, 10_000.0), p(W, 10_000.0), WALL_T);
        let c1s = self.wall("corridor-1-s", p(0.0, 12_000.0), p(W, 12_000.0), WALL_T);
        let c2n = self.wall("corridor-2-n", p(0.0, 24_000.0), p(W, 24_000.0), WALL_T);
        let c2s = self.wall("corridor-2-s", p(0.0, 26_000.0), p(W, 26_000.0), WALL_T);
        let spine = self.wall("spine", p(0.0, 18_000.0), p(W, 18_000.0), WALL_T);

        let mut rooms = Vec::new();
        let north_names = [
            "Open office",
            "Meeting",
            "Meeting",
            "Open office",
            "Kitchen",
            "Open office",
            "Meeting",
            "Open office",
            "Print",
            "Open office",
        ];
        for (i, name) in north_names.iter().enumerate() {
            let x = i as f64 * 6_000.0;
            rooms.push(Room {
                x,
                y: 0.0,
                w: 6_000.0,
                h: 10_000.0,
                door_wall: c1n.clone(),
                door_y: 10_000.0,
                name,
                open_plan: *name == "Open office",
                window_wall: Some((north.clone(), 0.0)),
            });
        }
        let cell_names = ["Office", "Office", "Office", "Focus", "Office"];
        for row in 0..2 {
            for i in 0..15 {
                let x = f64::from(i) * 4_000.0;
                let (y, door_wall, door_y) = if row == 0 {
                    (12_000.0, c1s.clone(), 12_000.0)
                } else {
                    (18_000.0, c2n.clone(), 24_000.0)
                };
                let name = if i == 7 {
                    "Core"
                } else {
                    cell_names[i as usize % 5]
                };
                rooms.push(Room {
                    x,
                    y,
                    w: 4_000.0,
                    h: 6_000.0,
                    door_wall,
                    door_y,
                    name,
                    open_plan: false,
                    window_wall: None,
                });
            }
        }
        let south_names = [
            "Open office",
            "Open office",
            "Meeting",
            "Open office",
            "Open office",
            "Lab",
            "Open office",
            "Meeting",
            "Storage",
            "Open office",
        ];
        for (i, name) in south_names.iter().enumerate() {
            rooms.push(Room {
                x: i as f64 * 6_000.0,
                y: 26_000.0,
                w: 6_000.0,
                h: 10_000.0,
                door_wall: c2s.clone(),
                door_y: 26_000.0,
                name,
                open_plan: *name == "Open office",
                window_wall: Some((south.clone(), H)),
            });
        }
        // Partitions between neighbouring rooms.
        for (band, (y0, y1), step) in [
            ("n", (0.0, 10_000.0), 6_000.0),
            ("m1", (12_000.0, 18_000.0), 4_000.0),
            ("m2", (18_000.0, 24_000.0), 4_000.0),
            ("s", (26_000.0, H), 6_000.0),
        ] {
            let mut x = step;
            let mut k = 1;
            while x < W - 1.0 {
                self.wall(&format!("part-{band}-{k}"), p(x, y0), p(x, y1), WALL_T);
                x += step;
                k += 1;
            }
        }
        let _ = spine;

        // Electrical panels, one per half of the floor.
        let panels: Vec<ElementId> = (1..=2)
            .map(|i| {
                let x = if i == 1 { 28_500.0 } else { 31_500.0 };
                let n = NewElement::new(
                    ElementKind::Fixture,
                    format!("panel:{}EP-{i}", self.prefix),
                    self.floor.clone(),
                    Self::layer("electrical"),
                    Geometry::Rect {
                        width: 600.0,
                        height: 250.0,
                    },
                    self.at(x, 14_000.0),
                )
                .with_prop("voltage", PropValue::Number(400.0), Some("V"))
                .with_prop("amperage", PropValue::Number(250.0), Some("A"))
                .with_prop("phase", PropValue::Number(3.0), None);
                self.push(n)
            })
            .collect();

        // Corridors are rooms too.
        for (i, y) in [10_000.0, 24_000.0].into_iter().enumerate() {
            self.room_no += 1;
            let n = NewElement::new(
                ElementKind::Room,
                format!("room:{}C{}", self.prefix, i + 1),
                self.floor.clone(),
                Self::layer("architectural"),
                Geometry::Polygon {
                    points: vec![p(0.0, 0.0), p(W, 0.0), p(W, 2_000.0), p(0.0, 2_000.0)],
                },
                self.at(0.0, y),
            )
            .with_prop("name", PropValue::Text("Corridor".into()), None)
            .with_prop("area", PropValue::Number(W * 2_000.0 / 1e6), Some("m2"));
            self.push(n);
            // Supply duct down each corridor.
            let duct = NewElement::new(
                ElementKind::Duct,
                format!("duct:{}main-{}", self.prefix, i + 1),
                self.floor.clone(),
                Self::layer("mechanical"),
                Geometry::Polyline {
                    points: vec![p(1_000.0, 1_000.0), p(W - 1_000.0, 1_000.0)],
                },
                self.at(0.0, y),
            )
            .with_prop("width", PropValue::Number(600.0), Some("mm"))
            .with_prop("airflow", PropValue::Number(4_800.0), Some("m3/h"));
            self.push(duct);
        }

        for (ri, room) in rooms.iter().enumerate() {
            self.room(room, ri + 1, &panels[usize::from(room.x >= W / 2.0)]);
        }
    }

    #[allow(clippy::too_many_lines)] // one room: outline, door, window, equipment, duct
    fn room(&mut self, r: &Room, number: usize, panel: &ElementId) {
        let p = Point::new;
        let tagno = format!("{}R{number:02}", self.prefix);
        let area = r.w * r.h / 1e6;
        let room = NewElement::new(
            ElementKind::Room,
            format!("room:{tagno}"),
            self.floor.clone(),
            Self::layer("architectural"),
            Geometry::Polygon {
                points: vec![p(0.0, 0.0), p(r.w, 0.0), p(r.w, r.h), p(0.0, r.h)],
            },
            self.at(r.x, r.y),
        )
        .with_prop("name", PropValue::Text(r.name.into()), None)
        .with_prop("number", PropValue::Text(format!("{number:02}")), None)
        .with_prop("area", PropValue::Number(area), Some("m2"));
        self.push(room);
        let label = NewElement {
            text: Some(format!("{} {number:02}", r.name)),
            ..NewElement::new(
                ElementKind::Text,
                format!("text:{tagno}"),
                self.floor.clone(),
                Self::layer("annotation"),
                Geometry::Point,
                self.at(r.x + r.w / 2.0, r.y + r.h / 2.0),
            )
        };
        self.push(label);

        // Door in the corridor wall, 900 mm leaf, near the room's west end.
        let door_x = r.x + 600.0;
        let door = NewElement::new(
            ElementKind::Door,
            format!("door:{tagno}"),
            self.floor.clone(),
            Self::layer("architectural"),
            Geometry::Rect {
                width: 900.0,
                height: WALL_T,
            },
            self.at(door_x, r.door_y - WALL_T / 2.0),
        )
        .with_prop("width", PropValue::Number(900.0), Some("mm"))
        .with_prop(
            "fire_rating",
            PropValue::Text(if r.name == "Core" { "EI60" } else { "none" }.into()),
            None,
        )
        .with_ref("host", r.door_wall.clone());
        self.push(door);
        if let Some((wall, wy)) = &r.window_wall {
            let count = if r.w > 5_000.0 { 2 } else { 1 };
            for k in 0..count {
                let wx = r.x + 1_000.0 + f64::from(k) * 2_800.0;
                let win = NewElement::new(
                    ElementKind::Window,
                    format!("window:{tagno}-{}", k + 1),
                    self.floor.clone(),
                    Self::layer("architectural"),
                    Geometry::Rect {
                        width: 1_800.0,
                        height: EXT_WALL_T,
                    },
                    self.at(wx, wy - EXT_WALL_T / 2.0),
                )
                .with_prop("width", PropValue::Number(1_800.0), Some("mm"))
                .with_ref("host", wall.clone());
                self.push(win);
            }
        }

        // Switch by the door, inside the room.
        let sy = if (r.door_y - r.y).abs() < 1.0 {
            r.y + 200.0
        } else {
            r.y + r.h - 200.0
        };
        let sw = NewElement::new(
            ElementKind::Switch,
            format!("switch:{tagno}-1"),
            self.floor.clone(),
            Self::layer("electrical"),
            Geometry::Point,
            self.at(door_x + 1_100.0, sy),
        )
        .with_prop("voltage", PropValue::Number(230.0), Some("V"))
        .with_prop("poles", PropValue::Number(1.0), None);
        self.push(sw);

        // Outlets along the walls every ~2.5 m, plus floor boxes in open offices.
        let mut outlets = Vec::new();
        let mut x = r.x + 1_250.0;
        while x < r.x + r.w - 500.0 {
            outlets.push((x, r.y + 150.0, 0.0));
            outlets.push((x, r.y + r.h - 150.0, 180.0));
            x += 2_500.0;
        }
        if r.open_plan {
            for gx in 0..4 {
                for gy in 0..5 {
                    outlets.push((
                        r.x + 1_200.0 + f64::from(gx) * 1_200.0,
                        r.y + 1_500.0 + f64::from(gy) * 1_600.0,
                        0.0,
                    ));
                }
            }
        }
        for (k, (ox, oy, rot)) in outlets.into_iter().enumerate() {
            let circuit = 1 + (number * 3 + k / 8) % 42;
            let dedicated = r.name == "Kitchen" || r.name == "Lab" || r.name == "Print";
            let mut t = self.at(ox, oy);
            t.rotation = rot;
            let n = NewElement::new(
                ElementKind::Outlet,
                format!("outlet:{tagno}-{}", k + 1),
                self.floor.clone(),
                Self::layer("electrical"),
                Geometry::Point,
                t,
            )
            .with_prop(
                "voltage",
                PropValue::Number(if dedicated && k == 0 { 400.0 } else { 230.0 }),
                Some("V"),
            )
            .with_prop(
                "amperage",
                PropValue::Number(if dedicated { 20.0 } else { 16.0 }),
                Some("A"),
            )
            .with_prop("number", PropValue::Text(format!("EP/{circuit}")), None)
            .with_prop(
                "gfci",
                PropValue::Bool(r.name == "Kitchen" || r.name == "Lab"),
                None,
            )
            .with_ref("circuit", panel.clone());
            self.push(n);
        }

        // Lights on a grid of about one per 10 m².
        let nx = (r.w / 2_400.0).round().max(1.0) as u32;
        let ny = (r.h / 2_400.0).round().max(1.0) as u32;
        for i in 0..nx {
            for j in 0..ny {
                let lx = r.x + r.w * (f64::from(i) + 0.5) / f64::from(nx);
                let ly = r.y + r.h * (f64::from(j) + 0.5) / f64::from(ny);
                let k = i * ny + j + 1;
                let emergency = k == 1 && self.rng.random_bool(0.5);
                let n = NewElement::new(
                    ElementKind::Light,
                    format!("light:{tagno}-{k}"),
                    self.floor.clone(),
                    Self::layer("electrical"),
                    Geometry::Point,
                    self.at(lx, ly),
                )
                .with_prop("voltage", PropValue::Number(230.0), Some("V"))
                .with_prop(
                    "wattage",
                    PropValue::Number(if r.open_plan { 36.0 } else { 28.0 }),
                    Some("W"),
                )
                .with_prop(
                    "lumens",
                    PropValue::Number(if r.open_plan { 4_200.0 } else { 3_300.0 }),
                    Some("lm"),
                )
                .with_prop("emergency", PropValue::Bool(emergency), None)
                .with_ref("circuit", panel.clone());
                self.push(n);
            }
        }

        // Branch duct from the corridor main into the room.
        if r.name != "Storage" && r.name != "Core" {
            let (y0, y1) = if r.y < r.door_y {
                (r.door_y + 1_000.0, r.y + r.h / 2.0)
            } else {
                (r.door_y - 1_000.0, r.y + r.h / 2.0)
            };
            let _ = (y0, y1);
            let corridor_mid = if r.door_y <= 12_000.0 {
                11_000.0
            } else {
                25_000.0
            };
            let n = NewElement::new(
                ElementKind::Duct,
                format!("duct:{tagno}"),
                self.floor.clone(),
                Self::layer("mechanical"),
                Geometry::Polyline {
                    points: vec![p(r.w / 2.0, corridor_mid - r.y), p(r.w / 2.0, r.h / 2.0)],
                },
                self.at(r.x, r.y),
            )
            .with_prop("width", PropValue::Number(250.0), Some("mm"))
            .with_prop(
                "airflow",
                PropValue::Number((area * 8.0).round()),
                Some("m3/h"),
            );
            self.push(n);
        }
    }
}

fn floor_cmd(i: usize) -> (FloorId, Command) {
    let id = FloorId::new(format!("level-{i}"));
    (
        id.clone(),
        Command::AddFloor {
            id,
            name: format!("Level {i}"),
            elevation_mm: (i as f64 - 1.0) * 3_600.0,
            order: i as i64,
        },
    )
}

/// The bundled sample: one realistic office floor (52 rooms, walls with hosted doors and
/// windows, corridors, hundreds of outlets, switches and lights with electrical properties,
/// ducts), deterministic.
pub fn sample_office(ctx: &EditContext) -> Result<Document> {
    let mut doc = Document::new_empty("Sample office — Level 1", ctx)?;
    let mut rng = StdRng::seed_from_u64(45_23);
    let (floor, add) = floor_cmd(1);
    let mut cmds = vec![add];
    cmds.extend(default_layers());
    let mut office = Office {
        rng: &mut rng,
        floor,
        origin: Point::new(0.0, 0.0),
        prefix: String::new(),
        cmds,
        room_no: 0,
    };
    office.build();
    doc.apply_batch(ctx, "generate sample office", office.cmds)?;
    Ok(doc)
}

/// A large synthetic plan: office tiles laid side by side over `floors` floors until
/// `elements` elements exist. `progress(done, total)` is called after each tile.
pub fn generate(
    opts: &GenerateOptions,
    ctx: &EditContext,
    mut progress: impl FnMut(usize, usize),
) -> Result<Document> {
    let mut doc = Document::new_empty(&opts.name, ctx)?;
    let floors = opts.floors.max(1);
    let mut setup: Vec<Command> = default_layers();
    let mut floor_ids = Vec::new();
    for i in 1..=floors {
        let (id, cmd) = floor_cmd(i);
        floor_ids.push(id);
        setup.push(cmd);
    }
    doc.apply_batch(ctx, "set up floors and layers", setup)?;
    let mut rng = StdRng::seed_from_u64(opts.seed);
    let mut made = 0usize;
    let mut tile = 0usize;
    while made < opts.elements {
        let floor = floor_ids[tile % floors].clone();
        let col = tile / floors;
        let mut office = Office {
            rng: &mut rng,
            floor,
            origin: Point::new(col as f64 * (W + 10_000.0), 0.0),
            prefix: format!("T{}-", tile + 1),
            cmds: Vec::new(),
            room_no: 0,
        };
        office.build();
        let mut cmds = office.cmds;
        cmds.truncate(opts.elements - made);
        // Tiles cut short may drop a wall that a door references; keep only valid links.
        let ids: std::collections::BTreeSet<ElementId> = cmds
            .iter()
            .filter_map(|c| match c {
                Command::Create(n) => n.id.clone(),
                _ => None,
            })
            .collect();
        for c in &mut cmds {
            if let Command::Create(n) = c {
                n.refs.retain(|_, t| ids.contains(t));
            }
        }
        made += cmds.len();
        doc.apply_batch(ctx, &format!("generate tile {}", tile + 1), cmds)?;
        tile += 1;
        progress(made, opts.elements);
    }
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_office_is_realistic() {
        let mut doc = sample_office(&EditContext::at("gen", 0)).unwrap();
        let s = doc.stats();
        let rooms = s.by_kind[&ElementKind::Room];
        assert!((40..=60).contains(&rooms), "{rooms} rooms");
        let equipment = s.by_kind[&ElementKind::Outlet]
            + s.by_kind[&ElementKind::Switch]
            + s.by_kind[&ElementKind::Light];
        assert!(equipment >= 300, "{equipment} outlets/switches/lights");
        assert!(s.by_kind[&ElementKind::Duct] > 10);
        // Hosted doors and windows point at walls.
        for e in doc.elements().filter(|e| e.kind.is_hosted()) {
            let host = doc.element(&e.refs["host"]).unwrap();
            assert_eq!(host.kind, ElementKind::Wall, "{}", e.tag);
        }
        let o = doc.element_by_tag("outlet:R45-23").unwrap();
        assert_eq!(o.props["voltage"].value, PropValue::Number(230.0));
    }

    #[test]
    fn generate_hits_the_requested_count() {
        let mut calls = 0;
        let mut doc = generate(
            &GenerateOptions {
                elements: 2_000,
                floors: 2,
                seed: 7,
                name: "big".into(),
            },
            &EditContext::at("gen", 0),
            |_, _| calls += 1,
        )
        .unwrap();
        assert_eq!(doc.stats().elements, 2_000);
        assert!(calls >= 2);
        assert_eq!(doc.floors().len(), 2);
    }
}
