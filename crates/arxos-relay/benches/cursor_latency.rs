//! Cursor latency through the relay with a full room: 30 people move their cursors and a few
//! of them measure how old every cursor they are shown is.
//!
//! What runs, all on 127.0.0.1: the real `arxos-relay` process built from this workspace
//! (default settings: presence tick, rate limits, queues), one plan room holding the sample
//! office, and 30 real [`SyncClient`]s, each with its own plan file cloned from the room in a
//! temporary folder and its own engine thread, as 30 editors would have. After everyone is in
//! sync, every client moves its cursor for 10 seconds at 30 Hz (about the relay's tick rate, so
//! each update waits for a tick), then for 10 seconds at 60 Hz (one update per editor frame,
//! the most an editor sends), each update a fresh
//! [`Presence`] with `sent_at_us` = now. Observer clients record, for every presence entry
//! they receive, `now - sent_at_us`: the time from the mover calling
//! [`SyncClient::set_presence`] to the entry arriving at the observer's
//! [`SyncClient::subscribe`] receiver (sender engine queue and socket, the relay's coalescing
//! tick and fan-out, the receiver's decode and broadcast). The editor adds at most one frame
//! of its own on top (it repaints when the event arrives). Sender and receiver share one
//! clock, so no clock skew enters. An update superseded before its tick is never delivered
//! (presence is coalesced to the latest), so the figure is how old the cursor a person is
//! shown is when it arrives.
//!
//! Prints count, p50/p90/p99/max and messages per second; exits with status 1 when p99 is
//! above the 40 ms target. Run: `cargo bench -p arxos-relay --bench cursor_latency`
//! (`ARXOS_BENCH_HZ=45` for one phase at another rate, `ARXOS_BENCH_SECS`, and
//! `ARXOS_BENCH_TICK_MS=16` to try another `--presence-tick-ms`).
//!
//! It lives in `arxos-relay`, not `arxos-session`, because only the package that builds the
//! `arxos-relay` binary can run it as a process (Cargo gives that package's benches its path
//! as `CARGO_BIN_EXE_arxos-relay`), and the clients it needs are `arxos-sync`'s, which this
//! package depends on already.

#![allow(clippy::unwrap_used, clippy::expect_used)] // benchmark setup

use std::io::BufRead as _;
use std::path::Path;
use std::process::{Child, Command as Process, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use arxos_doc::EditContext;
use arxos_doc::file::PlanFile;
use arxos_sync::Role;
use arxos_sync::admin::{ShareOptions, share};
use arxos_sync::client::{ClientConfig, ClientEvent, SyncClient, clone_document};
use arxos_sync::identity::Identity;
use arxos_sync::protocol::payload::{Cursor, Presence, PresenceStatus};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, watch};

/// People in the room.
const CLIENTS: usize = 30;
/// Clients that also measure (each sees the other 29 cursors).
const OBSERVERS: usize = 3;
/// Moves before this long into the run are not measured (connections settle).
const WARM_UP: Duration = Duration::from_secs(1);
/// The target.
const P99_TARGET_MS: f64 = 40.0;
const TOKEN: &str = "cursor-latency-bench-token";

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The relay process; killed if the bench fails before its clean stop.
struct Relay {
    child: Option<Child>,
    url: String,
}

impl Relay {
    fn start(data: &Path, tick_ms: Option<u64>) -> anyhow::Result<Self> {
        let mut relay = Process::new(env!("CARGO_BIN_EXE_arxos-relay"));
        relay
            .args(["--listen", "127.0.0.1:0", "--admin-token", TOKEN])
            .arg("--data")
            .arg(data);
        if let Some(ms) = tick_ms {
            relay.args(["--presence-tick-ms", &ms.to_string()]);
        }
        let mut child = relay
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .context("starting arxos-relay")?;
        let stdout = child.stdout.take().context("relay stdout")?;
        let mut relay = Self {
            child: Some(child),
            url: String::new(),
        };
        for line in std::io::BufReader::new(stdout).lines() {
            if let Some(url) = line?.strip_prefix("listening on ") {
                url.trim().clone_into(&mut relay.url);
                return Ok(relay);
            }
        }
        bail!("the relay exited before listening")
    }

    /// The relay's counters (`/metrics`, lines `name value`).
    fn metrics(&self) -> Vec<(String, u64)> {
        use std::io::{Read as _, Write as _};
        let Some(host) = self.url.strip_prefix("ws://") else {
            return Vec::new();
        };
        let mut text = String::new();
        if let Ok(mut s) = std::net::TcpStream::connect(host) {
            let _ = write!(
                s,
                "GET /metrics HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
            );
            let _ = s.read_to_string(&mut text);
        }
        text.lines()
            .filter_map(|l| {
                let (name, value) = l.split_once(' ')?;
                Some((name.to_owned(), value.trim().parse().ok()?))
            })
            .collect()
    }

    /// SIGTERM, then waits for the relay to flush and exit.
    fn stop(&mut self) -> anyhow::Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        Process::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while child.try_wait()?.is_none() {
            if Instant::now() > deadline {
                child.kill()?;
                bail!("the relay did not exit on SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn percentile_ms(sorted: &[u64], p: f64) -> f64 {
    let Some(last) = sorted.len().checked_sub(1) else {
        return f64::NAN;
    };
    let idx = ((last as f64) * p).ceil() as usize;
    sorted[idx.min(last)] as f64 / 1000.0
}

/// Collects one observer's latencies (entries sent within `measure`) until `stop` fires.
fn observe(
    mut events: broadcast::Receiver<ClientEvent>,
    measure: &std::ops::Range<u64>,
    mut stop: watch::Receiver<bool>,
    lagged: &AtomicU64,
) -> Vec<u64> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("observer runtime");
    let mut out = Vec::with_capacity(64 * 1024);
    runtime.block_on(async {
        loop {
            tokio::select! {
                event = events.recv() => match event {
                    Ok(ClientEvent::Presence { entries, .. }) => {
                        let now = now_us();
                        out.extend(
                            entries
                                .iter()
                                .filter(|e| e.presence.cursor.is_some())
                                .filter(|e| measure.contains(&e.presence.sent_at_us))
                                .map(|e| now.saturating_sub(e.presence.sent_at_us)),
                        );
                    }
                    Ok(_) => {}
                    Err(RecvError::Lagged(n)) => {
                        lagged.fetch_add(n, Ordering::Relaxed);
                    }
                    Err(RecvError::Closed) => break,
                },
                _ = stop.wait_for(|s| *s) => break,
            }
        }
    });
    out
}

/// One measured run: every client moving at `hz` for `secs` (after a warm-up).
struct Phase {
    hz: f64,
    secs: u64,
}

/// What a phase measured.
struct Report {
    latencies_us: Vec<u64>,
    sent: u64,
    busy: u64,
    lagged: u64,
    relay_in_per_sec: f64,
    relay_out_per_sec: f64,
}

impl Report {
    fn p99_ms(&self) -> f64 {
        percentile_ms(&self.latencies_us, 0.99)
    }

    fn print(&self, phase: &Phase) {
        let l = &self.latencies_us;
        println!(
            "{CLIENTS} clients at {} Hz, {} s, {OBSERVERS} observers: {} entries received \
             ({:.0}/s per observer); latency p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, \
             max {:.1} ms",
            phase.hz,
            phase.secs,
            l.len(),
            l.len() as f64 / phase.secs as f64 / OBSERVERS as f64,
            percentile_ms(l, 0.50),
            percentile_ms(l, 0.90),
            self.p99_ms(),
            l.last().map_or(f64::NAN, |v| *v as f64 / 1000.0),
        );
        println!(
            "  {} updates sent ({:.0}/s), {} refused as busy, {} events lagged; relay \
             {:.0} messages/s in, {:.0} messages/s out",
            self.sent,
            self.sent as f64 / (phase.secs as f64 + WARM_UP.as_secs_f64()),
            self.busy,
            self.lagged,
            self.relay_in_per_sec,
            self.relay_out_per_sec,
        );
    }
}

fn run_phase(clients: &[SyncClient], relay: &Relay, floor: &str, phase: &Phase) -> Report {
    let lagged = Arc::new(AtomicU64::new(0));
    let period = Duration::from_secs_f64(1.0 / phase.hz);
    let run = Duration::from_secs(phase.secs) + WARM_UP;
    let measure_from_us = now_us() + WARM_UP.as_micros() as u64;
    let measure = measure_from_us..measure_from_us + phase.secs * 1_000_000;
    let (stop, stop_rx) = watch::channel(false);
    let observers: Vec<_> = clients[..OBSERVERS]
        .iter()
        .enumerate()
        .map(|(o, client)| {
            let (events, lagged, measure, stop) = (
                client.subscribe(),
                lagged.clone(),
                measure.clone(),
                stop_rx.clone(),
            );
            std::thread::Builder::new()
                .name(format!("observer-{o}"))
                .spawn(move || observe(events, &measure, stop, &lagged))
                .expect("observer thread")
        })
        .collect();
    let metrics_before = relay.metrics();

    // The movers, on this thread: each person on its own phase of the period, as people are.
    let t0 = Instant::now();
    let mut due: Vec<Instant> = (0..CLIENTS)
        .map(|i| t0 + period.mul_f64(i as f64 / CLIENTS as f64))
        .collect();
    let (mut sent, mut busy, mut step) = (0, 0, 0_u64);
    while t0.elapsed() < run {
        let (i, at) = due
            .iter()
            .copied()
            .enumerate()
            .min_by_key(|(_, at)| *at)
            .expect("clients");
        if let Some(wait) = at.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        step += 1;
        let angle = step as f64 / 50.0;
        let presence = Presence {
            user: format!("person {i}"),
            color: "#336699".into(),
            status: PresenceStatus::Online,
            cursor: Some(Cursor {
                floor: floor.to_owned(),
                x_mm: 10_000.0 + 5_000.0 * angle.cos() + i as f64,
                y_mm: 8_000.0 + 5_000.0 * angle.sin(),
            }),
            sent_at_us: now_us(),
            ..Presence::default()
        };
        match clients[i].set_presence(presence) {
            Ok(()) => sent += 1,
            Err(_) => busy += 1,
        }
        due[i] = at + period;
    }
    let metrics_after = relay.metrics();
    // Let the last batches arrive.
    std::thread::sleep(Duration::from_millis(200));
    let _ = stop.send(true);
    let mut latencies_us: Vec<u64> = Vec::new();
    for o in observers {
        latencies_us.extend(o.join().expect("observer"));
    }
    latencies_us.sort_unstable();
    let rate = |name: &str| {
        let get = |m: &[(String, u64)]| m.iter().find(|(n, _)| n == name).map_or(0, |(_, v)| *v);
        get(&metrics_after).saturating_sub(get(&metrics_before)) as f64 / run.as_secs_f64()
    };
    Report {
        latencies_us,
        sent,
        busy,
        lagged: lagged.load(Ordering::Relaxed),
        relay_in_per_sec: rate("arxos_relay_messages_in_total"),
        relay_out_per_sec: rate("arxos_relay_messages_out_total"),
    }
}

fn main() -> anyhow::Result<()> {
    let secs: u64 = env_or("ARXOS_BENCH_SECS", 10);
    // 30 Hz: a cursor that moves at about the relay's tick rate (each update waits for a
    // tick); 60 Hz: one update per editor frame, the most an editor sends.
    let phases: Vec<Phase> = match std::env::var("ARXOS_BENCH_HZ") {
        Ok(hz) => vec![Phase {
            hz: hz.parse().context("ARXOS_BENCH_HZ")?,
            secs,
        }],
        Err(_) => vec![Phase { hz: 30.0, secs }, Phase { hz: 60.0, secs }],
    };
    let started = Instant::now();
    let dir = tempfile::tempdir()?;
    let tick_ms = std::env::var("ARXOS_BENCH_TICK_MS")
        .ok()
        .map(|v| v.parse().context("ARXOS_BENCH_TICK_MS"))
        .transpose()?;
    let mut relay = Relay::start(&dir.path().join("relay"), tick_ms)?;

    // The room: the sample office, shared by its owner; everyone else clones it.
    let plan = dir.path().join("owner.arx");
    let mut doc = arxos_doc::generate::sample_office(&EditContext::now("owner"))?;
    PlanFile::create(&plan, &mut doc)?;
    let shared = share(
        &plan,
        &ShareOptions {
            relay: relay.url.clone(),
            admin_token: TOKEN.into(),
            role: Role::Editor,
            grant: arxos_sync::Grant::default(),
            expires_in_secs: None,
            hard_locks: false,
            timeout: Duration::from_secs(20),
        },
    )?;
    let floor = doc
        .floors()
        .keys()
        .next()
        .map_or_else(|| "f1".to_owned(), |f| f.as_str().to_owned());

    let mut clients = Vec::with_capacity(CLIENTS);
    for i in 0..CLIENTS {
        let file = dir.path().join(format!("person-{i}.arx"));
        clone_document(
            shared.invite_code.clone(),
            &file,
            Duration::from_secs(20),
            &|_| {},
        )
        .with_context(|| format!("cloning for person {i}"))?;
        let mut config = ClientConfig::new(shared.invite_code.clone(), file);
        config.identity = Identity {
            name: format!("person {i}"),
            color: "#336699".into(),
        };
        config.client_kind = "bench".into();
        clients.push(SyncClient::start(config)?);
    }
    for (i, c) in clients.iter().enumerate() {
        c.wait_synced(Duration::from_secs(20))
            .with_context(|| format!("person {i} did not sync"))?;
    }
    println!(
        "cursor latency through the arxos-relay process: {CLIENTS} clients in one room, \
         set up in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let mut worst_p99 = 0.0_f64;
    for phase in &phases {
        let report = run_phase(&clients, &relay, &floor, phase);
        report.print(phase);
        if report.latencies_us.is_empty() {
            worst_p99 = f64::INFINITY;
        }
        worst_p99 = worst_p99.max(report.p99_ms());
    }
    for c in clients {
        c.shutdown();
    }
    relay.stop()?;
    println!("total run {:.1} s", started.elapsed().as_secs_f64());
    if worst_p99.is_nan() || worst_p99 > P99_TARGET_MS {
        println!("FAIL: p99 {worst_p99:.1} ms is above the {P99_TARGET_MS} ms target");
        std::process::exit(1);
    }
    println!("ok: p99 {worst_p99:.1} ms ≤ {P99_TARGET_MS} ms in every phase");
    Ok(())
}
