//! Project folders: an `arxfile.json` describing the plans a folder holds (id, name,
//! description, plans, permissions, configuration, metadata), found from the working folder
//! upwards, read strictly (a misspelt field is an error naming the file and line, not a
//! setting silently ignored) and written atomically.

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
        Ok(file)
    }

    /// Writes `path` atomically.
    pub fn save(&self, path: &Path) -> Result<(), ConfigError> {
        crate::config::write_json(path, self)
    }
}
