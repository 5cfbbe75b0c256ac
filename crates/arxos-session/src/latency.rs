//! `arxos network latency-test CODE`: round trips to the relay behind an invite, measured
//! with WebSocket pings on a connection of its own (the sync engine keeps only the latest
//! round trip, in `SyncStatus::rtt_ms`; a test needs every one). Nothing is synced: the
//! connection is opened with the invite, pinged `count` times one after another, and closed.

use std::time::{Duration, Instant};

use arxos_sync::InviteCode;
use futures_util::{SinkExt as _, StreamExt as _};
use serde::Serialize;
use tokio_tungstenite::tungstenite::Message;

use crate::SessionError;

/// What a latency test measured, in milliseconds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Latency {
    /// The relay.
    pub relay: String,
    /// Round trips measured.
    pub samples: usize,
    /// Fastest.
    pub min_ms: f64,
    /// Median.
    pub median_ms: f64,
    /// 99th percentile (nearest rank).
    pub p99_ms: f64,
    /// Slowest.
    pub max_ms: f64,
    /// Each round trip, in the order measured.
    pub rtts_ms: Vec<f64>,
}

fn invalid(msg: String) -> SessionError {
    SessionError::Invalid(msg)
}

/// The nearest-rank percentile `p` (0..=100) of sorted `v` (not empty).
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Summarises round trips (at least one).
pub fn summarise(relay: &str, rtts_ms: Vec<f64>) -> Option<Latency> {
    let mut sorted = rtts_ms.clone();
    sorted.sort_by(f64::total_cmp);
    Some(Latency {
        relay: relay.to_owned(),
        samples: sorted.len(),
        min_ms: *sorted.first()?,
        median_ms: percentile(&sorted, 50.0),
        p99_ms: percentile(&sorted, 99.0),
        max_ms: *sorted.last()?,
        rtts_ms,
    })
}

/// Pings the relay behind `invite` `count` times; `timeout` bounds the whole test.
pub fn measure(
    invite: &InviteCode,
    count: usize,
    timeout: Duration,
) -> Result<Latency, SessionError> {
    if count == 0 {
        return Err(invalid("--count must be at least 1".into()));
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| invalid(format!("cannot start the async runtime: {e}")))?;
    let rtts = rt.block_on(async {
        tokio::time::timeout(timeout, pings(invite, count))
            .await
            .map_err(|_| {
                invalid(format!(
                    "no answer from {} within {} s",
                    invite.relay,
                    timeout.as_secs()
                ))
            })?
    })?;
    summarise(&invite.relay, rtts).ok_or_else(|| invalid("no round trip was measured".into()))
}

async fn pings(invite: &InviteCode, count: usize) -> Result<Vec<f64>, SessionError> {
    let url = invite.ws_url();
    let connector = if url.starts_with("wss://") {
        let tls = arxos_sync::tls::client_config(arxos_sync::tls::ca_from_env().as_deref())?;
        Some(tokio_tungstenite::Connector::Rustls(tls))
    } else {
        None
    };
    let (mut ws, _) = tokio_tungstenite::connect_async_tls_with_config(
        url.as_str(),
        Some(arxos_sync::protocol::ws_config()),
        false,
        connector,
    )
    .await
    .map_err(|e| match e {
        tokio_tungstenite::tungstenite::Error::Http(r) => invalid(format!(
            "the relay {} refused the invite ({})",
            invite.relay,
            r.status()
        )),
        other => invalid(format!("cannot reach {}: {other}", invite.relay)),
    })?;
    let lost = |e: tokio_tungstenite::tungstenite::Error| {
        invalid(format!("the connection to {} broke: {e}", invite.relay))
    };
    let mut rtts = Vec::with_capacity(count);
    for i in 0..count {
        let payload = (i as u64).to_be_bytes().to_vec();
        let sent = Instant::now();
        ws.send(Message::Ping(payload.clone().into()))
            .await
            .map_err(lost)?;
        // The relay greets us with its own messages; only our pong counts.
        loop {
            match ws.next().await {
                Some(Ok(Message::Pong(p))) if p.as_ref() == payload.as_slice() => break,
                Some(Ok(Message::Close(_))) | None => {
                    return Err(invalid(format!("{} closed the connection", invite.relay)));
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(lost(e)),
            }
        }
        rtts.push(sent.elapsed().as_secs_f64() * 1000.0);
    }
    let _ = ws.close(None).await;
    Ok(rtts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let l = summarise("ws://r", vec![5.0, 1.0, 3.0, 2.0, 4.0]).unwrap();
        assert_eq!(
            (l.min_ms, l.median_ms, l.p99_ms, l.max_ms),
            (1.0, 3.0, 5.0, 5.0)
        );
        let many: Vec<f64> = (1..=200).map(f64::from).collect();
        let l = summarise("ws://r", many).unwrap();
        assert_eq!((l.median_ms, l.p99_ms), (100.0, 198.0));
        assert!(summarise("ws://r", vec![]).is_none());
    }
}
