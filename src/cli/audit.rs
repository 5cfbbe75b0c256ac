//! `arxos audit FILE [--csv | --verified]`: every change with time, author, kind and summary;
//! with `--verified`, beside each the invite the relay saw it come through, and what does not
//! add up (`arxos_session::verified`).

use std::path::PathBuf;

use anyhow::Context as _;
use arxos_doc::audit;
use arxos_doc::file;
use clap::Args;

use super::Out;
use super::output::esc;

/// Options of `arxos audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Plan file.
    file: PathBuf,
    /// Print CSV (a header row, then one row per change).
    #[arg(long, conflicts_with = "verified")]
    csv: bool,
    /// Ask the plan's relay which invite each change came through (the verified origin) and
    /// flag claims that do not match it. Needs the relay's admin token.
    #[arg(long)]
    verified: bool,
    /// The relay to ask (default: the one the plan was last synced with).
    #[arg(long, requires = "verified")]
    relay: Option<String>,
    /// The relay's admin token [env: `ARXOS_ADMIN_TOKEN`].
    #[arg(long, requires = "verified")]
    admin_token: Option<String>,
}

/// One change on one line: time, author, kind, short hash, summary.
fn line(e: &audit::AuditEntry) -> String {
    format!(
        "{}  {:<12} {:<8} {}  {}",
        e.time,
        esc(&e.author),
        e.kind.as_str(),
        &e.change[..12.min(e.change.len())],
        esc(&e.summary)
    )
}

/// `arxos audit …`.
pub fn audit(out: Out, args: &AuditArgs) -> anyhow::Result<()> {
    out.guard(|| {
        if args.verified {
            return verified(out, args);
        }
        let mut doc = file::load(&args.file)?;
        let trail = audit::audit_trail(&mut doc);
        if args.csv {
            let stdout = std::io::stdout();
            return audit::write_csv(&trail, stdout.lock())
                .context("writing CSV to standard output");
        }
        out.emit(&trail, || {
            for e in &trail {
                outln!("{}", line(e));
            }
        })
    })
}

fn verified(out: Out, args: &AuditArgs) -> anyhow::Result<()> {
    let token = args
        .admin_token
        .clone()
        .or_else(|| std::env::var("ARXOS_ADMIN_TOKEN").ok())
        .context(
            "the relay's admin token is needed: pass --admin-token or set ARXOS_ADMIN_TOKEN",
        )?;
    let trail = arxos_session::verified::verified_trail(&args.file, args.relay.as_deref(), &token)?;
    let flagged = trail.iter().filter(|e| !e.flags.is_empty()).count();
    out.emit(&trail, || {
        for v in &trail {
            let via = v.origin.as_ref().map_or_else(
                || "via: no record".to_owned(),
                |o| {
                    if o.label.is_empty() {
                        format!("via invite {} ({})", o.invite, o.role)
                    } else {
                        format!("via invite {} `{}` ({})", o.invite, esc(&o.label), o.role)
                    }
                },
            );
            outln!("{}  [{via}]", line(&v.entry));
            for flag in &v.flags {
                outln!("    ! {}", esc(flag));
            }
        }
        outln!(
            "{} change(s), {flagged} flagged (the author of a change is what its writer claims; the invite is what the relay saw)",
            trail.len()
        );
    })
}
