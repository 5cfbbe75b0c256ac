//! Safety nets on the command line: `backup create|list|restore`, `health` and `undo --as`:
//! argument parsing and output over `arxos_session::{backup, health}` and
//! `arxos_doc::undo::by_author` (the editor's own-changes undo, shared).

use std::path::{Path, PathBuf};

use anyhow::bail;
use arxos_doc::EditContext;
use arxos_session::backup::{self, BackupInfo};
use arxos_session::health::{self, Level};
use clap::Subcommand;

use super::output::esc;
use super::{Author, Out};

/// Subcommands of `arxos backup`.
#[derive(Debug, Subcommand)]
pub enum BackupCmd {
    /// Keep a named copy of a plan and its sidecars (in `.arxos-backups/` beside it).
    Create {
        /// Plan file.
        file: PathBuf,
        /// The backup's name (letters, digits, `-`, `_`, `.`).
        name: String,
    },
    /// A plan's backups, oldest first.
    List {
        /// Plan file.
        file: PathBuf,
    },
    /// Put a backup back (the current plan is kept as a backup first); needs --confirm.
    Restore {
        /// Plan file.
        file: PathBuf,
        /// The backup's name.
        name: String,
        /// Yes, replace the plan and its sidecars with the backup.
        #[arg(long)]
        confirm: bool,
    },
}

fn when(secs: u64) -> String {
    super::read::timestamp(i64::try_from(secs).unwrap_or(0).saturating_mul(1000))
}

fn info_line(b: &BackupInfo) -> String {
    format!(
        "{:<24} {}  {}",
        esc(&b.name),
        when(b.created),
        b.files.join(", ")
    )
}

/// `arxos backup …`.
pub fn run_backup(out: Out, cmd: BackupCmd) -> anyhow::Result<()> {
    out.guard(|| match cmd {
        BackupCmd::Create { file, name } => {
            let b = backup::create(&file, &name)?;
            out.emit(&b, || {
                outln!("backed up {} as {} in {}", file.display(), b.name, b.path.display());
            })
        }
        BackupCmd::List { file } => {
            let list = backup::list(&file)?;
            out.emit(&list, || {
                for b in &list {
                    outln!("{}", info_line(b));
                }
                if list.is_empty() {
                    outln!("no backups of {}", file.display());
                }
            })
        }
        BackupCmd::Restore {
            file,
            name,
            confirm,
        } => {
            backup::check_name(&name)?;
            if !confirm {
                bail!(
                    "restoring replaces {} and its sidecars with backup `{name}`: add --confirm (the current state is kept as a backup)",
                    file.display()
                );
            }
            let r = backup::restore(&file, &name)?;
            out.emit(&r, || {
                outln!("restored {} from backup {}", file.display(), r.restored.name);
                if let Some(k) = &r.kept_as {
                    outln!("the state before is kept as backup {}", k.name);
                }
            })
        }
    })
}

/// `arxos health FILE`: one line per check; fails when one fails.
pub fn run_health(out: Out, file: &Path) -> anyhow::Result<()> {
    let checks = health::check_file(file);
    let worst = health::worst(&checks);
    let failed: Vec<&str> = checks
        .iter()
        .filter(|c| c.level == Level::Fail)
        .map(|c| c.name)
        .collect();
    let report = serde_json::json!({
        "file": file.display().to_string(),
        "ok": failed.is_empty(),
        "worst": worst,
        "checks": checks,
    });
    out.emit(&report, || {
        for c in &checks {
            let level = match c.level {
                Level::Ok => "ok",
                Level::Warn => "warn",
                Level::Fail => "FAIL",
            };
            outln!("{level:<5} {:<14} {}", c.name, esc(&c.detail));
        }
    })?;
    if !failed.is_empty() {
        bail!(
            "{}: {} check(s) failed: {}",
            file.display(),
            failed.len(),
            failed.join(", ")
        );
    }
    Ok(())
}

/// `arxos undo --as NAME FILE`.
pub fn run_undo(out: Out, file: &Path, author: &Author) -> anyhow::Result<()> {
    out.guard(|| {
        let name = author.name();
        let (u, _) =
            arxos_doc::undo::by_author::undo_last_by_file(file, &EditContext::now(&name), &name)?;
        out.emit(&u, || {
            outln!(
                "undid {} by {} ({}), {} element(s)",
                &u.undone[..12.min(u.undone.len())],
                esc(&name),
                esc(&u.summary),
                u.elements.len()
            );
            if u.kept > 0 {
                outln!("kept {} field(s) someone changed since", u.kept);
            }
        })
    })
}
