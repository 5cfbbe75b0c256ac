//! Which plan files a project folder holds: `*.arx` files found under it (hidden folders such
//! as `.arxos-backups/` and set-aside `*.refused.arx` copies excluded), minus what
//! `.arxignore` names. `.arxignore` holds one pattern a line (`#` starts a comment): `*`
//! matches within one path component, `**` across components, `?` one character; a pattern
//! with a `/` is matched against the path from the project folder, one without against every
//! component (so `drafts` ignores a folder of that name anywhere, `*.old.arx` any such file).

use std::path::{Path, PathBuf};

/// The ignore file's name.
pub const ARXIGNORE: &str = ".arxignore";

/// The patterns of `dir/.arxignore` (none when there is no such file).
pub fn ignore_patterns(dir: &Path) -> std::io::Result<Vec<String>> {
    match std::fs::read_to_string(dir.join(ARXIGNORE)) {
        Ok(text) => Ok(text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| l.trim_end_matches('/').to_owned())
            .collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// Whether `rel` (a `/`-separated path from the project folder) is ignored by `patterns`.
pub fn is_ignored(rel: &str, patterns: &[String]) -> bool {
    patterns.iter().any(|p| {
        if p.contains('/') {
            glob(p.trim_start_matches('/').as_bytes(), rel.as_bytes())
        } else {
            rel.split('/')
                .any(|part| glob(p.as_bytes(), part.as_bytes()))
        }
    })
}

/// `*`, `**` and `?` matching; `*` and `?` never match `/`.
fn glob(p: &[u8], s: &[u8]) -> bool {
    match p {
        [] => s.is_empty(),
        [b'*', b'*', rest @ ..] => {
            let rest = rest.strip_prefix(b"/").unwrap_or(rest);
            (0..=s.len()).any(|i| glob(rest, &s[i..]))
        }
        [b'*', rest @ ..] => (0..=s.len())
            .take_while(|&i| i == 0 || s[i - 1] != b'/')
            .any(|i| glob(rest, &s[i..])),
        [b'?', rest @ ..] => s.first().is_some_and(|&c| c != b'/') && glob(rest, &s[1..]),
        [c, rest @ ..] => s.first() == Some(c) && glob(rest, &s[1..]),
    }
}

/// Every plan under `dir` that is not ignored, as `/`-separated relative paths, sorted.
pub fn discover(dir: &Path) -> std::io::Result<Vec<String>> {
    let patterns = ignore_patterns(dir)?;
    let mut found = Vec::new();
    walk(dir, "", &patterns, &mut found, 0)?;
    found.sort();
    Ok(found)
}

fn walk(
    dir: &Path,
    prefix: &str,
    patterns: &[String],
    found: &mut Vec<String>,
    depth: usize,
) -> std::io::Result<()> {
    // Deep enough for any real project; a loop of symlinks ends here.
    if depth > 16 {
        return Ok(());
    }
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let rel = format!("{prefix}{name}");
        if is_ignored(&rel, patterns) {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            walk(&path, &format!("{rel}/"), patterns, found, depth + 1)?;
        } else if is_plan_name(&name) {
            found.push(rel);
        }
    }
    Ok(())
}

/// Whether a file name is a plan's (`.arx`, but not a set-aside `.refused.arx` copy).
pub fn is_plan_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    Path::new(&lower).extension().is_some_and(|e| e == "arx") && !lower.ends_with(".refused.arx")
}

/// `rel` under `root`, refusing absolute paths and `..` (a project covers its own folder).
pub fn resolve(root: &Path, rel: &str) -> Result<PathBuf, String> {
    let p = Path::new(rel);
    if rel.trim().is_empty()
        || p.is_absolute()
        || p.components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return Err(format!(
            "plan `{rel}`: give a path inside the project folder (no absolute path, no `..`)"
        ));
    }
    Ok(root.join(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_like_gitignore_lite() {
        let p = |s: &[&str]| s.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        assert!(is_ignored("drafts/a.arx", &p(&["drafts"])));
        assert!(is_ignored("x/drafts/a.arx", &p(&["drafts"])));
        assert!(is_ignored("a.old.arx", &p(&["*.old.arx"])));
        assert!(!is_ignored("a.arx", &p(&["*.old.arx"])));
        assert!(is_ignored("site/l1/a.arx", &p(&["site/**/a.arx"])));
        assert!(!is_ignored("site/l1/a.arx", &p(&["site/*.arx"])));
        assert!(is_ignored("site/a.arx", &p(&["/site/?.arx"])));
    }

    #[test]
    fn discovery_skips_hidden_refused_and_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for f in [
            "a.arx",
            "b.refused.arx",
            "sub/c.arx",
            "drafts/d.arx",
            ".arxos-backups/p/x.arx",
            "notes.txt",
        ] {
            let p = d.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, b"").unwrap();
        }
        std::fs::write(d.join(ARXIGNORE), b"# drafts are not shared\ndrafts/\n").unwrap();
        assert_eq!(discover(d).unwrap(), ["a.arx", "sub/c.arx"]);
        assert!(resolve(d, "../x.arx").is_err() && resolve(d, "/x.arx").is_err());
    }
}
