//! The one backoff of the workspace: the delays between attempts of anything retried
//! (OTLP exports, the collector's accept loops, the emitter's reconnects).
//!
//! Sans-IO: no clock, no runtime and no random source. A caller sleeps however it sleeps
//! and passes the random sample for jitter in, so the sequence is plain arithmetic that
//! tests can check exactly.
//!
//! ```
//! use std::time::Duration;
//! use tracewire_otlp::backoff::{Backoff, BackoffState};
//!
//! // 5 ms doubling to 1 s, no jitter.
//! let mut state = BackoffState::new(Backoff::new(Duration::from_millis(5), Duration::from_secs(1)));
//! let delays: Vec<_> = (0..9).map(|_| state.next_delay(0.0).as_millis()).collect();
//! assert_eq!(delays, [5, 10, 20, 40, 80, 160, 320, 640, 1000]);
//! state.reset();
//! assert_eq!(state.next_delay(0.0), Duration::from_millis(5));
//! ```

use std::time::Duration;

/// Exponential backoff with optional jitter: after the `n`-th failure in a row, wait
/// `min(max, initial · multiplier^(n−1))`, less a random fraction of at most `jitter`.
///
/// Jitter only ever shortens a delay, so `max` stays a true cap, and many clients that
/// failed together do not retry together.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Backoff {
    /// Delay after the first failure (before jitter).
    pub initial: Duration,
    /// Growth factor per failure; values below 1 (or not finite) are treated as 1.
    pub multiplier: f64,
    /// Cap of the un-jittered delay.
    pub max: Duration,
    /// Fraction of the delay removed at random, clamped to 0..=1: the delay is
    /// `base · (1 − jitter · u)` for a sample `u` in `[0, 1)`.
    pub jitter: f64,
}

impl Backoff {
    /// Starts at `initial` and doubles up to `max`, without jitter.
    pub const fn new(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            multiplier: 2.0,
            max,
            jitter: 0.0,
        }
    }

    /// Sets the growth factor per failure.
    #[must_use]
    pub const fn with_multiplier(mut self, multiplier: f64) -> Self {
        self.multiplier = multiplier;
        self
    }

    /// Sets the jitter fraction.
    #[must_use]
    pub const fn with_jitter(mut self, jitter: f64) -> Self {
        self.jitter = jitter;
        self
    }

    /// The un-jittered delay after `failures` failures in a row (counted from 1; 0 is
    /// treated as 1): `min(max, initial · multiplier^(failures−1))`.
    pub fn base_delay(&self, failures: u32) -> Duration {
        let multiplier = if self.multiplier.is_finite() {
            self.multiplier.max(1.0)
        } else {
            1.0
        };
        let exp = i32::try_from(failures.saturating_sub(1)).unwrap_or(i32::MAX);
        // In nanoseconds, so whole-millisecond starts doubled stay exact.
        let nanos = self.initial.as_nanos() as f64 * multiplier.powi(exp);
        if !nanos.is_finite() || nanos >= self.max.as_nanos() as f64 {
            return self.max;
        }
        // 0 <= nanos < max, which fits in a Duration.
        Duration::from_nanos(nanos.max(0.0).round() as u64)
    }

    /// The delay after `failures` failures in a row, with jitter from `unit`, a sample in
    /// `[0, 1)` that the caller draws (clamped; not finite counts as 0).
    pub fn delay(&self, failures: u32, unit: f64) -> Duration {
        let clamp = |v: f64| {
            if v.is_finite() {
                v.clamp(0.0, 1.0)
            } else {
                0.0
            }
        };
        let keep = 1.0 - clamp(self.jitter) * clamp(unit);
        self.base_delay(failures).mul_f64(keep)
    }
}

/// Where a caller stands in its backoff: the failures since the last success.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BackoffState {
    backoff: Backoff,
    failures: u32,
}

impl BackoffState {
    /// No failure yet.
    pub const fn new(backoff: Backoff) -> Self {
        Self {
            backoff,
            failures: 0,
        }
    }

    /// Counts a failure and returns how long to wait before the next attempt (`unit` as
    /// in [`Backoff::delay`]).
    pub fn next_delay(&mut self, unit: f64) -> Duration {
        self.failures = self.failures.saturating_add(1);
        self.backoff.delay(self.failures, unit)
    }

    /// After a success: the next failure waits the initial delay again.
    pub fn reset(&mut self) {
        self.failures = 0;
    }

    /// Failures since the last success (or since the start).
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// The policy this state follows.
    pub fn backoff(&self) -> &Backoff {
        &self.backoff
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn doubles_exactly_and_caps() {
        let b = Backoff::new(50 * MS, Duration::from_secs(5));
        let got: Vec<_> = (1..=9).map(|n| b.base_delay(n)).collect();
        let want: Vec<_> = [50, 100, 200, 400, 800, 1600, 3200, 5000, 5000]
            .iter()
            .map(|&m| m * MS)
            .collect();
        assert_eq!(got, want);
        assert_eq!(b.base_delay(0), b.base_delay(1));
        assert_eq!(b.base_delay(u32::MAX), Duration::from_secs(5));
    }

    #[test]
    fn odd_settings_stay_defined() {
        let b = Backoff::new(Duration::from_secs(2), Duration::from_secs(1));
        assert_eq!(
            b.base_delay(1),
            Duration::from_secs(1),
            "max caps initial too"
        );
        let flat = Backoff::new(MS, Duration::from_secs(1)).with_multiplier(0.5);
        assert_eq!(flat.base_delay(10), MS, "multipliers below 1 act as 1");
        let nan = Backoff::new(MS, Duration::from_secs(1)).with_multiplier(f64::NAN);
        assert_eq!(nan.base_delay(10), MS);
        let inf = Backoff::new(MS, Duration::from_secs(1)).with_multiplier(f64::INFINITY);
        assert_eq!(inf.base_delay(3), MS, "a non-finite multiplier acts as 1");
        let b = Backoff::new(100 * MS, Duration::from_secs(1)).with_jitter(f64::NAN);
        assert_eq!(b.delay(1, 0.7), 100 * MS, "NaN jitter is none");
        let b = b.with_jitter(3.0);
        assert_eq!(
            b.delay(1, 2.0),
            Duration::ZERO,
            "jitter and sample clamp to 1"
        );
        assert_eq!(b.delay(1, f64::NAN), 100 * MS);
        let zero = Backoff::new(Duration::ZERO, Duration::ZERO);
        assert_eq!(zero.delay(7, 0.5), Duration::ZERO);
    }

    #[test]
    fn state_counts_failures_and_resets() {
        let mut s = BackoffState::new(Backoff::new(5 * MS, Duration::from_secs(1)));
        let delays: Vec<_> = (0..10).map(|_| s.next_delay(0.0)).collect();
        assert_eq!(delays[0], 5 * MS);
        assert_eq!(delays[7], 640 * MS);
        assert_eq!(delays[8], Duration::from_secs(1));
        assert_eq!(delays[9], Duration::from_secs(1));
        assert_eq!(s.failures(), 10);
        s.reset();
        assert_eq!(s.failures(), 0);
        assert_eq!(s.next_delay(0.0), 5 * MS);
    }

    proptest! {
        /// Delays never exceed the cap, never fall below `1 − jitter` of the base, never
        /// shrink as failures add up, and a sample of 0 is the base itself.
        #[test]
        fn delays_stay_within_bounds(
            initial_ms in 0u64..10_000,
            max_ms in 0u64..100_000,
            multiplier in 0.0f64..10.0,
            jitter in 0.0f64..1.0,
            unit in 0.0f64..1.0,
            failures in 0u32..200,
        ) {
            let b = Backoff::new(Duration::from_millis(initial_ms), Duration::from_millis(max_ms))
                .with_multiplier(multiplier)
                .with_jitter(jitter);
            let base = b.base_delay(failures);
            let d = b.delay(failures, unit);
            prop_assert!(base <= b.max);
            prop_assert!(base <= b.base_delay(failures.saturating_add(1)));
            prop_assert!(d <= base);
            prop_assert!(d + Duration::from_nanos(1) >= base.mul_f64(1.0 - jitter));
            prop_assert_eq!(b.delay(failures, 0.0), base);
        }
    }
}
