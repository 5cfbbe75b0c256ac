//! End to end: `arxos backup create|list|restore`, `arxos health` and `arxos undo --as` on
//! real files.

#![allow(clippy::unwrap_used, clippy::too_many_lines)] // test helpers; end-to-end stories read best whole

use std::path::Path;

#[path = "support/cli.rs"]
mod support;

use support::{arxos, fails_with, import_sample, json};

fn voltage(plan: &Path) -> String {
    let out = arxos()
        .arg("get")
        .arg(plan)
        .arg("outlet:R45-23.voltage")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    String::from_utf8(out).unwrap().trim().to_owned()
}

fn set(plan: &Path, assignment: &str, who: &str) {
    arxos()
        .arg("set")
        .arg(plan)
        .args([assignment, "--as", who])
        .assert()
        .success();
}

#[test]
fn backup_restore_round_trip_keeps_the_current_state_as_a_backup() {
    let dir = tempfile::tempdir().unwrap();
    let plan = import_sample(dir.path(), "plan.arx");
    let replica = dir.path().join("plan.arx.replica.json");
    std::fs::write(&replica, b"{\"local_heads\": []}\n").unwrap();

    let made = json(
        arxos()
            .args(["backup", "create"])
            .arg(&plan)
            .arg("issued-v1"),
    );
    assert_eq!(
        made["files"],
        serde_json::json!(["plan.arx", "plan.arx.replica.json"])
    );
    fails_with(
        arxos()
            .args(["backup", "create"])
            .arg(&plan)
            .arg("issued-v1"),
        "already exists",
    );
    for bad in ["../escape", ".hidden", "a b", ""] {
        fails_with(
            arxos().args(["backup", "create"]).arg(&plan).arg(bad),
            "bad backup name",
        );
    }

    set(&plan, "outlet:R45-23.voltage=240", "ana");
    std::fs::remove_file(&replica).unwrap();
    assert_eq!(voltage(&plan), "240 V");

    // Without --confirm nothing happens.
    fails_with(
        arxos()
            .args(["backup", "restore"])
            .arg(&plan)
            .arg("issued-v1"),
        "add --confirm",
    );
    assert_eq!(voltage(&plan), "240 V");
    fails_with(
        arxos()
            .args(["backup", "restore"])
            .arg(&plan)
            .args(["nope", "--confirm"]),
        "no backup named `nope`",
    );

    let r = json(
        arxos()
            .args(["backup", "restore"])
            .arg(&plan)
            .args(["issued-v1", "--confirm"]),
    );
    assert_eq!(voltage(&plan), "230 V");
    assert!(replica.exists(), "the sidecar came back");
    let kept = r["kept_as"]["name"].as_str().unwrap().to_owned();
    assert!(kept.starts_with("before-restore-"), "{r:#}");

    // The state before the restore is a backup too: restoring it brings the edit back.
    let list = json(arxos().args(["backup", "list"]).arg(&plan));
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{list:#}");
    assert!(names.contains(&"issued-v1") && names.contains(&kept.as_str()));
    arxos()
        .args(["backup", "restore"])
        .arg(&plan)
        .args([kept.as_str(), "--confirm"])
        .assert()
        .success();
    assert_eq!(voltage(&plan), "240 V");
    assert!(!replica.exists(), "that state had no replica sidecar");
}

#[test]
fn health_reports_each_check_and_fails_on_a_broken_sidecar() {
    let dir = tempfile::tempdir().unwrap();
    let plan = import_sample(dir.path(), "plan.arx");
    let report = json(arxos().arg("health").arg(&plan));
    assert_eq!(report["ok"], true, "{report:#}");
    let names: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names[..3], ["plan", "tail", "sync-sidecar"], "{report:#}");

    // A torn tail (an interrupted append) is reported but is not a failure.
    let mut bytes = std::fs::read(&plan).unwrap();
    set(&plan, "outlet:R45-23.voltage=240", "ana");
    let grown = std::fs::read(&plan).unwrap();
    assert!(grown.len() > bytes.len());
    bytes.extend_from_slice(&grown[bytes.len()..grown.len() - 3]);
    std::fs::write(&plan, &bytes).unwrap();
    let out = arxos().arg("health").arg(&plan).assert().success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(text.lines().any(|l| l.starts_with("warn  tail")), "{text}");

    std::fs::write(dir.path().join("plan.arx.sync.json"), b"{\"invite\": 7").unwrap();
    let out = arxos().arg("health").arg(&plan).assert().failure();
    let o = out.get_output();
    let text = String::from_utf8(o.stdout.clone()).unwrap();
    assert!(
        text.lines().any(|l| l.starts_with("FAIL  sync-sidecar")),
        "{text}"
    );
    let err = String::from_utf8(o.stderr.clone()).unwrap();
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("1 check(s) failed: sync-sidecar"), "{err}");

    // --json still prints one report (and fails).
    let out = arxos()
        .arg("health")
        .arg(&plan)
        .arg("--json")
        .assert()
        .failure();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["ok"], false);
    fails_with(
        arxos().arg("health").arg(dir.path().join("missing.arx")),
        "check(s) failed: plan",
    );
}

#[test]
fn undo_as_takes_back_only_that_authors_last_change() {
    let dir = tempfile::tempdir().unwrap();
    let plan = import_sample(dir.path(), "plan.arx");
    set(&plan, "outlet:R45-23.voltage=240", "ana");
    arxos()
        .arg("move")
        .arg(&plan)
        .args(["outlet:R45-23", "--dx", "100", "--as", "ana"])
        .assert()
        .success();
    // A later change by someone else, to the same element.
    set(&plan, "outlet:R45-23.circuit_label=B-7", "bo");
    let before: serde_json::Value = json(arxos().arg("get").arg(&plan).arg("outlet:R45-23"));

    let u = json(arxos().arg("undo").arg(&plan).args(["--as", "ana"]));
    assert!(u["summary"].as_str().unwrap().contains("move"), "{u:#}");
    let after = json(arxos().arg("get").arg(&plan).arg("outlet:R45-23"));
    assert_ne!(
        after["transform"]["x"], before["transform"]["x"],
        "ana's move is undone"
    );
    assert_eq!(
        after["props"]["circuit_label"], before["props"]["circuit_label"],
        "bo's edit stays"
    );
    assert_eq!(voltage(&plan), "240 V");

    // Next: her voltage change; then nothing is left.
    arxos()
        .arg("undo")
        .arg(&plan)
        .args(["--as", "ana"])
        .assert()
        .success();
    assert_eq!(voltage(&plan), "230 V");
    fails_with(
        arxos().arg("undo").arg(&plan).args(["--as", "ana"]),
        "nothing to undo for `ana`",
    );
    let history = json(arxos().arg("history").arg(&plan));
    let last = history.as_array().unwrap().last().unwrap();
    assert_eq!(last["author"], "ana");
    assert!(
        last["summary"].as_str().unwrap().starts_with("undo ["),
        "{last:#}"
    );
    // Bo's change is still his last, and still there.
    let bo = json(arxos().arg("get").arg(&plan).arg("outlet:R45-23"));
    assert_eq!(
        bo["props"]["circuit_label"],
        before["props"]["circuit_label"]
    );
}
