//! Merging and conflicts on the command line: `merge`, `conflicts list|show|resolve|auto`,
//! `rules list|add|remove`.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use arxos_doc::conflict::rules::{Rule, Strategy, add_rule, rules};
use arxos_doc::conflict::{
    AutoResolution, Choice, Conflict, ConflictIndex, LocalSide, Side, auto_resolve, resolve,
};
use arxos_doc::file::{self, PlanFile, ReplicaState};
use arxos_doc::{ChangeKind, Command, Document, EditContext, PropValue, RecordSet};
use clap::Subcommand;
use serde::Serialize;

use super::read::timestamp;
use super::{Author, Out};

/// A conflict flattened for scripts: `local`, `remote` and `base` are the plain values.
#[derive(Serialize)]
struct Row<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    severity: String,
    tag: &'a str,
    element: &'a str,
    property: Option<&'a str>,
    base: Option<&'a PropValue>,
    local: Option<&'a PropValue>,
    remote: Option<&'a PropValue>,
    local_author: Option<&'a str>,
    local_time: Option<String>,
    remote_author: Option<&'a str>,
    remote_time: Option<String>,
    others: Vec<&'a Side>,
    related: Vec<String>,
    message: &'a str,
}

fn row<'a>(doc: &Document, c: &'a Conflict) -> Row<'a> {
    let value = |s: &'a Option<Side>| s.as_ref().and_then(|s| s.value.as_ref());
    Row {
        id: &c.id,
        kind: c.kind.as_str(),
        severity: c.severity.to_string(),
        tag: &c.tag,
        element: c.element.as_str(),
        property: c.property.as_deref(),
        base: c.base.as_ref(),
        local: value(&c.local),
        remote: value(&c.remote),
        local_author: c.local.as_ref().map(|s| s.author.as_str()),
        local_time: c.local.as_ref().map(|s| timestamp(s.time_ms)),
        remote_author: c.remote.as_ref().map(|s| s.author.as_str()),
        remote_time: c.remote.as_ref().map(|s| timestamp(s.time_ms)),
        others: c.others.iter().collect(),
        related: c
            .related
            .iter()
            .map(|id| {
                doc.element_any(id)
                    .map_or(id.to_string(), |e| e.tag.clone())
            })
            .collect(),
        message: &c.message,
    }
}

fn print_table(rows: &[Row<'_>]) {
    for r in rows {
        outln!(
            "{:<16} {:<8} {:<15} {}",
            r.id,
            r.severity,
            r.kind,
            r.message
        );
    }
    if rows.is_empty() {
        outln!("no conflicts");
    }
}

/// How `path`'s conflicts are seen: local is what this replica had before its last merge.
fn local_side(path: &Path) -> anyhow::Result<LocalSide> {
    Ok(match file::load_replica_state(path)? {
        Some(s) if !s.local_heads.is_empty() => LocalSide::Heads(s.heads()),
        _ => LocalSide::Winner,
    })
}

/// Subcommands of `arxos conflicts`.
#[derive(Debug, Subcommand)]
pub enum ConflictsCmd {
    /// List open conflicts, most severe first.
    List {
        /// Plan file.
        file: PathBuf,
    },
    /// Show one conflict with base, local and remote values, authors and times.
    Show {
        /// Plan file.
        file: PathBuf,
        /// Conflict id (or a unique prefix).
        id: String,
    },
    /// Settle a conflict; the resolution is an ordinary change that syncs to everyone.
    Resolve {
        /// Plan file.
        file: PathBuf,
        /// Conflict id (or a unique prefix).
        id: String,
        /// local | remote | base | restore | delete | clear | accept.
        #[arg(long, conflicts_with = "value", required_unless_present = "value")]
        choose: Option<String>,
        /// A value of your own (typed like the conflicting values).
        #[arg(long)]
        value: Option<String>,
        #[command(flatten)]
        author: Author,
    },
    /// Apply the plan's strategy rules to the open conflicts.
    Auto {
        /// Plan file.
        file: PathBuf,
        #[command(flatten)]
        author: Author,
    },
}

/// Subcommands of `arxos rules`.
#[derive(Debug, Subcommand)]
pub enum RulesCmd {
    /// List the plan's rules.
    List {
        /// Plan file.
        file: PathBuf,
    },
    /// Add a rule (exactly one of the rule options).
    Add(Box<AddRule>),
    /// Remove a rule by id.
    Remove {
        /// Plan file.
        file: PathBuf,
        /// Rule id.
        id: String,
        #[command(flatten)]
        author: Author,
    },
}

/// `arxos rules add` options.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("rule").required(true).args(
    ["strategy", "critical_layer", "role", "allowed", "required", "min_area"]
)))]
pub struct AddRule {
    /// Plan file.
    file: PathBuf,
    /// Rule id [default: derived from the rule].
    #[arg(long)]
    id: Option<String>,
    /// Conflict strategy: lww, fww, priority, merge-compatible, manual.
    #[arg(long)]
    strategy: Option<String>,
    /// With --strategy: only this layer.
    #[arg(long, requires = "strategy")]
    layer: Option<String>,
    /// With --strategy: only this kind.
    #[arg(long, requires = "strategy")]
    kind: Option<String>,
    /// With --strategy: only tags matching this pattern (`*`, `?`).
    #[arg(long, requires = "strategy")]
    tag: Option<String>,
    /// With --strategy: lower orders are tried first.
    #[arg(long, requires = "strategy", default_value_t = 0)]
    order: i64,
    /// Conflicts on this layer are always settled by hand.
    #[arg(long)]
    critical_layer: Option<String>,
    /// An author's role for the priority strategy: `AUTHOR=owner|editor|commenter|viewer`.
    #[arg(long)]
    role: Option<String>,
    /// Allowed values: `KIND.PROP=V1,V2,...` (KIND may be `*`).
    #[arg(long)]
    allowed: Option<String>,
    /// A required property: `KIND.PROP`.
    #[arg(long)]
    required: Option<String>,
    /// Minimum room area in m².
    #[arg(long)]
    min_area: Option<f64>,
    #[command(flatten)]
    author: Author,
}

fn split_kind_prop(s: &str) -> anyhow::Result<(Option<String>, String)> {
    let (k, p) = s
        .split_once('.')
        .with_context(|| format!("`{s}`: expected KIND.PROP"))?;
    arxos_doc::props::validate_name(p)?;
    let kind = if k == "*" {
        None
    } else {
        k.parse::<arxos_doc::ElementKind>()?;
        Some(k.to_owned())
    };
    Ok((kind, p.to_owned()))
}

fn rule_from(a: &AddRule) -> anyhow::Result<Rule> {
    if let Some(s) = &a.strategy {
        if let Some(k) = &a.kind {
            k.parse::<arxos_doc::ElementKind>()?;
        }
        return Ok(Rule::Strategy {
            strategy: Strategy::parse(s)?,
            layer: a.layer.clone(),
            kind: a.kind.clone(),
            tag: a.tag.clone(),
            order: a.order,
        });
    }
    if let Some(l) = &a.critical_layer {
        return Ok(Rule::Critical { layer: l.clone() });
    }
    if let Some(r) = &a.role {
        let (author, role) = r
            .split_once('=')
            .with_context(|| format!("--role `{r}`: expected AUTHOR=ROLE"))?;
        if !["owner", "editor", "commenter", "viewer"].contains(&role) {
            bail!("--role `{r}`: the role is owner, editor, commenter or viewer");
        }
        return Ok(Rule::Role {
            author: author.to_owned(),
            role: role.to_owned(),
        });
    }
    if let Some(s) = &a.allowed {
        let (lhs, values) = s
            .split_once('=')
            .with_context(|| format!("--allowed `{s}`: expected KIND.PROP=V1,V2"))?;
        let (kind, property) = split_kind_prop(lhs)?;
        let values: Vec<String> = values
            .split(',')
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .collect();
        if values.is_empty() {
            bail!("--allowed `{s}`: list at least one value");
        }
        return Ok(Rule::Allowed {
            kind,
            property,
            values,
        });
    }
    if let Some(s) = &a.required {
        let (kind, property) = split_kind_prop(s)?;
        let kind = kind.context("--required needs a kind, not `*`")?;
        return Ok(Rule::Required { kind, property });
    }
    if let Some(m) = a.min_area {
        if !(m.is_finite() && m > 0.0) {
            bail!("--min-area must be a positive number of m²");
        }
        return Ok(Rule::MinArea { min_m2: m });
    }
    bail!("give one rule option (see `arxos rules add --help`)")
}

fn rule_id(rule: &Rule) -> String {
    let d = rule.describe();
    let slug: String = d
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let mut out = String::new();
    for part in slug.split('-').filter(|p| !p.is_empty()) {
        if !out.is_empty() {
            out.push('-');
        }
        out.push_str(part);
    }
    out.chars().take(60).collect()
}

/// Parses `--value` like the values in conflict (a number where they are numbers...).
fn typed(c: &Conflict, raw: &str) -> anyhow::Result<PropValue> {
    let sample = [c.local.as_ref(), c.remote.as_ref()]
        .into_iter()
        .flatten()
        .find_map(|s| s.value.clone())
        .or_else(|| c.base.clone());
    Ok(match sample {
        Some(PropValue::Number(_)) => PropValue::Number(
            raw.trim()
                .parse::<f64>()
                .ok()
                .filter(|n| n.is_finite())
                .with_context(|| format!("--value `{raw}`: expected a number"))?,
        ),
        Some(PropValue::Bool(_)) => match raw.trim() {
            "true" => PropValue::Bool(true),
            "false" => PropValue::Bool(false),
            _ => bail!("--value `{raw}`: expected true or false"),
        },
        _ => PropValue::Text(raw.to_owned()),
    })
}

/// `arxos conflicts …`.
pub fn run_conflicts(out: Out, cmd: ConflictsCmd) -> anyhow::Result<()> {
    match cmd {
        ConflictsCmd::List { file } => {
            let mut doc = file::load(&file)?;
            let idx = ConflictIndex::scan(&mut doc, local_side(&file)?);
            let list = idx.list(&doc);
            let rows: Vec<Row<'_>> = list.iter().map(|c| row(&doc, c)).collect();
            out.emit(&rows, || print_table(&rows))
        }
        ConflictsCmd::Show { file, id } => {
            let mut doc = file::load(&file)?;
            let idx = ConflictIndex::scan(&mut doc, local_side(&file)?);
            let c = idx
                .get(&id)
                .with_context(|| format!("no open conflict `{id}` (see `arxos conflicts list`)"))?;
            let r = row(&doc, c);
            out.emit(&r, || {
                outln!("{}  {} {}  {}", c.id, c.severity, c.kind, c.tag);
                outln!("  {}", c.message);
                if let Some(p) = &c.property {
                    outln!("  property  {p}");
                }
                let show = |label: &str, s: &Option<Side>| {
                    if let Some(s) = s {
                        let v = s
                            .value
                            .as_ref()
                            .map_or("(none)".into(), ToString::to_string);
                        outln!(
                            "  {label:<9} {v:<20} by {} at {}",
                            s.author,
                            timestamp(s.time_ms)
                        );
                    }
                };
                if let Some(b) = &c.base {
                    outln!("  base      {b}");
                }
                show("local", &c.local);
                show("remote", &c.remote);
                for o in &c.others {
                    show("other", &Some(o.clone()));
                }
                for rel in &r.related {
                    outln!("  related   {rel}");
                }
            })
        }
        ConflictsCmd::Resolve {
            file,
            id,
            choose,
            value,
            author,
        } => {
            let (mut pf, mut doc) = PlanFile::open(&file)?;
            let idx = ConflictIndex::scan(&mut doc, local_side(&file)?);
            let c = idx
                .get(&id)
                .with_context(|| format!("no open conflict `{id}` (see `arxos conflicts list`)"))?
                .clone();
            let choice = match (&choose, &value) {
                (Some(ch), _) => Choice::parse(ch)?,
                (None, Some(v)) => Choice::Value(typed(&c, v)?),
                (None, None) => bail!("give --choose or --value"),
            };
            let changes = resolve(&mut doc, &EditContext::now(author.name()), &c, &choice)?;
            pf.save(&mut doc)?;
            let left = ConflictIndex::scan(&mut doc, local_side(&file)?)
                .list(&doc)
                .len();
            out.emit(
                &Resolved {
                    id: &c.id,
                    changes: &changes,
                    open_conflicts: left,
                },
                || outln!("resolved {} ({}); {left} conflict(s) left", c.id, c.message),
            )
        }
        ConflictsCmd::Auto { file, author } => {
            let (mut pf, mut doc) = PlanFile::open(&file)?;
            let list = ConflictIndex::scan(&mut doc, local_side(&file)?).list(&doc);
            let done = auto_resolve(&mut doc, &EditContext::now(author.name()), &list)?;
            pf.save(&mut doc)?;
            out.emit(&done, || print_auto(&done))
        }
    }
}

fn print_auto(done: &[AutoResolution]) {
    for a in done {
        let v = a
            .chosen
            .as_ref()
            .map_or("(none)".into(), ToString::to_string);
        outln!(
            "auto-resolved {}.{} = {v} ({} by {}, {})",
            a.tag,
            a.property,
            a.author,
            a.strategy,
            a.rule.as_deref().unwrap_or("default")
        );
    }
}

/// `arxos rules …`.
pub fn run_rules(out: Out, cmd: RulesCmd) -> anyhow::Result<()> {
    match cmd {
        RulesCmd::List { file } => {
            let doc = file::load(&file)?;
            let all = rules(&doc);
            let rows: Vec<RuleRow<'_>> = all
                .iter()
                .map(|(id, rule)| RuleRow {
                    id,
                    rule,
                    description: rule.describe(),
                })
                .collect();
            out.emit(&rows, || {
                for r in &rows {
                    outln!("{:<32} {}", r.id, r.description);
                }
                if rows.is_empty() {
                    outln!("no rules: every conflict waits for a person");
                }
            })
        }
        RulesCmd::Add(a) => {
            let rule = rule_from(&a)?;
            let id = a.id.clone().unwrap_or_else(|| rule_id(&rule));
            let (mut pf, mut doc) = PlanFile::open(&a.file)?;
            if rules(&doc).contains_key(&id) {
                bail!("a rule `{id}` already exists (remove it first, or pass --id)");
            }
            doc.apply_batch_as(
                &EditContext::now(a.author.name()),
                ChangeKind::Rule,
                &format!("add rule {id}: {}", rule.describe()),
                vec![add_rule(&id, &rule)],
            )?;
            pf.save(&mut doc)?;
            out.emit(
                &Added {
                    id: &id,
                    description: rule.describe(),
                },
                || outln!("added rule {id}: {}", rule.describe()),
            )
        }
        RulesCmd::Remove { file, id, author } => {
            let (mut pf, mut doc) = PlanFile::open(&file)?;
            if !doc.records(RecordSet::Rules).contains_key(&id) {
                bail!("no rule `{id}` (see `arxos rules list`)");
            }
            doc.apply_batch_as(
                &EditContext::now(author.name()),
                ChangeKind::Rule,
                &format!("remove rule {id}"),
                vec![Command::DeleteRecord {
                    set: RecordSet::Rules,
                    id: id.clone(),
                }],
            )?;
            pf.save(&mut doc)?;
            out.emit(&id, || outln!("removed rule {id}"))
        }
    }
}

#[derive(Serialize)]
struct Resolved<'a> {
    id: &'a str,
    changes: &'a arxos_doc::ChangeSet,
    open_conflicts: usize,
}

#[derive(Serialize)]
struct RuleRow<'a> {
    id: &'a str,
    #[serde(flatten)]
    rule: &'a Rule,
    description: String,
}

#[derive(Serialize)]
struct Added<'a> {
    id: &'a str,
    description: String,
}

#[derive(Serialize)]
struct Merged<'a> {
    output: Option<String>,
    preview: bool,
    added: usize,
    updated: usize,
    removed: usize,
    auto_resolved: &'a [AutoResolution],
    conflicts: Vec<Row<'a>>,
}

/// `arxos merge OURS THEIRS -o OUT [--preview]`.
pub fn merge(
    out: Out,
    ours: &Path,
    theirs: &Path,
    output: Option<&Path>,
    preview: bool,
    force: bool,
    author: &Author,
) -> anyhow::Result<()> {
    let mut doc = file::load(ours)?;
    let mut other = file::load(theirs)?;
    if doc.meta().id != other.meta().id {
        bail!(
            "{} and {} are different plans (ids {} and {}); only replicas of one plan merge",
            ours.display(),
            theirs.display(),
            doc.meta().id,
            other.meta().id
        );
    }
    let output = match (output, preview) {
        (Some(o), _) => Some(o),
        (None, true) => None,
        (None, false) => bail!("give -o FILE for the merged plan, or --preview"),
    };
    if let Some(o) = output
        && o.exists()
        && !force
        && o != ours
    {
        bail!("{} already exists; pass --force to replace it", o.display());
    }
    let local_heads = doc.heads();
    let changes = doc.merge(&mut other)?;
    let ctx = EditContext::now(author.name());
    let local = LocalSide::Heads(local_heads.clone());
    let found = ConflictIndex::scan(&mut doc, local.clone()).list(&doc);
    let auto = if preview {
        Vec::new()
    } else {
        auto_resolve(&mut doc, &ctx, &found)?
    };
    let open = ConflictIndex::scan(&mut doc, local).list(&doc);
    if let (Some(o), false) = (output, preview) {
        PlanFile::create(o, &mut doc)?;
        file::save_replica_state(
            o,
            &ReplicaState {
                local_heads: local_heads.iter().map(ToString::to_string).collect(),
            },
        )?;
    }
    let rows: Vec<Row<'_>> = open.iter().map(|c| row(&doc, c)).collect();
    let report = Merged {
        output: output.filter(|_| !preview).map(|o| o.display().to_string()),
        preview,
        added: changes.added.len(),
        updated: changes.updated.len(),
        removed: changes.removed.len(),
        auto_resolved: &auto,
        conflicts: rows,
    };
    out.emit(&report, || {
        let verb = if preview { "would bring" } else { "brought" };
        outln!(
            "merge {verb} {} added, {} updated, {} deleted element(s) from {}",
            report.added,
            report.updated,
            report.removed,
            theirs.display()
        );
        print_auto(&auto);
        print_table(&report.conflicts);
        if let Some(o) = &report.output {
            outln!("wrote {o}");
        }
    })
}
