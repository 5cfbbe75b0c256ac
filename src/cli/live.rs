//! Controls for a running session (`arxos sync push|pull|pause|resume|queue|reset|
//! reset-to-server`, `arxos presence set-status|show`, `arxos follow`): argument parsing and
//! output around `arxos_session::control`. A request goes to the `join`, `host` or editor
//! running on the file; with none running, the at-rest ones act on the file directly.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use arxos_session::control::{self, Followed, LiveStatus, Reply, Request};
use arxos_sync::protocol::payload::{Presence, PresenceStatus};
use clap::Subcommand;

use super::Out;
use super::output::esc;
use super::read::timestamp;

/// The session-control subcommands of `arxos sync`.
#[derive(Debug, Subcommand)]
pub enum LiveSyncCmd {
    /// Send the file's queued changes to the relay without taking any of its changes.
    Push {
        /// Plan file.
        file: PathBuf,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 30)]
        timeout_secs: u64,
    },
    /// Take the relay's changes without sending the file's queued ones.
    Pull {
        /// Plan file.
        file: PathBuf,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 30)]
        timeout_secs: u64,
    },
    /// Turn auto-sync off in the session running on the file: edits keep queueing.
    Pause {
        /// Plan file.
        file: PathBuf,
    },
    /// Turn auto-sync back on: what queued is sent.
    Resume {
        /// Plan file.
        file: PathBuf,
    },
    /// The changes the relay has not acknowledged: author, time, summary, elements.
    #[command(args_conflicts_with_subcommands = true)]
    Queue {
        /// `clear`.
        #[command(subcommand)]
        cmd: Option<QueueCmd>,
        /// Plan file.
        file: Option<PathBuf>,
    },
    /// Keep a backup, then forget the sync state so the next sync compares everything afresh
    /// (the plan is untouched).
    Reset {
        /// Plan file.
        file: PathBuf,
        /// Yes, reset.
        #[arg(long)]
        confirm: bool,
    },
    /// Keep a backup, then replace the plan by the relay's copy: local changes it does not
    /// have leave the plan (they stay in the backup).
    ResetToServer {
        /// Plan file.
        file: PathBuf,
        /// Yes, replace the plan.
        #[arg(long)]
        confirm: bool,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 60)]
        timeout_secs: u64,
    },
}

/// `arxos sync queue clear`.
#[derive(Debug, Subcommand)]
pub enum QueueCmd {
    /// Set the queued changes aside in a file (never deleted: merge it back to get them).
    Clear {
        /// Plan file.
        file: PathBuf,
        /// Yes, set them aside.
        #[arg(long)]
        confirm: bool,
    },
}

/// Subcommands of `arxos presence`.
#[derive(Debug, Subcommand)]
pub enum PresenceCmd {
    /// Set the status others see beside your name in the running session.
    SetStatus {
        /// The text (empty clears it).
        text: String,
        /// Also the activity state: online, away or editing.
        #[arg(long)]
        state: Option<String>,
        /// The session's plan file (default: the only session running).
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// Who is in the running session.
    Show {
        /// The session's plan file (default: the only session running).
        file: Option<PathBuf>,
    },
}

/// Read here rather than by clap, so a bad value is one line like every other refusal.
fn parse_state(s: &str) -> anyhow::Result<PresenceStatus> {
    match s {
        "online" => Ok(PresenceStatus::Online),
        "away" => Ok(PresenceStatus::Away),
        "editing" => Ok(PresenceStatus::Editing),
        _ => bail!("`{s}` is not a state: use online, away or editing"),
    }
}

/// Runs one of the `arxos sync` controls.
pub fn run_sync_live(out: Out, cmd: LiveSyncCmd) -> anyhow::Result<()> {
    let (file, request) = match cmd {
        LiveSyncCmd::Push { file, timeout_secs } => (file, Request::Push { timeout_secs }),
        LiveSyncCmd::Pull { file, timeout_secs } => (file, Request::Pull { timeout_secs }),
        LiveSyncCmd::Pause { file } => (file, Request::Pause),
        LiveSyncCmd::Resume { file } => (file, Request::Resume),
        LiveSyncCmd::Queue { cmd: None, file } => (
            file.context("give the plan file: arxos sync queue FILE")?,
            Request::Queue,
        ),
        LiveSyncCmd::Queue {
            cmd: Some(QueueCmd::Clear { file, confirm }),
            ..
        } => {
            confirmed(confirm, "sets every queued change aside")?;
            (file, Request::QueueClear)
        }
        LiveSyncCmd::Reset { file, confirm } => {
            confirmed(confirm, "forgets the sync state (a backup is kept first)")?;
            (file, Request::Reset)
        }
        LiveSyncCmd::ResetToServer {
            file,
            confirm,
            timeout_secs,
        } => {
            confirmed(
                confirm,
                "replaces the plan by the relay's copy (a backup is kept first)",
            )?;
            (file, Request::ResetToServer { timeout_secs })
        }
    };
    if let Request::Push { timeout_secs: 0 }
    | Request::Pull { timeout_secs: 0 }
    | Request::ResetToServer { timeout_secs: 0 } = request
    {
        bail!("--timeout-secs must be at least 1 second (0 would give up before trying)");
    }
    let (reply, live) = ask(&file, &request)?;
    print_reply(out, &file, &reply, live)
}

fn confirmed(confirm: bool, what: &str) -> anyhow::Result<()> {
    if !confirm {
        bail!("this {what}: add --confirm to go ahead");
    }
    Ok(())
}

/// Asks the session running on `file`, or acts on the file at rest; says which.
fn ask(file: &Path, request: &Request) -> anyhow::Result<(Reply, bool)> {
    if let Some(reply) = control::call(file, request)? {
        return Ok((reply, true));
    }
    Ok((control::offline(file, request)?, false))
}

fn print_reply(out: Out, file: &Path, reply: &Reply, live: bool) -> anyhow::Result<()> {
    let f = file.display();
    out.emit(&reply.payload(), || match reply {
        Reply::Toggled(t) if t.status.paused => {
            if t.changed {
                outln!("paused auto-sync on {f}: edits queue until `arxos sync resume {f}`");
            } else {
                outln!("auto-sync on {f} was already paused");
            }
        }
        Reply::Toggled(t) => {
            let pending = t.status.pending;
            if t.changed {
                outln!("resumed auto-sync on {f} ({pending} change(s) not yet acknowledged by the relay)");
            } else {
                outln!("auto-sync on {f} was already on ({pending} pending)");
            }
        }
        Reply::OneWay(w) => {
            let how = if !live {
                "no session runs on it: done on the file"
            } else if w.paused {
                "the session stays paused"
            } else {
                "auto-sync is on: changes flow both ways"
            };
            outln!(
                "sent {}, received {}, {} still pending ({how})",
                w.sent,
                w.received,
                w.pending
            );
        }
        Reply::Queue(changes) => {
            for c in changes {
                let shown: Vec<String> = c
                    .elements
                    .iter()
                    .take(5)
                    .map(|e| esc(e.as_str()).to_string())
                    .collect();
                let more = c.elements.len().saturating_sub(shown.len());
                let more = if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                };
                outln!(
                    "{}  {:<12} {} [{} element(s){}{more}]",
                    timestamp(c.entry.time_ms),
                    esc(&c.entry.author),
                    esc(&c.entry.summary),
                    c.elements.len(),
                    if shown.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", shown.join(", "))
                    },
                );
            }
            outln!("{} change(s) queued for the relay", changes.len());
        }
        Reply::QueueAside(q) if q.set_aside == 0 => outln!("nothing is queued on {f}"),
        Reply::QueueAside(q) => outln!(
            "set {} queued change(s) aside; the plan as it was is in {} (`arxos merge {f} {}` brings them back)",
            q.set_aside,
            q.kept_in.display(),
            q.kept_in.display()
        ),
        Reply::Reset(r) => {
            outln!(
                "backed up as `{}` (`arxos backup restore {f} {} --confirm` brings it back)",
                r.backup.name,
                r.backup.name
            );
            if let Some(s) = &r.fetched {
                outln!(
                    "{f} is now the relay's copy ({} change(s) fetched, {} conflict(s))",
                    s.received,
                    s.conflicts
                );
            } else {
                outln!("the sync state is reset: the next sync compares everything afresh");
            }
        }
        Reply::Status(s) => print_status(s),
        Reply::Presence(p) => outln!("your status: {}", describe(p)),
        Reply::People(p) => print_people(p),
    })
}

fn print_status(s: &LiveStatus) {
    outln!(
        "{} (pid {}): {:?}, {} pending, {} other(s) present",
        s.file.display(),
        s.pid,
        s.status.state,
        s.status.pending,
        s.peers
    );
}

fn print_people(p: &control::People) {
    if let Some(me) = &p.me {
        outln!("you            {}", describe(me));
    }
    for person in &p.others {
        outln!(
            "{:<14} {}",
            esc(&person.presence.user),
            describe(&person.presence)
        );
    }
    outln!("{} other(s) in the session", p.others.len());
}

/// One line of a person's presence: state, role, program, status text, selection.
fn describe(p: &Presence) -> String {
    let state = match p.status {
        PresenceStatus::Online => "online",
        PresenceStatus::Away => "away",
        PresenceStatus::Editing => "editing",
    };
    let mut line = state.to_owned();
    // Writing to a String cannot fail.
    if let Some(role) = &p.role {
        let _ = write!(line, ", {}", esc(role));
    }
    if let Some(client) = &p.client {
        let _ = write!(line, ", {}", esc(client));
    }
    if let Some(text) = &p.activity {
        let _ = write!(line, ": {}", esc(text));
    }
    if !p.selection.is_empty() {
        let _ = write!(line, " (selecting {})", p.selection.len());
    }
    line
}

/// `arxos presence set-status|show`.
pub fn run_presence(out: Out, cmd: PresenceCmd) -> anyhow::Result<()> {
    let (file, request) = match cmd {
        PresenceCmd::SetStatus { text, state, file } => {
            let state = state.as_deref().map(parse_state).transpose()?;
            (
                file,
                Request::SetStatus {
                    text: Some(text),
                    state,
                },
            )
        }
        PresenceCmd::Show { file } => (file, Request::Presence),
    };
    let file = session_file(file)?;
    let reply = control::call(&file, &request)?.ok_or_else(|| control::not_running(&file))?;
    print_reply(out, &file, &reply, true)
}

/// `arxos follow USER [FILE]`: one JSON line per update of what they select and where they
/// are, until ctrl-c, `--for`, or the session ends.
pub fn run_follow(
    user: &str,
    file: Option<PathBuf>,
    duration: Option<Duration>,
) -> anyhow::Result<()> {
    let file = session_file(file)?;
    let until = duration.map(|d| Instant::now() + d);
    control::follow(&file, user, until, |line: &Followed| {
        match serde_json::to_string(line) {
            Ok(json) => outln!("{json}"),
            Err(err) => tracing::error!(%err, "cannot print an update"),
        }
        true
    })?;
    Ok(())
}

/// The plan file given, or the one session running when none is.
fn session_file(file: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(file) = file {
        return Ok(file);
    }
    let running = control::running()?;
    match running.as_slice() {
        [one] => Ok(one.file.clone()),
        [] => bail!("no session is running (start one with `arxos join` or `arxos host`)"),
        several => {
            let files: Vec<String> = several
                .iter()
                .map(|s| s.file.display().to_string())
                .collect();
            bail!(
                "{} sessions are running; name the plan file: {}",
                several.len(),
                files.join(", ")
            )
        }
    }
}
