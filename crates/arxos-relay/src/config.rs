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
    /// A connection whose socket takes nothing for this long (a peer that never reads) is
    /// dropped: its queue is bounded, and so is the time it may hold it.
    pub write_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_frame_bytes: 16 * 1024 * 1024,
            messages_per_sec: 500,
            burst: 1000,
            idle_timeout: Duration::from_mins(2),
            handshake_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(30),
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
    /// Other addresses of this relay service (the other nodes of a cluster), written into
    /// invite codes after the public URL: a client falls back to them, in order, when the
    /// first cannot be reached.
    pub also_urls: Vec<String>,
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
    /// Serve rooms together with other relay nodes through NATS JetStream; `None` (the
    /// default): one relay, file storage, no other process.
    pub cluster: Option<crate::cluster::ClusterConfig>,
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
            also_urls: Vec::new(),
            limits: Limits::default(),
            lock_ttl: Duration::from_mins(5),
            presence_tick: Duration::from_millis(33),
            compact_every: 1000,
            room_idle_unload: Duration::from_secs(30),
            cluster: None,
        }
    }
}

impl RelayConfig {
    /// Refuses settings that cannot work, each with a one-line reason: a public URL that is
    /// not `ws://` or `wss://` (it is written into every invite code, and clients only speak
    /// WebSocket), and zero rates, bursts, timeouts or lock leases (every message, connection
    /// or lock would be refused or dropped at once).
    pub fn check(&self) -> Result<(), crate::RelayError> {
        let bad = |m: String| Err(crate::RelayError::Config(m));
        for url in self.public_url.iter().chain(&self.also_urls) {
            // Written into every invite code as it is: refused here by the codes' own rule,
            // and refused when that rule would have to tidy it (spaces around it).
            let as_written = arxos_sync::invite::normalize_relay(url)
                .is_ok_and(|n| n == url.trim_end_matches('/'));
            if !as_written {
                return bad(format!(
                    "public URL `{url}` must be a ws:// or wss:// address (e.g. wss://relay.example.org)"
                ));
            }
        }
        let l = &self.limits;
        if l.messages_per_sec == 0 {
            return bad("a rate of 0 messages per second would refuse every message".into());
        }
        if l.burst == 0 {
            return bad("a burst of 0 messages would refuse every message".into());
        }
        if l.max_frame_bytes == 0 {
            return bad("a largest message of 0 bytes would refuse every message".into());
        }
        if l.idle_timeout.is_zero() || l.handshake_timeout.is_zero() || l.write_timeout.is_zero() {
            return bad("a timeout of 0 would drop every connection at once".into());
        }
        if self.lock_ttl.is_zero() {
            return bad("a lock lease of 0 would release every lock at once".into());
        }
        if let Some(cluster) = &self.cluster {
            cluster.check().map_err(crate::RelayError::Config)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_that_cannot_work_are_refused_in_one_line() {
        let ok = RelayConfig::new("127.0.0.1:0".parse().unwrap(), PathBuf::from("/tmp/x"));
        assert!(ok.check().is_ok());
        let mut c = ok.clone();
        c.public_url = Some("wss://relay.example.org/".into());
        assert!(c.check().is_ok());
        for url in ["http://relay.example.org", "relay.example.org", "ws://"] {
            c.public_url = Some(url.into());
            let e = c.check().unwrap_err().to_string();
            assert!(e.contains(url) && e.contains("ws://"), "{e}");
        }
        let mut c = ok.clone();
        c.also_urls = vec!["wss://node-b.example.org".into()];
        assert!(c.check().is_ok());
        for url in ["https://node-b", "ws://a b", "ws://", " ws://padded"] {
            c.also_urls = vec!["ws://fine".into(), url.into()];
            let e = c.check().unwrap_err().to_string();
            assert!(e.contains(url), "{e}");
        }
        let mut c = ok.clone();
        c.limits.messages_per_sec = 0;
        assert!(c.check().unwrap_err().to_string().contains("rate of 0"));
        let mut c = ok.clone();
        c.limits.burst = 0;
        assert!(c.check().is_err());
        let mut c = ok.clone();
        c.lock_ttl = Duration::ZERO;
        assert!(c.check().is_err());
        let mut c = ok;
        c.cluster = Some(crate::ClusterConfig {
            servers: vec!["http://nats:4222".into()],
            replicas: 1,
            auth: crate::cluster::NatsAuth::None,
            tls: crate::cluster::NatsTls::default(),
        });
        assert!(
            c.check()
                .unwrap_err()
                .to_string()
                .contains("http://nats:4222")
        );
        c.cluster = crate::ClusterConfig::parse("nats://127.0.0.1:4222, nats://h:4223", 3).ok();
        assert_eq!(c.cluster.as_ref().map(|c| c.servers.len()), Some(2));
        assert!(c.check().is_ok());
        assert!(crate::ClusterConfig::parse("nats://h:4222", 0).is_err());
        assert!(crate::ClusterConfig::parse(" , ", 1).is_err());
    }
}
