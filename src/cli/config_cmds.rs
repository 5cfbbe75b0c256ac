//! `arxos config get|set|list|unset`: argument parsing and output over
//! `arxos_session::config`, where the files, layers and checks live.

use anyhow::Context as _;
use arxos_session::config::{self, Config, Entry, Origin, Paths, Scope};
use clap::Subcommand;

use super::Out;

/// Subcommands of `arxos config`.
#[derive(Debug, Subcommand)]
pub enum ConfigCmd {
    /// Print a setting's effective value, or every setting of a section (`arxos config get sync`).
    Get {
        /// `section.key` or `section`.
        key: String,
    },
    /// Set a value (`KEY=VALUE` or `KEY VALUE`) in the global file, or the project's with --project.
    Set {
        /// `KEY=VALUE`, or `KEY` followed by the value.
        key: String,
        /// The value, when not given as `KEY=VALUE`.
        value: Option<String>,
        /// Write the project's `arxfile.json` instead of the global file.
        #[arg(long)]
        project: bool,
    },
    /// Every setting with a value, and where it comes from.
    List,
    /// Remove a value from the global file, or the project's with --project.
    Unset {
        /// `section.key`.
        key: String,
        /// Remove it from the project's `arxfile.json` instead.
        #[arg(long)]
        project: bool,
    },
}

fn paths() -> anyhow::Result<Paths> {
    let cwd = std::env::current_dir().context("cannot read the working folder")?;
    Ok(Paths::discover(&cwd))
}

/// The layered configuration this run sees: flags (`-c KEY=VALUE`), project, global.
pub fn load(flags: &[String]) -> anyhow::Result<Config> {
    Ok(Config::load(paths()?)?.with_flags(flags)?)
}

fn origin(e: &Entry) -> String {
    match (&e.origin, &e.file) {
        (Origin::Flag, _) => "flag".into(),
        (Origin::Default, _) => "default".into(),
        (o, Some(f)) => format!("{}: {}", format!("{o:?}").to_lowercase(), f.display()),
        (o, None) => format!("{o:?}").to_lowercase(),
    }
}

fn print_entries(entries: &[Entry]) {
    for e in entries {
        outln!(
            "{} = {}  ({})",
            e.key,
            super::output::esc(&config::keys::display(&e.value)),
            origin(e)
        );
    }
}

/// `arxos config …`.
pub fn run_config(out: Out, flags: &[String], cmd: ConfigCmd) -> anyhow::Result<()> {
    out.guard(|| match cmd {
        ConfigCmd::Get { key } => {
            let c = load(flags)?;
            if config::keys::is_section(key.trim()) {
                let entries = c.get_section(&key)?;
                return out.emit(&entries, || print_entries(&entries));
            }
            let e = c
                .get(&key)?
                .with_context(|| format!("{} is not set", key.trim()))?;
            out.emit(&e, || {
                outln!("{}", super::output::esc(&config::keys::display(&e.value)));
            })
        }
        ConfigCmd::List => {
            let entries = load(flags)?.list();
            out.emit(&entries, || print_entries(&entries))
        }
        ConfigCmd::Set {
            key,
            value,
            project,
        } => {
            let (key, text) = match &value {
                Some(v) if !key.contains('=') => (key.as_str(), v.as_str()),
                Some(_) => anyhow::bail!("give KEY=VALUE or KEY VALUE, not both"),
                None => config::split_assignment(&key)?,
            };
            let scope = if project {
                Scope::Project
            } else {
                Scope::Global
            };
            let e = config::set(&paths()?, scope, key, text)?;
            out.emit(&e, || {
                outln!(
                    "{} = {}  ({})",
                    e.key,
                    super::output::esc(&config::keys::display(&e.value)),
                    origin(&e)
                );
            })
        }
        ConfigCmd::Unset { key, project } => {
            let scope = if project {
                Scope::Project
            } else {
                Scope::Global
            };
            let removed = config::unset(&paths()?, scope, &key)?;
            let r = serde_json::json!({ "key": key.trim(), "removed": removed });
            out.emit(&r, || {
                if removed {
                    outln!("unset {}", key.trim());
                } else {
                    outln!("{} was not set there", key.trim());
                }
            })
        }
    })
}
