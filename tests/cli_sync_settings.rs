//! The settings `arxos sync FILE` obeys, end to end with a real relay on 127.0.0.1:
//! `sync.enabled=false` sends nothing, `sync.relays` is tried when the invite's relay cannot
//! be reached, and `sync.conflict-resolution=auto` settles conflicts by the plan's rules and
//! sends the settlement at once.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use std::path::Path;

#[path = "support/live.rs"]
mod live;
#[path = "support/cli.rs"]
mod support;

use live::share;
use support::{arxos, fails_with, get, import_sample, json};

fn set(file: &Path, what: &str, who: &str) {
    arxos()
        .arg("set")
        .arg(file)
        .args([what, "--as", who])
        .assert()
        .success();
}

#[test]
fn sync_enabled_false_sends_nothing_and_says_where_to_look() {
    let dir = tempfile::tempdir().unwrap();
    let (_relay, url) = live::relay(dir.path());
    let a = import_sample(dir.path(), "a.arx");
    let code = share(&a, &url);
    let b = dir.path().join("b.arx");
    arxos()
        .args(["clone", &code, "-o"])
        .arg(&b)
        .assert()
        .success();
    set(&a, "outlet:R01-1.voltage=333", "ana");
    fails_with(
        arxos().args(["sync", "-c", "sync.enabled=false"]).arg(&a),
        "sync.enabled is false: nothing was sent",
    );
    arxos().arg("sync").arg(&b).assert().success();
    assert_eq!(get(&b, "outlet:R01-1.voltage"), "230 V");
    arxos().arg("sync").arg(&a).assert().success();
    arxos().arg("sync").arg(&b).assert().success();
    assert_eq!(get(&b, "outlet:R01-1.voltage"), "333 V");
}

#[test]
fn sync_relays_are_tried_in_order_when_the_invites_relay_cannot_be_reached() {
    let dir = tempfile::tempdir().unwrap();
    let (mut relay, url) = live::relay(dir.path());
    let a = import_sample(dir.path(), "a.arx");
    share(&a, &url);
    // The relay moves to another port (same data): the invite's address is dead now.
    relay.terminate();
    let (_moved, moved) = live::relay(dir.path());
    assert_ne!(moved, url);
    set(&a, "outlet:R01-1.voltage=333", "ana");
    let err = fails_with(
        arxos().args(["sync", "--timeout-secs", "3"]).arg(&a),
        "cannot reach",
    );
    assert!(err.contains(url.trim_start_matches("ws://")), "{err}");
    // Tried in order: a dead one first, then the relay's new address.
    let relays = format!("sync.relays=ws://127.0.0.1:1, {moved}");
    let synced = json(arxos().args(["sync", "-c", &relays]).arg(&a));
    assert_eq!(synced["pending"], 0, "{synced}");
    assert_eq!(synced["sent"], 1, "{synced}");
}

#[test]
fn conflict_resolution_auto_settles_by_the_plans_rules_and_sends_the_settlement() {
    let dir = tempfile::tempdir().unwrap();
    let (_relay, url) = live::relay(dir.path());
    let a = import_sample(dir.path(), "a.arx");
    // Last writer wins for outlets: a rule in the plan, so every replica applies it alike.
    arxos()
        .args(["rules", "add"])
        .arg(&a)
        .args(["--strategy", "lww", "--kind", "outlet"])
        .assert()
        .success();
    let code = share(&a, &url);
    let b = dir.path().join("b.arx");
    arxos()
        .args(["clone", &code, "-o"])
        .arg(&b)
        .assert()
        .success();
    set(&a, "outlet:R01-1.voltage=110", "ana");
    set(&b, "outlet:R01-1.voltage=240", "ben");
    arxos().arg("sync").arg(&a).assert().success();
    // Without auto, the conflict stays open.
    let plain = json(arxos().arg("sync").arg(&b));
    assert_eq!(plain["conflicts"], 1, "{plain}");
    assert_eq!(plain["resolved"], 0);
    let auto = json(
        arxos()
            .args(["sync", "-c", "sync.conflict-resolution=auto"])
            .arg(&b),
    );
    assert_eq!(auto["resolved"], 1, "{auto}");
    assert_eq!(auto["conflicts"], 0, "{auto}");
    assert_eq!(auto["pending"], 0, "the settlement was sent: {auto}");
    // The other side receives the settlement with its next plain sync: no conflict there.
    let other = json(arxos().arg("sync").arg(&a));
    assert_eq!(other["conflicts"], 0, "{other}");
    assert_eq!(
        get(&a, "outlet:R01-1.voltage"),
        get(&b, "outlet:R01-1.voltage")
    );
}
