//! A plan file's content digest: the SHA-256 of its bytes, the key under which anything derived
//! from exactly those bytes (the editor's drawn first frame) may be cached and trusted.
//!
//! A file is append-only between compactions and a compaction replaces it, so the digest
//! changes with every write by any program: a cache entry keyed by it can never describe a
//! newer or older plan than the file holds.

use std::fmt;
use std::path::Path;

use sha2::{Digest as _, Sha256};

use super::{FileStamp, Locked, PlanFile};
use crate::error::Result;

/// The SHA-256 of a plan file's bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileDigest(pub [u8; 32]);

impl FileDigest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self(Sha256::digest(bytes).into())
    }
}

impl fmt::Display for FileDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in &self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for FileDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FileDigest({self})")
    }
}

/// The digest of the plan file at `path`, read under a shared lock so that a writer's append is
/// never hashed half-done.
pub fn content_digest(path: &Path) -> Result<FileDigest> {
    let mut locked = Locked::open(path, false)?;
    let bytes = locked.read_from(path, 0)?;
    Ok(FileDigest::of(&bytes))
}

impl PlanFile {
    /// The digest of the file, if it holds exactly what this handle last read or wrote (no
    /// other program wrote it since): then a document whose every change this handle saved
    /// is the plan those bytes hold. `None` when the file moved on or was never written.
    pub fn digest_if_current(&self) -> Result<Option<FileDigest>> {
        let Some(known) = self.stamp else {
            return Ok(None);
        };
        // The shared lock keeps writers out while we hash, so what we hash is what we checked.
        let mut locked = Locked::open(&self.path, false)?;
        if locked.stamp != known {
            return Ok(None);
        }
        let bytes = locked.read_from(&self.path, 0)?;
        let now = FileStamp {
            len: bytes.len() as u64,
            ..locked.stamp
        };
        Ok((now == known).then(|| FileDigest::of(&bytes)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EditContext;
    use crate::command::Command;
    use crate::ids::FloorId;

    fn plan() -> crate::Document {
        crate::Document::new_plan("digest", &EditContext::at("t", 0)).unwrap()
    }

    #[test]
    fn the_digest_is_current_until_another_writer_appends() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.arx");
        let mut doc = plan();
        let mine = PlanFile::create(&path, &mut doc).unwrap();
        let first = mine.digest_if_current().unwrap().unwrap();
        assert_eq!(first, content_digest(&path).unwrap());
        assert_eq!(first, FileDigest::of(&std::fs::read(&path).unwrap()));

        let (mut theirs, mut other) = PlanFile::open(&path).unwrap();
        other
            .apply(
                &EditContext::at("them", 1),
                Command::AddFloor {
                    id: FloorId::new("level-2"),
                    name: "Level 2".into(),
                    elevation_mm: 3_000.0,
                    order: 2,
                },
            )
            .unwrap();
        theirs.save(&mut other).unwrap();
        assert_eq!(mine.digest_if_current().unwrap(), None, "the file moved on");
        let second = theirs.digest_if_current().unwrap().unwrap();
        assert_ne!(second, first);
        assert_eq!(second, content_digest(&path).unwrap());
        assert_eq!(second.to_string().len(), 64);
    }

    #[test]
    fn a_missing_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let err = content_digest(&dir.path().join("gone.arx")).unwrap_err();
        assert!(err.to_string().contains("gone.arx"), "{err}");
    }
}
