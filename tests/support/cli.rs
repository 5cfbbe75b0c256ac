//! Helpers shared by the end-to-end CLI tests: run the real `arxos` binary on real files.

#![allow(dead_code, clippy::unwrap_used)] // each test file uses a subset; test helpers

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

/// The `arxos` binary with a fixed author.
pub fn arxos() -> Command {
    let mut c = Command::cargo_bin("arxos").unwrap();
    // No display: the editor never opens from a test run in a desktop session.
    c.env_remove("ARXOS_USER")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env("USER", "tester")
        .env("ARXOS_CONFIG_DIR", "/nonexistent/arxos-test-config");
    c
}

/// Imports the bundled sample plan into `dir/name`.
pub fn import_sample(dir: &Path, name: &str) -> PathBuf {
    let plan = dir.join(name);
    arxos()
        .args(["import", "assets/sample-office.svgx", "-o"])
        .arg(&plan)
        .assert()
        .success();
    plan
}

/// Runs `cmd --json`, expects success, and parses the output.
pub fn json(cmd: &mut Command) -> Value {
    let out = cmd
        .arg("--json")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    serde_json::from_slice(&out).unwrap()
}

/// Runs `args` (with `PLAN` replaced by `plan`), expects a failure with a one-line error
/// containing `msg`, and returns it.
pub fn one_line_error(plan: &Path, args: &[&str], msg: &str) -> String {
    let args: Vec<String> = args
        .iter()
        .map(|a| {
            if *a == "PLAN" {
                plan.display().to_string()
            } else {
                (*a).to_owned()
            }
        })
        .collect();
    let out = arxos().args(&args).assert().failure().get_output().clone();
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains(msg), "{args:?}: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
    err
}

/// The `arxos` binary with a home of its own: `HOME` and `XDG_CONFIG_HOME` inside `home` (a
/// temporary folder), so that nothing reads or writes the real user's configuration, and the
/// working folder `home` (a test may change it).
pub fn arxos_home(home: &Path) -> Command {
    let mut c = arxos();
    c.env_remove("ARXOS_CONFIG_DIR")
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .current_dir(home);
    c
}

/// Runs `cmd`, expects a failure with a one-line error containing `msg`; the error.
pub fn fails_with(cmd: &mut Command, msg: &str) -> String {
    let out = cmd.assert().failure().get_output().clone();
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains(msg), "{cmd:?}: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{cmd:?}: {err}");
    err
}

/// What `arxos get FILE WHAT` prints (trimmed).
pub fn get(file: &Path, what: &str) -> String {
    let out = arxos().arg("get").arg(file).arg(what).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Runs `cmd`, expects success, and returns what it printed on standard error (warnings).
pub fn stderr_of(cmd: &mut Command) -> String {
    let out = cmd.assert().success().get_output().clone();
    String::from_utf8(out.stderr).unwrap()
}
