//! Output for people or scripts: every command prints either text or one JSON document.

use serde::Serialize;

/// Where and how results are printed.
#[derive(Clone, Copy, Debug)]
pub struct Out {
    /// Print JSON.
    pub json: bool,
}

impl Out {
    /// Prints `value` as JSON when asked, else runs `text` to print for people.
    pub fn emit<T: Serialize>(self, value: &T, text: impl FnOnce()) -> anyhow::Result<()> {
        if self.json {
            outln!("{}", serde_json::to_string_pretty(value)?);
        } else {
            text();
        }
        Ok(())
    }
}

/// Handles a failed write to standard output: a closed pipe is a normal way for a reader to
/// stop listening; anything else is reported once.
pub fn stdout_failed(e: &std::io::Error) -> ! {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    eprintln!("error: cannot write to standard output: {e}");
    std::process::exit(1);
}
