//! The worker task: cuts batches, runs up to `max_concurrent_exports` exports, accounts
//! their results and emits diagnostics.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::time::Instant;

use super::events::{DropReason, ExportEvent, StatusReport};
use super::queue::Batch;
use super::Shared;
use crate::export::{
    AttemptObserver, Export, ExportContext, ExportError, ExportReport, PreparedSpans, RetryState,
};

/// A finished batch export.
struct Done {
    id: u64,
    count: usize,
    report: ExportReport,
    duration: Duration,
}

/// Turns retried attempts into `ExportError` events.
struct RetryEvents<'a> {
    shared: &'a Shared,
}

impl AttemptObserver for RetryEvents<'_> {
    fn on_retry(&self, error: ExportError, spans: usize) {
        let retry = error
            .retry_state()
            .copied()
            .unwrap_or_else(|| RetryState::final_attempt(1, Duration::ZERO, Duration::ZERO));
        self.shared.events.emit(ExportEvent::ExportError {
            error: Arc::new(error),
            retry,
            spans,
        });
    }
}

async fn export_one(shared: Arc<Shared>, exporter: Arc<dyn Export>, batch: Batch) -> Done {
    let start = Instant::now();
    let count = batch.spans.len();
    let observer = RetryEvents { shared: &shared };
    let ctx = ExportContext::default()
        .with_retry_window(shared.retry_window)
        .with_observer(&observer);
    let report = exporter
        .export_batch(PreparedSpans::from_proto(batch.spans), ctx)
        .await;
    Done {
        id: batch.id,
        count,
        report,
        duration: start.elapsed(),
    }
}

pub(crate) async fn run(shared: Arc<Shared>, exporter: Arc<dyn Export>) {
    let mut in_flight = FuturesUnordered::new();
    let mut last_export = Instant::now();
    let max_concurrent = shared.max_concurrent.max(1);
    loop {
        let mut cut_any = false;
        while in_flight.len() < max_concurrent {
            let now = Instant::now();
            let batch = {
                let mut st = shared.lock();
                if st.abandoned {
                    None
                } else {
                    let delay_elapsed = now >= last_export + shared.scheduled_delay;
                    if st.wants_cut(delay_elapsed) {
                        st.cut()
                    } else {
                        None
                    }
                }
            };
            let Some(batch) = batch else { break };
            last_export = now;
            cut_any = true;
            in_flight.push(export_one(
                Arc::clone(&shared),
                Arc::clone(&exporter),
                batch,
            ));
        }
        if cut_any {
            shared.space.notify_waiters();
        }
        let has_queue = {
            let mut st = shared.lock();
            let finished =
                st.abandoned || (st.shutting_down && st.queued_len() == 0 && in_flight.is_empty());
            if finished {
                st.worker_done = true;
                drop(st);
                shared.settled.notify_waiters();
                shared.space.notify_waiters();
                return;
            }
            st.queued_len() > 0
        };
        let timer = last_export + shared.scheduled_delay;
        let can_cut = has_queue && in_flight.len() < max_concurrent;
        tokio::select! {
            _ = shared.wake.notified() => {}
            _ = tokio::time::sleep_until(timer), if can_cut => {}
            Some(done) = in_flight.next(), if !in_flight.is_empty() => finish(&shared, done),
        }
    }
}

/// Accounts a finished export and emits its events.
fn finish(shared: &Shared, done: Done) {
    let Done {
        id,
        count,
        report,
        duration,
    } = done;
    let mut events = Vec::new();
    {
        let mut st = shared.lock();
        if st.settle(id).is_none() {
            // Abandoned at the shutdown deadline: already counted as dropped.
            return;
        }
        let sent = report.outcome.sent;
        let rejected = report.outcome.rejected;
        let accounted = sent + rejected + report.failed + report.dropped;
        let unaccounted = (count as u64).saturating_sub(accounted);
        st.sent += sent;
        st.rejected += rejected;
        st.failed += rejected + report.failed + unaccounted;
        st.dropped += report.dropped;
        let total_dropped = st.dropped;
        for error in report.errors {
            let error = Arc::new(error);
            match &*error {
                ExportError::SpanTooLarge { .. } | ExportError::Encode(_) => {
                    let reason = if matches!(&*error, ExportError::SpanTooLarge { .. }) {
                        DropReason::TooLarge
                    } else {
                        DropReason::EncodeError
                    };
                    events.push(ExportEvent::Dropped {
                        count: 1,
                        reason,
                        total_dropped,
                    });
                }
                other => {
                    let retry = other
                        .retry_state()
                        .copied()
                        .unwrap_or_else(|| RetryState::final_attempt(1, duration, duration));
                    events.push(ExportEvent::ExportError {
                        error: Arc::clone(&error),
                        retry,
                        spans: count,
                    });
                }
            }
            st.last_error = Some(error);
            if st.shutting_down {
                st.last_error_at_shutdown = true;
            }
        }
        if let Some(message) = report.outcome.rejection_message {
            tracing::warn!(target: "tracewire_otlp::batch", rejected, %message, "receiver rejected spans");
        }
        let now = SystemTime::now();
        let current = st.report();
        let delta = current.delta(&st.window_base);
        events.push(ExportEvent::StatusReport(StatusReport {
            window_start: st.window_start,
            window_end: now,
            sent: delta.sent,
            dropped: delta.dropped,
            failed: delta.failed,
            total_sent: current.sent,
            total_dropped: current.dropped,
            total_failed: current.failed,
            queued: st.queued_len(),
            in_flight: st.in_flight_spans(),
            flush_duration: duration,
            events_lost: shared.events.events_lost(),
        }));
        st.window_start = now;
        st.window_base = current;
    }
    shared.settled.notify_waiters();
    for e in events {
        shared.events.emit(e);
    }
}
