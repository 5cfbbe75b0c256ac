//! Arxos Studio: the collaborative SVGX floor-plan editor, and the same binary as a headless
//! CLI for scripting (import, export, info, find, get/set, history, generate...).
//!
//! Until the GUI lands, running with no arguments prints the bundled sample plan's summary
//! and the command help.

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
    let args = match cli::Cli::try_parse() {
        Ok(a) => a,
        Err(e) => {
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
            // One line, the whole cause chain: scripts grep it, people read it.
            let msg = e
                .chain()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(": ");
            eprintln!("error: {msg}");
            ExitCode::FAILURE
        }
    }
}
