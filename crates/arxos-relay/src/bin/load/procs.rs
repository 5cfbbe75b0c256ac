//! The processes a load run starts: one `arxos-relay` on files, or a cluster of relay nodes on
//! a `nats-server -js` of its own; and the measured cost of one JetStream acknowledgement.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

/// A child process killed (and reaped) when dropped.
pub struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What a run started: the relay addresses (one per node), the admin token, the first node's
/// process id (for CPU and memory), the NATS address in cluster mode, and the children.
pub struct Started {
    pub urls: Vec<String>,
    pub token: String,
    pub pid: u32,
    pub nats: Option<String>,
    /// Relay nodes first, NATS last, so that dropping them stops the nodes before NATS.
    pub _children: Vec<Proc>,
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn wait_listening(port: u16, what: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            bail!("{what} did not start listening on 127.0.0.1:{port}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// Starts one relay on files (`nodes == 0`), or `nodes` relay nodes on a `nats-server -js`
/// started here (from the PATH or /usr/sbin), each with a data folder under `data`.
pub fn start(data: &Path, nodes: usize, extra: &[String]) -> anyhow::Result<Started> {
    let token = "load-admin-token".to_owned();
    let mut children = Vec::new();
    let mut nats = None;
    if nodes > 0 {
        let port = free_port()?;
        let store = data.join("nats");
        let child = Command::new(nats_binary()?)
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(&store)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting nats-server")?;
        let nats_proc = Proc(child);
        wait_listening(port, "nats-server")?;
        nats = Some((format!("nats://127.0.0.1:{port}"), nats_proc));
    }
    let exe = std::env::current_exe()?
        .parent()
        .context("no exe folder")?
        .join("arxos-relay");
    let mut urls = Vec::new();
    let mut pid = 0;
    for node in 0..nodes.max(1) {
        let port = free_port()?;
        let mut cmd = Command::new(&exe);
        cmd.args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--admin-token",
            &token,
        ])
        .arg("--data")
        .arg(data.join(format!("node-{node}")))
        .args(["--rate", "100000", "--burst", "100000"])
        .args(extra);
        if let Some((url, _)) = &nats {
            cmd.args(["--cluster", url]);
        }
        let child = cmd
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", exe.display()))?;
        if node == 0 {
            pid = child.id();
        }
        children.push(Proc(child));
        wait_listening(port, "arxos-relay")?;
        urls.push(format!("ws://127.0.0.1:{port}"));
    }
    let nats_url = nats.map(|(url, child)| {
        children.push(child);
        url
    });
    Ok(Started {
        urls,
        token,
        pid,
        nats: nats_url,
        _children: children,
    })
}

fn nats_binary() -> anyhow::Result<std::path::PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([std::path::PathBuf::from("/usr/sbin")])
        .map(|d| d.join("nats-server"))
        .find(|p| p.is_file())
        .context("--cluster-nodes needs nats-server (apt-get install nats-server)")
}

/// The round trip of one JetStream publish and its acknowledgement, as the relay makes one
/// per change batch (a file-storage stream, one replica): `samples` small messages published
/// one after another on a scratch stream, each awaited; the sorted round trips in µs.
pub async fn ack_round_trips(nats: &str, samples: usize) -> anyhow::Result<Vec<u64>> {
    use async_nats::jetstream::{self, stream};
    let client = async_nats::connect(nats).await?;
    let js = jetstream::new(client);
    let name = "ARXOS_LOAD_ACK";
    js.get_or_create_stream(stream::Config {
        name: name.into(),
        subjects: vec!["arxos-load.ack".into()],
        storage: stream::StorageType::File,
        ..stream::Config::default()
    })
    .await?;
    let payload = bytes::Bytes::from(vec![7_u8; 200]); // about one small edit
    let mut out = Vec::with_capacity(samples);
    for _ in 0..samples {
        let t = Instant::now();
        js.publish("arxos-load.ack", payload.clone()).await?.await?;
        out.push(u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX));
    }
    js.delete_stream(name).await?;
    out.sort_unstable();
    Ok(out)
}
