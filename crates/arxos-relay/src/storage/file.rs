//! The file-system storage: one folder per room with `snapshot.am` and an append-only
//! `changes.log` of length- and checksum-framed change chunks.
//!
//! Appends are `fdatasync`ed before returning. A torn final record (crash mid-write of an
//! append that was never acknowledged) is detected by its length or checksum and cut off when
//! the room loads, with a warning, its bytes kept in `changes.log.torn`: left in place, the
//! next append would land behind it and be unreadable after the following restart. A bad
//! record with more after it is not a torn write but damage: the room is refused, files
//! untouched.
//! Compaction writes `snapshot.tmp`, fsyncs, renames over `snapshot.am`, fsyncs the folder
//! and only then truncates the log; a crash in between merely replays duplicate changes,
//! which Automerge ignores. `origins.jsonl` (the invite each accepted change came through) and
//! `refused.log` are append-only and survive compaction.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use arxos_sync::DocumentId;
use sha2::{Digest, Sha256};

use super::{DocStorage, Origin, RoomSettings, StorageError, origins_text, parse_origins};

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
        Ok(Self { root })
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
        let snapshot = dir.join(SNAPSHOT);
        match fs::read(&snapshot) {
            Ok(bytes) => chunks.push(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(&snapshot)(e)),
        }
        chunks.extend(Self::read_log(&dir.join(LOG))?);
        Ok(chunks)
    }

    fn append(&self, doc: DocumentId, changes: &[Vec<u8>]) -> Result<(), StorageError> {
        if changes.is_empty() {
            return Ok(());
        }
        let dir = self.room_dir(doc);
        let path = dir.join(LOG);
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
        let log = dir.join(LOG);
        match OpenOptions::new().write(true).open(&log) {
            Ok(file) => {
                file.set_len(0).map_err(io_err(&log))?;
                file.sync_all().map_err(io_err(&log))?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(&log)(e)),
        }
        Ok(())
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
    match fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(path)(e)),
    }
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
}
