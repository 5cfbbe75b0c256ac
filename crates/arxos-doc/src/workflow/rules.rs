//! Building, adding and removing the plan's rules from what a person typed.
//!
//! [`RuleSpec`] is the rule as entered (a strategy name, `AUTHOR=ROLE`, `KIND.PROP=V1,V2`...);
//! [`RuleSpec::build`] checks it against the plan and yields the stored [`Rule`]. Checking
//! happens here, once, so that the CLI and the editor refuse the same mistakes with the same
//! one-line errors: an unknown layer or kind, an empty tag pattern, a zero minimum area.

use std::path::Path;

use serde::Serialize;

use crate::command::{ChangeKind, Command, EditContext, RecordSet};
use crate::conflict::rules::{self, Rule, Strategy};
use crate::document::Document;
use crate::error::{DocError, Result};
use crate::file::{PlanFile, SaveKind};
use crate::ids::LayerId;
use crate::model::ElementKind;
use crate::props;

/// The roles the priority strategy ranks, highest first.
pub const ROLES: [&str; 4] = ["owner", "editor", "commenter", "viewer"];

/// A rule as a person entered it, before it is checked against the plan.
#[derive(Clone, Debug, PartialEq)]
pub enum RuleSpec {
    /// A conflict strategy (`lww`, `fww`, `priority`, `merge-compatible`, `manual`) for the
    /// elements matching every given filter.
    Strategy {
        /// The strategy name.
        strategy: String,
        /// Only this layer (an id the plan has).
        layer: Option<String>,
        /// Only this element kind.
        kind: Option<String>,
        /// Only tags matching this pattern (`*`, `?`); must not be empty.
        tag: Option<String>,
        /// Lower orders are tried first.
        order: i64,
    },
    /// Conflicts on this layer are always settled by hand.
    CriticalLayer(String),
    /// `AUTHOR=ROLE`, a role for the priority strategy.
    Role(String),
    /// `KIND.PROP=V1,V2,...` (KIND may be `*`).
    Allowed(String),
    /// `KIND.PROP`: a property every element of a kind must carry.
    Required(String),
    /// Minimum room area in m² (positive).
    MinArea(f64),
}

fn invalid(input: &str, reason: impl Into<String>) -> DocError {
    DocError::InvalidRule {
        input: input.to_owned(),
        reason: reason.into(),
    }
}

/// Refuses a layer id the plan does not have: a rule for it would silently match nothing.
fn check_layer(doc: &Document, layer: &str) -> Result<()> {
    if doc.layers().contains_key(&LayerId::new(layer)) {
        return Ok(());
    }
    let known: Vec<&str> = doc.layers().keys().map(LayerId::as_str).collect();
    Err(invalid(
        layer,
        format!(
            "the plan has no layer `{layer}` (layers: {})",
            known.join(", ")
        ),
    ))
}

/// Splits `KIND.PROP` (KIND may be `*`, meaning every kind) and checks both halves.
pub fn split_kind_prop(s: &str) -> Result<(Option<ElementKind>, String)> {
    let (k, p) = s
        .split_once('.')
        .ok_or_else(|| invalid(s, "expected KIND.PROP"))?;
    props::validate_name(p)?;
    let kind = if k == "*" { None } else { Some(k.parse()?) };
    Ok((kind, p.to_owned()))
}

impl RuleSpec {
    /// Checks the rule against `doc` and returns it as stored.
    pub fn build(&self, doc: &Document) -> Result<Rule> {
        match self {
            Self::Strategy {
                strategy,
                layer,
                kind,
                tag,
                order,
            } => {
                let strategy = Strategy::parse(strategy)?;
                if let Some(l) = layer {
                    check_layer(doc, l)?;
                }
                if let Some(k) = kind {
                    k.parse::<ElementKind>()?;
                }
                if let Some(t) = tag.as_deref().filter(|t| t.trim().is_empty()) {
                    return Err(invalid(
                        &format!("tag={t}"),
                        "an empty tag pattern matches nothing; use `*` for every tag",
                    ));
                }
                Ok(Rule::Strategy {
                    strategy,
                    layer: layer.clone(),
                    kind: kind.clone(),
                    tag: tag.clone(),
                    order: *order,
                })
            }
            Self::CriticalLayer(layer) => {
                check_layer(doc, layer)?;
                Ok(Rule::Critical {
                    layer: layer.clone(),
                })
            }
            Self::Role(r) => {
                let (author, role) = r
                    .split_once('=')
                    .ok_or_else(|| invalid(r, "expected AUTHOR=ROLE"))?;
                if author.trim().is_empty() {
                    return Err(invalid(r, "the author is empty"));
                }
                if !ROLES.contains(&role) {
                    return Err(invalid(r, "the role is owner, editor, commenter or viewer"));
                }
                Ok(Rule::Role {
                    author: author.to_owned(),
                    role: role.to_owned(),
                })
            }
            Self::Allowed(s) => {
                let (lhs, values) = s
                    .split_once('=')
                    .ok_or_else(|| invalid(s, "expected KIND.PROP=V1,V2"))?;
                let (kind, property) = split_kind_prop(lhs)?;
                let values: Vec<String> = values
                    .split(',')
                    .map(|v| v.trim().to_owned())
                    .filter(|v| !v.is_empty())
                    .collect();
                if values.is_empty() {
                    return Err(invalid(s, "list at least one value"));
                }
                Ok(Rule::Allowed {
                    kind: kind.map(|k| k.as_str().to_owned()),
                    property,
                    values,
                })
            }
            Self::Required(s) => {
                let (kind, property) = split_kind_prop(s)?;
                let kind =
                    kind.ok_or_else(|| invalid(s, "a required property needs a kind, not `*`"))?;
                Ok(Rule::Required {
                    kind: kind.as_str().to_owned(),
                    property,
                })
            }
            Self::MinArea(m) => {
                if !(m.is_finite() && *m > 0.0) {
                    return Err(invalid(
                        &m.to_string(),
                        "the minimum area must be a positive number of m²",
                    ));
                }
                Ok(Rule::MinArea { min_m2: *m })
            }
        }
    }
}

/// The id a rule gets when none is given: its description as a lower-case slug of at most 60
/// characters (`lww-for-kind-outlet-order-0`), so the same rule gets the same id everywhere.
pub fn rule_id(rule: &Rule) -> String {
    let slug: String = rule
        .describe()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let joined = slug
        .split('-')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    joined.chars().take(60).collect()
}

/// Builds `spec` and stores it under `id` (derived with [`rule_id`] when `None`) as one change;
/// refuses an id already taken. Returns the id and the rule.
pub fn add_rule_to(
    doc: &mut Document,
    ctx: &EditContext,
    id: Option<&str>,
    spec: &RuleSpec,
) -> Result<(String, Rule)> {
    let rule = spec.build(doc)?;
    let id = id.map_or_else(|| rule_id(&rule), ToOwned::to_owned);
    if rules::rules(doc).contains_key(&id) {
        return Err(DocError::DuplicateName {
            what: "rule",
            name: id,
        });
    }
    doc.apply_batch_as(
        ctx,
        ChangeKind::Rule,
        &format!("add rule {id}: {}", rule.describe()),
        vec![rules::add_rule(&id, &rule)],
    )?;
    Ok((id, rule))
}

/// Removes the rule `id` as one change.
pub fn remove_rule_from(doc: &mut Document, ctx: &EditContext, id: &str) -> Result<()> {
    // Any record counts, even one that no longer decodes as a rule: removing it is the fix.
    if !doc.records(RecordSet::Rules).contains_key(id) {
        return Err(DocError::UnknownName {
            what: "rule",
            name: id.to_owned(),
        });
    }
    doc.apply_batch_as(
        ctx,
        ChangeKind::Rule,
        &format!("remove rule {id}"),
        vec![Command::DeleteRecord {
            set: RecordSet::Rules,
            id: id.to_owned(),
        }],
    )?;
    Ok(())
}

/// What [`add_rule_to_file`] stored.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RuleAdded {
    /// The rule id.
    pub id: String,
    /// The rule.
    pub rule: Rule,
    /// How the plan was saved.
    pub saved: SaveKind,
}

/// [`add_rule_to`] on the plan at `path`, saved; nothing is written when it is refused.
pub fn add_rule_to_file(
    path: &Path,
    ctx: &EditContext,
    id: Option<&str>,
    spec: &RuleSpec,
) -> Result<RuleAdded> {
    let (mut file, mut doc) = PlanFile::open(path)?;
    let (id, rule) = add_rule_to(&mut doc, ctx, id, spec)?;
    let saved = file.save(&mut doc)?;
    Ok(RuleAdded { id, rule, saved })
}

/// [`remove_rule_from`] on the plan at `path`, saved.
pub fn remove_rule_from_file(path: &Path, ctx: &EditContext, id: &str) -> Result<SaveKind> {
    let (mut file, mut doc) = PlanFile::open(path)?;
    remove_rule_from(&mut doc, ctx, id)?;
    file.save(&mut doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Document {
        Document::new_plan("t", &EditContext::at("a", 1)).unwrap()
    }

    fn strategy(layer: Option<&str>, tag: Option<&str>) -> RuleSpec {
        RuleSpec::Strategy {
            strategy: "lww".into(),
            layer: layer.map(Into::into),
            kind: Some("outlet".into()),
            tag: tag.map(Into::into),
            order: 2,
        }
    }

    #[test]
    fn specs_build_the_stored_rules() {
        let doc = plan();
        let layer = doc.layers().keys().next().unwrap().as_str().to_owned();
        assert_eq!(
            strategy(Some(&layer), Some("outlet:*"))
                .build(&doc)
                .unwrap(),
            Rule::Strategy {
                strategy: Strategy::LastWriteWins,
                layer: Some(layer.clone()),
                kind: Some("outlet".into()),
                tag: Some("outlet:*".into()),
                order: 2,
            }
        );
        assert_eq!(
            RuleSpec::Allowed("*.voltage= 230, ,400".into())
                .build(&doc)
                .unwrap(),
            Rule::Allowed {
                kind: None,
                property: "voltage".into(),
                values: vec!["230".into(), "400".into()],
            }
        );
        assert_eq!(
            RuleSpec::Role("ana=owner".into()).build(&doc).unwrap(),
            Rule::Role {
                author: "ana".into(),
                role: "owner".into()
            }
        );
        assert_eq!(
            RuleSpec::Required("room.name".into()).build(&doc).unwrap(),
            Rule::Required {
                kind: "room".into(),
                property: "name".into()
            }
        );
    }

    #[test]
    fn bad_specs_get_one_line_errors_naming_the_culprit() {
        let doc = plan();
        let msg = |s: RuleSpec| s.build(&doc).unwrap_err().to_string();
        let e = msg(strategy(Some("plumbing-x"), None));
        assert!(
            e.starts_with("invalid rule `plumbing-x`: the plan has no layer `plumbing-x`"),
            "{e}"
        );
        assert!(!e.contains('\n'));
        assert!(msg(RuleSpec::CriticalLayer("nope".into())).contains("no layer `nope`"));
        assert!(msg(strategy(None, Some(" "))).contains("empty tag pattern"));
        assert!(msg(RuleSpec::MinArea(0.0)).contains("positive"));
        assert!(msg(RuleSpec::MinArea(f64::NAN)).contains("positive"));
        assert!(msg(RuleSpec::Role("ana".into())).contains("expected AUTHOR=ROLE"));
        assert!(msg(RuleSpec::Role("ana=boss".into())).contains("owner, editor"));
        assert!(msg(RuleSpec::Allowed("outlet.voltage=".into())).contains("at least one"));
        assert!(msg(RuleSpec::Required("*.name".into())).contains("needs a kind"));
        assert!(msg(RuleSpec::Required("spaceship.name".into())).contains("element kind"));
        assert!(msg(RuleSpec::Required("room".into())).contains("expected KIND.PROP"));
        let e = msg(RuleSpec::Strategy {
            strategy: "sometimes".into(),
            layer: None,
            kind: None,
            tag: None,
            order: 0,
        });
        assert!(e.contains("cannot parse `sometimes` as a strategy"), "{e}");
    }

    #[test]
    fn rules_are_added_and_removed_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("plan.arx");
        PlanFile::create(&p, &mut plan()).unwrap();
        let ctx = EditContext::at("ana", 5);
        let added = add_rule_to_file(&p, &ctx, None, &strategy(None, None)).unwrap();
        assert_eq!(added.id, "lww-for-kind-outlet-order-2");
        assert_eq!(added.saved, SaveKind::Incremental);
        let stored = rules::rules(&crate::file::load(&p).unwrap());
        assert_eq!(stored.get(&added.id), Some(&added.rule));

        let e = add_rule_to_file(&p, &ctx, Some(&added.id), &RuleSpec::MinArea(4.0)).unwrap_err();
        assert!(
            matches!(e, DocError::DuplicateName { what: "rule", .. }),
            "{e}"
        );

        remove_rule_from_file(&p, &ctx, &added.id).unwrap();
        assert!(rules::rules(&crate::file::load(&p).unwrap()).is_empty());
        let e = remove_rule_from_file(&p, &ctx, &added.id).unwrap_err();
        assert_eq!(e.to_string(), "no rule named `lww-for-kind-outlet-order-2`");
    }
}
