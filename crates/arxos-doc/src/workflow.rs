//! Workflows: the multi-step operations a person starts — merge a replica, branch and merge
//! back, resolve a conflict, add a rule, review a proposal, revert to a version — written
//! once here so that the CLI and the editor behave the same. Each returns a typed outcome
//! (counts, conflicts, what was saved) and leaves printing to its caller.
//!
//! Two levels, where it matters: a `*_documents`/`*_to` function works on documents in
//! memory (the editor's open plan), and a `*_file(s)` function opens, acts and saves through
//! [`crate::file::PlanFile`] (the CLI). A refused workflow writes nothing.
//!
//! - [`merge`]: merging replicas, the conflict scan with our side as local, the automatic
//!   rules, the replica-local record of which side was ours.
//! - [`branch`]: branch and proposal files (create, find, merge back, close).
//! - [`edit`]: one validated, saved edit of a plan file.
//! - [`resolve`]: listing and settling a file's conflicts by hand or by rule.
//! - [`rules`]: rules as entered ([`rules::RuleSpec`]), checked against the plan.
//! - [`history`]: reverting to a version and proposal reviews.
//! - [`targets`]: elements named by tag in typed commands (`arxos apply`) turned into ids.
//! - [`values`]: reading a typed-in value as the type its property has.

pub mod branch;
pub mod edit;
pub mod history;
pub mod merge;
pub mod resolve;
pub mod rules;
pub mod targets;
pub mod values;

pub use branch::{
    BranchCreated, BranchMergeOptions, BranchMergeOutcome, BranchMerged, BranchOptions,
    branch_path, close_branch_file, create_branch_file, default_branch_path,
    merge_branch_documents, merge_branch_file,
};
pub use edit::{EditOutcome, edit_file};
pub use history::{RevertOutcome, ReviewAction, ReviewOutcome, revert_file, review_file};
pub use merge::{
    FileMerge, MergeOptions, MergeOutcome, Settled, local_side, merge_documents, merge_files,
    remember_local_side, settle,
};
pub use resolve::{
    AutoOutcome, ResolveOutcome, ResolveWith, ScannedPlan, auto_resolve_file, resolve_in_file,
    scan_file,
};
pub use rules::{
    RuleAdded, RuleSpec, add_rule_to, add_rule_to_file, remove_rule_from, remove_rule_from_file,
    rule_id, split_kind_prop,
};
pub use targets::resolve_targets;
pub use values::{conflict_value, expected_type, parse_typed, property_value};

/// Plans and replicas the workflow tests share.
#[cfg(test)]
pub(crate) mod fixtures {
    use std::path::PathBuf;

    use crate::command::{Command, EditContext, NewElement};
    use crate::conflict::rules::{Rule, add_rule};
    use crate::file::PlanFile;
    use crate::ids::{ElementId, FloorId, LayerId};
    use crate::model::{ElementKind, Geometry, PropValue, Transform};
    use crate::{Document, prop};

    /// An edit by `author` at a fixed base time plus `t` ms.
    pub fn at(author: &str, t: i64) -> EditContext {
        EditContext::at(author, 1_700_000_000_000 + t)
    }

    /// A plan with one 230 V outlet `outlet:R1`; returns it with the outlet's id.
    pub fn plan_with_outlet() -> (Document, ElementId) {
        let mut doc = Document::new_plan("workflow", &at("setup", 0)).unwrap();
        let outlet = NewElement::new(
            ElementKind::Outlet,
            "outlet:R1",
            FloorId::new("level-1"),
            LayerId::new("electrical"),
            Geometry::Point,
            Transform::default(),
        )
        .with_prop("voltage", PropValue::Number(230.0), None);
        let id = doc
            .apply(&at("setup", 1), Command::Create(Box::new(outlet)))
            .unwrap()
            .added[0]
            .clone();
        (doc, id)
    }

    /// Sets the outlet's voltage.
    pub fn set_voltage(doc: &mut Document, ctx: &EditContext, id: &ElementId, v: f64) {
        doc.apply(
            ctx,
            Command::SetProperties {
                id: id.clone(),
                set: vec![("voltage".into(), prop(PropValue::Number(v), None))],
                remove: vec![],
            },
        )
        .unwrap();
    }

    /// The outlet's voltage.
    pub fn voltage(doc: &Document, id: &ElementId) -> f64 {
        match doc.element(id).unwrap().props["voltage"].value {
            PropValue::Number(n) => n,
            ref other => panic!("voltage is {other:?}"),
        }
    }

    /// Two replicas of one plan on disk: `a` set the outlet to 240 V, later `b` to 120 V.
    pub struct Replicas {
        pub dir: tempfile::TempDir,
        pub a: PathBuf,
        pub b: PathBuf,
        pub outlet: ElementId,
    }

    impl Replicas {
        pub fn new() -> Self {
            Self::build(None)
        }

        /// As [`Replicas::new`], with `rule` stored in the plan before the replicas split.
        pub fn with_rule(rule: &Rule) -> Self {
            Self::build(Some(rule))
        }

        fn build(rule: Option<&Rule>) -> Self {
            let dir = tempfile::tempdir().unwrap();
            let (mut base, outlet) = plan_with_outlet();
            if let Some(r) = rule {
                base.apply(&at("setup", 2), add_rule("r1", r)).unwrap();
            }
            let mut other = base.fork();
            set_voltage(&mut base, &at("a", 10), &outlet, 240.0);
            set_voltage(&mut other, &at("b", 20), &outlet, 120.0);
            let a = dir.path().join("a.arx");
            let b = dir.path().join("b.arx");
            PlanFile::create(&a, &mut base).unwrap();
            PlanFile::create(&b, &mut other).unwrap();
            Self { dir, a, b, outlet }
        }
    }
}
