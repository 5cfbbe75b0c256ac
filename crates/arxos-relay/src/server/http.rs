//! Minimal HTTP/1.1: reading one request head (and small body), routing the operational and
//! admin endpoints, and writing responses. WebSocket upgrades are handed to [`super::conn`].

use std::sync::Arc;

use arxos_sync::DocumentId;
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::Shared;
use super::stream::MaybeTls;
use crate::invites::{InviteRecord, NewInvite, constant_time_eq, unix_now};
use crate::storage::{RoomSettings, StorageError};

/// Largest accepted request head.
const MAX_HEAD: usize = 16 * 1024;
/// Largest accepted admin request body.
const MAX_BODY: usize = 64 * 1024;

/// A parsed request.
pub(crate) struct Request {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
    /// Bytes read past the head (a WebSocket client may pipeline its first frame).
    pub(crate) leftover: Vec<u8>,
}

impl Request {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn is_websocket_upgrade(&self) -> bool {
        self.header("upgrade")
            .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
    }
}

/// Why a request could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HttpError {
    #[error("connection closed before a full request")]
    Eof,
    #[error("request head too large")]
    TooLarge,
    #[error("malformed request: {0}")]
    Malformed(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    out.push(b);
                    i += 3;
                } else {
                    out.push(b'%');
                    i += 1;
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(p), String::new()),
        })
        .collect()
}

/// Reads one request head and, when announced, a small body.
pub(crate) async fn read_request(stream: &mut MaybeTls) -> Result<Request, HttpError> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0_u8; 2048];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(HttpError::Eof);
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 48];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&buf) {
            Ok(httparse::Status::Complete(head_len)) => {
                let method = req.method.unwrap_or("GET").to_owned();
                let target = req.path.unwrap_or("/");
                let (path, query) = target.split_once('?').unwrap_or((target, ""));
                let headers: Vec<(String, String)> = req
                    .headers
                    .iter()
                    .map(|h| {
                        (
                            h.name.to_owned(),
                            String::from_utf8_lossy(h.value).into_owned(),
                        )
                    })
                    .collect();
                let mut request = Request {
                    method,
                    path: path.to_owned(),
                    query: parse_query(query),
                    headers,
                    body: Vec::new(),
                    leftover: buf[head_len..].to_vec(),
                };
                let length = request
                    .header("content-length")
                    .map(|v| v.trim().parse::<usize>())
                    .transpose()
                    .map_err(|_| HttpError::Malformed("bad content-length".into()))?
                    .unwrap_or(0);
                if length > MAX_BODY {
                    return Err(HttpError::TooLarge);
                }
                if length > 0 {
                    let mut body = std::mem::take(&mut request.leftover);
                    while body.len() < length {
                        let n = stream.read(&mut chunk).await?;
                        if n == 0 {
                            return Err(HttpError::Eof);
                        }
                        body.extend_from_slice(&chunk[..n]);
                    }
                    body.truncate(length);
                    request.body = body;
                }
                return Ok(request);
            }
            Ok(httparse::Status::Partial) => {
                if buf.len() > MAX_HEAD {
                    return Err(HttpError::TooLarge);
                }
            }
            Err(err) => return Err(HttpError::Malformed(err.to_string())),
        }
    }
}

/// Writes a complete response and flushes.
pub(crate) async fn respond(stream: &mut MaybeTls, status: u16, content_type: &str, body: &[u8]) {
    let reason = match status {
        200 => "OK",
        201 => "Created",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        503 => "Service Unavailable",
        _ => "Internal Server Error",
    };
    // Refusals also carry their text in a header: WebSocket clients often do not read the body.
    let why = if status >= 400 && content_type == "text/plain" {
        let text: String = String::from_utf8_lossy(body)
            .trim()
            .chars()
            .filter(|c| !c.is_control())
            .collect();
        format!("X-Arxos-Reason: {text}\r\n")
    } else {
        String::new()
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{why}Connection: close\r\n\r\n",
        body.len()
    );
    let result = async {
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body).await?;
        stream.flush().await?;
        stream.shutdown().await
    }
    .await;
    if let Err(err) = result {
        tracing::debug!(%err, "writing HTTP response failed");
    }
}

async fn json(stream: &mut MaybeTls, status: u16, value: &serde_json::Value) {
    let body = serde_json::to_vec_pretty(value).unwrap_or_default();
    respond(stream, status, "application/json", &body).await;
}

async fn error(stream: &mut MaybeTls, status: u16, message: &str) {
    json(stream, status, &serde_json::json!({ "error": message })).await;
}

/// The `ws://host:port` address to write into invite codes.
fn public_url(shared: &Shared, req: &Request) -> String {
    if let Some(url) = &shared.config.public_url {
        return url.trim_end_matches('/').to_owned();
    }
    let scheme = if shared.config.tls.is_some() {
        "wss"
    } else {
        "ws"
    };
    let host = req
        .header("host")
        .map_or_else(|| shared.local_addr.to_string(), str::to_owned);
    format!("{scheme}://{host}")
}

fn invite_json(record: &InviteRecord, code: Option<String>) -> serde_json::Value {
    let mut v = serde_json::json!({
        "id": record.id,
        "doc_id": record.doc_id.to_string(),
        "automerge_url": record.doc_id.automerge_url(),
        "role": record.role,
        "grant": record.grant,
        "created_at": record.created_at,
        "expires_at": record.expires_at,
        "revoked": record.revoked,
        "expired": record.expires_at.is_some_and(|t| unix_now() >= t),
        "label": record.label,
    });
    if let (Some(code), Some(obj)) = (code, v.as_object_mut()) {
        obj.insert("code".into(), serde_json::Value::String(code));
    }
    v
}

#[derive(Deserialize, Default)]
struct CreateRoom {
    #[serde(default)]
    doc_id: Option<DocumentId>,
    #[serde(default)]
    hard_locks: bool,
}

fn authorized(shared: &Shared, req: &Request) -> bool {
    req.header("authorization")
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| constant_time_eq(t.trim().as_bytes(), shared.admin_token.as_bytes()))
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    match tokio::task::spawn_blocking(f).await {
        Ok(v) => Some(v),
        Err(err) => {
            tracing::error!(%err, "blocking admin task failed");
            None
        }
    }
}

/// Serves the plain-HTTP routes: `/healthz`, `/metrics` and `/admin/…`.
#[allow(clippy::too_many_lines)] // one flat route table reads best in one place
pub(crate) async fn serve_http(shared: Arc<Shared>, mut stream: MaybeTls, req: Request) {
    let method = req.method.as_str();
    let path = req.path.trim_end_matches('/');
    match (method, path) {
        ("GET", "/healthz") => return respond(&mut stream, 200, "text/plain", b"ok\n").await,
        ("GET", "/metrics") => {
            let text = shared.metrics.render();
            return respond(
                &mut stream,
                200,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
                text.as_bytes(),
            )
            .await;
        }
        _ => {}
    }
    if !path.starts_with("/admin") {
        return error(&mut stream, 404, "not found").await;
    }
    if !authorized(&shared, &req) {
        return error(&mut stream, 401, "missing or wrong admin token").await;
    }
    let relay_url = public_url(&shared, &req);
    match (method, path) {
        ("POST", "/admin/rooms") => {
            let body: CreateRoom = if req.body.is_empty() {
                CreateRoom::default()
            } else {
                match serde_json::from_slice(&req.body) {
                    Ok(b) => b,
                    Err(e) => return error(&mut stream, 400, &e.to_string()).await,
                }
            };
            let doc = body.doc_id.unwrap_or_else(DocumentId::random);
            let settings = RoomSettings {
                hard_locks: body.hard_locks,
                created_at: unix_now(),
            };
            let storage = Arc::clone(&shared.storage);
            match blocking(move || storage.create_room(doc, &settings)).await {
                Some(Ok(())) => {}
                Some(Err(StorageError::RoomExists(_))) => {
                    return error(&mut stream, 409, "room already exists").await;
                }
                Some(Err(e)) => return error(&mut stream, 500, &e.to_string()).await,
                None => return error(&mut stream, 500, "internal error").await,
            }
            let owner = NewInvite {
                doc_id: doc,
                role: arxos_sync::Role::Owner,
                grant: arxos_sync::Grant::default(),
                expires_in_secs: None,
                label: "owner".into(),
            };
            let shared2 = Arc::clone(&shared);
            match blocking(move || {
                shared2
                    .invites
                    .create(&relay_url, &shared2.config.also_urls, owner)
            })
            .await
            {
                Some(Ok((record, code))) => {
                    tracing::info!(room = %doc, "room created");
                    json(
                        &mut stream,
                        201,
                        &serde_json::json!({
                            "doc_id": doc.to_string(),
                            "automerge_url": doc.automerge_url(),
                            "hard_locks": body.hard_locks,
                            "owner_invite": invite_json(&record, Some(code.encode())),
                        }),
                    )
                    .await;
                }
                Some(Err(e)) => error(&mut stream, 500, &e.to_string()).await,
                None => error(&mut stream, 500, "internal error").await,
            }
        }
        ("GET", "/admin/rooms") => {
            let storage = Arc::clone(&shared.storage);
            match blocking(move || storage.list_rooms()).await {
                Some(Ok(rooms)) => {
                    let rooms: Vec<String> = rooms.iter().map(ToString::to_string).collect();
                    json(&mut stream, 200, &serde_json::json!({ "rooms": rooms })).await;
                }
                Some(Err(e)) => error(&mut stream, 500, &e.to_string()).await,
                None => error(&mut stream, 500, "internal error").await,
            }
        }
        ("GET", p) if p.starts_with("/admin/rooms/") && p.ends_with("/origins") => {
            let room = p
                .trim_start_matches("/admin/rooms/")
                .trim_end_matches("/origins");
            let Ok(doc) = DocumentId::parse(room) else {
                return error(&mut stream, 400, &format!("`{room}` is not a room id")).await;
            };
            let storage = Arc::clone(&shared.storage);
            let found = blocking(move || {
                storage
                    .room_settings(doc)
                    .and_then(|s| s.map(|_| storage.load_origins(doc)).transpose())
            })
            .await;
            match found {
                Some(Ok(Some(origins))) => {
                    json(&mut stream, 200, &serde_json::json!({ "origins": origins })).await;
                }
                Some(Ok(None)) => error(&mut stream, 404, "no such room").await,
                Some(Err(e)) => error(&mut stream, 500, &e.to_string()).await,
                None => error(&mut stream, 500, "internal error").await,
            }
        }
        ("POST", "/admin/invites") => {
            let new: NewInvite = match serde_json::from_slice(&req.body) {
                Ok(n) => n,
                Err(e) => return error(&mut stream, 400, &e.to_string()).await,
            };
            let doc = new.doc_id;
            let storage = Arc::clone(&shared.storage);
            match blocking(move || storage.room_settings(doc)).await {
                Some(Ok(Some(_))) => {}
                Some(Ok(None)) => return error(&mut stream, 404, "no such room").await,
                Some(Err(e)) => return error(&mut stream, 500, &e.to_string()).await,
                None => return error(&mut stream, 500, "internal error").await,
            }
            let shared2 = Arc::clone(&shared);
            match blocking(move || {
                shared2
                    .invites
                    .create(&relay_url, &shared2.config.also_urls, new)
            })
            .await
            {
                Some(Ok((record, code))) => {
                    json(&mut stream, 201, &invite_json(&record, Some(code.encode()))).await;
                }
                Some(Err(e)) => error(&mut stream, 500, &e.to_string()).await,
                None => error(&mut stream, 500, "internal error").await,
            }
        }
        ("GET", "/admin/invites") => {
            let doc = match req.query("doc_id").map(DocumentId::parse).transpose() {
                Ok(d) => d,
                Err(e) => return error(&mut stream, 400, &e.to_string()).await,
            };
            let list: Vec<serde_json::Value> = shared
                .invites
                .list(doc)
                .iter()
                .map(|r| invite_json(r, None))
                .collect();
            json(&mut stream, 200, &serde_json::json!({ "invites": list })).await;
        }
        ("POST", p) if p.starts_with("/admin/invites/") && p.ends_with("/revoke") => {
            let id = p
                .trim_start_matches("/admin/invites/")
                .trim_end_matches("/revoke")
                .to_owned();
            let shared2 = Arc::clone(&shared);
            let revoked_id = id.clone();
            match blocking(move || shared2.invites.revoke(&id)).await {
                Some(Ok(true)) => {
                    // Live sessions on this invite end now (no receivers is fine).
                    let _ = shared.revocations.send(revoked_id);
                    json(&mut stream, 200, &serde_json::json!({ "revoked": true })).await;
                }
                Some(Ok(false)) => error(&mut stream, 404, "no such invite").await,
                Some(Err(e)) => error(&mut stream, 500, &e.to_string()).await,
                None => error(&mut stream, 500, "internal error").await,
            }
        }
        _ => error(&mut stream, 404, "no such admin endpoint").await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_decode() {
        let q = parse_query("invite=abc%20d&x=1+2&flag");
        assert_eq!(q[0], ("invite".into(), "abc d".into()));
        assert_eq!(q[1], ("x".into(), "1 2".into()));
        assert_eq!(q[2], ("flag".into(), String::new()));
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }
}
