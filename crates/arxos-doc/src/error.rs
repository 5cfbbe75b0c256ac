//! The one error type of the document crate.

use std::path::PathBuf;

/// Everything that can go wrong when reading, editing, importing or saving a document.
///
/// Variants are precise so that a UI can point at the offending field and a CLI can print a
/// one-line message that says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum DocError {
    /// No element has this id (or it was deleted).
    #[error("unknown element `{0}`")]
    UnknownElement(String),
    /// No element carries this tag.
    #[error("no element is tagged `{0}`")]
    UnknownTag(String),
    /// Several elements carry this tag (possible after concurrent edits merged).
    #[error("tag `{tag}` is ambiguous: it names {count} elements; use an element id")]
    AmbiguousTag {
        /// The tag that was looked up.
        tag: String,
        /// How many elements carry it.
        count: usize,
    },
    /// A tag is already taken by another element.
    #[error("tag `{0}` is already used by another element")]
    DuplicateTag(String),
    /// A tag is syntactically invalid.
    #[error("invalid tag `{tag}`: {reason}")]
    InvalidTag {
        /// The rejected tag.
        tag: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// No floor has this id.
    #[error("unknown floor `{0}`")]
    UnknownFloor(String),
    /// No layer has this id.
    #[error("unknown layer `{0}`")]
    UnknownLayer(String),
    /// A reference points at an element that does not exist.
    #[error("reference `{name}` of `{element}` points to missing element `{target}`")]
    MissingReference {
        /// The element holding the reference.
        element: String,
        /// The reference name (`host`, `circuit`, ...).
        name: String,
        /// The id that does not exist.
        target: String,
    },
    /// A property was given a value of the wrong type.
    #[error("property `{property}` of `{element}` is a {expected}, not a {found}")]
    WrongPropertyType {
        /// The element (tag or id) being edited.
        element: String,
        /// The property name.
        property: String,
        /// The type the property holds or the schema demands.
        expected: &'static str,
        /// The type that was given.
        found: &'static str,
    },
    /// A property name is not acceptable (empty, or containing reserved characters).
    #[error("invalid property name `{0}`: use letters, digits, `_` and `-`")]
    InvalidPropertyName(String),
    /// A property would be named like one of the element's own fields (`x`, `layer`...):
    /// setting it would not move, re-layer or retag the element, only add a look-alike.
    #[error("`{name}` is a field of every element, not a property: {how}")]
    ElementField {
        /// The name typed.
        name: String,
        /// How to change that field instead.
        how: &'static str,
    },
    /// The element has no such property.
    #[error("`{element}` has no property `{property}`")]
    UnknownProperty {
        /// The element (tag or id).
        element: String,
        /// The missing property.
        property: String,
    },
    /// Text holds characters a drawing file cannot carry (control characters).
    #[error("{what} contains a control character (U+{code:04X}); remove it")]
    ControlCharacter {
        /// Which text (`tag`, `text of door:D1`, `property name of ...`).
        what: String,
        /// The offending code point.
        code: u32,
    },
    /// A geometric value is unusable (NaN, negative size, too few points...).
    #[error("invalid geometry: {0}")]
    InvalidGeometry(String),
    /// A value could not be parsed from text.
    #[error("cannot parse `{input}` as {what}")]
    Parse {
        /// What was being parsed.
        what: &'static str,
        /// The offending input.
        input: String,
    },
    /// The bytes are not an Automerge document at all.
    #[error("{}: not an Arxos document (unrecognised file format)", path.display())]
    ForeignFile {
        /// The file that was read.
        path: PathBuf,
    },
    /// The bytes are an Automerge document but damaged.
    #[error("{}: the document is corrupt: {reason}", path.display())]
    CorruptFile {
        /// The file that was read.
        path: PathBuf,
        /// What the decoder reported.
        reason: String,
    },
    /// The document loads but lacks the Arxos schema (meta, floors, layers, elements).
    #[error("{}: an Automerge document, but not an Arxos plan ({reason})", path.display())]
    NotAPlan {
        /// The file that was read.
        path: PathBuf,
        /// What is missing.
        reason: String,
    },
    /// The document was written by a newer schema than this build understands.
    #[error("the document uses schema version {found}; this build reads up to {supported}")]
    UnsupportedSchema {
        /// Version found in the document.
        found: u64,
        /// Highest version this build supports.
        supported: u64,
    },
    /// A filesystem operation failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The SVG could not be parsed.
    #[error("SVG import failed: {0}")]
    Svg(String),
    /// A conflict resolution that does not fit the conflict.
    #[error("cannot resolve {conflict} that way: {reason}")]
    InvalidChoice {
        /// The conflict id.
        conflict: String,
        /// What would work instead.
        reason: String,
    },
    /// An error surfaced by Automerge itself.
    #[error("automerge: {0}")]
    Automerge(#[from] automerge::AutomergeError),
    /// No version, branch or proposal has this name.
    #[error("no {what} named `{name}`")]
    UnknownName {
        /// `version`, `branch`, `proposal`.
        what: &'static str,
        /// The name looked up.
        name: String,
    },
    /// The name is already taken by another version, branch or proposal.
    #[error("a {what} named `{name}` already exists")]
    DuplicateName {
        /// `version`, `branch`, `proposal`.
        what: &'static str,
        /// The taken name.
        name: String,
    },
    /// A version or branch name cannot be used.
    #[error("invalid {what} name `{name}`: {reason}")]
    InvalidName {
        /// `version`, `branch`, `proposal`.
        what: &'static str,
        /// The rejected name.
        name: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A stored version, branch or comment record lacks a field or holds a malformed one.
    #[error("{what} record `{id}` is damaged: {reason}")]
    BadRecord {
        /// `version`, `branch`, `comment`.
        what: &'static str,
        /// The record id.
        id: String,
        /// What is wrong.
        reason: String,
    },
    /// A branch or proposal is not in a state that allows the action.
    #[error("{what} `{name}` is {state}; cannot {action}")]
    BranchState {
        /// `branch` or `proposal`.
        what: &'static str,
        /// Its name.
        name: String,
        /// Its state (`merged`, `closed`...).
        state: String,
        /// What was refused (`merge it`, `approve it`...).
        action: &'static str,
    },
    /// A review action named a plain branch.
    #[error("`{0}` is a branch, not a proposal; only proposals are reviewed")]
    NotAProposal(String),
    /// A proposal whose review asked for changes cannot be merged without forcing it.
    #[error("proposal `{0}` has changes requested; address the review first or force the merge")]
    ChangesRequested(String),
    /// The branch file is not a fork of this plan.
    #[error(
        "`{branch}` is not a branch of this plan (plan id `{expected}`, the branch file's is `{found}`)"
    )]
    ForeignBranch {
        /// The branch name.
        branch: String,
        /// The parent plan's id.
        expected: String,
        /// The id found in the branch file.
        found: String,
    },
    /// Two files that are not replicas of one plan were asked to merge.
    #[error(
        "{ours} and {theirs} are different plans (ids {ours_id} and {theirs_id}); only replicas of one plan merge"
    )]
    DifferentPlans {
        /// Our side (a file name, or `our plan`).
        ours: String,
        /// Their side.
        theirs: String,
        /// Our plan id.
        ours_id: String,
        /// Their plan id.
        theirs_id: String,
    },
    /// A merge that is not a preview was given no file to write the merged plan to.
    #[error("no file to write the merged plan to: name one, or preview the merge")]
    MergeOutputMissing,
    /// A workflow would create a file that is already there (and replacing it was not asked).
    #[error("{} already exists", path.display())]
    FileExists {
        /// The existing file.
        path: PathBuf,
    },
    /// A branch's file is neither where it was recorded nor beside its parent plan.
    #[error("branch file {file} of `{branch}` not found; give its path")]
    BranchFileNotFound {
        /// The branch name.
        branch: String,
        /// The file as recorded in the parent.
        file: String,
    },
    /// No open conflict has this id (or unique id prefix).
    #[error("no open conflict `{0}`")]
    NoSuchConflict(String),
    /// No plan comment has this id (or unique id prefix).
    #[error("no comment `{0}`")]
    UnknownComment(String),
    /// Several plan comments have ids starting with this prefix.
    #[error("`{0}` names several comments; give more of the id")]
    AmbiguousComment(String),
    /// A comment that cannot be written (empty, too long, no author...).
    #[error("invalid comment: {0}")]
    InvalidComment(String),
    /// A comment thread is not in a state that allows the action.
    #[error("comment thread `{id}` is already {state}")]
    CommentState {
        /// The thread root's id.
        id: String,
        /// `resolved` or `open`.
        state: &'static str,
    },
    /// A rule that cannot be stored: malformed, or naming something the plan does not have.
    #[error("invalid rule `{input}`: {reason}")]
    InvalidRule {
        /// What was given.
        input: String,
        /// What is wrong and what would work.
        reason: String,
    },
    /// `arxos undo --as NAME` found nothing of that person's to take back.
    #[error("nothing to undo for `{author}`: {reason}")]
    NothingToUndo {
        /// Whose changes were looked for.
        author: String,
        /// Why none qualifies.
        reason: String,
    },
}

/// Shorthand result type of this crate.
pub type Result<T, E = DocError> = std::result::Result<T, E>;

impl DocError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}
