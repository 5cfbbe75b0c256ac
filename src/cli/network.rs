//! `arxos network latency-test CODE`: argument parsing and output over
//! `arxos_session::latency`.

use std::time::Duration;

use anyhow::bail;
use clap::Subcommand;

use super::Out;

/// Subcommands of `arxos network`.
#[derive(Debug, Subcommand)]
pub enum NetworkCmd {
    /// Round trips to the relay behind an invite: min, median, p99, max (nothing is synced).
    LatencyTest {
        /// Invite code.
        code: String,
        /// How many round trips.
        #[arg(long, default_value_t = 20)]
        count: usize,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 30)]
        timeout_secs: u64,
    },
}

/// `arxos network …`.
pub fn run_network(out: Out, cmd: NetworkCmd) -> anyhow::Result<()> {
    out.guard(|| match cmd {
        NetworkCmd::LatencyTest {
            code,
            count,
            timeout_secs,
        } => {
            if timeout_secs == 0 {
                bail!("--timeout-secs must be at least 1 second (0 would give up before trying)");
            }
            let invite = arxos_sync::InviteCode::parse(code.trim())
                .map_err(|e| anyhow::anyhow!("bad invite code: {e}"))?;
            let l =
                arxos_session::latency::measure(&invite, count, Duration::from_secs(timeout_secs))?;
            out.emit(&l, || {
                outln!(
                    "{}: {} round trips, min {:.2} ms, median {:.2} ms, p99 {:.2} ms, max {:.2} ms",
                    l.relay,
                    l.samples,
                    l.min_ms,
                    l.median_ms,
                    l.p99_ms,
                    l.max_ms
                );
            })
        }
    })
}
