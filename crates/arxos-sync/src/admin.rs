//! A small blocking client for the relay's admin HTTP API (`/admin/…`, bearer token), and
//! [`share`], which uploads a local document and returns invite codes.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::client::{ClientError, SyncSummary, sync_once};
use crate::invite::{Grant, InviteCode, Role, http_base};
use crate::protocol::DocumentId;
use crate::store::LocalStore;

/// The invite an accepted change came through, as the relay saw it when it accepted the
/// change: the verified origin, beside which the author a change names is only a claim.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Origin {
    /// The change hash, hex.
    pub change: String,
    /// The invite's public id.
    pub invite: String,
    /// The invite's label ("for the electrician"), empty when it has none.
    #[serde(default)]
    pub label: String,
    /// The role the invite granted.
    pub role: Role,
    /// The peer id the connection joined with.
    pub peer: String,
    /// When the relay accepted the change, milliseconds since the Unix epoch.
    pub at_ms: u64,
}

/// An invite as the relay lists it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct InviteInfo {
    /// Public id (for revoke).
    pub id: String,
    /// The room.
    pub doc_id: DocumentId,
    /// Role granted.
    pub role: Role,
    /// Floor/layer narrowing.
    #[serde(default)]
    pub grant: Grant,
    /// Unix seconds.
    pub created_at: u64,
    /// Unix seconds, if it expires.
    pub expires_at: Option<u64>,
    /// Revoked.
    pub revoked: bool,
    /// Expired.
    #[serde(default)]
    pub expired: bool,
    /// Free text.
    #[serde(default)]
    pub label: String,
    /// The code, only in the answer that created it.
    #[serde(default)]
    pub code: Option<String>,
}

/// A new invite.
#[derive(Clone, Debug, Serialize)]
pub struct InviteRequest {
    /// The room.
    pub doc_id: DocumentId,
    /// Role.
    pub role: Role,
    /// Narrowing.
    pub grant: Grant,
    /// Lifetime; `None` = forever.
    pub expires_in_secs: Option<u64>,
    /// Free text.
    pub label: String,
}

/// A room the relay created.
#[derive(Clone, Debug)]
pub struct CreatedRoom {
    /// The document id.
    pub doc_id: DocumentId,
    /// The owner invite.
    pub owner: InviteInfo,
    /// The owner invite code.
    pub owner_code: InviteCode,
}

/// Talks to one relay's admin API.
#[derive(Clone)]
pub struct AdminClient {
    host_port: String,
    token: String,
    timeout: Duration,
    /// For `https://` relays: the server name and TLS configuration.
    tls: Option<(String, std::sync::Arc<rustls::ClientConfig>)>,
}

impl std::fmt::Debug for AdminClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminClient")
            .field("host_port", &self.host_port)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

/// Sends one request and reads the whole response.
fn exchange(
    stream: &mut (impl Read + Write),
    head: &[u8],
    body: &[u8],
) -> Result<Vec<u8>, ClientError> {
    stream.write_all(head).map_err(admin_err)?;
    stream.write_all(body).map_err(admin_err)?;
    stream.flush().map_err(admin_err)?;
    let mut response = Vec::new();
    let mut chunk = [0_u8; 8192];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                response.extend_from_slice(&chunk[..n]);
                if response.len() > 8 * 1024 * 1024 {
                    return Err(admin_err("response too large"));
                }
            }
            // A TLS peer closing without close_notify still delivered the full response.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !response.is_empty() => {
                break;
            }
            Err(e) => return Err(admin_err(e)),
        }
    }
    Ok(response)
}

fn admin_err(e: impl std::fmt::Display) -> ClientError {
    ClientError::Admin(e.to_string())
}

impl AdminClient {
    /// For a relay given as `ws://`, `wss://`, `http://` or `https://host:port`. TLS trusts the
    /// web roots plus the CA file in `ARXOS_TLS_CA`, if set.
    pub fn new(relay: &str, token: &str) -> Result<Self, ClientError> {
        Self::with_tls_ca(relay, token, crate::tls::ca_from_env().as_deref())
    }

    /// Like [`Self::new`], trusting the certificates in `tls_ca` too.
    pub fn with_tls_ca(
        relay: &str,
        token: &str,
        tls_ca: Option<&Path>,
    ) -> Result<Self, ClientError> {
        let base = http_base(relay.trim_end_matches('/'));
        let (host_port, tls) = if let Some(rest) = base.strip_prefix("http://") {
            (rest, false)
        } else if let Some(rest) = base.strip_prefix("https://") {
            (rest, true)
        } else {
            return Err(ClientError::Invalid(format!(
                "relay address `{relay}` must start with ws://, wss://, http:// or https://"
            )));
        };
        let host_port = host_port.trim_end_matches('/').to_owned();
        let tls = if tls {
            let host = host_port
                .rsplit_once(':')
                .map_or(host_port.as_str(), |(h, _)| h)
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned();
            Some((host, crate::tls::client_config(tls_ca)?))
        } else {
            None
        };
        Ok(Self {
            host_port,
            token: token.to_owned(),
            timeout: Duration::from_secs(10),
            tls,
        })
    }

    fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<serde_json::Value, ClientError> {
        let addr = self
            .host_port
            .to_socket_addrs()
            .map_err(admin_err)?
            .next()
            .ok_or_else(|| admin_err(format!("cannot resolve {}", self.host_port)))?;
        let mut stream = TcpStream::connect_timeout(&addr, self.timeout).map_err(|e| {
            ClientError::Admin(format!("cannot reach relay at {}: {e}", self.host_port))
        })?;
        stream
            .set_read_timeout(Some(self.timeout))
            .map_err(admin_err)?;
        stream
            .set_write_timeout(Some(self.timeout))
            .map_err(admin_err)?;
        let body = body
            .map(serde_json::to_vec)
            .transpose()
            .map_err(admin_err)?
            .unwrap_or_default();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            self.host_port,
            self.token,
            body.len()
        );
        let response = match &self.tls {
            None => exchange(&mut stream, head.as_bytes(), &body)?,
            Some((host, config)) => {
                let name =
                    rustls_pki_types::ServerName::try_from(host.clone()).map_err(admin_err)?;
                let conn = rustls::ClientConnection::new(std::sync::Arc::clone(config), name)
                    .map_err(admin_err)?;
                let mut tls = rustls::StreamOwned::new(conn, stream);
                exchange(&mut tls, head.as_bytes(), &body)?
            }
        };
        let text = String::from_utf8_lossy(&response);
        let (head, body) = text
            .split_once("\r\n\r\n")
            .ok_or_else(|| admin_err("malformed HTTP response"))?;
        let status: u16 = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| admin_err("malformed HTTP status"))?;
        let value: serde_json::Value =
            serde_json::from_str(body).unwrap_or(serde_json::Value::Null);
        if (200..300).contains(&status) {
            Ok(value)
        } else {
            let msg = value
                .get("error")
                .and_then(|e| e.as_str())
                .map_or_else(|| body.trim().to_owned(), str::to_owned);
            Err(ClientError::Admin(format!("{status}: {msg}")))
        }
    }

    /// Creates a room (random id unless given); returns its owner invite.
    pub fn create_room(
        &self,
        doc_id: Option<DocumentId>,
        hard_locks: bool,
    ) -> Result<CreatedRoom, ClientError> {
        let body = serde_json::json!({ "doc_id": doc_id, "hard_locks": hard_locks });
        let v = self.request("POST", "/admin/rooms", Some(&body))?;
        let owner: InviteInfo =
            serde_json::from_value(v.get("owner_invite").cloned().unwrap_or_default())
                .map_err(admin_err)?;
        let code = owner
            .code
            .as_deref()
            .ok_or_else(|| admin_err("relay returned no owner code"))
            .and_then(|c| InviteCode::parse(c).map_err(admin_err))?;
        Ok(CreatedRoom {
            doc_id: owner.doc_id,
            owner,
            owner_code: code,
        })
    }

    /// Lists rooms.
    pub fn list_rooms(&self) -> Result<Vec<DocumentId>, ClientError> {
        let v = self.request("GET", "/admin/rooms", None)?;
        serde_json::from_value(v.get("rooms").cloned().unwrap_or_default()).map_err(admin_err)
    }

    /// Creates an invite; the answer carries the code.
    pub fn create_invite(&self, req: &InviteRequest) -> Result<InviteInfo, ClientError> {
        let body = serde_json::to_value(req).map_err(admin_err)?;
        let v = self.request("POST", "/admin/invites", Some(&body))?;
        serde_json::from_value(v).map_err(admin_err)
    }

    /// Lists invites (of one room, or all).
    pub fn list_invites(&self, doc: Option<DocumentId>) -> Result<Vec<InviteInfo>, ClientError> {
        let path = doc.map_or_else(
            || "/admin/invites".to_owned(),
            |d| format!("/admin/invites?doc_id={d}"),
        );
        let v = self.request("GET", &path, None)?;
        serde_json::from_value(v.get("invites").cloned().unwrap_or_default()).map_err(admin_err)
    }

    /// The verified origin of every change the room accepted through an invite.
    pub fn origins(&self, doc: DocumentId) -> Result<Vec<Origin>, ClientError> {
        let v = self.request("GET", &format!("/admin/rooms/{doc}/origins"), None)?;
        serde_json::from_value(v.get("origins").cloned().unwrap_or_default()).map_err(admin_err)
    }

    /// Revokes an invite by id.
    pub fn revoke_invite(&self, id: &str) -> Result<(), ClientError> {
        if !id.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(ClientError::Invalid(format!("bad invite id `{id}`")));
        }
        self.request("POST", &format!("/admin/invites/{id}/revoke"), None)
            .map(drop)
    }
}

/// Options for [`share`].
#[derive(Clone, Debug)]
pub struct ShareOptions {
    /// `ws://host:port`.
    pub relay: String,
    /// The relay's admin token.
    pub admin_token: String,
    /// Role of the printed invite.
    pub role: Role,
    /// Floor/layer narrowing of the printed invite.
    pub grant: Grant,
    /// Lifetime of the printed invite.
    pub expires_in_secs: Option<u64>,
    /// Hard locks for a new room.
    pub hard_locks: bool,
    /// Upload timeout.
    pub timeout: Duration,
}

/// What [`share`] did.
#[derive(Clone, Debug)]
pub struct ShareOutcome {
    /// The room.
    pub doc_id: DocumentId,
    /// The owner code (remembered in the sidecar for `arxos sync FILE`).
    pub owner_code: InviteCode,
    /// The new invite.
    pub invite: InviteInfo,
    /// The new invite code.
    pub invite_code: InviteCode,
    /// The upload.
    pub summary: SyncSummary,
}

/// Uploads `file` to the relay (creating its room on first share; the owner code is kept in
/// the file's sidecar) and creates an invite (`arxos share`).
pub fn share(file: &Path, opts: &ShareOptions) -> Result<ShareOutcome, ClientError> {
    if !file.exists() {
        return Err(ClientError::Invalid(format!(
            "{} does not exist",
            file.display()
        )));
    }
    let admin = AdminClient::new(&opts.relay, &opts.admin_token)?;
    let store = LocalStore::beside(file);
    let meta = store.load_meta()?;
    let relay = opts.relay.trim_end_matches('/');
    let known = meta
        .invite
        .as_deref()
        .and_then(|c| InviteCode::parse(c).ok())
        .filter(|c| c.relay == relay);
    let owner_code = match known {
        Some(code) => code,
        None => admin.create_room(None, opts.hard_locks)?.owner_code,
    };
    let summary = sync_once(owner_code.clone(), file, opts.timeout, &|_| {})?;
    let invite = admin.create_invite(&InviteRequest {
        doc_id: owner_code.document_id,
        role: opts.role,
        grant: opts.grant.clone(),
        expires_in_secs: opts.expires_in_secs,
        label: format!("shared {}", opts.role),
    })?;
    let invite_code = invite
        .code
        .as_deref()
        .ok_or_else(|| admin_err("relay returned no code"))
        .and_then(|c| InviteCode::parse(c).map_err(admin_err))?;
    Ok(ShareOutcome {
        doc_id: owner_code.document_id,
        owner_code,
        invite,
        invite_code,
        summary,
    })
}

/// Parses durations like `30s`, `15m`, `12h`, `7d`, `2w` (or plain seconds).
pub fn parse_duration_secs(text: &str) -> Result<u64, ClientError> {
    let text = text.trim();
    let (num, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: u64 = num
        .parse()
        .map_err(|_| ClientError::Invalid(format!("bad duration `{text}` (try 7d, 12h, 30m)")))?;
    let mult = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => {
            return Err(ClientError::Invalid(format!(
                "bad duration unit in `{text}`"
            )));
        }
    };
    Ok(n.saturating_mul(mult))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration_secs("7d").unwrap(), 604_800);
        assert_eq!(parse_duration_secs("90").unwrap(), 90);
        assert_eq!(parse_duration_secs("15m").unwrap(), 900);
        assert!(parse_duration_secs("7y").is_err());
        assert!(parse_duration_secs("d").is_err());
    }

    #[test]
    fn admin_client_accepts_ws_and_wss() {
        assert!(AdminClient::new("ws://127.0.0.1:1", "t").is_ok());
        assert!(AdminClient::new("wss://example.org:443", "t").is_ok());
        assert!(AdminClient::new("ftp://example.org", "t").is_err());
    }
}
