//! The replica a sync engine keeps live: the typed plan, the file it shares with every other
//! program that has it open, and its conflict index, updated incrementally from each
//! [`ChangeSet`].

use std::path::{Path, PathBuf};

use arxos_doc::conflict::{ConflictIndex, LocalSide};
use arxos_doc::file::PlanFile;
use arxos_doc::{ChangeKind, ChangeSet, Command, DocError, Document, EditContext};

use super::ClientError;

/// Where a change came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeOrigin {
    /// A command issued through this client.
    Local,
    /// The relay (another member of the session).
    Remote,
    /// Another program on this machine wrote the plan file (the editor, a CLI command).
    File,
}

/// The plan, its file and its conflicts.
pub(crate) struct Live {
    pub(crate) doc: Document,
    pub(crate) conflicts: ConflictIndex,
    path: PathBuf,
    /// `None` until an empty replica (a clone) has received a plan and been written once.
    file: Option<PlanFile>,
    /// Changes made in memory (commands, sync) not yet in the file.
    unsaved: bool,
}

impl Live {
    /// Opens the plan at `path`; when it does not exist and `allow_missing`, starts an empty
    /// replica that is written once sync has filled it.
    pub(crate) fn open(path: &Path, allow_missing: bool) -> Result<Self, ClientError> {
        let (file, mut doc) = if path.exists() {
            let (file, doc) = PlanFile::open(path)?;
            (Some(file), doc)
        } else if allow_missing {
            (None, Document::new_replica())
        } else {
            return Err(ClientError::Invalid(format!(
                "{} does not exist",
                path.display()
            )));
        };
        let conflicts = ConflictIndex::scan(&mut doc, LocalSide::Winner);
        Ok(Self {
            doc,
            conflicts,
            path: path.to_owned(),
            file,
            unsaved: false,
        })
    }

    /// The plan file's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Open conflicts, counted as `arxos conflicts list` counts them.
    pub(crate) fn conflict_count(&self) -> usize {
        self.conflicts.open_count(&self.doc)
    }

    /// Applies local commands as one change.
    pub(crate) fn apply(
        &mut self,
        ctx: &EditContext,
        summary: &str,
        kind: ChangeKind,
        cmds: Vec<Command>,
    ) -> Result<ChangeSet, DocError> {
        let mut set = self.doc.apply_batch_as(ctx, kind, summary, cmds)?;
        if !set.is_empty() {
            set.authors.insert(ctx.author.clone());
            self.changed(&set);
        }
        Ok(set)
    }

    /// Records that `set` arrived (by sync or from the file): conflicts re-checked, file due.
    pub(crate) fn changed(&mut self, set: &ChangeSet) {
        self.conflicts.update(&mut self.doc, set);
        self.unsaved = true;
    }

    /// The file's digest when it holds exactly this replica: nothing unsaved, nothing written
    /// by others since.
    pub(crate) fn saved_digest(&self) -> Result<Option<arxos_doc::file::FileDigest>, DocError> {
        match &self.file {
            Some(file) if !self.unsaved => file.digest_if_current(),
            _ => Ok(None),
        }
    }

    /// Whether a write or a read of the file is due.
    pub(crate) fn disk_due(&self) -> bool {
        self.unsaved || self.file.as_ref().is_some_and(PlanFile::changed_on_disk)
    }

    /// Writes what the file lacks and merges what other programs wrote to it; returns what
    /// their changes changed here, or `None` when nothing of theirs arrived.
    pub(crate) fn sync_disk(&mut self) -> Result<Option<ChangeSet>, DocError> {
        let before = self.doc.heads();
        let merged = match &mut self.file {
            Some(file) => {
                let merged = if self.unsaved {
                    file.sync(&mut self.doc)?.1
                } else {
                    file.refresh(&mut self.doc)?
                };
                self.unsaved = false;
                merged
            }
            None if self.doc.is_plan() => {
                if self.path.exists() {
                    // Someone made the file meanwhile: take it in rather than replace it.
                    let (mut file, mut theirs) = PlanFile::open(&self.path)?;
                    let merged = self.doc.merge(&mut theirs)?;
                    file.save(&mut self.doc)?;
                    self.file = Some(file);
                    self.unsaved = false;
                    merged
                } else {
                    self.file = Some(PlanFile::create(&self.path, &mut self.doc)?);
                    self.unsaved = false;
                    ChangeSet::default()
                }
            }
            // Nothing to write yet: an empty replica, or not a plan (reported by the caller).
            None => ChangeSet::default(),
        };
        if self.doc.heads() == before {
            return Ok(None);
        }
        self.conflicts.update(&mut self.doc, &merged);
        Ok(Some(merged))
    }

    /// Replaces the replica (after setting refused changes aside) and rewrites the file.
    pub(crate) fn replace(&mut self, doc: Document) -> Result<(), DocError> {
        self.doc = doc;
        self.conflicts = ConflictIndex::scan(&mut self.doc, LocalSide::Winner);
        match &mut self.file {
            Some(file) => file.save_full(&mut self.doc)?,
            None => self.file = Some(PlanFile::create(&self.path, &mut self.doc)?),
        }
        self.unsaved = false;
        Ok(())
    }
}
