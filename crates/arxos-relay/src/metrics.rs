//! Relay counters and the Prometheus text exposition served at `/metrics`.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (seconds) of the propagation latency histogram buckets.
const LATENCY_BUCKETS_SECS: [f64; 12] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// Relay-wide metrics; cheap atomic counters.
#[derive(Default)]
pub struct Metrics {
    /// Open WebSocket connections.
    pub connections_open: AtomicU64,
    /// WebSocket connections accepted since start.
    pub connections_total: AtomicU64,
    /// Upgrades refused for a bad, expired or revoked invite.
    pub auth_failures_total: AtomicU64,
    /// Upgrades refused unchecked because their address had too many bad invites lately.
    pub auth_throttled_total: AtomicU64,
    /// Rooms currently loaded.
    pub rooms_open: AtomicU64,
    /// Protocol messages received.
    pub messages_in_total: AtomicU64,
    /// Protocol messages sent.
    pub messages_out_total: AtomicU64,
    /// Bytes received in protocol messages.
    pub bytes_in_total: AtomicU64,
    /// Bytes sent in protocol messages.
    pub bytes_out_total: AtomicU64,
    /// Changes accepted and persisted.
    pub changes_accepted_total: AtomicU64,
    /// Changes refused (role, grant, lock).
    pub refused_changes_total: AtomicU64,
    /// Changes received that were neither applied nor refused (waiting for a dependency).
    pub unapplied_changes_total: AtomicU64,
    /// Connections closed for a protocol error or a limit.
    pub protocol_errors_total: AtomicU64,
    /// Presence batches sent (one per recipient per tick).
    pub presence_batches_total: AtomicU64,
    latency_buckets: [AtomicU64; LATENCY_BUCKETS_SECS.len()],
    latency_count: AtomicU64,
    latency_sum_us: AtomicU64,
}

impl Metrics {
    /// Adds one to a counter.
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Adds `n` to a counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Subtracts one from a gauge.
    pub fn dec(gauge: &AtomicU64) {
        gauge.fetch_sub(1, Ordering::Relaxed);
    }

    /// Records one propagation latency: from receiving a change to handing it to the peers.
    pub fn observe_propagation(&self, latency: Duration) {
        let secs = latency.as_secs_f64();
        for (bound, bucket) in LATENCY_BUCKETS_SECS.iter().zip(&self.latency_buckets) {
            if secs <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        self.latency_sum_us
            .fetch_add(latency.as_micros() as u64, Ordering::Relaxed);
    }

    /// Every plain series: name, type, help and value.
    fn series(&self) -> [(&'static str, &'static str, &'static str, &AtomicU64); 14] {
        [
            (
                "arxos_relay_connections",
                "gauge",
                "Open WebSocket connections.",
                &self.connections_open,
            ),
            (
                "arxos_relay_connections_total",
                "counter",
                "WebSocket connections accepted.",
                &self.connections_total,
            ),
            (
                "arxos_relay_auth_failures_total",
                "counter",
                "Upgrades refused for a bad, expired or revoked invite.",
                &self.auth_failures_total,
            ),
            (
                "arxos_relay_auth_throttled_total",
                "counter",
                "Upgrades refused unchecked: too many bad invites from their address lately.",
                &self.auth_throttled_total,
            ),
            (
                "arxos_relay_rooms",
                "gauge",
                "Rooms loaded.",
                &self.rooms_open,
            ),
            (
                "arxos_relay_messages_in_total",
                "counter",
                "Protocol messages received.",
                &self.messages_in_total,
            ),
            (
                "arxos_relay_messages_out_total",
                "counter",
                "Protocol messages sent.",
                &self.messages_out_total,
            ),
            (
                "arxos_relay_bytes_in_total",
                "counter",
                "Bytes received in protocol messages.",
                &self.bytes_in_total,
            ),
            (
                "arxos_relay_bytes_out_total",
                "counter",
                "Bytes sent in protocol messages.",
                &self.bytes_out_total,
            ),
            (
                "arxos_relay_changes_accepted_total",
                "counter",
                "Changes accepted and persisted.",
                &self.changes_accepted_total,
            ),
            (
                "arxos_relay_refused_changes_total",
                "counter",
                "Changes refused by role, grant or lock.",
                &self.refused_changes_total,
            ),
            (
                "arxos_relay_unapplied_changes_total",
                "counter",
                "Changes received but neither applied nor refused (waiting for a dependency).",
                &self.unapplied_changes_total,
            ),
            (
                "arxos_relay_protocol_errors_total",
                "counter",
                "Connections closed for a protocol error or limit.",
                &self.protocol_errors_total,
            ),
            (
                "arxos_relay_presence_batches_total",
                "counter",
                "Coalesced presence batches sent.",
                &self.presence_batches_total,
            ),
        ]
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(2048);
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let counters = self.series();
        for (name, kind, help, value) in counters {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {}",
                get(value)
            );
        }
        let name = "arxos_relay_propagation_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Time from receiving a change to handing it to the room's peers (includes fsync).\n# TYPE {name} histogram"
        );
        for (bound, bucket) in LATENCY_BUCKETS_SECS.iter().zip(&self.latency_buckets) {
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {}", get(bucket));
        }
        let count = get(&self.latency_count);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "{name}_sum {}", get(&self.latency_sum_us) as f64 / 1e6);
        let _ = writeln!(out, "{name}_count {count}");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histogram() {
        let m = Metrics::default();
        Metrics::inc(&m.connections_total);
        m.observe_propagation(Duration::from_micros(1500));
        let text = m.render();
        assert!(text.contains("arxos_relay_connections_total 1"));
        assert!(text.contains("arxos_relay_propagation_seconds_bucket{le=\"0.001\"} 0"));
        assert!(text.contains("arxos_relay_propagation_seconds_bucket{le=\"0.002\"} 1"));
        assert!(text.contains("arxos_relay_propagation_seconds_count 1"));
    }
}
