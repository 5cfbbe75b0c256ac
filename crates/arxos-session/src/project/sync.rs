//! `arxos sync` in a project folder: the pre-sync chain, then every plan the project covers
//! pushed and pulled once (through the invite each plan's sidecar remembers), the plan's
//! automatic rules when `sync.conflict-resolution` is `auto`, then the post-sync chain; one
//! [`SyncReport`] for all of it. A required pre-sync command that fails or times out stops
//! the sync before anything is sent, so local changes stay pending.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::Project;
use super::chain::{ChainCommand, CommandRun, run_chain};
use crate::config::Config;

/// How one plan's sync went.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PlanSync {
    /// The plan, relative to the project folder.
    pub file: String,
    /// Whether it synced.
    pub ok: bool,
    /// Changes sent.
    pub sent: usize,
    /// Changes received.
    pub received: usize,
    /// Changes still pending.
    pub pending: usize,
    /// Changes the relay refused.
    pub refused: usize,
    /// Conflicts left open.
    pub conflicts: usize,
    /// Conflicts the plan's rules settled after the sync.
    pub resolved: usize,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The status report of a project sync.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SyncReport {
    /// The project's name.
    pub project: String,
    /// Start and end, milliseconds since the Unix epoch.
    pub start_ms: i64,
    /// See `start_ms`.
    pub end_ms: i64,
    /// Plans that synced.
    pub plans_synced: usize,
    /// Conflicts settled by rules.
    pub conflicts_resolved: usize,
    /// Each plan.
    pub plans: Vec<PlanSync>,
    /// Each chain command run, in order.
    pub commands: Vec<CommandRun>,
    /// What failed (empty: everything worked).
    pub errors: Vec<String>,
    /// What deserves a look.
    pub warnings: Vec<String>,
}

/// Options of [`sync_project`].
#[derive(Clone, Debug)]
pub struct SyncOptions {
    /// Bound of each plan's sync.
    pub timeout: Duration,
    /// Who settles conflicts by rule (history).
    pub author: String,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Runs the whole project sync; never fails as a whole: what went wrong is in the report.
pub fn sync_project(project: &Project, config: &Config, opts: &SyncOptions) -> SyncReport {
    let mut r = SyncReport {
        project: project.arxfile.name.clone(),
        start_ms: now_ms(),
        ..SyncReport::default()
    };
    let env = |status: &str| {
        vec![
            ("ARXOS_PROJECT", project.arxfile.name.clone()),
            ("ARXOS_PROJECT_DIR", project.root.display().to_string()),
            ("ARXOS_SYNC_STATUS", status.to_owned()),
        ]
    };
    if !config.sync_enabled() {
        r.errors.push(
            "sync.enabled is false: nothing was sent (arxos config get sync.enabled says where it is set)"
                .into(),
        );
        r.end_ms = now_ms();
        return r;
    }
    let pre = &project.arxfile.pre_sync;
    if let Some((name, why)) = run_stage(&mut r, "pre_sync", pre, &project.root, &env("pending")) {
        r.errors.push(format!(
            "pre-sync command `{name}` failed ({why}): nothing was sent, local changes stay pending"
        ));
        r.end_ms = now_ms();
        return r;
    }
    match project.plan_paths() {
        Ok(paths) => {
            if paths.is_empty() {
                r.warnings.push("the project lists no plans".into());
            }
            for (rel, path) in project.arxfile.plans.iter().zip(paths) {
                let p = sync_plan(rel, &path, config, opts);
                if let Some(e) = &p.error {
                    r.errors.push(format!("{rel}: {e}"));
                }
                r.plans_synced += usize::from(p.ok);
                r.conflicts_resolved += p.resolved;
                r.plans.push(p);
            }
        }
        Err(e) => r.errors.push(e.to_string()),
    }
    let status = if r.errors.is_empty() { "ok" } else { "failed" };
    let post = &project.arxfile.post_sync;
    if let Some((name, why)) = run_stage(&mut r, "post_sync", post, &project.root, &env(status)) {
        r.errors
            .push(format!("post-sync command `{name}` failed ({why})"));
    }
    r.end_ms = now_ms();
    r
}

/// Runs one stage's chain into the report: the name of the required command that stopped it
/// and why, if one did.
fn run_stage(
    r: &mut SyncReport,
    stage: &'static str,
    chain: &[ChainCommand],
    dir: &Path,
    env: &[(&str, String)],
) -> Option<(String, String)> {
    let (runs, stopped) = run_chain(stage, chain, dir, env);
    note_optional_failures(&runs, &mut r.warnings);
    r.commands.extend(runs);
    let name = stopped?;
    let why = r
        .commands
        .last()
        .and_then(|c| c.error.clone())
        .unwrap_or_default();
    Some((name, why))
}

fn note_optional_failures(runs: &[CommandRun], warnings: &mut Vec<String>) {
    for c in runs.iter().filter(|c| !c.ok && !c.required) {
        warnings.push(format!(
            "optional {} command `{}` failed ({})",
            c.stage,
            c.name,
            c.error.as_deref().unwrap_or("")
        ));
    }
}

fn sync_plan(rel: &str, path: &Path, config: &Config, opts: &SyncOptions) -> PlanSync {
    let mut p = PlanSync {
        file: rel.to_owned(),
        ..PlanSync::default()
    };
    let result = crate::sync_file(path, None, config, &opts.author, opts.timeout, &|_| {})
        .map(|done| {
            let s = done.summary;
            p.sent = s.sent;
            p.received = s.received;
            p.pending = s.pending;
            p.refused = s.refused;
            p.conflicts = s.conflicts;
            p.resolved = done.resolved;
        })
        .map_err(|e| e.to_string());
    match result {
        Ok(()) => p.ok = true,
        Err(e) => p.error = Some(e),
    }
    p
}
