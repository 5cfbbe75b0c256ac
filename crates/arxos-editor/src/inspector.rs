//! The properties inspector: typed editors for the selection.
//!
//! Every field of an element is edited by type: numbers with their unit (typed values may
//! carry a unit, `1.2 m` into a millimetre field gives 1200), booleans as check boxes, known
//! enumerations as drop-downs, text as text, layers and floors as lists, references by picking
//! the target on the canvas. A field commits on Enter or when it loses focus, as one command;
//! with several elements selected, the fields they share edit all of them at once.

use std::collections::BTreeMap;

use arxos_doc::{Command, Document, Element, ElementId, Geometry, PropValue, Property};

use crate::settings::Units;

/// Known enumerations: property name → allowed values.
const ENUMS: &[(&str, &[&str])] = &[
    ("fire_rating", &["none", "EI30", "EI60", "EI90", "EI120"]),
    ("phase", &["L1", "L2", "L3", "3P"]),
    ("mounting", &["wall", "floor", "ceiling"]),
    ("swing", &["left", "right", "double"]),
];

/// Edits the inspector asks for.
#[derive(Debug, Default)]
pub struct Request {
    /// Commands, with a label and the elements they touch.
    pub edit: Option<(String, Vec<ElementId>, Vec<Command>)>,
    /// Start picking a reference target on the canvas.
    pub pick_ref: Option<(ElementId, String)>,
    /// A value that could not be read.
    pub error: Option<String>,
}

/// Text buffers of fields being typed into, by field key.
#[derive(Debug, Default)]
pub struct Inspector {
    buffers: BTreeMap<String, String>,
    new_prop: (String, String),
}

impl Inspector {
    /// Shows the inspector for `selection`.
    pub fn show(
        &mut self,
        ui: &mut egui::Ui,
        doc: &Document,
        selection: &[ElementId],
        units: Units,
    ) -> Request {
        let mut req = Request::default();
        let elements: Vec<&Element> = selection.iter().filter_map(|id| doc.element(id)).collect();
        match elements.as_slice() {
            [] => {
                ui.weak("Nothing selected. Click an element, or drag a box around several.");
            }
            [e] => self.single(ui, doc, e, units, &mut req),
            many => self.several(ui, doc, many, &mut req),
        }
        req
    }

    fn single(
        &mut self,
        ui: &mut egui::Ui,
        doc: &Document,
        e: &Element,
        units: Units,
        req: &mut Request,
    ) {
        let id = e.id.clone();
        ui.horizontal(|ui| {
            ui.strong(capitalised(e.kind.as_str()));
            ui.weak(e.id.as_str().get(..8).unwrap_or(e.id.as_str()));
        });
        egui::Grid::new("inspector-fields")
            .num_columns(2)
            .spacing([8.0, 6.0])
            .striped(false)
            .show(ui, |ui| {
                if let Some(tag) = self.text_field(ui, "tag", "Tag", &e.tag) {
                    set(
                        req,
                        "retag",
                        &id,
                        Command::SetTag {
                            id: id.clone(),
                            tag,
                        },
                    );
                }
                ui.end_row();
                layer_row(
                    ui,
                    doc,
                    std::slice::from_ref(&e.layer),
                    std::slice::from_ref(&id),
                    req,
                );
                ui.end_row();
                if doc.floors().len() > 1 {
                    let floor_label = ui.label("Floor").id;
                    let current = doc
                        .floors()
                        .get(&e.floor)
                        .map_or(e.floor.as_str(), |f| f.name.as_str());
                    egui::ComboBox::from_id_salt("floor")
                        .selected_text(current)
                        .show_ui(ui, |ui| {
                            for f in doc.floors_ordered() {
                                if ui.selectable_label(f.id == e.floor, &f.name).clicked()
                                    && f.id != e.floor
                                {
                                    set(
                                        req,
                                        "change floor",
                                        &id,
                                        Command::SetFloor {
                                            ids: vec![id.clone()],
                                            floor: f.id.clone(),
                                        },
                                    );
                                }
                            }
                        })
                        .response
                        .labelled_by(floor_label);
                    ui.end_row();
                }
                let t = e.transform;
                if !matches!(
                    e.geometry,
                    Geometry::Polyline { .. } | Geometry::Polygon { .. }
                ) || t.x != 0.0
                    || t.y != 0.0
                {
                    if let Some(x) = self.length_field(ui, "x", "X", t.x, units, req) {
                        set(
                            req,
                            "move",
                            &id,
                            Command::MoveTo {
                                id: id.clone(),
                                x,
                                y: t.y,
                            },
                        );
                    }
                    ui.end_row();
                    if let Some(y) = self.length_field(ui, "y", "Y", t.y, units, req) {
                        set(
                            req,
                            "move",
                            &id,
                            Command::MoveTo {
                                id: id.clone(),
                                x: t.x,
                                y,
                            },
                        );
                    }
                    ui.end_row();
                    if let Some(r) =
                        self.number_field(ui, "rotation", "Rotation", t.rotation, Some("°"), req)
                    {
                        set(
                            req,
                            "rotate",
                            &id,
                            Command::Rotate {
                                id: id.clone(),
                                rotation_deg: r,
                            },
                        );
                    }
                    ui.end_row();
                }
                self.geometry_rows(ui, e, units, req);
                if e.text.is_some()
                    || matches!(
                        e.kind,
                        arxos_doc::ElementKind::Text | arxos_doc::ElementKind::Dimension
                    )
                {
                    if let Some(text) =
                        self.text_field(ui, "text", "Text", e.text.as_deref().unwrap_or(""))
                    {
                        set(
                            req,
                            "edit text",
                            &id,
                            Command::SetText {
                                id: id.clone(),
                                text: Some(text),
                            },
                        );
                    }
                    ui.end_row();
                }
            });
        ui.separator();
        ui.strong("Properties");
        egui::Grid::new("inspector-props")
            .num_columns(2)
            .spacing([8.0, 6.0])
            .show(ui, |ui| {
                for (name, p) in &e.props {
                    if let Some(value) = self.prop_editor(ui, name, p, req) {
                        set_prop(
                            req,
                            std::slice::from_ref(&id),
                            name,
                            &value,
                            p.unit.as_deref(),
                        );
                    }
                    ui.end_row();
                }
            });
        self.add_property(ui, std::slice::from_ref(&id), req);
        if !e.refs.is_empty() || e.kind.is_hosted() {
            ui.separator();
            ui.strong("References");
            let mut names: Vec<String> = e.refs.keys().cloned().collect();
            if e.kind.is_hosted() && !names.iter().any(|n| n == "host") {
                names.insert(0, "host".into());
            }
            egui::Grid::new("inspector-refs")
                .num_columns(3)
                .show(ui, |ui| {
                    for name in names {
                        ui.label(&name);
                        let target = e.refs.get(&name);
                        let shown = target.map_or_else(
                            || "—".to_owned(),
                            |t| {
                                doc.element_any(t)
                                    .map_or_else(|| format!("{t} (missing)"), |x| x.tag.clone())
                            },
                        );
                        ui.monospace(shown);
                        ui.horizontal(|ui| {
                            if ui
                                .small_button("Pick…")
                                .on_hover_text("Click the target on the canvas")
                                .clicked()
                            {
                                req.pick_ref = Some((id.clone(), name.clone()));
                            }
                            if target.is_some() && ui.small_button("Clear").clicked() {
                                set(
                                    req,
                                    &format!("clear {name}"),
                                    &id,
                                    Command::SetReference {
                                        id: id.clone(),
                                        name: name.clone(),
                                        target: None,
                                    },
                                );
                            }
                        });
                        ui.end_row();
                    }
                });
        }
    }

    fn geometry_rows(&mut self, ui: &mut egui::Ui, e: &Element, units: Units, req: &mut Request) {
        let id = e.id.clone();
        match &e.geometry {
            Geometry::Rect { width, height } => {
                if let Some(w) = self.length_field(ui, "width", "Width", *width, units, req)
                    && w > 0.0
                {
                    set(
                        req,
                        "resize",
                        &id,
                        Command::SetGeometry {
                            id: id.clone(),
                            geometry: Geometry::Rect {
                                width: w,
                                height: *height,
                            },
                        },
                    );
                }
                ui.end_row();
                if let Some(h) = self.length_field(ui, "height", "Depth", *height, units, req)
                    && h > 0.0
                {
                    set(
                        req,
                        "resize",
                        &id,
                        Command::SetGeometry {
                            id: id.clone(),
                            geometry: Geometry::Rect {
                                width: *width,
                                height: h,
                            },
                        },
                    );
                }
                ui.end_row();
            }
            Geometry::Circle { radius } => {
                if let Some(r) = self.length_field(ui, "radius", "Radius", *radius, units, req)
                    && r > 0.0
                {
                    set(
                        req,
                        "resize",
                        &id,
                        Command::SetGeometry {
                            id: id.clone(),
                            geometry: Geometry::Circle { radius: r },
                        },
                    );
                }
                ui.end_row();
            }
            Geometry::Polyline { points } | Geometry::Polygon { points } => {
                ui.label("Points");
                let len: f64 = points
                    .windows(2)
                    .map(|w| (w[1].x - w[0].x).hypot(w[1].y - w[0].y))
                    .sum();
                ui.label(format!("{} · length {}", points.len(), units.show(len)));
                ui.end_row();
            }
            _ => {}
        }
    }

    fn several(&mut self, ui: &mut egui::Ui, doc: &Document, many: &[&Element], req: &mut Request) {
        let ids: Vec<ElementId> = many.iter().map(|e| e.id.clone()).collect();
        ui.strong(format!("{} elements selected", many.len()));
        let layers: Vec<arxos_doc::LayerId> = many.iter().map(|e| e.layer.clone()).collect();
        egui::Grid::new("inspector-multi")
            .num_columns(2)
            .spacing([8.0, 6.0])
            .show(ui, |ui| {
                layer_row(ui, doc, &layers, &ids, req);
                ui.end_row();
            });
        // Shared properties: present on every element with the same type.
        let first = many[0];
        let shared: Vec<(&String, &Property)> = first
            .props
            .iter()
            .filter(|(k, p)| {
                many.iter().all(|e| {
                    e.props
                        .get(*k)
                        .is_some_and(|q| q.value.type_name() == p.value.type_name())
                })
            })
            .collect();
        ui.separator();
        ui.strong("Shared properties");
        if shared.is_empty() {
            ui.weak("The selected elements share no property.");
        }
        egui::Grid::new("inspector-multi-props")
            .num_columns(2)
            .spacing([8.0, 6.0])
            .show(ui, |ui| {
                for (name, p) in shared {
                    let same = many
                        .iter()
                        .all(|e| e.props.get(name).map(|q| &q.value) == Some(&p.value));
                    let shown = if same {
                        p.clone()
                    } else {
                        Property {
                            value: PropValue::Text(String::new()),
                            unit: p.unit.clone(),
                        }
                    };
                    let typed = if same {
                        shown
                    } else {
                        Property {
                            value: match p.value {
                                PropValue::Bool(_) => PropValue::Bool(false),
                                PropValue::Number(_) | PropValue::Text(_) => {
                                    PropValue::Text(String::new())
                                }
                            },
                            unit: p.unit.clone(),
                        }
                    };
                    if let Some(value) = self.prop_editor(ui, name, &typed, req) {
                        let value = match (&p.value, value) {
                            (PropValue::Number(_), PropValue::Text(t)) => {
                                match parse_number(&t, p.unit.as_deref()) {
                                    Ok(n) => PropValue::Number(n),
                                    Err(e) => {
                                        req.error = Some(e);
                                        continue;
                                    }
                                }
                            }
                            (_, v) => v,
                        };
                        set_prop(req, &ids, name, &value, p.unit.as_deref());
                    }
                    ui.end_row();
                }
            });
        self.add_property(ui, &ids, req);
    }

    /// One property's editor; returns a new value when committed.
    fn prop_editor(
        &mut self,
        ui: &mut egui::Ui,
        name: &str,
        p: &Property,
        req: &mut Request,
    ) -> Option<PropValue> {
        let label = ui.label(name);
        match &p.value {
            PropValue::Bool(b) => {
                let mut v = *b;
                let r = ui.checkbox(&mut v, "").labelled_by(label.id);
                (r.changed()).then_some(PropValue::Bool(v))
            }
            PropValue::Number(n) => {
                let current = format_number(*n);
                let key = format!("prop.{name}");
                let text = self.text_edit(ui, &key, &current, p.unit.as_deref(), label.id)?;
                match parse_number(&text, p.unit.as_deref()) {
                    Ok(v) => Some(PropValue::Number(v)),
                    Err(e) => {
                        req.error = Some(format!("{name}: {e}"));
                        None
                    }
                }
            }
            PropValue::Text(t) => {
                if let Some((_, options)) = ENUMS.iter().find(|(k, _)| *k == name) {
                    let mut chosen = None;
                    egui::ComboBox::from_id_salt(("enum", name))
                        .selected_text(t.as_str())
                        .show_ui(ui, |ui| {
                            for o in *options {
                                if ui.selectable_label(t == o, *o).clicked() && t != o {
                                    chosen = Some(PropValue::Text((*o).to_owned()));
                                }
                            }
                        })
                        .response
                        .labelled_by(label.id);
                    chosen
                } else {
                    let key = format!("prop.{name}");
                    self.text_edit(ui, &key, t, None, label.id)
                        .map(PropValue::Text)
                }
            }
        }
    }

    fn add_property(&mut self, ui: &mut egui::Ui, ids: &[ElementId], req: &mut Request) {
        ui.collapsing("Add property", |ui| {
            ui.horizontal(|ui| {
                ui.add(
                    egui::TextEdit::singleline(&mut self.new_prop.0)
                        .hint_text("name")
                        .desired_width(90.0),
                );
                ui.add(
                    egui::TextEdit::singleline(&mut self.new_prop.1)
                        .hint_text("value (240 V, true, text)")
                        .desired_width(120.0),
                );
                if ui.button("Add").clicked() && !self.new_prop.0.trim().is_empty() {
                    let name = self.new_prop.0.trim().to_owned();
                    let (value, unit) = split_unit(self.new_prop.1.trim());
                    set_prop(
                        req,
                        ids,
                        &name,
                        &PropValue::parse_loose(&value),
                        unit.as_deref(),
                    );
                    self.new_prop = (String::new(), String::new());
                }
            });
        });
    }

    fn text_field(
        &mut self,
        ui: &mut egui::Ui,
        key: &str,
        label: &str,
        current: &str,
    ) -> Option<String> {
        let l = ui.label(label);
        self.text_edit(ui, key, current, None, l.id)
    }

    fn length_field(
        &mut self,
        ui: &mut egui::Ui,
        key: &str,
        label: &str,
        mm: f64,
        units: Units,
        req: &mut Request,
    ) -> Option<f64> {
        let l = ui.label(label);
        let (shown, unit) = match units {
            Units::Mm => (format_number(mm), "mm"),
            Units::M => (format_number(mm / 1_000.0), "m"),
        };
        let text = self.text_edit(ui, key, &shown, Some(unit), l.id)?;
        match parse_number(&text, Some(unit)) {
            Ok(v) => Some(if units == Units::M { v * 1_000.0 } else { v }),
            Err(e) => {
                req.error = Some(format!("{label}: {e}"));
                None
            }
        }
    }

    fn number_field(
        &mut self,
        ui: &mut egui::Ui,
        key: &str,
        label: &str,
        v: f64,
        unit: Option<&str>,
        req: &mut Request,
    ) -> Option<f64> {
        let l = ui.label(label);
        let text = self.text_edit(ui, key, &format_number(v), unit, l.id)?;
        match parse_number(&text, None) {
            Ok(v) => Some(v),
            Err(e) => {
                req.error = Some(format!("{label}: {e}"));
                None
            }
        }
    }

    /// A single-line field that keeps what is typed while focused and commits on Enter or
    /// focus loss; otherwise it shows the document's current value.
    fn text_edit(
        &mut self,
        ui: &mut egui::Ui,
        key: &str,
        current: &str,
        unit: Option<&str>,
        label: egui::Id,
    ) -> Option<String> {
        let id = ui.make_persistent_id(("field", key));
        let focused = ui.memory(|m| m.has_focus(id));
        let buf = self
            .buffers
            .entry(key.to_owned())
            .or_insert_with(|| current.to_owned());
        if !focused {
            current.clone_into(buf);
        }
        let mut committed = None;
        ui.horizontal(|ui| {
            let r = ui
                .add(egui::TextEdit::singleline(buf).id(id).desired_width(130.0))
                .labelled_by(label);
            if let Some(u) = unit {
                ui.weak(u);
            }
            if r.lost_focus() && *buf != current {
                committed = Some(buf.clone());
            }
        });
        committed
    }
}

fn layer_row(
    ui: &mut egui::Ui,
    doc: &Document,
    current: &[arxos_doc::LayerId],
    ids: &[ElementId],
    req: &mut Request,
) {
    let layer_label = ui.label("Layer").id;
    let same = current.windows(2).all(|w| w[0] == w[1]);
    let shown = if same {
        current
            .first()
            .and_then(|l| doc.layers().get(l))
            .map_or("—", |l| l.name.as_str())
    } else {
        "(several)"
    };
    egui::ComboBox::from_id_salt("layer")
        .selected_text(shown)
        .show_ui(ui, |ui| {
            for l in doc.layers().values() {
                let on = same && current.first() == Some(&l.id);
                if ui.selectable_label(on, &l.name).clicked() && !on {
                    req.edit = Some((
                        format!("move to layer {}", l.name),
                        ids.to_vec(),
                        vec![Command::SetLayer {
                            ids: ids.to_vec(),
                            layer: l.id.clone(),
                        }],
                    ));
                }
            }
        })
        .response
        .labelled_by(layer_label);
}

fn set(req: &mut Request, label: &str, id: &ElementId, cmd: Command) {
    req.edit = Some((label.to_owned(), vec![id.clone()], vec![cmd]));
}

fn set_prop(
    req: &mut Request,
    ids: &[ElementId],
    name: &str,
    value: &PropValue,
    unit: Option<&str>,
) {
    let cmds = ids
        .iter()
        .map(|id| Command::SetProperties {
            id: id.clone(),
            set: vec![(
                name.to_owned(),
                Property {
                    value: value.clone(),
                    unit: unit.map(str::to_owned),
                },
            )],
            remove: vec![],
        })
        .collect();
    req.edit = Some((format!("set {name}"), ids.to_vec(), cmds));
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next().map_or_else(String::new, |f| {
        f.to_uppercase().collect::<String>() + c.as_str()
    })
}

/// A number as a person types it: no trailing zeros, no exponent for plan-sized values.
pub fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{n:.0}")
    } else {
        let s = format!("{n:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

/// Scale factors between units of one quantity, relative to the first.
const UNIT_FAMILIES: &[&[(&str, f64)]] = &[
    &[("mm", 1.0), ("cm", 10.0), ("m", 1_000.0)],
    &[("V", 1.0), ("kV", 1_000.0)],
    &[("A", 1.0), ("mA", 0.001)],
    &[("W", 1.0), ("kW", 1_000.0)],
];

/// Reads a typed number, with an optional unit converted into `unit` (`1.2 m` into mm).
pub fn parse_number(text: &str, unit: Option<&str>) -> Result<f64, String> {
    let text = text.trim().replace(',', ".");
    let (num, typed_unit) = split_unit(&text);
    let v: f64 = num
        .trim()
        .replace(',', ".")
        .parse()
        .map_err(|_| format!("“{text}” is not a number"))?;
    if !v.is_finite() {
        return Err(format!("“{text}” is not a finite number"));
    }
    let Some(typed) = typed_unit else {
        return Ok(v);
    };
    let Some(target) = unit else {
        return Err(format!("this value has no unit, but “{typed}” was typed"));
    };
    if typed == target {
        return Ok(v);
    }
    for family in UNIT_FAMILIES {
        let from = family.iter().find(|(u, _)| *u == typed);
        let to = family.iter().find(|(u, _)| *u == target);
        if let (Some((_, f)), Some((_, t))) = (from, to) {
            return Ok(v * f / t);
        }
    }
    Err(format!("cannot convert {typed} into {target}"))
}

/// Splits `240 V` into (`240`, `V`).
fn split_unit(text: &str) -> (String, Option<String>) {
    let idx = text
        .char_indices()
        .find(|(i, c)| {
            c.is_alphabetic()
                && !(*c == 'e'
                    && text[..*i]
                        .chars()
                        .last()
                        .is_some_and(|p| p.is_ascii_digit())
                    && text[i + 1..]
                        .chars()
                        .next()
                        .is_some_and(|n| n.is_ascii_digit() || n == '-'))
        })
        .map(|(i, _)| i);
    match idx {
        Some(i) if i > 0 && text[..i].trim().parse::<f64>().is_ok() => (
            text[..i].trim().to_owned(),
            Some(text[i..].trim().to_owned()),
        ),
        _ => (text.to_owned(), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_with_units_convert_and_bad_ones_are_refused() {
        assert_eq!(parse_number("240", Some("V")), Ok(240.0));
        assert_eq!(parse_number("240 V", Some("V")), Ok(240.0));
        assert_eq!(parse_number("1.2 m", Some("mm")), Ok(1_200.0));
        assert_eq!(parse_number("0,4 kV", Some("V")), Ok(400.0));
        assert!(parse_number("12 A", Some("V")).is_err());
        assert!(parse_number("abc", Some("V")).is_err());
        assert!(parse_number("1e400", None).is_err());
        assert_eq!(parse_number("1e3", None), Ok(1_000.0));
        assert_eq!(format_number(1_200.0), "1200");
        assert_eq!(format_number(0.125), "0.125");
    }
}
