//! Steering a running session from another program: `arxos sync pause|resume|push|pull|
//! queue|reset|reset-to-server`, `arxos presence set-status|show`, `arxos follow`, over the
//! session's control socket; and the at-rest forms on a file no session runs on. Real
//! processes, a real relay on 127.0.0.1, bounded waits. Each test has a runtime folder of its
//! own, so the sockets of parallel tests never meet.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;
use serde_json::Value;

#[path = "support/live.rs"]
mod live;
#[path = "support/cli.rs"]
mod support;

use live::{Proc, TOKEN, eventually, relay};
use support::{fails_with, import_sample, json};

const T: Duration = Duration::from_secs(30);

/// A relay, a shared plan (`a.arx`, the other side) and a runtime folder for sockets.
struct World {
    dir: tempfile::TempDir,
    _relay: Proc,
    run: PathBuf,
    code: String,
    a: PathBuf,
}

impl World {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (relay, url) = relay(dir.path());
        let run = dir.path().join("run");
        let a = import_sample(dir.path(), "a.arx");
        let shared = json(
            support::arxos()
                .env("ARXOS_ADMIN_TOKEN", TOKEN)
                .arg("share")
                .arg(&a)
                .args(["--relay", &url]),
        );
        let code = shared["invite"].as_str().unwrap().to_owned();
        Self {
            dir,
            _relay: relay,
            run,
            code,
            a,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `arxos` with this world's runtime folder.
    fn arxos(&self) -> Command {
        let mut c = support::arxos();
        c.env("XDG_RUNTIME_DIR", &self.run);
        c
    }

    /// A running `arxos join` into `name`, as `user`.
    fn join(&self, name: &str, user: &str) -> (Proc, PathBuf) {
        let file = self.path(name);
        let p = Proc::spawn_with(
            &["join", &self.code, "-o", file.to_str().unwrap()],
            &[
                ("XDG_RUNTIME_DIR", self.run.as_os_str()),
                ("USER", OsStr::new(user)),
            ],
        );
        p.expect("joined ");
        (p, file)
    }

    /// Sets `what` in `file` as `who` (a separate program writing the file).
    fn set(&self, file: &Path, what: &str, who: &str) {
        self.arxos()
            .arg("set")
            .arg(file)
            .args([what, "--as", who])
            .assert()
            .success();
    }

    fn get(&self, file: &Path, what: &str) -> String {
        let out = self
            .arxos()
            .arg("get")
            .arg(file)
            .arg(what)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// What the relay holds of `what`, as the other side sees it after a sync.
    fn relay_has(&self, what: &str) -> String {
        self.arxos().arg("sync").arg(&self.a).assert().success();
        self.get(&self.a, what)
    }

    fn sync(&self, args: &[&str], file: &Path) -> Value {
        let mut c = self.arxos();
        c.arg("sync").args(args).arg(file);
        json(&mut c)
    }

    fn queue(&self, file: &Path) -> Vec<Value> {
        self.sync(&["queue"], file).as_array().unwrap().clone()
    }
}

const VOLTS: &str = "outlet:R01-1.voltage";
const NAME: &str = "room:R01.name";

#[test]
fn a_paused_session_queues_edits_and_sends_them_on_resume() {
    let w = World::new();
    let (_join, j) = w.join("j.arx", "tester");
    let paused = w.sync(&["pause"], &j);
    assert_eq!(paused["changed"], true);
    assert_eq!(paused["status"]["paused"], true);
    // The session leaves the relay right after.
    eventually(T, "the paused session goes offline", || {
        w.sync(&["stats"], &j)["live"]["state"] == "offline"
    });
    // Pausing twice changes nothing and says so.
    assert_eq!(w.sync(&["pause"], &j)["changed"], false);
    // Stats and diagnose ask the running session too.
    let stats = w.sync(&["stats"], &j);
    assert_eq!(stats["live"]["paused"], true, "{stats}");
    let diagnosis = w
        .arxos()
        .args(["sync", "diagnose"])
        .arg(&j)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&diagnosis.stdout);
    assert!(text.contains("auto-sync is paused"), "{text}");

    w.set(&j, &format!("{VOLTS}=333"), "cli");
    // The session merges the edit and queues it, with who, what and which element.
    eventually(T, "the edit is queued", || w.queue(&j).len() == 1);
    let queued = &w.queue(&j)[0];
    assert_eq!(queued["author"], "cli");
    assert!(queued["summary"].as_str().unwrap().contains("voltage=333"));
    assert_eq!(queued["elements"].as_array().unwrap().len(), 1);
    // Paused means nothing left: the relay does not have it.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(w.relay_has(VOLTS), "230 V");

    let resumed = w.sync(&["resume"], &j);
    assert_eq!(resumed["changed"], true);
    assert_eq!(resumed["status"]["paused"], false);
    eventually(T, "the queued edit reaches the relay", || {
        w.relay_has(VOLTS) == "333 V"
    });
    eventually(T, "the queue empties", || w.queue(&j).is_empty());
}

#[test]
fn push_and_pull_each_go_one_way_only() {
    let w = World::new();
    let (_join, j) = w.join("j.arx", "tester");
    w.sync(&["pause"], &j);
    w.set(&j, &format!("{VOLTS}=333"), "cli");
    eventually(T, "the edit is queued", || w.queue(&j).len() == 1);
    w.set(&w.a, &format!("{NAME}=Remote"), "other");
    w.arxos().arg("sync").arg(&w.a).assert().success();

    // Pull: theirs arrives, ours stays queued.
    let pulled = w.sync(&["pull"], &j);
    assert_eq!(pulled["received"], 1);
    assert_eq!(pulled["sent"], 0);
    assert_eq!(pulled["pending"], 1);
    assert_eq!(w.get(&j, NAME), "Remote");
    assert_eq!(w.relay_has(VOLTS), "230 V");

    // Push: ours leaves, a newer change of theirs does not arrive.
    w.set(&w.a, &format!("{NAME}=Newer"), "other");
    w.arxos().arg("sync").arg(&w.a).assert().success();
    let pushed = w.sync(&["push"], &j);
    assert_eq!(pushed["sent"], 1);
    assert_eq!(pushed["pending"], 0);
    assert_eq!(w.relay_has(VOLTS), "333 V");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(w.get(&j, NAME), "Remote");
    assert!(w.queue(&j).is_empty());

    // Still paused after both; resuming takes the rest.
    w.sync(&["resume"], &j);
    eventually(T, "the newer change arrives on resume", || {
        w.get(&j, NAME) == "Newer"
    });
}

#[test]
fn queue_clear_sets_changes_aside_and_the_resets_keep_a_backup_first() {
    let w = World::new();
    let (_join, j) = w.join("j.arx", "tester");
    w.sync(&["pause"], &j);
    w.set(&j, &format!("{VOLTS}=111"), "cli");
    eventually(T, "the edit is queued", || w.queue(&j).len() == 1);

    fails_with(
        w.arxos().args(["sync", "queue", "clear"]).arg(&j),
        "add --confirm",
    );
    let cleared = w.sync(&["queue", "clear", "--confirm"], &j);
    assert_eq!(cleared["set_aside"], 1);
    let kept = PathBuf::from(cleared["kept_in"].as_str().unwrap());
    assert!(
        kept.is_file(),
        "the queued change is kept in {}",
        kept.display()
    );
    assert_eq!(w.get(&j, VOLTS), "230 V");
    assert_eq!(w.get(&kept, VOLTS), "111 V", "nothing is deleted");
    assert!(w.queue(&j).is_empty());

    // Reset to the relay's copy: a local edit leaves the plan, and stays in the backup.
    w.set(&j, &format!("{VOLTS}=112"), "cli");
    eventually(T, "the edit is queued", || w.queue(&j).len() == 1);
    fails_with(
        w.arxos().args(["sync", "reset-to-server"]).arg(&j),
        "add --confirm",
    );
    let reset = w.sync(&["reset-to-server", "--confirm"], &j);
    let name = reset["backup"]["name"].as_str().unwrap().to_owned();
    assert!(reset["fetched"]["received"].as_u64().unwrap() > 0);
    assert_eq!(w.get(&j, VOLTS), "230 V");
    assert!(w.queue(&j).is_empty());
    let backups = json(w.arxos().args(["backup", "list"]).arg(&j));
    assert!(
        backups.to_string().contains(&name),
        "{name} is listed: {backups}"
    );
    // The session is still paused, and goes on from the relay's copy once resumed.
    w.sync(&["resume"], &j);
    w.set(&w.a, &format!("{NAME}=After"), "other");
    w.arxos().arg("sync").arg(&w.a).assert().success();
    eventually(T, "the session syncs after the reset", || {
        w.get(&j, NAME) == "After"
    });

    // A plain reset keeps the plan and compares everything afresh.
    let reset = w.sync(&["reset", "--confirm"], &j);
    assert!(
        reset["backup"]["name"]
            .as_str()
            .unwrap()
            .starts_with("before-reset-")
    );
    assert!(reset["fetched"].is_null());
    w.set(&j, &format!("{VOLTS}=444"), "cli");
    eventually(T, "the session syncs after a sync-state reset", || {
        w.relay_has(VOLTS) == "444 V"
    });
}

#[test]
fn at_rest_the_queue_push_and_pull_act_on_the_file_and_live_only_controls_say_none_runs() {
    let w = World::new();
    let j = w.path("j.arx");
    w.arxos()
        .args(["clone", &w.code, "-o"])
        .arg(&j)
        .assert()
        .success();
    for args in [
        vec!["sync", "pause"],
        vec!["sync", "resume"],
        vec!["presence", "show"],
    ] {
        fails_with(w.arxos().args(&args).arg(&j), "no session is running on");
    }
    fails_with(
        w.arxos().args(["follow", "someone"]).arg(&j),
        "no session is running on",
    );

    w.set(&j, &format!("{VOLTS}=333"), "cli");
    let queued = w.queue(&j);
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0]["author"], "cli");
    w.set(&w.a, &format!("{NAME}=Remote"), "other");
    w.arxos().arg("sync").arg(&w.a).assert().success();

    let pulled = w.sync(&["pull"], &j);
    assert_eq!(
        (pulled["received"].as_u64(), pulled["pending"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(w.get(&j, NAME), "Remote");
    assert_eq!(w.relay_has(VOLTS), "230 V");
    let pushed = w.sync(&["push"], &j);
    assert_eq!(pushed["pending"], 0);
    assert_eq!(w.relay_has(VOLTS), "333 V");
    assert!(w.queue(&j).is_empty());
}

#[test]
fn presence_status_is_seen_by_the_others_and_follow_streams_it() {
    let w = World::new();
    let (_ana, j) = w.join("j.arx", "ana");
    let (_ben, k) = w.join("k.arx", "ben");
    eventually(T, "ben sees ana", || {
        w.arxos()
            .args(["presence", "show", "--json"])
            .arg(&k)
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("\"ana\""))
    });
    // Without a file, the only session is meant; with two running, the command says which.
    fails_with(
        w.arxos().args(["presence", "show"]),
        "2 sessions are running; name the plan file",
    );
    fails_with(
        w.arxos().args(["follow", "nobody"]).arg(&k),
        "nobody named `nobody` is in the session (present: ana)",
    );

    let follow = Proc::spawn_with(
        &["follow", "ana", k.to_str().unwrap(), "--for", "20"],
        &[("XDG_RUNTIME_DIR", w.run.as_os_str())],
    );
    follow.expect("{\"peer\"");
    let set = json(
        w.arxos()
            .args([
                "presence",
                "set-status",
                "on site",
                "--state",
                "away",
                "--file",
            ])
            .arg(&j),
    );
    assert_eq!(set["activity"], "on site");
    // The next update of ana's that carries the status (a cursor or re-announce may come
    // first).
    let line = loop {
        let rest = follow.expect_within("{\"peer\"", T);
        let line: Value = serde_json::from_str(&format!("{{\"peer\"{rest}")).unwrap();
        if line["presence"]["activity"] == "on site" {
            break line;
        }
    };
    assert_eq!(line["presence"]["user"], "ana");
    assert_eq!(line["presence"]["activity"], "on site");
    assert_eq!(line["presence"]["status"], "away");
    let people = json(w.arxos().args(["presence", "show"]).arg(&k));
    let ana = &people["others"][0]["presence"];
    assert_eq!(
        (ana["user"].as_str(), ana["activity"].as_str()),
        (Some("ana"), Some("on site"))
    );
    fails_with(
        w.arxos()
            .args(["presence", "set-status", "x", "--state", "asleep", "--file"])
            .arg(&j),
        "`asleep` is not a state: use online, away or editing",
    );
}

#[test]
fn the_control_socket_is_private_and_a_second_session_on_the_file_does_not_steal_it() {
    use std::os::unix::fs::PermissionsExt as _;
    let w = World::new();
    let (_first, j) = w.join("j.arx", "tester");
    let folder = w.run.join("arxos");
    eventually(T, "the session's control socket", || {
        std::fs::read_dir(&folder).is_ok_and(|mut d| d.next().is_some())
    });
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&folder), 0o700);
    let sockets: Vec<PathBuf> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(sockets.len(), 1);
    assert_eq!(mode(&sockets[0]), 0o600);

    // Garbage and oversized requests get an error, and the session goes on.
    {
        use std::io::{BufRead as _, BufReader, Write as _};
        let mut conn = std::os::unix::net::UnixStream::connect(&sockets[0]).unwrap();
        conn.set_read_timeout(Some(T)).unwrap();
        conn.write_all(b"not json\n{\"op\":\"explode\"}\n").unwrap();
        let mut reader = BufReader::new(conn.try_clone().unwrap());
        for _ in 0..2 {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let reply: Value = serde_json::from_str(&line).unwrap();
            assert_eq!(reply["ok"], false);
            assert!(
                reply["error"]
                    .as_str()
                    .unwrap()
                    .contains("not a control request")
            );
        }
        conn.write_all(&vec![b'x'; 100 * 1024]).unwrap();
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        assert!(line.contains("a request is at most"), "{line}");
    }
    assert_eq!(w.sync(&["queue"], &j), serde_json::json!([]));

    // A second join on the same file keeps it in sync too, but the controls stay with the
    // first, and it says so.
    let second = Proc::spawn_with(
        &["join", &w.code, "-o", j.to_str().unwrap()],
        &[("XDG_RUNTIME_DIR", w.run.as_os_str())],
    );
    second.expect("warning: another session on");
    assert_eq!(w.sync(&["pause"], &j)["changed"], true);

    // A folder others may enter is refused rather than used.
    let open_run = w.path("open-run");
    std::fs::create_dir_all(open_run.join("arxos")).unwrap();
    std::fs::set_permissions(
        open_run.join("arxos"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    fails_with(
        support::arxos()
            .env("XDG_RUNTIME_DIR", &open_run)
            .args(["sync", "pause"])
            .arg(&j),
        "must be a folder only you can use",
    );
}
