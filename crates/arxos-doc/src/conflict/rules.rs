//! Rules stored in the document (`rules` records), so every replica applies the same policy:
//! conflict strategies matched by layer, kind or tag pattern; critical layers that are always
//! resolved by hand; author roles for priority; and constraints the merged plan must satisfy.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::command::{Command, RecordSet};
use crate::document::Document;
use crate::error::{DocError, Result};
use crate::model::{Element, PropValue};

/// How a property conflict matched by a rule is settled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// The value written last by wall-clock time wins.
    #[serde(rename = "lww")]
    LastWriteWins,
    /// The value written first wins.
    #[serde(rename = "fww")]
    FirstWriteWins,
    /// The value of the author with the highest role wins (owner > editor > commenter > viewer).
    Priority,
    /// Non-overlapping changes merge (as always); overlapping ones wait for a person.
    MergeCompatible,
    /// Always ask a person.
    Manual,
}

impl Strategy {
    /// The name used in rules and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LastWriteWins => "lww",
            Self::FirstWriteWins => "fww",
            Self::Priority => "priority",
            Self::MergeCompatible => "merge-compatible",
            Self::Manual => "manual",
        }
    }

    /// Parses `lww`, `fww`, `priority`, `merge-compatible`, `manual`.
    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "lww" | "last-write-wins" => Self::LastWriteWins,
            "fww" | "first-write-wins" => Self::FirstWriteWins,
            "priority" => Self::Priority,
            "merge-compatible" => Self::MergeCompatible,
            "manual" => Self::Manual,
            _ => {
                return Err(DocError::Parse {
                    what: "a strategy (lww, fww, priority, merge-compatible, manual)",
                    input: s.to_owned(),
                });
            }
        })
    }

    /// Whether conflicts under this strategy are settled without asking.
    pub fn is_automatic(self) -> bool {
        matches!(
            self,
            Self::LastWriteWins | Self::FirstWriteWins | Self::Priority
        )
    }
}

/// One rule.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Rule {
    /// A conflict strategy for matching elements.
    Strategy {
        /// Settles matching conflicts.
        strategy: Strategy,
        /// Only on this layer.
        layer: Option<String>,
        /// Only this kind.
        kind: Option<String>,
        /// Only tags matching this pattern (`*` and `?` wildcards).
        tag: Option<String>,
        /// Lower orders are tried first.
        order: i64,
    },
    /// Conflicts on this layer are always settled by hand.
    Critical {
        /// The layer id.
        layer: String,
    },
    /// An author's role, for the priority strategy.
    Role {
        /// Author name.
        author: String,
        /// owner, editor, commenter or viewer.
        role: String,
    },
    /// A property may only take listed values.
    Allowed {
        /// Only this kind (all when `None`).
        kind: Option<String>,
        /// The property.
        property: String,
        /// Allowed values, as text.
        values: Vec<String>,
    },
    /// Elements of a kind must carry a property.
    Required {
        /// The kind.
        kind: String,
        /// The property.
        property: String,
    },
    /// Rooms must be at least this large.
    MinArea {
        /// Square metres.
        min_m2: f64,
    },
}

/// Matches `*` (any run) and `?` (any one character).
pub fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

fn text(f: &BTreeMap<String, PropValue>, k: &str) -> Option<String> {
    match f.get(k) {
        Some(PropValue::Text(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

fn number(f: &BTreeMap<String, PropValue>, k: &str) -> Option<f64> {
    match f.get(k) {
        Some(PropValue::Number(n)) => Some(*n),
        _ => None,
    }
}

impl Rule {
    fn from_fields(f: &BTreeMap<String, PropValue>) -> Option<Self> {
        Some(match text(f, "type")?.as_str() {
            "strategy" => Self::Strategy {
                strategy: Strategy::parse(&text(f, "strategy")?).ok()?,
                layer: text(f, "layer"),
                kind: text(f, "kind"),
                tag: text(f, "tag"),
                order: number(f, "order").unwrap_or(0.0) as i64,
            },
            "critical" => Self::Critical {
                layer: text(f, "layer")?,
            },
            "role" => Self::Role {
                author: text(f, "author")?,
                role: text(f, "role")?,
            },
            "allowed" => Self::Allowed {
                kind: text(f, "kind"),
                property: text(f, "property")?,
                values: text(f, "values")?
                    .split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect(),
            },
            "required" => Self::Required {
                kind: text(f, "kind")?,
                property: text(f, "property")?,
            },
            "min-area" => Self::MinArea {
                min_m2: number(f, "min_m2")?,
            },
            _ => return None,
        })
    }

    /// The record fields storing this rule.
    pub fn to_fields(&self) -> BTreeMap<String, PropValue> {
        let mut f = BTreeMap::new();
        let mut put = |k: &str, v: Option<PropValue>| {
            if let Some(v) = v {
                f.insert(k.to_owned(), v);
            }
        };
        let t = |s: &str| Some(PropValue::Text(s.to_owned()));
        let ot = |s: &Option<String>| s.as_deref().map(|s| PropValue::Text(s.to_owned()));
        match self {
            Self::Strategy {
                strategy,
                layer,
                kind,
                tag,
                order,
            } => {
                put("type", t("strategy"));
                put("strategy", t(strategy.as_str()));
                put("layer", ot(layer));
                put("kind", ot(kind));
                put("tag", ot(tag));
                put("order", Some(PropValue::Number(*order as f64)));
            }
            Self::Critical { layer } => {
                put("type", t("critical"));
                put("layer", t(layer));
            }
            Self::Role { author, role } => {
                put("type", t("role"));
                put("author", t(author));
                put("role", t(role));
            }
            Self::Allowed {
                kind,
                property,
                values,
            } => {
                put("type", t("allowed"));
                put("kind", ot(kind));
                put("property", t(property));
                put("values", t(&values.join(",")));
            }
            Self::Required { kind, property } => {
                put("type", t("required"));
                put("kind", t(kind));
                put("property", t(property));
            }
            Self::MinArea { min_m2 } => {
                put("type", t("min-area"));
                put("min_m2", Some(PropValue::Number(*min_m2)));
            }
        }
        f
    }

    /// One line for people.
    pub fn describe(&self) -> String {
        match self {
            Self::Strategy {
                strategy,
                layer,
                kind,
                tag,
                order,
            } => {
                let mut m = Vec::new();
                if let Some(l) = layer {
                    m.push(format!("layer={l}"));
                }
                if let Some(k) = kind {
                    m.push(format!("kind={k}"));
                }
                if let Some(t) = tag {
                    m.push(format!("tag={t}"));
                }
                let what = if m.is_empty() {
                    "everything".to_owned()
                } else {
                    m.join(" ")
                };
                format!("{} for {what} (order {order})", strategy.as_str())
            }
            Self::Critical { layer } => format!("layer {layer} is critical: always manual"),
            Self::Role { author, role } => format!("{author} is {role}"),
            Self::Allowed {
                kind,
                property,
                values,
            } => format!(
                "{}.{property} must be one of {}",
                kind.as_deref().unwrap_or("*"),
                values.join(", ")
            ),
            Self::Required { kind, property } => format!("every {kind} needs {property}"),
            Self::MinArea { min_m2 } => format!("rooms must be at least {min_m2} m²"),
        }
    }

    /// Whether a strategy rule applies to `e`.
    pub fn matches(&self, e: &Element) -> bool {
        match self {
            Self::Strategy {
                layer, kind, tag, ..
            } => {
                layer.as_deref().is_none_or(|l| l == e.layer.as_str())
                    && kind.as_deref().is_none_or(|k| k == e.kind.as_str())
                    && tag.as_deref().is_none_or(|p| glob(p, &e.tag))
            }
            _ => false,
        }
    }
}

/// Every valid rule of the document by id (records that do not decode are skipped).
pub fn rules(doc: &Document) -> BTreeMap<String, Rule> {
    doc.records(RecordSet::Rules)
        .into_iter()
        .filter_map(|(id, f)| Rule::from_fields(&f).map(|r| (id, r)))
        .collect()
}

/// The command adding `rule` under `id`.
pub fn add_rule(id: &str, rule: &Rule) -> Command {
    Command::PutRecord {
        set: RecordSet::Rules,
        id: id.to_owned(),
        fields: rule.to_fields(),
    }
}

/// The strategy for `e`: critical layers force manual, else the first matching rule by order
/// (then id), else merge-compatible (the default: people decide).
pub fn strategy_for(rules: &BTreeMap<String, Rule>, e: &Element) -> (Strategy, Option<String>) {
    if rules
        .values()
        .any(|r| matches!(r, Rule::Critical { layer } if layer == e.layer.as_str()))
    {
        return (Strategy::Manual, None);
    }
    let mut candidates: Vec<(&i64, &String, Strategy)> = rules
        .iter()
        .filter(|(_, r)| r.matches(e))
        .filter_map(|(id, r)| match r {
            Rule::Strategy {
                strategy, order, ..
            } => Some((order, id, *strategy)),
            _ => None,
        })
        .collect();
    candidates.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    candidates
        .first()
        .map_or((Strategy::MergeCompatible, None), |(_, id, s)| {
            (*s, Some((*id).clone()))
        })
}

/// Rank of a role for the priority strategy (higher wins).
pub fn role_rank(rules: &BTreeMap<String, Rule>, author: &str) -> u8 {
    rules
        .values()
        .find_map(|r| match r {
            Rule::Role { author: a, role } if a == author => Some(match role.as_str() {
                "owner" => 4,
                "editor" => 3,
                "commenter" => 2,
                "viewer" => 1,
                _ => 0,
            }),
            _ => None,
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globbing() {
        assert!(glob("outlet:*", "outlet:R45-23"));
        assert!(glob("outlet:R4?-*", "outlet:R45-23"));
        assert!(!glob("outlet:R5*", "outlet:R45-23"));
        assert!(glob("*", ""));
        assert!(!glob("a", ""));
    }
}
