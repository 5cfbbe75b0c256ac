//! `arxos-relay-load`: a load generator. Starts an `arxos-relay` process (or, with
//! `--cluster-nodes N`, a `nats-server -js` and N relay nodes on it; or uses `--relay`),
//! connects N protocol clients on loopback spread over R rooms (and over the nodes), and has
//! each make edits and move its cursor. Reports edit propagation latency (commit on A →
//! applied on B; with several nodes also split into A and B on the same node or on different
//! ones), cursor fan-out latency (sent by A → presence batch received by B), errors, the
//! first relay's CPU and memory, and in cluster mode the round trip of one JetStream
//! acknowledgement.

#[path = "load/procs.rs"]
mod procs;
#[path = "load/report.rs"]
mod report;

use report::{Run, report};

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use arxos_doc::schema::root;
use arxos_sync::admin::AdminClient;
use arxos_sync::fastsync::{ACK_DELAY, PeerSync};
use arxos_sync::protocol::payload::{ArxPayload, Cursor, Presence, PresenceStatus};
use arxos_sync::protocol::{EphemeralMessage, JoinMessage, PeerMetadata, SyncPayload};
use arxos_sync::{InviteCode, PeerId, WireMessage};
use automerge::sync;
use automerge::transaction::{CommitOptions, Transactable};
use automerge::{AutoCommit, ObjType, ROOT, ReadDoc};
use clap::Parser;
use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

/// Load generator for arxos-relay.
#[derive(Parser, Debug, Clone)]
#[command(name = "arxos-relay-load", about)]
struct Args {
    /// Connected clients in total.
    #[arg(long, default_value_t = 100)]
    clients: usize,
    /// Rooms the clients are spread over.
    #[arg(long, default_value_t = 1)]
    rooms: usize,
    /// Edits per second per client.
    #[arg(long, default_value_t = 2.0)]
    edits_per_sec: f64,
    /// Cursor moves per second per client.
    #[arg(long, default_value_t = 30.0)]
    cursor_hz: f64,
    /// Measured seconds (after everyone is connected and synced).
    #[arg(long, default_value_t = 20)]
    duration_secs: u64,
    /// Use this relay instead of starting one (needs --admin-token; no CPU/memory figures
    /// unless --relay-pid is given); several nodes of one cluster comma-separated, clients
    /// spread over them.
    #[arg(long)]
    relay: Option<String>,
    /// Start a `nats-server -js` and this many relay nodes on it (`--cluster`) instead of one
    /// relay on files; clients are spread over the nodes.
    #[arg(long, default_value_t = 0)]
    cluster_nodes: usize,
    /// Admin token for --relay.
    #[arg(long, env = "ARXOS_ADMIN_TOKEN")]
    admin_token: Option<String>,
    /// The relay's process id, for CPU and memory.
    #[arg(long)]
    relay_pid: Option<u32>,
    /// Worker threads for the generator's runtime.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Seed each room with a generated plan of this many elements instead of an empty one
    /// (what the relay saves, compacts and sends grows with it).
    #[arg(long, default_value_t = 0)]
    seed_elements: usize,
    /// An extra flag for the relays started here, e.g. `--relay-arg=--compact-every=100`
    /// (repeatable).
    #[arg(long, allow_hyphen_values = true)]
    relay_arg: Vec<String>,
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

#[derive(Default)]
struct Stats {
    edit_us: Mutex<Vec<u64>>,
    /// Deliveries between clients of the same relay node, and of different ones.
    edit_same_node_us: Mutex<Vec<u64>>,
    edit_cross_node_us: Mutex<Vec<u64>>,
    cursor_us: Mutex<Vec<u64>>,
    edits_sent: AtomicU64,
    cursors_sent: AtomicU64,
    errors: AtomicU64,
    measuring: std::sync::atomic::AtomicBool,
}

fn record(v: &Mutex<Vec<u64>>, us: u64) {
    v.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(us);
}

/// Reads utime+stime (clock ticks) and VmRSS/VmHWM (kB) of a process.
fn proc_stats(pid: u32) -> Option<(u64, u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
    };
    Some((utime + stime, kb("VmRSS:")?, kb("VmHWM:")?))
}

/// The relay's propagation histogram: (upper bound seconds, cumulative count).
fn relay_histogram(relay_url: &str) -> Vec<(f64, u64)> {
    use std::io::{Read, Write};
    let Some(host) = relay_url.strip_prefix("ws://") else {
        return Vec::new();
    };
    let Ok(mut s) = std::net::TcpStream::connect(host) else {
        return Vec::new();
    };
    let _ = write!(
        s,
        "GET /metrics HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    );
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    text.lines()
        .filter_map(|l| l.strip_prefix("arxos_relay_propagation_seconds_bucket{le=\""))
        .filter_map(|rest| {
            let (bound, count) = rest.split_once("\"} ")?;
            let bound = if bound == "+Inf" {
                f64::INFINITY
            } else {
                bound.parse().ok()?
            };
            Some((bound, count.trim().parse().ok()?))
        })
        .collect()
}

/// Upper bound (ms) of the bucket holding quantile `q` of `end - start`.
fn histogram_quantile(start: &[(f64, u64)], end: &[(f64, u64)], q: f64) -> f64 {
    // Both samples list the same buckets in the same order.
    let diffs: Vec<(f64, u64)> = end
        .iter()
        .enumerate()
        .map(|(i, (b, c))| (*b, c.saturating_sub(start.get(i).map_or(0, |(_, sc)| *sc))))
        .collect();
    let total = diffs.last().map_or(0, |(_, c)| *c);
    if total == 0 {
        return f64::NAN;
    }
    let target = (total as f64 * q).ceil() as u64;
    diffs
        .iter()
        .find(|(_, c)| *c >= target)
        .map_or(f64::NAN, |(b, _)| b * 1000.0)
}

/// Sleeps until `at`, or forever when there is nothing to wait for.
async fn sleep_until_some(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn send(ws: &mut Ws, msg: &WireMessage) -> anyhow::Result<()> {
    ws.send(Message::Binary(msg.encode().into())).await?;
    Ok(())
}

/// One simulated editor.
#[allow(clippy::too_many_lines)] // a linear script of one client's life
async fn run_client(
    idx: usize,
    node: usize,
    code: InviteCode,
    args: Args,
    stats: Arc<Stats>,
    ready: Arc<AtomicU64>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(
        code.ws_url(),
        Some(arxos_sync::protocol::ws_config()),
        true,
    )
    .await?;
    let me = PeerId(format!("load-{idx}"));
    send(
        &mut ws,
        &WireMessage::Join(JoinMessage {
            sender_id: me.clone(),
            peer_metadata: PeerMetadata::default(),
            supported_protocol_versions: vec!["1".into()],
        }),
    )
    .await?;
    let relay = loop {
        match ws.next().await {
            Some(Ok(Message::Binary(b))) => {
                if let WireMessage::Peer(p) = WireMessage::decode(&b)? {
                    break p.sender_id;
                }
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.into()),
            None => bail!("closed during join"),
        }
    };
    let mut doc = AutoCommit::new();
    let mut peer = PeerSync::new();
    let sync_frame = |message: Option<sync::Message>| {
        message.map(|m| {
            WireMessage::Sync(SyncPayload {
                sender_id: me.clone(),
                target_id: relay.clone(),
                document_id: code.document_id,
                data: m.encode(),
            })
        })
    };
    if let Some(msg) = sync_frame(peer.generate(&mut doc)) {
        send(&mut ws, &msg).await?;
    }
    let mut synced = false;
    let mut ack_due: Option<tokio::time::Instant> = None;
    let mut edit_tick =
        tokio::time::interval(Duration::from_secs_f64(1.0 / args.edits_per_sec.max(0.001)));
    let mut cursor_tick =
        tokio::time::interval(Duration::from_secs_f64(1.0 / args.cursor_hz.max(0.001)));
    // Spread clients over the period so they do not fire in lockstep.
    let offset = Duration::from_millis((idx as u64 * 7919) % 500);
    edit_tick.reset_after(offset);
    cursor_tick.reset_after(offset / 4);
    let mut stop = stop;
    let mut count = 0_u64;
    let mut n = 0_u64;
    loop {
        tokio::select! {
            frame = ws.next() => {
                // Whatever else has already arrived is handled before answering once: a
                // client that falls behind catches up with one acknowledgement, not one each.
                let mut frames = vec![frame];
                while frames.len() < 64 {
                    match ws.next().now_or_never() {
                        Some(frame) => frames.push(frame),
                        None => break,
                    }
                }
                let mut got_sync = false;
                for frame in frames {
                    let bytes = match frame {
                        Some(Ok(Message::Binary(b))) => b,
                        Some(Ok(Message::Close(_))) | None => bail!("relay closed the connection"),
                        Some(Ok(_)) => continue,
                        Some(Err(e)) => return Err(e.into()),
                    };
                    match WireMessage::decode(&bytes)? {
                        WireMessage::Sync(p) => {
                            let message = sync::Message::decode(&p.data)?;
                            // Commit times and the author's node ride in the change messages.
                            let sent: Vec<(u64, usize)> = if stats.measuring.load(Ordering::Relaxed) {
                                // Every change, one per chunk or back to back (version 2).
                                arxos_sync::chunks::changes_in(&message.changes)
                                    .unwrap_or_default()
                                    .iter()
                                    .filter_map(|(c, _)| c.message().and_then(parse_stamp))
                                    .collect()
                            } else {
                                Vec::new()
                            };
                            peer.receive(&mut doc, message)?;
                            let now = now_us();
                            for (t, from) in sent {
                                let us = now.saturating_sub(t);
                                record(&stats.edit_us, us);
                                let split = if from == node { &stats.edit_same_node_us } else { &stats.edit_cross_node_us };
                                record(split, us);
                            }
                            got_sync = true;
                        }
                        WireMessage::Ephemeral(e) => {
                            if let Ok(ArxPayload::PresenceBatch { entries, .. }) = ArxPayload::decode(&e.data)
                                && stats.measuring.load(Ordering::Relaxed)
                            {
                                let now = now_us();
                                for entry in entries.iter().filter(|e| e.peer != me.0) {
                                    record(&stats.cursor_us, now.saturating_sub(entry.presence.sent_at_us));
                                }
                            }
                        }
                        WireMessage::Error(e) => bail!("relay error: {}", e.message),
                        _ => {}
                    }
                }
                if got_sync {
                    // Our engine's policy: plain acknowledgements are coalesced.
                    if !synced || peer.answer_now(&mut doc) {
                        ack_due = None;
                        if let Some(msg) = sync_frame(peer.respond(&mut doc)) {
                            send(&mut ws, &msg).await?;
                        }
                    } else {
                        ack_due.get_or_insert_with(|| tokio::time::Instant::now() + ACK_DELAY);
                    }
                    if !synced && !doc.get_heads().is_empty() {
                        synced = true;
                        ready.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            () = sleep_until_some(ack_due) => {
                ack_due = None;
                if let Some(msg) = sync_frame(peer.respond(&mut doc)) {
                    send(&mut ws, &msg).await?;
                }
            }
            _ = edit_tick.tick(), if synced => {
                n += 1;
                let elements = match doc.get(ROOT, root::ELEMENTS)? {
                    Some((_, id)) => id,
                    None => doc.put_object(ROOT, root::ELEMENTS, ObjType::Map)?,
                };
                let key = format!("load-{idx}-{}", n % 8);
                let element = match doc.get(&elements, key.as_str())? {
                    Some((_, id)) => id,
                    None => doc.put_object(&elements, key.as_str(), ObjType::Map)?,
                };
                let before = doc.get_heads();
                doc.put(&element, "x", n as f64)?;
                doc.commit_with(CommitOptions::default().with_message(format!("{}:{node}", now_us())));
                if stats.measuring.load(Ordering::Relaxed) {
                    stats.edits_sent.fetch_add(1, Ordering::Relaxed);
                }
                let new: Vec<_> = doc
                    .get_last_local_change()
                    .map(|c| (c.hash(), c.raw_bytes().to_vec()))
                    .into_iter()
                    .collect();
                if let Some(msg) = sync_frame(peer.send_local(&mut doc, &before, &new)) {
                    // It carries our heads: it acknowledges what was held back too.
                    ack_due = None;
                    send(&mut ws, &msg).await?;
                }
            }
            _ = cursor_tick.tick(), if synced => {
                count += 1;
                let presence = Presence {
                    user: me.0.clone(),
                    color: "#3366ff".into(),
                    status: PresenceStatus::Editing,
                    cursor: Some(Cursor { floor: "f1".into(), x_mm: count as f64, y_mm: idx as f64 }),
                    client: Some("load".into()),
                    sent_at_us: now_us(),
                    ..Presence::default()
                };
                let msg = WireMessage::Ephemeral(EphemeralMessage {
                    sender_id: me.clone(),
                    target_id: relay.clone(),
                    document_id: code.document_id,
                    session_id: me.0.clone(),
                    count,
                    data: ArxPayload::Presence(presence).encode()?,
                });
                if stats.measuring.load(Ordering::Relaxed) {
                    stats.cursors_sent.fetch_add(1, Ordering::Relaxed);
                }
                send(&mut ws, &msg).await?;
            }
            _ = stop.changed() => {
                let _ = ws.close(None).await;
                return Ok(());
            }
        }
    }
}

/// A change message `<commit time µs>:<author's node>`.
fn parse_stamp(message: &str) -> Option<(u64, usize)> {
    let (t, node) = message.split_once(':')?;
    Some((t.parse().ok()?, node.parse().ok()?))
}

/// The relays to load: `--relay`'s, or those started here (see [`procs::start`]).
fn start(args: &Args, data: &std::path::Path) -> anyhow::Result<procs::Started> {
    Ok(if let Some(list) = &args.relay {
        procs::Started {
            urls: list.split(',').map(|s| s.trim().to_owned()).collect(),
            token: args
                .admin_token
                .clone()
                .context("--relay needs --admin-token")?,
            pid: args.relay_pid.unwrap_or(0),
            nats: None,
            _children: Vec::new(),
        }
    } else {
        procs::start(data, args.cluster_nodes, &args.relay_arg)?
    })
}

/// Seeds each room with a plan through a real client, so the load's clients have a document.
async fn seed_rooms(
    codes: &[InviteCode],
    data: &std::path::Path,
    elements: usize,
) -> anyhow::Result<()> {
    for code in codes {
        let seed = data.join(format!("seed-{}.arx", code.document_id));
        std::fs::create_dir_all(data)?;
        let ctx = arxos_doc::EditContext::now("arxos-relay-load");
        let mut plan = if elements == 0 {
            arxos_doc::Document::new_plan("load test", &ctx)?
        } else {
            let opts = arxos_doc::generate::GenerateOptions {
                elements,
                name: "load test".into(),
                ..Default::default()
            };
            arxos_doc::generate::generate(&opts, &ctx, |_, _| {})?
        };
        arxos_doc::file::PlanFile::create(&seed, &mut plan)?;
        let client = arxos_sync::client::SyncClient::start(arxos_sync::client::ClientConfig::new(
            code.clone(),
            seed,
        ))?;
        tokio::task::spawn_blocking(move || client.wait_synced(Duration::from_secs(20)).map(drop))
            .await??;
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let data = std::env::temp_dir().join(format!("arxos-load-{}", std::process::id()));
    let started = start(&args, &data)?;
    let (relay_url, token, pid) = (started.urls[0].clone(), started.token.clone(), started.pid);
    let nodes = started.urls.clone();
    let admin = AdminClient::new(&relay_url, &token)?;
    let mut codes = Vec::new();
    for _ in 0..args.rooms.max(1) {
        let room = admin.create_room(None, false)?;
        codes.push(room.owner_code);
    }
    // Seed each room so clients have a document to sync.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .thread_name("arxos-load")
        .enable_all()
        .build()?;
    let stats = Arc::new(Stats::default());
    let ready = Arc::new(AtomicU64::new(0));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let result = runtime.block_on(async {
        seed_rooms(&codes, &data, args.seed_elements).await?;
        let mut tasks = tokio::task::JoinSet::new();
        for idx in 0..args.clients {
            let node = idx % nodes.len();
            let code = InviteCode {
                relay: nodes[node].clone(),
                ..codes[idx % codes.len()].clone()
            };
            let (args, stats, ready, stop) = (
                args.clone(),
                Arc::clone(&stats),
                Arc::clone(&ready),
                stop_rx.clone(),
            );
            tasks.spawn(async move {
                if let Err(err) = Box::pin(run_client(
                    idx,
                    node,
                    code,
                    args,
                    Arc::clone(&stats),
                    ready,
                    stop,
                ))
                .await
                {
                    eprintln!("client {idx}: {err:#}");
                    stats.errors.fetch_add(1, Ordering::Relaxed);
                }
            });
            if idx % 50 == 49 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        let deadline = Instant::now() + Duration::from_mins(1);
        while (ready.load(Ordering::Relaxed) as usize) < args.clients {
            if Instant::now() > deadline {
                bail!(
                    "only {} of {} clients synced",
                    ready.load(Ordering::Relaxed),
                    args.clients
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Warm up, then measure.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let cpu_start = if pid > 0 { proc_stats(pid) } else { None };
        let hist_start = relay_histogram(&relay_url);
        let t0 = Instant::now();
        stats.measuring.store(true, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_secs(args.duration_secs)).await;
        stats.measuring.store(false, Ordering::Relaxed);
        let elapsed = t0.elapsed();
        let cpu_end = if pid > 0 { proc_stats(pid) } else { None };
        let hist_end = relay_histogram(&relay_url);
        let _ = stop_tx.send(true);
        while tasks.join_next().await.is_some() {}
        // Measured after the run, on an idle NATS: what one acknowledgement adds alone.
        let acks = match &started.nats {
            Some(nats) => Some(procs::ack_round_trips(nats, 1000).await?),
            None => None,
        };
        anyhow::Ok((cpu_start, cpu_end, elapsed, (hist_start, hist_end), acks))
    });
    let (cpu_start, cpu_end, elapsed, hist, acks) = result?;
    let run = Run {
        nodes: nodes.len(),
        elapsed,
        acks,
    };
    report(&args, &stats, (cpu_start, cpu_end), &run, &hist)?;
    drop(started); // stop the relays (then NATS) before removing their data folders
    let _ = std::fs::remove_dir_all(&data);
    if stats.errors.load(Ordering::Relaxed) > 0 {
        bail!("{} clients failed", stats.errors.load(Ordering::Relaxed));
    }
    Ok(())
}
