//! The editor's own settings (theme, units, grid, recent files), kept in `editor.json` beside
//! the settings file the CLI shares (`settings.json`, which holds your name and colour) under
//! the XDG config directory. A damaged settings file is reported and replaced by defaults;
//! it is never overwritten until the settings change.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// How many recent files are remembered.
const RECENT: usize = 10;

/// Light or dark window chrome (the drawing stays on paper either way).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ThemeChoice {
    /// Light panels.
    #[default]
    Light,
    /// Dark panels.
    Dark,
}

/// Units lengths are shown in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Units {
    /// Millimetres (the plan's own unit).
    #[default]
    Mm,
    /// Metres.
    M,
}

impl Units {
    /// A length in millimetres as text in these units.
    pub fn show(self, mm: f64) -> String {
        match self {
            Self::Mm => format!("{mm:.0} mm"),
            Self::M => format!("{:.3} m", mm / 1_000.0),
        }
    }
}

/// Everything the editor remembers between runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EditorSettings {
    /// Window chrome.
    pub theme: ThemeChoice,
    /// Lengths shown in.
    pub units: Units,
    /// Grid spacing, millimetres.
    pub grid_mm: f64,
    /// Whether the grid is drawn.
    pub show_grid: bool,
    /// Files opened, most recent first.
    pub recent: Vec<PathBuf>,
}

impl Default for EditorSettings {
    fn default() -> Self {
        Self {
            theme: ThemeChoice::Light,
            units: Units::Mm,
            grid_mm: 100.0,
            show_grid: true,
            recent: Vec::new(),
        }
    }
}

/// Where the editor settings live: `editor.json` in the config directory.
pub fn path() -> Option<PathBuf> {
    arxos_sync::identity::config_dir().map(|d| d.join("editor.json"))
}

impl EditorSettings {
    /// Loads the settings; a missing file gives defaults, a damaged one defaults and a warning
    /// to show.
    pub fn load() -> (Self, Option<String>) {
        match path() {
            Some(p) => Self::load_from(&p),
            None => (Self::default(), None),
        }
    }

    /// Loads from `p`.
    pub fn load_from(p: &Path) -> (Self, Option<String>) {
        match std::fs::read(p) {
            Ok(bytes) => match serde_json::from_slice::<Self>(&bytes) {
                Ok(mut s) => {
                    if !(s.grid_mm.is_finite() && s.grid_mm > 0.0) {
                        s.grid_mm = Self::default().grid_mm;
                    }
                    (s, None)
                }
                Err(e) => (
                    Self::default(),
                    Some(format!(
                        "{} is damaged ({e}); using defaults until settings change",
                        p.display()
                    )),
                ),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (Self::default(), None),
            Err(e) => (
                Self::default(),
                Some(format!("cannot read {}: {e}", p.display())),
            ),
        }
    }

    /// Saves to the config directory (atomically: a temp file renamed over the old one).
    pub fn save(&self) -> Result<(), String> {
        let p = path().ok_or("no config directory (HOME is unset)")?;
        self.save_to(&p)
    }

    /// Saves to `p`.
    pub fn save_to(&self, p: &Path) -> Result<(), String> {
        let dir = p.parent().unwrap_or_else(|| Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let text = serde_json::to_vec_pretty(self).map_err(|e| e.to_string())?;
        let mut tmp =
            tempfile::NamedTempFile::new_in(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        std::io::Write::write_all(&mut tmp, &text).map_err(|e| e.to_string())?;
        tmp.persist(p)
            .map_err(|e| format!("{}: {}", p.display(), e.error))?;
        Ok(())
    }

    /// Puts `file` first in the recent list.
    pub fn remember(&mut self, file: &Path) {
        let file = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_owned());
        self.recent.retain(|f| *f != file);
        self.recent.insert(0, file);
        self.recent.truncate(RECENT);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip_and_a_damaged_file_gives_defaults_with_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("editor.json");
        let mut s = EditorSettings {
            units: Units::M,
            ..EditorSettings::default()
        };
        s.remember(Path::new("/tmp/a.arx"));
        s.remember(Path::new("/tmp/b.arx"));
        s.remember(Path::new("/tmp/a.arx"));
        s.save_to(&p).unwrap();
        let (back, warn) = EditorSettings::load_from(&p);
        assert!(warn.is_none());
        assert_eq!(back, s);
        assert_eq!(back.recent.len(), 2);
        std::fs::write(&p, b"{not json").unwrap();
        let (back, warn) = EditorSettings::load_from(&p);
        assert_eq!(back, EditorSettings::default());
        assert!(warn.unwrap().contains("damaged"));
        assert_eq!(std::fs::read(&p).unwrap(), b"{not json", "left as it was");
    }
}
