//! Test support: run the real `arxos-relay` binary on 127.0.0.1 and drive it.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::missing_panics_doc
)] // test-only helpers

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use arxos_doc::schema::{ELEMENT_FLOOR, ELEMENT_LAYER, root};
use arxos_sync::admin::{AdminClient, InviteInfo, InviteRequest};
use arxos_sync::client::{ClientConfig, SyncClient};
use arxos_sync::store::LocalStore;
use arxos_sync::{DocumentId, Grant, InviteCode, Role};
use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjType, ROOT, ReadDoc};

pub const TOKEN: &str = "test-admin-token";

/// A relay child process.
pub struct RelayProc {
    child: Option<Child>,
    pub port: u16,
    pub data: PathBuf,
    pub args: Vec<String>,
}

impl RelayProc {
    pub fn start(data: &Path, extra: &[&str]) -> Self {
        let mut relay = Self {
            child: None,
            port: 0,
            data: data.to_owned(),
            args: extra.iter().map(|s| (*s).to_owned()).collect(),
        };
        relay.spawn();
        relay
    }

    /// Starts the relay: on a port it picks itself the first time (no races between tests),
    /// on the same port again after a kill.
    pub fn spawn(&mut self) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_arxos-relay"))
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--data")
            .arg(&self.data)
            .arg("--admin-token")
            .arg(TOKEN)
            .args(&self.args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn arxos-relay");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
        let port = loop {
            let line = lines
                .next()
                .expect("relay exited before listening")
                .unwrap();
            if let Some(addr) = line
                .strip_prefix("listening on ws://")
                .or_else(|| line.strip_prefix("listening on wss://"))
            {
                break addr.rsplit(':').next().unwrap().trim().parse().unwrap();
            }
        };
        self.port = port;
        self.child = Some(child);
        if self.args.iter().any(|a| a == "--tls-cert") {
            return; // listening was announced; /healthz is behind TLS
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.http_get("/healthz").is_some_and(|b| b.contains("ok")) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("relay did not become healthy");
    }

    /// SIGKILL, no cleanup.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// SIGTERM and wait for a clean exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let child = self.child.as_mut().expect("running");
        let pid = child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                self.child = None;
                return status;
            }
            assert!(Instant::now() < deadline, "relay did not exit on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn ws(&self) -> String {
        format!("ws://127.0.0.1:{}", self.port)
    }

    pub fn admin(&self) -> AdminClient {
        AdminClient::new(&self.ws(), TOKEN).unwrap()
    }

    pub fn http_get(&self, path: &str) -> Option<String> {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        Some(out)
    }

    /// The value of a metric line `name value`.
    pub fn metric(&self, name: &str) -> u64 {
        let text = self.http_get("/metrics").unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("metric {name} missing"))
    }

    pub fn create_room(&self, hard_locks: bool) -> (DocumentId, InviteCode) {
        let room = self.admin().create_room(None, hard_locks).unwrap();
        (room.doc_id, room.owner_code)
    }

    pub fn invite(
        &self,
        doc: DocumentId,
        role: Role,
        grant: Grant,
        expires: Option<u64>,
    ) -> (InviteInfo, InviteCode) {
        let info = self
            .admin()
            .create_invite(&InviteRequest {
                doc_id: doc,
                role,
                grant,
                expires_in_secs: expires,
                label: role.to_string(),
            })
            .unwrap();
        let code = InviteCode::parse(info.code.as_deref().unwrap()).unwrap();
        (info, code)
    }
}

impl Drop for RelayProc {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Starts a client on `dir/<name>.arx` (fast backoff for tests).
pub fn client(dir: &Path, name: &str, code: &InviteCode) -> SyncClient {
    let mut config = ClientConfig::new(
        code.clone(),
        LocalStore::beside(&dir.join(format!("{name}.arx"))),
    );
    name.clone_into(&mut config.user);
    config.backoff.initial = Duration::from_millis(50);
    config.backoff.max = Duration::from_millis(500);
    SyncClient::start(config).unwrap()
}

/// A seeded plan: floors f1/f2, layers elec/plumb, elements e1 (f1, elec) and e2 (f2, plumb).
pub fn seed(doc: &mut AutoCommit) {
    let meta = doc.put_object(ROOT, root::META, ObjType::Map).unwrap();
    doc.put(&meta, "name", "Test plan").unwrap();
    doc.put_object(ROOT, root::FLOORS, ObjType::Map).unwrap();
    doc.put_object(ROOT, root::LAYERS, ObjType::Map).unwrap();
    doc.put_object(ROOT, root::COMMENTS, ObjType::Map).unwrap();
    let elements = doc.put_object(ROOT, root::ELEMENTS, ObjType::Map).unwrap();
    for (id, floor, layer) in [("e1", "f1", "elec"), ("e2", "f2", "plumb")] {
        let e = doc.put_object(&elements, id, ObjType::Map).unwrap();
        doc.put(&e, "kind", "outlet").unwrap();
        doc.put(&e, ELEMENT_FLOOR, floor).unwrap();
        doc.put(&e, ELEMENT_LAYER, layer).unwrap();
        doc.put(&e, "x", 0.0).unwrap();
    }
}

pub fn map(doc: &AutoCommit, parent: &automerge::ObjId, key: &str) -> Option<automerge::ObjId> {
    match doc.get(parent, key).unwrap() {
        Some((automerge::Value::Object(ObjType::Map), id)) => Some(id),
        _ => None,
    }
}

/// Sets `elements/<id>/<key>` (creating the element map if needed).
pub fn set_elem(doc: &mut AutoCommit, id: &str, key: &str, value: f64) {
    let elements = map(doc, &ROOT, root::ELEMENTS).unwrap();
    let e = match map(doc, &elements, id) {
        Some(e) => e,
        None => doc.put_object(&elements, id, ObjType::Map).unwrap(),
    };
    doc.put(&e, key, value).unwrap();
}

pub fn get_elem(doc: &AutoCommit, id: &str, key: &str) -> Option<f64> {
    let elements = map(doc, &ROOT, root::ELEMENTS)?;
    let e = map(doc, &elements, id)?;
    doc.get(&e, key).unwrap().and_then(|(v, _)| v.as_f64())
}

/// Waits (bounded) until `f` holds.
pub fn eventually(timeout: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("timed out after {timeout:?} waiting for: {what}");
}
