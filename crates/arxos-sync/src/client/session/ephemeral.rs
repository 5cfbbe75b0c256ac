//! What the relay says beside sync messages: presence, the lock table, lease answers and
//! refusals.

use std::time::Duration;

use super::Session;
use crate::client::engine::{refresh_status, set_refused_aside, unix_now};
use crate::client::{ClientEvent, lock};
use crate::protocol::payload::ArxPayload;
use crate::store::RefusedRecord;

impl Session<'_> {
    pub(super) fn on_ephemeral(&mut self, data: &[u8]) {
        let Ok(payload) = ArxPayload::decode(data) else {
            return;
        };
        let own = self.shared.peer_id.as_str();
        match payload {
            ArxPayload::PresenceBatch { entries, gone } => {
                let entries: Vec<_> = entries.into_iter().filter(|e| e.peer != own).collect();
                {
                    let mut presence = lock(&self.shared.presence);
                    for e in &entries {
                        presence.insert(e.peer.clone(), e.presence.clone());
                    }
                    for g in &gone {
                        presence.remove(g);
                    }
                }
                let _ = self
                    .shared
                    .events
                    .send(ClientEvent::Presence { entries, gone });
            }
            ArxPayload::LockTable { locks, hard } => {
                self.held_locks = locks.iter().any(|l| l.holder_peer == own);
                lock(&self.shared.locks).clone_from(&locks);
                let _ = self.shared.events.send(ClientEvent::Locks { locks, hard });
            }
            ArxPayload::LockGrant { ids, ttl_ms } => {
                self.held_locks = true;
                let third = Duration::from_millis(ttl_ms / 3).max(Duration::from_millis(50));
                if third < self.heartbeat {
                    self.heartbeat = third;
                    self.heartbeat_changed = true;
                }
                let _ = self.shared.events.send(ClientEvent::LockGranted(ids));
            }
            ArxPayload::LockDeny { held } => {
                let _ = self.shared.events.send(ClientEvent::LockDenied(held));
            }
            ArxPayload::Refused { changes } => {
                {
                    let mut meta = lock(&self.shared.meta);
                    for c in &changes {
                        meta.refused.insert(
                            c.hash.clone(),
                            RefusedRecord {
                                reason: c.reason.clone(),
                                at: unix_now(),
                            },
                        );
                    }
                }
                tracing::warn!(count = changes.len(), "relay refused changes");
                // Keep the refused changes aside and replay what was built on them, so one
                // refused edit never blocks the allowed ones after it.
                match set_refused_aside(self.shared) {
                    Ok((0, 0)) => {}
                    Ok(_) => self.shared.local_change.notify_one(),
                    Err(err) => tracing::error!(%err, "cannot set refused changes aside"),
                }
                self.dirty = true;
                refresh_status(self.shared, Some(&self.sync.state), true);
                let _ = self.shared.events.send(ClientEvent::Refused(changes));
            }
            other => tracing::debug!(?other, "ignoring client-only payload from the relay"),
        }
    }
}
