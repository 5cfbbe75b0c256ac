//! `arxos sync stats FILE` and `arxos sync diagnose FILE`: what a plan file's syncing looks
//! like in numbers ([`stats()`]: sizes, changes, pending changes by author, refusals, the
//! acknowledged heads, a running session's counters), and a list of checks that each say what
//! is wrong and what to do ([`diagnose`]: file health, the sidecar, the remembered invite, the
//! relay reachable, the invite accepted, the room's plan, clock skew, pending and refused
//! changes, a running session's last error). Typed reports; nothing is printed or written.

mod stats;

use std::path::Path;
use std::time::Duration;

use arxos_sync::client::{ConnectionState, Probe, ProbeError, SyncStatus, probe};
use arxos_sync::store::{LocalStore, SyncMeta};
use arxos_sync::{Grant, InviteCode, Role};
use serde::Serialize;

pub use stats::{LiveStats, Stats, stats};

use crate::SessionError;
use crate::health;
use crate::status::{acked_heads, remembered_room};

/// How a check came out; ordered from best to worst (a skipped check is no problem).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Fine.
    Ok,
    /// Not checked: something it depends on failed or is missing (the message says what).
    Skipped,
    /// Works, but someone should look.
    Warning,
    /// Broken: syncing cannot work until this is fixed.
    Failed,
}

impl Verdict {
    /// The verdict's name as printed (`ok`, `skipped`, `warning`, `failed`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Skipped => "skipped",
            Self::Warning => "warning",
            Self::Failed => "failed",
        }
    }
}

/// One check of [`diagnose`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Check {
    /// What was checked (one of the `CHECK_*` names).
    pub name: &'static str,
    /// How it came out.
    pub verdict: Verdict,
    /// One line: what was found and, when it is not ok, what to do.
    pub message: String,
}

/// The plan file and its sidecars (`arxos health`).
pub const CHECK_HEALTH: &str = "file health";
/// The sync sidecar parses.
pub const CHECK_SIDECAR: &str = "sidecar readable";
/// The sidecar remembers an invite.
pub const CHECK_INVITE: &str = "invite remembered";
/// Something answers at the relay's address.
pub const CHECK_RELAY: &str = "relay reachable";
/// The relay accepts the invite.
pub const CHECK_ACCEPTED: &str = "invite valid";
/// The room holds this file's plan.
pub const CHECK_PLAN: &str = "room plan";
/// This machine's clock agrees with the relay's.
pub const CHECK_CLOCK: &str = "clock skew";
/// Local changes waiting for the relay.
pub const CHECK_PENDING: &str = "pending";
/// Changes the relay refused.
pub const CHECK_REFUSED: &str = "refused";
/// A running session's state.
pub const CHECK_LIVE: &str = "live session";

fn check(name: &'static str, verdict: Verdict, message: impl Into<String>) -> Check {
    Check {
        name,
        verdict,
        message: message.into(),
    }
}

/// A clock difference larger than this is worth a warning: change times would look wrong to
/// the others, and times compared across machines (lease expiry, "last sync") would mislead.
pub const SKEW_WARN_MS: u64 = 5_000;

/// Everything [`diagnose`] found.
#[derive(Clone, Debug, Serialize)]
pub struct Diagnosis {
    /// The plan file.
    pub file: String,
    /// The worst verdict of the checks.
    pub verdict: Verdict,
    /// The relay of the remembered invite.
    pub relay: Option<String>,
    /// Our role, as the relay said.
    pub role: Option<Role>,
    /// Our write grant, when narrowed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grant: Option<Grant>,
    /// One ping's round trip to the relay, in milliseconds.
    pub rtt_ms: Option<f64>,
    /// The relay's clock minus ours, in milliseconds (positive: the relay is ahead).
    pub clock_skew_ms: Option<i64>,
    /// The checks, in a fixed order.
    pub checks: Vec<Check>,
    /// The file health checks behind [`CHECK_HEALTH`], each one.
    pub health: Vec<health::Check>,
}

impl Diagnosis {
    /// Whether a check failed.
    pub fn failed(&self) -> bool {
        self.verdict == Verdict::Failed
    }

    /// The check called `name`.
    pub fn check(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }
}

/// The worst verdict among `checks` (ok when there are none).
pub fn worst(checks: &[Check]) -> Verdict {
    checks
        .iter()
        .map(|c| c.verdict)
        .max()
        .unwrap_or(Verdict::Ok)
}

/// Checks what stands between `file` and a working sync, connecting to the relay once
/// (without syncing anything); `timeout` bounds that connection, so a relay that is down costs
/// at most that long. `live` is a running session's status, when there is one to ask. Blocks:
/// call it off any async runtime.
pub fn diagnose(
    file: &Path,
    live: Option<&SyncStatus>,
    timeout: Duration,
) -> Result<Diagnosis, SessionError> {
    let health = health::check_file(file);
    let mut checks = vec![health_check(&health, file)];
    let store = LocalStore::beside(file);
    let meta = store.load_meta();
    checks.push(match &meta {
        Ok(_) if !store.meta_path().exists() => {
            check(CHECK_SIDECAR, Verdict::Ok, "none yet (never synced)")
        }
        Ok(_) => check(
            CHECK_SIDECAR,
            Verdict::Ok,
            store.meta_path().display().to_string(),
        ),
        Err(e) => check(
            CHECK_SIDECAR,
            Verdict::Failed,
            format!(
                "{e}: move it aside, then sync once with an invite (arxos sync {} --invite CODE)",
                file.display()
            ),
        ),
    });
    let meta = meta.ok();
    let (invite, invite_check) = invite_check(meta.as_ref(), file);
    checks.push(invite_check);
    let probed = match &invite {
        Some(invite) => Some(run_probe(invite, timeout)?),
        None => None,
    };
    // Health loaded the plan for its own checks only; this copy gives its id and pending count.
    let mut plan = arxos_doc::file::load(file).ok();
    let ours = plan.as_ref().and_then(|d| d.plan_id().map(str::to_owned));
    let against = invite
        .as_ref()
        .map(|i| i.relay.as_str())
        .zip(probed.as_ref());
    checks.extend(network_checks(against, ours.as_deref(), file));
    checks.extend(count_checks(
        file,
        plan.as_mut(),
        meta.as_ref(),
        invite.is_some(),
    ));
    if let Some(live) = live {
        checks.push(live_check(live));
    }
    let probe = probed.and_then(Result::ok);
    Ok(Diagnosis {
        file: file.display().to_string(),
        verdict: worst(&checks),
        relay: invite.map(|i| i.relay),
        role: probe.as_ref().and_then(|p| p.role),
        grant: probe.as_ref().and_then(|p| p.grant.clone()),
        rtt_ms: probe.as_ref().and_then(|p| p.rtt_ms),
        clock_skew_ms: probe.as_ref().and_then(|p| {
            p.relay_time_ms
                .map(|relay| skew_ms(p.sent_at_ms, relay, p.received_at_ms))
        }),
        checks,
        health,
    })
}

fn run_probe(
    invite: &InviteCode,
    timeout: Duration,
) -> Result<Result<Probe, ProbeError>, SessionError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| SessionError::Invalid(format!("cannot start the async runtime: {e}")))?;
    let ca = arxos_sync::tls::ca_from_env();
    let probed = rt.block_on(probe(invite, timeout, ca.as_deref()));
    if let Err(err) = &probed {
        tracing::debug!(relay = %invite.relay, %err, "relay probe failed");
    }
    Ok(probed)
}

fn health_check(checks: &[health::Check], file: &Path) -> Check {
    let first = |level| checks.iter().find(|c| c.level == level);
    if let Some(c) = first(health::Level::Fail) {
        return check(
            CHECK_HEALTH,
            Verdict::Failed,
            format!(
                "{}: {} (arxos health {} lists every check)",
                c.name,
                c.detail,
                file.display()
            ),
        );
    }
    if let Some(c) = first(health::Level::Warn) {
        return check(
            CHECK_HEALTH,
            Verdict::Warning,
            format!("{}: {}", c.name, c.detail),
        );
    }
    let plan = checks.iter().find(|c| c.name == "plan");
    check(
        CHECK_HEALTH,
        Verdict::Ok,
        plan.map_or_else(|| "fine".to_owned(), |c| c.detail.clone()),
    )
}

fn invite_check(meta: Option<&SyncMeta>, file: &Path) -> (Option<InviteCode>, Check) {
    let Some(meta) = meta else {
        return (
            None,
            check(CHECK_INVITE, Verdict::Skipped, "the sidecar cannot be read"),
        );
    };
    let again = format!("arxos sync {} --invite CODE", file.display());
    match meta.invite.as_deref().map(InviteCode::parse) {
        None => (
            None,
            check(
                CHECK_INVITE,
                Verdict::Failed,
                format!(
                    "{} was never synced: pass an invite once ({again})",
                    file.display()
                ),
            ),
        ),
        Some(Err(e)) => (
            None,
            check(
                CHECK_INVITE,
                Verdict::Failed,
                format!("the remembered invite is damaged ({e}): pass it again ({again})"),
            ),
        ),
        Some(Ok(i)) => {
            let msg = format!("relay {}, document {}", i.relay, i.document_id);
            (Some(i), check(CHECK_INVITE, Verdict::Ok, msg))
        }
    }
}

fn rtt_text(rtt_ms: Option<f64>) -> String {
    match rtt_ms {
        Some(ms) if ms < 10.0 => format!("rtt {ms:.1} ms"),
        Some(ms) => format!("rtt {ms:.0} ms"),
        None => "no answer to a ping".into(),
    }
}

fn grant_text(grant: Option<&Grant>) -> String {
    let Some(g) = grant.filter(|g| g.is_narrowed()) else {
        return String::new();
    };
    let mut parts = Vec::new();
    if !g.floors.is_empty() {
        parts.push(format!("floors {}", g.floors.join(", ")));
    }
    if !g.layers.is_empty() {
        parts.push(format!("layers {}", g.layers.join(", ")));
    }
    format!(", editing only {}", parts.join("; "))
}

/// The relay, invite, plan and clock checks from a probe (`None`: there was nothing to probe).
fn network_checks(
    probed: Option<(&str, &Result<Probe, ProbeError>)>,
    ours: Option<&str>,
    file: &Path,
) -> Vec<Check> {
    let skip = |name, why: &str| check(name, Verdict::Skipped, why);
    let Some((relay, probed)) = probed else {
        let why = "no invite to find the relay by";
        return [CHECK_RELAY, CHECK_ACCEPTED, CHECK_PLAN, CHECK_CLOCK]
            .map(|n| skip(n, why))
            .into();
    };
    let p = match probed {
        Ok(p) => p,
        Err(ProbeError::Unreachable(why)) => {
            let unreachable = "the relay cannot be reached";
            return vec![
                check(
                    CHECK_RELAY,
                    Verdict::Failed,
                    format!("{why} (is the relay running, and is its address right?)"),
                ),
                skip(CHECK_ACCEPTED, unreachable),
                skip(CHECK_PLAN, unreachable),
                skip(CHECK_CLOCK, unreachable),
            ];
        }
        Err(e) => {
            let what = match e {
                ProbeError::Refused(why) => format!(
                    "{why}: ask the plan's owner for a new invite, then arxos sync {} --invite CODE",
                    file.display()
                ),
                other => format!("the relay answered, but {other}"),
            };
            let refused = "the relay did not let us in";
            return vec![
                check(CHECK_RELAY, Verdict::Ok, format!("{relay} answered")),
                check(CHECK_ACCEPTED, Verdict::Failed, what),
                skip(CHECK_PLAN, refused),
                skip(CHECK_CLOCK, refused),
            ];
        }
    };
    let role = p.role.map_or_else(
        || "accepted (the relay does not say as what)".to_owned(),
        |r| format!("accepted as {r}{}", grant_text(p.grant.as_ref())),
    );
    let plan = match (ours, p.plan_id.as_deref()) {
        (None, _) => skip(CHECK_PLAN, "the plan does not load"),
        (Some(_), None) => check(
            CHECK_PLAN,
            Verdict::Warning,
            format!(
                "the room holds no plan yet (arxos sync {} sends this one)",
                file.display()
            ),
        ),
        (Some(a), Some(b)) if a == b => check(CHECK_PLAN, Verdict::Ok, format!("plan {a}")),
        (Some(a), Some(b)) => check(
            CHECK_PLAN,
            Verdict::Failed,
            format!(
                "{} holds plan {a}, the room holds plan {b}: nothing will sync (clone the session into a new file: arxos clone CODE -o NEW.arx)",
                file.display()
            ),
        ),
    };
    let clock = match p.relay_time_ms {
        Some(relay) => clock_check(p.sent_at_ms, relay, p.received_at_ms),
        None => skip(
            CHECK_CLOCK,
            "the relay does not tell its time (an older relay)",
        ),
    };
    vec![
        check(
            CHECK_RELAY,
            Verdict::Ok,
            format!("{} ({})", p.relay, rtt_text(p.rtt_ms)),
        ),
        check(CHECK_ACCEPTED, Verdict::Ok, role),
        plan,
        clock,
    ]
}

/// The relay's clock minus ours: its time against the midpoint of our send and receive times
/// (the relay stamped its answer somewhere between them).
pub fn skew_ms(sent_ms: u64, relay_ms: u64, received_ms: u64) -> i64 {
    let mid = i128::midpoint(i128::from(sent_ms), i128::from(received_ms));
    i64::try_from(i128::from(relay_ms) - mid).unwrap_or(i64::MAX)
}

fn seconds(ms: u64) -> String {
    format!("{:.1} s", ms as f64 / 1000.0)
}

/// The clock check from our send and receive times around the relay's time.
pub fn clock_check(sent_ms: u64, relay_ms: u64, received_ms: u64) -> Check {
    let skew = skew_ms(sent_ms, relay_ms, received_ms);
    // Half the round trip: how far off the midpoint can be.
    let within = received_ms.saturating_sub(sent_ms) / 2;
    let off = skew.unsigned_abs();
    let way = match skew.signum() {
        1 => "behind",
        -1 => "ahead of",
        _ => "off",
    };
    if off > SKEW_WARN_MS {
        return check(
            CHECK_CLOCK,
            Verdict::Warning,
            format!(
                "this machine's clock is {} {way} the relay's: change times will look wrong to others; turn on network time (timedatectl set-ntp true)",
                seconds(off)
            ),
        );
    }
    check(
        CHECK_CLOCK,
        Verdict::Ok,
        format!("{off} ms {way} the relay's (±{within} ms)"),
    )
}

/// The pending and refused counts, from the file and its sidecar.
fn count_checks(
    file: &Path,
    plan: Option<&mut arxos_doc::Document>,
    meta: Option<&SyncMeta>,
    synced: bool,
) -> [Check; 2] {
    let (Some(meta), true) = (meta, synced) else {
        let why = "nothing is synced yet";
        return [
            check(CHECK_PENDING, Verdict::Skipped, why),
            check(CHECK_REFUSED, Verdict::Skipped, why),
        ];
    };
    let (_, state) = remembered_room(meta);
    let pending = plan.map(|doc| {
        arxos_sync::store::pending_changes(doc, &acked_heads(state), &meta.refused_hashes())
    });
    [
        match pending {
            None => check(CHECK_PENDING, Verdict::Skipped, "the plan does not load"),
            Some(n) => pending_check(n, file),
        },
        refused_check(meta.refused.len(), file),
    ]
}

/// The pending check for `n` changes waiting.
pub fn pending_check(n: usize, file: &Path) -> Check {
    if n == 0 {
        return check(CHECK_PENDING, Verdict::Ok, "nothing waits for the relay");
    }
    check(
        CHECK_PENDING,
        Verdict::Warning,
        format!(
            "{n} local change(s) not on the relay yet (arxos sync {} sends them)",
            file.display()
        ),
    )
}

/// The refused check for `n` refused changes.
pub fn refused_check(n: usize, file: &Path) -> Check {
    if n == 0 {
        return check(CHECK_REFUSED, Verdict::Ok, "the relay refused nothing");
    }
    check(
        CHECK_REFUSED,
        Verdict::Warning,
        format!(
            "the relay refused {n} change(s): arxos sync {} --discard-refused sets them aside so later edits sync",
            file.display()
        ),
    )
}

/// The check of a running session's status.
pub fn live_check(s: &SyncStatus) -> Check {
    if s.rejected {
        let error = s.last_error.as_deref().unwrap_or("no reason given");
        return check(
            CHECK_LIVE,
            Verdict::Failed,
            format!("stopped: {error} (it will not retry; fix the invite and start it again)"),
        );
    }
    if s.paused {
        return check(
            CHECK_LIVE,
            Verdict::Warning,
            format!(
                "auto-sync is paused: {} change(s) queued (`arxos sync resume FILE` sends them)",
                s.pending
            ),
        );
    }
    if s.state == ConnectionState::Offline {
        return match &s.last_error {
            Some(e) => check(
                CHECK_LIVE,
                Verdict::Warning,
                format!("offline, retrying: {e}"),
            ),
            None => check(CHECK_LIVE, Verdict::Ok, "connecting"),
        };
    }
    let state = match s.state {
        ConnectionState::Syncing => "syncing",
        ConnectionState::Conflict => "in sync, with conflicts",
        ConnectionState::Connected | ConnectionState::Offline => "in sync",
    };
    let rtt = s
        .rtt_ms
        .map_or(String::new(), |ms| format!(", rtt {ms} ms"));
    check(
        CHECK_LIVE,
        Verdict::Ok,
        format!(
            "{state}: {} sent, {} received this run{rtt}",
            s.sent_changes, s.received_changes
        ),
    )
}

#[cfg(test)]
mod tests;
