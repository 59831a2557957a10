//! Diagnostics (`docs/exporter.md#diagnostics`): events about exports and drops, delivered
//! to handlers on a dedicated thread and to async subscribers, always through bounded
//! channels the worker only `try_send`s to, so a slow consumer can never stall exports
//! (lost events are counted in `events_lost`).

use std::collections::HashMap;
use std::fmt;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use futures_util::Stream;

use super::report::FlushReport;
use crate::export::{ExportError, RetryState};

/// Name of the thread that runs event handlers.
pub const EVENT_THREAD_NAME: &str = "tracewire-otlp-events";

/// Why spans were dropped (never attempted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DropReason {
    /// The queue's span bound was reached (`DropNewest`).
    QueueFull,
    /// The queue's byte bound was reached (`DropNewest`).
    QueueBytesFull,
    /// Submitted after shutdown.
    AfterShutdown,
    /// Still queued or in flight when the shutdown deadline passed.
    ShutdownDeadline,
    /// One span encodes larger than the request limit (or the whole queue).
    TooLarge,
    /// The request could not be encoded.
    EncodeError,
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DropReason::QueueFull => "queue_full",
            DropReason::QueueBytesFull => "queue_bytes_full",
            DropReason::AfterShutdown => "after_shutdown",
            DropReason::ShutdownDeadline => "shutdown_deadline",
            DropReason::TooLarge => "too_large",
            DropReason::EncodeError => "encode_error",
        })
    }
}

/// One batch export's summary, with deltas since the previous report and totals.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct StatusReport {
    /// When the previous report was made (or the exporter built).
    pub window_start: SystemTime,
    /// When this report was made.
    pub window_end: SystemTime,
    /// Spans sent in the window.
    pub sent: u64,
    /// Spans dropped in the window.
    pub dropped: u64,
    /// Spans failed in the window.
    pub failed: u64,
    /// Spans sent since build.
    pub total_sent: u64,
    /// Spans dropped since build.
    pub total_dropped: u64,
    /// Spans failed since build.
    pub total_failed: u64,
    /// Spans waiting in the queue.
    pub queued: usize,
    /// Spans in exports still running.
    pub in_flight: usize,
    /// How long this batch's export took (retries included).
    pub flush_duration: Duration,
    /// Events lost so far because a consumer's channel was full.
    pub events_lost: u64,
}

/// A diagnostic event.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ExportEvent {
    /// One per completed batch export, success or failure.
    StatusReport(StatusReport),
    /// One per failed attempt; the last one of an export has `retry.will_retry == false`.
    ExportError {
        /// The attempt's error.
        error: Arc<ExportError>,
        /// Retry state after the attempt.
        retry: RetryState,
        /// Spans in the failed request.
        spans: usize,
    },
    /// Spans were dropped.
    Dropped {
        /// Spans dropped by this occurrence.
        count: u64,
        /// Why.
        reason: DropReason,
        /// Spans dropped since build.
        total_dropped: u64,
    },
    /// The exporter finished shutting down; totals are exact.
    Shutdown {
        /// Final counts.
        report: FlushReport,
        /// Whether `shutdown` returned `Ok`.
        ok: bool,
    },
}

/// Receives diagnostic events on the `tracewire-otlp-events` thread.
pub trait EventHandler: Send + 'static {
    /// Handles one event; may be slow without affecting exports.
    fn on_event(&mut self, event: &ExportEvent);
}

impl<F: FnMut(&ExportEvent) + Send + 'static> EventHandler for F {
    fn on_event(&mut self, event: &ExportEvent) {
        self(event)
    }
}

/// Fans events out to the handler thread and async subscribers.
pub(crate) struct Dispatcher {
    handler_tx: Option<mpsc::SyncSender<ExportEvent>>,
    subscribers: Mutex<Vec<tokio::sync::mpsc::Sender<ExportEvent>>>,
    capacity: usize,
    pub(crate) lost: AtomicU64,
}

impl fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dispatcher")
            .field("handlers", &self.handler_tx.is_some())
            .field("capacity", &self.capacity)
            .field("lost", &self.lost.load(Ordering::Relaxed))
            .finish()
    }
}

impl Dispatcher {
    /// Starts the handler thread when there are handlers.
    pub(crate) fn start(
        handlers: Vec<Box<dyn EventHandler>>,
        capacity: usize,
    ) -> Result<Self, String> {
        let capacity = capacity.max(1);
        let handler_tx = if handlers.is_empty() {
            None
        } else {
            let (tx, rx) = mpsc::sync_channel::<ExportEvent>(capacity);
            let mut handlers = handlers;
            std::thread::Builder::new()
                .name(EVENT_THREAD_NAME.into())
                .spawn(move || {
                    while let Ok(event) = rx.recv() {
                        for h in handlers.iter_mut() {
                            h.on_event(&event);
                        }
                    }
                })
                .map_err(|e| e.to_string())?;
            Some(tx)
        };
        Ok(Self {
            handler_tx,
            subscribers: Mutex::new(Vec::new()),
            capacity,
            lost: AtomicU64::new(0),
        })
    }

    /// Delivers without ever blocking; full channels lose the event (counted).
    pub(crate) fn emit(&self, event: ExportEvent) {
        if let Some(tx) = &self.handler_tx {
            match tx.try_send(event.clone()) {
                Ok(()) => {}
                // Full, or the handler thread is gone (a handler panicked): either way
                // the handlers miss this event, and that is counted.
                Err(mpsc::TrySendError::Full(_) | mpsc::TrySendError::Disconnected(_)) => {
                    self.lost.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        let mut subs = match self.subscribers.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        subs.retain(|s| match s.try_send(event.clone()) {
            Ok(()) => true,
            Err(tokio::sync::mpsc::error::TrySendError::Full(_)) => {
                self.lost.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(tokio::sync::mpsc::error::TrySendError::Closed(_)) => false,
        });
    }

    pub(crate) fn subscribe(&self) -> EventStream {
        let (tx, rx) = tokio::sync::mpsc::channel(self.capacity);
        match self.subscribers.lock() {
            Ok(mut s) => s.push(tx),
            Err(poisoned) => poisoned.into_inner().push(tx),
        }
        EventStream { rx }
    }

    /// Ends every subscriber stream (after the shutdown event).
    pub(crate) fn close_subscribers(&self) {
        match self.subscribers.lock() {
            Ok(mut s) => s.clear(),
            Err(poisoned) => poisoned.into_inner().clear(),
        }
    }

    pub(crate) fn events_lost(&self) -> u64 {
        self.lost.load(Ordering::Relaxed)
    }
}

/// An async stream of diagnostic events (from [`BatchExporter::events`](super::BatchExporter::events)).
/// It ends after the exporter shuts down.
#[derive(Debug)]
pub struct EventStream {
    rx: tokio::sync::mpsc::Receiver<ExportEvent>,
}

impl EventStream {
    /// The next event, or `None` once the exporter is shut down.
    pub async fn recv(&mut self) -> Option<ExportEvent> {
        self.rx.recv().await
    }
}

impl Stream for EventStream {
    type Item = ExportEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<ExportEvent>> {
        self.rx.poll_recv(cx)
    }
}

/// Minimum time between two log lines of the same event kind.
pub const LOG_INTERVAL: Duration = Duration::from_secs(10);

/// The default handler: logs through `tracing`, at most one line per event kind per
/// [`LOG_INTERVAL`] (the next line carries `suppressed=N`), and always the shutdown summary.
///
/// `ExportError` at WARN (ERROR when final), `Dropped` at WARN, `StatusReport` at DEBUG
/// (WARN if its window had drops or failures).
#[derive(Debug, Default)]
pub struct TracingEventHandler {
    last: HashMap<&'static str, (Instant, u64)>,
}

impl TracingEventHandler {
    /// A new handler.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether to log an event of `kind` now; returns the number suppressed since the last line.
    fn admit(&mut self, kind: &'static str) -> Option<u64> {
        let now = Instant::now();
        match self.last.get_mut(kind) {
            Some((at, suppressed)) if now.duration_since(*at) < LOG_INTERVAL => {
                *suppressed += 1;
                None
            }
            Some(entry) => {
                let suppressed = entry.1;
                *entry = (now, 0);
                Some(suppressed)
            }
            None => {
                self.last.insert(kind, (now, 0));
                Some(0)
            }
        }
    }
}

const TARGET: &str = "tracewire_otlp::batch";

impl EventHandler for TracingEventHandler {
    fn on_event(&mut self, event: &ExportEvent) {
        match event {
            ExportEvent::ExportError {
                error,
                retry,
                spans,
            } => {
                let Some(suppressed) = self.admit("export_error") else {
                    return;
                };
                if retry.will_retry {
                    tracing::warn!(target: TARGET, %error, attempt = retry.attempt, next_delay = ?retry.next_delay, spans, suppressed, "export attempt failed; retrying");
                } else {
                    tracing::error!(target: TARGET, %error, attempt = retry.attempt, spans, suppressed, "export failed");
                }
            }
            ExportEvent::Dropped {
                count,
                reason,
                total_dropped,
            } => {
                let Some(suppressed) = self.admit("dropped") else {
                    return;
                };
                tracing::warn!(target: TARGET, count, %reason, total_dropped, suppressed, "spans dropped");
            }
            ExportEvent::StatusReport(r) => {
                let Some(suppressed) = self.admit("status") else {
                    return;
                };
                if r.dropped > 0 || r.failed > 0 {
                    tracing::warn!(target: TARGET, sent = r.sent, dropped = r.dropped, failed = r.failed, total_sent = r.total_sent, total_dropped = r.total_dropped, total_failed = r.total_failed, queued = r.queued, events_lost = r.events_lost, suppressed, "export status");
                } else {
                    tracing::debug!(target: TARGET, sent = r.sent, total_sent = r.total_sent, queued = r.queued, in_flight = r.in_flight, flush_ms = r.flush_duration.as_millis() as u64, events_lost = r.events_lost, suppressed, "export status");
                }
            }
            ExportEvent::Shutdown { report, ok } => {
                let level_warn = !ok || report.dropped > 0 || report.failed > 0;
                if level_warn {
                    tracing::warn!(target: TARGET, submitted = report.submitted, sent = report.sent, dropped = report.dropped, failed = report.failed, pending = report.pending, "batch exporter shut down with losses");
                } else {
                    tracing::info!(target: TARGET, submitted = report.submitted, sent = report.sent, dropped = report.dropped, failed = report.failed, pending = report.pending, "batch exporter shut down");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if let Ok(mut v) = self.0.lock() {
                v.extend_from_slice(buf);
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn tracing_handler_logs_levels_suppression_and_shutdown_summary() {
        let capture = Capture::default();
        let writer = capture.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let mut h = TracingEventHandler::new();
            for _ in 0..3 {
                h.on_event(&ExportEvent::Dropped {
                    count: 1,
                    reason: DropReason::QueueFull,
                    total_dropped: 1,
                });
            }
            if let Some((at, _)) = h.last.get_mut("dropped") {
                *at = at.checked_sub(LOG_INTERVAL).unwrap_or(*at);
            }
            h.on_event(&ExportEvent::Dropped {
                count: 4,
                reason: DropReason::QueueBytesFull,
                total_dropped: 7,
            });
            for _ in 0..2 {
                h.on_event(&ExportEvent::Shutdown {
                    report: FlushReport {
                        submitted: 9,
                        sent: 2,
                        dropped: 7,
                        ..FlushReport::default()
                    },
                    ok: true,
                });
            }
        });
        let text = capture
            .0
            .lock()
            .map(|v| String::from_utf8_lossy(&v).into_owned())
            .unwrap_or_default();
        let dropped_lines: Vec<_> = text
            .lines()
            .filter(|l| l.contains("spans dropped"))
            .collect();
        assert_eq!(dropped_lines.len(), 2, "{text}");
        assert!(
            dropped_lines[0].contains("WARN") && dropped_lines[0].contains("suppressed=0"),
            "{text}"
        );
        assert!(
            dropped_lines[1].contains("suppressed=2")
                && dropped_lines[1].contains("queue_bytes_full"),
            "{text}"
        );
        let summaries = text.lines().filter(|l| l.contains("shut down")).count();
        assert_eq!(
            summaries, 2,
            "the shutdown summary is never rate-limited: {text}"
        );
        assert!(
            text.contains("sent=2") && text.contains("dropped=7"),
            "{text}"
        );
    }

    #[test]
    fn events_a_dead_handler_thread_cannot_receive_are_counted_lost() {
        // Room for every event below: only a disconnected channel can lose one.
        let handler: Box<dyn EventHandler> = Box::new(|_: &ExportEvent| panic!("handler bug"));
        let dispatcher = Dispatcher::start(vec![handler], 1000).expect("start");
        let dropped = ExportEvent::Dropped {
            count: 1,
            reason: DropReason::QueueFull,
            total_dropped: 1,
        };
        for _ in 0..500 {
            dispatcher.emit(dropped.clone());
            if dispatcher.events_lost() > 0 {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        panic!("events sent to the dead handler thread were not counted");
    }

    #[test]
    fn tracing_handler_rate_limits_per_kind() {
        let mut h = TracingEventHandler::new();
        assert_eq!(h.admit("dropped"), Some(0));
        assert_eq!(h.admit("dropped"), None);
        assert_eq!(h.admit("dropped"), None);
        assert_eq!(h.admit("status"), Some(0));
        if let Some((at, _)) = h.last.get_mut("dropped") {
            *at = at.checked_sub(LOG_INTERVAL).unwrap_or(*at);
        }
        assert_eq!(h.admit("dropped"), Some(2));
    }
}
