//! Throttling bad invites per address.
//!
//! Invite secrets are too long to guess, so this is not about brute force: a burst of bad
//! joins (a misconfigured script, a scanner) must not cost a hash check and a log line each,
//! or grow memory. Each address may fail [`FAILURES_PER_WINDOW`] times per [`WINDOW`]; past
//! that its upgrades are answered `429` before the invite is looked at, until the window
//! ends. Failures are summarised in one log line per window instead of one per attempt, and
//! at most [`MAX_ADDRESSES`] addresses are tracked (the rest share one budget), so memory
//! stays bounded whatever arrives.
//!
//! An admitted check takes its slot of the budget at once and gives it back when the invite
//! turns out good ([`AuthLimiter::succeeded`]): connections are checked in parallel, and
//! counting only finished failures would let a burst through before the first was counted.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// How long an address's failure count lasts.
pub(crate) const WINDOW: Duration = Duration::from_secs(10);
/// Failed joins an address may make per window before it is throttled.
pub(crate) const FAILURES_PER_WINDOW: u32 = 20;
/// Addresses tracked per window; beyond, new addresses share one budget.
const MAX_ADDRESSES: usize = 4096;

/// The verdict on an upgrade before its invite is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admit {
    /// Check the invite.
    Check,
    /// Too many failures from this address lately: refuse without checking.
    Throttled,
}

#[derive(Debug)]
struct Window {
    started: Instant,
    failures: HashMap<IpAddr, u32>,
    /// Failures of addresses that did not fit in `failures`.
    overflow: u32,
    total_failures: u64,
    throttled: u64,
}

impl Window {
    fn new(now: Instant) -> Self {
        Self {
            started: now,
            failures: HashMap::new(),
            overflow: 0,
            total_failures: 0,
            throttled: 0,
        }
    }

    fn count(&self, ip: IpAddr) -> u32 {
        self.failures.get(&ip).copied().unwrap_or(self.overflow)
    }

    /// Takes one slot of `ip`'s budget (or of the shared one when the table is full).
    fn take(&mut self, ip: IpAddr) {
        let fits = self.failures.len() < MAX_ADDRESSES || self.failures.contains_key(&ip);
        if fits {
            *self.failures.entry(ip).or_insert(0) += 1;
        } else {
            self.overflow = self.overflow.saturating_add(1);
        }
    }

    /// Gives one slot back.
    fn give_back(&mut self, ip: IpAddr) {
        match self.failures.get_mut(&ip) {
            Some(n) => *n = n.saturating_sub(1),
            None => self.overflow = self.overflow.saturating_sub(1),
        }
    }
}

/// Per-address failure budgets for invite checks.
#[derive(Debug)]
pub(crate) struct AuthLimiter {
    window: Mutex<Window>,
}

impl AuthLimiter {
    pub(crate) fn new() -> Self {
        Self {
            window: Mutex::new(Window::new(Instant::now())),
        }
    }

    /// The current window, rolled over (with its summary logged) when it has ended.
    fn current(&self) -> std::sync::MutexGuard<'_, Window> {
        let mut w = self
            .window
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        if now.duration_since(w.started) >= WINDOW {
            if w.total_failures > 0 {
                let worst = w.failures.iter().max_by_key(|(_, n)| **n);
                tracing::warn!(
                    failures = w.total_failures,
                    throttled = w.throttled,
                    addresses = w.failures.len(),
                    worst = ?worst.map(|(ip, n)| format!("{ip} ({n})")),
                    window_secs = WINDOW.as_secs(),
                    "refused joins with bad invites"
                );
            }
            *w = Window::new(now);
        }
        w
    }

    /// Whether an upgrade from `ip` may have its invite checked; an admitted check holds a
    /// slot of the budget until [`Self::failed`] keeps it or [`Self::succeeded`] returns it.
    pub(crate) fn admit(&self, ip: Option<IpAddr>) -> Admit {
        let Some(ip) = ip else { return Admit::Check };
        let mut w = self.current();
        if w.count(ip) >= FAILURES_PER_WINDOW {
            w.throttled += 1;
            if w.throttled == 1 {
                // The first throttle of a window is told at once; the rest in its summary.
                tracing::warn!(%ip, failures = FAILURES_PER_WINDOW, window_secs = WINDOW.as_secs(), "throttling joins with bad invites");
            }
            Admit::Throttled
        } else {
            w.take(ip);
            Admit::Check
        }
    }

    /// Records that an admitted check from `ip` failed: its slot stays taken.
    pub(crate) fn failed(&self, ip: Option<IpAddr>) {
        if ip.is_some() {
            self.current().total_failures += 1;
        }
    }

    /// Records that an admitted check from `ip` found a good invite (or could not be made):
    /// its slot is given back.
    pub(crate) fn succeeded(&self, ip: Option<IpAddr>) {
        let Some(ip) = ip else { return };
        self.current().give_back(ip);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn an_address_is_throttled_after_its_budget_until_the_window_ends() {
        let limiter = AuthLimiter::new();
        let bad: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..FAILURES_PER_WINDOW {
            assert_eq!(limiter.admit(Some(bad)), Admit::Check);
            limiter.failed(Some(bad));
        }
        assert_eq!(limiter.admit(Some(bad)), Admit::Throttled);
        assert_eq!(
            limiter.admit(Some(other)),
            Admit::Check,
            "others unaffected"
        );
        assert_eq!(limiter.admit(None), Admit::Check, "in-process connections");
        // Checks in flight hold their slots: a parallel burst cannot pass the budget...
        let burst: IpAddr = "192.0.2.3".parse().unwrap();
        for _ in 0..FAILURES_PER_WINDOW {
            assert_eq!(limiter.admit(Some(burst)), Admit::Check);
        }
        assert_eq!(limiter.admit(Some(burst)), Admit::Throttled);
        // ...and a good invite gives its slot back.
        limiter.succeeded(Some(burst));
        assert_eq!(limiter.admit(Some(burst)), Admit::Check);
        tokio::time::advance(WINDOW).await;
        assert_eq!(limiter.admit(Some(bad)), Admit::Check);
    }

    #[tokio::test(start_paused = true)]
    async fn memory_stays_bounded_under_many_addresses() {
        let limiter = AuthLimiter::new();
        for i in 0..(MAX_ADDRESSES as u32 + 1000) {
            let ip = Some(IpAddr::from(i.to_be_bytes()));
            if limiter.admit(ip) == Admit::Check {
                limiter.failed(ip);
            }
        }
        let w = limiter.current();
        assert_eq!(w.failures.len(), MAX_ADDRESSES);
        // Addresses past the table share one budget: 20 checked, the rest throttled.
        assert_eq!(w.overflow, FAILURES_PER_WINDOW);
        assert_eq!(w.throttled, 1000 - u64::from(FAILURES_PER_WINDOW));
    }
}
