//! `arxos sync stats FILE` and `arxos sync diagnose FILE`: output around
//! `arxos_session::diagnose` (a file's syncing in numbers; checks that each say what to do).

use std::path::Path;

use anyhow::bail;
use arxos_session::diagnose::{self, Verdict};

use super::Out;
use super::output::esc;

fn when(unix_secs: Option<u64>) -> String {
    unix_secs.map_or_else(
        || "never".to_owned(),
        |t| super::read::timestamp(i64::try_from(t).unwrap_or(0).saturating_mul(1000)),
    )
}

/// `arxos sync stats FILE`.
pub fn run_stats(out: Out, file: &Path) -> anyhow::Result<()> {
    // No running session is asked yet: the numbers are the file's and its sidecar's.
    let s = diagnose::stats(file, arxos_session::control::live_status(file).as_ref())?;
    out.emit(&s, || {
        outln!("{}", esc(&s.file));
        outln!(
            "  plan          {} bytes, {} elements, {} changes",
            s.plan_bytes,
            s.elements,
            s.changes
        );
        if let Some(b) = s.sidecar_bytes {
            outln!("  sidecar       {b} bytes");
        } else {
            outln!("  sidecar       none (never synced)");
        }
        if let (Some(r), Some(d)) = (&s.relay, &s.document) {
            outln!("  relay         {} document {}", esc(r), esc(d));
        } else {
            outln!("  relay         none (never synced)");
        }
        let by: Vec<String> = s
            .pending_by_author
            .iter()
            .map(|(who, n)| format!("{} {n}", esc(who)))
            .collect();
        if by.is_empty() {
            outln!("  pending       {}", s.pending);
        } else {
            outln!("  pending       {} ({})", s.pending, by.join(", "));
        }
        outln!("  refused       {}", s.refused);
        outln!("  acknowledged  {} head(s)", s.acked_heads.len());
        outln!("  last sync     {}", when(s.last_sync));
        if let Some(l) = &s.live {
            let rtt = l
                .rtt_ms
                .map_or(String::new(), |ms| format!(", rtt {ms} ms"));
            outln!(
                "  live          {:?}: {} sent, {} received{rtt}, last error {}",
                l.state,
                l.sent_changes,
                l.received_changes,
                l.last_error
                    .as_deref()
                    .map_or("none".into(), |e| esc(e).to_string())
            );
        }
    })
}

/// `arxos sync diagnose FILE [--timeout-secs N]`: one line per check; fails when one fails.
pub fn run_diagnose(out: Out, file: &Path, timeout_secs: u64) -> anyhow::Result<()> {
    let d = out.guard(|| {
        let timeout = super::sync::positive_secs("--timeout-secs", timeout_secs)?;
        Ok(diagnose::diagnose(
            file,
            arxos_session::control::live_status(file).as_ref(),
            timeout,
        )?)
    })?;
    out.emit(&d, || {
        for c in &d.checks {
            // Messages carry plan ids, paths and relay answers: one check stays one line.
            outln!("{:<8} {}: {}", c.verdict.as_str(), c.name, esc(&c.message));
        }
    })?;
    let failed: Vec<&str> = d
        .checks
        .iter()
        .filter(|c| c.verdict == Verdict::Failed)
        .map(|c| c.name)
        .collect();
    if !failed.is_empty() {
        bail!(
            "{}: {} check(s) failed: {}",
            file.display(),
            failed.len(),
            failed.join(", ")
        );
    }
    Ok(())
}
