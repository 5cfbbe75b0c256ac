//! End-to-end tests of the history commands on real files: `version`, `branch`, `proposal`
//! and `audit`, their JSON output, and that refused commands are one-line errors with a
//! non-zero exit that leave every file byte-for-byte as it was.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use std::fs;
use std::path::{Path, PathBuf};

use predicates::prelude::*;
use serde_json::{Value, json};

#[path = "support/cli.rs"]
mod support;

use support::{arxos, json as json_of};

/// A scratch dir holding the sample plan imported as `plan.arx`.
fn sample(dir: &Path) -> PathBuf {
    support::import_sample(dir, "plan.arx")
}

/// Runs `arxos ARGS... FILE REST...` and expects success.
fn ok(args: &[&str], file: &Path, rest: &[&str]) {
    arxos().args(args).arg(file).args(rest).assert().success();
}

fn ok_json(args: &[&str], file: &Path, rest: &[&str]) -> Value {
    json_of(arxos().args(args).arg(file).args(rest))
}

/// Expects a one-line error containing `msg`, and every file in `untouched` unchanged.
fn refused(args: &[&str], file: &Path, rest: &[&str], msg: &str, untouched: &[&Path]) {
    let before: Vec<Vec<u8>> = untouched.iter().map(|p| fs::read(p).unwrap()).collect();
    let out = arxos()
        .args(args)
        .arg(file)
        .args(rest)
        .assert()
        .failure()
        .stderr(predicate::str::contains(msg))
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8(out).unwrap();
    assert_eq!(err.lines().count(), 1, "one-line error, got: {err}");
    assert!(err.starts_with("error: "), "{err}");
    for (p, b) in untouched.iter().zip(before) {
        assert_eq!(fs::read(p).unwrap(), b, "{} changed", p.display());
    }
}

fn voltage(file: &Path, tag: &str) -> Value {
    ok_json(&["get"], file, &[&format!("{tag}.voltage")])["value"].clone()
}

fn elements(file: &Path) -> u64 {
    ok_json(&["info"], file, &[])["elements"].as_u64().unwrap()
}

#[test]
fn versions_are_created_listed_and_shown() {
    let dir = tempfile::tempdir().unwrap();
    let plan = sample(dir.path());
    let v = ok_json(
        &["version", "create"],
        &plan,
        &["v1", "-m", "issued, for \"review\"", "--as", "ana"],
    );
    assert_eq!(v["name"], "v1");
    assert_eq!(v["author"], "ana");
    assert_eq!(v["description"], "issued, for \"review\"");
    assert_eq!(v["heads"].as_array().unwrap().len(), 1);

    ok(&["delete"], &plan, &["outlet:R01-10"]);
    ok(&["version", "create"], &plan, &["v2"]);
    let list = ok_json(&["version", "list"], &plan, &[]);
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["v1", "v2"]);
    assert_eq!(list[1]["author"], "tester");

    let show = ok_json(&["version", "show"], &plan, &["v1"]);
    assert_eq!(show["name"], "v1");
    assert_eq!(show["elements"], 1128);
    assert_eq!(show["by_kind"]["outlet"], 360);
    let show = ok_json(&["version", "show"], &plan, &["v2"]);
    assert_eq!(show["elements"], 1127);
    assert_eq!(show["deleted"], 1);
    arxos()
        .args(["version", "show"])
        .arg(&plan)
        .arg("v1")
        .assert()
        .success()
        .stdout(predicate::str::contains("1128 element(s)"));

    refused(
        &["version", "create"],
        &plan,
        &["v1"],
        "a version named `v1` already exists",
        &[&plan],
    );
    refused(
        &["version", "create"],
        &plan,
        &["current"],
        "invalid version name `current`",
        &[&plan],
    );
    refused(
        &["version", "show"],
        &plan,
        &["v9"],
        "no version named `v9`",
        &[&plan],
    );
    let gone = ok_json(&["version", "delete"], &plan, &["v2"]);
    assert_eq!(gone["name"], "v2");
    assert_eq!(
        ok_json(&["version", "list"], &plan, &[])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    refused(
        &["version", "delete"],
        &plan,
        &["v2"],
        "no version named `v2`",
        &[&plan],
    );
}

#[test]
fn diff_lists_added_removed_and_changed_with_old_and_new_values() {
    let dir = tempfile::tempdir().unwrap();
    let plan = sample(dir.path());
    ok(&["version", "create"], &plan, &["v1"]);
    ok(&["set"], &plan, &["outlet:R01-1.voltage=120"]);
    ok(&["delete"], &plan, &["outlet:R01-10"]);

    let d = ok_json(&["version", "diff"], &plan, &["v1"]);
    assert_eq!(d["from"], "v1");
    assert_eq!(d["to"], "current");
    assert_eq!(d["added"], json!([]));
    assert_eq!(d["removed"].as_array().unwrap().len(), 1);
    assert_eq!(d["removed"][0]["tag"], "outlet:R01-10");
    assert_eq!(d["changed"].as_array().unwrap().len(), 1);
    assert_eq!(d["changed"][0]["tag"], "outlet:R01-1");
    assert_eq!(d["changed"][0]["kind"], "outlet");
    assert_eq!(
        d["changed"][0]["fields"],
        json!([{"key": "props.voltage", "old": 230.0, "new": 120.0}])
    );
    // The other way round, with explicit names.
    let back = ok_json(&["version", "diff"], &plan, &["current", "v1"]);
    assert_eq!(back["added"][0]["tag"], "outlet:R01-10");
    assert_eq!(
        back["changed"][0]["fields"],
        json!([{"key": "props.voltage", "old": 120.0, "new": 230.0}])
    );
    arxos()
        .args(["version", "diff"])
        .arg(&plan)
        .arg("v1")
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "v1 -> current: 0 added, 1 removed, 1 changed",
        ))
        .stdout(predicate::str::contains("- outlet:R01-10 (outlet)"))
        .stdout(predicate::str::contains("props.voltage: 230 -> 120"));
    refused(
        &["version", "diff"],
        &plan,
        &["v1", "nope"],
        "no version named `nope`",
        &[&plan],
    );
}

#[test]
fn revert_restores_the_version_as_a_new_change() {
    let dir = tempfile::tempdir().unwrap();
    let plan = sample(dir.path());
    ok(&["version", "create"], &plan, &["v1"]);
    ok(&["set"], &plan, &["outlet:R01-1.voltage=120"]);
    ok(&["delete"], &plan, &["outlet:R01-10"]);
    let history_before = ok_json(&["history"], &plan, &[]).as_array().unwrap().len();

    let r = ok_json(&["version", "revert"], &plan, &["v1", "--as", "rita"]);
    assert_eq!(r["version"], "v1");
    assert_eq!(r["author"], "rita");
    assert_eq!(r["changes"]["updated"].as_array().unwrap().len(), 1);
    assert_eq!(r["changes"]["added"].as_array().unwrap().len(), 1);
    assert_eq!(voltage(&plan, "outlet:R01-1"), 230.0);
    assert_eq!(elements(&plan), 1128);
    let d = ok_json(&["version", "diff"], &plan, &["v1"]);
    assert_eq!(d["changed"], json!([]));
    assert_eq!(d["removed"], json!([]));

    let h = ok_json(&["history"], &plan, &[]);
    let h = h.as_array().unwrap();
    assert_eq!(
        h.len(),
        history_before + 1,
        "history is kept, one change added"
    );
    assert_eq!(h.last().unwrap()["summary"], "revert to version v1");
    assert_eq!(h.last().unwrap()["author"], "rita");

    arxos()
        .args(["version", "revert"])
        .arg(&plan)
        .arg("v1")
        .assert()
        .success()
        .stdout(predicate::str::contains("already matches version v1"));
    refused(
        &["version", "revert"],
        &plan,
        &["v0"],
        "no version named `v0`",
        &[&plan],
    );
}

#[test]
fn a_branch_is_created_edited_and_merged_back() {
    let dir = tempfile::tempdir().unwrap();
    let plan = sample(dir.path());
    let b = ok_json(&["branch", "create"], &plan, &["rewire", "--as", "cy"]);
    let bfile = dir.path().join("plan.rewire.arx");
    assert_eq!(b["name"], "rewire");
    assert_eq!(b["state"], "open");
    assert_eq!(b["created_by"], "cy");
    assert_eq!(b["file"], bfile.display().to_string());
    assert!(bfile.exists());
    assert_eq!(elements(&bfile), 1128);

    ok(
        &["set"],
        &bfile,
        &["outlet:R01-11.voltage=277", "--as", "cy"],
    );
    ok(&["delete"], &bfile, &["outlet:R01-12"]);
    ok(&["set"], &plan, &["outlet:R01-1.voltage=120"]);
    assert_eq!(
        voltage(&plan, "outlet:R01-11"),
        230.0,
        "branch edits stay there"
    );

    let m = ok_json(&["branch", "merge"], &plan, &["rewire", "--as", "bo"]);
    assert_eq!(m["branch"]["state"], "merged");
    assert_eq!(m["branch"]["merged_by"], "bo");
    assert_eq!(m["changes"]["updated"].as_array().unwrap().len(), 1);
    assert_eq!(m["changes"]["removed"].as_array().unwrap().len(), 1);
    assert_eq!(m["conflicts"], json!([]));
    assert_eq!(voltage(&plan, "outlet:R01-11"), 277.0);
    assert_eq!(voltage(&plan, "outlet:R01-1"), 120.0);
    assert_eq!(elements(&plan), 1127);

    let list = ok_json(&["branch", "list"], &plan, &[]);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["state"], "merged");
    refused(
        &["branch", "merge"],
        &plan,
        &["rewire"],
        "branch `rewire` is merged; cannot merge it",
        &[&plan, &bfile],
    );
    refused(
        &["branch", "create"],
        &plan,
        &["rewire", "-o", "elsewhere.arx"],
        "a branch named `rewire` already exists",
        &[&plan],
    );
}

#[test]
fn concurrent_edits_merged_from_a_branch_are_listed_as_conflicts() {
    let dir = tempfile::tempdir().unwrap();
    let plan = sample(dir.path());
    let bfile = dir.path().join("b.arx");
    ok(
        &["branch", "create"],
        &plan,
        &["b", "-o", bfile.to_str().unwrap()],
    );
    ok(
        &["set"],
        &bfile,
        &["outlet:R01-11.voltage=277", "--as", "cy"],
    );
    ok(
        &["set"],
        &plan,
        &["outlet:R01-11.voltage=208", "--as", "bo"],
    );
    let m = ok_json(&["branch", "merge"], &plan, &["b"]);
    let conflicts = m["conflicts"].as_array().unwrap();
    assert_eq!(conflicts.len(), 1, "{m:#}");
    assert_eq!(conflicts[0]["type"], "property");
    assert_eq!(conflicts[0]["tag"], "outlet:R01-11");
    assert_eq!(conflicts[0]["property"], "props.voltage");
    assert_eq!(conflicts[0]["local"]["value"], 208.0);
    assert_eq!(conflicts[0]["remote"]["value"], 277.0);
    // Later conflict listings keep the parent as the local side.
    let listed = ok_json(&["conflicts", "list"], &plan, &[]);
    assert_eq!(listed[0]["id"], conflicts[0]["id"]);
    assert_eq!(listed[0]["local"], 208.0);
    assert_eq!(listed[0]["remote"], 277.0);
}

#[test]
fn a_branch_from_a_version_starts_there() {
    let dir = tempfile::tempdir().unwrap();
    let plan = sample(dir.path());
    ok(&["version", "create"], &plan, &["v1"]);
    ok(&["delete"], &plan, &["outlet:R01-10"]);
    let old = dir.path().join("old.arx");
    let b = ok_json(
        &["branch", "create"],
        &plan,
        &["old", "--from", "v1", "-o", old.to_str().unwrap()],
    );
    assert_eq!(b["from_version"], "v1");
    assert_eq!(elements(&old), 1128);
    assert_eq!(elements(&plan), 1127);
    refused(
        &["branch", "create"],
        &plan,
        &["other", "-o", old.to_str().unwrap()],
        "already exists; choose another file with -o",
        &[&plan, &old],
    );
    refused(
        &["branch", "create"],
        &plan,
        &["x", "--from", "v7"],
        "no version named `v7`",
        &[&plan],
    );
    assert!(!dir.path().join("plan.x.arx").exists());
    // A moved branch file is found with --branch-file.
    let moved = dir.path().join("moved.arx");
    fs::rename(&old, &moved).unwrap();
    refused(
        &["branch", "merge"],
        &plan,
        &["old"],
        "not found; give its path with --branch-file",
        &[&plan],
    );
    ok(
        &["branch", "merge"],
        &plan,
        &["old", "--branch-file", moved.to_str().unwrap()],
    );
    // The branch never deleted it, and the deletion in the parent wins: still 1127.
    assert_eq!(elements(&plan), 1127);
}

#[test]
fn proposals_are_reviewed_before_merging() {
    let dir = tempfile::tempdir().unwrap();
    let plan = sample(dir.path());
    let p = ok_json(
        &["proposal", "create"],
        &plan,
        &["rewire", "-m", "R01-11 to 277 V", "--as", "cy"],
    );
    assert_eq!(p["proposal"], true);
    assert_eq!(p["review"], "open");
    let pfile = dir.path().join("plan.rewire.arx");
    ok(&["set"], &pfile, &["outlet:R01-11.voltage=277"]);

    ok(
        &["proposal", "request-changes"],
        &plan,
        &["rewire", "-m", "use 208 V, not 277", "--as", "bo"],
    );
    let list = ok_json(&["proposal", "list"], &plan, &[]);
    assert_eq!(list[0]["name"], "rewire");
    assert_eq!(list[0]["review"], "changes_requested");
    assert_eq!(list[0]["description"], "R01-11 to 277 V");
    assert_eq!(list[0]["comments"][0]["author"], "bo");
    assert_eq!(list[0]["comments"][0]["action"], "request-changes");
    assert_eq!(list[0]["comments"][0]["text"], "use 208 V, not 277");
    refused(
        &["branch", "merge"],
        &plan,
        &["rewire"],
        "proposal `rewire` has changes requested; address the review first or force the merge (--force)",
        &[&plan, &pfile],
    );

    ok(&["set"], &pfile, &["outlet:R01-11.voltage=208"]);
    ok(
        &["proposal", "comment"],
        &plan,
        &["rewire", "-m", "done", "--as", "cy"],
    );
    ok(&["proposal", "approve"], &plan, &["rewire", "--as", "bo"]);
    let show = ok_json(&["proposal", "show"], &plan, &["rewire"]);
    assert_eq!(show["review"], "approved");
    let actions: Vec<&str> = show["comments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, vec!["request-changes", "comment"]);

    let m = ok_json(&["proposal", "merge"], &plan, &["rewire"]);
    assert_eq!(m["branch"]["state"], "merged");
    assert_eq!(voltage(&plan, "outlet:R01-11"), 208.0);
    refused(
        &["proposal", "approve"],
        &plan,
        &["rewire"],
        "proposal `rewire` is merged; cannot review it",
        &[&plan],
    );
    refused(
        &["proposal", "approve"],
        &plan,
        &["nope"],
        "no proposal named `nope`",
        &[&plan],
    );
}

#[test]
fn a_forced_merge_overrides_a_change_request() {
    let dir = tempfile::tempdir().unwrap();
    let plan = sample(dir.path());
    ok(&["proposal", "create"], &plan, &["p"]);
    ok(&["proposal", "request-changes"], &plan, &["p", "-m", "no"]);
    let m = ok_json(&["branch", "merge"], &plan, &["p", "--force"]);
    assert_eq!(m["branch"]["state"], "merged");
}

#[test]
fn audit_lists_every_change_and_exports_quoted_csv() {
    let dir = tempfile::tempdir().unwrap();
    let plan = sample(dir.path());
    ok(&["version", "create"], &plan, &["v1", "--as", "Doe, Jane"]);
    ok(&["set"], &plan, &["outlet:R01-1.voltage=120"]);
    ok(&["branch", "create"], &plan, &["b"]);
    ok(&["branch", "merge"], &plan, &["b"]);
    ok(&["version", "revert"], &plan, &["v1", "--as", "rita"]);

    let trail = ok_json(&["audit"], &plan, &[]);
    let kinds: Vec<&str> = trail
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        vec![
            "import", "import", "version", "edit", "branch", "merge", "revert"
        ]
    );
    let last = trail.as_array().unwrap().last().unwrap();
    assert_eq!(last["author"], "rita");
    assert_eq!(last["summary"], "revert to version v1");
    assert_eq!(last["change"].as_str().unwrap().len(), 64);

    let out = arxos()
        .arg("audit")
        .arg(&plan)
        .arg("--csv")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let csv = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 8);
    assert_eq!(lines[0], "time,time_ms,author,kind,summary,change");
    assert!(
        lines[3].contains(",\"Doe, Jane\",version,create version v1,"),
        "{}",
        lines[3]
    );
    assert!(
        lines[6].contains(",merge,\"merge branch b (0 added, 0 updated, 0 removed)\","),
        "{}",
        lines[6]
    );
    refused(
        &["audit"],
        &dir.path().join("missing.arx"),
        &[],
        "missing.arx",
        &[],
    );
}
