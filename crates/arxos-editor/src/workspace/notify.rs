//! What the window tells its person as toasts beyond edits, as `notifications.*` asks: a
//! comment that mentions them (once per comment, never for ones there when the plan opened),
//! and a sync error (once per outage: the first error, then nothing until the session is back
//! online, however often it retries).

use std::collections::BTreeMap;

use arxos_sync::client::{ConnectionState, SyncStatus};

use super::{Notice, Workspace};

impl Workspace {
    /// Comments that mention this person, by id, with who wrote them and what.
    pub(super) fn mentions_of_me(&self) -> BTreeMap<String, (String, String)> {
        let me = self.author.to_lowercase();
        self.read(arxos_doc::comments::comments)
            .unwrap_or_default()
            .into_iter()
            .filter(|c| c.author != self.author)
            .filter(|c| c.mentions.iter().any(|m| m.to_lowercase() == me))
            .map(|c| (c.id, (c.author, c.text)))
            .collect()
    }

    /// Tells of mentions that arrived since the last look.
    pub(super) fn tell_mentions(&mut self, notices: &mut Vec<Notice>) {
        for (id, (author, text)) in self.mentions_of_me() {
            if !self.mentions_told.insert(id) || !self.notifications.mentions {
                continue;
            }
            let first_line = text.lines().next().unwrap_or_default();
            let excerpt: String = first_line.chars().take(80).collect();
            let more = if excerpt.len() < text.len() {
                "…"
            } else {
                ""
            };
            notices.push(Notice::Info(format!(
                "{author} mentioned you: “{excerpt}{more}” (see Comments)"
            )));
        }
    }

    /// Tells of a sync error once per outage.
    pub(super) fn tell_sync_error(&mut self, st: &SyncStatus, notices: &mut Vec<Notice>) {
        if st.state != ConnectionState::Offline {
            self.outage_told = false;
            return;
        }
        let Some(error) = st.last_error.as_ref().filter(|_| !st.paused) else {
            return;
        };
        if std::mem::replace(&mut self.outage_told, true) {
            return;
        }
        if self.notifications.sync_errors {
            notices.push(Notice::Error(format!(
                "Sync: {error} (your edits are kept and sent when it works again)"
            )));
        }
    }
}
