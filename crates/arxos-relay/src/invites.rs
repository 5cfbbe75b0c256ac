//! The invite store: hashed secrets with role, grant, expiry and revocation.
//!
//! The store keeps every invite in memory and persists through an [`InviteBackend`]: by
//! default `invites.json` in the data folder, rewritten atomically on every change; in a
//! cluster, a KV bucket shared by every node ([`crate::cluster::kv`]), which also answers for
//! invites this node has not heard of yet. Only SHA-256 hashes of secrets are kept, so what is
//! stored does not let anyone join a room.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use arxos_sync::invite::{Grant, Role, hash_secret, new_secret};
use arxos_sync::{DocumentId, InviteCode};
use serde::{Deserialize, Serialize};

use crate::storage::StorageError;
use crate::storage::file::write_atomic;

/// One invite as the relay stores it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteRecord {
    /// Short public id used to list and revoke.
    pub id: String,
    /// The room.
    pub doc_id: DocumentId,
    /// SHA-256 of the secret, hex.
    pub secret_hash: String,
    /// The role it grants.
    pub role: Role,
    /// Optional narrowing of write access.
    #[serde(default)]
    pub grant: Grant,
    /// Unix seconds.
    pub created_at: u64,
    /// Unix seconds; `None` = never expires.
    pub expires_at: Option<u64>,
    /// Revoked invites are refused.
    #[serde(default)]
    pub revoked: bool,
    /// Free text ("for the electrician").
    #[serde(default)]
    pub label: String,
}

/// Why an invite was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No invite has this secret.
    #[error("unknown invite")]
    Unknown,
    /// The invite expired.
    #[error("invite expired")]
    Expired,
    /// The invite was revoked.
    #[error("invite revoked")]
    Revoked,
    /// The invites could not be read (a cluster whose NATS servers are unreachable).
    #[error("invites are unavailable, retry")]
    Unavailable,
}

/// Where invites are persisted.
pub trait InviteBackend: Send + Sync + 'static {
    /// Every stored invite.
    fn load_all(&self) -> Result<Vec<InviteRecord>, StorageError>;
    /// Stores `changed` durably; `all` is the whole store with it (a file rewrites them all).
    fn save(
        &self,
        changed: &InviteRecord,
        all: &BTreeMap<String, InviteRecord>,
    ) -> Result<(), StorageError>;
    /// The invite whose secret hashes to `secret_hash`, when the backend is shared with other
    /// relay nodes and may know invites this one has not heard of; `None` for a private one.
    fn find(&self, _secret_hash: &str) -> Result<Option<InviteRecord>, StorageError> {
        Ok(None)
    }
    /// Whether other relay nodes write to the same invites.
    fn is_shared(&self) -> bool {
        false
    }
}

/// `invites.json` in the data folder.
struct InviteFile {
    path: PathBuf,
}

impl InviteBackend for InviteFile {
    fn load_all(&self) -> Result<Vec<InviteRecord>, StorageError> {
        let path = &self.path;
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| StorageError::Corrupt {
                path: path.display().to_string(),
                reason: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(source) => Err(StorageError::Io {
                path: path.display().to_string(),
                source,
            }),
        }
    }

    fn save(
        &self,
        _changed: &InviteRecord,
        all: &BTreeMap<String, InviteRecord>,
    ) -> Result<(), StorageError> {
        let list: Vec<&InviteRecord> = all.values().collect();
        let json = serde_json::to_vec_pretty(&list).map_err(|e| StorageError::Corrupt {
            path: self.path.display().to_string(),
            reason: e.to_string(),
        })?;
        write_atomic(&self.path, &json)
    }
}

/// What a new invite should allow.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct NewInvite {
    /// The room.
    pub doc_id: DocumentId,
    /// The role.
    pub role: Role,
    /// Optional grant.
    #[serde(default)]
    pub grant: Grant,
    /// Lifetime in seconds; `None` = never expires.
    #[serde(default)]
    pub expires_in_secs: Option<u64>,
    /// Free text.
    #[serde(default)]
    pub label: String,
}

/// Current Unix time in seconds.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The invite store.
pub struct InviteStore {
    backend: Box<dyn InviteBackend>,
    records: Mutex<BTreeMap<String, InviteRecord>>,
}

impl InviteStore {
    /// Opens `data_dir/invites.json` (empty when missing).
    pub fn open(data_dir: &Path) -> Result<Self, StorageError> {
        Self::with_backend(Box::new(InviteFile {
            path: data_dir.join("invites.json"),
        }))
    }

    /// Opens the invites `backend` holds (blocking: call it off the async threads).
    pub fn with_backend(backend: Box<dyn InviteBackend>) -> Result<Self, StorageError> {
        let records = backend
            .load_all()?
            .into_iter()
            .map(|r| (r.id.clone(), r))
            .collect();
        Ok(Self {
            backend,
            records: Mutex::new(records),
        })
    }

    /// Whether other relay nodes share these invites (then a look-up may block on them).
    pub fn is_shared(&self) -> bool {
        self.backend.is_shared()
    }

    /// Takes in an invite another relay node stored (created or revoked there).
    pub fn learn(&self, record: InviteRecord) {
        self.lock().insert(record.id.clone(), record);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, InviteRecord>> {
        self.records
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Creates an invite reaching the relay at `relay_url`, then at `also` (other nodes);
    /// returns the record and the code (the only time the secret exists).
    pub fn create(
        &self,
        relay_url: &str,
        also: &[String],
        new: NewInvite,
    ) -> Result<(InviteRecord, InviteCode), CreateInviteError> {
        let code = InviteCode {
            relay: relay_url.trim_end_matches('/').to_owned(),
            also: Vec::new(),
            document_id: new.doc_id,
            secret: new_secret(),
        }
        .with_also(also)
        .map_err(CreateInviteError::Code)?;
        // Validate the relay address by round-tripping the code.
        InviteCode::parse(&code.encode()).map_err(CreateInviteError::Code)?;
        let now = unix_now();
        let mut id_bytes = [0_u8; 6];
        arxos_sync::protocol::random_bytes(&mut id_bytes);
        let record = InviteRecord {
            id: bs58::encode(id_bytes).into_string(),
            doc_id: new.doc_id,
            secret_hash: hash_secret(&code.secret),
            role: new.role,
            grant: new.grant,
            created_at: now,
            expires_at: new.expires_in_secs.map(|s| now.saturating_add(s)),
            revoked: false,
            label: new.label,
        };
        let mut records = self.lock();
        records.insert(record.id.clone(), record.clone());
        if let Err(err) = self.backend.save(&record, &records) {
            records.remove(&record.id);
            return Err(CreateInviteError::Storage(err));
        }
        Ok((record, code))
    }

    /// Finds the valid invite whose secret is `secret` (blocking when the backend is shared
    /// and this node has not heard of the invite yet: call it off the async threads).
    pub fn authenticate(&self, secret: &str) -> Result<InviteRecord, AuthError> {
        let hash = hash_secret(secret);
        let known = self
            .lock()
            .values()
            .find(|r| constant_time_eq(r.secret_hash.as_bytes(), hash.as_bytes()))
            .cloned();
        let record = match known {
            Some(record) => record,
            // Created on another node a moment ago: the shared store knows.
            None => match self.backend.find(&hash) {
                Ok(Some(record)) => {
                    self.learn(record.clone());
                    record
                }
                Ok(None) => return Err(AuthError::Unknown),
                Err(err) => {
                    tracing::error!(%err, "cannot look an invite up");
                    return Err(AuthError::Unavailable);
                }
            },
        };
        if record.revoked {
            return Err(AuthError::Revoked);
        }
        if record.expires_at.is_some_and(|t| unix_now() >= t) {
            return Err(AuthError::Expired);
        }
        Ok(record)
    }

    /// Lists invites, optionally of one room.
    pub fn list(&self, doc: Option<DocumentId>) -> Vec<InviteRecord> {
        self.lock()
            .values()
            .filter(|r| doc.is_none_or(|d| r.doc_id == d))
            .cloned()
            .collect()
    }

    /// Revokes an invite by id; `Ok(false)` when there is no such invite.
    pub fn revoke(&self, id: &str) -> Result<bool, StorageError> {
        if self.backend.is_shared() && !self.lock().contains_key(id) {
            // Perhaps created on another node a moment ago.
            for record in self.backend.load_all()? {
                self.learn(record);
            }
        }
        let mut records = self.lock();
        let Some(record) = records.get_mut(id) else {
            return Ok(false);
        };
        let was = record.revoked;
        record.revoked = true;
        let changed = record.clone();
        if let Err(err) = self.backend.save(&changed, &records) {
            if let Some(record) = records.get_mut(id) {
                record.revoked = was;
            }
            return Err(err);
        }
        Ok(true)
    }
}

/// Errors creating an invite.
#[derive(Debug, thiserror::Error)]
pub enum CreateInviteError {
    /// The relay address cannot go into a code.
    #[error(transparent)]
    Code(arxos_sync::invite::InviteError),
    /// Persisting failed.
    #[error(transparent)]
    Storage(StorageError),
}

/// Compares two byte strings in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0_u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(doc: DocumentId, role: Role, expires: Option<u64>) -> NewInvite {
        NewInvite {
            doc_id: doc,
            role,
            grant: Grant::default(),
            expires_in_secs: expires,
            label: "t".into(),
        }
    }

    #[test]
    fn create_authenticate_revoke_and_reload() {
        let dir = tempfile::tempdir().unwrap();
        let store = InviteStore::open(dir.path()).unwrap();
        let doc = DocumentId::random();
        let (record, code) = store
            .create("ws://127.0.0.1:1", &[], new(doc, Role::Editor, None))
            .unwrap();
        assert_eq!(store.authenticate(&code.secret).unwrap().id, record.id);
        assert_eq!(store.authenticate("nope"), Err(AuthError::Unknown));
        let text = std::fs::read_to_string(dir.path().join("invites.json")).unwrap();
        assert!(!text.contains(&code.secret), "secrets are never stored");
        assert!(store.revoke(&record.id).unwrap());
        assert!(!store.revoke("missing").unwrap());
        assert_eq!(store.authenticate(&code.secret), Err(AuthError::Revoked));
        let reopened = InviteStore::open(dir.path()).unwrap();
        assert_eq!(reopened.authenticate(&code.secret), Err(AuthError::Revoked));
        assert_eq!(reopened.list(Some(doc)).len(), 1);
        assert!(reopened.list(Some(DocumentId::random())).is_empty());
    }

    #[test]
    fn expired_invites_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = InviteStore::open(dir.path()).unwrap();
        let (_, code) = store
            .create(
                "ws://h:1",
                &[],
                new(DocumentId::random(), Role::Viewer, Some(0)),
            )
            .unwrap();
        assert_eq!(store.authenticate(&code.secret), Err(AuthError::Expired));
    }

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
