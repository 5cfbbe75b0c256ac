//! Document and peer identifiers as automerge-repo writes them.

use std::fmt;
use std::str::FromStr;

use super::ProtocolError;

/// A document id: 16 random bytes, written as bs58check (automerge-repo's `DocumentId`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DocumentId([u8; 16]);

impl DocumentId {
    /// A fresh random document id.
    pub fn random() -> Self {
        let mut bytes = [0_u8; 16];
        random_bytes(&mut bytes);
        Self(bytes)
    }

    /// The id from its raw bytes.
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// The `automerge:<id>` URL that automerge-repo clients pass to `repo.find`.
    pub fn automerge_url(&self) -> String {
        format!("automerge:{self}")
    }

    /// Parses either a bare bs58check id or an `automerge:` URL.
    pub fn parse(text: &str) -> Result<Self, ProtocolError> {
        let bare = text.strip_prefix("automerge:").unwrap_or(text);
        let bytes = bs58::decode(bare)
            .with_check(None)
            .into_vec()
            .map_err(|_| ProtocolError::BadDocumentId(text.to_owned()))?;
        let array: [u8; 16] = bytes
            .try_into()
            .map_err(|_| ProtocolError::BadDocumentId(text.to_owned()))?;
        Ok(Self(array))
    }
}

impl fmt::Display for DocumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&bs58::encode(self.0).with_check().into_string())
    }
}

impl fmt::Debug for DocumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DocumentId({self})")
    }
}

impl FromStr for DocumentId {
    type Err = ProtocolError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl serde::Serialize for DocumentId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

impl<'de> serde::Deserialize<'de> for DocumentId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A peer id: any string chosen by the peer (automerge-repo uses random strings).
#[derive(
    Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct PeerId(pub String);

impl PeerId {
    /// A fresh random peer id with a readable prefix, e.g. `arxos-relay-3KfE…`.
    pub fn random(prefix: &str) -> Self {
        let mut bytes = [0_u8; 8];
        random_bytes(&mut bytes);
        Self(format!("{prefix}-{}", bs58::encode(bytes).into_string()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for PeerId {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

/// Fills `buf` from the operating system's random source.
///
/// The OS source failing is unrecoverable for id and secret generation; we then fall back to a
/// time-seeded mix so callers never panic, and log the failure.
pub fn random_bytes(buf: &mut [u8]) {
    if let Err(err) = getrandom::fill(buf) {
        tracing::error!(%err, "OS random source failed; using a time-based fallback");
        let mut seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0x9e37_79b9_7f4a_7c15, |d| d.as_nanos() as u64);
        for byte in buf.iter_mut() {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            *byte = seed as u8;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_id_round_trips_through_text_and_url() {
        let id = DocumentId::random();
        assert_eq!(DocumentId::parse(&id.to_string()).unwrap(), id);
        assert_eq!(DocumentId::parse(&id.automerge_url()).unwrap(), id);
    }

    #[test]
    fn document_id_rejects_bad_checksum_and_length() {
        let id = DocumentId::random().to_string();
        let mut broken = id.clone().into_bytes();
        let last = broken.len() - 1;
        broken[last] = if broken[last] == b'2' { b'3' } else { b'2' };
        assert!(DocumentId::parse(std::str::from_utf8(&broken).unwrap()).is_err());
        let short = bs58::encode([1_u8; 8]).with_check().into_string();
        assert!(DocumentId::parse(&short).is_err());
        assert!(DocumentId::parse("not base58 0OIl").is_err());
    }

    #[test]
    fn known_automerge_repo_id_parses() {
        // bs58check of 16 zero bytes, as automerge-repo's `binaryToDocumentId` writes it.
        let zero = DocumentId::from_bytes([0; 16]);
        assert_eq!(DocumentId::parse(&zero.to_string()).unwrap(), zero);
        assert!(
            zero.automerge_url()
                .starts_with("automerge:1111111111111111")
        );
    }
}
