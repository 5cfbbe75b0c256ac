//! One edit of a plan file: open, build the commands from the plan as it is, apply them as
//! one change, save. Nothing is written unless every command validates.

use std::path::Path;

use serde::Serialize;

use crate::command::{Command, EditContext};
use crate::document::{ChangeSet, Document};
use crate::error::DocError;
use crate::file::{PlanFile, SaveKind};

/// What an edit did.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EditOutcome {
    /// What the change did.
    pub changes: ChangeSet,
    /// How the plan was saved.
    pub saved: SaveKind,
}

/// Opens the plan at `path`, builds commands from it with `build` (which may refuse with its
/// own error type, e.g. for a target it cannot find), applies them as one change described by
/// `summary`, and saves.
pub fn edit_file<E: From<DocError>>(
    path: &Path,
    ctx: &EditContext,
    summary: &str,
    build: impl FnOnce(&Document) -> Result<Vec<Command>, E>,
) -> Result<EditOutcome, E> {
    let (mut file, mut doc) = PlanFile::open(path)?;
    let cmds = build(&doc)?;
    let changes = doc.apply_batch(ctx, summary, cmds)?;
    let saved = file.save(&mut doc)?;
    Ok(EditOutcome { changes, saved })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file;
    use crate::model::PropValue;
    use crate::prop;
    use crate::workflow::fixtures::{at, plan_with_outlet};

    #[test]
    fn an_edit_is_one_saved_change_and_a_refusal_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("p.arx");
        let (mut doc, outlet) = plan_with_outlet();
        PlanFile::create(&p, &mut doc).unwrap();
        let before = std::fs::read(&p).unwrap();

        let refused = edit_file(&p, &at("ana", 2), "bad", |_| {
            Ok::<_, DocError>(vec![Command::Move {
                ids: vec!["e-missing".into()],
                dx: 1.0,
                dy: 0.0,
            }])
        });
        assert!(
            matches!(refused, Err(DocError::UnknownElement(_))),
            "{refused:?}"
        );
        assert_eq!(std::fs::read(&p).unwrap(), before);

        let done = edit_file(&p, &at("ana", 3), "set name", |d| {
            let id = d.resolve("outlet:R1")?.id.clone();
            Ok::<_, DocError>(vec![Command::SetProperties {
                id,
                set: vec![("name".into(), prop(PropValue::Text("desk".into()), None))],
                remove: vec![],
            }])
        })
        .unwrap();
        assert_eq!(done.changes.updated, vec![outlet.clone()]);
        assert_eq!(done.saved, SaveKind::Incremental);
        let mut back = file::load(&p).unwrap();
        assert_eq!(
            back.element(&outlet).unwrap().props["name"].value,
            PropValue::Text("desk".into())
        );
        assert_eq!(back.history().last().unwrap().summary, "set name");
    }
}
