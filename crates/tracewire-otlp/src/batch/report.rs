//! Results of the batch exporter: counts, deadlines and errors.

use std::sync::Arc;
use std::time::Duration;

use crate::export::ExportError;

/// Cumulative span counts since the exporter was built.
///
/// Invariant, at every moment: `submitted = sent + dropped + failed + pending + disabled`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FlushReport {
    /// Spans handed to `submit`/`submit_wait` (refused ones included).
    pub submitted: u64,
    /// Spans the receiver accepted.
    pub sent: u64,
    /// Spans never attempted (queue full, after shutdown, shutdown deadline, too large,
    /// encode error).
    pub dropped: u64,
    /// Spans attempted and not accepted (retries exhausted, non-retryable status, or
    /// rejected via partial success).
    pub failed: u64,
    /// Of `failed`, the spans the receiver rejected through `partial_success`.
    pub rejected: u64,
    /// Spans still queued or in flight.
    pub pending: u64,
    /// Spans not exported because `OTEL_SDK_DISABLED` is true (not a failure).
    pub disabled: u64,
}

impl FlushReport {
    /// The change since an earlier report (`pending` is the current value, not a delta).
    #[must_use]
    pub fn delta(&self, previous: &FlushReport) -> FlushReport {
        FlushReport {
            submitted: self.submitted.saturating_sub(previous.submitted),
            sent: self.sent.saturating_sub(previous.sent),
            dropped: self.dropped.saturating_sub(previous.dropped),
            failed: self.failed.saturating_sub(previous.failed),
            rejected: self.rejected.saturating_sub(previous.rejected),
            pending: self.pending,
            disabled: self.disabled.saturating_sub(previous.disabled),
        }
    }

    /// Whether the accounting invariant holds (it always should).
    pub fn is_consistent(&self) -> bool {
        self.submitted == self.sent + self.dropped + self.failed + self.pending + self.disabled
    }

    /// Whether every submitted span was sent.
    pub fn all_sent(&self) -> bool {
        self.sent == self.submitted
    }
}

/// When a `flush` or `shutdown` must return.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Deadline(pub(crate) tokio::time::Instant);

impl Deadline {
    /// A deadline `timeout` from now.
    pub fn after(timeout: Duration) -> Self {
        let now = tokio::time::Instant::now();
        Self(
            now.checked_add(timeout)
                .unwrap_or(now + Duration::from_secs(86_400 * 365)),
        )
    }

    /// The instant (Tokio's clock, so paused-clock tests work).
    pub fn instant(&self) -> tokio::time::Instant {
        self.0
    }
}

impl From<Duration> for Deadline {
    fn from(timeout: Duration) -> Self {
        Deadline::after(timeout)
    }
}

impl From<tokio::time::Instant> for Deadline {
    fn from(at: tokio::time::Instant) -> Self {
        Deadline(at)
    }
}

impl From<std::time::Instant> for Deadline {
    fn from(at: std::time::Instant) -> Self {
        Deadline(tokio::time::Instant::from_std(at))
    }
}

/// Why `submit` refused spans.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SubmitError {
    /// The exporter is shut down; the spans were counted as dropped (`AfterShutdown`).
    #[error("the batch exporter is shut down; {dropped} span(s) dropped")]
    Shutdown {
        /// Spans refused by this call.
        dropped: u64,
    },
}

/// What a non-blocking `submit` did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SubmitOutcome {
    /// Spans queued.
    pub accepted: u64,
    /// Spans discarded (queue full or too large); counted and reported as `Dropped`.
    pub dropped: u64,
    /// Spans not queued because `OTEL_SDK_DISABLED` is true.
    pub disabled: u64,
}

/// Why `shutdown` did not fully succeed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ShutdownError {
    /// `shutdown` was already called.
    #[error("the batch exporter was already shut down")]
    AlreadyShutdown,
    /// The final drain finished but some spans failed or were dropped.
    #[error("the final export failed: {}", last_error.as_ref().map_or_else(|| "spans were dropped".to_owned(), |e| e.to_string()))]
    ExportFailed {
        /// Counts at return.
        report: FlushReport,
        /// The last export error, if any.
        last_error: Option<Arc<ExportError>>,
    },
    /// The deadline passed; in-flight and queued spans were dropped (`ShutdownDeadline`).
    #[error("shutdown deadline exceeded with {} span(s) pending", report.pending)]
    DeadlineExceeded {
        /// Counts at the deadline (before the cancelled spans were moved to `dropped`).
        report: FlushReport,
    },
    /// A blocking variant was called inside a Tokio runtime, where it would deadlock.
    #[error("blocking shutdown called inside a Tokio runtime; use `shutdown().await`")]
    WouldBlockRuntime,
}

impl ShutdownError {
    /// The counts carried by the error, if any.
    pub fn report(&self) -> Option<&FlushReport> {
        match self {
            ShutdownError::ExportFailed { report, .. }
            | ShutdownError::DeadlineExceeded { report } => Some(report),
            _ => None,
        }
    }
}

/// Why a blocking flush could not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BlockingError {
    /// Called inside a Tokio runtime, where blocking would deadlock; use the async variant.
    #[error("blocking call inside a Tokio runtime; use the async variant")]
    WouldBlockRuntime,
}

/// Why a [`BatchExporter`](super::BatchExporter) could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BatchBuildError {
    /// `build` was called outside a Tokio runtime (the worker is a task).
    #[error("BatchExporter::build must be called inside a Tokio runtime")]
    NoRuntime,
    /// A setting is out of range.
    #[error("invalid batch setting: {0}")]
    InvalidSetting(String),
    /// The event handler thread could not be started.
    #[error("cannot start the event handler thread: {0}")]
    Thread(String),
}
