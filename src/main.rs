//! Arxos Studio: the collaborative SVGX floor-plan editor, and the same binary as a headless
//! CLI for scripting (import, export, info, find, get/set, history, generate...).
//!
//! Without a subcommand it opens the editor window (`arxos-editor`) on the file given, or on
//! the bundled sample plan; without a display it says so in one line and exits non-zero.

mod cli;
mod sample;

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ARXOS_LOG")
                // Quiet by default: every command reports its own outcome in one line, and
                // library warnings would break that contract. `ARXOS_LOG=warn` to diagnose.
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off")),
        )
        .with_writer(std::io::stderr)
        .init();
    let parsed = cli::Cli::try_parse().and_then(|a| {
        // Global flags may come before the subcommand (`arxos --json info plan.arx`), so
        // clap cannot be told that FILE and a subcommand exclude each other; say it here.
        if a.file.is_some() && a.command.is_some() {
            Err(<cli::Cli as clap::CommandFactory>::command().error(
                clap::error::ErrorKind::ArgumentConflict,
                "give either a FILE to open in the editor or a command, not both",
            ))
        } else {
            Ok(a)
        }
    });
    let args = match parsed {
        Ok(a) => a,
        Err(e) => {
            // A script that asked for JSON gets JSON for a usage error too, as for any failure.
            if e.use_stderr() && cli::json_in_args(std::env::args_os()) {
                cli::print_usage_error_json(&e);
            }
            // clap prints help/version to stdout and usage errors to stderr.
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", cli::error_line(&e));
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_cause_already_in_the_message_is_not_repeated() {
        let doc = arxos_doc::file::load(std::path::Path::new("/nonexistent/x.arx")).unwrap_err();
        let cause = std::error::Error::source(&doc).unwrap().to_string();
        let e = anyhow::Error::new(doc).context("cannot open the plan");
        let line = super::cli::error_line(&e);
        assert_eq!(line.matches(cause.as_str()).count(), 1, "{line}");
        assert!(
            line.starts_with("cannot open the plan: /nonexistent/x.arx"),
            "{line}"
        );
    }
}
