//! End to end: `arxos config` over a temporary home (`HOME`, `XDG_CONFIG_HOME`), a project's
//! `arxfile.json`, and `-c` flags; every bad value refused in one line.

#![allow(clippy::unwrap_used, clippy::too_many_lines)] // test helpers; end-to-end stories read best whole

use std::path::Path;

#[path = "support/cli.rs"]
mod support;

use support::{arxos_home, fails_with, import_sample, json};

fn stdout(cmd: &mut assert_cmd::Command) -> String {
    String::from_utf8(cmd.assert().success().get_output().stdout.clone()).unwrap()
}

fn write_arxfile(dir: &Path) {
    std::fs::write(
        dir.join("arxfile.json"),
        br#"{"id": "p1", "name": "Riverside", "plans": []}"#,
    )
    .unwrap();
}

#[test]
fn settings_layer_project_over_global_and_flags_over_both() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let proj = h.join("proj");
    std::fs::create_dir_all(proj.join("sub")).unwrap();
    write_arxfile(&proj);

    assert_eq!(
        stdout(arxos_home(h).args(["config", "get", "sync.enabled"])),
        "true\n"
    );
    arxos_home(h)
        .args(["config", "set", "sync.enabled=false"])
        .assert()
        .success();
    arxos_home(h)
        .args([
            "config",
            "set",
            "sync.relays",
            "ws://127.0.0.1:1, wss://relay.example",
        ])
        .assert()
        .success();
    let global = h.join(".config/arxos/config.json");
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&global).unwrap()).unwrap();
    assert_eq!(written["sync"]["enabled"], false, "{written}");
    assert_eq!(
        written["sync"]["relays"],
        serde_json::json!(["ws://127.0.0.1:1", "wss://relay.example"])
    );

    // In the project (and below it), the project's value wins.
    arxos_home(h)
        .current_dir(&proj)
        .args(["config", "set", "--project", "sync.enabled", "yes"])
        .assert()
        .success();
    let e =
        json(
            arxos_home(h)
                .current_dir(proj.join("sub"))
                .args(["config", "get", "sync.enabled"]),
        );
    assert_eq!(e["value"], true, "{e}");
    assert_eq!(e["origin"], "project");
    assert_eq!(
        stdout(arxos_home(h).args(["config", "get", "sync.enabled"])),
        "false\n"
    );
    // A flag beats both.
    let e = json(arxos_home(h).current_dir(&proj).args([
        "config",
        "get",
        "sync.enabled",
        "-c",
        "sync.enabled=false",
    ]));
    assert_eq!(
        (e["value"].as_bool(), e["origin"].as_str()),
        (Some(false), Some("flag"))
    );

    // `get sync` prints the section, one line per setting with its origin.
    let section = stdout(
        arxos_home(h)
            .current_dir(&proj)
            .args(["config", "get", "sync"]),
    );
    let lines: Vec<&str> = section.lines().collect();
    assert_eq!(lines.len(), 4, "{section}");
    assert!(
        lines[0].starts_with("sync.enabled = true  (project: "),
        "{section}"
    );
    assert!(
        lines[1].starts_with("sync.conflict-resolution = prompt  (default)"),
        "{section}"
    );
    assert!(
        lines[3].starts_with("sync.relays = ws://127.0.0.1:1, wss://relay.example  (global: "),
        "{section}"
    );
    let list = json(arxos_home(h).args(["config", "list"]));
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|e| e["key"] == "notifications.mentions"),
        "{list}"
    );

    arxos_home(h)
        .current_dir(&proj)
        .args(["config", "unset", "--project", "sync.enabled"])
        .assert()
        .success();
    assert_eq!(
        stdout(
            arxos_home(h)
                .current_dir(&proj)
                .args(["config", "get", "sync.enabled"])
        ),
        "false\n"
    );
    fails_with(
        arxos_home(h).args(["config", "get", "user.name"]),
        "user.name is not set",
    );
}

#[test]
fn every_bad_value_and_unknown_key_is_refused_in_one_line() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    for (assignment, msg) in [
        (
            "sync.enabled=maybe",
            "bad value `maybe` for sync.enabled: expected true or false",
        ),
        (
            "sync.conflict-resolution=merge",
            "expected one of prompt, auto, manual",
        ),
        (
            "sync.update-interval=0s",
            "sync.update-interval: must be longer than zero",
        ),
        ("sync.update-interval=30", "needs a unit"),
        ("sync.update-interval=-5m", "is not a duration"),
        (
            "sync.relays=http://relay.example",
            "is not a ws:// or wss:// address",
        ),
        (
            "sync.relays=ws://a,127.0.0.1:7447",
            "`127.0.0.1:7447` is not a ws://",
        ),
        ("sync.relays=", "at least one ws:// or wss:// address"),
        ("user.name=", "a name cannot be empty"),
        ("user.colour=blue", "expected a colour like #1e88e5"),
        ("notifications.mentions=sometimes", "expected true or false"),
        (
            "notifications.everything=true",
            "unknown setting `notifications.everything`",
        ),
        (
            "sync.interval=5m",
            "known: sync.enabled, sync.conflict-resolution",
        ),
        ("sync.enabled", "expected KEY=VALUE"),
    ] {
        fails_with(arxos_home(h).args(["config", "set", assignment]), msg);
    }
    fails_with(
        arxos_home(h).args(["config", "list", "-c", "sync.update-interval=0m"]),
        "must be longer than zero",
    );
    fails_with(
        arxos_home(h).args(["config", "set", "--project", "sync.enabled=true"]),
        "no arxfile.json here or in a parent folder",
    );
    fails_with(
        arxos_home(h).args(["info", "plan.arx", "-c", "sync.enabled=false"]),
        "-c/--setting is read by `arxos config`, `arxos sync [FILE]`, `arxos join` and `arxos host` only",
    );
    // Nothing refused was written.
    assert!(!h.join(".config/arxos/config.json").exists());
}

#[test]
fn a_damaged_file_is_named_with_its_line_and_left_alone() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let dir = h.join(".config/arxos");
    std::fs::create_dir_all(&dir).unwrap();
    let bad = b"{\n  \"sync\": {\n    \"enabled\": maybe\n  }\n}\n";
    std::fs::write(dir.join("config.json"), bad).unwrap();
    fails_with(
        arxos_home(h).args(["config", "set", "sync.enabled=true"]),
        "config.json line 3, column",
    );
    fails_with(arxos_home(h).args(["config", "list"]), "config.json line 3");
    assert_eq!(std::fs::read(dir.join("config.json")).unwrap(), bad);
    // A hand-edited bad value names its key.
    std::fs::write(
        dir.join("config.json"),
        br#"{"sync": {"relays": ["http://x"]}}"#,
    )
    .unwrap();
    fails_with(
        arxos_home(h).args(["config", "get", "sync"]),
        "sync.relays: `http://x` is not a ws:// or wss:// address",
    );
}

#[test]
fn user_name_is_the_author_of_edits() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let plan = import_sample(h, "plan.arx");
    arxos_home(h)
        .args(["config", "set", "user.name=Ana Ruiz"])
        .assert()
        .success();
    arxos_home(h)
        .args(["config", "set", "user.color=#1E88E5"])
        .assert()
        .success();
    // The global name lives in settings.json, where the editor and sessions read it.
    let settings: serde_json::Value =
        serde_json::from_slice(&std::fs::read(h.join(".config/arxos/settings.json")).unwrap())
            .unwrap();
    assert_eq!(
        settings,
        serde_json::json!({"name": "Ana Ruiz", "color": "#1e88e5"})
    );
    arxos_home(h)
        .arg("set")
        .arg(&plan)
        .arg("outlet:R45-23.voltage=240")
        .assert()
        .success();
    // A project's user.name wins over the global one; --as over both.
    let proj = h.join("proj");
    std::fs::create_dir_all(&proj).unwrap();
    write_arxfile(&proj);
    arxos_home(h)
        .current_dir(&proj)
        .args(["config", "set", "--project", "user.name=Site Laptop"])
        .assert()
        .success();
    arxos_home(h)
        .current_dir(&proj)
        .arg("set")
        .arg(&plan)
        .arg("outlet:R45-23.voltage=230")
        .assert()
        .success();
    arxos_home(h)
        .current_dir(&proj)
        .arg("set")
        .arg(&plan)
        .args(["outlet:R45-23.voltage=220", "--as", "bo"])
        .assert()
        .success();
    let history = json(arxos_home(h).arg("history").arg(&plan));
    let authors: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .take(3)
        .map(|e| e["author"].as_str().unwrap())
        .collect();
    assert_eq!(authors, ["bo", "Site Laptop", "Ana Ruiz"], "{history:#}");
}
