//! Invites in the cluster's `arxos-invites` KV bucket, and the watch that keeps every node's
//! copy current.
//!
//! Each invite is one key, the hash of its secret (so a node that has not heard of an invite
//! yet finds it by the secret a client presents), holding the record as JSON. Every node
//! watches the bucket: an invite created or revoked on one node reaches the others within a
//! round trip, and a revocation closes the sessions on that invite wherever they are.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures_util::StreamExt;
use tokio::sync::broadcast;

use super::Cluster;
use crate::invites::{InviteBackend, InviteRecord, InviteStore};
use crate::storage::StorageError;

/// Invites stored in the cluster's bucket.
pub(crate) struct InviteKv {
    pub(crate) cluster: Arc<Cluster>,
}

fn parse(key: &str, bytes: &[u8]) -> Option<InviteRecord> {
    match serde_json::from_slice(bytes) {
        Ok(record) => Some(record),
        Err(err) => {
            tracing::error!(key, %err, "an entry of the invites bucket is not an invite; ignored");
            None
        }
    }
}

impl InviteBackend for InviteKv {
    fn load_all(&self) -> Result<Vec<InviteRecord>, StorageError> {
        let store = &self.cluster.invites;
        self.cluster.block_on("reading invites", async {
            let mut keys = super::retrying("listing invites", || store.keys()).await?;
            let mut out = Vec::new();
            while let Some(key) = keys.next().await {
                let key = key.map_err(|e| e.to_string())?;
                if let Some(bytes) = store.get(key.as_str()).await.map_err(|e| e.to_string())?
                    && let Some(record) = parse(&key, &bytes)
                {
                    out.push(record);
                }
            }
            Ok(out)
        })
    }

    fn save(
        &self,
        changed: &InviteRecord,
        _all: &BTreeMap<String, InviteRecord>,
    ) -> Result<(), StorageError> {
        let json = serde_json::to_vec(changed).map_err(|e| StorageError::Corrupt {
            path: format!("invite {}", changed.id),
            reason: e.to_string(),
        })?;
        let key = changed.secret_hash.clone();
        self.cluster.block_on("storing an invite", async {
            self.cluster
                .invites
                .put(key, json.into())
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
    }

    fn find(&self, secret_hash: &str) -> Result<Option<InviteRecord>, StorageError> {
        let bytes = self.cluster.block_on("looking an invite up", async {
            self.cluster
                .invites
                .get(secret_hash)
                .await
                .map_err(|e| e.to_string())
        })?;
        Ok(bytes.and_then(|b| parse(secret_hash, &b)))
    }

    fn is_shared(&self) -> bool {
        true
    }
}

/// Starts watching the invites bucket: each invite stored by any node goes into `store`, and
/// a revoked one is announced on `revocations` (which closes its live sessions here). The
/// watch is established before this returns, so nothing stored afterwards is missed.
pub(crate) async fn watch_invites(
    cluster: &Cluster,
    store: Arc<InviteStore>,
    revocations: broadcast::Sender<String>,
) -> Result<tokio::task::JoinHandle<()>, crate::RelayError> {
    let watch = super::retrying("watching invites", || cluster.invites.watch_all())
        .await
        .map_err(crate::RelayError::Cluster)?;
    let invites = cluster.invites.clone();
    Ok(tokio::spawn(async move {
        let mut watch = Some(watch);
        let mut next = 0;
        loop {
            let Some(entries) = watch.as_mut() else {
                // After an error, watch again from the revision after the last one handled.
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                let reopened = if next == 0 {
                    super::attempt(invites.watch_all()).await
                } else {
                    super::attempt(invites.watch_all_from_revision(next)).await
                };
                match reopened {
                    Ok(w) => watch = Some(w),
                    Err(err) => tracing::warn!(%err, "cannot watch invites yet"),
                }
                continue;
            };
            let entry = match entries.next().await {
                Some(Ok(entry)) => entry,
                Some(Err(err)) => {
                    tracing::warn!(%err, "invite watch interrupted; resuming");
                    watch = None;
                    continue;
                }
                None => {
                    watch = None;
                    continue;
                }
            };
            next = next.max(entry.revision + 1);
            if entry.operation != async_nats::jetstream::kv::Operation::Put {
                continue;
            }
            let Some(record) = parse(&entry.key, &entry.value) else {
                continue;
            };
            let revoked = record.revoked.then(|| record.id.clone());
            store.learn(record);
            if let Some(id) = revoked {
                // No receivers (no live session here) is fine.
                let _ = revocations.send(id);
            }
        }
    }))
}
