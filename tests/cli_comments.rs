//! End-to-end tests of `arxos comment add|list|reply|resolve|reopen` on real files: ids
//! printed for scripts, threads in text and JSON, and refusals that are one-line errors with a
//! non-zero exit that leave the plan byte-for-byte as it was.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

#[path = "support/cli.rs"]
mod support;

use support::{arxos, json, one_line_error};

/// The sample office's outlet `outlet:R01-10` and its id.
const OUTLET: &str = "outlet:R01-10";
const OUTLET_ID: &str = "e08d89e09bb515846c77d78133ca83c0e";

fn sample(dir: &Path) -> PathBuf {
    support::import_sample(dir, "plan.arx")
}

/// Runs `arxos comment ARGS` (with `PLAN` replaced) and returns its standard output.
fn comment(plan: &Path, args: &[&str]) -> String {
    let out = arxos()
        .arg("comment")
        .args(args.iter().map(|a| {
            if *a == "PLAN" {
                plan.as_os_str().to_owned()
            } else {
                (*a).into()
            }
        }))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    String::from_utf8(out).unwrap()
}

/// `comment list PLAN REST --json`.
fn listed(plan: &Path, rest: &[&str]) -> Vec<Value> {
    let v = json(arxos().args(["comment", "list"]).arg(plan).args(rest));
    v.as_array().unwrap().clone()
}

#[test]
fn comments_are_added_replied_to_and_listed() {
    let dir = tempfile::tempdir().unwrap();
    let plan = sample(dir.path());

    // On an element, by tag; the id alone is printed.
    let on = comment(
        &plan,
        &[
            "add",
            "PLAN",
            "--on",
            OUTLET,
            "is this 240 V? @bob",
            "--as",
            "ana",
        ],
    );
    let on = on.trim().to_owned();
    assert!(
        on.starts_with('c') && !on.contains(char::is_whitespace),
        "{on}"
    );
    // At a point on a floor named by its name; negative coordinates parse.
    let at = comment(
        &plan,
        &[
            "add",
            "PLAN",
            "--at",
            "-1500,2500.5",
            "--floor",
            "Level 1",
            "column here?",
            "--as",
            "bob",
        ],
    );
    let at = at.trim().to_owned();
    // A reply (to a unique start of the id), and a reply to that reply.
    let r1 = comment(
        &plan,
        &[
            "reply",
            "PLAN",
            &on[..10],
            "yes\nsee panel A",
            "--as",
            "bob",
        ],
    );
    let r1 = r1.trim().to_owned();
    let r2 = json(arxos().args(["comment", "reply"]).arg(&plan).args([
        r1.as_str(),
        "thanks",
        "--as",
        "ana",
    ]));
    assert_eq!(r2["author"], "ana");
    let r2 = r2["id"].as_str().unwrap().to_owned();

    let threads = listed(&plan, &[]);
    assert_eq!(threads.len(), 2);
    let t = &threads[0];
    assert_eq!(t["id"], on.as_str());
    assert_eq!(t["author"], "ana");
    assert_eq!(t["anchor"]["element"], OUTLET_ID);
    assert_eq!(t["element_tag"], OUTLET);
    assert_eq!(t["mentions"], serde_json::json!(["bob"]));
    assert_eq!(t["resolved"], false);
    let replies: Vec<&str> = t["replies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(replies, vec![r1.as_str(), r2.as_str()]);
    assert_eq!(t["replies"][0]["text"], "yes\nsee panel A");
    assert_eq!(t["replies"][1]["parent"], on.as_str());
    let p = &threads[1];
    assert_eq!(p["id"], at.as_str());
    assert_eq!(p["anchor"]["point"]["floor"], "level-1");
    assert_eq!(p["anchor"]["point"]["x"], -1500.0);
    assert_eq!(p["anchor"]["point"]["y"], 2500.5);

    // Text: one line per comment, replies indented, line breaks escaped.
    let text = comment(&plan, &["list", "PLAN"]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(
        lines[0].starts_with(&format!("{on}  [open]  ana  ")),
        "{text}"
    );
    assert!(
        lines[0].ends_with(&format!("on {OUTLET}: is this 240 V? @bob")),
        "{text}"
    );
    assert!(lines[1].starts_with(&format!("  ↳ {r1}  bob  ")), "{text}");
    assert!(lines[1].ends_with(": yes\\nsee panel A"), "{text}");
    assert!(lines[2].starts_with("  ↳ "), "{text}");
    assert!(
        lines[3].contains("at (-1500, 2500.5), Level 1: column here?"),
        "{text}"
    );
    // --on keeps the threads on that element (by id or tag).
    assert_eq!(listed(&plan, &["--on", OUTLET_ID]).len(), 1);
}

#[test]
fn threads_are_resolved_and_reopened() {
    let dir = tempfile::tempdir().unwrap();
    let plan = sample(dir.path());
    let on = comment(
        &plan,
        &["add", "PLAN", "--on", OUTLET, "240 V?", "--as", "ana"],
    );
    let on = on.trim().to_owned();
    let at = comment(&plan, &["add", "PLAN", "--at", "1,2", "column here?"]);
    let at = at.trim().to_owned();
    let r2 = comment(&plan, &["reply", "PLAN", &on, "yes", "--as", "bob"]);
    let r2 = r2.trim().to_owned();

    // Resolving a reply resolves its thread; it leaves the default list.
    let out = comment(&plan, &["resolve", "PLAN", &r2, "--as", "carl"]);
    assert!(out.starts_with("resolve comment"), "{out}");
    let open = listed(&plan, &[]);
    assert_eq!(open.len(), 1);
    assert_eq!(open[0]["id"], at.as_str());
    assert_eq!(listed(&plan, &["--open"]).len(), 1);
    let all = listed(&plan, &["--all"]);
    assert_eq!(all.len(), 2);
    assert_eq!(all[0]["resolved"], true);
    assert_eq!(all[0]["resolved_by"], "carl");
    let text = comment(&plan, &["list", "PLAN"]);
    assert!(text.contains("1 resolved thread(s) not shown"), "{text}");
    let text = comment(&plan, &["list", "PLAN", "--all"]);
    assert!(text.contains("[resolved by carl "), "{text}");

    comment(&plan, &["reopen", "PLAN", &on]);
    assert_eq!(listed(&plan, &[]).len(), 2);

    // Each edit is one change in the plan's history, by its author.
    let history = json(arxos().arg("history").arg(&plan));
    let last = history.as_array().unwrap().last().unwrap();
    assert_eq!(last["summary"], format!("reopen comment {on}"));
    assert_eq!(last["author"], "tester");
}

#[test]
fn refused_comment_commands_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let plan = sample(dir.path());
    let root = comment(&plan, &["add", "PLAN", "--on", OUTLET, "first"]);
    let root = root.trim();
    let before = fs::read(&plan).unwrap();

    for (args, msg) in [
        (
            vec!["comment", "add", "PLAN", "--on", "outlet:nope", "hi"],
            "no element `outlet:nope`",
        ),
        (
            vec!["comment", "add", "PLAN", "--at", "1,x", "hi"],
            "expected X,Y",
        ),
        (
            vec!["comment", "add", "PLAN", "--at", "1e12,0", "hi"],
            "out of range",
        ),
        (
            vec![
                "comment", "add", "PLAN", "--at", "1,2", "--floor", "roof", "hi",
            ],
            "unknown floor `roof`",
        ),
        (
            vec!["comment", "add", "PLAN", "--on", OUTLET, "  "],
            "empty",
        ),
        (
            vec!["comment", "reply", "PLAN", "c-nope", "hi"],
            "no comment `c-nope`",
        ),
        (vec!["comment", "resolve", "PLAN", "c-nope"], "no comment"),
        (vec!["comment", "reopen", "PLAN", root], "is already open"),
        (
            vec!["comment", "list", "PLAN", "--on", "outlet:nope"],
            "no element",
        ),
    ] {
        let err = one_line_error(&plan, &args, msg);
        assert!(err.starts_with("error: "), "{err}");
        assert_eq!(
            fs::read(&plan).unwrap(),
            before,
            "{args:?} changed the plan"
        );
    }

    // Every id starts with `c`: with two comments, `c` names both.
    comment(&plan, &["add", "PLAN", "--on", OUTLET, "second"]);
    one_line_error(
        &plan,
        &["comment", "reply", "PLAN", "c", "hi"],
        "names several comments",
    );

    // Too long a text is refused with the limit named.
    let long = "x".repeat(10_001);
    one_line_error(
        &plan,
        &["comment", "add", "PLAN", "--on", OUTLET, &long],
        "at most 10000",
    );

    // A deleted element takes no comment; --on and --at together are a usage error.
    comment(&plan, &["resolve", "PLAN", root]);
    one_line_error(
        &plan,
        &["comment", "resolve", "PLAN", root],
        "already resolved",
    );
    arxos()
        .args(["delete"])
        .arg(&plan)
        .arg(OUTLET)
        .assert()
        .success();
    one_line_error(
        &plan,
        &["comment", "add", "PLAN", "--on", OUTLET, "hi"],
        "is deleted",
    );
    arxos()
        .args(["comment", "add"])
        .arg(&plan)
        .args(["--on", OUTLET, "--at", "1,2", "hi"])
        .assert()
        .failure();

    // With --json, a failure is also a JSON object on standard output.
    let out = arxos()
        .args(["comment", "reply"])
        .arg(&plan)
        .args(["c-nope", "hi", "--json"])
        .assert()
        .failure()
        .get_output()
        .stdout
        .clone();
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert!(v["error"].as_str().unwrap().contains("no comment"), "{v}");
}
