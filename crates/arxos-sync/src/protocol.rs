//! The automerge-repo wire protocol (version "1") and our typed ephemeral payloads.
//!
//! Messages are CBOR maps keyed by the same field names automerge-repo uses
//! (`senderId`, `targetId`, `documentId`, `data`, …). [`WireMessage::decode`] never panics on
//! arbitrary input: anything that is not a well-formed message is a [`ProtocolError`].

mod cbor;
mod ids;
pub mod payload;
mod wire;

pub use ids::{DocumentId, PeerId, random_bytes};
pub use wire::{
    EphemeralMessage, ErrorMessage, JoinMessage, PROTOCOL_VERSION, PeerMessage, PeerMetadata,
    SyncPayload, WireMessage,
};

/// WebSocket settings for both ends. tungstenite zero-fills its whole read buffer before
/// every read (128 KiB by default); our frames are small and many, so a 16 KiB buffer saves a
/// relay under load most of its memory bandwidth. Larger frames still arrive, over several
/// reads.
pub fn ws_config() -> tokio_tungstenite::tungstenite::protocol::WebSocketConfig {
    tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default().read_buffer_size(16 * 1024)
}

/// Errors produced while decoding or encoding protocol messages.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    /// The bytes are not valid CBOR.
    #[error("invalid CBOR: {0}")]
    Cbor(String),
    /// The CBOR value is not a map with a text `type` field.
    #[error("not a protocol message: {0}")]
    Shape(String),
    /// A required field is missing.
    #[error("message `{kind}` lacks field `{field}`")]
    MissingField {
        /// The message type.
        kind: String,
        /// The missing field name.
        field: &'static str,
    },
    /// A field has the wrong type.
    #[error("field `{field}` has the wrong type")]
    WrongType {
        /// The field name.
        field: &'static str,
    },
    /// A document id is not a bs58check-encoded 16-byte id.
    #[error("invalid document id `{0}`")]
    BadDocumentId(String),
    /// A typed payload could not be encoded or decoded.
    #[error("invalid payload: {0}")]
    Payload(String),
}
