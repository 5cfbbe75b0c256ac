//! Who the user is: one name and colour, kept in `settings.json` under the XDG config
//! directory (`$XDG_CONFIG_HOME/arxos`, else `~/.config/arxos`), shared by the CLI, live
//! sessions and the editor. `ARXOS_USER` overrides the name for one run (scripts, tests).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::store::StoreError;

/// The user's identity in history, presence and locks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// Display name, recorded as the author of every change.
    pub name: String,
    /// Colour as `#rrggbb` (cursors, selections, lock badges).
    pub color: String,
}

/// The settings file's contents (unknown fields are kept by a later version, not here).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// Display name; default: the login name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Colour; default: one derived from the name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
}

/// A calm palette that reads on the light canvas; a name always maps to the same entry.
const PALETTE: [&str; 10] = [
    "#d32f2f", "#1976d2", "#388e3c", "#f57c00", "#7b1fa2", "#0097a7", "#c2185b", "#5d4037",
    "#512da8", "#689f38",
];

/// The colour a name gets when none is configured.
pub fn color_for(name: &str) -> &'static str {
    // FNV-1a: stable across runs and platforms (std's hasher is not).
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    PALETTE[(hash % PALETTE.len() as u64) as usize]
}

/// Whether `c` is a `#rrggbb` colour.
pub fn is_color(c: &str) -> bool {
    c.len() == 7 && c.starts_with('#') && c[1..].chars().all(|ch| ch.is_ascii_hexdigit())
}

/// Where the settings live: `$ARXOS_CONFIG_DIR`, else `$XDG_CONFIG_HOME/arxos`, else
/// `~/.config/arxos`.
pub fn config_dir() -> Option<PathBuf> {
    arxos_dir("ARXOS_CONFIG_DIR", "XDG_CONFIG_HOME", ".config")
}

/// `$own`, else `$xdg/arxos`, else `~/<home_dir>/arxos` (the XDG base directory rules).
fn arxos_dir(own: &str, xdg: &str, home_dir: &str) -> Option<PathBuf> {
    let nonempty = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    nonempty(own)
        .map(PathBuf::from)
        .or_else(|| nonempty(xdg).map(|d| PathBuf::from(d).join("arxos")))
        .or_else(|| nonempty("HOME").map(|h| PathBuf::from(h).join(home_dir).join("arxos")))
}

/// Where derived data that may be thrown away lives (the editor's drawn plans):
/// `$ARXOS_CACHE_DIR`, else `$XDG_CACHE_HOME/arxos`, else `~/.cache/arxos`.
pub fn cache_dir() -> Option<PathBuf> {
    arxos_dir("ARXOS_CACHE_DIR", "XDG_CACHE_HOME", ".cache")
}

/// The settings file.
pub fn settings_path() -> Option<PathBuf> {
    config_dir().map(|d| d.join("settings.json"))
}

impl Settings {
    /// Reads the settings file (defaults when there is none).
    pub fn load() -> Result<Self, StoreError> {
        match settings_path() {
            Some(p) => Self::load_from(&p),
            None => Ok(Self::default()),
        }
    }

    /// Reads settings from `path` (defaults when it does not exist).
    pub fn load_from(path: &Path) -> Result<Self, StoreError> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| StoreError::BadMeta {
                path: path.display().to_string(),
                reason: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(source) => Err(StoreError::Io {
                path: path.display().to_string(),
                source,
            }),
        }
    }

    /// Writes the settings file (creating its folder).
    pub fn save(&self) -> Result<PathBuf, StoreError> {
        let path = settings_path().ok_or_else(|| StoreError::BadMeta {
            path: "settings".into(),
            reason: "no config directory: set HOME or XDG_CONFIG_HOME".into(),
        })?;
        let io = |source| StoreError::Io {
            path: path.display().to_string(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let json = serde_json::to_vec_pretty(self).map_err(|e| StoreError::BadMeta {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        crate::store::write_atomic(&path, &json)?;
        Ok(path)
    }

    /// The identity these settings give, with `ARXOS_USER` and the login name as fallbacks.
    pub fn identity(&self) -> Identity {
        let nonempty = |s: Option<String>| s.filter(|s| !s.trim().is_empty());
        let name = nonempty(std::env::var("ARXOS_USER").ok())
            .or_else(|| nonempty(self.name.clone()))
            .or_else(|| nonempty(std::env::var("USER").ok()))
            .or_else(|| nonempty(std::env::var("USERNAME").ok()))
            .unwrap_or_else(|| "anonymous".into());
        let color = self
            .color
            .clone()
            .filter(|c| is_color(c))
            .unwrap_or_else(|| color_for(&name).to_owned());
        Identity { name, color }
    }
}

impl Identity {
    /// The user's identity from the settings file (a damaged file is reported and ignored, so
    /// a bad setting never blocks work).
    pub fn current() -> Self {
        match Settings::load() {
            Ok(s) => s.identity(),
            Err(err) => {
                tracing::warn!(%err, "ignoring unreadable settings");
                Settings::default().identity()
            }
        }
    }

    /// This identity under another name (`--as NAME`), keeping a configured colour only when
    /// the name is the configured one.
    #[must_use]
    pub fn named(self, name: &str) -> Self {
        if name == self.name {
            self
        } else {
            Self {
                name: name.to_owned(),
                color: color_for(name).to_owned(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_are_stable_and_valid() {
        assert_eq!(color_for("ana"), color_for("ana"));
        assert!(PALETTE.iter().all(|c| is_color(c)));
        assert!(!is_color("#12345") && !is_color("123456x") && !is_color("#gggggg"));
    }

    #[test]
    fn settings_file_gives_the_identity() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("settings.json");
        assert_eq!(Settings::load_from(&p).unwrap(), Settings::default());
        std::fs::write(&p, br##"{"name": "Ana", "color": "#112233"}"##).unwrap();
        let s = Settings::load_from(&p).unwrap();
        assert_eq!(s.name.as_deref(), Some("Ana"));
        assert_eq!(s.color.as_deref(), Some("#112233"));
        std::fs::write(&p, b"{not json").unwrap();
        let e = Settings::load_from(&p).unwrap_err().to_string();
        assert!(e.contains("settings.json"), "{e}");
        let bad_colour = Settings {
            name: Some("Bo".into()),
            color: Some("red".into()),
        };
        assert!(is_color(&bad_colour.identity().color));
    }
}
