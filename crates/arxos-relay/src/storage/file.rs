//! The file-system storage: one folder per room with `snapshot.am` and an append-only log of
//! length- and checksum-framed change chunks, in segments: `changes.log` (segment 0), then
//! `changes.<n>.log`. Appends go to the newest segment.
//!
//! Appends are `fdatasync`ed before returning. A torn final record (crash mid-write of an
//! append that was never acknowledged) is detected by its length or checksum and cut off when
//! the room loads, with a warning, its bytes kept in `changes.log.torn`: left in place, the
//! next append would land behind it and be unreadable after the following restart. A bad
//! record with more after it is not a torn write but damage: the room is refused, files
//! untouched.
//! Compaction writes `snapshot.tmp`, fsyncs, renames over `snapshot.am`, fsyncs the folder
//! and only then removes the segments the snapshot covers; a crash in between merely replays
//! duplicate changes, which Automerge ignores. Background compaction ([`DocStorage::seal`],
//! then [`DocStorage::compact_sealed`]) folds the sealed segments into the snapshot on its own
//! thread while appends go on in a newer segment. `origins.jsonl` (the invite each accepted
//! change came through) and `refused.log` are append-only and survive compaction.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use arxos_sync::DocumentId;
use sha2::{Digest, Sha256};

use super::{DocStorage, Origin, RoomSettings, Sealed, StorageError, origins_text, parse_origins};

const SNAPSHOT: &str = "snapshot.am";
const LOG: &str = "changes.log";
const SETTINGS: &str = "room.json";
const REFUSED: &str = "refused.log";
/// One JSON line per accepted change: the invite it came through.
const ORIGINS: &str = "origins.jsonl";
/// Where cut-off torn tails are kept (appended), for whoever wants to look at them.
const TORN: &str = "changes.log.torn";

/// Rooms stored under `<data>/rooms/<document id>/`.
pub struct FileStorage {
    root: PathBuf,
    /// The segment each room appends to, once known (found on disk at its first use).
    active: Mutex<HashMap<DocumentId, u64>>,
}

/// The file of log segment `n`.
fn segment_path(dir: &Path, n: u64) -> PathBuf {
    if n == 0 {
        dir.join(LOG)
    } else {
        dir.join(format!("changes.{n}.log"))
    }
}

/// The log segments in a room's folder, oldest first.
fn segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>, StorageError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err(dir)(e)),
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io_err(dir))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let n = if name == LOG {
            Some(0)
        } else {
            name.strip_prefix("changes.")
                .and_then(|r| r.strip_suffix(".log"))
                .and_then(|n| n.parse::<u64>().ok())
                .filter(|n| *n > 0)
        };
        if let Some(n) = n {
            found.push((n, entry.path()));
        }
    }
    found.sort();
    Ok(found)
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StorageError + '_ {
    move |source| StorageError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn checksum(bytes: &[u8]) -> [u8; 4] {
    let digest = Sha256::digest(bytes);
    [digest[0], digest[1], digest[2], digest[3]]
}

/// Fsyncs a folder so a rename or a new file inside it is durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), StorageError> {
    File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(io_err(dir))
}

/// Writes `bytes` to `path` atomically: temp file, fsync, rename, fsync the folder.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StorageError> {
    let tmp = path.with_extension("tmp");
    {
        let mut file = File::create(&tmp).map_err(io_err(&tmp))?;
        file.write_all(bytes).map_err(io_err(&tmp))?;
        file.sync_all().map_err(io_err(&tmp))?;
    }
    fs::rename(&tmp, path).map_err(io_err(path))?;
    if let Some(parent) = path.parent() {
        sync_dir(parent)?;
    }
    Ok(())
}

impl FileStorage {
    /// Opens (creating if needed) storage under `data_dir/rooms`.
    pub fn open(data_dir: &Path) -> Result<Self, StorageError> {
        let root = data_dir.join("rooms");
        fs::create_dir_all(&root).map_err(io_err(&root))?;
        Ok(Self {
            root,
            active: Mutex::default(),
        })
    }

    fn active(&self) -> std::sync::MutexGuard<'_, HashMap<DocumentId, u64>> {
        self.active.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The segment appends go to: the newest on disk, unless a seal moved past it.
    fn active_segment(&self, doc: DocumentId) -> Result<u64, StorageError> {
        if let Some(n) = self.active().get(&doc) {
            return Ok(*n);
        }
        let newest = segments(&self.room_dir(doc))?.last().map_or(0, |(n, _)| *n);
        Ok(*self.active().entry(doc).or_insert(newest))
    }

    /// Removes the segments up to `upto` (every one with `None`) once a durable snapshot
    /// covers them.
    fn remove_segments(dir: &Path, upto: Option<u64>) -> Result<(), StorageError> {
        for (n, path) in segments(dir)? {
            if upto.is_none_or(|upto| n <= upto) {
                fs::remove_file(&path).map_err(io_err(&path))?;
            }
        }
        sync_dir(dir)
    }

    fn room_dir(&self, doc: DocumentId) -> PathBuf {
        self.root.join(doc.to_string())
    }

    /// Parses the framed log. A torn final record is cut off (kept in [`TORN`]); a corrupt
    /// record followed by more is an error.
    fn read_log(path: &Path) -> Result<Vec<Vec<u8>>, StorageError> {
        let mut bytes = Vec::new();
        match File::open(path) {
            Ok(mut f) => {
                f.read_to_end(&mut bytes).map_err(io_err(path))?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err(path)(e)),
        }
        let mut records = Vec::new();
        let mut at = 0;
        while at < bytes.len() {
            let rest = &bytes[at..];
            let Some(header) = rest.get(..8) else {
                break; // a torn header
            };
            let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
            let Some(body) = rest.get(8..8 + len) else {
                break; // a torn body
            };
            if checksum(body) != header[4..8] {
                if rest.len() == 8 + len {
                    break; // the last record, half written
                }
                return Err(StorageError::Corrupt {
                    path: path.display().to_string(),
                    reason: format!(
                        "the record at byte {at} fails its checksum and {} bytes follow it",
                        rest.len() - 8 - len
                    ),
                });
            }
            records.push(body.to_vec());
            at += 8 + len;
        }
        if at < bytes.len() {
            Self::cut_torn_tail(path, &bytes[at..], at)?;
        }
        Ok(records)
    }

    /// Moves a torn tail from the log to [`TORN`] beside it.
    fn cut_torn_tail(path: &Path, tail: &[u8], keep: usize) -> Result<(), StorageError> {
        let torn = path.with_file_name(TORN);
        let mut out = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&torn)
            .map_err(io_err(&torn))?;
        out.write_all(tail).map_err(io_err(&torn))?;
        out.sync_data().map_err(io_err(&torn))?;
        let log = OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(io_err(path))?;
        log.set_len(keep as u64).map_err(io_err(path))?;
        log.sync_data().map_err(io_err(path))?;
        tracing::warn!(
            path = %path.display(),
            bytes = tail.len(),
            kept_in = %torn.display(),
            "cut off a torn final log record (an append that was never acknowledged)"
        );
        Ok(())
    }
}

impl DocStorage for FileStorage {
    fn create_room(&self, doc: DocumentId, settings: &RoomSettings) -> Result<(), StorageError> {
        let dir = self.room_dir(doc);
        if dir.join(SETTINGS).exists() {
            return Err(StorageError::RoomExists(doc));
        }
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let json = serde_json::to_vec_pretty(settings).map_err(|e| StorageError::Corrupt {
            path: dir.display().to_string(),
            reason: e.to_string(),
        })?;
        write_atomic(&dir.join(SETTINGS), &json)?;
        sync_dir(&self.root)
    }

    fn room_settings(&self, doc: DocumentId) -> Result<Option<RoomSettings>, StorageError> {
        let path = self.room_dir(doc).join(SETTINGS);
        match fs::read(&path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes)
                    .map(Some)
                    .map_err(|e| StorageError::Corrupt {
                        path: path.display().to_string(),
                        reason: e.to_string(),
                    })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err(&path)(e)),
        }
    }

    fn list_rooms(&self) -> Result<Vec<DocumentId>, StorageError> {
        let mut rooms = Vec::new();
        for entry in fs::read_dir(&self.root).map_err(io_err(&self.root))? {
            let entry = entry.map_err(io_err(&self.root))?;
            if let Some(id) = entry
                .file_name()
                .to_str()
                .and_then(|n| DocumentId::parse(n).ok())
                && entry.path().join(SETTINGS).exists()
            {
                rooms.push(id);
            }
        }
        rooms.sort();
        Ok(rooms)
    }

    fn load(&self, doc: DocumentId) -> Result<Vec<Vec<u8>>, StorageError> {
        let dir = self.room_dir(doc);
        let mut chunks = Vec::new();
        chunks.extend(read_bytes_if_there(&dir.join(SNAPSHOT))?);
        for (_, segment) in segments(&dir)? {
            chunks.extend(Self::read_log(&segment)?);
        }
        Ok(chunks)
    }

    fn append(&self, doc: DocumentId, changes: &[Vec<u8>]) -> Result<(), StorageError> {
        if changes.is_empty() {
            return Ok(());
        }
        let dir = self.room_dir(doc);
        let path = segment_path(&dir, self.active_segment(doc)?);
        let existed = path.exists();
        let mut buf = Vec::with_capacity(changes.iter().map(|c| c.len() + 8).sum());
        for change in changes {
            let len = u32::try_from(change.len()).map_err(|_| StorageError::Corrupt {
                path: path.display().to_string(),
                reason: "change larger than 4 GiB".into(),
            })?;
            buf.extend_from_slice(&len.to_le_bytes());
            buf.extend_from_slice(&checksum(change));
            buf.extend_from_slice(change);
        }
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io_err(&path))?;
        file.write_all(&buf).map_err(io_err(&path))?;
        file.sync_data().map_err(io_err(&path))?;
        if !existed {
            sync_dir(&dir)?;
        }
        Ok(())
    }

    fn record_refused(
        &self,
        doc: DocumentId,
        refused: &[(String, String)],
    ) -> Result<(), StorageError> {
        let path = self.room_dir(doc).join(REFUSED);
        let mut text = String::new();
        for (hash, reason) in refused {
            text.push_str(hash);
            text.push('\t');
            text.push_str(&reason.replace(['\n', '\t'], " "));
            text.push('\n');
        }
        append_synced(&path, &text)
    }

    fn load_refused(&self, doc: DocumentId) -> Result<Vec<(String, String)>, StorageError> {
        let path = self.room_dir(doc).join(REFUSED);
        Ok(read_if_there(&path)?
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_once('\t'))
            .map(|(h, r)| (h.to_owned(), r.to_owned()))
            .collect())
    }

    fn record_origins(&self, doc: DocumentId, origins: &[Origin]) -> Result<(), StorageError> {
        let path = self.room_dir(doc).join(ORIGINS);
        let text = origins_text(origins);
        append_synced(&path, &text)
    }

    fn load_origins(&self, doc: DocumentId) -> Result<Vec<Origin>, StorageError> {
        let path = self.room_dir(doc).join(ORIGINS);
        let text = read_if_there(&path)?.unwrap_or_default();
        Ok(parse_origins(&text, &path.display().to_string()))
    }

    fn compact(&self, doc: DocumentId, snapshot: &[u8]) -> Result<(), StorageError> {
        let dir = self.room_dir(doc);
        write_atomic(&dir.join(SNAPSHOT), snapshot)?;
        Self::remove_segments(&dir, None)
    }

    fn seal(&self, doc: DocumentId) -> Result<Sealed, StorageError> {
        let n = self.active_segment(doc)?;
        self.active().insert(doc, n + 1);
        Ok(Sealed(n))
    }

    fn compact_sealed(&self, doc: DocumentId, sealed: Sealed) -> Result<(), StorageError> {
        let dir = self.room_dir(doc);
        let corrupt = |path: &Path, err: automerge::AutomergeError| StorageError::Corrupt {
            path: path.display().to_string(),
            reason: err.to_string(),
        };
        let mut folded = automerge::Automerge::new();
        let snapshot = dir.join(SNAPSHOT);
        if let Some(bytes) = read_bytes_if_there(&snapshot)? {
            folded
                .load_incremental(&bytes)
                .map_err(|e| corrupt(&snapshot, e))?;
        }
        for (n, segment) in segments(&dir)? {
            if n > sealed.0 {
                break;
            }
            for record in Self::read_log(&segment)? {
                folded
                    .load_incremental(&record)
                    .map_err(|e| corrupt(&segment, e))?;
            }
        }
        write_atomic(&snapshot, &folded.save())?;
        Self::remove_segments(&dir, Some(sealed.0))
    }
}

/// A file's bytes, or `None` when it does not exist.
fn read_bytes_if_there(path: &Path) -> Result<Option<Vec<u8>>, StorageError> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(path)(e)),
    }
}

/// Appends `text` to the file at `path` (made if missing) and syncs it: durable on return.
fn append_synced(path: &Path, text: &str) -> Result<(), StorageError> {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io_err(path))?;
    file.write_all(text.as_bytes()).map_err(io_err(path))?;
    file.sync_data().map_err(io_err(path))
}

/// The text of the file at `path`, or `None` when there is none.
fn read_if_there(path: &Path) -> Result<Option<String>, StorageError> {
    read_bytes_if_there(path)?
        .map(|bytes| {
            String::from_utf8(bytes).map_err(|e| StorageError::Corrupt {
                path: path.display().to_string(),
                reason: e.to_string(),
            })
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::transaction::Transactable;
    use automerge::{AutoCommit, ReadDoc};

    fn change_bytes(doc: &mut AutoCommit, key: &str) -> Vec<u8> {
        doc.put(automerge::ROOT, key, 1_i64).unwrap();
        doc.commit();
        doc.get_last_local_change().unwrap().raw_bytes().to_vec()
    }

    fn replay(chunks: &[Vec<u8>]) -> AutoCommit {
        let mut doc = AutoCommit::new();
        for chunk in chunks {
            doc.load_incremental(chunk).unwrap();
        }
        doc
    }

    #[test]
    fn append_load_compact_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let storage = FileStorage::open(dir.path()).unwrap();
        let id = DocumentId::random();
        storage.create_room(id, &RoomSettings::default()).unwrap();
        assert!(matches!(
            storage.create_room(id, &RoomSettings::default()),
            Err(StorageError::RoomExists(_))
        ));
        assert_eq!(storage.list_rooms().unwrap(), vec![id]);
        let mut doc = AutoCommit::new();
        let a = change_bytes(&mut doc, "a");
        let b = change_bytes(&mut doc, "b");
        storage.append(id, &[a]).unwrap();
        storage.append(id, &[b]).unwrap();
        let loaded = replay(&storage.load(id).unwrap());
        assert!(loaded.get(automerge::ROOT, "b").unwrap().is_some());

        storage.compact(id, &doc.save()).unwrap();
        let c = change_bytes(&mut doc, "c");
        storage.append(id, &[c]).unwrap();
        let chunks = storage.load(id).unwrap();
        assert_eq!(chunks.len(), 2, "snapshot + one appended change");
        let mut loaded = replay(&chunks);
        assert_eq!(loaded.get_heads(), doc.get_heads());

        assert!(storage.load_refused(id).unwrap().is_empty());
        storage
            .record_refused(id, &[("ab".into(), "viewers\tmay not".into())])
            .unwrap();
        assert_eq!(
            storage.load_refused(id).unwrap(),
            vec![("ab".to_owned(), "viewers may not".to_owned())]
        );
    }

    /// Storage in a temporary folder with one room, and that room's log path.
    fn one_room() -> (tempfile::TempDir, FileStorage, DocumentId, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let storage = FileStorage::open(dir.path()).unwrap();
        let id = DocumentId::random();
        storage.create_room(id, &RoomSettings::default()).unwrap();
        let log = dir.path().join("rooms").join(id.to_string()).join(LOG);
        (dir, storage, id, log)
    }

    #[test]
    fn a_torn_tail_is_cut_off_so_later_appends_survive_the_next_restart() {
        let (_dir, storage, id, log) = one_room();
        let mut doc = AutoCommit::new();
        let a = change_bytes(&mut doc, "a");
        storage.append(id, &[a]).unwrap();
        let mut f = OpenOptions::new().append(true).open(&log).unwrap();
        f.write_all(&[200, 0, 0, 0, 1, 2, 3, 4, 9, 9]).unwrap();
        let chunks = storage.load(id).unwrap();
        assert_eq!(chunks.len(), 1);
        assert!(replay(&chunks).get(automerge::ROOT, "a").unwrap().is_some());
        let torn = log.with_file_name(TORN);
        assert_eq!(fs::read(&torn).unwrap(), [200, 0, 0, 0, 1, 2, 3, 4, 9, 9]);

        // What is appended after the restart is read back after the next one.
        let b = change_bytes(&mut doc, "b");
        storage.append(id, &[b]).unwrap();
        let chunks = storage.load(id).unwrap();
        assert_eq!(chunks.len(), 2);
        assert!(replay(&chunks).get(automerge::ROOT, "b").unwrap().is_some());
    }

    #[test]
    fn a_bad_record_in_the_middle_of_the_log_refuses_the_room_and_leaves_the_file() {
        let (_dir, storage, id, log) = one_room();
        let mut doc = AutoCommit::new();
        let a = change_bytes(&mut doc, "a");
        let b = change_bytes(&mut doc, "b");
        storage.append(id, &[a, b]).unwrap();
        let mut bytes = fs::read(&log).unwrap();
        bytes[10] ^= 0xff; // inside the first record's body
        fs::write(&log, &bytes).unwrap();
        let err = storage.load(id).unwrap_err().to_string();
        assert!(err.contains("checksum"), "{err}");
        assert_eq!(
            fs::read(&log).unwrap(),
            bytes,
            "the damaged log is left as it was"
        );
    }

    #[test]
    fn appends_after_a_seal_go_on_while_the_sealed_log_is_folded_into_the_snapshot() {
        let (dir, storage, id, log) = one_room();
        let room = log.parent().unwrap().to_owned();
        let mut doc = AutoCommit::new();
        let a = change_bytes(&mut doc, "a");
        let b = change_bytes(&mut doc, "b");
        storage.append(id, &[a, b]).unwrap();
        let sealed = storage.seal(id).unwrap();
        assert_eq!(sealed, Sealed(0));
        // Appended after the seal (while the compaction would run): a new segment.
        let c = change_bytes(&mut doc, "c");
        storage.append(id, &[c]).unwrap();
        assert!(room.join("changes.1.log").exists());
        storage.compact_sealed(id, sealed).unwrap();
        assert!(!log.exists(), "the folded segment is gone");
        let chunks = storage.load(id).unwrap();
        assert_eq!(
            chunks.len(),
            2,
            "the snapshot and the change appended after the seal"
        );
        let mut loaded = replay(&chunks);
        assert_eq!(loaded.get_heads(), doc.get_heads());

        // After a restart, appends go on in the newest segment; a second fold covers it.
        let storage = FileStorage::open(dir.path()).unwrap();
        let d = change_bytes(&mut doc, "d");
        storage.append(id, &[d]).unwrap();
        assert_eq!(segments(&room).unwrap().len(), 1, "still segment 1");
        let sealed = storage.seal(id).unwrap();
        assert_eq!(sealed, Sealed(1));
        storage.compact_sealed(id, sealed).unwrap();
        assert!(segments(&room).unwrap().is_empty());
        let mut loaded = replay(&storage.load(id).unwrap());
        assert_eq!(loaded.get_heads(), doc.get_heads());

        // A full compaction removes every segment, and appends start again.
        let e = change_bytes(&mut doc, "e");
        storage.append(id, &[e]).unwrap();
        storage.compact(id, &doc.save()).unwrap();
        assert!(segments(&room).unwrap().is_empty());
        let f = change_bytes(&mut doc, "f");
        storage.append(id, &[f]).unwrap();
        let mut loaded = replay(&storage.load(id).unwrap());
        assert_eq!(loaded.get_heads(), doc.get_heads());
    }

    #[test]
    fn a_fold_interrupted_before_its_segments_are_removed_loads_the_same() {
        let (_dir, storage, id, log) = one_room();
        let mut doc = AutoCommit::new();
        let a = change_bytes(&mut doc, "a");
        storage.append(id, &[a]).unwrap();
        // The snapshot is written, then the process dies before removing the segment.
        write_atomic(&log.with_file_name(SNAPSHOT), &doc.save()).unwrap();
        let mut loaded = replay(&storage.load(id).unwrap());
        assert_eq!(loaded.get_heads(), doc.get_heads());
        let sealed = storage.seal(id).unwrap();
        storage.compact_sealed(id, sealed).unwrap();
        let mut loaded = replay(&storage.load(id).unwrap());
        assert_eq!(loaded.get_heads(), doc.get_heads());
    }

    #[test]
    fn a_sealed_segment_that_does_not_load_fails_the_fold_and_is_kept() {
        let (_dir, storage, id, log) = one_room();
        // Framed correctly, but not an Automerge change.
        storage.append(id, &[b"not a change".to_vec()]).unwrap();
        let sealed = storage.seal(id).unwrap();
        let err = storage.compact_sealed(id, sealed).unwrap_err().to_string();
        assert!(err.contains("corrupt storage"), "{err}");
        assert!(log.exists(), "nothing is removed when the fold fails");
        assert!(!log.with_file_name(SNAPSHOT).exists());
    }
}
