//! The relay's HTTP surface, byte for byte over real sockets: every route answers as before,
//! a connection serves exactly one request, oversized heads and bodies and malformed requests
//! are refused with the right status, a slow body is cut at the deadline, and a WebSocket
//! client that sends its first frame together with the upgrade request is served.

#![allow(clippy::unwrap_used)] // helpers outside #[test] functions

#[path = "support/relay.rs"]
mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use arxos_sync::protocol::{JoinMessage, PeerMetadata};
use arxos_sync::{PeerId, WireMessage};
use support::{RelayProc, TOKEN};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocket};

fn connect(relay: &RelayProc) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", relay.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Sends `request` and reads until the relay closes the connection.
fn exchange(relay: &RelayProc, request: &[u8]) -> String {
    let mut s = connect(relay);
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    // A reset after the response (the relay closing with unread bytes) ends the read too.
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn status(response: &str) -> u16 {
    response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {response:?}"))
}

fn header<'r>(response: &'r str, name: &str) -> Option<&'r str> {
    let (head, _) = response.split_once("\r\n\r\n")?;
    head.lines().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn get(relay: &RelayProc, path: &str, token: Option<&str>) -> String {
    let auth = token.map_or_else(String::new, |t| format!("Authorization: Bearer {t}\r\n"));
    exchange(
        relay,
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}\r\n").as_bytes(),
    )
}

/// An admin `POST` announcing `length` bytes of body and sending `body`.
fn post(relay: &RelayProc, path: &str, length: usize, body: &str) -> String {
    exchange(
        relay,
        format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: {length}\r\n\r\n{body}"
        )
        .as_bytes(),
    )
}

#[test]
fn every_route_answers_with_its_status_and_type() {
    let dir = tempfile::tempdir().unwrap();
    let relay = RelayProc::start(&dir.path().join("relay"), &[]);
    let (doc, _code) = relay.create_room(false);

    let health = get(&relay, "/healthz", None);
    assert_eq!(status(&health), 200);
    assert!(health.ends_with("ok\n"), "{health}");

    let metrics = get(&relay, "/metrics", None);
    assert_eq!(status(&metrics), 200);
    assert!(
        header(&metrics, "content-type")
            .unwrap()
            .starts_with("application/openmetrics-text"),
        "{metrics}"
    );
    assert!(metrics.trim_end().ends_with("# EOF"), "{metrics}");

    assert_eq!(status(&get(&relay, "/nowhere", None)), 404);
    let no_token = get(&relay, "/admin/rooms", None);
    assert_eq!(status(&no_token), 401);
    assert!(
        no_token.contains("missing or wrong admin token"),
        "{no_token}"
    );
    assert_eq!(status(&get(&relay, "/admin/rooms", Some("wrong"))), 401);

    let rooms = get(&relay, "/admin/rooms/", Some(TOKEN));
    assert_eq!(status(&rooms), 200);
    assert_eq!(header(&rooms, "content-type"), Some("application/json"));
    assert!(rooms.contains(&doc.to_string()), "{rooms}");

    let origins = get(&relay, &format!("/admin/rooms/{doc}/origins"), Some(TOKEN));
    assert_eq!(status(&origins), 200, "{origins}");
    let bad = get(&relay, "/admin/rooms/not-a-room/origins", Some(TOKEN));
    assert_eq!(status(&bad), 400);
    assert!(bad.contains("`not-a-room` is not a room id"), "{bad}");
    let invites = get(&relay, &format!("/admin/invites?doc_id={doc}"), Some(TOKEN));
    assert_eq!(status(&invites), 200);
    assert!(invites.contains("\"label\": \"owner\""), "{invites}");
    assert_eq!(
        status(&get(&relay, "/admin/invites?doc_id=%zz", Some(TOKEN))),
        400
    );
    assert_eq!(status(&get(&relay, "/admin/elsewhere", Some(TOKEN))), 404);

    // A second room with the same id conflicts; a body that is not JSON is a 400.
    let body = format!("{{\"doc_id\": \"{doc}\"}}");
    let again = post(&relay, "/admin/rooms", body.len(), &body);
    assert_eq!(status(&again), 409, "{again}");
    let junk = post(&relay, "/admin/invites", 5, "nope!");
    assert_eq!(status(&junk), 400, "{junk}");
}

#[test]
fn one_request_per_connection_and_bad_requests_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let relay = RelayProc::start(&dir.path().join("relay"), &[]);

    // Two requests sent back to back on one connection: the first is answered, and the
    // connection closes (nothing is kept open between requests).
    let both = exchange(
        &relay,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert_eq!(both.matches("HTTP/1.1 200").count(), 1, "{both}");

    // Not HTTP at all.
    let garbage = exchange(&relay, b"\x16\x03\x01 hello there\r\n\r\n");
    assert_eq!(status(&garbage), 400, "{garbage}");

    // A head larger than the relay reads (16 KiB).
    let huge = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Filler: {}\r\n\r\n",
        "a".repeat(20_000)
    );
    let refused = exchange(&relay, huge.as_bytes());
    assert_eq!(status(&refused), 431, "{refused}");

    // Too many header lines.
    let many = "X-Filler: v\r\n".repeat(60);
    let refused = exchange(
        &relay,
        format!("GET /healthz HTTP/1.1\r\nHost: x\r\n{many}\r\n").as_bytes(),
    );
    assert_eq!(status(&refused), 431, "{refused}");

    // A body announced larger than 64 KiB is refused before it is sent.
    let refused = post(&relay, "/admin/invites", 70_000, "");
    assert_eq!(status(&refused), 413, "{refused}");
    assert_eq!(
        header(&refused, "x-arxos-reason"),
        Some("request too large")
    );

    // The relay is still serving.
    assert_eq!(status(&get(&relay, "/healthz", None)), 200);
}

#[test]
fn a_body_trickled_past_the_deadline_is_cut() {
    const DEADLINE: Duration = Duration::from_millis(1200);
    let dir = tempfile::tempdir().unwrap();
    let relay = RelayProc::start(
        &dir.path().join("relay"),
        &["--handshake-timeout-ms", &DEADLINE.as_millis().to_string()],
    );
    let mut s = connect(&relay);
    let started = Instant::now();
    s.write_all(
        format!(
            "POST /admin/rooms HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: 1000\r\n\r\n{{"
        )
        .as_bytes(),
    )
    .unwrap();
    // A byte every 200 ms would take 200 s; the relay answers at the deadline and closes.
    let mut out = Vec::new();
    let mut buf = [0_u8; 512];
    'trickle: for _ in 0..100 {
        std::thread::sleep(Duration::from_millis(200));
        if s.write_all(b" ").is_err() {
            break;
        }
        s.set_nonblocking(true).unwrap();
        loop {
            match s.read(&mut buf) {
                Ok(0) => break 'trickle,
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(_) => break 'trickle,
            }
        }
        s.set_nonblocking(false).unwrap();
    }
    let took = started.elapsed();
    let text = String::from_utf8_lossy(&out);
    assert_eq!(status(&text), 408, "{text}");
    assert!(
        took >= DEADLINE && took < DEADLINE + Duration::from_secs(2),
        "cut after {took:?}"
    );
    // Nothing was created from the partial body.
    assert!(relay.admin().list_rooms().unwrap().is_empty());
}

#[test]
fn websocket_upgrades_are_checked_and_a_pipelined_first_frame_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let relay = RelayProc::start(&dir.path().join("relay"), &[]);
    let (_doc, code) = relay.create_room(false);
    let upgrade = |query: &str, key: bool| {
        let key = if key {
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        } else {
            ""
        };
        format!(
            "GET /sync{query} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n{key}Sec-WebSocket-Version: 13\r\n\r\n"
        )
    };

    let missing = exchange(&relay, upgrade("", true).as_bytes());
    assert_eq!(status(&missing), 401);
    assert_eq!(header(&missing, "x-arxos-reason"), Some("missing invite"));
    let unknown = exchange(&relay, upgrade("?invite=nosuchsecret", true).as_bytes());
    assert_eq!(status(&unknown), 401, "{unknown}");
    assert!(header(&unknown, "x-arxos-reason").is_some(), "{unknown}");
    let query = format!("?invite={}", code.secret);
    let no_key = exchange(&relay, upgrade(&query, false).as_bytes());
    assert_eq!(status(&no_key), 400, "{no_key}");

    // The upgrade request and the first (masked) frame in one write.
    let join = WireMessage::Join(JoinMessage {
        sender_id: PeerId::from("eager"),
        peer_metadata: PeerMetadata::default(),
        supported_protocol_versions: vec!["1".into()],
    });
    let mut frame = Frame::message(join.encode(), OpCode::Data(Data::Binary), true);
    frame.header_mut().mask = Some([7, 1, 3, 9]);
    let mut bytes = upgrade(&query, true).into_bytes();
    frame.format(&mut bytes).unwrap();
    let mut s = connect(&relay);
    s.write_all(&bytes).unwrap();

    // Read the 101 head byte by byte, so nothing after it is consumed here.
    let mut head = Vec::new();
    let mut byte = [0_u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(s.read(&mut byte).unwrap(), 1, "closed during the head");
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    assert_eq!(status(&head), 101, "{head}");
    assert_eq!(
        header(&head, "sec-websocket-accept"),
        Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    );
    let mut ws = WebSocket::from_raw_socket(s, Role::Client, None);
    let reply = ws.read().unwrap();
    let msg = WireMessage::decode(&reply.into_data()).unwrap();
    assert!(
        matches!(msg, WireMessage::Peer(_)),
        "the relay answered the pipelined join with {msg:?}"
    );
}
