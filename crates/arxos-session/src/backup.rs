//! Backups of a plan with its sidecars (`arxos backup create|list|restore`): a named copy
//! kept beside the plan in `.arxos-backups/<file name>/<NAME>/`, holding the plan and
//! whichever of `<file>.sync.json` (sync state and invite), `<file>.replica.json` (which
//! side was ours at the last merge) and `<file>.refused.arx` (changes set aside) exist.
//!
//! A backup is made in a temporary folder and renamed into place, so a half-made one never
//! shows up; files are copied with their permissions (the sync sidecar stays private). A
//! restore first keeps the current state as another backup, then replaces each file by
//! rename. A restore rewinds only this replica: a relay or a running session that already has
//! the newer changes sends them again at the next sync (that is the CRDT keeping every edit).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::SessionError;

/// The sidecar suffixes copied with a plan.
pub const SIDECARS: [&str; 3] = [".sync.json", ".replica.json", ".refused.arx"];

/// What `backup.json` in each backup says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupInfo {
    /// The backup's name.
    pub name: String,
    /// Unix seconds when it was made.
    pub created: u64,
    /// The files it holds (the plan's file name, then sidecars).
    pub files: Vec<String>,
    /// The folder it lives in.
    #[serde(skip)]
    pub path: PathBuf,
}

/// What a restore did.
#[derive(Clone, Debug, Serialize)]
pub struct Restored {
    /// The backup restored.
    pub restored: BackupInfo,
    /// The backup the state before the restore was kept in.
    pub kept_as: Option<BackupInfo>,
}

fn invalid(msg: String) -> SessionError {
    SessionError::Invalid(msg)
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SessionError + '_ {
    move |e| invalid(format!("{}: {e}", path.display()))
}

/// Refuses a name that could not be a folder name on every system, or could escape the
/// backups folder.
pub fn check_name(name: &str) -> Result<(), SessionError> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if name.is_empty() || name.len() > 64 || name.starts_with('.') || !name.chars().all(ok_char) {
        return Err(invalid(format!(
            "bad backup name `{name}`: use 1 to 64 letters, digits, `-`, `_` or `.`, not starting with `.`"
        )));
    }
    Ok(())
}

fn file_name(plan: &Path) -> Result<String, SessionError> {
    plan.file_name()
        .and_then(|n| n.to_str())
        .map(str::to_owned)
        .ok_or_else(|| invalid(format!("{} is not a file name", plan.display())))
}

/// The folder holding `plan`'s backups.
pub fn backups_dir(plan: &Path) -> Result<PathBuf, SessionError> {
    let dir = plan
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    Ok(dir.join(".arxos-backups").join(file_name(plan)?))
}

fn with_suffix(plan: &Path, suffix: &str) -> PathBuf {
    let mut name = plan.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    plan.with_file_name(name)
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Copies `src` to `dst` atomically (temp file beside `dst`, fsync, rename), keeping `src`'s
/// permissions.
fn copy_atomic(src: &Path, dst: &Path) -> Result<(), SessionError> {
    let bytes = std::fs::read(src).map_err(io(src))?;
    let perms = std::fs::metadata(src).map_err(io(src))?.permissions();
    let dir = dst.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".arxos-restore-")
        .permissions(perms)
        .tempfile_in(dir)
        .map_err(io(dir))?;
    tmp.write_all(&bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(io(dst))?;
    tmp.persist(dst)
        .map_err(|e| invalid(format!("{}: {}", dst.display(), e.error)))?;
    Ok(())
}

/// Makes backup `name` of `plan` and its sidecars.
pub fn create(plan: &Path, name: &str) -> Result<BackupInfo, SessionError> {
    check_name(name)?;
    // A backup of a damaged plan would be no backup: it must load. The copy is the plan as
    // read under the file's shared lock, so a writer's append is never caught half-done.
    let mut doc = arxos_doc::file::load(plan)?;
    let root = backups_dir(plan)?;
    let target = root.join(name);
    if target.exists() {
        return Err(invalid(format!(
            "a backup named `{name}` of {} already exists",
            plan.display()
        )));
    }
    std::fs::create_dir_all(&root).map_err(io(&root))?;
    let staging = tempfile::Builder::new()
        .prefix(".making-")
        .tempdir_in(&root)
        .map_err(io(&root))?;
    let base = file_name(plan)?;
    let plan_copy = staging.path().join(&base);
    arxos_doc::file::write_atomic(&plan_copy, &doc.save(), false)?;
    let mut files = vec![base.clone()];
    for suffix in SIDECARS {
        let side = with_suffix(plan, suffix);
        if side.is_file() {
            copy_atomic(&side, &staging.path().join(format!("{base}{suffix}")))?;
            files.push(format!("{base}{suffix}"));
        }
    }
    let info = BackupInfo {
        name: name.to_owned(),
        created: now_secs(),
        files,
        path: target.clone(),
    };
    let json = serde_json::to_vec_pretty(&info)
        .map_err(|e| invalid(format!("cannot encode the backup record: {e}")))?;
    arxos_doc::file::write_atomic(&staging.path().join("backup.json"), &json, false)?;
    let staged = staging.keep();
    std::fs::rename(&staged, &target).map_err(|e| {
        let _ = std::fs::remove_dir_all(&staged);
        invalid(format!("{}: {e}", target.display()))
    })?;
    tracing::info!(plan = %plan.display(), backup = %target.display(), "backup made");
    Ok(info)
}

fn read_info(dir: &Path) -> Result<BackupInfo, SessionError> {
    let p = dir.join("backup.json");
    let bytes = std::fs::read(&p).map_err(io(&p))?;
    let mut info: BackupInfo = serde_json::from_slice(&bytes)
        .map_err(|e| invalid(format!("{} is damaged: {e}", p.display())))?;
    dir.clone_into(&mut info.path);
    Ok(info)
}

/// `plan`'s backups, oldest first.
pub fn list(plan: &Path) -> Result<Vec<BackupInfo>, SessionError> {
    let root = backups_dir(plan)?;
    let entries = match std::fs::read_dir(&root) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(&root)(e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io(&root))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || !entry.path().is_dir() {
            continue; // a backup being made, or not ours
        }
        out.push(read_info(&entry.path())?);
    }
    out.sort_by(|a, b| (a.created, &a.name).cmp(&(b.created, &b.name)));
    Ok(out)
}

/// Restores backup `name` over `plan` and its sidecars, keeping the current state as a
/// backup `before-restore-<unix seconds>` first.
pub fn restore(plan: &Path, name: &str) -> Result<Restored, SessionError> {
    check_name(name)?;
    let dir = backups_dir(plan)?.join(name);
    if !dir.is_dir() {
        return Err(invalid(format!(
            "no backup named `{name}` of {} (arxos backup list shows them)",
            plan.display()
        )));
    }
    let info = read_info(&dir)?;
    let base = file_name(plan)?;
    // Check the copy before touching anything: a damaged backup restores nothing.
    arxos_doc::file::load(&dir.join(&base))?;
    let kept_as = if plan.exists() {
        let mut stamp = now_secs();
        let backups = backups_dir(plan)?;
        while backups.join(format!("before-restore-{stamp}")).exists() {
            stamp += 1;
        }
        Some(create(plan, &format!("before-restore-{stamp}"))?)
    } else {
        None
    };
    copy_atomic(&dir.join(&base), plan)?;
    for suffix in SIDECARS {
        let saved = dir.join(format!("{base}{suffix}"));
        let current = with_suffix(plan, suffix);
        if saved.is_file() {
            copy_atomic(&saved, &current)?;
        } else if current.exists() {
            // The restored plan had no such sidecar; the current one describes a state that
            // is no longer here (it is kept in `kept_as`).
            std::fs::remove_file(&current).map_err(io(&current))?;
        }
    }
    tracing::info!(plan = %plan.display(), backup = name, "backup restored");
    Ok(Restored {
        restored: info,
        kept_as,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(dir: &Path) -> PathBuf {
        let p = dir.join("p.arx");
        let ctx = arxos_doc::EditContext::at("t", 1);
        let mut doc = arxos_doc::Document::new_plan("p", &ctx).unwrap();
        arxos_doc::file::PlanFile::create(&p, &mut doc).unwrap();
        p
    }

    #[test]
    fn names_are_checked() {
        for bad in ["", ".hidden", "a/b", "..", "a b", &"x".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        check_name("before-v2_2026.01").unwrap();
    }

    #[test]
    fn create_list_restore_round_trip_with_sidecars() {
        let dir = tempfile::tempdir().unwrap();
        let p = plan(dir.path());
        let side = with_suffix(&p, ".replica.json");
        std::fs::write(&side, b"{\"local_heads\": []}").unwrap();
        let before = arxos_doc::file::load(&p).unwrap().heads();
        let b = create(&p, "one").unwrap();
        assert_eq!(b.files, ["p.arx", "p.arx.replica.json"]);
        assert!(
            create(&p, "one")
                .unwrap_err()
                .to_string()
                .contains("already exists")
        );

        // Change the plan and drop the sidecar; restore brings both back.
        let (mut f, mut doc) = arxos_doc::file::PlanFile::open(&p).unwrap();
        doc.apply(
            &arxos_doc::EditContext::at("t", 2),
            arxos_doc::Command::SetMeta {
                name: Some("renamed".into()),
                units: None,
            },
        )
        .unwrap();
        f.save(&mut doc).unwrap();
        std::fs::remove_file(&side).unwrap();
        let r = restore(&p, "one").unwrap();
        assert_eq!(arxos_doc::file::load(&p).unwrap().heads(), before);
        assert!(side.exists());
        let kept = r.kept_as.unwrap();
        assert!(kept.name.starts_with("before-restore-"), "{kept:?}");
        assert_eq!(kept.files, ["p.arx"]);
        assert_eq!(list(&p).unwrap().len(), 2);
        assert!(
            restore(&p, "two")
                .unwrap_err()
                .to_string()
                .contains("no backup named")
        );
    }
}
