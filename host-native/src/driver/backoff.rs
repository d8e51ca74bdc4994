//! Reconnect delays: exponential, bounded, with a deterministic jitter.

use std::time::Duration;

/// Produces the delays between reconnect attempts.
///
/// The n-th delay (from 0) is `min * 2^n` capped at `max`, then scaled by a factor in
/// `[0.5, 1.0]` taken from a counter, and never below `min`. [`Backoff::reset`] starts again
/// from `min` after a successful connection.
#[derive(Debug)]
pub(crate) struct Backoff {
    min: Duration,
    max: Duration,
    attempt: u32,
    counter: u64,
}

impl Backoff {
    pub(crate) fn new(min: Duration, max: Duration) -> Self {
        Self {
            min,
            max: max.max(min),
            attempt: 0,
            counter: 0,
        }
    }

    /// The delay before the next attempt.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let exp = self.min.saturating_mul(1u32 << self.attempt.min(20));
        let base = exp.min(self.max);
        self.attempt = self.attempt.saturating_add(1);
        self.counter = self.counter.wrapping_add(1);
        // 50..=100 percent, spread by a multiplicative step over the counter.
        let percent = 50 + (self.counter.wrapping_mul(37) % 51) as u32;
        (base * percent / 100).max(self.min)
    }

    /// Back to the shortest delay.
    pub(crate) fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_stay_bounded_and_reset() {
        let min = Duration::from_millis(50);
        let max = Duration::from_secs(1);
        let mut backoff = Backoff::new(min, max);
        let delays: Vec<Duration> = (0..12).map(|_| backoff.next_delay()).collect();
        assert!(delays.iter().all(|d| *d >= min && *d <= max), "{delays:?}");
        assert!(delays[8] > delays[0], "{delays:?}");
        backoff.reset();
        assert!(backoff.next_delay() <= Duration::from_millis(50));
    }
}
