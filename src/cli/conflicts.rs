//! Merging and conflicts on the command line: `merge`, `conflicts list|show|resolve|auto`,
//! `rules list|add|remove`.

use std::path::{Path, PathBuf};

use anyhow::bail;
use arxos_doc::conflict::rules::{Rule, rules};
use arxos_doc::conflict::{AutoResolution, Choice, Conflict, LocalSide, Side};
use arxos_doc::file;
use arxos_doc::workflow::{self, MergeOptions, ResolveWith, RuleSpec};
use arxos_doc::{DocError, Document, EditContext, PropValue};
use clap::Subcommand;
use serde::Serialize;

use super::output::esc;
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
    #[serde(skip_serializing_if = "Option::is_none")]
    unit: Option<&'a str>,
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
    /// Which values are local: `before-last-merge` or `shown-value` (see `LocalSide`).
    local_is: &'static str,
}

fn row<'a>(doc: &Document, c: &'a Conflict, local: &LocalSide) -> Row<'a> {
    let value = |s: &'a Option<Side>| s.as_ref().and_then(|s| s.value.as_ref());
    Row {
        id: &c.id,
        kind: c.kind.as_str(),
        severity: c.severity.to_string(),
        tag: &c.tag,
        element: c.element.as_str(),
        property: c.property.as_deref(),
        unit: c.unit.as_deref(),
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
        local_is: local.as_str(),
    }
}

fn print_table(rows: &[Row<'_>]) {
    for r in rows {
        outln!(
            "{:<16} {:<8} {:<15} {}",
            esc(r.id),
            r.severity,
            r.kind,
            esc(r.message)
        );
    }
    if rows.is_empty() {
        outln!("no conflicts");
    }
}

/// Adds the command-line way out to the library's errors.
fn hint(e: DocError) -> anyhow::Error {
    match e {
        DocError::NoSuchConflict(_) => anyhow::anyhow!("{e} (see `arxos conflicts list`)"),
        DocError::MergeOutputMissing => {
            anyhow::anyhow!("give -o FILE for the merged plan, or --preview")
        }
        DocError::FileExists { path } => anyhow::anyhow!(
            "{} already exists; pass --force to replace it",
            path.display()
        ),
        DocError::DuplicateName { what: "rule", name } => {
            anyhow::anyhow!("a rule `{name}` already exists (remove it first, or pass --id)")
        }
        DocError::UnknownName { what: "rule", name } => {
            anyhow::anyhow!("no rule `{name}` (see `arxos rules list`)")
        }
        other => other.into(),
    }
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

/// The rule the options describe (clap makes sure exactly one rule option is given).
fn rule_spec(a: &AddRule) -> anyhow::Result<RuleSpec> {
    Ok(if let Some(strategy) = &a.strategy {
        RuleSpec::Strategy {
            strategy: strategy.clone(),
            layer: a.layer.clone(),
            kind: a.kind.clone(),
            tag: a.tag.clone(),
            order: a.order,
        }
    } else if let Some(l) = &a.critical_layer {
        RuleSpec::CriticalLayer(l.clone())
    } else if let Some(r) = &a.role {
        RuleSpec::Role(r.clone())
    } else if let Some(s) = &a.allowed {
        RuleSpec::Allowed(s.clone())
    } else if let Some(s) = &a.required {
        RuleSpec::Required(s.clone())
    } else if let Some(m) = a.min_area {
        RuleSpec::MinArea(m)
    } else {
        bail!("give one rule option (see `arxos rules add --help`)")
    })
}

/// `arxos conflicts …`.
pub fn run_conflicts(out: Out, cmd: ConflictsCmd) -> anyhow::Result<()> {
    out.guard(|| match cmd {
        ConflictsCmd::List { file } => {
            let plan = workflow::scan_file(&file)?;
            let list = plan.list();
            let rows: Vec<Row<'_>> = list
                .iter()
                .map(|c| row(&plan.document, c, &plan.local))
                .collect();
            out.emit(&rows, || {
                print_table(&rows);
                if !rows.is_empty() {
                    eprintln!("note: {}", plan.local.describe());
                }
            })
        }
        ConflictsCmd::Show { file, id } => {
            let plan = workflow::scan_file(&file)?;
            let c = plan.get(&id).map_err(hint)?;
            let r = row(&plan.document, c, &plan.local);
            out.emit(&r, || {
                outln!("{}  {} {}  {}", esc(&c.id), c.severity, c.kind, esc(&c.tag));
                outln!("  {}", esc(&c.message));
                if let Some(p) = &c.property {
                    outln!("  property  {}", esc(p));
                }
                // A number is shown with its unit (`240 V`, `1200 mm`).
                let with_unit = |v: &PropValue| match (v, &c.unit) {
                    (PropValue::Number(_), Some(u)) => format!("{v} {u}"),
                    _ => v.to_string(),
                };
                let show = |label: &str, s: &Option<Side>| {
                    if let Some(s) = s {
                        let v = s.value.as_ref().map_or("(none)".into(), with_unit);
                        outln!(
                            "  {label:<9} {:<20} by {} at {}",
                            esc(&v),
                            esc(&s.author),
                            timestamp(s.time_ms)
                        );
                    }
                };
                if let Some(b) = &c.base {
                    outln!("  base      {}", esc(&with_unit(b)));
                }
                show("local", &c.local);
                show("remote", &c.remote);
                for o in &c.others {
                    show("other", &Some(o.clone()));
                }
                for rel in &r.related {
                    outln!("  related   {}", esc(rel));
                }
                outln!("  ({})", plan.local.describe());
            })
        }
        ConflictsCmd::Resolve {
            file,
            id,
            choose,
            value,
            author,
        } => {
            let with = match (choose, value) {
                (Some(ch), _) => ResolveWith::Choice(Choice::parse(&ch)?),
                (None, Some(v)) => ResolveWith::Value(v),
                (None, None) => bail!("give --choose or --value"),
            };
            let done =
                workflow::resolve_in_file(&file, &id, &with, &EditContext::now(author.name()))
                    .map_err(hint)?;
            let (c, left) = (&done.conflict, done.open_conflicts);
            out.emit(
                &Resolved {
                    id: &c.id,
                    changes: &done.changes,
                    open_conflicts: left,
                },
                || outln!("resolved {} ({}); {left} conflict(s) left", c.id, c.message),
            )
        }
        ConflictsCmd::Auto { file, author } => {
            let done = workflow::auto_resolve_file(&file, &EditContext::now(author.name()))?;
            out.emit(&done.auto_resolved, || print_auto(&done.auto_resolved))
        }
    })
}

fn print_auto(done: &[AutoResolution]) {
    for a in done {
        let v = a
            .chosen
            .as_ref()
            .map_or("(none)".into(), ToString::to_string);
        outln!(
            "auto-resolved {}.{} = {} ({} by {}, {})",
            esc(&a.tag),
            esc(&a.property),
            esc(&v),
            esc(&a.author),
            a.strategy,
            a.rule.as_deref().unwrap_or("default")
        );
    }
}

/// `arxos rules …`.
pub fn run_rules(out: Out, cmd: RulesCmd) -> anyhow::Result<()> {
    out.guard(|| match cmd {
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
                    outln!("{:<32} {}", esc(r.id), esc(&r.description));
                }
                if rows.is_empty() {
                    outln!("no rules: every conflict waits for a person");
                }
            })
        }
        RulesCmd::Add(a) => {
            let spec = rule_spec(&a)?;
            let ctx = EditContext::now(a.author.name());
            let added =
                workflow::add_rule_to_file(&a.file, &ctx, a.id.as_deref(), &spec).map_err(hint)?;
            let (id, description) = (&added.id, added.rule.describe());
            out.emit(
                &Added {
                    id,
                    description: description.clone(),
                },
                || {
                    outln!("added rule {id}: {description}");
                },
            )
        }
        RulesCmd::Remove { file, id, author } => {
            workflow::remove_rule_from_file(&file, &EditContext::now(author.name()), &id)
                .map_err(hint)?;
            out.emit(&id, || outln!("removed rule {id}"))
        }
    })
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
    out.guard(|| {
        let opts = MergeOptions {
            output: output.map(Path::to_owned),
            preview,
            replace: force,
        };
        let merged = workflow::merge_files(ours, theirs, &opts, &EditContext::now(author.name()))
            .map_err(hint)?;
        let (doc, m) = (&merged.document, &merged.outcome);
        let auto = &m.auto_resolved;
        // Ours before the merge is local, as recorded beside the output.
        let ours_first = LocalSide::Heads(Vec::new());
        let rows: Vec<Row<'_>> = m
            .conflicts
            .iter()
            .map(|c| row(doc, c, &ours_first))
            .collect();
        let report = Merged {
            output: merged.written.as_ref().map(|o| o.display().to_string()),
            preview,
            added: m.changes.added.len(),
            updated: m.changes.updated.len(),
            removed: m.changes.removed.len(),
            auto_resolved: auto,
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
            print_auto(auto);
            print_table(&report.conflicts);
            if !report.conflicts.is_empty() {
                eprintln!(
                    "note: local = {} before this merge, remote = {}",
                    ours.display(),
                    theirs.display()
                );
            }
            if let Some(o) = &report.output {
                outln!("wrote {o}");
            }
        })
    })
}
