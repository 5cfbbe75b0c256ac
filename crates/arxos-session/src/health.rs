//! `arxos health FILE`: checks a plan file and its sidecars without changing anything — the
//! plan loads, its tail is complete, the sync sidecar parses and is private, the invite it
//! remembers decodes, refused changes, the replica record, the set-aside and backup copies —
//! one [`Check`] each, so a script can tell exactly what is wrong.

use std::path::Path;

use arxos_sync::InviteCode;
use arxos_sync::store::LocalStore;
use serde::Serialize;

/// How a check came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Fine.
    Ok,
    /// Works, but someone should look.
    Warn,
    /// Broken.
    Fail,
}

/// One check of [`check_file`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Check {
    /// What was checked (`plan`, `tail`, `sync-sidecar`...).
    pub name: &'static str,
    /// How it came out.
    pub level: Level,
    /// What was found.
    pub detail: String,
}

fn check(name: &'static str, level: Level, detail: impl Into<String>) -> Check {
    Check {
        name,
        level,
        detail: detail.into(),
    }
}

fn beside(plan: &Path, suffix: &str) -> std::path::PathBuf {
    let mut name = plan.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    plan.with_file_name(name)
}

/// Every check of `plan` and its sidecars, in a fixed order.
pub fn check_file(plan: &Path) -> Vec<Check> {
    let mut out = Vec::new();
    match arxos_doc::file::PlanFile::open(plan) {
        Ok((file, mut doc)) => {
            let stats = doc.stats();
            let changes = doc.history().len();
            out.push(check(
                "plan",
                Level::Ok,
                format!("loads: {} elements, {changes} changes", stats.elements),
            ));
            if stats.undecodable > 0 {
                out.push(check(
                    "elements",
                    Level::Warn,
                    format!(
                        "{} element(s) cannot be decoded and are not shown",
                        stats.undecodable
                    ),
                ));
            }
            out.push(match file.torn_tail() {
                None => check("tail", Level::Ok, "complete"),
                Some(t) => check(
                    "tail",
                    Level::Warn,
                    format!(
                        "torn at byte {} ({} bytes of an interrupted save are left out; the next save cuts them off)",
                        t.offset, t.ignored_bytes
                    ),
                ),
            });
        }
        Err(e) => out.push(check("plan", Level::Fail, e.to_string())),
    }
    sidecar_checks(plan, &mut out);
    match arxos_doc::file::load_replica_state(plan) {
        Ok(None) => out.push(check("replica-state", Level::Ok, "none")),
        Ok(Some(s)) => out.push(check(
            "replica-state",
            Level::Ok,
            format!("parses ({} local heads)", s.local_heads.len()),
        )),
        Err(e) => out.push(check("replica-state", Level::Fail, e.to_string())),
    }
    for (name, suffix) in [("refused-copy", ".refused.arx"), ("backup-copy", ".bak")] {
        let p = beside(plan, suffix);
        if p.exists() {
            out.push(match arxos_doc::file::load(&p) {
                Ok(_) => check(name, Level::Ok, format!("{} loads", p.display())),
                // A damaged spare copy does not stop work on the plan, but it is no spare.
                Err(e) => check(name, Level::Warn, e.to_string()),
            });
        }
    }
    out
}

fn sidecar_checks(plan: &Path, out: &mut Vec<Check>) {
    let store = LocalStore::beside(plan);
    if !store.meta_path().exists() {
        out.push(check("sync-sidecar", Level::Ok, "none (never synced)"));
        return;
    }
    let meta = match store.load_meta() {
        Ok(m) => m,
        Err(e) => {
            out.push(check("sync-sidecar", Level::Fail, e.to_string()));
            return;
        }
    };
    out.push(private_check(store.meta_path()));
    out.push(match meta.invite.as_deref().map(InviteCode::parse) {
        None => check("invite", Level::Warn, "none remembered (pass --invite to sync)"),
        Some(Ok(i)) => check(
            "invite",
            Level::Ok,
            format!(
                "present: relay {}, document {} (expiry and revocation are known to the relay only)",
                i.relay, i.document_id
            ),
        ),
        Some(Err(e)) => check("invite", Level::Fail, format!("damaged: {e}")),
    });
    out.push(if meta.refused.is_empty() {
        check("refused", Level::Ok, "no refused changes")
    } else {
        check(
            "refused",
            Level::Warn,
            format!(
                "{} change(s) the relay refused (arxos sync --discard-refused sets them aside)",
                meta.refused.len()
            ),
        )
    });
}

#[cfg(unix)]
fn private_check(path: &Path) -> Check {
    use std::os::unix::fs::PermissionsExt as _;
    match std::fs::metadata(path) {
        // No bit for group or others.
        Ok(m) if m.permissions().mode().trailing_zeros() >= 6 => {
            check("sync-sidecar", Level::Ok, "parses, private (0600)")
        }
        Ok(m) => check(
            "sync-sidecar",
            Level::Warn,
            format!(
                "parses, but others may read it (mode {:o}) and it holds an invite: chmod 600 {}",
                m.permissions().mode() & 0o777,
                path.display()
            ),
        ),
        Err(e) => check(
            "sync-sidecar",
            Level::Fail,
            format!("{}: {e}", path.display()),
        ),
    }
}

#[cfg(not(unix))]
fn private_check(_path: &Path) -> Check {
    check("sync-sidecar", Level::Ok, "parses")
}

/// The worst level among `checks`.
pub fn worst(checks: &[Check]) -> Level {
    checks.iter().map(|c| c.level).max().unwrap_or(Level::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_damaged_sidecar_fails_and_a_good_plan_passes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("p.arx");
        let ctx = arxos_doc::EditContext::at("t", 1);
        let mut doc = arxos_doc::Document::new_plan("p", &ctx).unwrap();
        arxos_doc::file::PlanFile::create(&p, &mut doc).unwrap();
        let checks = check_file(&p);
        assert_eq!(worst(&checks), Level::Ok, "{checks:?}");
        std::fs::write(beside(&p, ".sync.json"), b"{oops").unwrap();
        let checks = check_file(&p);
        let side = checks.iter().find(|c| c.name == "sync-sidecar").unwrap();
        assert_eq!(side.level, Level::Fail, "{checks:?}");
        std::fs::write(&p, b"not a plan").unwrap();
        assert_eq!(check_file(&p)[0].level, Level::Fail);
    }
}
