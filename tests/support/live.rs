//! Helpers for end-to-end tests of live sessions: long-running `arxos` processes (a relay, a
//! `join`, a `host`, a `watch`) whose output lines arrive on a channel, killed on drop.

#![allow(dead_code, clippy::unwrap_used)] // each test file uses a subset; test helpers

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The relay's admin token in tests.
pub const TOKEN: &str = "test-admin-token";

/// A child process whose stdout and stderr lines arrive on one channel; killed on drop.
pub struct Proc {
    child: Child,
    lines: mpsc::Receiver<String>,
}

fn forward(out: impl Read + Send + 'static, tx: mpsc::SyncSender<String>, name: &str) {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        })
        .unwrap();
}

impl Proc {
    /// Starts `arxos ARGS` (as the `tester` user, with no settings file).
    pub fn spawn(args: &[&str]) -> Self {
        Self::spawn_with(args, &[])
    }

    /// [`Proc::spawn`] with more environment variables.
    pub fn spawn_with(args: &[&str], env: &[(&str, &std::ffi::OsStr)]) -> Self {
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("arxos"))
            .args(args)
            .env("ARXOS_ADMIN_TOKEN", TOKEN)
            .env_remove("ARXOS_USER")
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .env("USER", "tester")
            .env("ARXOS_CONFIG_DIR", "/nonexistent/arxos-test-config")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = mpsc::sync_channel(1024);
        forward(child.stdout.take().unwrap(), tx.clone(), "test-stdout");
        forward(child.stderr.take().unwrap(), tx, "test-stderr");
        Self { child, lines }
    }

    /// The first line starting with `prefix`, within 30 s; its remainder.
    pub fn expect(&self, prefix: &str) -> String {
        self.expect_within(prefix, Duration::from_secs(30))
    }

    /// The first line containing `prefix` at its start, within `timeout`.
    pub fn expect_within(&self, prefix: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no line starting with {prefix:?}"));
            if let Some(rest) = line.strip_prefix(prefix) {
                return rest.trim().to_owned();
            }
        }
    }

    /// Waits (bounded) for the process to exit by itself; its status.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "the process did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Every line printed so far.
    pub fn drain(&self) -> Vec<String> {
        self.lines.try_iter().collect()
    }

    /// SIGTERM, as ctrl-c or a service manager would stop it; waits for the exit.
    pub fn terminate(&mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        self.wait_exit(Duration::from_secs(15))
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A relay process on a port it picks; its `ws://` address.
pub fn relay(dir: &Path) -> (Proc, String) {
    let data = dir.join("relay-data");
    let p = Proc::spawn(&[
        "relay",
        "--listen",
        "127.0.0.1:0",
        "--data",
        data.to_str().unwrap(),
    ]);
    let url = p.expect("listening on ");
    (p, url)
}

/// Polls `f` (bounded) until it holds.
pub fn eventually(timeout: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out after {timeout:?} waiting for: {what}");
}

/// Shares `file` on the relay at `url` (its sidecar keeps the owner invite); the editor
/// invite code.
pub fn share(file: &Path, url: &str) -> String {
    let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("arxos"))
        .env("ARXOS_ADMIN_TOKEN", TOKEN)
        .env_remove("ARXOS_USER")
        .env("USER", "tester")
        .env("ARXOS_CONFIG_DIR", "/nonexistent/arxos-test-config")
        .arg("share")
        .arg(file)
        .args(["--relay", url, "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shared: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    shared["invite"].as_str().unwrap().to_owned()
}
