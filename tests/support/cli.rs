//! Helpers shared by the end-to-end CLI tests: run the real `arxos` binary on real files.

#![allow(dead_code, clippy::unwrap_used)] // each test file uses a subset; test helpers

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

/// The `arxos` binary with a fixed author.
pub fn arxos() -> Command {
    let mut c = Command::cargo_bin("arxos").unwrap();
    c.env_remove("ARXOS_USER")
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
