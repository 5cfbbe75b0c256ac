//! The audit trail with each change's verified origin: the invite the relay saw the change
//! come through when it accepted it, beside the author the change only claims (anyone can
//! write `--as relay-admin`). Changes are matched to the relay's records by hash.
//!
//! Origins are evidence, not identity: a change reaches the relay through whichever peer
//! holds it first (a colleague's laptop may carry yours), so what is flagged is worth a look,
//! not a verdict.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use arxos_doc::audit::{AuditEntry, audit_trail};
use arxos_sync::admin::{AdminClient, Origin};
use serde::Serialize;

use crate::{SessionError, remembered_invite};

/// One change of the audit trail and where the relay saw it come from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VerifiedEntry {
    /// The change as its author recorded it.
    #[serde(flatten)]
    pub entry: AuditEntry,
    /// The invite it came through, when the relay accepted it through one.
    pub origin: Option<Origin>,
    /// What does not add up, one sentence each (empty when nothing).
    pub flags: Vec<String>,
}

/// Matches `trail` with the relay's `origins` and flags what does not add up:
/// * a change the relay holds no origin for (never accepted through an invite: not synced yet,
///   or accepted before the relay recorded origins);
/// * a change claiming another author than the one its invite's label names, when the label
///   names one of the authors who used it;
/// * otherwise, an invite that carried changes claiming several authors.
pub fn verify(trail: Vec<AuditEntry>, origins: &[Origin]) -> Vec<VerifiedEntry> {
    let by_change: BTreeMap<&str, &Origin> =
        origins.iter().map(|o| (o.change.as_str(), o)).collect();
    let mut authors_by_invite: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for e in &trail {
        if let Some(o) = by_change.get(e.change.as_str()) {
            authors_by_invite
                .entry(o.invite.as_str())
                .or_default()
                .insert(e.author.as_str());
        }
    }
    let flags: Vec<Vec<String>> = trail
        .iter()
        .map(|e| {
            let Some(origin) = by_change.get(e.change.as_str()) else {
                return vec![
                    "the relay has no record of accepting this change through an invite".to_owned(),
                ];
            };
            let authors = &authors_by_invite[origin.invite.as_str()];
            let label = origin.label.trim();
            let named = authors
                .iter()
                .find(|a| !label.is_empty() && a.trim().eq_ignore_ascii_case(label));
            match named {
                Some(owner) if !e.author.trim().eq_ignore_ascii_case(label) => vec![format!(
                    "claims `{}`, but came through invite {} labelled `{owner}`",
                    e.author, origin.invite
                )],
                None if authors.len() > 1 => vec![format!(
                    "invite {} ({}) carried changes claiming {} authors: {}",
                    origin.invite,
                    if label.is_empty() { "no label" } else { label },
                    authors.len(),
                    authors.iter().copied().collect::<Vec<_>>().join(", ")
                )],
                Some(_) | None => Vec::new(),
            }
        })
        .collect();
    trail
        .into_iter()
        .zip(flags)
        .map(|(entry, flags)| VerifiedEntry {
            origin: by_change.get(entry.change.as_str()).map(|o| (*o).clone()),
            entry,
            flags,
        })
        .collect()
}

/// The verified audit trail of the shared plan `file`: its history, matched with the origins
/// its relay recorded (asked with the relay's admin token; the relay is the one the plan's
/// sidecar remembers unless `relay` names another).
pub fn verified_trail(
    file: &Path,
    relay: Option<&str>,
    admin_token: &str,
) -> Result<Vec<VerifiedEntry>, SessionError> {
    let invite = remembered_invite(file).map_err(|_| {
        SessionError::Invalid(format!(
            "{} is not shared: only a relay knows where its changes came from",
            file.display()
        ))
    })?;
    let mut doc = arxos_doc::file::load(file)?;
    let admin = AdminClient::new(relay.unwrap_or(&invite.relay), admin_token)?;
    let origins = admin.origins(invite.document_id)?;
    Ok(verify(audit_trail(&mut doc), &origins))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arxos_doc::ChangeKind;
    use arxos_sync::Role;

    fn entry(change: &str, author: &str) -> AuditEntry {
        AuditEntry {
            time: String::new(),
            time_ms: 0,
            author: author.into(),
            kind: ChangeKind::Edit,
            summary: String::new(),
            change: change.into(),
        }
    }

    fn origin(change: &str, invite: &str, label: &str) -> Origin {
        Origin {
            change: change.into(),
            invite: invite.into(),
            label: label.into(),
            role: Role::Editor,
            peer: "p".into(),
            at_ms: 1,
        }
    }

    #[test]
    fn a_claim_against_the_invites_label_and_a_shared_invite_are_flagged() {
        let trail = vec![
            entry("c1", "ann"),
            entry("c2", "relay-admin"),
            entry("c3", "bob"),
            entry("c4", "eve"),
            entry("c5", "ann"),
        ];
        let origins = [
            origin("c1", "i1", "Ann"),
            origin("c2", "i1", "Ann"),
            origin("c3", "i2", "shared editor"),
            origin("c4", "i2", "shared editor"),
        ];
        let v = verify(trail, &origins);
        assert!(v[0].flags.is_empty(), "{:?}", v[0].flags);
        assert!(
            v[1].flags[0].contains("claims `relay-admin`"),
            "{:?}",
            v[1].flags
        );
        assert!(
            v[2].flags[0].contains("2 authors: bob, eve"),
            "{:?}",
            v[2].flags
        );
        assert_eq!(v[3].origin.as_ref().map(|o| o.invite.as_str()), Some("i2"));
        assert!(v[4].origin.is_none());
        assert!(v[4].flags[0].contains("no record"), "{:?}", v[4].flags);
    }
}
