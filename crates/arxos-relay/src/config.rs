//! Relay configuration: addresses, folders, limits, timings.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Per-connection limits.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest accepted WebSocket message (and frame), in bytes.
    pub max_frame_bytes: usize,
    /// Sustained messages per second a connection may send.
    pub messages_per_sec: u32,
    /// Burst of messages allowed above the sustained rate.
    pub burst: u32,
    /// A connection that sends nothing (not even a pong) for this long is closed.
    pub idle_timeout: Duration,
    /// Time allowed between TCP accept and a complete HTTP request head / `join` message.
    pub handshake_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_frame_bytes: 16 * 1024 * 1024,
            messages_per_sec: 500,
            burst: 1000,
            idle_timeout: Duration::from_mins(2),
            handshake_timeout: Duration::from_secs(10),
        }
    }
}

/// TLS certificate and key (PEM files).
#[derive(Clone, Debug)]
pub struct TlsFiles {
    /// Certificate chain, PEM.
    pub cert: PathBuf,
    /// Private key, PEM.
    pub key: PathBuf,
}

/// Everything the relay needs to run.
#[derive(Clone, Debug)]
pub struct RelayConfig {
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    pub listen: SocketAddr,
    /// Folder for documents, invites and the generated admin token.
    pub data_dir: PathBuf,
    /// TLS, when configured.
    pub tls: Option<TlsFiles>,
    /// Admin token; when `None` one is loaded from / generated into the data folder.
    pub admin_token: Option<String>,
    /// The `ws://…`/`wss://…` address written into invite codes; defaults to the request's
    /// `Host` header.
    pub public_url: Option<String>,
    /// Connection limits.
    pub limits: Limits,
    /// Lock lease length (renewed by heartbeat).
    pub lock_ttl: Duration,
    /// Presence coalescing period (about 30 Hz).
    pub presence_tick: Duration,
    /// Compact a room's change log after this many appended changes.
    pub compact_every: usize,
    /// Unload a room this long after its last peer left.
    pub room_idle_unload: Duration,
}

impl RelayConfig {
    /// A configuration with defaults for everything but the address and folder.
    pub fn new(listen: SocketAddr, data_dir: PathBuf) -> Self {
        Self {
            listen,
            data_dir,
            tls: None,
            admin_token: None,
            public_url: None,
            limits: Limits::default(),
            lock_ttl: Duration::from_mins(5),
            presence_tick: Duration::from_millis(33),
            compact_every: 1000,
            room_idle_unload: Duration::from_secs(30),
        }
    }
}
