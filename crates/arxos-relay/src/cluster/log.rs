//! [`DocStorage`] on JetStream: room settings in the `arxos-rooms` bucket, each room's changes
//! on its subject of the `ARXOS_ROOMS` stream, its refusals on another.
//!
//! A change message is a run of length-framed changes (`u32` little-endian length, then the
//! change), stamped with the publishing node in the [`NODE_HEADER`] header. A batch becomes as
//! many messages as the server's largest payload requires; `append` returns only once
//! JetStream acknowledged every one of them, so what the room then reveals is durable (on
//! every replica of the stream). A message that does not parse is logged with its sequence
//! number and skipped: it holds nothing a node ever acknowledged.

use std::sync::Arc;

use arxos_sync::DocumentId;
use async_nats::jetstream::consumer::{DeliverPolicy, pull::OrderedConfig};
use async_nats::jetstream::stream::LastRawMessageErrorKind;
use bytes::Bytes;
use futures_util::StreamExt;

use super::{Cluster, NODE_HEADER, changes_subject, origins_subject, refused_subject};
use crate::storage::{DocStorage, Origin, RoomSettings, Sealed, StorageError};

/// The cluster's durable storage.
pub(crate) struct JetStreamStorage {
    pub(crate) cluster: Arc<Cluster>,
}

/// Room settings keys are document ids as they print (base58: valid KV keys).
fn room_key(doc: DocumentId) -> String {
    doc.to_string()
}

/// Frames changes into payloads of at most `max` bytes each. A change that alone exceeds
/// `max` cannot be published: the error names both sizes.
pub(crate) fn frame(changes: &[Vec<u8>], max: usize) -> Result<Vec<Vec<u8>>, String> {
    let mut out = Vec::new();
    let mut current: Vec<u8> = Vec::new();
    for change in changes {
        let len = u32::try_from(change.len()).map_err(|_| "a change larger than 4 GiB")?;
        let framed = change.len() + 4;
        if framed > max {
            return Err(format!(
                "a change of {} bytes exceeds the NATS server's largest message ({max} bytes); raise max_payload on the NATS servers",
                change.len()
            ));
        }
        if !current.is_empty() && current.len() + framed > max {
            out.push(std::mem::take(&mut current));
        }
        current.extend_from_slice(&len.to_le_bytes());
        current.extend_from_slice(change);
    }
    if !current.is_empty() {
        out.push(current);
    }
    Ok(out)
}

/// The changes in a payload made by [`frame`]; `None` when it is not one.
pub(crate) fn unframe(mut payload: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    while !payload.is_empty() {
        let (len, rest) = payload.split_first_chunk::<4>()?;
        let len = u32::from_le_bytes(*len) as usize;
        let body = rest.get(..len)?;
        out.push(body.to_vec());
        payload = &rest[len..];
    }
    (!out.is_empty()).then_some(out)
}

impl JetStreamStorage {
    /// Every message on `subject` up to the last one there now, as `(sequence, payload)`.
    async fn read_subject(&self, subject: &str) -> Result<Vec<(u64, Bytes)>, String> {
        let stream = &self.cluster.stream;
        let last = super::retrying("reading the log's end", || async {
            match stream.get_last_raw_message_by_subject(subject).await {
                Ok(message) => Ok(Some(message.sequence)),
                Err(e) if e.kind() == LastRawMessageErrorKind::NoMessageFound => Ok(None),
                Err(e) => Err(e.to_string()),
            }
        })
        .await?;
        let Some(last) = last else {
            return Ok(Vec::new());
        };
        let mut messages = super::retrying("reading the log", || async {
            let consumer = stream
                .create_consumer(OrderedConfig {
                    filter_subject: subject.to_owned(),
                    deliver_policy: DeliverPolicy::All,
                    ..OrderedConfig::default()
                })
                .await
                .map_err(|e| e.to_string())?;
            consumer.messages().await.map_err(|e| e.to_string())
        })
        .await?;
        let mut out = Vec::new();
        while let Some(message) = messages.next().await {
            let message = message.map_err(|e| e.to_string())?;
            let seq = message.info().map_err(|e| e.to_string())?.stream_sequence;
            out.push((seq, message.message.payload.clone()));
            if seq >= last {
                return Ok(out);
            }
        }
        Err(format!("the stream ended before sequence {last}"))
    }

    /// Publishes `payloads` on `subject` and waits for JetStream's acknowledgement of each.
    async fn publish(&self, subject: String, payloads: Vec<Vec<u8>>) -> Result<(), String> {
        let mut acks = Vec::with_capacity(payloads.len());
        for payload in payloads {
            let mut headers = async_nats::HeaderMap::new();
            headers.insert(NODE_HEADER, self.cluster.node.as_str());
            // Publishing in order and awaiting the acknowledgements together: one round trip.
            let ack = self
                .cluster
                .js
                .publish_with_headers(subject.clone(), headers, payload.into())
                .await
                .map_err(|e| e.to_string())?;
            acks.push(ack);
        }
        for ack in acks {
            ack.await.map_err(|e| format!("not acknowledged: {e}"))?;
        }
        Ok(())
    }
}

impl DocStorage for JetStreamStorage {
    fn create_room(&self, doc: DocumentId, settings: &RoomSettings) -> Result<(), StorageError> {
        let json = serde_json::to_vec(settings).map_err(|e| StorageError::Corrupt {
            path: format!("room {doc}"),
            reason: e.to_string(),
        })?;
        let created = self.cluster.block_on("creating a room", async {
            match self.cluster.rooms.create(room_key(doc), json.into()).await {
                Ok(_) => Ok(true),
                Err(e) if e.kind() == async_nats::jetstream::kv::CreateErrorKind::AlreadyExists => {
                    Ok(false)
                }
                Err(e) => Err(e.to_string()),
            }
        })?;
        if created {
            Ok(())
        } else {
            Err(StorageError::RoomExists(doc))
        }
    }

    fn room_settings(&self, doc: DocumentId) -> Result<Option<RoomSettings>, StorageError> {
        let value = self.cluster.block_on("reading room settings", async {
            self.cluster
                .rooms
                .get(room_key(doc))
                .await
                .map_err(|e| e.to_string())
        })?;
        value
            .map(|bytes| {
                serde_json::from_slice(&bytes).map_err(|e| StorageError::Corrupt {
                    path: format!("arxos-rooms/{doc}"),
                    reason: e.to_string(),
                })
            })
            .transpose()
    }

    fn list_rooms(&self) -> Result<Vec<DocumentId>, StorageError> {
        let keys = self.cluster.block_on("listing rooms", async {
            let rooms = &self.cluster.rooms;
            let mut keys = super::retrying("listing rooms", || rooms.keys()).await?;
            let mut out = Vec::new();
            while let Some(key) = keys.next().await {
                out.push(key.map_err(|e| e.to_string())?);
            }
            Ok(out)
        })?;
        let mut rooms: Vec<DocumentId> = keys
            .iter()
            .filter_map(|k| DocumentId::parse(k).ok())
            .collect();
        rooms.sort();
        Ok(rooms)
    }

    fn load(&self, doc: DocumentId) -> Result<Vec<Vec<u8>>, StorageError> {
        let messages = self
            .cluster
            .block_on("reading a room's change log", async {
                self.read_subject(&changes_subject(doc)).await
            })?;
        let mut chunks = Vec::new();
        for (seq, payload) in messages {
            if let Some(changes) = unframe(&payload) {
                chunks.extend(changes);
            } else {
                tracing::error!(
                    room = %doc,
                    seq,
                    bytes = payload.len(),
                    "a message in the room's change log is not a framed change batch; skipped"
                );
            }
        }
        Ok(chunks)
    }

    fn append(&self, doc: DocumentId, changes: &[Vec<u8>]) -> Result<(), StorageError> {
        if changes.is_empty() {
            return Ok(());
        }
        let max = self.cluster.client.server_info().max_payload;
        self.cluster
            .block_on("appending changes to JetStream", async {
                let payloads = frame(changes, max)?;
                self.publish(changes_subject(doc), payloads).await
            })
    }

    fn compact(&self, doc: DocumentId, _snapshot: &[u8]) -> Result<(), StorageError> {
        // TODO(#12): snapshots in the object store, then trimming what they cover. Until then
        // the log is kept whole, which is always correct, only slower to load.
        tracing::debug!(room = %doc, "cluster mode keeps the whole change log (no compaction yet)");
        Ok(())
    }

    fn seal(&self, _doc: DocumentId) -> Result<Sealed, StorageError> {
        // Nothing to seal while compaction is not implemented for the stream (see `compact`).
        Ok(Sealed(0))
    }

    fn compact_sealed(&self, doc: DocumentId, _sealed: Sealed) -> Result<(), StorageError> {
        self.compact(doc, &[])
    }

    fn record_refused(
        &self,
        doc: DocumentId,
        refused: &[(String, String)],
    ) -> Result<(), StorageError> {
        let mut text = String::new();
        for (hash, reason) in refused {
            text.push_str(hash);
            text.push('\t');
            text.push_str(&reason.replace(['\n', '\t'], " "));
            text.push('\n');
        }
        self.cluster.block_on("recording refused changes", async {
            self.publish(refused_subject(doc), vec![text.into_bytes()])
                .await
        })
    }

    fn record_origins(&self, doc: DocumentId, origins: &[Origin]) -> Result<(), StorageError> {
        let text = crate::storage::origins_text(origins);
        self.cluster.block_on("recording change origins", async {
            self.publish(origins_subject(doc), vec![text.into_bytes()])
                .await
        })
    }

    fn load_origins(&self, doc: DocumentId) -> Result<Vec<Origin>, StorageError> {
        let subject = origins_subject(doc);
        let messages = self.cluster.block_on("reading change origins", async {
            self.read_subject(&subject).await
        })?;
        Ok(messages
            .iter()
            .flat_map(|(_, payload)| {
                crate::storage::parse_origins(&String::from_utf8_lossy(payload), &subject)
            })
            .collect())
    }

    fn load_refused(&self, doc: DocumentId) -> Result<Vec<(String, String)>, StorageError> {
        let messages = self.cluster.block_on("reading refused changes", async {
            self.read_subject(&refused_subject(doc)).await
        })?;
        Ok(messages
            .iter()
            .flat_map(|(_, payload)| {
                String::from_utf8_lossy(payload)
                    .lines()
                    .filter_map(|l| l.split_once('\t'))
                    .map(|(h, r)| (h.to_owned(), r.to_owned()))
                    .collect::<Vec<_>>()
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_round_trips_and_splits_at_the_largest_message() {
        let changes = vec![vec![1_u8; 10], vec![2; 3], vec![3; 7]];
        let one = frame(&changes, 1024).unwrap();
        assert_eq!(one.len(), 1);
        assert_eq!(unframe(&one[0]).unwrap(), changes);
        let split = frame(&changes, 20).unwrap();
        assert_eq!(split.len(), 2, "14 + 7 bytes do not fit 20");
        let back: Vec<Vec<u8>> = split.iter().flat_map(|p| unframe(p).unwrap()).collect();
        assert_eq!(back, changes);
        let err = frame(&[vec![0; 30]], 20).unwrap_err();
        assert!(
            err.contains("30 bytes") && err.contains("max_payload"),
            "{err}"
        );
        assert!(
            unframe(&[5, 0, 0, 0, 1]).is_none(),
            "a torn frame is refused"
        );
        assert!(unframe(&[]).is_none());
    }
}
