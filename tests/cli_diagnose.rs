//! End to end: `arxos sync diagnose` and `arxos sync stats` on real files against a real relay
//! process on 127.0.0.1 — a healthy synced file, a relay that is down or silent, a revoked
//! invite, a file never synced, and pending counts after an offline edit. Every wait is
//! bounded.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

#[path = "support/live.rs"]
mod live;
#[path = "support/cli.rs"]
mod support;

use live::{TOKEN, relay, share};
use support::{arxos, import_sample, json};

/// `arxos sync diagnose FILE --json ARGS`: the exit success and the one JSON document.
fn diagnose(file: &Path, args: &[&str]) -> (bool, Value) {
    let out = arxos()
        .args(["sync", "diagnose"])
        .arg(file)
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    let doc = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    (out.status.success(), doc)
}

/// The check called `name` of a diagnosis.
fn check<'a>(d: &'a Value, name: &str) -> &'a Value {
    d["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name}: {d:#}"))
}

/// `arxos sync diagnose FILE` as text: exit success, stdout, stderr.
fn diagnose_text(file: &Path, args: &[&str]) -> (bool, String, String) {
    let out = arxos()
        .args(["sync", "diagnose"])
        .arg(file)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn a_synced_file_passes_every_check_and_names_its_role() {
    let dir = tempfile::tempdir().unwrap();
    let (_relay, url) = relay(dir.path());
    let a = import_sample(dir.path(), "a.arx");
    let code = share(&a, &url);
    let b = dir.path().join("b.arx");
    arxos()
        .args(["clone", &code, "-o"])
        .arg(&b)
        .assert()
        .success();

    let (ok, d) = diagnose(&b, &[]);
    assert!(ok, "{d:#}");
    assert_eq!(d["verdict"], "ok", "{d:#}");
    for c in d["checks"].as_array().unwrap() {
        assert_eq!(c["verdict"], "ok", "{c:#}");
    }
    assert_eq!(d["role"], "editor", "{d:#}");
    assert_eq!(d["relay"], url.as_str());
    assert!(d["rtt_ms"].as_f64().unwrap() >= 0.0, "{d:#}");
    assert!(
        d["clock_skew_ms"].as_i64().unwrap().abs() < 5_000,
        "one machine: {d:#}"
    );
    assert!(
        check(&d, "invite valid")["message"]
            .as_str()
            .unwrap()
            .contains("accepted as editor")
    );
    assert!(!d["health"].as_array().unwrap().is_empty());
    // The sharer's file remembers the owner invite.
    let (ok, d) = diagnose(&a, &[]);
    assert!(ok, "{d:#}");
    assert_eq!(d["role"], "owner", "{d:#}");

    // Text: one line per check, the verdict first.
    let (ok, text, err) = diagnose_text(&b, &[]);
    assert!(ok, "{text}{err}");
    assert!(
        text.lines()
            .any(|l| l.starts_with(&format!("ok       relay reachable: {url} (rtt "))),
        "{text}"
    );
    assert_eq!(text.lines().count(), d["checks"].as_array().unwrap().len());
    assert!(text.lines().all(|l| l.starts_with("ok ")), "{text}");
}

#[test]
fn a_dead_or_silent_relay_fails_the_relay_check_within_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let (mut relay_proc, url) = relay(dir.path());
    let a = import_sample(dir.path(), "a.arx");
    share(&a, &url);
    assert!(relay_proc.terminate().success());

    // Down: the connection is refused at once.
    let started = Instant::now();
    let (ok, d) = diagnose(&a, &["--timeout-secs", "2"]);
    let took = started.elapsed();
    assert!(!ok, "a check failed: the exit must say so");
    assert!(took < Duration::from_millis(3500), "took {took:?}");
    assert_eq!(d["verdict"], "failed");
    let reach = check(&d, "relay reachable");
    assert_eq!(reach["verdict"], "failed", "{d:#}");
    let msg = reach["message"].as_str().unwrap();
    assert!(
        msg.starts_with(&format!("cannot reach {url}")) && msg.contains("onnection refused"),
        "{msg}"
    );
    assert_eq!(check(&d, "invite valid")["verdict"], "skipped");
    assert_eq!(check(&d, "file health")["verdict"], "ok");

    let (ok, text, err) = diagnose_text(&a, &["--timeout-secs", "2"]);
    assert!(!ok);
    assert!(
        text.lines()
            .any(|l| l.starts_with(&format!("failed   relay reachable: cannot reach {url}"))),
        "{text}"
    );
    assert!(
        err.starts_with("error:") && err.contains("relay reachable"),
        "{err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");

    // Silent: something holds the port and never answers the upgrade; the timeout bounds it.
    let addr = url.trim_start_matches("ws://");
    let _silent = std::net::TcpListener::bind(addr).unwrap();
    let started = Instant::now();
    let (ok, d) = diagnose(&a, &["--timeout-secs", "2"]);
    let took = started.elapsed();
    assert!(!ok);
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_millis(4500),
        "took {took:?}"
    );
    let msg = check(&d, "relay reachable")["message"].as_str().unwrap();
    assert!(msg.contains("no answer within 2 s"), "{msg}");
}

#[test]
fn a_revoked_invite_fails_the_invite_check() {
    let dir = tempfile::tempdir().unwrap();
    let (_relay, url) = relay(dir.path());
    let a = import_sample(dir.path(), "a.arx");
    let code = share(&a, &url);
    let b = dir.path().join("b.arx");
    arxos()
        .args(["clone", &code, "-o"])
        .arg(&b)
        .assert()
        .success();
    let invites = json(
        arxos()
            .env("ARXOS_ADMIN_TOKEN", TOKEN)
            .args(["invite", "list", "--relay", &url]),
    );
    let editor = invites
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["role"] == "editor")
        .unwrap()
        .clone();
    arxos()
        .env("ARXOS_ADMIN_TOKEN", TOKEN)
        .args(["invite", "revoke", "--relay", &url])
        .arg(editor["id"].as_str().unwrap())
        .assert()
        .success();

    let (ok, d) = diagnose(&b, &[]);
    assert!(!ok, "{d:#}");
    assert_eq!(
        check(&d, "relay reachable")["verdict"],
        "ok",
        "the relay answered: {d:#}"
    );
    let invite = check(&d, "invite valid");
    assert_eq!(invite["verdict"], "failed", "{d:#}");
    let msg = invite["message"].as_str().unwrap();
    assert!(
        msg.contains("refused the invite") && msg.contains("new invite"),
        "{msg}"
    );
    assert!(d["role"].is_null());
    // The owner's invite still works.
    let (ok, d) = diagnose(&a, &[]);
    assert!(ok, "{d:#}");
}

#[test]
fn a_file_never_synced_says_to_pass_an_invite_once() {
    let dir = tempfile::tempdir().unwrap();
    let a = import_sample(dir.path(), "a.arx");
    let (ok, text, err) = diagnose_text(&a, &[]);
    assert!(!ok, "{text}");
    let line = text
        .lines()
        .find(|l| l.starts_with("failed   invite remembered: "))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(line.contains("pass an invite once"), "{line}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("skipped  relay reachable: ")),
        "{text}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");

    let (ok, d) = diagnose(&a, &[]);
    assert!(!ok);
    assert!(d["relay"].is_null() && d["role"].is_null(), "{d:#}");

    let s = json(arxos().args(["sync", "stats"]).arg(&a));
    assert!(
        s["relay"].is_null() && s["sidecar_bytes"].is_null(),
        "{s:#}"
    );
    assert_eq!(s["pending"], s["changes"], "nothing is acknowledged: {s:#}");
}

#[test]
fn stats_count_an_offline_edit_as_pending_by_its_author() {
    let dir = tempfile::tempdir().unwrap();
    let (mut relay_proc, url) = relay(dir.path());
    let a = import_sample(dir.path(), "a.arx");
    let code = share(&a, &url);
    let b = dir.path().join("b.arx");
    arxos()
        .args(["clone", &code, "-o"])
        .arg(&b)
        .assert()
        .success();

    let before = json(arxos().args(["sync", "stats"]).arg(&b));
    assert_eq!(before["pending"], 0, "{before:#}");
    assert_eq!(before["refused"], 0);
    assert_eq!(before["relay"], url.as_str());
    assert!(!before["acked_heads"].as_array().unwrap().is_empty());
    assert!(before["last_sync"].as_u64().is_some(), "{before:#}");
    assert!(before["plan_bytes"].as_u64().unwrap() > 0);
    assert!(before["sidecar_bytes"].as_u64().unwrap() > 0);
    assert!(before["elements"].as_u64().unwrap() > 0);
    assert!(before.get("live").is_none(), "no session was asked");

    // Offline: the relay is gone, and the edit waits.
    assert!(relay_proc.terminate().success());
    arxos()
        .arg("set")
        .arg(&b)
        .args(["outlet:R45-23.voltage=240", "--as", "zed"])
        .assert()
        .success();
    let after = json(arxos().args(["sync", "stats"]).arg(&b));
    assert_eq!(after["pending"], 1, "{after:#}");
    assert_eq!(after["pending_by_author"], serde_json::json!({"zed": 1}));
    assert_eq!(
        after["changes"].as_u64().unwrap(),
        before["changes"].as_u64().unwrap() + 1
    );
    assert_eq!(after["acked_heads"], before["acked_heads"]);
    let status = json(arxos().args(["sync", "status"]).arg(&b));
    assert_eq!(status["pending"], after["pending"], "{status:#}");

    let (_, d) = diagnose(&b, &["--timeout-secs", "1"]);
    let pending = check(&d, "pending");
    assert_eq!(pending["verdict"], "warning", "{d:#}");
    assert!(
        pending["message"]
            .as_str()
            .unwrap()
            .starts_with("1 local change(s)"),
        "{pending:#}"
    );

    // Text names the author.
    let out = arxos().args(["sync", "stats"]).arg(&b).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("pending       1 (zed 1)"), "{text}");
}
