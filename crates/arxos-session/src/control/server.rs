//! The socket a running session answers on: bound private to this user, one scoped thread
//! per caller (so a `follow` never holds up a `pause`), every wait bounded so the session
//! can stop at any time.

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, ErrorKind, Read as _, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _, PermissionsExt as _};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use arxos_sync::client::ClientEvent;
use tokio::sync::broadcast::error::TryRecvError;

use super::exec::{Target, execute};
use super::{Envelope, Followed, Request, socket_path};
use crate::{Session, SessionError};
use arxos_sync::protocol::payload::Presence;

/// How often an idle connection or the accept loop looks whether the session is stopping.
const POLL: Duration = Duration::from_millis(50);

/// The longest request line taken (the longest real one, a status text, is far shorter).
const MAX_REQUEST: u64 = 64 * 1024;

/// A bound control socket; dropping it removes the socket file.
pub struct ControlServer {
    listener: UnixListener,
    path: PathBuf,
}

fn invalid(msg: String) -> SessionError {
    SessionError::Invalid(msg)
}

/// Makes `dir` (mode 0700) if missing, and refuses one that is not this user's alone.
pub(super) fn private_dir(dir: &Path) -> Result<(), SessionError> {
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| invalid(format!("cannot make {}: {e}", dir.display())))?;
    }
    let meta =
        std::fs::symlink_metadata(dir).map_err(|e| invalid(format!("{}: {e}", dir.display())))?;
    let uid = rustix::process::getuid().as_raw();
    if !meta.is_dir() || meta.uid() != uid || meta.mode() & 0o077 != 0 {
        return Err(invalid(format!(
            "{} must be a folder only you can use (mode 0700, owned by you): session controls are not safe there",
            dir.display()
        )));
    }
    Ok(())
}

impl ControlServer {
    /// Binds the control socket of the session on `plan`. Fails when another running
    /// session already answers for that file.
    pub fn bind(plan: &Path) -> Result<Self, SessionError> {
        let path = socket_path(plan)?;
        if UnixStream::connect(&path).is_ok() {
            return Err(invalid(format!(
                "another session on {} already answers its controls",
                plan.display()
            )));
        }
        // Nobody answers: what is there is left over from a session that did not stop.
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path)
            .map_err(|e| invalid(format!("cannot listen on {}: {e}", path.display())))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
            .and_then(|()| listener.set_nonblocking(true))
            .map_err(|e| invalid(format!("{}: {e}", path.display())))?;
        tracing::info!(socket = %path.display(), plan = %plan.display(), "session controls listening");
        Ok(Self { listener, path })
    }

    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Answers requests for `target` until `stop` is set.
    fn serve_target(&self, target: &Target<'_>, stop: &AtomicBool) {
        std::thread::scope(|scope| {
            while !stop.load(Ordering::Relaxed) {
                match self.listener.accept() {
                    Ok((stream, _)) => {
                        scope.spawn(move || {
                            if let Err(err) = answer(stream, target, stop) {
                                tracing::debug!(%err, "control connection ended");
                            }
                        });
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => std::thread::sleep(POLL),
                    Err(err) => {
                        tracing::warn!(%err, "control socket accept failed");
                        std::thread::sleep(POLL * 4);
                    }
                }
            }
        });
    }
}

/// A session's controls answering on a thread of their own (what an app that cannot lend
/// the session to a scoped thread uses: the editor). Dropping it stops answering, after
/// the requests in progress end.
pub struct Serving {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    socket: PathBuf,
}

impl Serving {
    /// Binds `session`'s control socket and answers on it until dropped.
    pub fn start(session: &Session) -> Result<Self, SessionError> {
        let server = ControlServer::bind(session.file())?;
        let socket = server.path().to_owned();
        let stop = Arc::new(AtomicBool::new(false));
        let (client, file, identity) = (
            session.client().handle(),
            session.file().to_owned(),
            session.identity().clone(),
        );
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("arxos-controls".into())
            .spawn(move || {
                let target = Target {
                    client: &client,
                    file: &file,
                    identity: &identity,
                };
                server.serve_target(&target, &flag);
            })
            .map_err(|e| invalid(format!("cannot start the session controls: {e}")))?;
        Ok(Self {
            stop,
            thread: Some(thread),
            socket,
        })
    }

    /// The socket's path.
    pub fn socket(&self) -> &Path {
        &self.socket
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("the session controls thread panicked");
        }
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// One caller: requests line by line until they hang up or the session stops.
fn answer(stream: UnixStream, target: &Target<'_>, stop: &AtomicBool) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(POLL))?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let room = MAX_REQUEST.saturating_sub(line.len() as u64);
        match (&mut reader).take(room).read_until(b'\n', &mut line) {
            Ok(0) if room == 0 => {
                let reply: Result<(), String> =
                    Err(format!("a request is at most {MAX_REQUEST} bytes"));
                return write_line(&mut writer, &envelope(reply));
            }
            Ok(0) => return Ok(()),
            Ok(_) if !line.ends_with(b"\n") => continue,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => continue,
            Err(e) => return Err(e),
        }
        let request: Result<Request, _> = serde_json::from_slice(line.trim_ascii_end());
        line.clear();
        match request {
            Ok(Request::Follow { user }) => {
                return follow(&mut writer, reader.get_mut(), target, &user, stop);
            }
            Ok(request) => {
                let reply = execute(target, &request).map_err(|e| e.to_string());
                write_line(&mut writer, &envelope(reply))?;
            }
            Err(e) => {
                let reply: Result<(), String> = Err(format!("not a control request: {e}"));
                write_line(&mut writer, &envelope(reply))?;
            }
        }
    }
    Ok(())
}

fn envelope<T>(result: Result<T, String>) -> Envelope<T> {
    match result {
        Ok(result) => Envelope {
            ok: true,
            result: Some(result),
            error: None,
        },
        Err(error) => Envelope {
            ok: false,
            result: None,
            error: Some(error),
        },
    }
}

fn write_line<T: serde::Serialize>(w: &mut UnixStream, value: &T) -> std::io::Result<()> {
    let mut bytes = serde_json::to_vec(value).map_err(std::io::Error::other)?;
    bytes.push(b'\n');
    w.write_all(&bytes)
}

/// Streams what `user` does: their presence now, then every update, until the caller hangs
/// up or the session stops. A person is matched by peer id or display name, so following
/// survives their reconnecting under a new peer id.
fn follow(
    writer: &mut UnixStream,
    reader: &mut UnixStream,
    target: &Target<'_>,
    user: &str,
    stop: &AtomicBool,
) -> std::io::Result<()> {
    let mut events = target.client.subscribe();
    let now = target.client.presence();
    let matches = |peer: &str, name: &str| peer == user || name == user;
    let present: Vec<_> = now
        .iter()
        .filter(|(peer, p)| matches(peer, &p.user))
        .collect();
    if present.is_empty() {
        let mut names: Vec<&str> = now.values().map(|p| p.user.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        let who = if names.is_empty() {
            "nobody else is".to_owned()
        } else {
            format!("present: {}", names.join(", "))
        };
        let reply: Result<(), String> =
            Err(format!("nobody named `{user}` is in the session ({who})"));
        return write_line(writer, &envelope(reply));
    }
    write_line(
        writer,
        &envelope(Ok(serde_json::json!({ "following": user }))),
    )?;
    // The last presence of each person followed, for the line saying they left.
    let mut seen: BTreeMap<String, Presence> = BTreeMap::new();
    for (peer, presence) in present {
        seen.insert(peer.clone(), presence.clone());
        let line = Followed {
            peer: peer.clone(),
            presence: presence.clone(),
            left: false,
        };
        write_line(writer, &envelope(Ok(line)))?;
    }
    reader.set_nonblocking(true)?;
    let mut last_check = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        match events.try_recv() {
            Ok(ClientEvent::Presence { entries, gone }) => {
                for e in entries {
                    if !matches(&e.peer, &e.presence.user) {
                        continue;
                    }
                    seen.insert(e.peer.clone(), e.presence.clone());
                    let line = Followed {
                        peer: e.peer,
                        presence: e.presence,
                        left: false,
                    };
                    write_line(writer, &envelope(Ok(line)))?;
                }
                for peer in gone {
                    if let Some(presence) = seen.remove(&peer) {
                        let line = Followed {
                            peer,
                            presence,
                            left: true,
                        };
                        write_line(writer, &envelope(Ok(line)))?;
                    }
                }
            }
            Ok(_) | Err(TryRecvError::Lagged(_)) => {}
            Err(TryRecvError::Empty) => std::thread::sleep(Duration::from_millis(10)),
            Err(TryRecvError::Closed) => return Ok(()),
        }
        if last_check.elapsed() >= POLL * 10 {
            last_check = Instant::now();
            // The caller hung up: stop streaming to nobody.
            match reader.read(&mut [0u8; 64]) {
                Ok(0) => return Ok(()),
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}
