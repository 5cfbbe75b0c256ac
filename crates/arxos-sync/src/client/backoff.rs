//! Exponential reconnect backoff with jitter.

use std::time::Duration;

use crate::protocol::random_bytes;

/// Reconnect delays: `initial * 2^attempt`, capped at `max`, each scaled by a random factor in
/// `[0.5, 1.0)` so that many clients dropped at once do not reconnect in lockstep.
#[derive(Clone, Copy, Debug)]
pub struct Backoff {
    /// Delay before the first retry.
    pub initial: Duration,
    /// Upper bound.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(250),
            max: Duration::from_secs(30),
        }
    }
}

impl Backoff {
    /// The delay before retry number `attempt` (0-based).
    pub fn delay(&self, attempt: u32) -> Duration {
        let base = self
            .initial
            .saturating_mul(1_u32.checked_shl(attempt.min(20)).unwrap_or(u32::MAX))
            .min(self.max);
        let mut r = [0_u8; 2];
        random_bytes(&mut r);
        let jitter = 0.5 + f64::from(u16::from_le_bytes(r)) / f64::from(u16::MAX) / 2.0;
        base.mul_f64(jitter.min(1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_caps_and_jitters() {
        let b = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(2),
        };
        for attempt in 0..40 {
            let d = b.delay(attempt);
            let base = (100_u64 << attempt.min(20)).min(2000);
            assert!(d <= Duration::from_millis(base), "attempt {attempt}: {d:?}");
            assert!(
                d >= Duration::from_millis(base / 2 - 1),
                "attempt {attempt}: {d:?}"
            );
        }
    }
}
