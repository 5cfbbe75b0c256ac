//! The change log as people read it: who changed what, when.

use automerge::{AutoCommit, ChangeHash};
use serde::{Deserialize, Serialize};

use crate::document::ChangeMessage;

/// One change in the document's history.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// The change hash (hex).
    pub hash: String,
    /// Who made it (from our change metadata; the actor id when a foreign client wrote it).
    pub author: String,
    /// When, milliseconds since the Unix epoch.
    pub time_ms: i64,
    /// What it did.
    pub summary: String,
    /// What kind of change (edit, resolve, revert...).
    pub kind: crate::command::ChangeKind,
    /// The Automerge actor (one per replica session).
    pub actor: String,
    /// Hashes of the changes it builds on.
    pub deps: Vec<String>,
}

/// Decodes a change message written by [`crate::Document`] (or falls back for foreign ones).
pub(crate) fn parse_message(message: Option<&str>) -> Option<ChangeMessage> {
    serde_json::from_str(message?).ok()
}

/// Every change, oldest first (in causal order).
pub(crate) fn entries(am: &mut AutoCommit) -> Vec<HistoryEntry> {
    am.get_changes_meta(&[])
        .into_iter()
        .map(|m| {
            let parsed = parse_message(m.message.as_deref());
            let actor = m.actor.to_hex_string();
            let (author, summary, time_ms, kind) = match parsed {
                Some(p) => (p.author, p.summary, p.time_ms, p.kind),
                None => (
                    actor.clone(),
                    m.message.as_deref().unwrap_or("").to_owned(),
                    m.timestamp.saturating_mul(1000),
                    crate::command::ChangeKind::Edit,
                ),
            };
            HistoryEntry {
                hash: m.hash.to_string(),
                author,
                time_ms,
                summary,
                kind,
                actor,
                deps: m.deps.iter().map(ChangeHash::to_string).collect(),
            }
        })
        .collect()
}

/// A change with the elements it touched (what `arxos sync queue` lists).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DescribedChange {
    /// The change as the history shows it.
    #[serde(flatten)]
    pub entry: HistoryEntry,
    /// Elements it wrote, created or deleted.
    pub elements: Vec<crate::ElementId>,
}

impl crate::Document {
    /// The changes that are not ancestors of `heads` (those of `heads` this replica lacks are
    /// ignored), oldest first, each with the elements it touched. They are replayed one by
    /// one on a replica at `heads`, so each is attributed by the same op-by-op path that
    /// attributes a synced change, never by comparing whole plans.
    pub fn describe_changes_after(
        &mut self,
        heads: &[ChangeHash],
    ) -> crate::error::Result<Vec<DescribedChange>> {
        let after: std::collections::HashSet<ChangeHash> =
            self.changes_after(heads).into_iter().collect();
        if after.is_empty() {
            return Ok(Vec::new());
        }
        let known: Vec<ChangeHash> = heads
            .iter()
            .copied()
            .filter(|h| self.has_change(h))
            .collect();
        let mut base = self.fork_at(&known)?;
        let mut described = Vec::with_capacity(after.len());
        for entry in self.history() {
            let Ok(hash) = entry.hash.parse::<ChangeHash>() else {
                continue;
            };
            if !after.contains(&hash) {
                continue;
            }
            let Some(change) = self.am.get_change_by_hash(&hash) else {
                continue;
            };
            let bytes = change.raw_bytes().to_vec();
            let set = base.load_incremental(&bytes)?;
            described.push(DescribedChange {
                entry,
                elements: set.elements().into_iter().cloned().collect(),
            });
        }
        Ok(described)
    }
}
