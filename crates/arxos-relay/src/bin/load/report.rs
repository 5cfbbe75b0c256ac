//! The load run's report: latency percentiles, the relay's CPU and memory, and in cluster
//! mode the split by node and the JetStream acknowledgement, as one JSON document.

use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::{Args, Stats, histogram_quantile};

pub fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)] as f64 / 1000.0
}

pub type ProcSample = Option<(u64, u64, u64)>;
pub type Histogram = Vec<(f64, u64)>;

/// What a run was: how many relay nodes, how long it measured, and the JetStream
/// acknowledgement round trips (µs, sorted) in cluster mode.
pub struct Run {
    pub nodes: usize,
    pub elapsed: Duration,
    pub acks: Option<Vec<u64>>,
}

fn taken(v: &Mutex<Vec<u64>>) -> Vec<u64> {
    let mut out = std::mem::take(&mut *v.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
    out.sort_unstable();
    out
}

fn quantiles(sorted: &[u64]) -> serde_json::Value {
    serde_json::json!({ "p50": percentile(sorted, 0.5), "p99": percentile(sorted, 0.99), "max": percentile(sorted, 1.0) })
}

pub fn report(
    args: &Args,
    stats: &Stats,
    (cpu_start, cpu_end): (ProcSample, ProcSample),
    run: &Run,
    (hist_start, hist_end): &(Histogram, Histogram),
) -> anyhow::Result<()> {
    let elapsed = run.elapsed;
    let mut edits = std::mem::take(
        &mut *stats
            .edit_us
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    );
    let mut cursors = std::mem::take(
        &mut *stats
            .cursor_us
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    );
    edits.sort_unstable();
    cursors.sort_unstable();
    let ticks_per_sec = 100.0; // Linux USER_HZ
    let (cpu_pct, rss_mb, hwm_mb) = match (cpu_start, cpu_end) {
        (Some((c0, _, _)), Some((c1, rss, hwm))) => (
            (c1 - c0) as f64 / ticks_per_sec / elapsed.as_secs_f64() * 100.0,
            rss as f64 / 1024.0,
            hwm as f64 / 1024.0,
        ),
        _ => (f64::NAN, f64::NAN, f64::NAN),
    };
    let mut report = serde_json::json!({
        "relay_nodes": run.nodes,
        "clients": args.clients,
        "rooms": args.rooms,
        "edits_per_sec_per_client": args.edits_per_sec,
        "cursor_hz_per_client": args.cursor_hz,
        "measured_secs": elapsed.as_secs_f64(),
        "edits_sent": stats.edits_sent.load(Ordering::Relaxed),
        "edit_deliveries": edits.len(),
        "edit_latency_ms": { "p50": percentile(&edits, 0.5), "p99": percentile(&edits, 0.99), "max": percentile(&edits, 1.0) },
        "cursor_moves_sent": stats.cursors_sent.load(Ordering::Relaxed),
        "cursor_deliveries": cursors.len(),
        "cursor_latency_ms": { "p50": percentile(&cursors, 0.5), "p99": percentile(&cursors, 0.99), "max": percentile(&cursors, 1.0) },
        "relay_internal_propagation_ms_bucket_upper_bound": {
            "p50": histogram_quantile(hist_start, hist_end, 0.5),
            "p99": histogram_quantile(hist_start, hist_end, 0.99),
        },
        "client_errors": stats.errors.load(Ordering::Relaxed),
        "relay_cpu_percent": cpu_pct,
        "relay_rss_mb": rss_mb,
        "relay_peak_rss_mb": hwm_mb,
    });
    if run.nodes > 1 {
        report["edit_latency_same_node_ms"] = quantiles(&taken(&stats.edit_same_node_us));
        report["edit_latency_cross_node_ms"] = quantiles(&taken(&stats.edit_cross_node_us));
    }
    if let Some(acks) = &run.acks {
        report["jetstream_ack_round_trip_ms"] = quantiles(acks);
    }
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
