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

/// Text from the plan (author names, tags, names, free text, values) shown inside one line of
/// output: line breaks and other control characters are escaped (`\n`, `\r`, `\t`, `\u{1b}`)
/// and a backslash is doubled, so that one record stays one line for `grep`, `cut` and
/// `while read`. JSON output carries the text as it is.
pub fn esc(text: &str) -> Esc<'_> {
    Esc(text)
}

/// See [`esc`]; padding (`{:<12}`) applies to the escaped text.
pub struct Esc<'a>(&'a str);

impl std::fmt::Display for Esc<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.0.chars().any(|c| c.is_control() || c == '\\') {
            return f.pad(self.0);
        }
        let mut s = String::with_capacity(self.0.len() + 8);
        for c in self.0.chars() {
            match c {
                '\\' => s.push_str("\\\\"),
                '\n' => s.push_str("\\n"),
                '\r' => s.push_str("\\r"),
                '\t' => s.push_str("\\t"),
                c if c.is_control() => s.push_str(&c.escape_unicode().to_string()),
                c => s.push(c),
            }
        }
        f.pad(&s)
    }
}

impl Out {
    /// Runs a command; with `--json`, a failure is also printed on standard output as one JSON
    /// object, `{"error": "<the one-line message>", "causes": [...]}`, so a script reading the
    /// JSON always gets JSON. The error is still returned: the exit status is non-zero and the
    /// one-line message goes to standard error as in text mode.
    pub fn guard<T>(self, run: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<T> {
        let result = run();
        if self.json
            && let Err(e) = &result
        {
            let causes: Vec<String> = e.chain().map(ToString::to_string).collect();
            let v = serde_json::json!({ "error": error_line(e), "causes": causes });
            outln!("{v}");
        }
        result
    }
}

/// Whether the raw arguments ask for `--json`, for a usage error, when clap did not get as far
/// as saying so: `--json` is a global flag, so it counts anywhere before a `--` (after which
/// every argument is a value). `--json=true` is not counted: clap refuses it.
pub fn json_in_args<A: AsRef<std::ffi::OsStr>>(args: impl IntoIterator<Item = A>) -> bool {
    args.into_iter()
        .skip(1)
        .map_while(|a| (a.as_ref() != "--").then(|| a.as_ref() == "--json"))
        .any(|json| json)
}

/// With `--json`, a usage error clap found (unknown flag, missing argument, bad value) as the
/// object a failed command prints (see [`Out::guard`]) on standard output: `error` is clap's
/// message on one line and `causes` adds its tips. Clap's own text still goes to standard
/// error, as in text mode.
pub fn print_usage_error_json(e: &clap::Error) {
    let text = e.render().to_string();
    // Clap's message is its first paragraph (a list of missing arguments continues on the
    // lines below); tips, the usage and the `--help` hint follow after blank lines.
    let error = text
        .split("\n\n")
        .next()
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let error = error.strip_prefix("error: ").unwrap_or(&error);
    let causes: Vec<&str> = std::iter::once(error)
        .chain(
            text.lines()
                .map(str::trim)
                .filter(|l| l.starts_with("tip: ")),
        )
        .collect();
    outln!(
        "{}",
        serde_json::json!({ "error": error, "causes": causes })
    );
}

/// The whole cause chain on one line, each cause once (a cause already shown in the message
/// before it is not repeated).
pub fn error_line(e: &anyhow::Error) -> String {
    let mut msg = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if msg.contains(&text) {
            continue;
        }
        if !msg.is_empty() {
            msg.push_str(": ");
        }
        msg.push_str(&text);
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::{esc, json_in_args};

    #[test]
    fn json_is_asked_for_anywhere_before_a_double_dash() {
        assert!(json_in_args(["arxos", "--json", "info", "--bogus"]));
        assert!(json_in_args(["arxos", "info", "p.arx", "--json"]));
        assert!(!json_in_args(["arxos", "info", "--", "--json"]));
        assert!(
            !json_in_args(["--json", "info"]),
            "the program name is not a flag"
        );
        assert!(!json_in_args(["arxos", "info", "--jsonx"]));
    }

    #[test]
    fn escaped_text_stays_on_one_line_and_pads() {
        assert_eq!(esc("ana").to_string(), "ana");
        assert_eq!(
            esc("ana\nforged 2026 line\r\t\u{1b}[2J").to_string(),
            "ana\\nforged 2026 line\\r\\t\\u{1b}[2J"
        );
        assert_eq!(esc(r"C:\plans").to_string(), r"C:\\plans");
        assert_eq!(format!("[{:<6}]", esc("a\nb")), "[a\\nb  ]");
    }
}
