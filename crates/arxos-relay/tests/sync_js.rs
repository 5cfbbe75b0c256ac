//! Interop: a stock JavaScript automerge-repo client (`@automerge/automerge-repo` with its
//! WebSocket adapter) connects to the relay with the invite URL, reads and writes the plan.
//!
//! Needs `npm ci` in `tests/js`; skipped with a printed reason when the packages are missing,
//! unless `ARXOS_REQUIRE_JS=1`.

#[path = "support/relay.rs"]
mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use arxos_sync::{Grant, Role};
use support::{RelayProc, eventually, get_elem, seeded_client};

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

#[test]
fn automerge_repo_js_client_reads_and_writes_through_the_relay() {
    let js = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js");
    if let Err(reason) = js_ready(&js) {
        assert!(
            std::env::var("ARXOS_REQUIRE_JS").as_deref() != Ok("1"),
            "JS interop required but {reason}"
        );
        eprintln!("skipping JS interop test: {reason}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let relay = RelayProc::start(&dir.path().join("relay"), &[]);
    let (doc, owner_code) = relay.create_room(false);
    let owner = seeded_client(dir.path(), "owner", &owner_code);
    owner.wait_synced(T).unwrap();

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
