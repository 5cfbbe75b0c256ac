//! One live plan, many writers: a running `arxos join` (or `host`) and CLI commands share one
//! `.arx`, and nothing any of them writes is lost. Also what a live session must do when its
//! invite is revoked, when the file holds another plan, and how long a dead relay may take.
//! Real processes, a real relay on 127.0.0.1, bounded waits.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use std::time::{Duration, Instant};

#[path = "support/live.rs"]
mod live;
#[path = "support/cli.rs"]
mod support;

use live::{Proc, TOKEN, eventually, relay, share};
use support::{arxos, get, import_sample, json};

const T: Duration = Duration::from_secs(30);

#[test]
fn an_edit_made_while_join_runs_on_the_same_file_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let (_relay, url) = relay(dir.path());
    let a = import_sample(dir.path(), "a.arx");
    let code = share(&a, &url);
    let j = dir.path().join("j.arx");
    let join = Proc::spawn(&["join", &code, "-o", j.to_str().unwrap()]);
    join.expect("joined ");

    // The repro from the issue: a CLI edit of the joined file...
    arxos()
        .arg("set")
        .arg(&j)
        .args(["outlet:R01-1.voltage=333", "--as", "cli"])
        .assert()
        .success();
    // ...then a remote change arrives, and the join writes the file again.
    arxos()
        .arg("set")
        .arg(&a)
        .args(["room:R01.name=Remote", "--as", "other"])
        .assert()
        .success();
    arxos().arg("sync").arg(&a).assert().success();
    eventually(T, "the joined file has the remote change", || {
        get(&j, "room:R01.name") == "Remote"
    });
    assert_eq!(
        get(&j, "outlet:R01-1.voltage"),
        "333 V",
        "the CLI edit was lost"
    );

    // The join noticed the append and sent it on: the relay has it too.
    eventually(T, "the CLI edit reached the relay", || {
        arxos().arg("sync").arg(&a).assert().success();
        get(&a, "outlet:R01-1.voltage") == "333 V"
    });
    let fresh = dir.path().join("fresh.arx");
    arxos()
        .args(["clone", &code, "-o"])
        .arg(&fresh)
        .assert()
        .success();
    assert_eq!(get(&fresh, "outlet:R01-1.voltage"), "333 V");
    assert_eq!(get(&fresh, "room:R01.name"), "Remote");

    // Stopping the join keeps both in the file.
    let mut join = join;
    assert!(join.terminate().success());
    assert_eq!(get(&j, "outlet:R01-1.voltage"), "333 V");
    assert_eq!(get(&j, "room:R01.name"), "Remote");
}

#[test]
fn who_lists_a_running_join_and_join_stops_when_its_invite_is_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let (_relay, url) = relay(dir.path());
    let a = import_sample(dir.path(), "a.arx");
    let code = share(&a, &url);
    let j = dir.path().join("j.arx");
    let mut join = Proc::spawn(&["join", &code, "-o", j.to_str().unwrap()]);
    join.expect("joined ");

    let mut seen = serde_json::Value::Null;
    eventually(T, "who lists the join", || {
        seen = json(arxos().args(["who", &code]));
        seen.as_object().is_some_and(|m| !m.is_empty())
    });
    let person = seen.as_object().unwrap().values().next().unwrap().clone();
    assert_eq!(person["user"], "tester", "{seen:#}");
    assert_eq!(person["client"], "cli", "{seen:#}");
    assert_eq!(
        person["role"], "editor",
        "the relay names the invite's role: {seen:#}"
    );
    assert!(person["color"].as_str().unwrap().starts_with('#'));

    // Revoke the join's invite: it says so and stops, instead of retrying forever.
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
    let status = join.wait_exit(T);
    assert!(!status.success(), "a revoked join must fail");
    let lines = join.drain();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("error:") && l.contains("refused the invite")),
        "{lines:#?}"
    );
}

#[test]
fn a_file_of_another_plan_is_refused_before_anything_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let (_relay, url) = relay(dir.path());
    let a = import_sample(dir.path(), "a.arx");
    let code = share(&a, &url);
    // Same drawing, imported separately: another plan (another plan id).
    let other = import_sample(dir.path(), "other.arx");
    arxos()
        .arg("set")
        .arg(&other)
        .arg("room:R01.name=Intruder")
        .assert()
        .success();
    let out = arxos()
        .arg("sync")
        .arg(&other)
        .args(["--invite", &code])
        .assert()
        .failure()
        .get_output()
        .clone();
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.starts_with("error:") && err.contains("holds plan"),
        "{err}"
    );
    assert!(err.contains("nothing was sent"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    // The room is untouched: a fresh clone has the shared plan's elements once.
    let fresh = dir.path().join("fresh.arx");
    arxos()
        .args(["clone", &code, "-o"])
        .arg(&fresh)
        .assert()
        .success();
    let info_a = json(arxos().arg("info").arg(&a));
    let info_fresh = json(arxos().arg("info").arg(&fresh));
    assert_eq!(info_a["elements"], info_fresh["elements"]);
    assert_ne!(get(&fresh, "room:R01.name"), "Intruder");
}

#[test]
fn secrets_are_private_and_a_timeout_bounds_the_whole_sync() {
    let dir = tempfile::tempdir().unwrap();
    let (mut relay_proc, url) = relay(dir.path());
    let a = import_sample(dir.path(), "a.arx");
    share(&a, &url);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.path().join("a.arx.sync.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the sidecar holds an owner invite");
    }
    assert!(relay_proc.terminate().success());
    let started = Instant::now();
    arxos()
        .arg("sync")
        .arg(&a)
        .args(["--timeout-secs", "2"])
        .assert()
        .failure()
        .stderr(predicates::str::starts_with("error:"));
    let took = started.elapsed();
    assert!(
        took < Duration::from_millis(3500),
        "took {took:?} for a 2 s timeout"
    );
}
