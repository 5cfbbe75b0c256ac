//! The Conflict rules window: the plan's automatic rules (a strategy per layer, kind or tag
//! pattern; critical layers), each removable, and a form adding a strategy rule. Rules are
//! checked by `arxos_doc::workflow::rules::RuleSpec`, so the window refuses exactly what
//! `arxos rules add` refuses, with the same words; they are records of the plan, written
//! through the session like any edit.

use arxos_doc::conflict::rules::{self, Rule};
use arxos_doc::workflow::rules::{RuleSpec, rule_id};
use arxos_doc::{Command, RecordSet};

use super::EditorApp;

const STRATEGIES: [(&str, &str); 5] = [
    ("merge-compatible", "Ask when changes overlap"),
    ("manual", "Always ask"),
    ("lww", "Last write wins"),
    ("fww", "First write wins"),
    ("priority", "Highest role wins"),
];

/// The window's form.
#[derive(Debug)]
pub(crate) struct RulesUi {
    pub(crate) open: bool,
    strategy: String,
    layer: Option<String>,
    kind: String,
    tag: String,
}

impl Default for RulesUi {
    fn default() -> Self {
        Self {
            open: false,
            strategy: "lww".into(),
            layer: None,
            kind: String::new(),
            tag: String::new(),
        }
    }
}

impl EditorApp {
    /// The Conflict rules window, when open.
    pub(super) fn rules_window(&mut self, ctx: &egui::Context) {
        if !self.rules_ui.open {
            return;
        }
        let Some(ws) = self.ws.as_mut() else { return };
        let Some((existing, layers)) =
            ws.read(|doc| (rules::rules(doc), super::conflicts::layer_names(doc)))
        else {
            return;
        };
        let st = &mut self.rules_ui;
        let mut open = true;
        let mut cmd: Option<(String, Command)> = None;
        let mut error = None;
        egui::Window::new("Conflict rules")
            .open(&mut open)
            .collapsible(false)
            .default_width(420.0)
            .show(ctx, |ui| {
                if existing.is_empty() {
                    ui.weak("No rules: every overlapping change waits for a person.");
                }
                for (id, rule) in &existing {
                    ui.horizontal(|ui| {
                        ui.label(rule.describe());
                        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                            if ui.small_button("Remove").clicked() {
                                cmd = Some((
                                    format!("remove rule {id}"),
                                    Command::DeleteRecord {
                                        set: RecordSet::Rules,
                                        id: id.clone(),
                                    },
                                ));
                            }
                        });
                    });
                }
                ui.separator();
                ui.weak("Add a strategy");
                egui::Grid::new("rule-form")
                    .num_columns(2)
                    .spacing([10.0, 6.0])
                    .show(ui, |ui| {
                        ui.label("Settle by");
                        let shown = STRATEGIES
                            .iter()
                            .find(|(k, _)| *k == st.strategy)
                            .map_or("", |(_, l)| l);
                        egui::ComboBox::from_id_salt("rule-strategy")
                            .selected_text(shown)
                            .show_ui(ui, |ui| {
                                for (k, label) in STRATEGIES {
                                    ui.selectable_value(&mut st.strategy, k.to_owned(), label);
                                }
                            });
                        ui.end_row();
                        ui.label("On layer");
                        let layer_name = st
                            .layer
                            .as_ref()
                            .and_then(|l| layers.iter().find(|(i, _)| i == l))
                            .map_or("any layer", |(_, n)| n.as_str());
                        egui::ComboBox::from_id_salt("rule-layer")
                            .selected_text(layer_name)
                            .show_ui(ui, |ui| {
                                ui.selectable_value(&mut st.layer, None, "any layer");
                                for (i, n) in &layers {
                                    ui.selectable_value(&mut st.layer, Some(i.clone()), n);
                                }
                            });
                        ui.end_row();
                        ui.label("Kind");
                        ui.add(
                            egui::TextEdit::singleline(&mut st.kind).hint_text("any, or outlet"),
                        );
                        ui.end_row();
                        ui.label("Tag pattern");
                        ui.add(egui::TextEdit::singleline(&mut st.tag).hint_text("any, or R45-*"));
                        ui.end_row();
                    });
                if ui.button("Add rule").clicked() {
                    let spec = RuleSpec::Strategy {
                        strategy: st.strategy.clone(),
                        layer: st.layer.clone(),
                        kind: Some(st.kind.trim().to_owned()).filter(|k| !k.is_empty()),
                        tag: Some(st.tag.trim().to_owned()).filter(|t| !t.is_empty()),
                        order: i64::try_from(existing.len()).unwrap_or(i64::MAX),
                    };
                    match ws.read(|doc| spec.build(doc)) {
                        Some(Ok(rule)) => {
                            let id = rule_id(&rule);
                            if existing.contains_key(&id) {
                                error = Some("that rule is already there".to_owned());
                            } else {
                                cmd = Some((describe_add(&id, &rule), rules::add_rule(&id, &rule)));
                            }
                        }
                        Some(Err(e)) => error = Some(e.to_string()),
                        None => {}
                    }
                }
                ui.weak("Rules apply to conflicts found from now on, in every window.");
            });
        st.open = open;
        if let Some((label, c)) = cmd
            && let Err(e) = ws.apply_records(arxos_doc::ChangeKind::Rule, &label, vec![c])
        {
            error = Some(e);
        }
        if let Some(e) = error {
            self.toast(ctx, e, true);
        }
    }
}

fn describe_add(id: &str, rule: &Rule) -> String {
    format!("add rule {id}: {}", rule.describe())
}
