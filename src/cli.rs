//! Command-line interface: argument definitions and dispatch. Each family of subcommands
//! lives in its own module; all of them edit plans only through `arxos_doc` commands.

/// `println!` for command output: when the reader goes away (`arxos find … | head`), the
/// program ends quietly instead of panicking on a broken pipe.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(std::io::stdout().lock(), $($arg)*) {
            $crate::cli::output::stdout_failed(&e);
        }
    }};
}

mod audit;
mod comments;
mod config_cmds;
mod conflicts;
mod convert;
mod diagnose;
mod edit;
mod history_cmds;
mod live;
mod network;
mod output;
mod progress;
mod project;
mod read;
mod safety;
mod sync;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub use output::{Out, error_line, json_in_args, print_usage_error_json};

/// Arxos Studio — collaborative floor plans. Without a command, opens the editor window on
/// FILE (a plan, or an SVG drawing to import), or on the bundled sample plan.
#[derive(Debug, Parser)]
#[command(
    name = "arxos",
    version,
    about,
    long_about = None,
    override_usage = "arxos [OPTIONS] [FILE]\n       arxos [OPTIONS] <COMMAND>"
)]
pub struct Cli {
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// Use this setting for this run, over the project and global files (`arxos sync -c sync.enabled=false`;
    /// after the subcommand); repeatable.
    #[arg(short = 'c', long = "setting", value_name = "KEY=VALUE", global = true)]
    pub settings: Vec<String>,
    /// A plan (.arx) or drawing (.svg, .svgx) to open in the editor.
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// What to do (nothing: open the editor window).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Who is making an edit (recorded in history).
#[derive(Debug, Args)]
pub struct Author {
    /// Author name recorded in history [default: `$ARXOS_USER`, else `user.name` of the
    /// project, else of the settings file, else `$USER`].
    #[arg(long = "as", value_name = "NAME")]
    pub author: Option<String>,
}

impl Author {
    /// The author name to record.
    pub fn name(&self) -> String {
        self.author
            .clone()
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| arxos_session::config::current_identity().name)
    }
}

/// What an export keeps and leaves out, shown by `arxos export --help`.
const EXPORT_HELP: &str =
    "SVGX keeps the live drawing and its semantics: floors, layers, and elements with \
their ids, tags, geometry, properties, units, references and drawing order; any SVG viewer \
shows it, and `arxos import` reads it back.
It leaves out deleted elements, rules, named versions, branches and proposals, comments, the \
history, and the plan id: an import of the export is a new plan, not linked to this one or to \
its shared room. Keep the .arx file for those. The export says on standard error what it left \
out (and under `left_out` with --json).";

/// The command format, shown by `arxos apply --help`.
const APPLY_HELP: &str = r#"Commands: a JSON array; each command is an object with one key, the command's name:
  Move {ids, dx, dy}            MoveTo {id, x, y}           Rotate {id, rotation_deg}
  SetProperties {id, set: [[NAME, {value, unit}]...], remove: [NAME...]}
  SetTag {id, tag}              SetText {id, text}          SetLayer {ids, layer}
  SetFloor {ids, floor}         SetReference {id, name, target}
  SetGeometry {id, geometry}    Delete {ids}                Restore {ids}
  Create {id, kind, tag, floor, layer, geometry, transform, style, text, props, refs, z}
Elements are named by id or by tag: a name that is no element's id is looked up as a tag,
of an element in the plan or one created earlier in the same file. Positions are in plan
units. All commands are applied together or, if one is refused, none.

Example (commands.json):
  [
    {"Move": {"ids": ["outlet:R1-1", "outlet:R1-2"], "dx": 150, "dy": 0}},
    {"SetProperties": {"id": "outlet:R1-1",
                       "set": [["voltage", {"value": 240, "unit": "V"}]], "remove": []}}
  ]
  arxos apply plan.arx commands.json -m "move the R1 outlets""#;

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Import an SVG or SVGX drawing as a new plan (.arx).
    Import {
        /// Input SVG/SVGX file.
        input: PathBuf,
        /// Output plan file.
        #[arg(short, long)]
        output: PathBuf,
        /// Replace the output if it exists (the old file is kept as .bak).
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        author: Author,
    },
    /// Export a plan as SVGX (SVG with arx: semantics).
    #[command(after_help = EXPORT_HELP)]
    Export {
        /// Input plan file.
        input: PathBuf,
        /// Output SVG file, or `-` for standard output.
        #[arg(short, long)]
        output: PathBuf,
        /// Only this floor (id).
        #[arg(long)]
        floor: Option<String>,
    },
    /// Summary: floors, layers, and element counts by floor, layer and kind.
    Info {
        /// Plan file.
        file: PathBuf,
    },
    /// List elements matching filters.
    Find(read::FindArgs),
    /// Show an element (`TAG`) or one property (`TAG.prop`).
    Get {
        /// Plan file.
        file: PathBuf,
        /// `TAG`, `TAG.prop`, or an element id.
        target: String,
    },
    /// Set properties: `TAG.prop=value` (several at once are one change).
    Set {
        /// Plan file.
        file: PathBuf,
        /// Assignments `TAG.prop=value`; quote a value ("\"240\"") to force text.
        #[arg(required = true, value_name = "TAG.PROP=VALUE")]
        assignments: Vec<String>,
        /// Unit for the values set (e.g. V, A, mm).
        #[arg(long)]
        unit: Option<String>,
        #[command(flatten)]
        author: Author,
    },
    /// Remove properties: `TAG.prop`.
    Unset {
        /// Plan file.
        file: PathBuf,
        /// `TAG.prop` to remove.
        #[arg(required = true)]
        targets: Vec<String>,
        #[command(flatten)]
        author: Author,
    },
    /// Delete elements (restorable; history keeps everything).
    Delete {
        /// Plan file.
        file: PathBuf,
        /// Tags or ids.
        #[arg(required = true)]
        targets: Vec<String>,
        #[command(flatten)]
        author: Author,
    },
    /// Restore deleted elements.
    Restore {
        /// Plan file.
        file: PathBuf,
        /// Tags or ids.
        #[arg(required = true)]
        targets: Vec<String>,
        #[command(flatten)]
        author: Author,
    },
    /// Move elements by an offset (`--dx`, `--dy` or both; the other one is 0).
    Move {
        /// Plan file.
        file: PathBuf,
        /// Tags or ids.
        #[arg(required = true)]
        targets: Vec<String>,
        /// X offset, in plan units.
        #[arg(
            long,
            allow_hyphen_values = true,
            default_value_t = 0.0,
            hide_default_value = true
        )]
        dx: f64,
        /// Y offset, in plan units.
        #[arg(
            long,
            allow_hyphen_values = true,
            default_value_t = 0.0,
            hide_default_value = true
        )]
        dy: f64,
        #[command(flatten)]
        author: Author,
    },
    /// Apply typed commands from a JSON file (an array of commands) as one change.
    #[command(after_help = APPLY_HELP)]
    Apply {
        /// Plan file.
        file: PathBuf,
        /// JSON file with commands, or `-` for standard input.
        commands: PathBuf,
        /// Summary recorded in history.
        #[arg(short, long, default_value = "scripted edit")]
        message: String,
        #[command(flatten)]
        author: Author,
    },
    /// Change history: author, time and summary of every change.
    History {
        /// Plan file.
        file: PathBuf,
        /// Only the last N changes.
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Merge another replica of the same plan; lists the conflicts left to decide.
    Merge {
        /// Our plan (local side).
        ours: PathBuf,
        /// Their plan (remote side).
        theirs: PathBuf,
        /// Output file for the merged plan.
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Only report what the merge would do; write nothing.
        #[arg(long)]
        preview: bool,
        /// Replace the output if it exists.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        author: Author,
    },
    /// List, inspect and resolve conflicts.
    Conflicts {
        /// What to do.
        #[command(subcommand)]
        cmd: conflicts::ConflictsCmd,
    },
    /// Conflict strategies and constraint rules stored in the plan.
    Rules {
        /// What to do.
        #[command(subcommand)]
        cmd: conflicts::RulesCmd,
    },
    /// Named versions: create, list, show, diff, revert, delete.
    Version {
        /// What to do.
        #[command(subcommand)]
        cmd: history_cmds::VersionCmd,
    },
    /// Branches: fork the plan into a file, list, merge back.
    Branch {
        /// What to do.
        #[command(subcommand)]
        cmd: history_cmds::BranchCmd,
    },
    /// Change proposals: branches reviewed before they merge.
    Proposal {
        /// What to do.
        #[command(subcommand)]
        cmd: history_cmds::ProposalCmd,
    },
    /// Review comments pinned to elements or points: add, list, reply, resolve, reopen.
    Comment {
        /// What to do.
        #[command(subcommand)]
        cmd: comments::CommentCmd,
    },
    /// Audit trail: who changed, resolved, reverted or merged what, and when.
    Audit(audit::AuditArgs),
    /// Upload a plan to a relay (creating its room on first share) and print an invite code.
    Share(sync::ShareArgs),
    /// Fetch the plan behind an invite code into a new local file.
    Clone {
        /// Invite code.
        code: String,
        /// New local file.
        #[arg(short, long)]
        output: PathBuf,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 30)]
        timeout_secs: u64,
    },
    /// Push and pull a plan once (`arxos sync FILE`), or show its state (`arxos sync status FILE`).
    Sync(sync::SyncArgs),
    /// Your presence in the running session: set your status, see who is there.
    Presence {
        /// What to do.
        #[command(subcommand)]
        cmd: live::PresenceCmd,
    },
    /// Print what someone in the running session selects and where they are, as JSON lines.
    Follow {
        /// Their display name (or peer id).
        user: String,
        /// The session's plan file (default: the only session running).
        file: Option<PathBuf>,
        /// Stop after this many seconds (default: until ctrl-c or the session ends).
        #[arg(long = "for", value_name = "SECS")]
        for_secs: Option<f64>,
    },
    /// Who is in a session, with what they are doing.
    Who {
        /// Invite code.
        code: String,
        /// Seconds to wait for the connection.
        #[arg(long, default_value_t = 10)]
        wait: u64,
    },
    /// Print live change events of a session as JSON lines.
    Watch {
        /// Invite code.
        code: String,
        /// Only this kind.
        #[arg(long)]
        kind: Option<arxos_doc::ElementKind>,
        /// Only this tag (whole), or the tags a pattern matches: `*` any run of characters,
        /// `?` one character (`--tag 'outlet:R1-*'`), as in `arxos find`.
        #[arg(long, value_name = "TAG|PATTERN")]
        tag: Option<String>,
        /// Stop after this many seconds (default: until ctrl-c).
        #[arg(long = "for", value_name = "SECS")]
        for_secs: Option<f64>,
    },
    /// Manage a relay's invites, or inspect a code.
    Invite {
        /// What to do.
        #[command(subcommand)]
        cmd: sync::InviteCmd,
    },
    /// Serve a plan peer-to-peer from this machine and print invite codes.
    Host {
        /// Plan file (kept in sync with everyone's edits).
        file: PathBuf,
        /// Address to listen on (`0.0.0.0:7447` to let others on the network in).
        #[arg(long, default_value = "127.0.0.1:7447")]
        listen: std::net::SocketAddr,
        /// Stop after this many seconds (default: until ctrl-c).
        #[arg(long = "for", value_name = "SECS")]
        for_secs: Option<f64>,
    },
    /// Join a session with an invite code: opens the editor joined to it when a display is
    /// present, else (or with `--headless`, `--for` or `--json`) keeps a local replica in
    /// sync from the terminal.
    Join {
        /// Invite code.
        code: String,
        /// Local file [default: `<document id>.arx` headless; `~/Arxos/<document id>.arx`
        /// in the editor].
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Stop after this many seconds (default: until ctrl-c). Implies `--headless`.
        #[arg(long = "for", value_name = "SECS")]
        for_secs: Option<f64>,
        /// Stay in the terminal even when a display is present.
        #[arg(long)]
        headless: bool,
    },
    /// Run a relay server (the same as the `arxos-relay` binary).
    Relay(sync::RelayArgs),
    /// Settings: `get|set|list|unset KEY[=VALUE]` over the global file and the project's
    /// `arxfile.json` (project over global; `-c KEY=VALUE` over both).
    Config {
        /// What to do.
        #[command(subcommand)]
        cmd: config_cmds::ConfigCmd,
    },
    /// Named copies of a plan with its sidecars: create, list, restore.
    Backup {
        /// What to do.
        #[command(subcommand)]
        cmd: safety::BackupCmd,
    },
    /// Check a plan file and its sidecars: one line per check; fails when one fails.
    Health {
        /// Plan file.
        file: PathBuf,
    },
    /// Undo your (or `--as NAME`'s) last change to a plan, as a new change; fields someone
    /// else changed since are kept.
    Undo {
        /// Plan file.
        file: PathBuf,
        #[command(flatten)]
        author: Author,
    },
    /// Project folders (`arxfile.json`): init, show, check. `arxos sync` in a project folder
    /// syncs every plan it covers, with its pre- and post-sync command chains.
    Project {
        /// What to do.
        #[command(subcommand)]
        cmd: project::ProjectCmd,
    },
    /// Network checks: `latency-test CODE` (round trips to the relay: min, median, p99).
    Network {
        /// What to do.
        #[command(subcommand)]
        cmd: network::NetworkCmd,
    },
    /// Generate a plan: the sample office, or a large synthetic one for benchmarks.
    Generate {
        /// Output file: `.arx` plan, or `.svg`/`.svgx` drawing.
        #[arg(short, long)]
        output: PathBuf,
        /// Number of elements.
        #[arg(long, default_value_t = 10_000)]
        elements: usize,
        /// Number of floors.
        #[arg(long, default_value_t = 1)]
        floors: usize,
        /// Random seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Write the bundled sample office instead.
        #[arg(long)]
        sample: bool,
        /// Replace the output if it exists.
        #[arg(long)]
        force: bool,
    },
}

/// Runs a parsed command line.
#[allow(clippy::too_many_lines)] // one dispatch arm per subcommand
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let out = Out { json: cli.json };
    let reads_settings = match &cli.command {
        Some(Command::Config { .. } | Command::Join { .. } | Command::Host { .. }) => true,
        Some(Command::Sync(a)) => a.cmd.is_none(),
        _ => false,
    };
    if !cli.settings.is_empty() && !reads_settings {
        // Refused rather than ignored: a setting given for a command that never reads it
        // would look as if it had applied.
        return out.guard(|| {
            anyhow::bail!(
                "-c/--setting is read by `arxos config`, `arxos sync [FILE]`, `arxos join` and `arxos host` only"
            )
        });
    }
    match cli.command {
        None => {
            let _ = out;
            arxos_editor::run(cli.file, crate::sample::SAMPLE_SVGX).map_err(anyhow::Error::new)
        }
        Some(cmd) => match cmd {
            Command::Import {
                input,
                output,
                force,
                author,
            } => convert::import(out, &input, &output, force, &author),
            Command::Export {
                input,
                output,
                floor,
            } => convert::export(out, &input, &output, floor),
            Command::Generate {
                output,
                elements,
                floors,
                seed,
                sample,
                force,
            } => convert::generate(out, &output, elements, floors, seed, sample, force),
            Command::Info { file } => read::info(out, &file),
            Command::Backup { cmd } => safety::run_backup(out, cmd),
            Command::Health { file } => safety::run_health(out, &file),
            Command::Undo { file, author } => safety::run_undo(out, &file, &author),
            Command::Config { cmd } => config_cmds::run_config(out, &cli.settings, cmd),
            Command::Share(a) => sync::run_share(out, &a),
            Command::Clone {
                code,
                output,
                timeout_secs,
            } => sync::run_clone(out, &code, &output, timeout_secs),
            Command::Sync(a) if project::is_project_sync(&a) => {
                project::run_sync(out, &cli.settings, a.timeout_secs)
            }
            Command::Sync(a) => sync::run_sync(out, &cli.settings, a),
            Command::Project { cmd } => project::run_project(out, cmd),
            Command::Network { cmd } => network::run_network(out, cmd),
            Command::Presence { cmd } => live::run_presence(out, cmd),
            Command::Follow {
                user,
                file,
                for_secs,
            } => live::run_follow(&user, file, sync::for_secs(for_secs)?),
            Command::Who { code, wait } => sync::run_who(out, &code, wait),
            Command::Watch {
                code,
                kind,
                tag,
                for_secs,
            } => sync::run_watch(&code, kind, tag.as_deref(), sync::for_secs(for_secs)?),
            Command::Invite { cmd } => sync::run_invite(out, cmd),
            Command::Host {
                file,
                listen,
                for_secs,
            } => sync::run_host(&cli.settings, &file, listen, sync::for_secs(for_secs)?),
            Command::Join {
                code,
                output,
                for_secs,
                headless,
            } => {
                if !headless && for_secs.is_none() && !out.json && arxos_editor::has_display() {
                    let invite = arxos_sync::InviteCode::parse(code.trim())
                        .map_err(|e| anyhow::anyhow!("not an invite code: {e}"))?;
                    arxos_editor::run_joined(invite, output, crate::sample::SAMPLE_SVGX)?;
                    return Ok(());
                }
                sync::run_join(&cli.settings, &code, output, sync::for_secs(for_secs)?)
            }
            Command::Relay(a) => sync::run_relay(&a),
            Command::Merge {
                ours,
                theirs,
                output,
                preview,
                force,
                author,
            } => conflicts::merge(
                out,
                &ours,
                &theirs,
                output.as_deref(),
                preview,
                force,
                &author,
            ),
            Command::Conflicts { cmd } => conflicts::run_conflicts(out, cmd),
            Command::Rules { cmd } => conflicts::run_rules(out, cmd),
            Command::Find(args) => read::find(out, &args),
            Command::Get { file, target } => read::get(out, &file, &target),
            Command::History { file, limit } => read::history(out, &file, limit),
            Command::Version { cmd } => history_cmds::run_version(out, cmd),
            Command::Branch { cmd } => history_cmds::run_branch(out, cmd),
            Command::Proposal { cmd } => history_cmds::run_proposal(out, cmd),
            Command::Comment { cmd } => comments::run_comment(out, cmd),
            Command::Audit(args) => audit::audit(out, &args),
            Command::Set {
                file,
                assignments,
                unit,
                author,
            } => edit::set(out, &file, &assignments, unit.as_deref(), &author),
            Command::Unset {
                file,
                targets,
                author,
            } => edit::unset(out, &file, &targets, &author),
            Command::Delete {
                file,
                targets,
                author,
            } => edit::delete(out, &file, &targets, &author, true),
            Command::Restore {
                file,
                targets,
                author,
            } => edit::delete(out, &file, &targets, &author, false),
            Command::Move {
                file,
                targets,
                dx,
                dy,
                author,
            } => edit::move_by(out, &file, &targets, dx, dy, &author),
            Command::Apply {
                file,
                commands,
                message,
                author,
            } => edit::apply_json(out, &file, &commands, &message, &author),
        },
    }
}
