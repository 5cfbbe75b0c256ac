//! End-to-end collaboration through the `arxos` binary: a real relay process on 127.0.0.1
//! (`arxos relay`), `share`, `clone`, `sync`, `sync status`, `invite`, `who`, `watch`, and a
//! peer-to-peer `host`. Every wait is bounded.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use std::time::Duration;

use predicates::prelude::*;

#[path = "support/live.rs"]
mod live;
#[path = "support/cli.rs"]
mod support;

use live::{Proc, TOKEN, relay};
use support::{arxos, import_sample, json};

#[test]
fn share_clone_sync_and_invites_through_a_real_relay() {
    let dir = tempfile::tempdir().unwrap();
    let (_relay, url) = relay(dir.path());
    let a = import_sample(dir.path(), "a.arx");

    let shared = json(
        arxos()
            .env("ARXOS_ADMIN_TOKEN", TOKEN)
            .arg("share")
            .arg(&a)
            .args(["--relay", &url, "--role", "editor", "--expires", "7d"]),
    );
    let code = shared["invite"].as_str().unwrap().to_owned();
    assert!(shared["sent"].as_u64().unwrap() > 0, "{shared:#}");

    let inspected = json(arxos().args(["invite", "inspect", &code]));
    assert!(
        inspected["websocket_url"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{url}/sync?invite="))
    );
    assert!(
        inspected["automerge_url"]
            .as_str()
            .unwrap()
            .starts_with("automerge:")
    );
    assert_eq!(inspected["also"], serde_json::json!([]), "{inspected:#}");
    let b = dir.path().join("b.arx");
    let cloned = json(arxos().args(["clone", &code, "-o"]).arg(&b));
    assert!(cloned["received"].as_u64().unwrap() > 0, "{cloned:#}");
    arxos()
        .arg("get")
        .arg(&b)
        .arg("outlet:R45-23.voltage")
        .assert()
        .stdout("230 V\n");

    // An edit on b travels through the relay to a.
    arxos()
        .arg("set")
        .arg(&b)
        .args(["outlet:R45-23.voltage=240", "--as", "user-b"])
        .assert()
        .success();
    let status = json(arxos().args(["sync", "status"]).arg(&b));
    assert_eq!(status["pending"], 1, "{status:#}");
    let pushed = json(arxos().arg("sync").arg(&b));
    assert_eq!(pushed["sent"], 1, "{pushed:#}");
    assert_eq!(pushed["pending"], 0);
    let pulled = json(arxos().arg("sync").arg(&a));
    assert_eq!(pulled["received"], 1, "{pulled:#}");
    arxos()
        .arg("get")
        .arg(&a)
        .arg("outlet:R45-23.voltage")
        .assert()
        .stdout("240 V\n");
    let status = json(arxos().args(["sync", "status"]).arg(&a));
    assert_eq!(status["pending"], 0);
    assert!(status["last_sync"].is_string());

    // Invites: list, revoke, and a revoked code is refused with a one-line error.
    let invites = json(
        arxos()
            .env("ARXOS_ADMIN_TOKEN", TOKEN)
            .args(["invite", "list", "--relay", &url]),
    );
    let ours = invites
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["code"].as_str() == Some(code.as_str()) || i["role"] == "editor")
        .unwrap()
        .clone();
    arxos()
        .env("ARXOS_ADMIN_TOKEN", TOKEN)
        .args([
            "invite",
            "revoke",
            "--relay",
            &url,
            ours["id"].as_str().unwrap(),
        ])
        .assert()
        .success();
    let c = dir.path().join("c.arx");
    let out = arxos()
        .args(["clone", &code, "-o"])
        .arg(&c)
        .args(["--timeout-secs", "5"])
        .assert()
        .failure()
        .get_output()
        .clone();
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.starts_with("error:"), "{err}");
}

#[test]
fn who_and_watch_see_a_live_session() {
    let dir = tempfile::tempdir().unwrap();
    let (_relay, url) = relay(dir.path());
    let a = import_sample(dir.path(), "a.arx");
    let shared = json(
        arxos()
            .env("ARXOS_ADMIN_TOKEN", TOKEN)
            .arg("share")
            .arg(&a)
            .args(["--relay", &url]),
    );
    let code = shared["invite"].as_str().unwrap().to_owned();
    arxos().args(["who", &code]).assert().success();

    let watch = Proc::spawn(&["watch", &code, "--kind", "outlet", "--for", "20"]);
    // `--tag` matches as in `find`: `outlet:R45-2` is a whole tag (not the start of
    // `outlet:R45-23`) unless it is a pattern.
    let whole = Proc::spawn(&["watch", &code, "--tag", "outlet:R45-2", "--for", "20"]);
    let pattern = Proc::spawn(&["watch", &code, "--tag", "outlet:R45-2?", "--for", "20"]);
    std::thread::sleep(Duration::from_secs(3));
    arxos()
        .arg("set")
        .arg(&a)
        .args(["light:R01-1.wattage=40", "outlet:R45-23.voltage=120"])
        .assert()
        .success();
    arxos().arg("sync").arg(&a).assert().success();
    let event = |p: &Proc| -> serde_json::Value {
        serde_json::from_str(&format!("{{{}", p.expect("{"))).unwrap()
    };
    let ev = event(&watch);
    assert_eq!(ev["event"], "updated");
    assert_eq!(
        ev["tag"], "outlet:R45-23",
        "the light is filtered out: {ev}"
    );
    assert_eq!(ev["element"]["props"]["voltage"]["value"], 120.0);
    assert_eq!(event(&pattern)["tag"], "outlet:R45-23");
    arxos()
        .arg("set")
        .arg(&a)
        .arg("outlet:R45-2.voltage=110")
        .assert()
        .success();
    arxos().arg("sync").arg(&a).assert().success();
    let ev = event(&whole);
    assert_eq!(
        ev["tag"], "outlet:R45-2",
        "outlet:R45-23 is filtered out: {ev}"
    );
    assert_eq!(ev["element"]["props"]["voltage"]["value"], 110.0);
}

#[test]
fn host_serves_a_plan_peer_to_peer() {
    let dir = tempfile::tempdir().unwrap();
    let plan = import_sample(dir.path(), "plan.arx");
    let host = Proc::spawn(&[
        "host",
        plan.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--for",
        "25",
    ]);
    let editor = host.expect("editor invite:");
    let viewer = host.expect("viewer invite:");
    let mine = dir.path().join("mine.arx");
    arxos()
        .args(["clone", &editor, "-o"])
        .arg(&mine)
        .assert()
        .success();
    arxos()
        .arg("set")
        .arg(&mine)
        .args(["room:R01.name=Studio", "--as", "guest"])
        .assert()
        .success();
    arxos().arg("sync").arg(&mine).assert().success();
    // The host keeps its file in sync: the guest's edit lands in plan.arx.
    let mut seen = false;
    for _ in 0..40 {
        let out = arxos()
            .arg("get")
            .arg(&plan)
            .arg("room:R01.name")
            .output()
            .unwrap();
        if String::from_utf8_lossy(&out.stdout).trim() == "Studio" {
            seen = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(seen, "the host's file did not receive the guest's edit");
    // A viewer's edit is refused by the host's relay and stays local, listed as refused.
    let look = dir.path().join("look.arx");
    arxos()
        .args(["clone", &viewer, "-o"])
        .arg(&look)
        .assert()
        .success();
    arxos()
        .arg("set")
        .arg(&look)
        .arg("room:R01.name=Vandal")
        .assert()
        .success();
    // The refusal is an error, with the relay's reason, on one line.
    let out = arxos()
        .arg("sync")
        .arg(&look)
        .assert()
        .failure()
        .get_output()
        .clone();
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.starts_with("error: the relay refused 1 change"),
        "{err}"
    );
    assert!(err.contains("look.arx.refused.arx"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    let status = json(arxos().args(["sync", "status"]).arg(&look));
    assert_eq!(status["refused"], 1, "{status:#}");
    arxos()
        .arg("get")
        .arg(&plan)
        .arg("room:R01.name")
        .assert()
        .stdout(predicate::str::contains("Studio"));
    // The refused edit was set aside by the sync itself (nothing lost: the plan as it was is
    // kept beside the file), so nothing is left to discard by hand.
    assert!(dir.path().join("look.arx.refused.arx").exists());
    let d = json(arxos().arg("sync").arg(&look).arg("--discard-refused"));
    assert_eq!(d["set_aside"], 0, "{d:#}");
    arxos()
        .arg("get")
        .arg(&look)
        .arg("room:R01.name")
        .assert()
        .stdout("Studio\n");
}

#[test]
fn inspect_lists_every_address_a_cluster_node_s_code_names() {
    let doc = arxos_sync::DocumentId::random();
    let many = arxos_sync::InviteCode::generate("ws://127.0.0.1:8", doc)
        .unwrap()
        .with_also(&["ws://127.0.0.1:9", "wss://node-c.example"])
        .unwrap()
        .encode();
    let inspected = json(arxos().args(["invite", "inspect", &many]));
    assert_eq!(inspected["relay"], "ws://127.0.0.1:8");
    assert_eq!(
        inspected["also"],
        serde_json::json!(["ws://127.0.0.1:9", "wss://node-c.example"])
    );
    arxos()
        .args(["invite", "inspect", &many])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "relay          ws://127.0.0.1:8\n  or           ws://127.0.0.1:9\n  or           wss://node-c.example\n",
        ));
}

#[test]
fn unreachable_relays_and_bad_codes_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let a = import_sample(dir.path(), "a.arx");
    for args in [
        vec!["clone", "not-a-code", "-o", "x.arx"],
        vec!["invite", "inspect", "garbage"],
    ] {
        let out = arxos()
            .args(&args)
            .current_dir(dir.path())
            .assert()
            .failure()
            .get_output()
            .clone();
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.starts_with("error: bad invite code"), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    }
    arxos()
        .env("ARXOS_ADMIN_TOKEN", TOKEN)
        .arg("share")
        .arg(&a)
        .args(["--relay", "ws://127.0.0.1:9", "--timeout-secs", "3"])
        .assert()
        .failure()
        .stderr(predicate::str::starts_with("error:"));
    arxos()
        .arg("sync")
        .arg(&a)
        .assert()
        .failure()
        .stderr(predicate::str::contains("was never synced"));
    arxos()
        .env_remove("ARXOS_ADMIN_TOKEN")
        .arg("share")
        .arg(&a)
        .args(["--relay", "ws://127.0.0.1:9"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("admin token is needed"));
}

#[test]
fn audit_verified_shows_the_invite_each_change_came_through_and_flags_a_forged_author() {
    let dir = tempfile::tempdir().unwrap();
    let (_relay, url) = relay(dir.path());
    let a = import_sample(dir.path(), "a.arx");
    let shared = json(
        arxos()
            .env("ARXOS_ADMIN_TOKEN", TOKEN)
            .arg("share")
            .arg(&a)
            .args(["--relay", &url, "--role", "editor"]),
    );
    let code = shared["invite"].as_str().unwrap().to_owned();
    let b = dir.path().join("b.arx");
    json(arxos().args(["clone", &code, "-o"]).arg(&b));
    // Two people on the one editor invite, one of them claiming to be the relay's admin.
    for (value, who) in [("240", "eve"), ("250", "relay-admin")] {
        arxos()
            .arg("set")
            .arg(&b)
            .args([&format!("outlet:R45-23.voltage={value}"), "--as", who])
            .assert()
            .success();
    }
    let pushed = json(arxos().arg("sync").arg(&b));
    assert!(pushed["sent"].as_u64().unwrap() >= 2, "{pushed:#}");

    let trail = json(
        arxos()
            .env("ARXOS_ADMIN_TOKEN", TOKEN)
            .args(["audit", "--verified"])
            .arg(&b),
    );
    let trail = trail.as_array().unwrap();
    let by_author = |who: &str| {
        trail
            .iter()
            .find(|e| e["author"] == who)
            .unwrap_or_else(|| panic!("no change by {who}: {trail:#?}"))
    };
    let forged = by_author("relay-admin");
    assert_eq!(forged["origin"]["label"], "shared editor", "{forged:#}");
    assert_eq!(forged["origin"]["role"], "editor", "{forged:#}");
    let flag = forged["flags"][0].as_str().unwrap();
    assert!(flag.contains("2 authors: eve, relay-admin"), "{flag}");
    assert_eq!(
        by_author("eve")["origin"]["invite"],
        forged["origin"]["invite"]
    );
    // The plan's first changes came up through the owner's invite when it was shared.
    let first = &trail[0];
    assert_eq!(first["origin"]["label"], "owner", "{first:#}");
    assert_eq!(first["flags"], serde_json::json!([]), "{first:#}");

    // Readable output, and a plan that was never shared is a one-line error.
    arxos()
        .env("ARXOS_ADMIN_TOKEN", TOKEN)
        .args(["audit", "--verified"])
        .arg(&b)
        .assert()
        .success()
        .stdout(predicate::str::contains("! invite"))
        .stdout(predicate::str::contains("`shared editor` (editor)"));
    let lone = import_sample(dir.path(), "lone.arx");
    arxos()
        .env("ARXOS_ADMIN_TOKEN", TOKEN)
        .args(["audit", "--verified"])
        .arg(&lone)
        .assert()
        .failure()
        .stderr(predicate::str::contains("is not shared"));
}
