//! Progress for long network operations (`sync`, `clone`, `join`): a live line on an
//! interactive stderr with the connection state, a bar over the local changes to upload and a
//! count of changes received; nothing at all when stderr is not a terminal or output is JSON,
//! so scripts keep their one-line errors.

use std::cell::Cell;
use std::time::Duration;

use arxos_sync::client::{ConnectionState, SyncStatus};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress line fed with engine status updates.
pub struct SyncProgress {
    bar: ProgressBar,
    /// Most local changes seen waiting for the relay: the upload's length (the bar style is
    /// in use once it is above zero).
    most_pending: Cell<usize>,
}

impl SyncProgress {
    /// A progress line titled `title` (e.g. "syncing plan.arx"); hidden when `quiet`.
    pub fn new(title: String, quiet: bool) -> Self {
        let target = if quiet {
            ProgressDrawTarget::hidden()
        } else {
            // Hidden by indicatif itself when stderr is not a terminal.
            ProgressDrawTarget::stderr()
        };
        let bar = ProgressBar::with_draw_target(None, target);
        bar.set_style(waiting_style());
        bar.set_prefix(title);
        bar.enable_steady_tick(Duration::from_millis(120));
        Self {
            bar,
            most_pending: Cell::new(0),
        }
    }

    /// Shows the engine's latest status.
    pub fn update(&self, s: &SyncStatus) {
        // Uploaded = no longer pending (acknowledged by the relay), out of the most pending.
        let seen = self.most_pending.get();
        let total = seen.max(s.pending);
        self.most_pending.set(total);
        if seen == 0 && total > 0 {
            self.bar.set_style(upload_style());
        }
        if total > 0 {
            self.bar.set_length(total as u64);
            self.bar.set_position((total - s.pending) as u64);
        }
        let state = match s.state {
            ConnectionState::Offline if s.last_error.is_some() => "retrying",
            ConnectionState::Offline => "connecting",
            ConnectionState::Syncing => "syncing",
            ConnectionState::Connected => "in sync",
            ConnectionState::Conflict => "in sync, with conflicts",
        };
        self.bar
            .set_message(format!("{state} · {} received", s.received_changes));
    }

    /// Removes the line (before the summary or an error is printed).
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

fn waiting_style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {prefix} · {msg} {elapsed}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
}

fn upload_style() -> ProgressStyle {
    ProgressStyle::with_template(
        "{spinner} {prefix} [{bar:20}] {pos}/{len} uploaded · {msg} {elapsed}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(state: ConnectionState, sent: usize, pending: usize, received: usize) -> SyncStatus {
        SyncStatus {
            state,
            pending,
            sent_changes: sent,
            received_changes: received,
            ..SyncStatus::default()
        }
    }

    #[test]
    fn the_bar_tracks_uploads_and_downloads() {
        let p = SyncProgress::new("syncing plan.arx".into(), true);
        p.update(&status(ConnectionState::Offline, 0, 0, 0));
        assert_eq!(p.most_pending.get(), 0, "nothing to upload yet");
        assert_eq!(p.bar.message(), "connecting · 0 received");
        p.update(&status(ConnectionState::Syncing, 0, 10, 0));
        p.update(&status(ConnectionState::Syncing, 3, 7, 12));
        assert!(p.most_pending.get() > 0, "uploading");
        assert_eq!(p.bar.length(), Some(10));
        assert_eq!(p.bar.position(), 3);
        assert_eq!(p.bar.message(), "syncing · 12 received");
        p.update(&status(ConnectionState::Connected, 10, 0, 40));
        assert_eq!(p.bar.length(), Some(10));
        assert_eq!(p.bar.position(), 10);
        assert_eq!(p.bar.message(), "in sync · 40 received");
        p.finish();
        assert!(p.bar.is_finished());
    }
}
