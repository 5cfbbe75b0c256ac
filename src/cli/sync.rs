//! Live collaboration on the command line: `share`, `clone`, `sync`, `sync status`, `who`,
//! `watch`, `invite list|revoke|inspect`, `host`, `join` and `relay`: argument parsing and
//! output over `arxos-session` (live plans, hosting), `arxos-sync` (one-shot sync, the admin
//! client) and `arxos-relay` (`arxos relay`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use arxos_doc::ElementKind;
use arxos_session::{ChangeOrigin, ClientEvent, HostOptions, Session, SessionOptions};
use arxos_sync::admin::{AdminClient, ShareOptions, parse_duration_secs, share};
use arxos_sync::client::{ClientConfig, SyncClient, clone_document};
use arxos_sync::{Grant, InviteCode, Role};
use clap::{Args, Subcommand};
use serde::Serialize;

use super::Out;
use super::progress::SyncProgress;

fn admin_token(given: Option<&str>) -> anyhow::Result<String> {
    given
        .map(str::to_owned)
        .or_else(|| std::env::var("ARXOS_ADMIN_TOKEN").ok())
        .filter(|t| !t.trim().is_empty())
        .context("the relay's admin token is needed: pass --admin-token or set ARXOS_ADMIN_TOKEN")
}

fn parse_code(code: &str) -> anyhow::Result<InviteCode> {
    InviteCode::parse(code.trim()).map_err(|e| anyhow::anyhow!("bad invite code: {e}"))
}

fn split_list(s: Option<&str>) -> Vec<String> {
    s.map(|s| {
        s.split(',')
            .map(|p| p.trim().to_owned())
            .filter(|p| !p.is_empty())
            .collect()
    })
    .unwrap_or_default()
}

/// Options of `arxos share`.
#[derive(Debug, Args)]
pub struct ShareArgs {
    /// Plan file to share.
    pub file: PathBuf,
    /// Relay address, `ws://HOST:PORT` (or `wss://`).
    #[arg(long)]
    pub relay: String,
    /// Role of the printed invite.
    #[arg(long, default_value = "editor")]
    pub role: Role,
    /// Invite lifetime (`30m`, `12h`, `7d`); none: until revoked.
    #[arg(long)]
    pub expires: Option<String>,
    /// Narrow an editor invite to these floor ids (comma-separated).
    #[arg(long)]
    pub floors: Option<String>,
    /// Narrow an editor invite to these layer ids (comma-separated).
    #[arg(long)]
    pub layers: Option<String>,
    /// Make locks hard in a new room (the relay refuses edits to elements others locked).
    #[arg(long)]
    pub hard_locks: bool,
    /// The relay's admin token [env: `ARXOS_ADMIN_TOKEN`].
    #[arg(long)]
    pub admin_token: Option<String>,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 30)]
    pub timeout_secs: u64,
}

/// `arxos sync` (with a file) or `arxos sync status FILE`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SyncArgs {
    /// `status`.
    #[command(subcommand)]
    pub cmd: Option<SyncSub>,
    /// Plan file to push and pull.
    pub file: Option<PathBuf>,
    /// Invite code to use (remembered for next time).
    #[arg(long)]
    pub invite: Option<String>,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 30)]
    pub timeout_secs: u64,
    /// Set changes the relay refused aside (kept in `<file>.refused.arx`) so that later edits
    /// can sync again: every later local change builds on the refused ones.
    #[arg(long)]
    pub discard_refused: bool,
}

/// Subcommands of `arxos sync`.
#[derive(Debug, Subcommand)]
pub enum SyncSub {
    /// Pending changes, last sync and relay of a file.
    Status {
        /// Plan file.
        file: PathBuf,
    },
    /// A file's syncing in numbers: sizes, changes, pending changes by author, refused
    /// changes, acknowledged heads, last sync.
    Stats {
        /// Plan file.
        file: PathBuf,
    },
    /// Controls of a running session (or of the file at rest).
    #[command(flatten)]
    Live(super::live::LiveSyncCmd),
    /// Checks what stands between a file and a working sync (file health, invite, relay,
    /// plan, clock skew, pending and refused changes), each with what to do; fails when one
    /// fails.
    Diagnose {
        /// Plan file.
        file: PathBuf,
        /// Give up on the relay after this many seconds.
        #[arg(long, default_value_t = 5)]
        timeout_secs: u64,
    },
}

/// Subcommands of `arxos invite`.
#[derive(Debug, Subcommand)]
pub enum InviteCmd {
    /// List a relay's invites (of one document with --doc).
    List {
        /// Relay address.
        #[arg(long)]
        relay: String,
        /// Only this document id.
        #[arg(long)]
        doc: Option<String>,
        /// The relay's admin token [env: `ARXOS_ADMIN_TOKEN`].
        #[arg(long)]
        admin_token: Option<String>,
    },
    /// Revoke an invite by id.
    Revoke {
        /// Relay address.
        #[arg(long)]
        relay: String,
        /// Invite id (from `invite list`).
        id: String,
        /// The relay's admin token [env: `ARXOS_ADMIN_TOKEN`].
        #[arg(long)]
        admin_token: Option<String>,
    },
    /// Decode an invite code: the WebSocket URL and the `automerge:` document URL.
    Inspect {
        /// The code.
        code: String,
    },
}

/// Options of `arxos relay` (the same server as the `arxos-relay` binary).
#[derive(Debug, Args)]
pub struct RelayArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:7447")]
    pub listen: SocketAddr,
    /// Data folder.
    #[arg(long)]
    pub data: PathBuf,
    /// TLS certificate chain (PEM).
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Admin token [env: `ARXOS_ADMIN_TOKEN`]; generated and stored when absent.
    #[arg(long)]
    pub admin_token: Option<String>,
    /// `ws://…` or `wss://…` address written into invite codes (default: the request's Host).
    #[arg(long)]
    pub public_url: Option<String>,
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("arxos-session")
        .build()
        .context("starting the async runtime")
}

/// Waits for ctrl-c, SIGTERM, or the optional duration.
async fn until_stopped(duration: Option<Duration>) {
    let signal = async {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            if let Ok(mut term) = signal(SignalKind::terminate()) {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
                return;
            }
        }
        let _ = tokio::signal::ctrl_c().await;
    };
    match duration {
        Some(d) => {
            tokio::select! {
                () = signal => {}
                () = tokio::time::sleep(d) => {}
            }
        }
        None => signal.await,
    }
}

#[derive(Serialize)]
struct Shared {
    file: String,
    document: String,
    invite: String,
    role: String,
    sent: usize,
    received: usize,
}

/// `arxos share`.
pub fn run_share(out: Out, a: &ShareArgs) -> anyhow::Result<()> {
    out.guard(|| {
        let timeout = positive_secs("--timeout-secs", a.timeout_secs)?;
        let expires_in_secs = a
            .expires
            .as_deref()
            .map(parse_duration_secs)
            .transpose()?;
        if expires_in_secs == Some(0) {
            bail!("--expires must be longer than 0 (leave it out for an invite that lasts until revoked)");
        }
        arxos_doc::file::load(&a.file)?;
        let grant = Grant {
            floors: split_list(a.floors.as_deref()),
            layers: split_list(a.layers.as_deref()),
        };
        let opts = ShareOptions {
            relay: a.relay.clone(),
            admin_token: admin_token(a.admin_token.as_deref())?,
            role: a.role,
            grant,
            expires_in_secs,
            hard_locks: a.hard_locks,
            timeout,
        };
        let o = share(&a.file, &opts)?;
        let r = Shared {
            file: a.file.display().to_string(),
            document: o.doc_id.to_string(),
            invite: o.invite_code.encode(),
            role: a.role.as_str().to_owned(),
            sent: o.summary.sent,
            received: o.summary.received,
        };
        out.emit(&r, || {
            eprintln!(
                "shared {} as document {} ({} changes sent); {} invite:",
                r.file, r.document, r.sent, r.role
            );
            outln!("{}", r.invite);
        })
    })
}

#[derive(Serialize)]
struct Cloned {
    file: String,
    #[serde(flatten)]
    summary: arxos_sync::client::SyncSummary,
}

/// `arxos clone CODE -o FILE`.
pub fn run_clone(out: Out, code: &str, output: &Path, timeout_secs: u64) -> anyhow::Result<()> {
    out.guard(|| {
        let timeout = positive_secs("--timeout-secs", timeout_secs)?;
        let invite = parse_code(code)?;
        let progress = SyncProgress::new(format!("cloning into {}", output.display()), out.json);
        let summary = clone_document(invite, output, timeout, &|s| {
            progress.update(s);
        });
        progress.finish();
        let r = Cloned {
            file: output.display().to_string(),
            summary: summary?,
        };
        out.emit(&r, || {
            outln!(
                "cloned into {} ({} changes received)",
                r.file,
                r.summary.received
            );
        })
    })
}

#[derive(Serialize)]
struct Synced {
    file: String,
    relay: String,
    #[serde(flatten)]
    summary: arxos_sync::client::SyncSummary,
    /// Conflicts settled by the plan's rules (`sync.conflict-resolution=auto`).
    resolved: usize,
}

#[derive(Serialize)]
struct Status {
    file: String,
    relay: Option<String>,
    document: Option<String>,
    pending: usize,
    refused: usize,
    last_sync: Option<String>,
}

/// `arxos sync FILE [--invite CODE]` and `arxos sync status FILE`.
pub fn run_sync(out: Out, flags: &[String], a: SyncArgs) -> anyhow::Result<()> {
    if let Some(SyncSub::Diagnose { file, timeout_secs }) = &a.cmd {
        // Not inside `guard`: a failed check is in the diagnosis printed, and a second JSON
        // object for the failure would break `--json`'s one document.
        return super::diagnose::run_diagnose(out, file, *timeout_secs);
    }
    out.guard(|| {
        match a.cmd {
            Some(SyncSub::Status { file }) => return sync_status(out, &file),
            Some(SyncSub::Stats { file }) => return super::diagnose::run_stats(out, &file),
            Some(SyncSub::Live(cmd)) => return super::live::run_sync_live(out, cmd),
            Some(SyncSub::Diagnose { .. }) | None => {}
        }
        let file = a.file.context("give the plan file: arxos sync FILE")?;
        positive_secs("--timeout-secs", a.timeout_secs)?;
        let invite = match &a.invite {
            Some(c) => parse_code(c)?,
            None => arxos_session::remembered_invite(&file)?,
        };
        let relay = invite.relay.clone();
        if a.discard_refused {
            let client = SyncClient::start(ClientConfig::new(invite, &file))?;
            let done = client.discard_refused();
            client.shutdown();
            let (set_aside, replayed) = done?;
            let mut aside = file.as_os_str().to_owned();
            aside.push(".refused.arx");
            let r = serde_json::json!({
                "file": file.display().to_string(),
                "set_aside": set_aside,
                "replayed": replayed,
                "kept_in": PathBuf::from(aside).display().to_string(),
            });
            return out.emit(&r, || {
                outln!(
                    "set {set_aside} refused change(s) aside in {} ({replayed} later edit(s) replayed)",
                    r["kept_in"].as_str().unwrap_or_default()
                );
            });
        }
        let config = super::config_cmds::load(flags)?;
        let started = Instant::now();
        let progress = SyncProgress::new(format!("syncing {}", file.display()), out.json);
        let done = arxos_session::sync_file(
            &file,
            Some(invite),
            &config,
            &super::Author { author: None }.name(),
            Duration::from_secs(a.timeout_secs),
            &|s| progress.update(s),
        );
        progress.finish();
        let elapsed = started.elapsed();
        let done = done?;
        let r = Synced {
            file: file.display().to_string(),
            relay,
            summary: done.summary,
            resolved: done.resolved,
        };
        out.emit(&r, || {
            let s = &r.summary;
            let resolved = if r.resolved > 0 {
                format!(", {} settled by the plan's rules", r.resolved)
            } else {
                String::new()
            };
            outln!(
                "sent {}, received {}, refused {}, pending {}, conflicts {}{resolved} ({:.1} s)",
                s.sent,
                s.received,
                s.refused,
                s.pending,
                s.conflicts,
                elapsed.as_secs_f64()
            );
        })
    })
}

fn sync_status(out: Out, file: &Path) -> anyhow::Result<()> {
    let st = arxos_session::file_status(file)?;
    let r = Status {
        file: file.display().to_string(),
        relay: st.relay,
        document: st.document,
        pending: st.pending,
        refused: st.refused,
        last_sync: st
            .last_sync
            .map(|t| super::read::timestamp(i64::try_from(t).unwrap_or(0).saturating_mul(1000))),
    };
    out.emit(&r, || {
        outln!(
            "{}: relay {}, {} pending, {} refused, last sync {}",
            r.file,
            r.relay.as_deref().unwrap_or("(never synced)"),
            r.pending,
            r.refused,
            r.last_sync.as_deref().unwrap_or("never")
        );
    })
}

/// A throwaway replica for commands that only look (`who`, `watch`).
fn observe(code: &str, wait_secs: u64) -> anyhow::Result<Session> {
    let session = Session::observe(&parse_code(code)?, &SessionOptions::default())?;
    session
        .wait_synced(Duration::from_secs(wait_secs.max(1)))
        .context("connecting to the session")?;
    Ok(session)
}

/// `arxos who CODE`.
pub fn run_who(out: Out, code: &str, wait_secs: u64) -> anyhow::Result<()> {
    out.guard(|| {
        positive_secs("--wait", wait_secs)?;
        let session = observe(code, wait_secs)?;
        // Presence is coalesced into ticks; give the first batch time to arrive.
        std::thread::sleep(Duration::from_millis(500));
        let people = session.client().presence();
        session.leave();
        out.emit(&people, || {
            for (peer, p) in &people {
                let cursor = p
                    .cursor
                    .as_ref()
                    .map_or(String::new(), |c| format!(" at {c:?}"));
                outln!(
                    "{:<20} {:<9} {:?}{cursor} {}",
                    p.user,
                    p.color,
                    p.status,
                    p.activity.as_deref().unwrap_or("")
                );
                let _ = peer;
            }
            if people.is_empty() {
                outln!("nobody else is here");
            }
        })
    })
}

#[derive(Serialize)]
struct WatchEvent<'a> {
    event: &'a str,
    id: &'a str,
    tag: &'a str,
    kind: ElementKind,
    element: Option<&'a arxos_doc::Element>,
}

/// `arxos watch CODE [--kind K] [--tag TAG|PATTERN]`: change events as JSON lines.
pub fn run_watch(
    code: &str,
    kind: Option<ElementKind>,
    tag: Option<&str>,
    duration: Option<Duration>,
) -> anyhow::Result<()> {
    let session = observe(code, 30)?;
    let client = session.client();
    let mut events = client.subscribe();
    let filter = arxos_doc::Filter {
        kind,
        tag_pattern: tag.map(str::to_owned),
        ..arxos_doc::Filter::default()
    };
    let rt = runtime()?;
    rt.block_on(async {
        let stop = until_stopped(duration);
        tokio::pin!(stop);
        loop {
            tokio::select! {
                () = &mut stop => break,
                ev = events.recv() => match ev {
                    Ok(ClientEvent::Changed { origin: ChangeOrigin::Remote, changes, .. }) => {
                        let lines = client.read(|doc| -> anyhow::Result<Vec<String>> {
                            let mut lines = Vec::new();
                            for (what, ids) in [("added", &changes.added), ("updated", &changes.updated), ("removed", &changes.removed)] {
                                for id in ids {
                                    let Some(e) = doc.element_any(id) else { continue };
                                    if !filter.matches(e) {
                                        continue;
                                    }
                                    lines.push(serde_json::to_string(&WatchEvent {
                                        event: what,
                                        id: e.id.as_str(),
                                        tag: &e.tag,
                                        kind: e.kind,
                                        element: (what != "removed").then_some(e),
                                    })?);
                                }
                            }
                            Ok(lines)
                        })?;
                        for line in lines {
                            outln!("{line}");
                        }
                    }
                    Ok(ClientEvent::Status(s)) if s.rejected => {
                        bail!("{}", s.last_error.unwrap_or_else(|| "the session ended".into()));
                    }
                    Ok(ClientEvent::Refused(r)) => {
                        eprintln!("refused: {r:?}");
                    }
                    Ok(_) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        eprintln!("warning: {n} events skipped (output too slow)");
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                },
            }
        }
        anyhow::Ok(())
    })?;
    session.leave();
    Ok(())
}

#[derive(Serialize)]
struct Inspected {
    relay: String,
    /// The relay's other addresses (cluster nodes), tried in order after `relay`.
    also: Vec<String>,
    document: String,
    websocket_url: String,
    automerge_url: String,
}

/// `arxos invite …`.
pub fn run_invite(out: Out, cmd: InviteCmd) -> anyhow::Result<()> {
    out.guard(|| match cmd {
        InviteCmd::List {
            relay,
            doc,
            admin_token: token,
        } => {
            let admin = AdminClient::new(&relay, &admin_token(token.as_deref())?)?;
            let doc = doc
                .map(|d| {
                    d.parse()
                        .map_err(|e| anyhow::anyhow!("bad document id `{d}`: {e}"))
                })
                .transpose()?;
            let list = admin.list_invites(doc)?;
            out.emit(&list, || {
                for i in &list {
                    let state = if i.revoked {
                        "revoked"
                    } else if i.expired {
                        "expired"
                    } else {
                        "active"
                    };
                    outln!(
                        "{:<24} {:<10} {:<8} {} {}",
                        i.id,
                        i.role.as_str(),
                        state,
                        i.doc_id,
                        i.label
                    );
                }
            })
        }
        InviteCmd::Revoke {
            relay,
            id,
            admin_token: token,
        } => {
            let admin = AdminClient::new(&relay, &admin_token(token.as_deref())?)?;
            admin.revoke_invite(&id)?;
            out.emit(&id, || outln!("revoked {id}"))
        }
        InviteCmd::Inspect { code } => {
            let i = parse_code(&code)?;
            let r = Inspected {
                relay: i.relay.clone(),
                also: i.also.clone(),
                document: i.document_id.to_string(),
                websocket_url: i.ws_url(),
                automerge_url: i.document_id.automerge_url(),
            };
            out.emit(&r, || {
                outln!("relay          {}", r.relay);
                for a in &r.also {
                    outln!("  or           {a}");
                }
                outln!("document       {}", r.automerge_url);
                outln!("websocket url  {}", r.websocket_url);
            })
        }
    })
}

/// Prints what happens in a live session until stopped (ctrl-c, SIGTERM, `--for`), or until
/// the session cannot go on (invite revoked or expired, another plan): then it says why and
/// fails.
fn follow(mut session: Session, duration: Option<Duration>) -> anyhow::Result<()> {
    let mut events = session.client().subscribe();
    let rt = runtime()?;
    // Other programs steer this session through its control socket (`arxos sync pause FILE`).
    if let Err(err) = session.serve_controls() {
        eprintln!(
            "warning: {err}: `arxos sync pause|resume|push|pull|queue` will not reach this session"
        );
    }
    let ended = watch_events(&rt, &mut events, duration);
    let s = session.leave();
    eprintln!(
        "stopped: {} sent, {} received, {} pending",
        s.sent_changes, s.received_changes, s.pending
    );
    match ended {
        Some(reason) => bail!("{reason}"),
        None => Ok(()),
    }
}

/// Prints the session's events until stopped; returns why the session ended, when it ended
/// by itself.
fn watch_events(
    rt: &tokio::runtime::Runtime,
    events: &mut tokio::sync::broadcast::Receiver<ClientEvent>,
    duration: Option<Duration>,
) -> Option<String> {
    rt.block_on(async {
        let stop = until_stopped(duration);
        tokio::pin!(stop);
        loop {
            tokio::select! {
                () = &mut stop => break None,
                ev = events.recv() => match ev {
                    Ok(ClientEvent::Status(s)) if s.rejected => {
                        break Some(s.last_error.unwrap_or_else(|| "the session ended".into()));
                    }
                    Ok(ClientEvent::Status(s)) if s.paused => {
                        eprintln!("paused: {} change(s) queued", s.pending);
                    }
                    Ok(ClientEvent::Status(s)) => {
                        eprintln!("{:?}: {} pending, {} conflicts", s.state, s.pending, s.conflicts);
                    }
                    Ok(ClientEvent::Changed { origin: ChangeOrigin::Remote, count, .. }) => {
                        eprintln!("received {count} change(s)");
                    }
                    Ok(ClientEvent::Changed { origin: ChangeOrigin::File, changes, .. }) => {
                        let n = changes.elements().len();
                        eprintln!("merged an edit written to the file ({n} element(s))");
                    }
                    Ok(ClientEvent::Refused(r)) => {
                        for c in r {
                            eprintln!("refused: {}", c.reason);
                        }
                    }
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break None,
                },
            }
        }
    })
}

/// `arxos host FILE [--listen ADDR]`: serve a plan peer-to-peer from this machine.
pub fn run_host(
    flags: &[String],
    file: &Path,
    listen: SocketAddr,
    duration: Option<Duration>,
) -> anyhow::Result<()> {
    let opts = session_options(flags)?;
    let session = Session::host(file, &HostOptions::new(listen), &opts)?;
    if let Some(h) = session.hosted() {
        outln!("hosting {} on {}", file.display(), h.relay);
        for role in [Role::Editor, Role::Commenter, Role::Viewer] {
            if let Some(code) = h.code(role) {
                outln!("{} invite: {}", role.as_str(), code.encode());
            }
        }
    }
    follow(session, duration)
}

/// `arxos join CODE [-o FILE]`: keep a local replica of a session in sync.
pub fn run_join(
    flags: &[String],
    code: &str,
    output: Option<PathBuf>,
    duration: Option<Duration>,
) -> anyhow::Result<()> {
    let invite = parse_code(code)?;
    let file = output.unwrap_or_else(|| PathBuf::from(format!("{}.arx", invite.document_id)));
    let progress = SyncProgress::new(format!("joining into {}", file.display()), false);
    let session = Session::join(
        &invite,
        &file,
        &session_options(flags)?,
        Duration::from_secs(30),
        &|s| progress.update(s),
    );
    progress.finish();
    let session = session?;
    eprintln!(
        "joined {} as {} (this keeps the file in sync; `arxos sync pause|resume|push|pull|queue {}` steer it; ctrl-c stops)",
        invite.document_id,
        file.display(),
        file.display()
    );
    follow(session, duration)
}

/// What a live session takes from the settings (`-c` flags, project, global): identity,
/// `sync.relays`, `sync.update-interval`.
fn session_options(flags: &[String]) -> anyhow::Result<SessionOptions> {
    Ok(SessionOptions::from_config(
        &super::config_cmds::load(flags)?,
        "cli",
    ))
}

/// `arxos relay`.
pub fn run_relay(a: &RelayArgs) -> anyhow::Result<()> {
    let mut config = arxos_relay::RelayConfig::new(a.listen, a.data.clone());
    config.tls = match (&a.tls_cert, &a.tls_key) {
        (Some(cert), Some(key)) => Some(arxos_relay::TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
        }),
        _ => None,
    };
    config.admin_token = a
        .admin_token
        .clone()
        .or_else(|| std::env::var("ARXOS_ADMIN_TOKEN").ok());
    config.public_url.clone_from(&a.public_url);
    config.check().context("--public-url")?;
    let tls = config.tls.is_some();
    let rt = runtime()?;
    rt.block_on(async {
        let handle = arxos_relay::start(config).await?;
        if handle.admin_token_generated {
            outln!("admin token: {}", handle.admin_token);
        }
        outln!("listening on {}", handle.ws_url(tls));
        until_stopped(None).await;
        handle.shutdown().await;
        anyhow::Ok(())
    })
}

/// Refuses a zero `--timeout-secs` / `--wait`: it would give up before trying.
pub(super) fn positive_secs(flag: &str, secs: u64) -> anyhow::Result<Duration> {
    if secs == 0 {
        bail!("{flag} must be at least 1 second (0 would give up before trying)");
    }
    Ok(Duration::from_secs(secs))
}

/// Turns `--for SECS` into a duration.
pub fn for_secs(secs: Option<f64>) -> anyhow::Result<Option<Duration>> {
    secs.map(|s| {
        if s.is_finite() && s > 0.0 {
            Ok(Duration::from_secs_f64(s))
        } else {
            bail!("--for must be a positive number of seconds")
        }
    })
    .transpose()
}
