//! The change log as people read it: who changed what, when.

use automerge::{AutoCommit, ChangeHash};
use serde::Serialize;

use crate::document::ChangeMessage;

/// One change in the document's history.
#[derive(Clone, Debug, Serialize)]
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
