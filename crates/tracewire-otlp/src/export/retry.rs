//! OTLP/HTTP retry rules: only 429, 502, 503 and 504 are retried, after the backoff with
//! jitter or the server's `Retry-After`, and only within the retry window.

use std::time::{Duration, SystemTime};

use rand::RngExt as _;

use crate::backoff::Backoff;

/// Exponential backoff with jitter, bounded by a window measured from the first attempt.
///
/// The delays are [`Backoff`]'s (see [`RetryPolicy::backoff`]); this adds OTLP's window and
/// the switch to turn retries off.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Delay before the second attempt (before jitter).
    pub initial: Duration,
    /// Growth factor per attempt.
    pub multiplier: f64,
    /// Cap of the un-jittered delay.
    pub max_backoff: Duration,
    /// Fraction of the delay removed at random: delay · (1 − jitter·U[0,1)).
    pub jitter: f64,
    /// Every attempt must start within this time of the first one.
    pub window: Duration,
    /// Whether retries happen at all.
    pub enabled: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(500),
            multiplier: 2.0,
            max_backoff: Duration::from_secs(5),
            jitter: 0.2,
            window: Duration::from_secs(60),
            enabled: true,
        }
    }
}

impl RetryPolicy {
    /// No retries: every failure is final.
    pub fn disabled() -> Self {
        Self {
            enabled: false,
            ..Self::default()
        }
    }

    /// Sets the first delay.
    #[must_use]
    pub fn with_initial(mut self, initial: Duration) -> Self {
        self.initial = initial;
        self
    }

    /// Sets the growth factor (values below 1 are treated as 1).
    #[must_use]
    pub fn with_multiplier(mut self, multiplier: f64) -> Self {
        self.multiplier = multiplier;
        self
    }

    /// Sets the cap of the un-jittered delay.
    #[must_use]
    pub fn with_max_backoff(mut self, max_backoff: Duration) -> Self {
        self.max_backoff = max_backoff;
        self
    }

    /// Sets the jitter fraction (clamped to 0..=1).
    #[must_use]
    pub fn with_jitter(mut self, jitter: f64) -> Self {
        self.jitter = jitter;
        self
    }

    /// Sets the retry window.
    #[must_use]
    pub fn with_window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// The delay sequence of this policy (its window and `enabled` aside).
    pub fn backoff(&self) -> Backoff {
        Backoff::new(self.initial, self.max_backoff)
            .with_multiplier(self.multiplier)
            .with_jitter(self.jitter)
    }

    /// The un-jittered delay before attempt `attempt + 1` (attempts count from 1):
    /// `min(max_backoff, initial · multiplier^(attempt−1))`.
    pub fn base_delay(&self, attempt: u32) -> Duration {
        self.backoff().base_delay(attempt)
    }

    /// The jittered delay before attempt `attempt + 1`.
    pub fn delay(&self, attempt: u32) -> Duration {
        self.backoff().delay(attempt, rand::rng().random::<f64>())
    }
}

/// Where an export stands in its retry sequence; carried by errors and diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryState {
    /// The attempt that just failed (1-based).
    pub attempt: u32,
    /// Time since the first attempt started.
    pub elapsed: Duration,
    /// The policy's window.
    pub window: Duration,
    /// Delay before the next attempt, when there is one.
    pub next_delay: Option<Duration>,
    /// The server's `Retry-After`, when it sent a valid one.
    pub retry_after: Option<Duration>,
    /// Whether another attempt follows.
    pub will_retry: bool,
}

impl RetryState {
    /// The state of a first attempt that will not be retried.
    pub fn final_attempt(attempt: u32, elapsed: Duration, window: Duration) -> Self {
        Self {
            attempt,
            elapsed,
            window,
            next_delay: None,
            retry_after: None,
            will_retry: false,
        }
    }
}

/// Whether OTLP/HTTP allows retrying this status (429, 502, 503, 504).
pub(crate) fn is_retryable_status(status: http::StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 502 | 503 | 504)
}

/// Parses `Retry-After`: delta-seconds or an HTTP-date (a past date means "now"). Reached
/// from outside only by the fuzz targets, through `__fuzz` (feature `fuzzing`).
#[cfg_attr(not(feature = "fuzzing"), allow(unreachable_pub))]
pub fn parse_retry_after(value: &http::HeaderValue) -> Option<Duration> {
    let text = value.to_str().ok()?.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(text).ok()?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps() {
        let p = RetryPolicy::default();
        assert_eq!(p.base_delay(1), Duration::from_millis(500));
        assert_eq!(p.base_delay(2), Duration::from_secs(1));
        assert_eq!(p.base_delay(4), Duration::from_secs(4));
        assert_eq!(p.base_delay(5), Duration::from_secs(5));
        assert_eq!(p.base_delay(500), Duration::from_secs(5));
        for attempt in 1..6 {
            let d = p.delay(attempt);
            assert!(d <= p.base_delay(attempt));
            assert!(d >= p.base_delay(attempt).mul_f64(0.8));
        }
    }

    #[test]
    fn retry_after_forms() {
        let v = http::HeaderValue::from_static("2");
        assert_eq!(parse_retry_after(&v), Some(Duration::from_secs(2)));
        let v = http::HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT");
        assert_eq!(parse_retry_after(&v), Some(Duration::ZERO));
        let future = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(30));
        let v = http::HeaderValue::from_str(&future).ok();
        let d = v.as_ref().and_then(parse_retry_after).unwrap_or_default();
        assert!(d > Duration::from_secs(25) && d <= Duration::from_secs(30));
        assert_eq!(
            parse_retry_after(&http::HeaderValue::from_static("soon")),
            None
        );
    }

    proptest::proptest! {
        #[test]
        fn retry_after_never_panics(raw in "[ -~]*") {
            if let Ok(v) = http::HeaderValue::from_str(&raw) {
                let _ = parse_retry_after(&v);
            }
        }

        #[test]
        fn jittered_delay_stays_within_bounds(attempt in 0u32..10_000, jitter in 0.0f64..1.0) {
            let p = RetryPolicy::default().with_jitter(jitter);
            let base = p.base_delay(attempt);
            let d = p.delay(attempt);
            proptest::prop_assert!(base <= p.max_backoff);
            proptest::prop_assert!(d <= base && d >= base.mul_f64(1.0 - jitter) - Duration::from_nanos(1));
        }
    }

    #[test]
    fn retryable_statuses() {
        for code in [429u16, 502, 503, 504] {
            assert!(is_retryable_status(
                http::StatusCode::from_u16(code).unwrap_or_default()
            ));
        }
        for code in [400u16, 401, 404, 500, 501] {
            assert!(!is_retryable_status(
                http::StatusCode::from_u16(code).unwrap_or_default()
            ));
        }
    }
}
