//! Test support: run the real `arxos-relay` binary on 127.0.0.1 and drive it.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::missing_panics_doc
)] // test-only helpers

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use arxos_doc::file::PlanFile;
use arxos_doc::{
    BuildingSystem, Command, Document, EditContext, ElementId, ElementKind, FloorId, Geometry,
    LayerId, NewElement, Transform,
};
use arxos_sync::admin::{AdminClient, InviteInfo, InviteRequest};
use arxos_sync::client::{ClientConfig, SyncClient};
use arxos_sync::identity::Identity;
use arxos_sync::{DocumentId, Grant, InviteCode, Role};

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
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_arxos-relay"))
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

    /// The running child's process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
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
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
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

/// A client config for `dir/<name>.arx`, as `name`, with a fast backoff for tests. The file
/// may not exist yet: the replica then starts empty and fills by sync.
pub fn config(dir: &Path, name: &str, code: &InviteCode) -> ClientConfig {
    let mut config = ClientConfig::new(code.clone(), dir.join(format!("{name}.arx")));
    config.allow_missing = true;
    config.identity = Identity {
        name: name.to_owned(),
        color: "#336699".into(),
    };
    config.backoff.initial = Duration::from_millis(50);
    config.backoff.max = Duration::from_millis(500);
    config
}

/// Starts a client on `dir/<name>.arx`.
pub fn client(dir: &Path, name: &str, code: &InviteCode) -> SyncClient {
    SyncClient::start(config(dir, name, code)).unwrap()
}

/// An edit by `who` now.
pub fn ctx(who: &str) -> EditContext {
    EditContext::now(who)
}

fn outlet(id: &str, floor: &str, layer: &str, x: f64) -> Command {
    let mut e = NewElement::new(
        ElementKind::Outlet,
        format!("outlet:{id}"),
        FloorId::new(floor),
        LayerId::new(layer),
        Geometry::Point,
        Transform {
            x,
            y: 0.0,
            rotation: 0.0,
        },
    );
    e.id = Some(ElementId::new(id));
    Command::Create(Box::new(e))
}

/// A seeded plan in `path`: floors f1/f2, layers elec/plumb, outlets e1 (f1, elec) and e2
/// (f2, plumb) at x = 0.
pub fn seed_file(path: &Path) {
    let ctx = EditContext::at("seed", 1_700_000_000_000);
    let mut doc = Document::new_empty("Test plan", &ctx).unwrap();
    let mut cmds = Vec::new();
    for (i, f) in ["f1", "f2"].into_iter().enumerate() {
        cmds.push(Command::AddFloor {
            id: FloorId::new(f),
            name: f.to_uppercase(),
            elevation_mm: 3000.0 * i as f64,
            order: i as i64,
        });
    }
    for (l, system) in [
        ("elec", BuildingSystem::Electrical),
        ("plumb", BuildingSystem::Plumbing),
    ] {
        cmds.push(Command::AddLayer {
            id: LayerId::new(l),
            name: l.into(),
            system,
            color: "#000000".into(),
            visible: true,
        });
    }
    cmds.push(outlet("e1", "f1", "elec", 0.0));
    cmds.push(outlet("e2", "f2", "plumb", 0.0));
    doc.apply_batch(&ctx, "seed", cmds).unwrap();
    PlanFile::create(path, &mut doc).unwrap();
}

/// [`seed_file`] for `dir/<name>.arx`, then a client on it: the room's first plan.
pub fn seeded_client(dir: &Path, name: &str, code: &InviteCode) -> SyncClient {
    seed_file(&dir.join(format!("{name}.arx")));
    client(dir, name, code)
}

/// Sets an element's `x`, `y` or `rotation` through a typed command (creating the element,
/// an outlet on f1/elec, when it does not exist). Returns whether the command applied.
pub fn set_elem(c: &SyncClient, id: &str, key: &str, value: f64) {
    let eid = ElementId::new(id);
    let current = c.read(|d| d.element(&eid).map(|e| e.transform));
    let cmd = match (current, key) {
        (None, "x") => outlet(id, "f1", "elec", value),
        (None, _) => panic!("no element {id} to set {key} on"),
        (Some(t), "x") => Command::MoveTo {
            id: eid,
            x: value,
            y: t.y,
        },
        (Some(t), "y") => Command::MoveTo {
            id: eid,
            x: t.x,
            y: value,
        },
        (Some(_), "rotation") => Command::Rotate {
            id: eid,
            rotation_deg: value,
        },
        (Some(_), other) => panic!("set_elem does not know {other}"),
    };
    c.apply(&ctx("test"), &format!("set {id}.{key}"), vec![cmd])
        .unwrap();
}

/// An element's `x`, `y` or `rotation`, if it exists.
pub fn get_elem(c: &SyncClient, id: &str, key: &str) -> Option<f64> {
    c.read(|d| {
        let t = d.element(&ElementId::new(id))?.transform;
        match key {
            "x" => Some(t.x),
            "y" => Some(t.y),
            "rotation" => Some(t.rotation),
            _ => None,
        }
    })
}

/// Whether the client holds the seeded plan.
pub fn has_plan(c: &SyncClient) -> bool {
    c.read(|d| d.is_plan() && d.element(&ElementId::new("e1")).is_some())
}

/// Connected with nothing pending (conflicts allowed: equipment the tests place on top of
/// each other is a spatial conflict, which does not stop syncing).
pub fn in_sync(c: &SyncClient) -> bool {
    let s = c.status();
    s.pending == 0
        && matches!(
            s.state,
            arxos_sync::client::ConnectionState::Connected
                | arxos_sync::client::ConnectionState::Conflict
        )
}

/// The client's heads, sorted.
pub fn heads(c: &SyncClient) -> Vec<automerge::ChangeHash> {
    let mut h = c.heads();
    h.sort();
    h
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
