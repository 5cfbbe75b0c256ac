//! Project folders: an `arxfile.json` describing the plans a folder holds (id, name,
//! description, plans, permissions, configuration, pre- and post-sync command chains,
//! metadata), found from the working folder upwards, read strictly (a misspelt field is an
//! error naming the file and line, not a setting silently ignored) and written atomically.
//! `arxos project init|show|check` and `arxos sync` in a project folder work from here:
//! [`files`] says which plans a folder holds, [`chain`] runs the command chains, [`sync`]
//! syncs every plan with one report.

pub mod chain;
pub mod files;
pub mod sync;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, Sections};

/// The project file's name.
pub const ARXFILE: &str = "arxfile.json";

/// The contents of an `arxfile.json`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Arxfile {
    /// A stable id (a UUID made by `arxos project init`).
    pub id: String,
    /// The project's name.
    pub name: String,
    /// What it is.
    #[serde(default)]
    pub description: String,
    /// The plan files it covers, relative to the folder holding the `arxfile.json`.
    #[serde(default)]
    pub plans: Vec<String>,
    /// Who has which role, for documentation (the relay's invites are what grant access).
    #[serde(default)]
    pub permissions: BTreeMap<String, arxos_sync::Role>,
    /// The project layer of the configuration (`arxos config --project`): section → key →
    /// value, checked like the global file.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub config: Sections,
    /// Commands run before anything is sent (`arxos sync` in the project folder).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pre_sync: Vec<chain::ChainCommand>,
    /// Commands run after the sync.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub post_sync: Vec<chain::ChainCommand>,
    /// Free-form metadata.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, serde_json::Value>,
}

/// The `arxfile.json` in `start` or the nearest parent folder holding one.
pub fn find(start: &Path) -> Option<PathBuf> {
    let start = std::path::absolute(start).unwrap_or_else(|_| start.to_owned());
    start
        .ancestors()
        .map(|d| d.join(ARXFILE))
        .find(|p| p.is_file())
}

impl Arxfile {
    /// Reads and checks `path` (its `config` values too).
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let bytes = std::fs::read(path).map_err(|e| ConfigError::io(path, e))?;
        let file: Self = serde_json::from_slice(&bytes).map_err(|e| ConfigError::json(path, &e))?;
        crate::config::flatten(path, &file.config)?;
        chain::check_chain(path, "pre_sync", &file.pre_sync)?;
        chain::check_chain(path, "post_sync", &file.post_sync)?;
        if file.id.trim().is_empty() || file.name.trim().is_empty() {
            return Err(ConfigError::BadFile {
                path: path.to_owned(),
                reason: "`id` and `name` cannot be empty".into(),
            });
        }
        Ok(file)
    }

    /// Writes `path` atomically.
    pub fn save(&self, path: &Path) -> Result<(), ConfigError> {
        crate::config::write_json(path, self)
    }
}

/// A project: its `arxfile.json` and the folder it describes.
#[derive(Clone, Debug)]
pub struct Project {
    /// The folder holding the `arxfile.json`.
    pub root: PathBuf,
    /// The `arxfile.json`.
    pub file: PathBuf,
    /// Its contents.
    pub arxfile: Arxfile,
}

/// One finding of [`Project::check`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// `error` (the project cannot work as written) or `warning`.
    pub level: &'static str,
    /// What is wrong.
    pub message: String,
}

impl Project {
    /// The project `start` is in (its folder or a parent's), if any.
    pub fn find(start: &Path) -> Result<Option<Self>, ConfigError> {
        find(start).map(|f| Self::open(&f)).transpose()
    }

    /// Reads the project of `file` (an `arxfile.json`).
    pub fn open(file: &Path) -> Result<Self, ConfigError> {
        let file = std::path::absolute(file).map_err(|e| ConfigError::io(file, e))?;
        let root = file.parent().map(Path::to_owned).unwrap_or_default();
        Ok(Self {
            arxfile: Arxfile::load(&file)?,
            root,
            file,
        })
    }

    /// Makes `dir/arxfile.json`, covering the plans found in `dir` (see [`files`]); refuses
    /// to replace an existing one.
    pub fn init(dir: &Path, name: Option<&str>, description: &str) -> Result<Self, ConfigError> {
        let file = dir.join(ARXFILE);
        if file.exists() {
            return Err(ConfigError::Invalid(format!(
                "{} exists already (arxos project show prints it)",
                file.display()
            )));
        }
        let dir_name = std::path::absolute(dir)
            .ok()
            .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "project".into());
        let name = name.map_or(dir_name, str::to_owned);
        if name.trim().is_empty() {
            return Err(ConfigError::Invalid(
                "a project name cannot be empty".into(),
            ));
        }
        let arxfile = Arxfile {
            id: uuid::Uuid::new_v4().to_string(),
            name,
            description: description.to_owned(),
            plans: files::discover(dir).map_err(|e| ConfigError::io(dir, e))?,
            ..Arxfile::default()
        };
        arxfile.save(&file)?;
        Self::open(&file)
    }

    /// The plan files, as paths.
    pub fn plan_paths(&self) -> Result<Vec<PathBuf>, ConfigError> {
        self.arxfile
            .plans
            .iter()
            .map(|p| {
                files::resolve(&self.root, p).map_err(|reason| ConfigError::BadFile {
                    path: self.file.clone(),
                    reason,
                })
            })
            .collect()
    }

    /// Everything wrong with the project: plans missing, unreadable, listed twice, outside
    /// the folder or ignored (errors); plans in the folder it does not list (warnings).
    pub fn check(&self) -> Vec<Finding> {
        let err = |m: String| Finding {
            level: "error",
            message: m,
        };
        let mut out = Vec::new();
        let patterns = files::ignore_patterns(&self.root).unwrap_or_else(|e| {
            out.push(err(format!("{}: {e}", files::ARXIGNORE)));
            Vec::new()
        });
        let mut seen = std::collections::BTreeSet::new();
        for rel in &self.arxfile.plans {
            if !seen.insert(rel.as_str()) {
                out.push(err(format!("plan `{rel}` is listed twice")));
                continue;
            }
            match files::resolve(&self.root, rel) {
                Err(e) => out.push(err(e)),
                Ok(_) if files::is_ignored(rel, &patterns) => out.push(err(format!(
                    "plan `{rel}` is listed but {} ignores it",
                    files::ARXIGNORE
                ))),
                Ok(p) => {
                    if let Err(e) = arxos_doc::file::load(&p) {
                        out.push(err(format!("plan `{rel}`: {e}")));
                    }
                }
            }
        }
        match files::discover(&self.root) {
            Ok(found) => {
                for rel in found.iter().filter(|f| !seen.contains(f.as_str())) {
                    out.push(Finding {
                        level: "warning",
                        message: format!(
                            "`{rel}` is in the folder but not in `plans` (add it, or list it in {})",
                            files::ARXIGNORE
                        ),
                    });
                }
            }
            Err(e) => out.push(err(format!("cannot list {}: {e}", self.root.display()))),
        }
        out
    }
}
