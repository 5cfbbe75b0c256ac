//! End to end: project folders (`arxos project init|show|check`) and `arxos sync` in one,
//! with pre- and post-sync command chains, through a real relay process on 127.0.0.1. Every
//! wait is bounded.

#![allow(clippy::unwrap_used, clippy::too_many_lines)] // test helpers; end-to-end stories read best whole

use std::path::Path;
use std::time::{Duration, Instant};

#[path = "support/live.rs"]
mod live;
#[path = "support/cli.rs"]
mod support;

use live::{TOKEN, relay};
use support::{arxos_home, fails_with, import_sample, json};

fn arxfile(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("arxfile.json")).unwrap()).unwrap()
}

fn write_arxfile(dir: &Path, v: &serde_json::Value) {
    std::fs::write(
        dir.join("arxfile.json"),
        serde_json::to_vec_pretty(v).unwrap(),
    )
    .unwrap();
}

#[test]
fn init_show_and_check_a_project() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let proj = h.join("riverside");
    std::fs::create_dir_all(proj.join("drafts")).unwrap();
    std::fs::create_dir_all(proj.join("site")).unwrap();
    import_sample(&proj, "level-1.arx");
    import_sample(&proj.join("site"), "level-2.arx");
    import_sample(&proj.join("drafts"), "scratch.arx");
    std::fs::write(proj.join(".arxignore"), b"# not shared\ndrafts/\n").unwrap();

    let made = json(arxos_home(h).current_dir(&proj).args([
        "project",
        "init",
        "--description",
        "Offices",
    ]));
    assert_eq!(made["name"], "riverside");
    assert_eq!(
        made["plans"],
        serde_json::json!(["level-1.arx", "site/level-2.arx"])
    );
    fails_with(
        arxos_home(h).current_dir(&proj).args(["project", "init"]),
        "exists already",
    );
    let shown = json(
        arxos_home(h)
            .current_dir(proj.join("site"))
            .args(["project", "show"]),
    );
    assert_eq!(shown["id"], made["id"]);
    let checked = json(arxos_home(h).current_dir(&proj).args(["project", "check"]));
    assert_eq!(checked["ok"], true, "{checked:#}");
    assert_eq!(checked["findings"], serde_json::json!([]));

    // A plan the project does not list is a warning; one it lists but cannot read, an error.
    import_sample(&proj, "level-3.arx");
    let mut a = arxfile(&proj);
    a["plans"].as_array_mut().unwrap().push("gone.arx".into());
    a["permissions"] = serde_json::json!({"ana": "editor", "bo": "viewer"});
    write_arxfile(&proj, &a);
    let out = arxos_home(h)
        .current_dir(&proj)
        .args(["project", "check"])
        .assert()
        .failure();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(
        text.contains("warning  `level-3.arx` is in the folder but not in `plans`"),
        "{text}"
    );
    assert!(text.contains("error    plan `gone.arx`"), "{text}");
    let err = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");

    // Bad files are refused with the file and line, or the entry at fault.
    a["plans"] = serde_json::json!(["level-1.arx"]);
    a["permissions"] = serde_json::json!({"ana": "boss"});
    write_arxfile(&proj, &a);
    fails_with(
        arxos_home(h).current_dir(&proj).args(["project", "show"]),
        "arxfile.json line",
    );
    a["permissions"] = serde_json::json!({});
    a["pre_sync"] = serde_json::json!([{"name": "lint", "command": ["true"], "timeout": "0s"}]);
    write_arxfile(&proj, &a);
    fails_with(
        arxos_home(h).current_dir(&proj).args(["project", "check"]),
        "pre_sync: command `lint`: timeout: must be longer than zero",
    );
    a["pre_sync"] = serde_json::json!([{"name": "lint", "command": ["true"], "timeot": "5s"}]);
    write_arxfile(&proj, &a);
    fails_with(
        arxos_home(h).current_dir(&proj).args(["project", "check"]),
        "unknown field `timeot`",
    );
}

#[test]
fn a_failing_required_pre_sync_command_leaves_changes_pending() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let (_relay, url) = relay(h);
    let proj = h.join("proj");
    std::fs::create_dir_all(&proj).unwrap();
    let plan = import_sample(&proj, "a.arx");
    arxos_home(h)
        .env("ARXOS_ADMIN_TOKEN", TOKEN)
        .arg("share")
        .arg(&plan)
        .args(["--relay", &url])
        .assert()
        .success();
    arxos_home(h)
        .current_dir(&proj)
        .args(["project", "init"])
        .assert()
        .success();
    arxos_home(h)
        .arg("set")
        .arg(&plan)
        .args(["outlet:R45-23.voltage=240", "--as", "ana"])
        .assert()
        .success();

    let mut a = arxfile(&proj);
    a["pre_sync"] = serde_json::json!([
        {"name": "stamp", "command": ["sh", "-c", "echo checked > pre.txt"], "timeout": "5s"},
        {"name": "lint", "command": ["sh", "-c", "echo 'door D1 has no wall' >&2; exit 4"],
         "timeout": "5s", "required": true},
    ]);
    a["post_sync"] = serde_json::json!([
        {"name": "notify", "command": ["sh", "-c", "echo $ARXOS_SYNC_STATUS > post.txt"], "timeout": "5s"},
    ]);
    write_arxfile(&proj, &a);
    let shown = arxos_home(h)
        .current_dir(&proj)
        .args(["project", "show"])
        .assert()
        .success();
    let shown = String::from_utf8(shown.get_output().stdout.clone()).unwrap();
    assert!(shown.contains("pre-sync     lint (sh -c "), "{shown}");
    assert!(shown.contains("post-sync    notify ("), "{shown}");
    // The one-file options keep their meaning in a project folder.
    fails_with(
        arxos_home(h)
            .current_dir(&proj)
            .args(["sync", "--discard-refused"]),
        "give the plan file",
    );
    let err = fails_with(
        arxos_home(h).current_dir(&proj).arg("sync"),
        "pre-sync command `lint` failed (exited with code 4): nothing was sent, local changes stay pending",
    );
    assert!(err.starts_with("error: "), "{err}");
    assert!(
        proj.join("pre.txt").exists(),
        "the chain ran up to the failure"
    );
    assert!(
        !proj.join("post.txt").exists(),
        "nothing after a stopped pre-sync"
    );
    let status = json(arxos_home(h).args(["sync", "status"]).arg(&plan));
    assert_eq!(status["pending"], 1, "{status:#}");

    // --json: the report, with the command's exit code and captured output.
    let out = arxos_home(h)
        .current_dir(&proj)
        .args(["sync", "--json"])
        .assert()
        .failure();
    let r: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(r["plans_synced"], 0, "{r:#}");
    let lint = &r["commands"][1];
    assert_eq!(
        (lint["name"].as_str(), lint["exit_code"].as_i64()),
        (Some("lint"), Some(4))
    );
    assert_eq!(lint["stderr"], "door D1 has no wall\n");
    assert!(r["start_ms"].as_i64().unwrap() <= r["end_ms"].as_i64().unwrap());

    // Fixed: the sync goes through and the post-sync chain runs after it.
    a["pre_sync"][1]["command"] = serde_json::json!(["true"]);
    write_arxfile(&proj, &a);
    let r = json(arxos_home(h).current_dir(&proj).arg("sync"));
    assert_eq!(r["plans_synced"], 1, "{r:#}");
    assert_eq!(r["plans"][0]["sent"], 1);
    assert_eq!(r["errors"], serde_json::json!([]));
    let stages: Vec<&str> = r["commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["stage"].as_str().unwrap())
        .collect();
    assert_eq!(stages, ["pre_sync", "pre_sync", "post_sync"]);
    assert_eq!(
        std::fs::read_to_string(proj.join("post.txt")).unwrap(),
        "ok\n"
    );
    let status = json(arxos_home(h).args(["sync", "status"]).arg(&plan));
    assert_eq!(status["pending"], 0, "{status:#}");

    // sync.enabled = false in the project: nothing is sent.
    arxos_home(h)
        .current_dir(&proj)
        .args(["config", "set", "--project", "sync.enabled=false"])
        .assert()
        .success();
    fails_with(
        arxos_home(h).current_dir(&proj).arg("sync"),
        "sync.enabled is false: nothing was sent",
    );
}

fn alive(pid: &str) -> bool {
    // A zombie waiting for its reaper is dead for this purpose.
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z'))
    })
}

#[test]
fn a_timed_out_chain_has_its_whole_process_group_killed() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let proj = h.join("proj");
    std::fs::create_dir_all(&proj).unwrap();
    arxos_home(h)
        .current_dir(&proj)
        .args(["project", "init"])
        .assert()
        .success();
    let mut a = arxfile(&proj);
    a["pre_sync"] = serde_json::json!([{
        "name": "slow",
        "command": ["sleep 30 & echo $! > grandchild.pid; sleep 30"],
        "shell": true,
        "timeout": "1s",
    }]);
    write_arxfile(&proj, &a);
    let started = Instant::now();
    fails_with(
        arxos_home(h).current_dir(&proj).arg("sync"),
        "pre-sync command `slow` failed (timed out after 1s (its processes were killed))",
    );
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    let pid = std::fs::read_to_string(proj.join("grandchild.pid")).unwrap();
    let pid = pid.trim();
    assert!(!pid.is_empty());
    live::eventually(
        Duration::from_secs(5),
        "the background sleep is gone",
        || !alive(pid),
    );
}

#[test]
fn latency_test_measures_round_trips_to_a_real_relay() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let (relay_proc, url) = relay(h);
    let plan = import_sample(h, "a.arx");
    let shared = json(
        arxos_home(h)
            .env("ARXOS_ADMIN_TOKEN", TOKEN)
            .arg("share")
            .arg(&plan)
            .args(["--relay", &url]),
    );
    let code = shared["invite"].as_str().unwrap();
    let l = json(arxos_home(h).args(["network", "latency-test", code, "--count", "7"]));
    assert_eq!(l["samples"], 7, "{l:#}");
    assert_eq!(l["rtts_ms"].as_array().unwrap().len(), 7);
    let (min, median, p99) = (
        l["min_ms"].as_f64().unwrap(),
        l["median_ms"].as_f64().unwrap(),
        l["p99_ms"].as_f64().unwrap(),
    );
    assert!(min > 0.0 && min <= median && median <= p99, "{l:#}");
    fails_with(
        arxos_home(h).args(["network", "latency-test", code, "--count", "0"]),
        "--count must be at least 1",
    );
    // A relay that is gone: one line, bounded.
    drop(relay_proc);
    fails_with(
        arxos_home(h).args(["network", "latency-test", code, "--timeout-secs", "5"]),
        "cannot reach",
    );
}
