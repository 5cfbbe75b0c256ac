//! Malformed, oversized, garbage, too-fast and idle connections are closed with an `error`
//! message, a client that never reads is dropped, slowloris and half-open connections are cut
//! at the handshake deadline, CBOR bombs (nesting, lying lengths) are refused without being
//! believed, and only they: a well-behaved client in the same room keeps working.

#![allow(clippy::unwrap_used)] // helpers outside #[test] functions

#[path = "support/relay.rs"]
mod support;

use std::time::Duration;

use arxos_doc::{Command, ElementId};
use arxos_sync::protocol::{EphemeralMessage, JoinMessage, PeerMetadata, SyncPayload};
use arxos_sync::{InviteCode, PeerId, WireMessage};
use futures_util::{SinkExt, StreamExt};
use support::{RelayProc, client, ctx, eventually, get_elem, seeded_client, set_elem};
use tokio_tungstenite::tungstenite::Message;

const T: Duration = Duration::from_secs(20);

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn raw(code: &InviteCode) -> Ws {
    let (ws, _) = tokio_tungstenite::connect_async(code.ws_url())
        .await
        .unwrap();
    ws
}

fn join_frame(name: &str) -> Message {
    let join = WireMessage::Join(JoinMessage {
        sender_id: PeerId::from(name),
        peer_metadata: PeerMetadata::default(),
        supported_protocol_versions: vec!["1".into()],
    });
    Message::Binary(join.encode().into())
}

/// Reads until the relay closes; returns the `error` message text it sent, if any.
async fn closed_with_error(ws: &mut Ws) -> Option<String> {
    let mut error = None;
    let read = async {
        while let Some(frame) = ws.next().await {
            match frame {
                Ok(Message::Binary(b)) => {
                    if let Ok(WireMessage::Error(e)) = WireMessage::decode(&b) {
                        error = Some(e.message);
                    }
                }
                Ok(Message::Close(_)) | Err(_) => break,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(T, read)
        .await
        .expect("relay should close the connection");
    error
}

#[test]
#[allow(clippy::too_many_lines)] // one scenario, step by step
fn bad_connections_are_closed_without_disturbing_others() {
    let dir = tempfile::tempdir().unwrap();
    let relay = RelayProc::start(
        &dir.path().join("relay"),
        &[
            "--max-frame-bytes",
            "65536",
            "--rate",
            "40",
            "--burst",
            "40",
        ],
    );
    let (_doc, code) = relay.create_room(false);
    let good = seeded_client(dir.path(), "good", &code);
    good.wait_synced(T).unwrap();
    let other = client(dir.path(), "other", &code);
    other.wait_synced(T).unwrap();

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        // Garbage bytes instead of a join.
        let mut ws = raw(&code).await;
        ws.send(Message::Binary(vec![0xff, 0x00, 0x13, 0x37].into()))
            .await
            .unwrap();
        let err = closed_with_error(&mut ws).await.unwrap();
        assert!(err.contains("malformed"), "{err}");

        // A text frame.
        let mut ws = raw(&code).await;
        ws.send(Message::Text("hello".into())).await.unwrap();
        assert!(
            closed_with_error(&mut ws)
                .await
                .unwrap()
                .contains("text frames")
        );

        // Protocol message before join.
        let mut ws = raw(&code).await;
        let early = WireMessage::Leave {
            sender_id: "x".into(),
        };
        ws.send(Message::Binary(early.encode().into()))
            .await
            .unwrap();
        assert!(closed_with_error(&mut ws).await.unwrap().contains("join"));

        // Oversized frame after a proper join.
        let mut ws = raw(&code).await;
        ws.send(join_frame("big")).await.unwrap();
        let _peer = ws.next().await;
        let _ = ws.send(Message::Binary(vec![0_u8; 200_000].into())).await;
        assert!(
            closed_with_error(&mut ws)
                .await
                .unwrap()
                .contains("too large")
        );

        // A well-formed `sync` whose Automerge payload is garbage.
        let mut ws = raw(&code).await;
        ws.send(join_frame("liar")).await.unwrap();
        let _peer = ws.next().await;
        let bogus = WireMessage::Sync(SyncPayload {
            sender_id: "liar".into(),
            target_id: "relay".into(),
            document_id: code.document_id,
            data: vec![0x42, 1, 2, 3],
        });
        ws.send(Message::Binary(bogus.encode().into()))
            .await
            .unwrap();
        assert!(
            closed_with_error(&mut ws)
                .await
                .unwrap()
                .contains("invalid sync message")
        );

        // Flooding beyond the rate limit.
        let mut ws = raw(&code).await;
        ws.send(join_frame("flood")).await.unwrap();
        let unknown = Message::Binary(
            WireMessage::Unknown {
                kind: "remote-heads-changed".into(),
            }
            .encode()
            .into(),
        );
        for _ in 0..200 {
            if ws.send(unknown.clone()).await.is_err() {
                break;
            }
        }
        assert!(
            closed_with_error(&mut ws)
                .await
                .unwrap()
                .contains("rate limit")
        );
    });

    // The good clients never noticed.
    set_elem(&good, "e1", "x", 42.0);
    eventually(T, "edit still propagates", || {
        get_elem(&other, "e1", "x") == Some(42.0)
    });
    assert_eq!(good.status().last_error, None);
    assert!(relay.metric("arxos_relay_protocol_errors_total") >= 6);
    assert_eq!(relay.metric("arxos_relay_open_connections"), 2);
}

#[test]
fn idle_connections_time_out() {
    let dir = tempfile::tempdir().unwrap();
    let relay = RelayProc::start(&dir.path().join("relay"), &["--idle-timeout-secs", "1"]);
    let (_doc, code) = relay.create_room(false);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut ws = raw(&code).await;
        ws.send(join_frame("sleepy")).await.unwrap();
        // Do not read (so no pongs) for longer than the idle timeout. (Reading afterwards
        // fails on the client's queued pong, so check the relay's side instead.)
        tokio::time::sleep(Duration::from_millis(1800)).await;
        assert_eq!(relay.metric("arxos_relay_protocol_errors_total"), 1);
        assert_eq!(relay.metric("arxos_relay_open_connections"), 0);
        closed_with_error(&mut ws).await;
    });
    // An active client that answers pings stays connected past the timeout.
    let live = client(dir.path(), "live", &code);
    live.wait_synced(T).unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(live.status().last_error, None);
}

/// One WebSocket upgrade request with `invite` over a fresh TCP connection; the HTTP status.
async fn upgrade_status(port: u16, invite: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let req = format!(
        "GET /?invite={invite} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    tcp.write_all(req.as_bytes()).await.unwrap();
    let mut head = vec![0_u8; 12];
    tcp.read_exact(&mut head).await.unwrap();
    String::from_utf8_lossy(&head[9..12]).parse().unwrap()
}

#[test]
fn a_burst_of_bad_invites_is_throttled_per_address_and_spares_connected_clients() {
    let dir = tempfile::tempdir().unwrap();
    let relay = RelayProc::start(&dir.path().join("relay"), &[]);
    let (_doc, code) = relay.create_room(false);
    let good = seeded_client(dir.path(), "good", &code);
    let other = client(dir.path(), "other", &code);
    good.wait_synced(T).unwrap();
    other.wait_synced(T).unwrap();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let statuses: Vec<u16> = rt.block_on(async {
        let port = relay.port;
        let mut out = Vec::with_capacity(10_000);
        // 10,000 attempts, 50 at a time.
        for round in 0..200 {
            let mut set = tokio::task::JoinSet::new();
            for i in 0..50 {
                let invite = format!("bad-{round}-{i}");
                set.spawn(async move { upgrade_status(port, &invite).await });
            }
            while let Some(status) = set.join_next().await {
                out.push(status.unwrap());
            }
        }
        out
    });
    // The relay's windows are not aligned with this burst (it may have opened one a little
    // earlier), so a burst of L seconds can touch L / 10 + 2 of them on a loaded machine.
    let windows = started.elapsed().as_secs() / 10 + 2;
    let checked = statuses.iter().filter(|s| **s == 401).count() as u64;
    let throttled = statuses.iter().filter(|s| **s == 429).count() as u64;
    eprintln!(
        "10,000 bad joins in {:.1} s: {checked} checked (401), {throttled} throttled (429)",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(
        checked + throttled,
        10_000,
        "only 401 and 429: {statuses:?}"
    );
    assert!(
        checked <= 20 * windows,
        "{checked} invites checked in {windows} windows: the budget is 20 per window"
    );
    assert_eq!(relay.metric("arxos_relay_auth_throttled_total"), throttled);

    // The connected clients never noticed.
    set_elem(&good, "e1", "x", 9.0);
    eventually(T, "an edit still propagates", || {
        get_elem(&other, "e1", "x") == Some(9.0)
    });
    assert_eq!(good.status().last_error, None);

    // A newcomer from the throttled address gets in once the window is over (it retries a
    // 429 by itself).
    let late = client(dir.path(), "late", &code);
    late.wait_synced(Duration::from_secs(40)).unwrap();
    assert_eq!(get_elem(&late, "e1", "x"), Some(9.0));
}

/// A joined peer that asked for the document and then never reads: its receive buffer is
/// kept tiny so that the relay's writes to it block after a few kilobytes.
async fn never_reading(code: &InviteCode, port: u16) -> Ws {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let tcp = socket.connect(([127, 0, 0, 1], port).into()).await.unwrap();
    let (mut ws, _) = tokio_tungstenite::client_async(
        code.ws_url(),
        tokio_tungstenite::MaybeTlsStream::Plain(tcp),
    )
    .await
    .unwrap();
    ws.send(join_frame("deaf")).await.unwrap();
    let mut state = automerge::sync::State::new();
    let hello =
        automerge::sync::SyncDoc::generate_sync_message(&automerge::Automerge::new(), &mut state)
            .unwrap();
    let sync = WireMessage::Sync(SyncPayload {
        sender_id: "deaf".into(),
        target_id: "relay".into(),
        document_id: code.document_id,
        data: hello.encode(),
    });
    ws.send(Message::Binary(sync.encode().into()))
        .await
        .unwrap();
    ws
}

#[test]
fn a_client_that_never_reads_is_dropped_and_the_room_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let relay = RelayProc::start(&dir.path().join("relay"), &["--write-timeout-secs", "2"]);
    let (_doc, code) = relay.create_room(false);
    let good = seeded_client(dir.path(), "good", &code);
    let other = client(dir.path(), "other", &code);
    good.wait_synced(T).unwrap();
    other.wait_synced(T).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut deaf = rt.block_on(never_reading(&code, relay.port));
    eventually(T, "the deaf peer is connected", || {
        relay.metric("arxos_relay_open_connections") == 3
    });
    // Far more than fits in the deaf peer's socket: 40 changes of 100 kB of text that does
    // not compress, then small edits.
    set_elem(&good, "o0", "x", 0.0);
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    for _ in 0..40 {
        let text: String = (0..100_000)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                char::from(b'a' + u8::try_from(seed % 26).unwrap())
            })
            .collect();
        let cmd = Command::SetText {
            id: ElementId::new("o0"),
            text: Some(text),
        };
        good.apply(&ctx("good"), "long text", vec![cmd]).unwrap();
    }
    for i in 1..50 {
        set_elem(&good, "o0", "x", f64::from(i));
    }
    eventually(T, "the relay drops the peer that never reads", || {
        relay.metric("arxos_relay_open_connections") == 2
    });
    eventually(T, "the reading client gets everything meanwhile", || {
        get_elem(&other, "o0", "x") == Some(49.0)
    });
    // The relay closed the deaf peer's socket: reading what it had been sent ends.
    rt.block_on(closed_with_error(&mut deaf));
    set_elem(&good, "o1", "x", -1.0);
    eventually(T, "the room goes on", || {
        get_elem(&other, "o1", "x") == Some(-1.0)
    });
    assert_eq!(good.status().last_error, None);
    assert_eq!(other.status().last_error, None);
}

#[test]
fn slowloris_and_half_open_connections_are_cut_at_the_handshake_deadline() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    const DEADLINE: Duration = Duration::from_millis(1500);
    let dir = tempfile::tempdir().unwrap();
    let relay = RelayProc::start(
        &dir.path().join("relay"),
        &["--handshake-timeout-ms", &DEADLINE.as_millis().to_string()],
    );
    let (_doc, code) = relay.create_room(false);
    let good = seeded_client(dir.path(), "good", &code);
    good.wait_synced(T).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let port = relay.port;
    let upgrade = format!(
        "GET /sync?invite={} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        code.secret
    );
    let started = std::time::Instant::now();
    let attackers = rt.spawn(async move {
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..200 {
            let upgrade = upgrade.clone();
            tasks.spawn(async move {
                let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .unwrap();
                let (mut rd, mut wr) = tcp.into_split();
                // Half of them send nothing at all; the others a valid upgrade, a byte every
                // 100 ms (it would take 25 s), each byte well within any per-read timeout.
                let trickle = async {
                    if i % 2 == 1 {
                        for b in upgrade.as_bytes() {
                            if wr.write_all(&[*b]).await.is_err() {
                                return;
                            }
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    } else {
                        std::future::pending::<()>().await;
                    }
                };
                // Until the relay closes the socket: a read returns 0 (or an error).
                let mut buf = [0_u8; 256];
                let closed = async {
                    loop {
                        match rd.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(_) => {}
                        }
                    }
                };
                tokio::select! {
                    () = closed => {}
                    () = trickle => {}
                }
                started.elapsed()
            });
        }
        let mut cut = Vec::new();
        while let Some(t) = tasks.join_next().await {
            cut.push(t.unwrap());
        }
        cut
    });
    // Meanwhile, a person joins and edits as usual.
    let other = client(dir.path(), "other", &code);
    other.wait_synced(T).unwrap();
    set_elem(&good, "e1", "x", 7.0);
    eventually(T, "edits flow during the attack", || {
        get_elem(&other, "e1", "x") == Some(7.0)
    });
    let cut = rt.block_on(async { tokio::time::timeout(T, attackers).await });
    let cut = cut
        .expect("every attacking socket is closed by the relay")
        .unwrap();
    assert_eq!(cut.len(), 200);
    // Held until the deadline (not refused at once), and cut soon after it.
    let fastest = cut.iter().min().unwrap();
    assert!(
        *fastest + Duration::from_millis(200) >= DEADLINE,
        "an attacking socket was closed after {fastest:?}, before the deadline {DEADLINE:?}"
    );
    let slowest = cut.iter().max().unwrap();
    assert!(
        *slowest < DEADLINE + Duration::from_secs(5),
        "the last attacking socket was closed after {slowest:?} (deadline {DEADLINE:?})"
    );
    assert_eq!(good.status().last_error, None);
    assert_eq!(other.status().last_error, None);
}

/// CBOR that would make a naive decoder recurse or allocate without bound.
fn cbor_bombs() -> Vec<(&'static str, Vec<u8>)> {
    let mut nested_arrays = vec![0x81_u8; 100_000];
    nested_arrays.push(0x00);
    // A map whose value is a map whose value is… (key "").
    let mut nested_maps = [0xa1_u8, 0x60].repeat(50_000);
    nested_maps.push(0x00);
    // An indefinite-length map that never ends: 10,000 entries and no break byte.
    let mut endless_map = vec![0xbf_u8];
    for _ in 0..10_000 {
        endless_map.extend_from_slice(&[0x61, b'a', 0x01]);
    }
    vec![
        ("nested arrays", nested_arrays),
        ("nested maps", nested_maps),
        // A byte string claiming 2^62 bytes, then three.
        (
            "lying byte string",
            vec![0x5b, 0x40, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3],
        ),
        // A text string claiming 4 GiB.
        ("lying text", vec![0x7a, 0xff, 0xff, 0xff, 0xff, b'a']),
        // An array claiming 2^32 entries, then one.
        ("lying array", vec![0x9b, 0, 0, 0, 1, 0, 0, 0, 0, 0x00]),
        ("endless map", endless_map),
    ]
}

#[test]
fn nested_and_lying_cbor_is_refused_without_disturbing_others() {
    let dir = tempfile::tempdir().unwrap();
    // Default limits: frames of up to 16 MiB get as far as the decoder.
    let relay = RelayProc::start(&dir.path().join("relay"), &[]);
    let (_doc, code) = relay.create_room(false);
    let good = seeded_client(dir.path(), "good", &code);
    let other = client(dir.path(), "other", &code);
    good.wait_synced(T).unwrap();
    other.wait_synced(T).unwrap();
    let bombs = cbor_bombs();

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        // As the first frame, where a join is expected, and after a proper join.
        for joined in [false, true] {
            for (what, bytes) in &bombs {
                let mut ws = raw(&code).await;
                if joined {
                    ws.send(join_frame("bomber")).await.unwrap();
                    let _peer = ws.next().await;
                }
                ws.send(Message::Binary(bytes.clone().into()))
                    .await
                    .unwrap();
                let err = closed_with_error(&mut ws).await;
                assert!(
                    err.as_deref().is_some_and(|e| e.contains("malformed")),
                    "{what} (joined first: {joined}): {err:?}"
                );
            }
        }
        // Inside a well-formed ephemeral message the bombs are somebody else's data: the
        // relay passes them on untouched (as automerge-repo does), and every receiver must
        // survive them.
        let mut ws = raw(&code).await;
        ws.send(join_frame("gossip")).await.unwrap();
        let _peer = ws.next().await;
        for (count, (_, bytes)) in bombs.iter().enumerate() {
            let message = WireMessage::Ephemeral(EphemeralMessage {
                sender_id: "gossip".into(),
                target_id: "relay".into(),
                document_id: code.document_id,
                session_id: "bombs".into(),
                count: count as u64,
                data: bytes.clone(),
            });
            ws.send(Message::Binary(message.encode().into()))
                .await
                .unwrap();
        }
        ws.close(None).await.unwrap();
    });

    // Twelve bombs, twelve protocol errors, and the relay and its clients never noticed.
    assert_eq!(
        relay.metric("arxos_relay_protocol_errors_total"),
        2 * bombs.len() as u64
    );
    set_elem(&good, "e1", "x", 7.0);
    eventually(T, "an edit still propagates", || {
        get_elem(&other, "e1", "x") == Some(7.0)
    });
    assert_eq!(good.status().last_error, None);
    assert_eq!(other.status().last_error, None);
    eventually(T, "the bombers are gone", || {
        relay.metric("arxos_relay_open_connections") == 2
    });
}
