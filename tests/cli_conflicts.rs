//! End-to-end: two replicas of one plan edited apart, merged with `arxos merge`, conflicts
//! listed and resolved with `arxos conflicts`, strategies set with `arxos rules`.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use std::fs;
use std::path::{Path, PathBuf};

use predicates::prelude::*;

#[path = "support/cli.rs"]
mod support;

use support::{arxos, json};

/// Two replicas (`a.arx`, `b.arx`) of the sample plan.
fn replicas(dir: &Path) -> (PathBuf, PathBuf) {
    let a = support::import_sample(dir, "a.arx");
    let b = dir.join("b.arx");
    fs::copy(&a, &b).unwrap();
    (a, b)
}

fn set(file: &Path, assignment: &str, who: &str) {
    arxos()
        .arg("set")
        .arg(file)
        .arg(assignment)
        .args(["--as", who])
        .assert()
        .success();
}

#[test]
fn merge_lists_ours_as_local_and_resolution_sticks() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = replicas(dir.path());
    set(&a, "outlet:R45-23.voltage=240", "user-a");
    set(&b, "outlet:R45-23.voltage=120", "user-b");
    let m = dir.path().join("m.arx");
    let report = json(arxos().arg("merge").arg(&a).arg(&b).arg("-o").arg(&m));
    // Whether the visible value changed depends on which concurrent value Automerge picks.
    assert!(
        report["updated"] == 0 || report["updated"] == 1,
        "{report:#}"
    );
    let conflicts = report["conflicts"].as_array().unwrap();
    assert_eq!(conflicts.len(), 1, "{report:#}");
    let c = &conflicts[0];
    assert_eq!(c["type"], "property");
    assert_eq!(c["severity"], "high");
    assert_eq!(c["tag"], "outlet:R45-23");
    assert_eq!(c["property"], "props.voltage");
    assert_eq!(c["base"], 230.0);
    assert_eq!(c["local"], 240.0);
    assert_eq!(c["remote"], 120.0);
    assert_eq!(c["local_author"], "user-a");
    assert_eq!(c["remote_author"], "user-b");

    // The merged file remembers which side was ours.
    let listed = json(arxos().args(["conflicts", "list"]).arg(&m));
    assert_eq!(listed[0]["local"], 240.0);
    assert_eq!(listed[0]["id"], c["id"]);
    let id = c["id"].as_str().unwrap();
    arxos()
        .args(["conflicts", "show"])
        .arg(&m)
        .arg(id)
        .assert()
        .success()
        .stdout(predicate::str::contains("base      230"))
        .stdout(predicate::str::contains("by user-b"));

    arxos()
        .args(["conflicts", "resolve"])
        .arg(&m)
        .arg(id)
        .args(["--choose", "remote", "--as", "user-a"])
        .assert()
        .success();
    arxos()
        .arg("get")
        .arg(&m)
        .arg("outlet:R45-23.voltage")
        .assert()
        .stdout("120 V\n");
    assert_eq!(
        json(arxos().args(["conflicts", "list"]).arg(&m)),
        serde_json::json!([])
    );
    // The resolution is in history and the audit trail.
    let h = json(arxos().arg("history").arg(&m));
    let last = h.as_array().unwrap().last().unwrap();
    assert!(
        last["summary"]
            .as_str()
            .unwrap()
            .starts_with("resolve outlet:R45-23.props.voltage: remote")
    );

    // Merging the resolved file back into b settles b too: no conflict remains there.
    let b2 = dir.path().join("b2.arx");
    let r = json(arxos().arg("merge").arg(&b).arg(&m).arg("-o").arg(&b2));
    assert_eq!(r["conflicts"], serde_json::json!([]));
    arxos()
        .arg("get")
        .arg(&b2)
        .arg("outlet:R45-23.voltage")
        .assert()
        .stdout("120 V\n");
}

#[test]
fn custom_values_and_preview() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = replicas(dir.path());
    set(&a, "room:R01.name=Studio", "user-a");
    set(&b, "room:R01.name=Library", "user-b");
    let report = json(arxos().arg("merge").arg(&a).arg(&b).arg("--preview"));
    assert_eq!(report["preview"], true);
    assert_eq!(report["conflicts"][0]["local"], "Studio");
    let m = dir.path().join("m.arx");
    assert!(!m.exists());
    arxos()
        .arg("merge")
        .arg(&a)
        .arg(&b)
        .arg("-o")
        .arg(&m)
        .assert()
        .success();
    let id = json(arxos().args(["conflicts", "list"]).arg(&m))[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    arxos()
        .args(["conflicts", "resolve"])
        .arg(&m)
        .arg(&id[..8])
        .args(["--value", "Studio library"])
        .assert()
        .success();
    arxos()
        .arg("get")
        .arg(&m)
        .arg("room:R01.name")
        .assert()
        .stdout("Studio library\n");
}

#[test]
fn delete_vs_edit_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = replicas(dir.path());
    arxos()
        .arg("delete")
        .arg(&a)
        .args(["light:R12-1", "--as", "user-a"])
        .assert()
        .success();
    arxos()
        .arg("move")
        .arg(&b)
        .args(["light:R12-1", "--dx", "100", "--dy", "0", "--as", "user-b"])
        .assert()
        .success();
    let m = dir.path().join("m.arx");
    let r = json(arxos().arg("merge").arg(&a).arg(&b).arg("-o").arg(&m));
    let c = &r["conflicts"][0];
    assert_eq!(c["type"], "delete-vs-edit", "{r:#}");
    assert_eq!(c["local"], "deleted");
    assert_eq!(c["remote_author"], "user-b");
    arxos()
        .args(["conflicts", "resolve"])
        .arg(&m)
        .arg(c["id"].as_str().unwrap())
        .args(["--choose", "local"])
        .assert()
        .success();
    // Local was the delete: the light stays deleted, and nothing is listed any more.
    arxos()
        .arg("get")
        .arg(&m)
        .arg("light:R12-1")
        .assert()
        .success()
        .stdout(predicate::str::contains("(deleted)"));
    assert_eq!(
        json(arxos().args(["conflicts", "list"]).arg(&m)),
        serde_json::json!([])
    );
}

#[test]
fn rules_settle_conflicts_on_merge() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = replicas(dir.path());
    for f in [&a, &b] {
        arxos()
            .args(["rules", "add"])
            .arg(f)
            .args([
                "--id",
                "lww-outlets",
                "--strategy",
                "lww",
                "--kind",
                "outlet",
            ])
            .assert()
            .success();
    }
    set(&a, "outlet:R45-23.voltage=240", "user-a");
    std::thread::sleep(std::time::Duration::from_millis(20));
    set(&b, "outlet:R45-23.voltage=120", "user-b");
    let rules = json(arxos().args(["rules", "list"]).arg(&a));
    assert_eq!(rules[0]["id"], "lww-outlets");
    assert_eq!(rules[0]["strategy"], "lww");
    let m = dir.path().join("m.arx");
    let r = json(arxos().arg("merge").arg(&a).arg(&b).arg("-o").arg(&m));
    assert_eq!(r["conflicts"], serde_json::json!([]), "{r:#}");
    assert_eq!(r["auto_resolved"][0]["chosen"], 120.0);
    assert_eq!(r["auto_resolved"][0]["author"], "user-b");
    arxos()
        .arg("get")
        .arg(&m)
        .arg("outlet:R45-23.voltage")
        .assert()
        .stdout("120 V\n");
    // Constraint rules show up as conflicts and can be accepted.
    arxos()
        .args(["rules", "add"])
        .arg(&m)
        .args(["--allowed", "outlet.voltage=230,400"])
        .assert()
        .success();
    let list = json(arxos().args(["conflicts", "list"]).arg(&m));
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["type"], "constraint");
    arxos()
        .args(["conflicts", "resolve"])
        .arg(&m)
        .arg(list[0]["id"].as_str().unwrap())
        .args(["--choose", "accept"])
        .assert()
        .success();
    assert_eq!(
        json(arxos().args(["conflicts", "list"]).arg(&m)),
        serde_json::json!([])
    );
    arxos()
        .args(["rules", "remove"])
        .arg(&m)
        .arg("lww-outlets")
        .assert()
        .success();
}

#[test]
fn merge_errors_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let (a, _) = replicas(dir.path());
    let other = dir.path().join("other.arx");
    arxos()
        .args(["generate", "--elements", "10", "-o"])
        .arg(&other)
        .assert()
        .success();
    arxos()
        .arg("merge")
        .arg(&a)
        .arg(&other)
        .arg("--preview")
        .assert()
        .failure()
        .stderr(predicate::str::contains("are different plans"));
    arxos()
        .arg("merge")
        .arg(&a)
        .arg(&a)
        .assert()
        .failure()
        .stderr(predicate::str::contains("give -o FILE"));
    arxos()
        .args(["conflicts", "resolve"])
        .arg(&a)
        .args(["nope", "--choose", "local"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("no open conflict `nope`"));
    arxos()
        .args(["rules", "add"])
        .arg(&a)
        .args(["--strategy", "sometimes"])
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "cannot parse `sometimes` as a strategy",
        ));
    // A rule naming a layer the plan does not have would silently match nothing.
    arxos()
        .args(["rules", "add"])
        .arg(&a)
        .args(["--critical-layer", "no-such-layer"])
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "invalid rule `no-such-layer`: the plan has no layer `no-such-layer`",
        ));
    arxos()
        .args(["rules", "add"])
        .arg(&a)
        .args(["--min-area", "0"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("must be a positive number of m²"));
}
