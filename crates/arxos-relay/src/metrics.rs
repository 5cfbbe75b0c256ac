//! Relay counters and the Prometheus exposition served at `/metrics`, through
//! `prometheus-client` (the `OpenMetrics` text format: counters carry the `_total` suffix the encoder adds).

use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

/// Upper bounds (seconds) of the propagation latency histogram buckets.
const LATENCY_BUCKETS_SECS: [f64; 12] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// Relay-wide metrics; cheap atomic counters, registered once for the exposition.
#[derive(Debug)]
pub struct Metrics {
    /// Open WebSocket connections.
    pub connections_open: Gauge,
    /// WebSocket connections accepted since start.
    pub connections_total: Counter,
    /// Upgrades refused for a bad, expired or revoked invite.
    pub auth_failures_total: Counter,
    /// Upgrades refused unchecked because their address had too many bad invites lately.
    pub auth_throttled_total: Counter,
    /// Rooms currently loaded.
    pub rooms_open: Gauge,
    /// Protocol messages received.
    pub messages_in_total: Counter,
    /// Protocol messages sent.
    pub messages_out_total: Counter,
    /// Bytes received in protocol messages.
    pub bytes_in_total: Counter,
    /// Bytes sent in protocol messages.
    pub bytes_out_total: Counter,
    /// Changes accepted and persisted.
    pub changes_accepted_total: Counter,
    /// Changes refused (role, grant, lock).
    pub refused_changes_total: Counter,
    /// Changes received that were neither applied nor refused (waiting for a dependency).
    pub unapplied_changes_total: Counter,
    /// Connections closed for a protocol error or a limit.
    pub protocol_errors_total: Counter,
    /// Presence batches sent (one per recipient per tick).
    pub presence_batches_total: Counter,
    propagation: Histogram,
    registry: Registry,
}

impl Default for Metrics {
    fn default() -> Self {
        let m = Self {
            connections_open: Gauge::default(),
            connections_total: Counter::default(),
            auth_failures_total: Counter::default(),
            auth_throttled_total: Counter::default(),
            rooms_open: Gauge::default(),
            messages_in_total: Counter::default(),
            messages_out_total: Counter::default(),
            bytes_in_total: Counter::default(),
            bytes_out_total: Counter::default(),
            changes_accepted_total: Counter::default(),
            refused_changes_total: Counter::default(),
            unapplied_changes_total: Counter::default(),
            protocol_errors_total: Counter::default(),
            presence_batches_total: Counter::default(),
            propagation: Histogram::new(LATENCY_BUCKETS_SECS),
            registry: Registry::default(),
        };
        m.registered()
    }
}

impl Metrics {
    /// Registers every series (clones share their value with the fields).
    fn registered(mut self) -> Self {
        let r = &mut self.registry;
        let gauges = [
            (
                "arxos_relay_open_connections",
                "Open WebSocket connections",
                &self.connections_open,
            ),
            ("arxos_relay_rooms", "Rooms loaded", &self.rooms_open),
        ];
        for (name, help, gauge) in gauges {
            r.register(name, help, gauge.clone());
        }
        let counters = [
            (
                "arxos_relay_connections",
                "WebSocket connections accepted",
                &self.connections_total,
            ),
            (
                "arxos_relay_auth_failures",
                "Upgrades refused for a bad, expired or revoked invite",
                &self.auth_failures_total,
            ),
            (
                "arxos_relay_auth_throttled",
                "Upgrades refused unchecked: too many bad invites from their address lately",
                &self.auth_throttled_total,
            ),
            (
                "arxos_relay_messages_in",
                "Protocol messages received",
                &self.messages_in_total,
            ),
            (
                "arxos_relay_messages_out",
                "Protocol messages sent",
                &self.messages_out_total,
            ),
            (
                "arxos_relay_bytes_in",
                "Bytes received in protocol messages",
                &self.bytes_in_total,
            ),
            (
                "arxos_relay_bytes_out",
                "Bytes sent in protocol messages",
                &self.bytes_out_total,
            ),
            (
                "arxos_relay_changes_accepted",
                "Changes accepted and persisted",
                &self.changes_accepted_total,
            ),
            (
                "arxos_relay_refused_changes",
                "Changes refused by role, grant or lock",
                &self.refused_changes_total,
            ),
            (
                "arxos_relay_unapplied_changes",
                "Changes received but neither applied nor refused (waiting for a dependency)",
                &self.unapplied_changes_total,
            ),
            (
                "arxos_relay_protocol_errors",
                "Connections closed for a protocol error or limit",
                &self.protocol_errors_total,
            ),
            (
                "arxos_relay_presence_batches",
                "Coalesced presence batches sent",
                &self.presence_batches_total,
            ),
        ];
        for (name, help, counter) in counters {
            r.register(name, help, counter.clone());
        }
        r.register_with_unit(
            "arxos_relay_propagation",
            "Time from receiving a change to handing it to the room's peers (includes fsync)",
            Unit::Seconds,
            self.propagation.clone(),
        );
        self
    }

    /// Records one propagation latency: from receiving a change to handing it to the peers.
    pub fn observe_propagation(&self, latency: Duration) {
        self.propagation.observe(latency.as_secs_f64());
    }

    /// The `OpenMetrics` text exposition.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        // Writing into a String cannot fail; the encoder's own errors would be a bug there.
        if let Err(err) = encode(&mut out, &self.registry) {
            tracing::error!(%err, "encoding the metrics failed");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_gauges_and_the_histogram() {
        let m = Metrics::default();
        m.connections_total.inc();
        m.connections_open.inc();
        m.bytes_in_total.inc_by(42);
        m.observe_propagation(Duration::from_micros(1500));
        let text = m.render();
        assert!(text.contains("arxos_relay_connections_total 1"), "{text}");
        assert!(text.contains("arxos_relay_open_connections 1"), "{text}");
        assert!(text.contains("arxos_relay_bytes_in_total 42"), "{text}");
        assert!(
            text.contains("arxos_relay_propagation_seconds_bucket{le=\"0.001\"} 0"),
            "{text}"
        );
        assert!(
            text.contains("arxos_relay_propagation_seconds_bucket{le=\"0.002\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("arxos_relay_propagation_seconds_count 1"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
