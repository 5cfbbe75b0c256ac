//! Arxos' typed payloads carried in `ephemeral` messages: room info, presence, locks,
//! refusals.
//!
//! Each payload is a CBOR map whose `t` field starts with `arx/`, so Arxos peers can tell
//! their own payloads from other automerge-repo applications' ephemeral data, which the relay
//! forwards untouched.

use serde::{Deserialize, Serialize};

use super::ProtocolError;

/// A user's activity state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PresenceStatus {
    /// Connected and active.
    #[default]
    Online,
    /// Connected but idle.
    Away,
    /// Actively editing.
    Editing,
}

/// A cursor position in document coordinates on one floor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cursor {
    /// Floor id.
    pub floor: String,
    /// X in millimetres.
    pub x_mm: f64,
    /// Y in millimetres.
    pub y_mm: f64,
}

/// The visible region, for follow mode.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Viewport {
    /// Floor id.
    pub floor: String,
    /// Centre X in millimetres.
    pub center_x_mm: f64,
    /// Centre Y in millimetres.
    pub center_y_mm: f64,
    /// Screen pixels per millimetre.
    pub zoom: f64,
}

/// One user's presence. Absent optional fields are left out of the encoding: a relay sends
/// every peer's presence to every peer thirty times a second.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct Presence {
    /// Display name.
    pub user: String,
    /// Colour as `#rrggbb`.
    pub color: String,
    /// Activity state.
    pub status: PresenceStatus,
    /// Cursor, when over the canvas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<Cursor>,
    /// Selected element ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub selection: Vec<String>,
    /// Viewport, for follow mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub viewport: Option<Viewport>,
    /// Free-text activity ("moving 3 outlets").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity: Option<String>,
    /// The peer's role in the room (`owner`, `editor`, `commenter`, `viewer`). The relay
    /// fills it in from the peer's invite when it coalesces presence, so peers cannot claim
    /// a role they do not have; what a client sends here is ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Which program the peer runs (`cli`, `editor`), as the client says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// Sender's wall clock when sent, microseconds since the Unix epoch (latency measurement).
    pub sent_at_us: u64,
}

/// One presence entry in a coalesced batch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PresenceEntry {
    /// The peer whose presence this is.
    pub peer: String,
    /// Its latest presence.
    pub presence: Presence,
}

/// A lease on one element.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockEntry {
    /// Element id.
    pub id: String,
    /// Holder's peer id.
    pub holder_peer: String,
    /// Holder's display name.
    pub holder_user: String,
    /// Milliseconds until the lease expires unless renewed.
    pub expires_in_ms: u64,
}

/// A change the relay refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusedChange {
    /// The change hash, hex.
    pub hash: String,
    /// Why it was refused.
    pub reason: String,
}

/// An Arxos payload inside an `ephemeral` message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t")]
pub enum ArxPayload {
    /// Relay → client: which plan the room holds, sent once, right after the `peer` message
    /// and before anything else of the room, so a client can refuse to sync an unrelated
    /// file before it sends a single change.
    #[serde(rename = "arx/room-info")]
    RoomInfo {
        /// The room document's `meta.id`; `None` while the room holds no plan.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        plan_id: Option<String>,
        /// The receiving peer's own role in the room (from its invite), so its program can
        /// disable what the relay would refuse anyway. Older relays leave it out.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        role: Option<crate::invite::Role>,
        /// The receiving peer's write grant, when narrowed to floors or layers.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        grant: Option<crate::invite::Grant>,
        /// The relay's wall clock when it sent this, milliseconds since the Unix epoch, so a
        /// client can tell how far its own clock is off (change times are wall-clock times).
        /// Older relays leave it out.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        time_ms: Option<u64>,
    },
    /// Client → relay: my presence now.
    #[serde(rename = "arx/presence")]
    Presence(Presence),
    /// Relay → clients: presence changed since the last tick (one batch per tick).
    #[serde(rename = "arx/presence-batch")]
    PresenceBatch {
        /// Changed presences, latest value per peer.
        entries: Vec<PresenceEntry>,
        /// Peers that left since the last tick.
        gone: Vec<String>,
    },
    /// Client → relay: lease these elements.
    #[serde(rename = "arx/lock-request")]
    LockRequest {
        /// Element ids.
        ids: Vec<String>,
    },
    /// Relay → client: these leases are yours.
    #[serde(rename = "arx/lock-grant")]
    LockGrant {
        /// Element ids.
        ids: Vec<String>,
        /// Lease length in milliseconds.
        ttl_ms: u64,
    },
    /// Relay → client: these elements are held by someone else.
    #[serde(rename = "arx/lock-deny")]
    LockDeny {
        /// The current holders.
        held: Vec<LockEntry>,
    },
    /// Client → relay: heartbeat, extend my leases.
    #[serde(rename = "arx/lock-renew")]
    LockRenew {
        /// Element ids (empty = all of mine).
        ids: Vec<String>,
    },
    /// Client → relay: release leases.
    #[serde(rename = "arx/lock-release")]
    LockRelease {
        /// Element ids (empty = all of mine).
        ids: Vec<String>,
    },
    /// Relay → clients: the full lock table after any change.
    #[serde(rename = "arx/lock-table")]
    LockTable {
        /// All current leases.
        locks: Vec<LockEntry>,
        /// Whether the relay refuses changes to elements locked by someone else.
        hard: bool,
    },
    /// Relay → author: these changes were refused and neither applied nor forwarded.
    #[serde(rename = "arx/refused")]
    Refused {
        /// The refused changes.
        changes: Vec<RefusedChange>,
    },
}

impl ArxPayload {
    /// Encodes the payload as CBOR.
    pub fn encode(&self) -> Result<Vec<u8>, ProtocolError> {
        let mut out = Vec::with_capacity(64);
        ciborium::ser::into_writer(self, &mut out)
            .map_err(|err| ProtocolError::Payload(err.to_string()))?;
        Ok(out)
    }

    /// Decodes a payload; data that is not an Arxos payload is an error.
    ///
    /// Two passes instead of serde's internally tagged decoding, which buffers the whole map
    /// (every presence entry of a batch) as generic values first: the first pass reads only
    /// the `t` field, the second decodes that variant's body directly (ignoring `t`).
    pub fn decode(bytes: &[u8]) -> Result<Self, ProtocolError> {
        #[derive(Deserialize)]
        struct Tag {
            t: String,
        }
        let mut reader = bytes;
        let tag: Tag = ciborium::de::from_reader_with_recursion_limit(&mut reader, 32)
            .map_err(|err| ProtocolError::Payload(err.to_string()))?;
        if !reader.is_empty() {
            return Err(ProtocolError::Payload("trailing bytes".into()));
        }
        Ok(match tag.t.as_str() {
            "arx/room-info" => {
                let b: RoomInfoBody = body(bytes)?;
                Self::RoomInfo {
                    plan_id: b.plan_id,
                    role: b.role,
                    grant: b.grant,
                    time_ms: b.time_ms,
                }
            }
            "arx/presence" => Self::Presence(body(bytes)?),
            "arx/presence-batch" => {
                let b: PresenceBatchBody = body(bytes)?;
                Self::PresenceBatch {
                    entries: b.entries,
                    gone: b.gone,
                }
            }
            "arx/lock-request" => Self::LockRequest {
                ids: body::<IdsBody>(bytes)?.ids,
            },
            "arx/lock-grant" => {
                let b: LockGrantBody = body(bytes)?;
                Self::LockGrant {
                    ids: b.ids,
                    ttl_ms: b.ttl_ms,
                }
            }
            "arx/lock-deny" => Self::LockDeny {
                held: body::<LockDenyBody>(bytes)?.held,
            },
            "arx/lock-renew" => Self::LockRenew {
                ids: body::<IdsBody>(bytes)?.ids,
            },
            "arx/lock-release" => Self::LockRelease {
                ids: body::<IdsBody>(bytes)?.ids,
            },
            "arx/lock-table" => {
                let b: LockTableBody = body(bytes)?;
                Self::LockTable {
                    locks: b.locks,
                    hard: b.hard,
                }
            }
            "arx/refused" => Self::Refused {
                changes: body::<RefusedBody>(bytes)?.changes,
            },
            other => return Err(ProtocolError::Payload(format!("unknown payload `{other}`"))),
        })
    }
}

fn body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ProtocolError> {
    ciborium::de::from_reader_with_recursion_limit(bytes, 32)
        .map_err(|err| ProtocolError::Payload(err.to_string()))
}

#[derive(Deserialize)]
struct RoomInfoBody {
    #[serde(default)]
    plan_id: Option<String>,
    #[serde(default)]
    role: Option<crate::invite::Role>,
    #[serde(default)]
    grant: Option<crate::invite::Grant>,
    #[serde(default)]
    time_ms: Option<u64>,
}

#[derive(Deserialize)]
struct PresenceBatchBody {
    entries: Vec<PresenceEntry>,
    gone: Vec<String>,
}

#[derive(Deserialize)]
struct IdsBody {
    ids: Vec<String>,
}

#[derive(Deserialize)]
struct LockGrantBody {
    ids: Vec<String>,
    ttl_ms: u64,
}

#[derive(Deserialize)]
struct LockDenyBody {
    held: Vec<LockEntry>,
}

#[derive(Deserialize)]
struct LockTableBody {
    locks: Vec<LockEntry>,
    hard: bool,
}

#[derive(Deserialize)]
struct RefusedBody {
    changes: Vec<RefusedChange>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn finite() -> impl Strategy<Value = f64> {
        -1.0e9_f64..1.0e9
    }

    fn presence() -> impl Strategy<Value = Presence> {
        (
            ".{0,12}",
            "#[0-9a-f]{6}",
            prop_oneof![
                Just(PresenceStatus::Online),
                Just(PresenceStatus::Away),
                Just(PresenceStatus::Editing)
            ],
            proptest::option::of(("[a-z0-9]{1,8}", finite(), finite())),
            proptest::collection::vec("[a-z0-9]{1,8}", 0..4),
            proptest::option::of(("[a-z0-9]{1,8}", finite(), finite(), 0.01_f64..100.0)),
            proptest::option::of(".{0,20}"),
            proptest::option::of(prop_oneof![
                Just("owner"),
                Just("editor"),
                Just("commenter"),
                Just("viewer")
            ]),
            proptest::option::of("[a-z]{0,8}"),
            any::<u64>(),
        )
            .prop_map(
                |(
                    user,
                    color,
                    status,
                    cursor,
                    selection,
                    viewport,
                    activity,
                    role,
                    client,
                    sent_at_us,
                )| {
                    Presence {
                        user,
                        color,
                        status,
                        cursor: cursor.map(|(floor, x_mm, y_mm)| Cursor { floor, x_mm, y_mm }),
                        selection,
                        viewport: viewport.map(|(floor, center_x_mm, center_y_mm, zoom)| {
                            Viewport {
                                floor,
                                center_x_mm,
                                center_y_mm,
                                zoom,
                            }
                        }),
                        activity,
                        role: role.map(str::to_owned),
                        client,
                        sent_at_us,
                    }
                },
            )
    }

    fn lock_entry() -> impl Strategy<Value = LockEntry> {
        ("[a-z0-9]{1,8}", "[a-z0-9]{1,8}", ".{0,8}", any::<u32>()).prop_map(
            |(id, holder_peer, holder_user, ms)| LockEntry {
                id,
                holder_peer,
                holder_user,
                expires_in_ms: u64::from(ms),
            },
        )
    }

    fn ids() -> impl Strategy<Value = Vec<String>> {
        proptest::collection::vec("[a-z0-9:-]{1,12}", 0..5)
    }

    fn payload() -> impl Strategy<Value = ArxPayload> {
        prop_oneof![
            (
                proptest::option::of("[0-9a-f]{32}"),
                proptest::option::of(any::<u64>())
            )
                .prop_map(|(plan_id, time_ms)| ArxPayload::RoomInfo {
                    plan_id,
                    role: None,
                    grant: None,
                    time_ms,
                }),
            presence().prop_map(ArxPayload::Presence),
            (
                proptest::collection::vec(
                    ("[a-z0-9]{1,8}", presence())
                        .prop_map(|(peer, presence)| PresenceEntry { peer, presence }),
                    0..3
                ),
                ids()
            )
                .prop_map(|(entries, gone)| ArxPayload::PresenceBatch { entries, gone }),
            ids().prop_map(|ids| ArxPayload::LockRequest { ids }),
            (ids(), any::<u32>()).prop_map(|(ids, ttl)| ArxPayload::LockGrant {
                ids,
                ttl_ms: u64::from(ttl)
            }),
            proptest::collection::vec(lock_entry(), 0..3)
                .prop_map(|held| ArxPayload::LockDeny { held }),
            ids().prop_map(|ids| ArxPayload::LockRenew { ids }),
            ids().prop_map(|ids| ArxPayload::LockRelease { ids }),
            (proptest::collection::vec(lock_entry(), 0..3), any::<bool>())
                .prop_map(|(locks, hard)| ArxPayload::LockTable { locks, hard }),
            proptest::collection::vec(
                ("[0-9a-f]{64}", ".{0,30}")
                    .prop_map(|(hash, reason)| RefusedChange { hash, reason }),
                0..3
            )
            .prop_map(|changes| ArxPayload::Refused { changes }),
        ]
    }

    proptest! {
        #[test]
        fn payloads_round_trip(p in payload()) {
            let bytes = p.encode().unwrap();
            prop_assert_eq!(ArxPayload::decode(&bytes).unwrap(), p);
        }

        #[test]
        fn garbage_payloads_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = ArxPayload::decode(&bytes);
        }
    }

    #[test]
    fn foreign_ephemeral_data_is_not_an_arx_payload() {
        let mut foreign = Vec::new();
        ciborium::ser::into_writer(&serde_json::json!({"count": 3, "name": "x"}), &mut foreign)
            .unwrap();
        assert!(ArxPayload::decode(&foreign).is_err());
        assert!(ArxPayload::decode(b"").is_err());
    }

    #[test]
    fn room_info_from_a_relay_without_a_clock_still_decodes() {
        // What relays before `time_ms` send: no clock, so no skew check, but no error either.
        let mut old = Vec::new();
        ciborium::ser::into_writer(
            &serde_json::json!({"t": "arx/room-info", "plan_id": "p1", "role": "editor"}),
            &mut old,
        )
        .unwrap();
        assert_eq!(
            ArxPayload::decode(&old).unwrap(),
            ArxPayload::RoomInfo {
                plan_id: Some("p1".into()),
                role: Some(crate::invite::Role::Editor),
                grant: None,
                time_ms: None,
            }
        );
    }

    #[test]
    fn empty_optional_fields_are_left_out() {
        let info = ArxPayload::RoomInfo {
            plan_id: None,
            role: None,
            grant: None,
            time_ms: None,
        }
        .encode()
        .unwrap();
        let value: ciborium::Value = ciborium::de::from_reader(info.as_slice()).unwrap();
        assert_eq!(value.as_map().map(Vec::len), Some(1), "only `t`: {value:?}");
        let presence = ArxPayload::Presence(Presence::default()).encode().unwrap();
        let value: ciborium::Value = ciborium::de::from_reader(presence.as_slice()).unwrap();
        let keys: Vec<&str> = value
            .as_map()
            .unwrap()
            .iter()
            .filter_map(|(k, _)| k.as_text())
            .collect();
        assert!(
            !keys.contains(&"role") && !keys.contains(&"client"),
            "{keys:?}"
        );
    }
}
