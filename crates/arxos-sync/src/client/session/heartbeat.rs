//! The connection's heartbeat: stamped pings (the pong gives the round trip) and lease
//! renewal.

use futures_util::SinkExt;
use tokio_tungstenite::tungstenite::Message;

use super::Session;
use crate::client::ClientEvent;
use crate::client::engine::SessionEnd;
use crate::protocol::payload::ArxPayload;

impl Session<'_> {
    /// A ping stamped with its send time (so the pong tells the round trip), and the renewal
    /// of our leases.
    pub(super) async fn heartbeat(&mut self) -> Result<(), SessionEnd> {
        let stamp = unix_micros().to_be_bytes().to_vec();
        if self.ws.send(Message::Ping(stamp.into())).await.is_err() {
            return Err(self.lost("ping failed"));
        }
        if self.held_locks && self.config.auto_renew_locks {
            self.send_payload(&ArxPayload::LockRenew { ids: Vec::new() })
                .await?;
        }
        Ok(())
    }

    /// Records the relay's round-trip time from a pong to one of our stamped pings.
    pub(super) fn on_pong(&self, stamp: &[u8]) {
        let Ok(sent) = <[u8; 8]>::try_from(stamp) else {
            return;
        };
        let rtt_ms = unix_micros().saturating_sub(u64::from_be_bytes(sent)) / 1_000;
        let changed = self.shared.status.send_if_modified(|s| {
            let changed = s.rtt_ms != Some(rtt_ms);
            s.rtt_ms = Some(rtt_ms);
            changed
        });
        if changed {
            let _ = self
                .shared
                .events
                .send(ClientEvent::Status(self.shared.status.borrow().clone()));
        }
    }
}

fn unix_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}
