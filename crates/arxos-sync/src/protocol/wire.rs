//! The automerge-repo message set and its CBOR encoding.

use ciborium::Value;

use super::ProtocolError;
use super::cbor::{MapBuilder, MapView, decode_value, encode_value};
use super::ids::{DocumentId, PeerId};

/// The only protocol version we speak (automerge-repo's `ProtocolV1`).
pub const PROTOCOL_VERSION: &str = "1";

/// Metadata a peer presents in `join` / `peer` (automerge-repo's `PeerMetadata`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PeerMetadata {
    /// The peer's storage id, when it persists documents.
    pub storage_id: Option<String>,
    /// Whether the peer keeps nothing (a browser tab without storage, a relay client).
    pub is_ephemeral: bool,
}

impl PeerMetadata {
    fn to_value(&self) -> Value {
        let mut entries = Vec::new();
        if let Some(id) = &self.storage_id {
            entries.push((Value::Text("storageId".into()), Value::Text(id.clone())));
        }
        entries.push((
            Value::Text("isEphemeral".into()),
            Value::Bool(self.is_ephemeral),
        ));
        Value::Map(entries)
    }

    fn from_value(value: Option<&Value>) -> Self {
        let mut meta = Self::default();
        if let Some(Value::Map(entries)) = value {
            for (k, v) in entries {
                match (k, v) {
                    (Value::Text(k), Value::Text(v)) if k == "storageId" => {
                        meta.storage_id = Some(v.clone());
                    }
                    (Value::Text(k), Value::Bool(b)) if k == "isEphemeral" => {
                        meta.is_ephemeral = *b;
                    }
                    _ => {}
                }
            }
        }
        meta
    }
}

/// `join`: the first message a client sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinMessage {
    /// The client's peer id.
    pub sender_id: PeerId,
    /// The client's metadata.
    pub peer_metadata: PeerMetadata,
    /// Protocol versions the client supports.
    pub supported_protocol_versions: Vec<String>,
}

/// `peer`: the server's answer to `join`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerMessage {
    /// The server's peer id.
    pub sender_id: PeerId,
    /// The client's peer id.
    pub target_id: PeerId,
    /// The server's metadata.
    pub peer_metadata: PeerMetadata,
    /// The version the server selected.
    pub selected_protocol_version: String,
}

/// The body shared by `request` and `sync`: an Automerge sync message for one document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncPayload {
    /// The sender.
    pub sender_id: PeerId,
    /// The recipient.
    pub target_id: PeerId,
    /// The document.
    pub document_id: DocumentId,
    /// The encoded `automerge::sync::Message`.
    pub data: Vec<u8>,
}

/// `ephemeral`: an unpersisted message about a document (presence, locks, …).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EphemeralMessage {
    /// The original sender.
    pub sender_id: PeerId,
    /// The recipient.
    pub target_id: PeerId,
    /// The document it is about.
    pub document_id: DocumentId,
    /// The sender's session id (random per process).
    pub session_id: String,
    /// A per-session sequence number.
    pub count: u64,
    /// Opaque payload; Arxos peers put a [`super::payload::ArxPayload`] here.
    pub data: Vec<u8>,
}

/// `error`: the sender is about to close the connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorMessage {
    /// The sender.
    pub sender_id: PeerId,
    /// The recipient, when known.
    pub target_id: Option<PeerId>,
    /// What went wrong.
    pub message: String,
}

/// One protocol message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WireMessage {
    /// `join`
    Join(JoinMessage),
    /// `peer`
    Peer(PeerMessage),
    /// `request`: a sync message from a peer that does not have the document yet.
    Request(SyncPayload),
    /// `sync`
    Sync(SyncPayload),
    /// `doc-unavailable`
    DocUnavailable {
        /// The sender.
        sender_id: PeerId,
        /// The recipient.
        target_id: PeerId,
        /// The document nobody has.
        document_id: DocumentId,
    },
    /// `ephemeral`
    Ephemeral(EphemeralMessage),
    /// `error`
    Error(ErrorMessage),
    /// `leave`
    Leave {
        /// The peer leaving.
        sender_id: PeerId,
    },
    /// A well-formed message of a type we do not handle (e.g. `remote-heads-changed`); ignored.
    Unknown {
        /// Its `type` field.
        kind: String,
    },
}

impl WireMessage {
    /// The message's `type` field.
    pub fn kind(&self) -> &str {
        match self {
            Self::Join(_) => "join",
            Self::Peer(_) => "peer",
            Self::Request(_) => "request",
            Self::Sync(_) => "sync",
            Self::DocUnavailable { .. } => "doc-unavailable",
            Self::Ephemeral(_) => "ephemeral",
            Self::Error(_) => "error",
            Self::Leave { .. } => "leave",
            Self::Unknown { kind } => kind,
        }
    }

    /// Encodes the message as one CBOR map.
    pub fn encode(&self) -> Vec<u8> {
        encode_value(&self.to_value())
    }

    fn to_value(&self) -> Value {
        match self {
            Self::Join(m) => MapBuilder::new("join")
                .text("senderId", m.sender_id.as_str())
                .value("peerMetadata", m.peer_metadata.to_value())
                .value(
                    "supportedProtocolVersions",
                    Value::Array(
                        m.supported_protocol_versions
                            .iter()
                            .map(|v| Value::Text(v.clone()))
                            .collect(),
                    ),
                )
                .build(),
            Self::Peer(m) => MapBuilder::new("peer")
                .text("senderId", m.sender_id.as_str())
                .text("targetId", m.target_id.as_str())
                .value("peerMetadata", m.peer_metadata.to_value())
                .text("selectedProtocolVersion", &m.selected_protocol_version)
                .build(),
            Self::Request(m) | Self::Sync(m) => MapBuilder::new(self.kind())
                .text("senderId", m.sender_id.as_str())
                .text("targetId", m.target_id.as_str())
                .text("documentId", &m.document_id.to_string())
                .bytes("data", &m.data)
                .build(),
            Self::DocUnavailable {
                sender_id,
                target_id,
                document_id,
            } => MapBuilder::new("doc-unavailable")
                .text("senderId", sender_id.as_str())
                .text("targetId", target_id.as_str())
                .text("documentId", &document_id.to_string())
                .build(),
            Self::Ephemeral(m) => MapBuilder::new("ephemeral")
                .text("senderId", m.sender_id.as_str())
                .text("targetId", m.target_id.as_str())
                .text("documentId", &m.document_id.to_string())
                .text("sessionId", &m.session_id)
                .value("count", Value::Integer(m.count.into()))
                .bytes("data", &m.data)
                .build(),
            Self::Error(m) => {
                let mut b = MapBuilder::new("error").text("senderId", m.sender_id.as_str());
                if let Some(target) = &m.target_id {
                    b = b.text("targetId", target.as_str());
                }
                b.text("message", &m.message).build()
            }
            Self::Leave { sender_id } => MapBuilder::new("leave")
                .text("senderId", sender_id.as_str())
                .build(),
            Self::Unknown { kind } => MapBuilder::new(kind).build(),
        }
    }

    /// Decodes one message. Never panics; any malformed input is an error.
    pub fn decode(bytes: &[u8]) -> Result<Self, ProtocolError> {
        let value = decode_value(bytes)?;
        let map = MapView::new(&value)?;
        let peer = |field| map.text(field).map(PeerId);
        let doc = || {
            let text = map.text("documentId")?;
            DocumentId::parse(&text)
        };
        let sync = || -> Result<SyncPayload, ProtocolError> {
            Ok(SyncPayload {
                sender_id: peer("senderId")?,
                target_id: peer("targetId")?,
                document_id: doc()?,
                data: map.bytes("data")?,
            })
        };
        Ok(match map.kind.as_str() {
            "join" => Self::Join(JoinMessage {
                sender_id: peer("senderId")?,
                peer_metadata: PeerMetadata::from_value(map.get("peerMetadata")),
                supported_protocol_versions: map.text_list("supportedProtocolVersions")?,
            }),
            "peer" => Self::Peer(PeerMessage {
                sender_id: peer("senderId")?,
                target_id: peer("targetId")?,
                peer_metadata: PeerMetadata::from_value(map.get("peerMetadata")),
                selected_protocol_version: map.text("selectedProtocolVersion")?,
            }),
            "request" => Self::Request(sync()?),
            "sync" => Self::Sync(sync()?),
            "doc-unavailable" => Self::DocUnavailable {
                sender_id: peer("senderId")?,
                target_id: peer("targetId")?,
                document_id: doc()?,
            },
            "ephemeral" => Self::Ephemeral(EphemeralMessage {
                sender_id: peer("senderId")?,
                target_id: peer("targetId")?,
                document_id: doc()?,
                session_id: map.text("sessionId")?,
                count: map.uint("count")?,
                data: map.bytes("data")?,
            }),
            "error" => Self::Error(ErrorMessage {
                sender_id: peer("senderId")?,
                target_id: map.opt_text("targetId")?.map(PeerId),
                message: map.text("message")?,
            }),
            "leave" => Self::Leave {
                sender_id: peer("senderId")?,
            },
            other => Self::Unknown {
                kind: other.to_owned(),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn peer_id() -> impl Strategy<Value = PeerId> {
        "[a-zA-Z0-9-]{1,24}".prop_map(PeerId)
    }

    fn doc_id() -> impl Strategy<Value = DocumentId> {
        any::<[u8; 16]>().prop_map(DocumentId::from_bytes)
    }

    fn meta() -> impl Strategy<Value = PeerMetadata> {
        (proptest::option::of("[a-z0-9-]{1,20}"), any::<bool>()).prop_map(
            |(storage_id, is_ephemeral)| PeerMetadata {
                storage_id,
                is_ephemeral,
            },
        )
    }

    fn sync_payload() -> impl Strategy<Value = SyncPayload> {
        (
            peer_id(),
            peer_id(),
            doc_id(),
            proptest::collection::vec(any::<u8>(), 0..256),
        )
            .prop_map(|(sender_id, target_id, document_id, data)| SyncPayload {
                sender_id,
                target_id,
                document_id,
                data,
            })
    }

    fn message() -> impl Strategy<Value = WireMessage> {
        prop_oneof![
            (
                peer_id(),
                meta(),
                proptest::collection::vec("[0-9]{1,2}", 0..3)
            )
                .prop_map(|(sender_id, peer_metadata, v)| WireMessage::Join(
                    JoinMessage {
                        sender_id,
                        peer_metadata,
                        supported_protocol_versions: v,
                    }
                )),
            (peer_id(), peer_id(), meta()).prop_map(|(s, t, m)| WireMessage::Peer(PeerMessage {
                sender_id: s,
                target_id: t,
                peer_metadata: m,
                selected_protocol_version: PROTOCOL_VERSION.into(),
            })),
            sync_payload().prop_map(WireMessage::Request),
            sync_payload().prop_map(WireMessage::Sync),
            (peer_id(), peer_id(), doc_id()).prop_map(|(s, t, d)| WireMessage::DocUnavailable {
                sender_id: s,
                target_id: t,
                document_id: d,
            }),
            (sync_payload(), "[a-z0-9]{1,16}", any::<u32>()).prop_map(|(p, session_id, count)| {
                WireMessage::Ephemeral(EphemeralMessage {
                    sender_id: p.sender_id,
                    target_id: p.target_id,
                    document_id: p.document_id,
                    session_id,
                    count: u64::from(count),
                    data: p.data,
                })
            }),
            (peer_id(), proptest::option::of(peer_id()), ".{0,40}").prop_map(|(s, t, m)| {
                WireMessage::Error(ErrorMessage {
                    sender_id: s,
                    target_id: t,
                    message: m,
                })
            }),
            peer_id().prop_map(|sender_id| WireMessage::Leave { sender_id }),
        ]
    }

    proptest! {
        #[test]
        fn every_message_round_trips(msg in message()) {
            let bytes = msg.encode();
            prop_assert_eq!(WireMessage::decode(&bytes).unwrap(), msg);
        }

        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            // Either an error or some message; never a panic.
            let _ = WireMessage::decode(&bytes);
        }

        #[test]
        fn truncated_messages_are_errors(msg in message(), cut in 1_usize..16) {
            let bytes = msg.encode();
            let keep = bytes.len().saturating_sub(cut);
            prop_assert!(WireMessage::decode(&bytes[..keep]).is_err());
        }
    }

    #[test]
    fn field_names_match_automerge_repo() {
        let msg = WireMessage::Sync(SyncPayload {
            sender_id: "a".into(),
            target_id: "b".into(),
            document_id: DocumentId::from_bytes([7; 16]),
            data: vec![1, 2, 3],
        });
        let value = decode_value(&msg.encode()).unwrap();
        let Value::Map(entries) = value else {
            panic!("not a map")
        };
        let keys: Vec<String> = entries
            .iter()
            .filter_map(|(k, _)| k.as_text().map(str::to_owned))
            .collect();
        assert_eq!(keys, ["type", "senderId", "targetId", "documentId", "data"]);
        assert!(matches!(&entries[4].1, Value::Bytes(b) if b == &[1, 2, 3]));
    }

    #[test]
    fn decodes_a_join_as_the_js_adapter_sends_it() {
        // {"type":"join","senderId":"p1","peerMetadata":{"isEphemeral":true},
        //  "supportedProtocolVersions":["1"]} with a CBOR `undefined` storageId, as cbor-x writes it.
        let value = Value::Map(vec![
            (Value::Text("type".into()), Value::Text("join".into())),
            (Value::Text("senderId".into()), Value::Text("p1".into())),
            (
                Value::Text("peerMetadata".into()),
                Value::Map(vec![
                    (Value::Text("storageId".into()), Value::Null),
                    (Value::Text("isEphemeral".into()), Value::Bool(true)),
                ]),
            ),
            (
                Value::Text("supportedProtocolVersions".into()),
                Value::Array(vec![Value::Text("1".into())]),
            ),
        ]);
        let mut bytes = encode_value(&value);
        let null_at = bytes.iter().position(|b| *b == 0xf6).unwrap();
        bytes[null_at] = 0xf7; // CBOR `undefined`
        let msg = WireMessage::decode(&bytes).unwrap();
        let WireMessage::Join(join) = msg else {
            panic!("not a join")
        };
        assert_eq!(join.sender_id.as_str(), "p1");
        assert!(join.peer_metadata.is_ephemeral);
        assert_eq!(join.peer_metadata.storage_id, None);
        assert_eq!(join.supported_protocol_versions, ["1"]);
    }

    #[test]
    fn specific_garbage_is_rejected() {
        assert!(WireMessage::decode(b"").is_err());
        assert!(WireMessage::decode(b"\xff\xff\xff").is_err());
        assert!(WireMessage::decode(b"hello world").is_err());
        // A map without `type`.
        assert!(WireMessage::decode(&encode_value(&Value::Map(vec![]))).is_err());
        // A sync message with a bad document id.
        let bad = MapBuilder::new("sync")
            .text("senderId", "a")
            .text("targetId", "b")
            .text("documentId", "xyz")
            .bytes("data", &[1])
            .build();
        assert!(matches!(
            WireMessage::decode(&encode_value(&bad)),
            Err(ProtocolError::BadDocumentId(_))
        ));
        // Deep nesting is bounded.
        let deep = vec![0x81_u8; 10_000];
        assert!(WireMessage::decode(&deep).is_err());
        // Unknown types are tolerated.
        let unknown = MapBuilder::new("remote-heads-changed").build();
        assert_eq!(
            WireMessage::decode(&encode_value(&unknown)).unwrap(),
            WireMessage::Unknown {
                kind: "remote-heads-changed".into()
            }
        );
    }
}
