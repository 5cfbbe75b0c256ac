//! Compaction beside the room: the room seals its log (later appends start a new segment) and
//! a blocking task folds the snapshot and the sealed segments into a new snapshot, so edits
//! keep flowing meanwhile; only the final compaction when a room closes runs on its task.

use std::sync::Arc;

use tokio::task::{JoinError, JoinHandle};

use super::Room;
use crate::storage::StorageError;

/// A compaction running beside the room.
pub(super) struct Compaction {
    task: JoinHandle<Result<(), StorageError>>,
    /// The compaction weight it folds, counted again if it fails.
    weight: usize,
}

/// What a finished compaction reports: its result and the weight it was folding.
pub(super) type Compacted = (Result<Result<(), StorageError>, JoinError>, usize);

/// Waits for the running compaction, or forever when there is none.
pub(super) async fn compacted(running: &mut Option<Compaction>) -> Compacted {
    match running {
        Some(c) => ((&mut c.task).await, c.weight),
        None => std::future::pending().await,
    }
}

impl Room {
    /// Seals the log and starts folding it into the snapshot off the room's task, when enough
    /// was appended. Call only while no persist is in flight (the seal must not split one).
    pub(super) fn start_compaction(&mut self, running: &mut Option<Compaction>) {
        if running.is_some() || self.appended_since_compact < self.ctx.compact_every {
            return;
        }
        let sealed = match self.ctx.storage.seal(self.id) {
            Ok(sealed) => sealed,
            Err(err) => {
                tracing::error!(room = %self.id, %err, "cannot seal the change log; not compacting");
                return;
            }
        };
        let weight = std::mem::take(&mut self.appended_since_compact);
        let storage = Arc::clone(&self.ctx.storage);
        let id = self.id;
        let task = tokio::task::spawn_blocking(move || storage.compact_sealed(id, sealed));
        *running = Some(Compaction { task, weight });
    }

    /// Accounts for a finished background compaction.
    pub(super) fn compaction_done(&mut self, (result, weight): Compacted) {
        if !self.compacted_ok(result, "compacted in the background") {
            // The sealed segments are still there; the next compaction folds them too.
            self.appended_since_compact += weight;
        }
    }

    /// Waits for a running compaction (before the room closes or compacts on its task).
    pub(super) async fn finish_compaction(&mut self, running: &mut Option<Compaction>) {
        if let Some(mut c) = running.take() {
            let result = (&mut c.task).await;
            self.compaction_done((result, c.weight));
        }
    }

    /// Replaces the stored history by a snapshot of the document, on the room's task: for
    /// when the room closes, so the next start loads one chunk.
    pub(super) async fn compact(&mut self) {
        let snapshot = self.doc.save();
        let storage = Arc::clone(&self.ctx.storage);
        let id = self.id;
        let result = tokio::task::spawn_blocking(move || storage.compact(id, &snapshot)).await;
        if self.compacted_ok(result, "compacted") {
            self.appended_since_compact = 0;
        }
    }

    /// Logs how a compaction ended; whether it succeeded.
    fn compacted_ok(
        &self,
        result: Result<Result<(), StorageError>, JoinError>,
        done: &str,
    ) -> bool {
        match result {
            Ok(Ok(())) => {
                tracing::debug!(room = %self.id, "{done}");
                return true;
            }
            Ok(Err(err)) => tracing::error!(room = %self.id, %err, "compaction failed"),
            Err(err) => tracing::error!(room = %self.id, %err, "compaction task failed"),
        }
        false
    }
}
