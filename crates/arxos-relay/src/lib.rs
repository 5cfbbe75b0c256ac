//! The Arxos relay: rooms keyed by document, invites and roles, durable storage, limits,
//! locks, presence coalescing and metrics.
//!
//! A relay accepts WebSocket connections authenticated by an invite secret in the URL query
//! (checked at the upgrade, before any protocol message) and speaks the automerge-repo wire
//! protocol ([`arxos_sync::protocol`]). Each room is a task owning the document; changes are
//! vetted against the connection's role and grant, appended to storage with an fsync, and
//! only then revealed to anyone. The same library runs in-process for peer-to-peer hosting
//! (`arxos host`).
//!
//! * [`config`] — addresses, limits, timings.
//! * [`storage`] — the durable storage trait and its file implementation.
//! * [`cluster`] — several relay nodes serving the same rooms through NATS JetStream: the
//!   storage, invites, fan-out, presence and lease seams implemented on its stream and
//!   buckets (`--cluster`; the embedded default uses none of it).
//! * [`data_lock`] — one relay per data folder (a second start names the first).
//! * [`invites`] — hashed invite secrets with role, grant, expiry, revocation.
//! * [`metrics`] — counters and the Prometheus exposition.
//! * `room` — the per-document task, policy and locks.
//! * `server` — TLS, HTTP routes (`/healthz`, `/metrics`, `/admin/…`), WebSocket sessions.

pub mod cluster;
pub mod config;
pub mod data_lock;
#[doc(hidden)]
pub mod fuzzing;
pub mod invites;
pub mod metrics;
mod room;
mod server;
pub mod storage;

use std::net::SocketAddr;

pub use cluster::{ClusterConfig, NatsAuth, NatsAuthFiles, NatsTls};
pub use config::{Limits, RelayConfig, TlsFiles};
pub use server::{MemoryConnector, RelayHandle, start};

/// Errors starting a relay.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// Storage could not be opened.
    #[error(transparent)]
    Storage(#[from] storage::StorageError),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// TLS certificate or key problems.
    #[error("TLS: {0}")]
    Tls(String),
    /// Another relay runs on the same data folder.
    #[error(
        "the data folder {folder} is in use by another relay ({holder}); stop that relay or choose another data folder"
    )]
    DataFolderInUse {
        /// The data folder.
        folder: String,
        /// Who holds it, as that relay described itself.
        holder: String,
    },
    /// A setting that cannot work (a zero rate, a public URL that is not ws:// or wss://).
    #[error("{0}")]
    Config(String),
    /// The cluster's NATS servers are unreachable or hold what this node cannot work with.
    #[error("cluster: {0}")]
    Cluster(String),
}
