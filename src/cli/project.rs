//! `arxos project init|show|check` and `arxos sync` in a project folder: argument parsing and
//! output over `arxos_session::project`, where the file, the chains and the sync live.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, bail};
use arxos_session::project::sync::{SyncOptions, SyncReport, sync_project};
use arxos_session::project::{ARXFILE, Project};
use clap::Subcommand;

use super::output::esc;
use super::{Author, Out};

/// Subcommands of `arxos project`.
#[derive(Debug, Subcommand)]
pub enum ProjectCmd {
    /// Make an `arxfile.json` covering the plans found in the folder (minus `.arxignore`).
    Init {
        /// The folder.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// The project's name [default: the folder's].
        #[arg(long)]
        name: Option<String>,
        /// What it is.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Print the project this folder is in.
    Show,
    /// Check the project: plans missing or unreadable, listed twice, ignored, or not listed.
    Check,
}

fn here() -> anyhow::Result<Project> {
    let cwd = std::env::current_dir().context("cannot read the working folder")?;
    Project::find(&cwd)?.with_context(|| {
        format!("no {ARXFILE} here or in a parent folder (arxos project init makes one)")
    })
}

/// `arxos project …`.
pub fn run_project(out: Out, cmd: ProjectCmd) -> anyhow::Result<()> {
    match cmd {
        ProjectCmd::Init {
            dir,
            name,
            description,
        } => out.guard(|| {
            let p = Project::init(&dir, name.as_deref(), &description)?;
            out.emit(&p.arxfile, || {
                outln!(
                    "made {} for project {} covering {} plan(s)",
                    p.file.display(),
                    esc(&p.arxfile.name),
                    p.arxfile.plans.len()
                );
            })
        }),
        ProjectCmd::Show => out.guard(|| {
            let p = here()?;
            let a = &p.arxfile;
            out.emit(a, || {
                outln!("project      {} ({})", esc(&a.name), a.id);
                outln!("file         {}", p.file.display());
                if !a.description.is_empty() {
                    outln!("description  {}", esc(&a.description));
                }
                for plan in &a.plans {
                    outln!("plan         {}", esc(plan));
                }
                for (who, role) in &a.permissions {
                    outln!("permission   {} {role}", esc(who));
                }
                let pre = a.pre_sync.iter().map(|c| ("pre-sync", c));
                for (stage, c) in pre.chain(a.post_sync.iter().map(|c| ("post-sync", c))) {
                    outln!(
                        "{stage:<12} {} ({}, timeout {}{})",
                        esc(&c.name),
                        esc(&c.command.join(" ")),
                        c.timeout,
                        if c.required { ", required" } else { "" }
                    );
                }
            })
        }),
        ProjectCmd::Check => {
            let (p, findings) = out.guard(|| {
                let p = here()?;
                let findings = p.check();
                Ok((p, findings))
            })?;
            let errors = findings.iter().filter(|f| f.level == "error").count();
            let r = serde_json::json!({
                "file": p.file.display().to_string(),
                "ok": errors == 0,
                "findings": findings,
            });
            out.emit(&r, || {
                for f in &findings {
                    outln!("{:<8} {}", f.level, esc(&f.message));
                }
                if findings.is_empty() {
                    outln!(
                        "{}: {} plan(s), all fine",
                        p.file.display(),
                        p.arxfile.plans.len()
                    );
                }
            })?;
            if errors > 0 {
                bail!("{}: {errors} error(s) in the project", p.file.display());
            }
            Ok(())
        }
    }
}

/// Whether this `arxos sync` is a project sync: no file, no `status`, none of the one-file
/// options, in a folder that is (or is inside) a project.
pub fn is_project_sync(a: &super::sync::SyncArgs) -> bool {
    a.cmd.is_none()
        && a.file.is_none()
        && a.invite.is_none()
        && !a.discard_refused
        && std::env::current_dir()
            .ok()
            .and_then(|d| arxos_session::project::find(&d))
            .is_some()
}

fn print_report(r: &SyncReport, elapsed: Duration) {
    for c in &r.commands {
        let how = match (&c.error, c.exit_code) {
            (None, _) => "ok".to_owned(),
            (Some(e), _) => e.clone(),
        };
        outln!(
            "{:<9} {:<20} {} ({} ms)",
            c.stage.replace('_', "-"),
            esc(&c.name),
            esc(&how),
            c.duration_ms
        );
    }
    for p in &r.plans {
        match &p.error {
            None => outln!(
                "{}: sent {}, received {}, pending {}, conflicts {}{}",
                esc(&p.file),
                p.sent,
                p.received,
                p.pending,
                p.conflicts,
                if p.resolved > 0 {
                    format!(", {} resolved by rules", p.resolved)
                } else {
                    String::new()
                }
            ),
            Some(e) => outln!("{}: failed: {}", esc(&p.file), esc(e)),
        }
    }
    for w in &r.warnings {
        outln!("warning: {}", esc(w));
    }
    outln!(
        "synced {} of {} plan(s) of {}, {} conflict(s) resolved, {} command(s) run ({:.1} s)",
        r.plans_synced,
        r.plans.len(),
        esc(&r.project),
        r.conflicts_resolved,
        r.commands.len(),
        elapsed.as_secs_f64()
    );
}

/// `arxos sync` in a project folder: every plan, with the chains, one report.
pub fn run_sync(out: Out, flags: &[String], timeout_secs: u64) -> anyhow::Result<()> {
    let (project, config) = out.guard(|| {
        if timeout_secs == 0 {
            bail!("--timeout-secs must be at least 1 second (0 would give up before trying)");
        }
        let p = here()?;
        let config = super::config_cmds::load(flags)?;
        Ok((p, config))
    })?;
    let opts = SyncOptions {
        timeout: Duration::from_secs(timeout_secs),
        author: Author { author: None }.name(),
    };
    let started = std::time::Instant::now();
    let report = sync_project(&project, &config, &opts);
    out.emit(&report, || print_report(&report, started.elapsed()))?;
    if let Some(first) = report.errors.first() {
        let more = report.errors.len() - 1;
        if more > 0 {
            bail!("{first} (and {more} more error(s))");
        }
        bail!("{first}");
    }
    Ok(())
}
