//! Interop: a stock JavaScript automerge-repo client (`@automerge/automerge-repo` with its
//! WebSocket adapter) connects to the relay with the invite URL, reads and writes the plan.
//!
//! A refused change (a viewer's write, an editor's write outside its grant) leaves that
//! client quiet: a handful of messages in 5 idle seconds, not thousands, and it still
//! receives everyone else's edits.
//!
//! Needs `npm ci` in `tests/js`; skipped with a printed reason when the packages are missing,
//! unless `ARXOS_REQUIRE_JS=1`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

#[path = "support/relay.rs"]
mod support;

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use arxos_sync::{Grant, Role};
use support::{RelayProc, eventually, get_elem, seeded_client, set_elem};

const T: Duration = Duration::from_secs(20);

fn js_ready(js: &Path) -> Result<(), String> {
    if Command::new("node").arg("--version").output().is_err() {
        return Err("node is not installed".into());
    }
    for pkg in ["automerge-repo", "automerge-repo-network-websocket"] {
        if !js.join("node_modules/@automerge").join(pkg).exists() {
            return Err(format!(
                "@automerge/{pkg} not installed (run `npm ci` in {})",
                js.display()
            ));
        }
    }
    Ok(())
}

/// The fixture folder, or `None` (with the reason printed) when the test must skip.
fn js_folder() -> Option<PathBuf> {
    let js = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js");
    if let Err(reason) = js_ready(&js) {
        assert!(
            std::env::var("ARXOS_REQUIRE_JS").as_deref() != Ok("1"),
            "JS interop required but {reason}"
        );
        eprintln!("skipping JS interop test: {reason}");
        return None;
    }
    Some(js)
}

/// A relay with one room and its owner's client on the seeded plan, in sync.
fn room_with_owner(
    dir: &Path,
) -> (
    RelayProc,
    arxos_sync::DocumentId,
    arxos_sync::client::SyncClient,
) {
    let relay = RelayProc::start(&dir.join("relay"), &[]);
    let (doc, owner_code) = relay.create_room(false);
    let owner = seeded_client(dir, "owner", &owner_code);
    owner.wait_synced(T).unwrap();
    (relay, doc, owner)
}

#[test]
fn automerge_repo_js_client_reads_and_writes_through_the_relay() {
    let Some(js) = js_folder() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (relay, doc, owner) = room_with_owner(dir.path());

    let (_, editor) = relay.invite(doc, Role::Editor, Grant::default(), None);
    let out = Command::new("node")
        .arg(js.join("interop.mjs"))
        .arg(editor.ws_url())
        .arg(doc.automerge_url())
        .current_dir(&js)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "node failed:\n{stdout}\n{stderr}");
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let read = lines
        .iter()
        .find(|v| v["event"] == "read")
        .expect("read event");
    assert_eq!(read["name"], "Test plan");
    assert_eq!(read["elements"], serde_json::json!(["e1", "e2"]));
    assert!(lines.iter().any(|v| v["event"] == "wrote"));
    eventually(T, "the JS client's element reaches the Rust client", || {
        get_elem(&owner, "js-1", "x") == Some(7.5)
    });
}

/// Runs `refusal.mjs` with `code`, changing `element`; once it reports its idle window, the
/// owner adds an element the JS client must then receive. Returns the idle window's counts.
fn refused_client_stays_quiet(
    js: &Path,
    relay: &RelayProc,
    doc: arxos_sync::DocumentId,
    owner: &arxos_sync::client::SyncClient,
    code: &arxos_sync::InviteCode,
    element: &str,
    after: &str,
) -> (u64, u64) {
    let refused_before = relay.metric("arxos_relay_refused_changes_total");
    let mut child = Command::new("node")
        .arg(js.join("refusal.mjs"))
        .arg(code.ws_url())
        .arg(doc.automerge_url())
        .arg(element)
        .arg(after)
        .current_dir(js)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next_event = || -> serde_json::Value {
        loop {
            let line = lines
                .next()
                .expect("node exited without reporting")
                .unwrap();
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
                assert_ne!(v["event"], "error", "node failed: {v}");
                return v;
            }
        }
    };
    let idle = next_event();
    assert_eq!(idle["event"], "idle", "{idle}");
    assert!(
        relay.metric("arxos_relay_refused_changes_total") > refused_before,
        "the relay refused the change"
    );
    set_elem(owner, after, "x", 3.0);
    let received = next_event();
    assert_eq!(received["event"], "received", "{received}");
    assert_eq!(received["x"], 3.0);
    assert!(child.wait().unwrap().success());
    (
        idle["received"].as_u64().unwrap(),
        idle["sent"].as_u64().unwrap(),
    )
}

#[test]
fn a_refused_js_client_is_left_quiet_and_still_receives_edits() {
    let Some(js) = js_folder() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (relay, doc, owner) = room_with_owner(dir.path());

    let (_, viewer) = relay.invite(doc, Role::Viewer, Grant::default(), None);
    let (received, sent) =
        refused_client_stays_quiet(&js, &relay, doc, &owner, &viewer, "e1", "after-viewer");
    eprintln!("viewer, 5 idle seconds after a refusal: {received} in, {sent} out");
    assert!(
        received + sent <= 10,
        "a refused viewer kept talking: {received} messages in, {sent} out"
    );

    let first_floor = Grant {
        floors: vec!["f1".into()],
        layers: Vec::new(),
    };
    let (_, editor) = relay.invite(doc, Role::Editor, first_floor, None);
    // e2 is on f2, outside the grant.
    let (received, sent) =
        refused_client_stays_quiet(&js, &relay, doc, &owner, &editor, "e2", "after-editor");
    eprintln!(
        "editor outside its grant, 5 idle seconds after a refusal: {received} in, {sent} out"
    );
    assert!(
        received + sent <= 10,
        "an editor refused outside its grant kept talking: {received} in, {sent} out"
    );
    // Whatever the relay holds, the refused values never reached it.
    assert_eq!(get_elem(&owner, "e1", "x"), Some(0.0));
    assert_eq!(get_elem(&owner, "e2", "x"), Some(0.0));
}
