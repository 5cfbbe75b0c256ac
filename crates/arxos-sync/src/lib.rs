//! Arxos sync: the wire protocol shared by the relay and its clients, and the client engine.
//!
//! # Data model
//!
//! Every drawing is one Automerge document. Replicas exchange Automerge sync messages framed as
//! the [automerge-repo] wire protocol: CBOR maps with a `type` field (`join`, `peer`, `request`,
//! `sync`, `doc-unavailable`, `ephemeral`, `error`, `leave`), protocol version `"1"`. Documents
//! are named by 16-byte ids written in bs58check (the `automerge:<id>` URL form), so stock
//! automerge-repo clients can talk to an Arxos relay.
//!
//! Arxos' own real-time data (presence, locks, refused-change reports) rides inside `ephemeral`
//! messages as typed CBOR payloads ([`protocol::payload`]).
//!
//! * [`protocol`] — message types, CBOR encoding and decoding, document ids.
//! * [`invite`] — invite codes: one pasteable string with the relay address, the document and a
//!   secret.
//! * [`store`] — the client's sync sidecar (per-relay sync state, refused list, invite).
//! * [`identity`] — the user's name and colour, from the settings file.
//! * [`admin`] — the relay admin API client and `share`.
//! * [`fastsync`] — constant-time handling of caught-up sync messages (relay fan-out).
//! * [`tls`] — client TLS (web roots plus an optional extra CA).
//! * [`client`] — the background sync engine on the typed plan (connect, sync, reconnect with
//!   backoff, status, the plan file shared with other programs).
//!
//! [automerge-repo]: https://github.com/automerge/automerge-repo

pub mod admin;
pub mod chunks;
pub mod client;
pub mod fastsync;
#[doc(hidden)]
pub mod fuzzing;
pub mod identity;
pub mod invite;
pub mod protocol;
pub mod store;
pub mod tls;

pub use invite::{Grant, InviteCode, Role};
pub use protocol::{DocumentId, PeerId, WireMessage};
