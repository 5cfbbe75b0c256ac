//! Test support: real `nats-server -js` processes on 127.0.0.1 (one server, or a three-server
//! JetStream cluster) and relay nodes on them. Needs `mod support;` (support/relay.rs) at the
//! test crate's root.
//!
//! Without `nats-server` on the PATH (Debian: `apt-get install nats-server`, in /usr/sbin) a
//! test asking for one prints why and skips, unless `ARXOS_REQUIRE_NATS=1`, when it fails.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::missing_panics_doc
)] // test-only helpers

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use arxos_sync::InviteCode;

use crate::support::RelayProc;

/// The `nats-server` binary, or `None` (after saying why) when the test should skip.
pub fn nats_binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/sbin")])
        .map(|d| d.join("nats-server"))
        .find(|p| p.is_file());
    if found.is_none() {
        assert!(
            std::env::var("ARXOS_REQUIRE_NATS").as_deref() != Ok("1"),
            "ARXOS_REQUIRE_NATS=1 but nats-server is not installed (apt-get install nats-server)"
        );
        eprintln!("skipped: nats-server is not on the PATH (apt-get install nats-server)");
    }
    found
}

/// A free loopback port (bound and released; the tests' servers take it right away).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `nats-server -js` child on a free loopback port with its store in a temporary folder,
/// alone or one of a [`NatsCluster`].
pub struct Nats {
    bin: PathBuf,
    child: Option<Child>,
    pub port: u16,
    store: PathBuf,
    /// More server flags: cluster routes and monitoring when one of three, authorization or
    /// TLS when a test asks for them.
    cluster_args: Vec<String>,
    /// The monitoring port, when the server has one.
    pub monitor: Option<u16>,
    /// The log of the last start (`None` before the first).
    log: Option<PathBuf>,
}

impl Nats {
    pub fn start(bin: PathBuf, dir: &Path) -> Self {
        Self::start_with(bin, dir, &[])
    }

    /// A server started with more flags (`--user`, `--tls`…).
    pub fn start_with(bin: PathBuf, dir: &Path, flags: &[&str]) -> Self {
        let mut nats = Self {
            bin,
            child: None,
            port: free_port(),
            store: dir.join("nats-store"),
            cluster_args: flags.iter().map(|f| (*f).to_owned()).collect(),
            monitor: None,
            log: None,
        };
        nats.spawn();
        nats
    }

    /// Starts (or restarts, on the same port and store) the server and waits until it says it
    /// is ready. A port taken between [`free_port`] and the server's bind (by a parallel test)
    /// makes the server exit at once: a first start then retries on another port, rather than
    /// taking whatever else answers on that port for this server.
    pub fn spawn(&mut self) {
        let first = self.log.is_none();
        for attempt in 0..5 {
            match self.try_spawn() {
                Ok(()) => return,
                Err(log) if first && attempt < 4 => {
                    eprintln!(
                        "nats-server on port {} did not start; another port: {log}",
                        self.port
                    );
                    self.port = free_port();
                }
                Err(log) => panic!("nats-server on port {} did not start: {log}", self.port),
            }
        }
    }

    /// One start; on failure, the server's log.
    fn try_spawn(&mut self) -> Result<(), String> {
        let log_path = self.store.with_extension(format!("{}.log", self.port));
        let log = std::fs::File::create(&log_path).expect("create the nats-server log");
        let mut child = Command::new(&self.bin)
            .args([
                "-js",
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-sd",
            ])
            .arg(&self.store)
            .args(&self.cluster_args)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn nats-server");
        self.log = Some(log_path.clone());
        let read_log = || std::fs::read_to_string(&log_path).unwrap_or_default();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = child.try_wait().expect("wait for nats-server") {
                return Err(format!("exited ({status}): {}", read_log()));
            }
            if read_log().contains("Server is ready")
                && TcpStream::connect(("127.0.0.1", self.port)).is_ok()
            {
                self.child = Some(child);
                return Ok(());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("not ready in 10 s: {}", read_log()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// A relay node of this server, its data folder `dir/<name>`.
    pub fn node(&self, dir: &Path, name: &str, extra: &[&str]) -> RelayProc {
        let url = self.url();
        let mut args = vec!["--cluster", url.as_str()];
        args.extend_from_slice(extra);
        RelayProc::start(&dir.join(name), &args)
    }

    /// A monitoring endpoint's body (`/healthz`, `/jsz?…`), `None` when it does not answer.
    pub fn monitor_get(&self, path: &str) -> Option<String> {
        use std::io::{Read, Write};
        let mut s = TcpStream::connect(("127.0.0.1", self.monitor?)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        // HTTP/1.0: a large answer comes whole, not in chunks.
        write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        let (head, body) = out.split_once("\r\n\r\n")?;
        head.contains(" 200 ").then(|| body.to_owned())
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Three `nats-server -js` processes routed into one JetStream cluster on loopback, each with
/// its own store, client port and monitoring port.
pub struct NatsCluster {
    pub servers: Vec<Nats>,
}

impl NatsCluster {
    /// Starts the three servers and waits (bounded) until every one reports JetStream healthy,
    /// which needs a meta leader: before that, creating an R3 stream fails.
    pub fn start(bin: &Path, dir: &Path) -> Self {
        let routes: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let route_list = routes
            .iter()
            .map(|p| format!("nats://127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",");
        let servers = (0..3)
            .map(|i| {
                let monitor = free_port();
                let mut nats = Nats {
                    bin: bin.to_owned(),
                    child: None,
                    port: free_port(),
                    store: dir.join(format!("nats-{i}")),
                    cluster_args: vec![
                        "--name".into(),
                        format!("n{i}"),
                        "--cluster_name".into(),
                        "arxos-test".into(),
                        "--cluster".into(),
                        format!("nats://127.0.0.1:{}", routes[i]),
                        "--routes".into(),
                        route_list.clone(),
                        "-m".into(),
                        monitor.to_string(),
                    ],
                    monitor: Some(monitor),
                    log: None,
                };
                nats.spawn();
                nats
            })
            .collect();
        let cluster = Self { servers };
        cluster.wait_healthy(Duration::from_secs(30));
        cluster
    }

    /// Waits until every running server's `/healthz` answers 200 (JetStream current).
    pub fn wait_healthy(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let healthy = self
                .servers
                .iter()
                .filter(|s| s.child.is_some())
                .all(|s| s.monitor_get("/healthz").is_some());
            if healthy {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the NATS cluster did not become healthy in {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Every server's client address, comma-separated, for `--cluster`.
    pub fn urls(&self) -> String {
        self.servers
            .iter()
            .map(Nats::url)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// A relay node on all three servers with R3 streams and buckets.
    pub fn node(&self, dir: &Path, name: &str) -> RelayProc {
        let urls = self.urls();
        RelayProc::start(
            &dir.join(name),
            &["--cluster", &urls, "--cluster-replicas", "3"],
        )
    }

    /// The index of the server leading `stream` (its writes go through the leader, so killing
    /// it forces an election mid-storm), asked of each running server's monitoring endpoint
    /// until one names it (bounded: 10 s).
    pub fn stream_leader(&self, stream: &str) -> Option<usize> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            for server in self.servers.iter().filter(|s| s.child.is_some()) {
                let leader = server
                    .monitor_get("/jsz?accounts=true&streams=true")
                    .and_then(|body| leader_in(&body, stream));
                if leader.is_some() {
                    return leader;
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        None
    }
}

/// The leader of `stream` in a `/jsz?accounts=true&streams=true` answer (`n<index>`).
fn leader_in(body: &str, stream: &str) -> Option<usize> {
    let json: serde_json::Value = serde_json::from_str(body).ok()?;
    json["account_details"]
        .as_array()?
        .iter()
        .flat_map(|account| account["stream_detail"].as_array().into_iter().flatten())
        .find(|s| s["name"] == stream)?["cluster"]["leader"]
        .as_str()?
        .strip_prefix('n')?
        .parse()
        .ok()
}

/// The same invite, pointed at another node (a load balancer would pick one).
pub fn via(code: &InviteCode, node: &RelayProc) -> InviteCode {
    InviteCode {
        relay: node.ws(),
        ..code.clone()
    }
}

/// One NATS server and two relay nodes on it, or `None` when the test skips.
pub fn cluster(dir: &Path, extra: &[&str]) -> Option<(Nats, RelayProc, RelayProc)> {
    let nats = Nats::start(nats_binary()?, dir);
    let a = nats.node(dir, "node-a", extra);
    let b = nats.node(dir, "node-b", extra);
    Some((nats, a, b))
}
