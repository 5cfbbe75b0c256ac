//! End-to-end: damaged and hostile input, and outputs a person can trust. Warnings about an
//! imported file reach the user; text from the plan stays on its line; bad input is a one-line
//! error before anything is written; `--json` failures are JSON; `export` says what it keeps.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns
#![allow(clippy::float_cmp)] // positions moved by whole millimetres compare exactly

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use predicates::prelude::*;

#[path = "support/cli.rs"]
mod support;

use support::{arxos, json, one_line_error, stderr_of};

fn sample(dir: &Path) -> PathBuf {
    support::import_sample(dir, "plan.arx")
}

#[test]
fn import_warns_about_each_damaged_element_and_imports_each_element_once() {
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("hand-edited.svgx");
    fs::write(
        &svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" xmlns:arx="https://arxos.studio/ns/svgx/1" viewBox="0 0 1000 1000">
  <rect arx:kind="wall" arx:tag="wall:no-id" x="0" y="0" width="100" height="50"/>
  <rect id="w2" arx:kind="wall" arx:tag="wall:nan" arx:x="NaN" arx:y="0" width="100" height="50"/>
  <polyline id="w3" arx:kind="wall" arx:tag="wall:far" points="0,0 1e300,0"/>
  <circle id="o1" arx:kind="outlet" arx:geom="point" arx:tag="outlet:o1" arx:num-voltage="1e400" r="5"/>
  <rect x="5" y="5" width="10" height="10"/>
</svg>"#,
    )
    .unwrap();
    let plan = dir.path().join("p.arx");
    let err = stderr_of(arxos().arg("import").arg(&svg).arg("-o").arg(&plan));
    let warnings: Vec<&str> = err.lines().filter(|l| l.starts_with("warning:")).collect();
    assert_eq!(warnings.len(), 3, "{err}");
    for (w, id) in warnings.iter().zip(["w2", "w3", "o1"]) {
        assert!(
            w.contains(&format!("id=\"{id}\"")) && w.contains("skipped"),
            "{w}"
        );
    }
    let v = json(arxos().arg("find").arg(&plan));
    let tags: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["tag"].as_str().unwrap())
        .collect();
    assert_eq!(tags, ["path:root-1", "wall:no-id"]);
}

#[test]
fn newlines_in_names_and_text_stay_escaped_on_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let plan = sample(dir.path());
    arxos()
        .arg("set")
        .arg(&plan)
        .arg("outlet:R45-23.name=desk\nforged line")
        .args(["--as", "eve\n2026-01-01 admin"])
        .assert()
        .success()
        .stdout(predicate::str::contains("desk\\nforged line"));
    let history = arxos().arg("history").arg(&plan).assert().success();
    let text = String::from_utf8(history.get_output().stdout.clone()).unwrap();
    let last = text.lines().last().unwrap();
    assert!(last.contains("eve\\n2026-01-01 admin"), "{text}");
    assert!(last.contains("desk\\nforged line"), "{text}");
    assert!(!text.lines().any(|l| l.starts_with("2026-01-01 admin")));
    arxos()
        .arg("get")
        .arg(&plan)
        .arg("outlet:R45-23")
        .assert()
        .success()
        .stdout(predicate::str::contains("name       desk\\nforged line\n"));
    arxos()
        .arg("get")
        .arg(&plan)
        .arg("outlet:R45-23.name")
        .assert()
        .success()
        .stdout("desk\\nforged line\n");
    let audit = arxos().arg("audit").arg(&plan).assert().success();
    let text = String::from_utf8(audit.get_output().stdout.clone()).unwrap();
    assert!(
        text.lines().last().unwrap().contains("eve\\n2026"),
        "{text}"
    );
    // JSON carries the text as it is.
    let v = json(arxos().arg("get").arg(&plan).arg("outlet:R45-23.name"));
    assert_eq!(v["value"], "desk\nforged line");
}

#[test]
fn bad_input_is_refused_where_it_enters_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let plan = sample(dir.path());
    let before = fs::read(&plan).unwrap();
    for field in ["x", "y", "kind", "layer", "tag", "floor", "rotation"] {
        one_line_error(
            &plan,
            &["set", "PLAN", &format!("outlet:R45-23.{field}=1")],
            &format!("`{field}` is a field of every element, not a property"),
        );
    }
    one_line_error(
        &plan,
        &["find", "PLAN", "--bbox", "NaN,0,10,10"],
        "finite numbers",
    );
    one_line_error(
        &plan,
        &["find", "PLAN", "--bbox", "5000,0,0,5000"],
        "x0 <= x1",
    );
    one_line_error(
        &plan,
        &["rules", "add", "PLAN", "--critical-layer", "nope"],
        "no layer `nope`",
    );
    one_line_error(
        &plan,
        &["rules", "add", "PLAN", "--min-area", "0"],
        "positive",
    );
    one_line_error(
        &plan,
        &["move", "PLAN", "outlet:R45-23"],
        "give --dx, --dy or both",
    );
    one_line_error(
        &plan,
        &["move", "PLAN", "outlet:R45-23", "--dx", "1e300"],
        "out of range",
    );
    assert_eq!(fs::read(&plan).unwrap(), before);
}

#[test]
fn zero_expiries_and_timeouts_and_http_public_urls_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let plan = sample(dir.path());
    let relay = "ws://127.0.0.1:9";
    one_line_error(
        &plan,
        &["share", "PLAN", "--relay", relay, "--expires", "0d"],
        "--expires must be longer than 0",
    );
    one_line_error(
        &plan,
        &["share", "PLAN", "--relay", relay, "--timeout-secs", "0"],
        "--timeout-secs must be at least 1",
    );
    let out = dir.path().join("c.arx").display().to_string();
    one_line_error(
        &plan,
        &["clone", "arx1_x", "-o", &out, "--timeout-secs", "0"],
        "--timeout-secs must be at least 1",
    );
    one_line_error(
        &plan,
        &["sync", "PLAN", "--timeout-secs", "0"],
        "--timeout-secs must be at least 1",
    );
    let data = dir.path().join("relay").display().to_string();
    one_line_error(
        &plan,
        &[
            "relay",
            "--data",
            &data,
            "--listen",
            "127.0.0.1:0",
            "--public-url",
            "http://relay.example.org",
        ],
        "must be a ws:// or wss:// address",
    );
    assert!(!Path::new(&out).exists());
}

#[test]
fn move_takes_either_offset_alone() {
    let dir = tempfile::tempdir().unwrap();
    let plan = sample(dir.path());
    let at = |plan: &Path| {
        let v = json(arxos().arg("get").arg(plan).arg("outlet:R45-23"));
        (
            v["transform"]["x"].as_f64().unwrap(),
            v["transform"]["y"].as_f64().unwrap(),
        )
    };
    let (x, y) = at(&plan);
    arxos()
        .args(["move"])
        .arg(&plan)
        .args(["outlet:R45-23", "--dx", "100"])
        .assert()
        .success();
    assert_eq!(at(&plan), (x + 100.0, y));
    arxos()
        .args(["move"])
        .arg(&plan)
        .args(["outlet:R45-23", "--dy", "-50"])
        .assert()
        .success();
    assert_eq!(at(&plan), (x + 100.0, y - 50.0));
}

#[test]
fn find_tag_is_a_whole_tag_unless_it_is_a_pattern() {
    let dir = tempfile::tempdir().unwrap();
    let plan = sample(dir.path());
    let count = |tag: &str| {
        json(arxos().arg("find").arg(&plan).args(["--tag", tag]))
            .as_array()
            .unwrap()
            .len()
    };
    // `outlet:R45-2` is a tag of its own, and the start of `outlet:R45-20` … `-24`.
    assert_eq!(count("outlet:R45-2"), 1);
    assert_eq!(count("outlet:R45-2*"), 6);
    assert_eq!(count("outlet:R45-2?"), 5);
    assert_eq!(count("outlet:R45-"), 0);
}

#[test]
fn apply_names_elements_by_tag_and_its_help_shows_the_format() {
    let dir = tempfile::tempdir().unwrap();
    let plan = sample(dir.path());
    let before = json(arxos().arg("get").arg(&plan).arg("outlet:R45-23"));
    let cmds = dir.path().join("cmds.json");
    fs::write(
        &cmds,
        r#"[{"Move": {"ids": ["outlet:R45-23"], "dx": 150, "dy": 0}},
            {"SetProperties": {"id": "outlet:R45-23",
              "set": [["voltage", {"value": 240, "unit": "V"}]], "remove": []}}]"#,
    )
    .unwrap();
    arxos()
        .arg("apply")
        .arg(&plan)
        .arg(&cmds)
        .assert()
        .success();
    let after = json(arxos().arg("get").arg(&plan).arg("outlet:R45-23"));
    assert_eq!(
        after["transform"]["x"].as_f64().unwrap(),
        before["transform"]["x"].as_f64().unwrap() + 150.0
    );
    assert_eq!(after["props"]["voltage"]["value"], 240.0);
    arxos()
        .args(["apply", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "Elements are named by id or by tag",
        ))
        .stdout(predicate::str::contains(r#"{"Move": {"ids": ["#));
}

#[test]
fn json_failures_are_json_objects() {
    let dir = tempfile::tempdir().unwrap();
    let plan = sample(dir.path());
    for args in [
        vec!["get".to_owned(), plan.display().to_string(), "nope".into()],
        vec!["info".to_owned(), "/nonexistent/x.arx".into()],
        vec![
            "conflicts".to_owned(),
            "show".into(),
            plan.display().to_string(),
            "zzz".into(),
        ],
    ] {
        let out = arxos()
            .args(&args)
            .arg("--json")
            .assert()
            .failure()
            .get_output()
            .clone();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {out:?}"));
        let msg = v["error"].as_str().unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(stderr.trim_end(), format!("error: {msg}"), "{args:?}");
        assert!(v["causes"].as_array().is_some_and(|c| !c.is_empty()));
    }
}

#[test]
fn export_says_what_svgx_keeps_and_leaves_out() {
    let dir = tempfile::tempdir().unwrap();
    let plan = sample(dir.path());
    arxos()
        .args(["delete"])
        .arg(&plan)
        .arg("outlet:R45-23")
        .assert()
        .success();
    arxos()
        .args(["rules", "add"])
        .arg(&plan)
        .args(["--strategy", "lww"])
        .assert()
        .success();
    let out = dir.path().join("p.svgx");
    let info = json(arxos().arg("info").arg(&plan));
    arxos()
        .arg("export")
        .arg(&plan)
        .arg("-o")
        .arg(&out)
        .assert()
        .success()
        .stderr(predicate::str::contains("SVGX keeps the live drawing"))
        .stderr(predicate::str::contains("1 deleted element(s), 1 rule(s)"))
        .stderr(predicate::str::contains(info["id"].as_str().unwrap()));
    let v = json(arxos().arg("export").arg(&plan).arg("-o").arg(&out));
    assert_eq!(v["left_out"]["deleted_elements"], 1);
    assert_eq!(v["left_out"]["rules"], 1);
    arxos()
        .args(["export", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "It leaves out deleted elements, rules",
        ));
}

#[test]
fn conflict_views_show_units_and_which_side_is_local() {
    let dir = tempfile::tempdir().unwrap();
    let a = sample(dir.path());
    let b = dir.path().join("b.arx");
    fs::copy(&a, &b).unwrap();
    for (file, v, who) in [(&a, "240", "user-a"), (&b, "120", "user-b")] {
        arxos()
            .arg("set")
            .arg(file)
            .arg(format!("outlet:R45-23.voltage={v}"))
            .args(["--as", who])
            .assert()
            .success();
    }
    let m = dir.path().join("m.arx");
    arxos()
        .arg("merge")
        .arg(&a)
        .arg(&b)
        .arg("-o")
        .arg(&m)
        .assert()
        .success()
        .stdout(predicate::str::contains("240 V here, 120 V there"));
    let list = json(arxos().args(["conflicts", "list"]).arg(&m));
    let c = &list[0];
    assert_eq!(c["unit"], "V");
    arxos()
        .args(["conflicts", "show"])
        .arg(&m)
        .arg(c["id"].as_str().unwrap())
        .assert()
        .success()
        .stdout(predicate::str::contains("base      230 V"))
        .stdout(predicate::str::contains("local     240 V"))
        .stdout(predicate::str::contains(
            "local = this file's values before its last merge",
        ));
    assert_eq!(c["local_is"], "before-last-merge");
    // A copy of the merged file has no merge record beside it, and says so.
    let copy = dir.path().join("copy.arx");
    fs::copy(&m, &copy).unwrap();
    let list = json(arxos().args(["conflicts", "list"]).arg(&copy));
    assert_eq!(list[0]["local_is"], "shown-value");
    arxos()
        .args(["conflicts", "list"])
        .arg(&copy)
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "local = the value the plan shows now",
        ));
}

#[test]
fn usage_errors_with_json_are_json_objects_too() {
    let out = arxos()
        .args(["--json", "info", "--bogus"])
        .assert()
        .code(2)
        .get_output()
        .clone();
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {out:?}"));
    assert_eq!(v["error"], "unexpected argument '--bogus' found", "{v}");
    assert_eq!(v["causes"][0], v["error"], "{v}");
    // Clap's text still goes to standard error, as without `--json`.
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.starts_with("error: unexpected argument '--bogus' found"),
        "{stderr}"
    );
    assert!(stderr.contains("Usage: arxos info"), "{stderr}");
    // A missing argument (clap lists it on the next line) and a bad value, `--json` last.
    for (args, msg) in [
        (
            &["info", "--json"][..],
            "the following required arguments were not provided: <FILE>",
        ),
        (
            &["who", "arx1_x", "--wait", "soon", "--json"][..],
            "invalid value 'soon' for '--wait <WAIT>'",
        ),
    ] {
        let out = arxos().args(args).assert().code(2).get_output().clone();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {out:?}"));
        assert!(
            v["error"].as_str().unwrap().starts_with(msg),
            "{args:?}: {v}"
        );
    }
    // Without `--json` (here a value after `--`), nothing on standard output; help and
    // version stay text.
    arxos()
        .args(["info", "--bogus", "--", "--json"])
        .assert()
        .code(2)
        .stdout("");
    arxos()
        .args(["--json", "--version"])
        .assert()
        .success()
        .stdout(predicate::str::starts_with("arxos "));
}

#[test]
fn import_shows_twenty_warnings_then_how_many_more_and_json_has_them_all() {
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("many.svgx");
    // 50 damaged walls; the first one's id has a line break that must not forge a line.
    let mut body = String::new();
    for i in 0..50 {
        let id = if i == 0 {
            "w0&#10;warning: forged".to_owned()
        } else {
            format!("w{i}")
        };
        writeln!(
            body,
            "<rect id=\"{id}\" arx:kind=\"wall\" arx:x=\"NaN\" arx:y=\"0\" width=\"1\" height=\"1\"/>"
        )
        .unwrap();
    }
    fs::write(
        &svg,
        format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" xmlns:arx="https://arxos.studio/ns/svgx/1" viewBox="0 0 100 100">
{body}
<rect arx:kind="wall" arx:tag="wall:ok" x="0" y="0" width="10" height="1"/>
</svg>"#
        ),
    )
    .unwrap();
    let plan = dir.path().join("p.arx");
    let err = stderr_of(arxos().arg("import").arg(&svg).arg("-o").arg(&plan));
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 21, "{err}");
    assert!(
        lines[..20].iter().all(|l| l.starts_with("warning: ")),
        "{err}"
    );
    assert!(lines[0].contains(r#"id="w0\nwarning: forged""#), "{err}");
    assert!(lines[19].contains(r#"id="w19""#), "{err}");
    assert_eq!(
        lines[20],
        "… and 30 more warnings (use --json for all of them)"
    );
    let v = json(
        arxos()
            .arg("import")
            .arg(&svg)
            .arg("-o")
            .arg(&plan)
            .arg("--force"),
    );
    let warnings = v["report"]["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 50, "{v:#}");
    assert!(
        warnings[0]
            .as_str()
            .unwrap()
            .contains("w0\nwarning: forged")
    );
    assert!(warnings[49].as_str().unwrap().contains(r#"id="w49""#));
    assert_eq!(v["report"]["svgx_elements"], 1);
}
