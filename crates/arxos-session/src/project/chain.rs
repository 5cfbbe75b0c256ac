//! Pre- and post-sync command chains of a project: each command is run in the project folder
//! without a shell (its argv as written) unless it asks for one, in a process group of its
//! own, with its output captured and a timeout after which the whole group is killed, so a
//! script's background children never outlive it. A failure of a `required` command stops
//! the chain; an optional one is noted and the chain goes on.

use std::io::Read;
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, parse_duration};

/// The most output kept of each stream of a command; the rest is counted, not stored.
const OUTPUT_LIMIT: usize = 64 * 1024;

/// How long output may keep flowing after a command exits (a background child holding the
/// pipe open) before its process group is killed.
const DRAIN_GRACE: Duration = Duration::from_secs(2);

/// One command of a chain, as written in `arxfile.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainCommand {
    /// Its name in reports and errors.
    pub name: String,
    /// The program and its arguments; with `shell`, one element: the shell script.
    pub command: Vec<String>,
    /// How long it may run (`30s`, `5m`).
    #[serde(default = "default_timeout")]
    pub timeout: String,
    /// Whether a failure stops the sync.
    #[serde(default = "required_default")]
    pub required: bool,
    /// Run `command[0]` with `sh -c` instead of as a program.
    #[serde(default)]
    pub shell: bool,
}

fn default_timeout() -> String {
    "60s".into()
}

fn required_default() -> bool {
    true
}

impl ChainCommand {
    /// Checks the entry; what is wrong with it.
    pub fn check(&self) -> Result<Duration, String> {
        if self.name.trim().is_empty() {
            return Err("a command needs a name".into());
        }
        let who = format!("command `{}`", self.name);
        if self.command.is_empty() || self.command[0].trim().is_empty() {
            return Err(format!("{who}: `command` is empty"));
        }
        if self.shell && self.command.len() != 1 {
            return Err(format!(
                "{who}: with \"shell\": true, `command` is one string, the script"
            ));
        }
        parse_duration(&self.timeout).map_err(|e| format!("{who}: timeout: {e}"))
    }

    fn argv(&self) -> Vec<String> {
        if self.shell {
            vec!["sh".into(), "-c".into(), self.command[0].clone()]
        } else {
            self.command.clone()
        }
    }
}

/// Checks every command of `chain` (from `path`).
pub fn check_chain(path: &Path, stage: &str, chain: &[ChainCommand]) -> Result<(), ConfigError> {
    for c in chain {
        c.check().map_err(|reason| ConfigError::BadFile {
            path: path.to_owned(),
            reason: format!("{stage}: {reason}"),
        })?;
    }
    Ok(())
}

/// How one command went.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CommandRun {
    /// `pre_sync` or `post_sync`.
    pub stage: &'static str,
    /// Its name.
    pub name: String,
    /// What was run.
    pub argv: Vec<String>,
    /// Its exit code (none: killed by a signal, timed out, or never started).
    pub exit_code: Option<i32>,
    /// Whether it was killed for running too long.
    pub timed_out: bool,
    /// How long it ran, milliseconds.
    pub duration_ms: u64,
    /// Whether a failure stops the sync.
    pub required: bool,
    /// Whether it succeeded.
    pub ok: bool,
    /// Why it failed, in one line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Standard output (the first 64 KiB).
    pub stdout: String,
    /// Standard error (the first 64 KiB).
    pub stderr: String,
}

/// Runs `chain` in `dir` with `env` added; stops at the first failed required command. The
/// runs, and the name of the command that stopped the chain.
pub fn run_chain(
    stage: &'static str,
    chain: &[ChainCommand],
    dir: &Path,
    env: &[(&str, String)],
) -> (Vec<CommandRun>, Option<String>) {
    let mut runs = Vec::new();
    for c in chain {
        let run = run_one(stage, c, dir, env);
        tracing::info!(stage, name = %c.name, ok = run.ok, exit = ?run.exit_code, "chain command");
        let stop = !run.ok && c.required;
        runs.push(run);
        if stop {
            return (runs, Some(c.name.clone()));
        }
    }
    (runs, None)
}

fn reader(
    name: &str,
    mut stream: impl Read + Send + 'static,
    tx: mpsc::SyncSender<(bool, String)>,
    is_err: bool,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name(format!("chain-{name}"))
        .spawn(move || {
            let mut kept = Vec::new();
            let mut buf = [0u8; 8192];
            while let Ok(n) = stream.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let room = OUTPUT_LIMIT.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
            let _ = tx.send((is_err, String::from_utf8_lossy(&kept).into_owned()));
        })
        .map(|_| ())
}

fn kill_group(pid: u32) {
    let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return;
    };
    // ESRCH (the group is gone already) is the expected outcome of a clean exit.
    let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
}

fn run_one(
    stage: &'static str,
    c: &ChainCommand,
    dir: &Path,
    env: &[(&str, String)],
) -> CommandRun {
    let argv = c.argv();
    let mut run = CommandRun {
        stage,
        name: c.name.clone(),
        argv: argv.clone(),
        exit_code: None,
        timed_out: false,
        duration_ms: 0,
        required: c.required,
        ok: false,
        error: None,
        stdout: String::new(),
        stderr: String::new(),
    };
    let timeout = match c.check() {
        Ok(t) => t,
        Err(e) => {
            run.error = Some(e);
            return run;
        }
    };
    let started = Instant::now();
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so that a timeout kills everything it started.
        .process_group(0);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = match cmd.spawn() {
        Ok(ch) => ch,
        Err(e) => {
            run.error = Some(format!("cannot run `{}`: {e}", argv[0]));
            return run;
        }
    };
    let pid = child.id();
    let (tx, rx) = mpsc::sync_channel(2);
    let mut readers = 0;
    if let Some(out) = child.stdout.take()
        && reader(&c.name, out, tx.clone(), false).is_ok()
    {
        readers += 1;
    }
    if let Some(err) = child.stderr.take()
        && reader(&c.name, err, tx, true).is_ok()
    {
        readers += 1;
    }
    let status = wait_until(&mut child, pid, started + timeout, &mut run);
    let killed_leftovers = collect_output(&rx, readers, pid, &mut run);
    run.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    run.exit_code = status.and_then(|s| s.code());
    if run.timed_out {
        run.error = Some(format!(
            "timed out after {} (its processes were killed)",
            c.timeout
        ));
    } else if let Some(s) = status {
        if s.success() {
            run.ok = true;
        } else {
            run.error = Some(match s.code() {
                Some(code) => format!("exited with code {code}"),
                None => format!("killed by a signal ({s})"),
            });
        }
    }
    if killed_leftovers && run.ok {
        tracing::warn!(name = %c.name, "left processes running with its output open; they were killed");
    }
    run
}

/// Waits for `child` until `deadline`, killing its process group then; its exit status.
fn wait_until(
    child: &mut std::process::Child,
    pid: u32,
    deadline: Instant,
    run: &mut CommandRun,
) -> Option<std::process::ExitStatus> {
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() >= deadline => {
                kill_group(pid);
                run.timed_out = true;
                let _ = child.wait();
                return None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => {
                kill_group(pid);
                let _ = child.wait();
                run.error = Some(format!("waiting for it: {e}"));
                return None;
            }
        }
    }
}

/// Collects what the readers captured; a child left behind holding the pipes is killed with
/// its group after [`DRAIN_GRACE`]. Whether that happened.
fn collect_output(
    rx: &mpsc::Receiver<(bool, String)>,
    readers: usize,
    pid: u32,
    run: &mut CommandRun,
) -> bool {
    let drain_until = Instant::now() + DRAIN_GRACE;
    let mut killed_leftovers = false;
    for _ in 0..readers {
        let left = drain_until.saturating_duration_since(Instant::now());
        let got = rx.recv_timeout(left).ok().or_else(|| {
            kill_group(pid);
            killed_leftovers = true;
            rx.recv_timeout(Duration::from_secs(5)).ok()
        });
        if let Some((is_err, text)) = got {
            if is_err {
                run.stderr = text;
            } else {
                run.stdout = text;
            }
        }
    }
    killed_leftovers
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(name: &str, argv: &[&str], timeout: &str, required: bool) -> ChainCommand {
        ChainCommand {
            name: name.into(),
            command: argv.iter().map(|s| (*s).to_owned()).collect(),
            timeout: timeout.into(),
            required,
            shell: false,
        }
    }

    #[test]
    fn output_is_captured_and_a_required_failure_stops_the_chain() {
        let dir = tempfile::tempdir().unwrap();
        let chain = [
            cmd("hello", &["echo", "hi there"], "5s", true),
            cmd("optional", &["false"], "5s", false),
            cmd("gate", &["sh", "-c", "echo no >&2; exit 3"], "5s", true),
            cmd("never", &["echo", "x"], "5s", true),
        ];
        let (runs, stopped) = run_chain("pre_sync", &chain, dir.path(), &[]);
        assert_eq!(stopped.as_deref(), Some("gate"));
        assert_eq!(runs.len(), 3);
        assert_eq!(runs[0].stdout, "hi there\n");
        assert!(runs[0].ok && !runs[1].ok);
        assert_eq!(runs[2].exit_code, Some(3));
        assert_eq!(runs[2].stderr, "no\n");
        assert_eq!(runs[2].error.as_deref(), Some("exited with code 3"));
    }

    #[test]
    fn without_a_shell_arguments_are_not_interpreted() {
        let dir = tempfile::tempdir().unwrap();
        let (runs, _) = run_chain(
            "pre_sync",
            &[cmd("literal", &["echo", "$HOME; rm -rf x"], "5s", true)],
            dir.path(),
            &[],
        );
        assert_eq!(runs[0].stdout, "$HOME; rm -rf x\n");
        let (runs, stopped) = run_chain(
            "pre_sync",
            &[cmd("missing", &["/nonexistent/tool"], "5s", true)],
            dir.path(),
            &[],
        );
        assert_eq!(stopped.as_deref(), Some("missing"));
        assert!(
            runs[0].error.as_deref().unwrap().contains("cannot run"),
            "{runs:?}"
        );
    }

    #[test]
    fn bad_entries_are_refused() {
        assert!(cmd("", &["x"], "1s", true).check().is_err());
        assert!(cmd("a", &[], "1s", true).check().is_err());
        assert!(
            cmd("a", &["x"], "0s", true)
                .check()
                .unwrap_err()
                .contains("zero")
        );
        let mut s = cmd("a", &["x", "y"], "1s", true);
        s.shell = true;
        assert!(s.check().unwrap_err().contains("one string"));
    }
}
