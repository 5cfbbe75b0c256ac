//! Drawn plans kept between runs ([`SceneCache`]): the editor's first frame of a large plan,
//! keyed by the SHA-256 of the plan file's bytes and by what drew it.
//!
//! Opening a 50,000-element plan means loading its CRDT (about a second here) before anything
//! can be drawn. A picture stored under the file's digest shows that very plan at once: any
//! write by any program changes the digest, so a stale picture is never found, only missed.
//! Entries are written atomically (temporary file, rename) and checked on read (a checksum
//! trailer), so a crash or a damaged cache costs a slow open, never a wrong picture. The
//! folder is bounded: the oldest entries go first.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use arxos_doc::file::FileDigest;

use crate::scene::{Scene, SnapshotInfo, fingerprint};
use crate::theme::Theme;

/// Entries kept at most (plans opened recently).
const MAX_ENTRIES: usize = 16;
/// Bytes kept at most, all entries together.
const MAX_BYTES: u64 = 2 << 30;
const EXT: &str = "scene";

/// A folder of drawn plans.
#[derive(Clone, Debug)]
pub struct SceneCache {
    dir: PathBuf,
}

impl SceneCache {
    /// The cache in `dir` (made when first written).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path_for(&self, digest: &FileDigest, theme: &Theme) -> PathBuf {
        let fp = fingerprint(theme);
        let short = FileDigest(fp).to_string()[..12].to_owned();
        self.dir.join(format!("{digest}-{short}.{EXT}"))
    }

    /// Whether a picture of the file with this digest, drawn with `theme`, is kept.
    pub fn contains(&self, digest: &FileDigest, theme: &Theme) -> bool {
        self.path_for(digest, theme).is_file()
    }

    /// The picture of the file with this digest, if one is kept and sound. A damaged entry is
    /// removed (and logged) and counts as a miss.
    pub fn load(&self, digest: &FileDigest, theme: &Theme) -> Option<Scene> {
        let path = self.path_for(digest, theme);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => {
                tracing::warn!(path = %path.display(), "cannot read the cached drawing: {e}");
                return None;
            }
        };
        match Scene::from_snapshot(&bytes, theme.clone()) {
            Ok(scene) => {
                // Recently used entries are the last to be evicted.
                if let Ok(f) = fs::File::options().append(true).open(&path) {
                    let _ = f.set_modified(SystemTime::now());
                }
                Some(scene)
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), "{e}; removing it");
                let _ = fs::remove_file(&path);
                None
            }
        }
    }

    /// Keeps `scene` as the picture of the file with this digest, then trims the folder.
    pub fn store(
        &self,
        digest: &FileDigest,
        scene: &Scene,
        info: &SnapshotInfo,
    ) -> std::io::Result<()> {
        fs::create_dir_all(&self.dir)?;
        let bytes = scene.to_snapshot(info);
        let mut tmp = tempfile::NamedTempFile::new_in(&self.dir)?;
        std::io::Write::write_all(&mut tmp, &bytes)?;
        tmp.persist(self.path_for(digest, scene.theme()))
            .map_err(|e| e.error)?;
        self.trim();
        Ok(())
    }

    /// Removes the oldest entries beyond the limits.
    fn trim(&self) {
        let Ok(read) = fs::read_dir(&self.dir) else {
            return;
        };
        let mut entries: Vec<(SystemTime, u64, PathBuf)> = read
            .filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == EXT))
            .filter_map(|e| {
                let m = e.metadata().ok()?;
                Some((m.modified().ok()?, m.len(), e.path()))
            })
            .collect();
        entries.sort_by_key(|e| std::cmp::Reverse(e.0));
        let mut total = 0;
        for (i, (_, len, path)) in entries.iter().enumerate() {
            total += len;
            if i >= MAX_ENTRIES || total > MAX_BYTES {
                let _ = fs::remove_file(path);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arxos_doc::EditContext;

    #[test]
    fn a_picture_is_found_by_its_digest_and_a_damaged_one_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let cache = SceneCache::new(dir.path().join("scenes"));
        let doc = arxos_doc::generate::sample_office(&EditContext::at("t", 0)).unwrap();
        let scene = Scene::from_document(&doc, Theme::light()).unwrap();
        let digest = FileDigest::of(b"plan bytes");
        assert!(
            cache.load(&digest, &Theme::light()).is_none(),
            "nothing kept yet"
        );
        cache
            .store(&digest, &scene, &SnapshotInfo::of(&doc))
            .unwrap();
        assert!(cache.contains(&digest, &Theme::light()));
        let back = cache.load(&digest, &Theme::light()).unwrap();
        assert!(back.is_snapshot());
        assert_eq!(back.chunks().count(), scene.chunks().count());
        assert!(
            cache
                .load(&FileDigest::of(b"other bytes"), &Theme::light())
                .is_none()
        );

        let path = cache.path_for(&digest, &Theme::light());
        let mut bytes = fs::read(&path).unwrap();
        bytes.truncate(bytes.len() / 2);
        fs::write(&path, bytes).unwrap();
        assert!(
            cache.load(&digest, &Theme::light()).is_none(),
            "torn entry refused"
        );
        assert!(!path.exists(), "and removed");
    }

    #[test]
    fn the_folder_keeps_only_the_newest_entries() {
        let dir = tempfile::tempdir().unwrap();
        let cache = SceneCache::new(dir.path());
        let doc = arxos_doc::Document::new_plan("small", &EditContext::at("t", 0)).unwrap();
        let scene = Scene::from_document(&doc, Theme::light()).unwrap();
        let digests: Vec<FileDigest> = (0..MAX_ENTRIES + 3)
            .map(|i| FileDigest::of(format!("plan {i}").as_bytes()))
            .collect();
        for (i, d) in digests.iter().enumerate() {
            cache.store(d, &scene, &SnapshotInfo::of(&doc)).unwrap();
            // Distinct, increasing times whatever the file system's resolution.
            let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000 + i as u64);
            fs::File::options()
                .append(true)
                .open(cache.path_for(d, &Theme::light()))
                .unwrap()
                .set_modified(t)
                .unwrap();
        }
        cache.trim();
        let kept: Vec<bool> = digests
            .iter()
            .map(|d| cache.contains(d, &Theme::light()))
            .collect();
        assert_eq!(kept.iter().filter(|k| **k).count(), MAX_ENTRIES);
        assert!(kept[MAX_ENTRIES + 2] && !kept[0] && !kept[2] && kept[3]);
    }
}
