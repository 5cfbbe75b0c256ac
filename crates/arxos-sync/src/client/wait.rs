//! Waiting for the engine from a blocking caller (the CLI, tests): for a status, for the
//! in-sync state.

use std::time::{Duration, Instant};

use super::{ClientError, ConnectionState, SyncClient, SyncStatus};

impl SyncClient {
    /// Blocks until `pred` holds for the status, or `timeout`.
    pub fn wait_for(
        &self,
        timeout: Duration,
        pred: impl Fn(&SyncStatus) -> bool,
    ) -> Option<SyncStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            let status = self.status();
            if pred(&status) {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Blocks until in sync (Connected or Conflict), the invite is rejected, or `timeout`.
    pub fn wait_synced(&self, timeout: Duration) -> Result<SyncStatus, ClientError> {
        self.wait_synced_with(timeout, &|_| {})
    }

    /// [`SyncClient::wait_synced`], showing `progress` every status seen while waiting.
    pub fn wait_synced_with(
        &self,
        timeout: Duration,
        progress: &dyn Fn(&SyncStatus),
    ) -> Result<SyncStatus, ClientError> {
        self.wait_until(timeout, |s| {
            progress(s);
            matches!(
                s.state,
                ConnectionState::Connected | ConnectionState::Conflict
            )
        })
    }

    /// Blocks until `done` holds; fails on `timeout` (saying the last error or state) and
    /// as soon as the relay refused the invite.
    pub(super) fn wait_until(
        &self,
        timeout: Duration,
        done: impl Fn(&SyncStatus) -> bool,
    ) -> Result<SyncStatus, ClientError> {
        let status = self
            .wait_for(timeout, |s| done(s) || s.rejected)
            .ok_or_else(|| {
                let s = self.status();
                ClientError::Timeout(
                    timeout,
                    s.last_error
                        .unwrap_or_else(|| format!("state {:?}, {} pending", s.state, s.pending)),
                )
            })?;
        if status.rejected {
            return Err(ClientError::Rejected(status.last_error.unwrap_or_default()));
        }
        Ok(status)
    }
}
