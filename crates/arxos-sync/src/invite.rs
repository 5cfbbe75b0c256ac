//! Invite codes and roles.
//!
//! An invite code is one pasteable string, `arx1_<base58>`, carrying the relay's WebSocket
//! address (and, for a relay of several nodes, the other nodes' addresses to fall back to),
//! the document id and a random secret. The relay stores only a hash of the secret,
//! together with the role, an optional floor/layer grant, an expiry and a revocation flag.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::protocol::{DocumentId, random_bytes};

/// Prefix of every invite code (format version 1).
pub(crate) const CODE_PREFIX: &str = "arx1_";

/// What a participant may do in a room.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read-only.
    Viewer,
    /// May only change comments.
    Commenter,
    /// May edit (possibly narrowed by a [`Grant`]).
    Editor,
    /// May edit everything and manage the room.
    Owner,
}

impl Role {
    /// The role's name as used on the command line and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Commenter => "commenter",
            Self::Editor => "editor",
            Self::Owner => "owner",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = InviteError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "viewer" => Ok(Self::Viewer),
            "commenter" => Ok(Self::Commenter),
            "editor" => Ok(Self::Editor),
            "owner" => Ok(Self::Owner),
            other => Err(InviteError::BadRole(other.to_owned())),
        }
    }
}

/// A write grant narrowed to floors and/or layers. Empty lists mean "no restriction".
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// Floor ids the holder may edit elements on (empty: any floor).
    #[serde(default)]
    pub floors: Vec<String>,
    /// Layer ids the holder may edit elements on (empty: any layer).
    #[serde(default)]
    pub layers: Vec<String>,
}

impl Grant {
    /// Whether the grant is narrowed at all.
    pub fn is_narrowed(&self) -> bool {
        !self.floors.is_empty() || !self.layers.is_empty()
    }

    /// Whether an element on `floor`/`layer` is inside the grant.
    pub fn allows(&self, floor: Option<&str>, layer: Option<&str>) -> bool {
        let floor_ok =
            self.floors.is_empty() || floor.is_some_and(|f| self.floors.iter().any(|g| g == f));
        let layer_ok =
            self.layers.is_empty() || layer.is_some_and(|l| self.layers.iter().any(|g| g == l));
        floor_ok && layer_ok
    }
}

/// Errors about invite codes.
#[derive(Debug, thiserror::Error)]
pub enum InviteError {
    /// The code is not an Arxos invite code.
    #[error("not an Arxos invite code (expected `arx1_…`)")]
    BadCode,
    /// Unknown role name.
    #[error("unknown role `{0}` (expected owner, editor, commenter or viewer)")]
    BadRole(String),
    /// The relay address is not a ws:// or wss:// URL.
    #[error("relay address `{0}` must start with ws:// or wss://")]
    BadRelay(String),
}

/// A parsed invite code.
#[derive(Clone, PartialEq, Eq)]
pub struct InviteCode {
    /// The relay's base WebSocket address, e.g. `ws://127.0.0.1:7000`.
    pub relay: String,
    /// More addresses of the same relay service (other nodes of a cluster), tried in order
    /// when [`Self::relay`] cannot be reached. Empty for a one-node relay, and then the code
    /// is exactly what clients before this field read.
    pub also: Vec<String>,
    /// The document (room).
    pub document_id: DocumentId,
    /// The secret (bs58 of 24 random bytes).
    pub secret: String,
}

impl fmt::Debug for InviteCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InviteCode")
            .field("relay", &self.relay)
            .field("also", &self.also)
            .field("document_id", &self.document_id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl InviteCode {
    /// A new invite with a fresh random secret.
    pub fn generate(relay: &str, document_id: DocumentId) -> Result<Self, InviteError> {
        let relay = normalize_relay(relay)?;
        Ok(Self {
            relay,
            also: Vec::new(),
            document_id,
            secret: new_secret(),
        })
    }

    /// The same invite with `also` as its other addresses (normalised, without repeats of
    /// one another or of the main address).
    pub fn with_also<S: AsRef<str>>(mut self, also: &[S]) -> Result<Self, InviteError> {
        let mut out: Vec<String> = Vec::with_capacity(also.len());
        for a in also {
            let a = normalize_relay(a.as_ref())?;
            if a != self.relay && !out.contains(&a) {
                out.push(a);
            }
        }
        self.also = out;
        Ok(self)
    }

    /// Every address of the relay, the main one first.
    pub fn relays(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.relay.as_str()).chain(self.also.iter().map(String::as_str))
    }

    /// The pasteable code. The other addresses, when there are any, are a fourth line.
    pub fn encode(&self) -> String {
        let mut body = format!("{}\n{}\n{}", self.relay, self.document_id, self.secret);
        if !self.also.is_empty() {
            body.push('\n');
            body.push_str(&self.also.join(" "));
        }
        format!("{CODE_PREFIX}{}", bs58::encode(body).into_string())
    }

    /// Parses a pasteable code (surrounding whitespace is ignored).
    pub fn parse(code: &str) -> Result<Self, InviteError> {
        let body = code
            .trim()
            .strip_prefix(CODE_PREFIX)
            .ok_or(InviteError::BadCode)?;
        let bytes = bs58::decode(body)
            .into_vec()
            .map_err(|_| InviteError::BadCode)?;
        let text = String::from_utf8(bytes).map_err(|_| InviteError::BadCode)?;
        let mut parts = text.split('\n');
        let (Some(relay), Some(doc), Some(secret), also, None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(InviteError::BadCode);
        };
        let document_id = DocumentId::parse(doc).map_err(|_| InviteError::BadCode)?;
        if secret.is_empty() || !secret.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(InviteError::BadCode);
        }
        let also: Vec<&str> = also.map(|a| a.split(' ').collect()).unwrap_or_default();
        if also.iter().any(|a| a.is_empty()) {
            return Err(InviteError::BadCode);
        }
        Self {
            relay: normalize_relay(relay)?,
            also: Vec::new(),
            document_id,
            secret: secret.to_owned(),
        }
        .with_also(&also)
    }

    /// The WebSocket URL to connect to (authenticates at the upgrade). Stock automerge-repo
    /// clients can pass this URL to their WebSocket adapter.
    pub fn ws_url(&self) -> String {
        format!("{}/sync?invite={}", self.relay, self.secret)
    }

    /// The relay's HTTP base address (`http://` for `ws://`, `https://` for `wss://`).
    pub fn http_base(&self) -> String {
        http_base(&self.relay)
    }

    /// The hash the relay stores instead of the secret.
    pub fn secret_hash(&self) -> String {
        hash_secret(&self.secret)
    }
}

/// Maps `ws://h:p` to `http://h:p` and `wss://…` to `https://…`.
pub fn http_base(relay: &str) -> String {
    if let Some(rest) = relay.strip_prefix("wss://") {
        format!("https://{rest}")
    } else if let Some(rest) = relay.strip_prefix("ws://") {
        format!("http://{rest}")
    } else {
        relay.to_owned()
    }
}

/// A relay address as invite codes carry it: `ws://` or `wss://` and a host, without a
/// trailing slash, a query, a fragment, whitespace or control characters. Normalizing a
/// normalized address changes nothing (fuzzing found an address whose trailing slash hid
/// tabs, which a second pass trimmed).
pub fn normalize_relay(relay: &str) -> Result<String, InviteError> {
    let relay = relay.trim().trim_end_matches('/');
    let host = relay
        .strip_prefix("ws://")
        .or_else(|| relay.strip_prefix("wss://"));
    let ok = host.is_some_and(|h| !h.is_empty())
        && !relay
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '?' || c == '#');
    if ok {
        Ok(relay.to_owned())
    } else {
        Err(InviteError::BadRelay(relay.to_owned()))
    }
}

/// A fresh random secret (24 bytes, bs58).
pub fn new_secret() -> String {
    let mut bytes = [0_u8; 24];
    random_bytes(&mut bytes);
    bs58::encode(bytes).into_string()
}

/// SHA-256 of a secret, hex; what the relay stores.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invite_code_round_trips() {
        let code = InviteCode::generate("ws://127.0.0.1:7000/", DocumentId::random()).unwrap();
        let text = code.encode();
        assert!(text.starts_with("arx1_"));
        assert!(text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
        let parsed = InviteCode::parse(&format!("  {text}\n")).unwrap();
        assert_eq!(parsed, code);
        assert_eq!(parsed.relay, "ws://127.0.0.1:7000");
        assert!(
            parsed
                .ws_url()
                .starts_with("ws://127.0.0.1:7000/sync?invite=")
        );
        assert_eq!(parsed.http_base(), "http://127.0.0.1:7000");
    }

    #[test]
    fn relay_addresses_with_whitespace_or_control_characters_are_refused() {
        assert_eq!(
            normalize_relay(" wss://relay.example/ ").unwrap(),
            "wss://relay.example"
        );
        for bad in [
            "wss://a\t/",
            "ws://a\0b",
            "ws://a b",
            "ws://a\u{8}",
            "ws://a?x",
            "ws://",
        ] {
            assert!(normalize_relay(bad).is_err(), "{bad:?}");
        }
        let once = normalize_relay("ws://a:1//").unwrap();
        assert_eq!(normalize_relay(&once).unwrap(), once);
    }

    #[test]
    fn other_addresses_travel_in_the_code_and_one_address_codes_are_unchanged() {
        let doc = DocumentId::random();
        let one = InviteCode::generate("ws://a:1", doc).unwrap();
        // What a client from before the field wrote and reads: three lines.
        let old = format!(
            "arx1_{}",
            bs58::encode(format!("ws://a:1\n{doc}\n{}", one.secret)).into_string()
        );
        assert_eq!(one.encode(), old);
        assert_eq!(InviteCode::parse(&old).unwrap(), one);
        let many = one
            .clone()
            .with_also(&["wss://b:2/", "ws://a:1", "wss://b:2", "ws://c:3"])
            .unwrap();
        assert_eq!(many.also, ["wss://b:2", "ws://c:3"]);
        let parsed = InviteCode::parse(&many.encode()).unwrap();
        assert_eq!(parsed, many);
        assert_eq!(
            parsed.relays().collect::<Vec<_>>(),
            ["ws://a:1", "wss://b:2", "ws://c:3"]
        );
        assert!(one.clone().with_also(&["http://b"]).is_err());
        for bad_also in ["", "ws://b  ws://c", "ftp://b"] {
            let code = format!(
                "arx1_{}",
                bs58::encode(format!("ws://a:1\n{doc}\n{}\n{bad_also}", one.secret)).into_string()
            );
            assert!(InviteCode::parse(&code).is_err(), "{bad_also:?}");
        }
    }

    #[test]
    fn bad_codes_are_rejected() {
        assert!(InviteCode::parse("").is_err());
        assert!(InviteCode::parse("arx1_").is_err());
        assert!(InviteCode::parse("arx1_0OIl").is_err());
        let junk = format!(
            "arx1_{}",
            bs58::encode("ws://a\nnot-a-doc\nsecret").into_string()
        );
        assert!(InviteCode::parse(&junk).is_err());
        assert!(InviteCode::generate("http://x", DocumentId::random()).is_err());
        assert!(InviteCode::generate("ws://", DocumentId::random()).is_err());
    }

    #[test]
    fn secrets_are_hashed_and_distinct() {
        let a = new_secret();
        let b = new_secret();
        assert_ne!(a, b);
        assert_eq!(hash_secret(&a).len(), 64);
        assert_ne!(hash_secret(&a), hash_secret(&b));
    }

    #[test]
    fn grants_narrow_by_floor_and_layer() {
        let open = Grant::default();
        assert!(open.allows(None, None));
        let g = Grant {
            floors: vec!["f1".into()],
            layers: vec!["elec".into()],
        };
        assert!(g.is_narrowed());
        assert!(g.allows(Some("f1"), Some("elec")));
        assert!(!g.allows(Some("f2"), Some("elec")));
        assert!(!g.allows(Some("f1"), Some("plumb")));
        assert!(!g.allows(None, Some("elec")));
    }

    #[test]
    fn roles_parse_and_order() {
        assert_eq!("editor".parse::<Role>().unwrap(), Role::Editor);
        assert!("root".parse::<Role>().is_err());
        assert!(Role::Owner > Role::Editor && Role::Commenter > Role::Viewer);
    }
}
