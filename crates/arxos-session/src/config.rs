//! Configuration: what `arxos config get|set|list|unset` reads and writes, and what sync and
//! the editor read from it (`user.name`, `user.colour`, `sync.*`, `notifications.*`).
//!
//! Three layers, the first that sets a key wins:
//!
//! 1. **flags** of the command being run (`arxos sync -c sync.enabled=false …`);
//! 2. the **project**: the `config` object of the nearest `arxfile.json`, looking in the
//!    working folder and then its parents (see [`crate::project`]);
//! 3. the **global** file `config.json` under the XDG config directory
//!    (`$XDG_CONFIG_HOME/arxos`, else `~/.config/arxos`; `$ARXOS_CONFIG_DIR` overrides).
//!    `user.name` and `user.colour` of this layer live in `settings.json` beside it, the file
//!    the editor's preferences and [`arxos_sync::identity`] already use, so a name set here
//!    is the name in history and presence everywhere, with no second copy to drift.
//!
//! Both files are JSON with one object per section: `{"sync": {"enabled": false}}`. Every
//! value is checked when set and again when read ([`keys`]); a file that is not valid JSON is
//! reported with its path, line and column, and is never overwritten by a `set`. Writes go
//! through a temporary file and a rename.

pub mod keys;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use arxos_sync::identity::Identity;
use serde_json::Value;

pub use keys::{KEYS, KeySpec, parse_duration};

/// Errors of configuration and project files.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A key no version of arxos knows.
    #[error("unknown setting `{key}` (known: {known})")]
    UnknownKey {
        /// What was asked for.
        key: String,
        /// The known keys.
        known: String,
    },
    /// A value that does not fit its key.
    #[error("bad value `{value}` for {key}: {reason}")]
    BadValue {
        /// The key.
        key: String,
        /// The value as given.
        value: String,
        /// Why.
        reason: String,
    },
    /// A file that is not valid JSON, or not of the expected shape.
    #[error("{} line {line}, column {column}: {reason} (the file was left as it is)", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// Line (1-based; 0 when unknown).
        line: usize,
        /// Column (1-based).
        column: usize,
        /// Why.
        reason: String,
    },
    /// A well-formed file holding a value or key that is not allowed.
    #[error("{}: {reason}", path.display())]
    BadFile {
        /// The file.
        path: PathBuf,
        /// What is wrong, naming the key.
        reason: String,
    },
    /// Reading or writing a file.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Anything else (the text says what).
    #[error("{0}")]
    Invalid(String),
}

impl ConfigError {
    /// A JSON error of `path`, with its line and column.
    pub(crate) fn json(path: &Path, e: &serde_json::Error) -> Self {
        let text = e.to_string();
        // serde_json appends " at line L column C"; we say it once, our way.
        let reason = text
            .rsplit_once(" at line ")
            .map_or(text.as_str(), |(r, _)| r)
            .to_owned();
        Self::Malformed {
            path: path.to_owned(),
            line: e.line(),
            column: e.column(),
            reason,
        }
    }

    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_owned(),
            source,
        }
    }
}

/// Where a value came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// A flag of this run.
    Flag,
    /// The project's `arxfile.json`.
    Project,
    /// The global configuration.
    Global,
    /// Nobody set it: the built-in default.
    Default,
}

/// Which file a `set` or `unset` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// The global files under the config directory.
    Global,
    /// The project's `arxfile.json`.
    Project,
}

/// One effective setting.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Entry {
    /// `section.key`.
    pub key: String,
    /// The value (JSON: a bool, a string, or a list of strings).
    pub value: Value,
    /// Which layer set it.
    pub origin: Origin,
    /// The file it came from, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
}

/// Where the layers live.
#[derive(Clone, Debug, Default)]
pub struct Paths {
    /// The global config folder (`config.json`, `settings.json`); none: no global layer.
    pub global_dir: Option<PathBuf>,
    /// The project's `arxfile.json`, if there is one.
    pub project: Option<PathBuf>,
}

impl Paths {
    /// The usual places: the XDG config folder, and the `arxfile.json` found from `start`.
    pub fn discover(start: &Path) -> Self {
        Self {
            global_dir: arxos_sync::identity::config_dir(),
            project: crate::project::find(start),
        }
    }

    fn global_file(&self) -> Option<PathBuf> {
        self.global_dir.as_ref().map(|d| d.join("config.json"))
    }

    fn settings_file(&self) -> Option<PathBuf> {
        self.global_dir.as_ref().map(|d| d.join("settings.json"))
    }
}

/// Values of one layer by full key.
type Flat = BTreeMap<String, Value>;

/// The layered configuration, as one command sees it.
#[derive(Clone, Debug, Default)]
pub struct Config {
    paths: Paths,
    flags: Flat,
    project: Flat,
    global: Flat,
}

impl Config {
    /// Reads every layer (a damaged file is an error naming it).
    pub fn load(paths: Paths) -> Result<Self, ConfigError> {
        let global = read_global(&paths)?;
        let project = match &paths.project {
            Some(p) => flatten(p, &crate::project::Arxfile::load(p)?.config)?,
            None => Flat::new(),
        };
        Ok(Self {
            paths,
            flags: Flat::new(),
            project,
            global,
        })
    }

    /// Adds flag values, `KEY=VALUE` each, over the files.
    pub fn with_flags(mut self, assignments: &[String]) -> Result<Self, ConfigError> {
        for a in assignments {
            let (key, text) = split_assignment(a)?;
            let spec = keys::spec(key)?;
            self.flags
                .insert(spec.name.to_owned(), keys::parse(spec, text)?);
        }
        Ok(self)
    }

    /// Where the layers are.
    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    /// The effective value of `key`: set by a layer, or its default; `None` when neither.
    pub fn get(&self, key: &str) -> Result<Option<Entry>, ConfigError> {
        Ok(self.entry(keys::spec(key)?))
    }

    fn entry(&self, spec: &KeySpec) -> Option<Entry> {
        let layers = [
            (Origin::Flag, &self.flags, None),
            (Origin::Project, &self.project, self.paths.project.clone()),
            (Origin::Global, &self.global, self.global_source(spec)),
        ];
        for (origin, values, file) in layers {
            if let Some(v) = values.get(spec.name) {
                return Some(Entry {
                    key: spec.name.to_owned(),
                    value: v.clone(),
                    origin,
                    file,
                });
            }
        }
        let default = spec.default?;
        Some(Entry {
            key: spec.name.to_owned(),
            value: keys::parse(spec, default).ok()?,
            origin: Origin::Default,
            file: None,
        })
    }

    fn global_source(&self, spec: &KeySpec) -> Option<PathBuf> {
        if spec.name.starts_with("user.") {
            self.paths.settings_file()
        } else {
            self.paths.global_file()
        }
    }

    /// The effective values of a section (`sync`), or of one key when `name` is a key.
    pub fn get_section(&self, name: &str) -> Result<Vec<Entry>, ConfigError> {
        let name = name.trim();
        if keys::is_section(name) {
            let prefix = format!("{name}.");
            return Ok(KEYS
                .iter()
                .filter(|k| k.name.starts_with(&prefix))
                .filter_map(|k| self.entry(k))
                .collect());
        }
        Ok(self.get(name)?.into_iter().collect())
    }

    /// Every setting with a value, effective values first to last in [`KEYS`] order.
    pub fn list(&self) -> Vec<Entry> {
        KEYS.iter().filter_map(|k| self.entry(k)).collect()
    }

    fn value(&self, key: &str) -> Option<Value> {
        let spec = keys::spec(key).ok()?;
        self.entry(spec).map(|e| e.value)
    }

    /// `sync.enabled`.
    pub fn sync_enabled(&self) -> bool {
        self.value("sync.enabled")
            .and_then(|v| v.as_bool())
            .unwrap_or(true)
    }

    /// `sync.conflict-resolution`: `prompt`, `auto` or `manual`.
    pub fn conflict_resolution(&self) -> String {
        self.value("sync.conflict-resolution")
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_else(|| "prompt".into())
    }

    /// `sync.update-interval`.
    pub fn update_interval(&self) -> Duration {
        self.value("sync.update-interval")
            .and_then(|v| v.as_str().and_then(|s| parse_duration(s).ok()))
            .unwrap_or(Duration::from_secs(30))
    }

    /// `sync.relays`, in the order to try them.
    pub fn relays(&self) -> Vec<String> {
        match self.value("sync.relays") {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// `user.name`, if any layer sets it.
    pub fn user_name(&self) -> Option<String> {
        self.value("user.name")
            .and_then(|v| v.as_str().map(str::to_owned))
    }

    /// `user.colour`, if any layer sets it.
    pub fn user_colour(&self) -> Option<String> {
        self.value("user.colour")
            .and_then(|v| v.as_str().map(str::to_owned))
    }

    /// The user's identity with this configuration applied: `$ARXOS_USER` first (it
    /// overrides for one run), else `user.name` from a flag or the project, else the global
    /// `user.name` (the settings file) and the login name as [`Identity::current`] finds them;
    /// the colour from `user.colour` when a flag or the project sets one.
    pub fn identity(&self) -> Identity {
        let base = Identity::current();
        let env_user = std::env::var("ARXOS_USER").is_ok_and(|u| !u.trim().is_empty());
        let local = |key: &str| {
            keys::spec(key)
                .ok()
                .and_then(|s| self.entry(s))
                .filter(|e| matches!(e.origin, Origin::Flag | Origin::Project))
                .and_then(|e| e.value.as_str().map(str::to_owned))
        };
        let mut id = match local("user.name") {
            Some(name) if !env_user => base.named(&name),
            _ => base,
        };
        if let Some(colour) = local("user.colour") {
            id.color = colour;
        }
        id
    }

    /// `notifications.<what>` (`conflicts`, `mentions`, `sync-errors`).
    pub fn notify(&self, what: &str) -> bool {
        self.value(&format!("notifications.{what}"))
            .and_then(|v| v.as_bool())
            .unwrap_or(true)
    }
}

/// What `notifications.*` asks a window to tell (the editor's toasts).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Notifications {
    /// New conflicts.
    pub conflicts: bool,
    /// A comment that mentions me.
    pub mentions: bool,
    /// A sync that fails (the relay cannot be reached, refuses, errs).
    pub sync_errors: bool,
}

impl Default for Notifications {
    fn default() -> Self {
        Self {
            conflicts: true,
            mentions: true,
            sync_errors: true,
        }
    }
}

impl Notifications {
    /// As `config` sets them.
    pub fn from_config(config: &Config) -> Self {
        Self {
            conflicts: config.notify("conflicts"),
            mentions: config.notify("mentions"),
            sync_errors: config.notify("sync-errors"),
        }
    }

    /// As the configuration seen from the working folder sets them (a damaged file is
    /// logged and skipped: everything is told).
    pub fn current() -> Self {
        current().map_or_else(Self::default, |c| Self::from_config(&c))
    }
}

/// [`Config::identity`] of the configuration seen from the working folder; a damaged file is
/// reported in the log and skipped, so a bad setting never blocks an edit.
pub fn current_identity() -> Identity {
    current().map_or_else(Identity::current, |c| c.identity())
}

/// The configuration seen from the working folder, or `None` when a file is damaged (that
/// is logged): callers fall back to defaults, so a bad setting never blocks an edit.
pub fn current() -> Option<Config> {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    Config::load(Paths::discover(&cwd))
        .map_err(|err| tracing::warn!(%err, "ignoring unreadable configuration"))
        .ok()
}

/// `KEY=VALUE` → (`KEY`, `VALUE`).
pub fn split_assignment(a: &str) -> Result<(&str, &str), ConfigError> {
    a.split_once('=')
        .map(|(k, v)| (k.trim(), v))
        .ok_or_else(|| ConfigError::Invalid(format!("expected KEY=VALUE, got `{a}`")))
}

/// Sets `key` to `text` in the `scope` file; the stored entry. The file is read first: a
/// damaged one is reported and left alone.
pub fn set(paths: &Paths, scope: Scope, key: &str, text: &str) -> Result<Entry, ConfigError> {
    let spec = keys::spec(key)?;
    let value = keys::parse(spec, text)?;
    let file = write_layer(paths, scope, spec, Some(value.clone()))?;
    Ok(Entry {
        key: spec.name.to_owned(),
        value,
        origin: match scope {
            Scope::Global => Origin::Global,
            Scope::Project => Origin::Project,
        },
        file: Some(file),
    })
}

/// Removes `key` from the `scope` file; whether it was set there.
pub fn unset(paths: &Paths, scope: Scope, key: &str) -> Result<bool, ConfigError> {
    let spec = keys::spec(key)?;
    let before = match scope {
        Scope::Global => read_global(paths)?,
        Scope::Project => {
            let p = project_path(paths)?;
            flatten(&p, &crate::project::Arxfile::load(&p)?.config)?
        }
    };
    if !before.contains_key(spec.name) {
        return Ok(false);
    }
    write_layer(paths, scope, spec, None)?;
    Ok(true)
}

fn project_path(paths: &Paths) -> Result<PathBuf, ConfigError> {
    paths.project.clone().ok_or_else(|| {
        ConfigError::Invalid(
            "no arxfile.json here or in a parent folder (arxos project init makes one)".into(),
        )
    })
}

fn no_global_dir() -> ConfigError {
    ConfigError::Invalid("no config directory: set HOME or XDG_CONFIG_HOME".into())
}

/// Writes (or, with `None`, removes) one value; the file written.
fn write_layer(
    paths: &Paths,
    scope: Scope,
    spec: &KeySpec,
    value: Option<Value>,
) -> Result<PathBuf, ConfigError> {
    let (section, name) = spec.name.split_once('.').unwrap_or((spec.name, ""));
    match scope {
        Scope::Project => {
            let p = project_path(paths)?;
            let mut project = crate::project::Arxfile::load(&p)?;
            put(&mut project.config, section, name, value);
            project.save(&p)?;
            Ok(p)
        }
        Scope::Global if section == "user" => {
            let p = paths.settings_file().ok_or_else(no_global_dir)?;
            let mut s = read_settings(&p)?;
            let text = value.as_ref().and_then(|v| v.as_str().map(str::to_owned));
            if name == "name" {
                s.name = text;
            } else {
                s.color = text;
            }
            write_json(&p, &s)?;
            Ok(p)
        }
        Scope::Global => {
            let p = paths.global_file().ok_or_else(no_global_dir)?;
            let mut sections = read_sections(&p)?;
            flatten(&p, &sections)?;
            put(&mut sections, section, name, value);
            write_json(&p, &sections)?;
            Ok(p)
        }
    }
}

/// The sections of a config file, as stored: section → key → value.
pub type Sections = BTreeMap<String, BTreeMap<String, Value>>;

fn put(sections: &mut Sections, section: &str, name: &str, value: Option<Value>) {
    match value {
        Some(v) => {
            sections
                .entry(section.to_owned())
                .or_default()
                .insert(name.to_owned(), v);
        }
        None => {
            if let Some(s) = sections.get_mut(section) {
                s.remove(name);
                if s.is_empty() {
                    sections.remove(section);
                }
            }
        }
    }
}

/// Checks every key and value of `sections` (read from `path`) and flattens them.
pub(crate) fn flatten(path: &Path, sections: &Sections) -> Result<Flat, ConfigError> {
    let mut flat = Flat::new();
    for (section, values) in sections {
        for (name, value) in values {
            let full = format!("{section}.{name}");
            let spec = keys::spec(&full).map_err(|e| ConfigError::BadFile {
                path: path.to_owned(),
                reason: e.to_string(),
            })?;
            keys::check(spec, value).map_err(|reason| ConfigError::BadFile {
                path: path.to_owned(),
                reason: format!("{full}: {reason}"),
            })?;
            flat.insert(spec.name.to_owned(), value.clone());
        }
    }
    Ok(flat)
}

fn read_bytes(path: &Path) -> Result<Option<Vec<u8>>, ConfigError> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ConfigError::io(path, e)),
    }
}

fn read_sections(path: &Path) -> Result<Sections, ConfigError> {
    match read_bytes(path)? {
        Some(b) => serde_json::from_slice(&b).map_err(|e| ConfigError::json(path, &e)),
        None => Ok(Sections::new()),
    }
}

fn read_settings(path: &Path) -> Result<arxos_sync::identity::Settings, ConfigError> {
    match read_bytes(path)? {
        Some(b) => serde_json::from_slice(&b).map_err(|e| ConfigError::json(path, &e)),
        None => Ok(arxos_sync::identity::Settings::default()),
    }
}

fn read_global(paths: &Paths) -> Result<Flat, ConfigError> {
    let mut flat = Flat::new();
    if let Some(p) = paths.global_file() {
        let sections = read_sections(&p)?;
        if sections.contains_key("user") {
            return Err(ConfigError::BadFile {
                path: p,
                reason: "the user section lives in settings.json beside it \
                         (arxos config set user.name NAME)"
                    .into(),
            });
        }
        flat = flatten(&p, &sections)?;
    }
    if let Some(p) = paths.settings_file() {
        let s = read_settings(&p)?;
        for (key, v) in [("user.name", s.name), ("user.colour", s.color)] {
            // The editor wrote these before `arxos config` existed; a value it would refuse
            // now is ignored here as it is by the identity code, not an error.
            if let Some(v) = v.map(Value::String)
                && keys::spec(key).is_ok_and(|spec| keys::check(spec, &v).is_ok())
            {
                flat.insert(key.to_owned(), v);
            }
        }
    }
    Ok(flat)
}

/// Pretty JSON, written atomically (temp file, fsync, rename), creating the folder.
pub(crate) fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<(), ConfigError> {
    let mut bytes = serde_json::to_vec_pretty(value)
        .map_err(|e| ConfigError::Invalid(format!("cannot encode {}: {e}", path.display())))?;
    bytes.push(b'\n');
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| ConfigError::io(dir, e))?;
    }
    arxos_doc::file::write_atomic(path, &bytes, false)
        .map_err(|e| ConfigError::Invalid(e.to_string()))
}

#[cfg(test)]
mod tests;
