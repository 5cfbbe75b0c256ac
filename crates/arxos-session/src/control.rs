//! Controls for a running session, from another program: `arxos sync pause|resume|push|
//! pull|queue|reset|reset-to-server`, `arxos presence set-status|show` and `arxos follow`
//! reach the `join`, `host` (or editor) that keeps a plan live, over a Unix socket.
//!
//! Each session serves one socket per plan file in the user's runtime folder
//! (`$XDG_RUNTIME_DIR/arxos/`, else `<tmp>/arxos-<uid>/`), a folder only that user may enter
//! (0700, checked to be theirs before use) holding sockets only they may open (0600). The
//! socket's name is a digest of the plan's absolute path, so any program that names the same
//! file finds the same session. The protocol is one JSON request per line, answered by one
//! JSON line (`{"ok":true,"result":…}` or `{"ok":false,"error":"…"}`); `follow` then streams
//! one JSON line per presence update until the caller hangs up.
//!
//! With no session running, the commands that make sense at rest ([`Request::at_rest`]) run
//! on the file itself through a paused engine ([`offline`]): the queue, one-way push and pull,
//! resets. The same [`exec`] code answers both ways.

mod exec;
mod server;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use arxos_sync::client::{OneWay, QueueAside, SyncStatus, SyncSummary};
use arxos_sync::protocol::payload::{Presence, PresenceStatus};
use serde::{Deserialize, Serialize};
use sha2::Digest;

pub use exec::offline;
pub use server::{ControlServer, Serving};

use crate::SessionError;
use crate::backup::BackupInfo;

/// A request to a running session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum Request {
    /// The session's status.
    Status,
    /// Auto-sync off: leave the relay, keep queueing edits.
    Pause,
    /// Auto-sync on again.
    Resume,
    /// Send our queued changes only.
    Push {
        /// How long the relay may take.
        timeout_secs: u64,
    },
    /// Take the relay's changes only.
    Pull {
        /// How long the relay may take.
        timeout_secs: u64,
    },
    /// The changes the relay has not acknowledged.
    Queue,
    /// Set the queued changes aside in a file.
    QueueClear,
    /// Back up, then forget the sync state and compare everything afresh.
    Reset,
    /// Back up, then replace the working plan by the relay's copy.
    ResetToServer {
        /// How long fetching the copy may take.
        timeout_secs: u64,
    },
    /// Our presence: a free-text status and, optionally, the activity state.
    SetStatus {
        /// Shown beside our name (`None` clears it).
        text: Option<String>,
        /// `online`, `away` or `editing`.
        state: Option<PresenceStatus>,
    },
    /// Who is in the session.
    Presence,
    /// Stream what `user` selects and where they are.
    Follow {
        /// A display name (or peer id).
        user: String,
    },
}

impl Request {
    /// Whether the request means something with no session running (it then runs on the
    /// file through a paused engine).
    pub fn at_rest(&self) -> bool {
        matches!(
            self,
            Self::Push { .. }
                | Self::Pull { .. }
                | Self::Queue
                | Self::QueueClear
                | Self::Reset
                | Self::ResetToServer { .. }
        )
    }
}

/// A running session's status.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LiveStatus {
    /// The plan file.
    pub file: PathBuf,
    /// The process serving it.
    pub pid: u32,
    /// The engine's status.
    pub status: SyncStatus,
    /// How many others are in the session.
    pub peers: usize,
}

/// What pause or resume did.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Toggled {
    /// Whether it changed anything (pausing a paused session does not).
    pub changed: bool,
    /// The status after.
    pub status: SyncStatus,
}

/// What a reset did.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ResetDone {
    /// The backup kept first (`arxos backup restore NAME` brings it back).
    pub backup: BackupInfo,
    /// For a reset to the relay's copy: what was fetched.
    pub fetched: Option<SyncSummary>,
}

/// One person in the session.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Person {
    /// Their peer id in this run.
    pub peer: String,
    /// Their latest presence.
    pub presence: Presence,
}

/// The session's people: us, then the others.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct People {
    /// Our own presence as announced (`None` before anything was set by hand).
    pub me: Option<Presence>,
    /// The others, by name.
    pub others: Vec<Person>,
}

/// One line of `follow`: where the followed person is and what they hold.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Followed {
    /// Their peer id.
    pub peer: String,
    /// Their presence at that moment (selection, cursor, viewport, status).
    pub presence: Presence,
    /// They left the session (`presence` is their last one).
    #[serde(default)]
    pub left: bool,
}

/// The typed answers, one per request kind.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "kebab-case")]
pub enum Reply {
    /// [`Request::Status`].
    Status(Box<LiveStatus>),
    /// [`Request::Pause`], [`Request::Resume`].
    Toggled(Toggled),
    /// [`Request::Push`], [`Request::Pull`].
    OneWay(OneWay),
    /// [`Request::Queue`].
    Queue(Vec<arxos_doc::DescribedChange>),
    /// [`Request::QueueClear`].
    QueueAside(QueueAside),
    /// [`Request::Reset`], [`Request::ResetToServer`].
    Reset(ResetDone),
    /// [`Request::SetStatus`].
    Presence(Presence),
    /// [`Request::Presence`].
    People(People),
}

impl Reply {
    /// The answer alone, without the kind tag the socket carries (what `--json` prints).
    pub fn payload(&self) -> Payload<'_> {
        Payload(self)
    }
}

/// See [`Reply::payload`].
pub struct Payload<'a>(&'a Reply);

impl Serialize for Payload<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Reply::Status(v) => v.serialize(s),
            Reply::Toggled(v) => v.serialize(s),
            Reply::OneWay(v) => v.serialize(s),
            Reply::Queue(v) => v.serialize(s),
            Reply::QueueAside(v) => v.serialize(s),
            Reply::Reset(v) => v.serialize(s),
            Reply::Presence(v) => v.serialize(s),
            Reply::People(v) => v.serialize(s),
        }
    }
}

/// A reply line.
#[derive(Serialize, Deserialize)]
struct Envelope<T> {
    ok: bool,
    // A missing `Option` reads as `None` without `default`, which would bound `T: Default`.
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// The folder the sockets live in, made private to this user when missing.
pub fn socket_dir() -> Result<PathBuf, SessionError> {
    let dir = match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(runtime) => PathBuf::from(runtime).join("arxos"),
        None => std::env::temp_dir().join(format!("arxos-{}", rustix::process::getuid().as_raw())),
    };
    server::private_dir(&dir)?;
    Ok(dir)
}

/// The socket of the session on `plan` (whether one runs or not).
pub fn socket_path(plan: &Path) -> Result<PathBuf, SessionError> {
    let absolute = std::path::absolute(plan)
        .map_err(|e| SessionError::Invalid(format!("{}: {e}", plan.display())))?;
    // The file may be gone (a clone not written yet); its folder still names it.
    let canonical = match (absolute.parent(), absolute.file_name()) {
        (Some(dir), Some(name)) => dir
            .canonicalize()
            .map_or_else(|_| absolute.clone(), |d| d.join(name)),
        _ => absolute,
    };
    let digest = sha2::Sha256::digest(canonical.as_os_str().as_encoded_bytes());
    Ok(socket_dir()?.join(format!("{}.sock", hex::encode(&digest[..8]))))
}

/// Sends `request` to the session running on `plan`; `Ok(None)` when none runs there.
pub fn call(plan: &Path, request: &Request) -> Result<Option<Reply>, SessionError> {
    let Some(mut conn) = connect(plan)? else {
        return Ok(None);
    };
    let wait = wait_for(request);
    conn.stream
        .set_read_timeout(Some(wait))
        .map_err(|e| conn.err(&e))?;
    conn.send(request)?;
    let reply: Reply = conn.read()?;
    Ok(Some(reply))
}

/// The status of the session running on `plan`, if one runs and answers (what `sync stats`
/// and `sync diagnose` add to what the files say).
pub fn live_status(plan: &Path) -> Option<SyncStatus> {
    match call(plan, &Request::Status) {
        Ok(Some(Reply::Status(s))) => Some(s.status),
        _ => None,
    }
}

/// Follows `user` in the session running on `plan`: `on_line` sees each update until it
/// returns `false`, `until` passes, or the session ends. Fails when no session runs there or
/// nobody of that name is in it.
pub fn follow(
    plan: &Path,
    user: &str,
    until: Option<Instant>,
    mut on_line: impl FnMut(&Followed) -> bool,
) -> Result<(), SessionError> {
    let Some(mut conn) = connect(plan)? else {
        return Err(not_running(plan));
    };
    conn.stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| conn.err(&e))?;
    conn.send(&Request::Follow { user: user.into() })?;
    let _: serde_json::Value = conn.read()?;
    conn.stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .map_err(|e| conn.err(&e))?;
    let mut line = Vec::new();
    loop {
        if until.is_some_and(|t| Instant::now() >= t) {
            return Ok(());
        }
        match conn.reader.read_until(b'\n', &mut line) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) if timed_out(&e) => continue,
            Err(e) => return Err(conn.err(&e)),
        }
        let envelope: Envelope<Followed> = parse_line(&line)?;
        line.clear();
        let Some(followed) = envelope.result else {
            return Err(SessionError::Invalid(
                envelope
                    .error
                    .unwrap_or_else(|| "the session sent an empty update".into()),
            ));
        };
        if !on_line(&followed) {
            return Ok(());
        }
    }
}

fn timed_out(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

/// The sessions running for this user, with their status (sockets nobody answers on are
/// skipped).
pub fn running() -> Result<Vec<LiveStatus>, SessionError> {
    let dir = socket_dir()?;
    let entries = std::fs::read_dir(&dir)
        .map_err(|e| SessionError::Invalid(format!("{}: {e}", dir.display())))?;
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "sock") {
            continue;
        }
        let Ok(stream) = UnixStream::connect(&path) else {
            continue;
        };
        let Ok(mut conn) = Conn::new(stream, path) else {
            continue;
        };
        let _ = conn.stream.set_read_timeout(Some(Duration::from_secs(2)));
        if conn.send(&Request::Status).is_err() {
            continue;
        }
        if let Ok(Reply::Status(status)) = conn.read::<Reply>() {
            found.push(*status);
        }
    }
    found.sort_by(|a, b| a.file.cmp(&b.file));
    Ok(found)
}

/// The error for a command that needs a running session.
pub fn not_running(plan: &Path) -> SessionError {
    SessionError::Invalid(format!(
        "no session is running on {} (start one with `arxos join` or `arxos host`)",
        plan.display()
    ))
}

/// How long a caller waits for the answer: the request's own timeout, plus room for the
/// session to report it.
fn wait_for(request: &Request) -> Duration {
    let secs = match request {
        Request::Push { timeout_secs }
        | Request::Pull { timeout_secs }
        | Request::ResetToServer { timeout_secs } => *timeout_secs,
        // A long queue is replayed to describe it; a reset takes a backup.
        Request::Queue | Request::QueueClear | Request::Reset => 60,
        _ => 5,
    };
    Duration::from_secs(secs.saturating_add(10))
}

fn parse_line<T: serde::de::DeserializeOwned>(line: &[u8]) -> Result<T, SessionError> {
    serde_json::from_slice(line.trim_ascii_end())
        .map_err(|e| SessionError::Invalid(format!("the session's answer is not understood: {e}")))
}

fn connect(plan: &Path) -> Result<Option<Conn>, SessionError> {
    let path = socket_path(plan)?;
    match UnixStream::connect(&path) {
        Ok(stream) => Conn::new(stream, path).map(Some),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(SessionError::Invalid(format!(
            "cannot reach the session on {} at {}: {e}",
            plan.display(),
            path.display()
        ))),
    }
}

/// One connection to a session's socket.
struct Conn {
    stream: UnixStream,
    reader: BufReader<UnixStream>,
    path: PathBuf,
}

impl Conn {
    fn new(stream: UnixStream, path: PathBuf) -> Result<Self, SessionError> {
        let reader = stream.try_clone().map_err(|e| {
            SessionError::Invalid(format!("session socket {}: {e}", path.display()))
        })?;
        Ok(Self {
            stream,
            reader: BufReader::new(reader),
            path,
        })
    }

    fn err(&self, e: &std::io::Error) -> SessionError {
        SessionError::Invalid(format!("session socket {}: {e}", self.path.display()))
    }

    fn send(&mut self, request: &Request) -> Result<(), SessionError> {
        let mut line = serde_json::to_vec(request)
            .map_err(|e| SessionError::Invalid(format!("cannot encode the request: {e}")))?;
        line.push(b'\n');
        self.stream.write_all(&line).map_err(|e| self.err(&e))
    }

    /// One answer line; a read timeout set on the stream bounds the wait.
    fn read<T: serde::de::DeserializeOwned>(&mut self) -> Result<T, SessionError> {
        let mut line = Vec::new();
        let n = self.reader.read_until(b'\n', &mut line).map_err(|e| {
            if timed_out(&e) {
                SessionError::Invalid(format!(
                    "the session at {} did not answer in time",
                    self.path.display()
                ))
            } else {
                self.err(&e)
            }
        })?;
        if n == 0 {
            return Err(SessionError::Invalid(
                "the session closed the connection without answering".into(),
            ));
        }
        let envelope: Envelope<T> = parse_line(&line)?;
        match (envelope.ok, envelope.result) {
            (true, Some(result)) => Ok(result),
            _ => Err(SessionError::Invalid(
                envelope
                    .error
                    .unwrap_or_else(|| "the session gave no answer".into()),
            )),
        }
    }
}
