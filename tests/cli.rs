//! End-to-end tests of the `arxos` binary on real files: every subcommand, its JSON output,
//! and that failures are one-line errors with a non-zero exit that leave files untouched.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use std::fs;
use std::path::{Path, PathBuf};

use predicates::prelude::*;

#[path = "support/cli.rs"]
mod support;

use support::{arxos, json};

/// A scratch dir holding the sample plan imported as `plan.arx`.
fn sample(dir: &Path) -> PathBuf {
    support::import_sample(dir, "plan.arx")
}

#[test]
fn without_a_display_the_editor_says_so_in_one_line_and_fails() {
    for args in [&[][..], &["plan.arx"][..]] {
        let out = arxos()
            .args(args)
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .assert()
            .failure()
            .get_output()
            .clone();
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains("no display") && err.contains("arxos --help"),
            "{err}"
        );
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn the_help_lists_the_editor_and_the_commands() {
    arxos()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("Usage: arxos [OPTIONS] [FILE]"))
        .stdout(predicate::str::contains("import"));
}

#[test]
fn global_flags_go_before_or_after_the_command_and_a_file_excludes_a_command() {
    let dir = tempfile::tempdir().unwrap();
    let plan = sample(dir.path());
    let out = arxos()
        .arg("--json")
        .arg("info")
        .arg(&plan)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["elements"], 1128);
    arxos()
        .arg(&plan)
        .arg("info")
        .arg(&plan)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "give either a FILE to open in the editor or a command, not both",
        ));
}

#[test]
fn info_counts_by_floor_layer_and_kind() {
    let dir = tempfile::tempdir().unwrap();
    let plan = sample(dir.path());
    let v = json(arxos().arg("info").arg(&plan));
    assert_eq!(v["elements"], 1128);
    assert_eq!(v["by_kind"]["room"], 52);
    assert_eq!(v["floors"][0]["elements"], 1128);
    let electrical = v["layers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["id"] == "electrical")
        .unwrap();
    assert_eq!(electrical["elements"], 832);
}

#[test]
fn find_filters_by_kind_layer_and_area() {
    let dir = tempfile::tempdir().unwrap();
    let plan = sample(dir.path());
    let v = json(
        arxos()
            .args(["find", "--kind", "outlet", "--layer", "electrical"])
            .arg(&plan),
    );
    assert_eq!(v.as_array().unwrap().len(), 360);
    let v = json(
        arxos()
            .args(["find", "--kind", "room", "--bbox", "0,0,5000,5000"])
            .arg(&plan),
    );
    let tags: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["tag"].as_str().unwrap())
        .collect();
    assert_eq!(tags, vec!["room:R01"]);
    arxos()
        .args(["find", "--layer", "nope"])
        .arg(&plan)
        .assert()
        .failure()
        .stderr(predicate::str::contains("unknown layer `nope`"));
}

#[test]
fn get_set_and_history_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let plan = sample(dir.path());
    arxos()
        .arg("get")
        .arg(&plan)
        .arg("outlet:R45-23.voltage")
        .assert()
        .success()
        .stdout("230 V\n");
    arxos()
        .arg("set")
        .arg(&plan)
        .args(["outlet:R45-23.voltage=240", "--as", "user-a"])
        .assert()
        .success();
    let v = json(arxos().arg("get").arg(&plan).arg("outlet:R45-23.voltage"));
    assert_eq!(v["value"], 240.0);
    assert_eq!(v["unit"], "V");
    let all = json(arxos().arg("get").arg(&plan).arg("outlet:R45-23"));
    assert_eq!(all["kind"], "outlet");
    assert_eq!(all["props"]["amperage"]["value"], 16.0);
    let h = json(arxos().arg("history").arg(&plan));
    let last = h.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["author"], "user-a");
    assert!(
        last["summary"]
            .as_str()
            .unwrap()
            .contains("outlet:R45-23.voltage=240")
    );
    // Text properties stay text even when the value looks like a number.
    arxos()
        .arg("set")
        .arg(&plan)
        .arg("room:R01.number=007")
        .assert()
        .success();
    arxos()
        .arg("get")
        .arg(&plan)
        .arg("room:R01.number")
        .assert()
        .stdout("007\n");
}

#[test]
fn delete_and_restore() {
    let dir = tempfile::tempdir().unwrap();
    let plan = sample(dir.path());
    arxos()
        .arg("delete")
        .arg(&plan)
        .args(["outlet:R45-23", "--as", "user-a"])
        .assert()
        .success();
    let v = json(arxos().args(["find", "--tag", "outlet:R45-2"]).arg(&plan));
    assert!(
        v.as_array()
            .unwrap()
            .iter()
            .all(|r| r["tag"] != "outlet:R45-23")
    );
    arxos()
        .arg("set")
        .arg(&plan)
        .arg("outlet:R45-23.voltage=240")
        .assert()
        .failure()
        .stderr(predicate::str::contains("is deleted"));
    arxos()
        .arg("restore")
        .arg(&plan)
        .arg("outlet:R45-23")
        .assert()
        .success();
    arxos()
        .arg("get")
        .arg(&plan)
        .arg("outlet:R45-23.voltage")
        .assert()
        .success();
}

#[test]
fn failures_are_one_line_and_leave_the_file_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let plan = sample(dir.path());
    let before = fs::read(&plan).unwrap();
    let cases: &[(&[&str], &str)] = &[
        (
            &["set", "PLAN", "outlet:R45-23.voltage=high"],
            "is a number, not a string",
        ),
        (
            &["set", "PLAN", "outlet:NOPE.voltage=1"],
            "no element is tagged `outlet:NOPE`",
        ),
        (&["set", "PLAN", "outlet:R45-23"], "expected TAG.prop=value"),
        (
            &["get", "PLAN", "outlet:R45-23.nope"],
            "has no property `nope`",
        ),
        (&["delete", "PLAN", "wall:nope"], "no element is tagged"),
        (
            &["move", "PLAN", "outlet:NOPE", "--dx", "1", "--dy", "1"],
            "no element is tagged",
        ),
    ];
    for (args, msg) in cases {
        let err = support::one_line_error(&plan, args, msg);
        assert!(!err.contains("panicked"), "{err}");
    }
    assert_eq!(
        fs::read(&plan).unwrap(),
        before,
        "failed edits must not touch the file"
    );
}

#[test]
fn missing_foreign_and_corrupt_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.arx");
    arxos()
        .arg("info")
        .arg(&missing)
        .assert()
        .failure()
        .stderr(predicate::str::contains("missing.arx"));
    let foreign = dir.path().join("notes.arx");
    fs::write(&foreign, "just text").unwrap();
    arxos()
        .arg("info")
        .arg(&foreign)
        .assert()
        .failure()
        .stderr(predicate::str::contains("notes.arx: not an Arxos document"));
    let plan = sample(dir.path());
    let mut bytes = fs::read(&plan).unwrap();
    let n = bytes.len();
    bytes.truncate(n * 2 / 3);
    let corrupt = dir.path().join("broken.arx");
    fs::write(&corrupt, &bytes).unwrap();
    let before = fs::read(&corrupt).unwrap();
    arxos()
        .arg("set")
        .arg(&corrupt)
        .arg("outlet:R45-23.voltage=1")
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "broken.arx: the document is corrupt",
        ));
    assert_eq!(fs::read(&corrupt).unwrap(), before);
    let bad_svg = dir.path().join("bad.svg");
    fs::write(&bad_svg, "<svg><g></svg>").unwrap();
    arxos()
        .arg("import")
        .arg(&bad_svg)
        .arg("-o")
        .arg(dir.path().join("x.arx"))
        .assert()
        .failure()
        .stderr(predicate::str::contains("not well-formed XML"));
    assert!(!dir.path().join("x.arx").exists());
}

#[test]
fn import_refuses_to_overwrite_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let plan = sample(dir.path());
    arxos()
        .args(["import", "assets/sample-office.svgx", "-o"])
        .arg(&plan)
        .assert()
        .failure()
        .stderr(predicate::str::contains("already exists"));
}

#[test]
fn export_import_round_trip_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let plan = sample(dir.path());
    let svg = dir.path().join("out.svg");
    arxos()
        .arg("export")
        .arg(&plan)
        .arg("-o")
        .arg(&svg)
        .assert()
        .success();
    assert_eq!(
        fs::read_to_string(&svg).unwrap(),
        fs::read_to_string("assets/sample-office.svgx").unwrap(),
        "export of the imported sample reproduces it byte for byte"
    );
}

#[test]
fn plain_svg_imports_as_grouped_annotation_paths() {
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("sketch.svg");
    fs::write(
        &svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100">
             <g id="furniture" transform="translate(10 10)">
               <rect x="0" y="0" width="20" height="10" fill="#ff0000"/>
               <circle cx="50" cy="50" r="5" stroke="#00ff00" fill="none"/>
             </g>
             <path d="M 0 0 L 100 100" stroke="black"/>
           </svg>"##,
    )
    .unwrap();
    let plan = dir.path().join("sketch.arx");
    arxos()
        .arg("import")
        .arg(&svg)
        .arg("-o")
        .arg(&plan)
        .assert()
        .success();
    let v = json(
        arxos()
            .args(["find", "--kind", "path", "--layer", "annotation"])
            .arg(&plan),
    );
    assert_eq!(v.as_array().unwrap().len(), 3);
    let first = json(arxos().arg("get").arg(&plan).arg("path:furniture-1"));
    assert_eq!(first["props"]["group"]["value"], "furniture");
    assert_eq!(first["style"]["fill"], "#ff0000");
    // usvg resolved the group transform into absolute coordinates.
    assert!(
        first["geometry"]["d"]
            .as_str()
            .unwrap()
            .starts_with("M10 10")
    );
}

#[test]
fn apply_runs_typed_commands_from_json() {
    let dir = tempfile::tempdir().unwrap();
    let plan = sample(dir.path());
    let v = json(arxos().arg("get").arg(&plan).arg("wall:ext-north"));
    let wall = v["id"].as_str().unwrap().to_owned();
    let cmds = dir.path().join("cmds.json");
    fs::write(
        &cmds,
        serde_json::json!([
            {"Create": {
                "id": null, "kind": "door", "tag": "door:NEW", "floor": "level-1",
                "layer": "architectural", "geometry": {"type": "rect", "width": 900.0, "height": 300.0},
                "transform": {"x": 100.0, "y": -150.0, "rotation": 0.0},
                "style": {}, "text": null, "props": {}, "refs": {"host": wall}, "z": null
            }}
        ])
        .to_string(),
    )
    .unwrap();
    arxos()
        .arg("apply")
        .arg(&plan)
        .arg(&cmds)
        .args(["-m", "add a door", "--as", "script"])
        .assert()
        .success();
    let d = json(arxos().arg("get").arg(&plan).arg("door:NEW"));
    assert_eq!(d["refs"]["host"], wall.as_str());
}

#[test]
fn generate_writes_large_plans() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.arx");
    arxos()
        .args(["generate", "--elements", "3000", "--floors", "2", "-o"])
        .arg(&big)
        .assert()
        .success();
    let v = json(arxos().arg("info").arg(&big));
    assert_eq!(v["elements"], 3000);
    assert_eq!(v["floors"].as_array().unwrap().len(), 2);
}

#[test]
fn bundled_sample_matches_its_generator() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sample.svgx");
    arxos()
        .args(["generate", "--sample", "-o"])
        .arg(&out)
        .assert()
        .success();
    assert_eq!(
        fs::read_to_string(&out).unwrap(),
        fs::read_to_string("assets/sample-office.svgx").unwrap(),
        "assets/sample-office.svgx is stale: regenerate it with `arxos generate --sample`"
    );
}

#[test]
fn a_closed_output_pipe_ends_quietly() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let dir = tempfile::tempdir().unwrap();
    let plan = sample(dir.path());
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("arxos"))
        .arg("find")
        .arg(&plan)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("door:R01"), "{first}");
    // The reader is gone now (dropped), like `arxos find … | head -1`.
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?} {err}", out.status);
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn a_torn_plan_is_read_with_a_warning_and_healed_by_the_next_edit() {
    let dir = tempfile::tempdir().unwrap();
    let plan = sample(dir.path());
    arxos()
        .arg("set")
        .arg(&plan)
        .args(["outlet:R45-23.voltage=240", "--as", "user-a"])
        .assert()
        .success();
    // Power lost during that append: the file ends one byte short.
    let len = fs::metadata(&plan).unwrap().len();
    fs::OpenOptions::new()
        .write(true)
        .open(&plan)
        .unwrap()
        .set_len(len - 1)
        .unwrap();
    arxos()
        .arg("get")
        .arg(&plan)
        .arg("outlet:R45-23.voltage")
        .assert()
        .success()
        .stdout("230 V\n")
        .stderr(predicate::str::contains("last save was interrupted"));
    arxos()
        .arg("set")
        .arg(&plan)
        .args(["outlet:R45-23.voltage=400", "--as", "user-a"])
        .assert()
        .success();
    arxos()
        .arg("get")
        .arg(&plan)
        .arg("outlet:R45-23.voltage")
        .assert()
        .success()
        .stdout("400 V\n")
        .stderr(predicate::str::contains("interrupted").not());
}
