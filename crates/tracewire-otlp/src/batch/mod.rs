//! `BatchExporter`: a bounded queue (by spans and bytes) in front of an [`Export`]
//! transport, with back-pressure, flush and shutdown that always return by their deadline
//! with the real result, and diagnostics that never stall exports. Its `OTEL_BSP_*`
//! settings resolve through [`crate::config`].
//!
//! At every moment `submitted = sent + dropped + failed + pending + disabled` (see
//! [`FlushReport`]).

mod events;
mod queue;
mod report;
mod worker;

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::sync::Notify;

pub use events::{
    DropReason, EventHandler, EventStream, ExportEvent, StatusReport, TracingEventHandler,
    EVENT_THREAD_NAME, LOG_INTERVAL,
};
pub use report::{
    BatchBuildError, BlockingError, Deadline, FlushReport, ShutdownError, SubmitError,
    SubmitOutcome,
};

use crate::config::{BatchCode, BatchSettings, ConfigWarning, Env, Precedence};
use crate::export::Export;
use crate::proto::{encoded_span_len, into_proto_span};
use crate::span::Span;
use events::Dispatcher;
use queue::{Limits, Rejection, State};

/// What to do when the queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Overflow {
    /// Discard the incoming spans that don't fit (counted, `Dropped` event).
    #[default]
    DropNewest,
    /// `submit_wait` waits for room (`submit` still never blocks).
    Wait,
}

/// Grace period of the background shutdown started when the last handle is dropped.
pub const DROP_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// State shared by handles and the worker.
pub(crate) struct Shared {
    state: Mutex<State>,
    /// Wakes the worker (new spans, flush, shutdown).
    wake: Notify,
    /// Signals room in the queue (for `submit_wait`).
    space: Notify,
    /// Signals a settled batch or the worker's end (for flush/shutdown).
    settled: Notify,
    events: Dispatcher,
    overflow: Overflow,
    scheduled_delay: Duration,
    max_concurrent: usize,
    retry_window: Option<Duration>,
    shutdown_called: AtomicBool,
    /// `OTEL_SDK_DISABLED`: spans are counted as disabled, never queued.
    disabled: bool,
    warnings: Vec<ConfigWarning>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        match self.state.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

/// Batches spans and exports them in the background. Cheap to clone; the last clone
/// dropped without `shutdown` starts a background shutdown.
#[derive(Clone)]
pub struct BatchExporter {
    guard: Arc<Guard>,
}

struct Guard {
    shared: Arc<Shared>,
    runtime: Handle,
}

impl fmt::Debug for BatchExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchExporter")
            .field("report", &self.report())
            .field("overflow", &self.guard.shared.overflow)
            .finish_non_exhaustive()
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if self.shared.shutdown_called.load(Ordering::SeqCst) {
            return;
        }
        let pending = self.shared.lock().report().pending;
        tracing::warn!(
            target: "tracewire_otlp::batch",
            pending,
            "BatchExporter dropped without shutdown; shutting down in the background (5 s deadline)"
        );
        let shared = Arc::clone(&self.shared);
        let deadline = Deadline::after(DROP_SHUTDOWN_TIMEOUT);
        // Detached on purpose: the handle is gone, nobody awaits the result; the
        // shutdown event and log line carry it.
        drop(self.runtime.spawn(async move {
            let _ = shutdown_inner(&shared, deadline).await;
        }));
    }
}

/// Builder of [`BatchExporter`]. `OTEL_BSP_*` variables beat the settings made here
/// (see [`crate::config`]).
pub struct BatchExporterBuilder {
    exporter: Arc<dyn Export>,
    code: BatchCode,
    settings: Option<BatchSettings>,
    max_queue_bytes: usize,
    overflow: Overflow,
    event_capacity: usize,
    handlers: Vec<Box<dyn EventHandler>>,
    default_handler: bool,
    env: Env,
}

impl fmt::Debug for BatchExporterBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchExporterBuilder")
            .field("code", &self.code)
            .field("settings", &self.settings)
            .field("max_queue_bytes", &self.max_queue_bytes)
            .field("overflow", &self.overflow)
            .field("event_capacity", &self.event_capacity)
            .field("handlers", &self.handlers.len())
            .field("default_handler", &self.default_handler)
            .finish_non_exhaustive()
    }
}

/// Defaults (before `OTEL_BSP_*`): queue 2048 spans / 32 MiB, batches of 512, one export
/// at a time, 5 s scheduled delay.
pub const DEFAULT_MAX_QUEUE_SPANS: usize = crate::config::DEFAULT_MAX_QUEUE_SIZE;
/// Default byte bound of the queue.
pub const DEFAULT_MAX_QUEUE_BYTES: usize = 32 << 20;
/// Default spans per batch.
pub const DEFAULT_MAX_BATCH_SPANS: usize = crate::config::DEFAULT_MAX_EXPORT_BATCH_SIZE;
/// Default time between scheduled exports.
pub const DEFAULT_SCHEDULED_DELAY: Duration = crate::config::DEFAULT_SCHEDULE_DELAY;
/// Default capacity of each event consumer's channel.
pub const DEFAULT_EVENT_CAPACITY: usize = 1024;

impl BatchExporterBuilder {
    /// Maximum spans waiting in the queue (`OTEL_BSP_MAX_QUEUE_SIZE`).
    #[must_use]
    pub fn with_max_queue_spans(mut self, n: usize) -> Self {
        self.code.max_queue_size = Some(n);
        self
    }

    /// Maximum encoded bytes waiting in the queue.
    #[must_use]
    pub fn with_max_queue_bytes(mut self, n: usize) -> Self {
        self.max_queue_bytes = n;
        self
    }

    /// Maximum spans per export (`OTEL_BSP_MAX_EXPORT_BATCH_SIZE`); at most the queue size.
    #[must_use]
    pub fn with_max_batch_spans(mut self, n: usize) -> Self {
        self.code.max_export_batch_size = Some(n);
        self
    }

    /// Maximum exports in flight (`OTEL_BSP_MAX_CONCURRENT_EXPORTS`).
    #[must_use]
    pub fn with_max_concurrent_exports(mut self, n: usize) -> Self {
        self.code.max_concurrent_exports = Some(n);
        self
    }

    /// Time after the last export when queued spans are exported anyway
    /// (`OTEL_BSP_SCHEDULE_DELAY`).
    #[must_use]
    pub fn with_scheduled_delay(mut self, d: Duration) -> Self {
        self.code.scheduled_delay = Some(d);
        self
    }

    /// Overrides the exporter's retry window (`OTEL_BSP_EXPORT_TIMEOUT`).
    #[must_use]
    pub fn with_export_timeout(mut self, d: Duration) -> Self {
        self.code.export_timeout = Some(d);
        self
    }

    /// Uses batch settings already resolved (by `OtlpConfig::resolve`): no variable is
    /// read, and the settings made on this builder are ignored.
    #[must_use]
    pub fn with_settings(mut self, settings: BatchSettings) -> Self {
        self.settings = Some(settings);
        self
    }

    /// Back-pressure mode.
    #[must_use]
    pub fn with_overflow(mut self, overflow: Overflow) -> Self {
        self.overflow = overflow;
        self
    }

    /// Capacity of each event consumer's channel; overflow is counted in `events_lost`.
    #[must_use]
    pub fn with_event_capacity(mut self, n: usize) -> Self {
        self.event_capacity = n;
        self
    }

    /// Adds an event handler (run on the `tracewire-otlp-events` thread).
    #[must_use]
    pub fn with_event_handler(mut self, handler: impl EventHandler) -> Self {
        self.handlers.push(Box::new(handler));
        self
    }

    /// Whether the default [`TracingEventHandler`] (which logs every event through
    /// `tracing`) runs besides the handlers added here (default `true`).
    #[must_use]
    pub fn with_default_handler(mut self, on: bool) -> Self {
        self.default_handler = on;
        self
    }

    /// Reads `OTEL_BSP_*` from these variables instead of the process environment.
    #[must_use]
    pub fn with_env_vars<K: Into<String>, V: Into<String>>(
        mut self,
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.env = Env::from_vars(vars);
        self
    }

    /// Spawns the worker on the current Tokio runtime.
    pub fn build(self) -> Result<BatchExporter, BatchBuildError> {
        let runtime = Handle::try_current().map_err(|_| BatchBuildError::NoRuntime)?;
        let (settings, warnings) = match self.settings {
            Some(s) => (s, Vec::new()),
            None => crate::config::batch_settings(&self.env, Precedence::EnvFirst, &self.code)
                .map_err(|e| BatchBuildError::InvalidSetting(e.to_string()))?,
        };
        for (name, v) in [
            ("max_queue_bytes", self.max_queue_bytes),
            ("event_capacity", self.event_capacity),
        ] {
            if v == 0 {
                return Err(BatchBuildError::InvalidSetting(format!(
                    "{name} must be at least 1"
                )));
            }
        }
        let max_queue_spans = settings.max_queue_size.max(1);
        let max_batch_spans = settings.max_export_batch_size.max(1);
        let max_concurrent = settings.max_concurrent_exports.max(1);
        let scheduled_delay = settings.scheduled_delay;
        let retry_window = settings.export_timeout;
        let disabled = self.exporter.is_disabled();
        let mut handlers = self.handlers;
        if self.default_handler {
            handlers.insert(0, Box::new(TracingEventHandler::new()));
        }
        let events =
            Dispatcher::start(handlers, self.event_capacity).map_err(BatchBuildError::Thread)?;
        let limits = Limits {
            max_queue_spans,
            max_queue_bytes: self.max_queue_bytes,
            max_batch_spans: max_batch_spans.min(max_queue_spans),
            max_request_bytes: self.exporter.max_request_bytes().max(1),
        };
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new(limits)),
            wake: Notify::new(),
            space: Notify::new(),
            settled: Notify::new(),
            events,
            overflow: self.overflow,
            scheduled_delay,
            max_concurrent,
            retry_window,
            shutdown_called: AtomicBool::new(false),
            disabled,
            warnings,
        });
        runtime.spawn(worker::run(Arc::clone(&shared), self.exporter));
        Ok(BatchExporter {
            guard: Arc::new(Guard { shared, runtime }),
        })
    }
}

impl BatchExporter {
    /// A builder around any transport (e.g. an [`OtlpHttpExporter`](crate::export::OtlpHttpExporter)).
    pub fn builder(exporter: impl Export) -> BatchExporterBuilder {
        Self::builder_arc(Arc::new(exporter))
    }

    /// [`BatchExporter::builder`] for a shared transport.
    pub fn builder_arc(exporter: Arc<dyn Export>) -> BatchExporterBuilder {
        BatchExporterBuilder {
            exporter,
            code: BatchCode::default(),
            settings: None,
            max_queue_bytes: DEFAULT_MAX_QUEUE_BYTES,
            overflow: Overflow::DropNewest,
            event_capacity: DEFAULT_EVENT_CAPACITY,
            handlers: Vec::new(),
            default_handler: true,
            env: Env::process(),
        }
    }

    fn shared(&self) -> &Arc<Shared> {
        &self.guard.shared
    }

    /// Queues spans without ever blocking; spans that don't fit are dropped, counted and
    /// reported (`Dropped` event). After shutdown every span is refused and counted.
    pub fn submit(
        &self,
        spans: impl IntoIterator<Item = Span>,
    ) -> Result<SubmitOutcome, SubmitError> {
        let shared = self.shared();
        if shared.disabled {
            return submit_disabled(shared, spans);
        }
        let prepared = prepare(spans);
        let mut outcome = SubmitOutcome::default();
        let mut by_reason: Vec<(DropReason, u64)> = Vec::new();
        let total_dropped;
        {
            let mut st = shared.lock();
            if st.shutting_down {
                return Err(drop_after_shutdown(shared, st, prepared.len() as u64));
            }
            for (span, bytes) in prepared {
                match st.check_room(bytes) {
                    Ok(()) => {
                        st.push(span, bytes);
                        outcome.accepted += 1;
                    }
                    Err(rejection) => {
                        st.drop_submitted(1);
                        outcome.dropped += 1;
                        add_reason(&mut by_reason, reason_of(rejection));
                    }
                }
            }
            total_dropped = st.dropped;
        }
        if outcome.accepted > 0 {
            shared.wake.notify_one();
        }
        for (reason, count) in by_reason {
            shared.events.emit(ExportEvent::Dropped {
                count,
                reason,
                total_dropped,
            });
        }
        Ok(outcome)
    }

    /// Queues spans, waiting (without blocking a thread) for room when the queue is full.
    /// Only spans too large to ever fit are dropped. With [`Overflow::DropNewest`] this
    /// behaves like [`submit`](Self::submit).
    pub async fn submit_wait(
        &self,
        spans: impl IntoIterator<Item = Span>,
    ) -> Result<SubmitOutcome, SubmitError> {
        if self.shared().overflow == Overflow::DropNewest || self.shared().disabled {
            return self.submit(spans);
        }
        let shared = self.shared();
        let mut pending = prepare(spans).into_iter().peekable();
        let mut outcome = SubmitOutcome::default();
        loop {
            let notified = shared.space.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let mut too_large = 0u64;
            let total_dropped;
            {
                let mut st = shared.lock();
                if st.shutting_down {
                    return Err(drop_after_shutdown(shared, st, pending.len() as u64));
                }
                while let Some((_, bytes)) = pending.peek() {
                    match st.check_room(*bytes) {
                        Ok(()) => {
                            if let Some((span, bytes)) = pending.next() {
                                st.push(span, bytes);
                                outcome.accepted += 1;
                            }
                        }
                        Err(Rejection::TooLarge) => {
                            pending.next();
                            st.drop_submitted(1);
                            outcome.dropped += 1;
                            too_large += 1;
                        }
                        Err(_) => {
                            st.waiting_for_room = true;
                            break;
                        }
                    }
                }
                if pending.peek().is_none() {
                    st.waiting_for_room = false;
                }
                total_dropped = st.dropped;
            }
            shared.wake.notify_one();
            if too_large > 0 {
                shared.events.emit(ExportEvent::Dropped {
                    count: too_large,
                    reason: DropReason::TooLarge,
                    total_dropped,
                });
            }
            if pending.peek().is_none() {
                return Ok(outcome);
            }
            notified.await;
        }
    }

    /// Exports everything queued now and waits until it and in-flight batches have
    /// settled, or until the deadline (exports continue afterwards). Counts are cumulative.
    pub async fn flush(&self, deadline: impl Into<Deadline>) -> FlushReport {
        flush_inner(self.shared(), deadline.into()).await
    }

    /// Stops intake, drains and returns by the deadline: `Ok` only if the final drain
    /// fully succeeded. A second call returns `AlreadyShutdown`.
    pub async fn shutdown(
        &self,
        deadline: impl Into<Deadline>,
    ) -> Result<FlushReport, ShutdownError> {
        shutdown_inner(self.shared(), deadline.into()).await
    }

    /// [`flush`](Self::flush) for non-async callers; refuses to run inside a Tokio runtime.
    pub fn flush_blocking(
        &self,
        deadline: impl Into<Deadline>,
    ) -> Result<FlushReport, BlockingError> {
        if Handle::try_current().is_ok() {
            return Err(BlockingError::WouldBlockRuntime);
        }
        let deadline = deadline.into();
        let shared = Arc::clone(self.shared());
        let result = self.run_blocking(
            deadline,
            async move { flush_inner(&shared, deadline).await },
        );
        Ok(result.unwrap_or_else(|| self.report()))
    }

    /// [`shutdown`](Self::shutdown) for non-async callers; refuses to run inside a Tokio
    /// runtime (`WouldBlockRuntime`).
    pub fn shutdown_blocking(
        &self,
        deadline: impl Into<Deadline>,
    ) -> Result<FlushReport, ShutdownError> {
        if Handle::try_current().is_ok() {
            return Err(ShutdownError::WouldBlockRuntime);
        }
        let deadline = deadline.into();
        let shared = Arc::clone(self.shared());
        self.run_blocking(
            deadline,
            async move { shutdown_inner(&shared, deadline).await },
        )
        .unwrap_or_else(|| {
            Err(ShutdownError::DeadlineExceeded {
                report: self.report(),
            })
        })
    }

    /// Runs `fut` on the exporter's runtime and waits for it on this thread, at most until
    /// shortly after the deadline (in case that runtime is not being driven).
    fn run_blocking<T: Send + 'static>(
        &self,
        deadline: Deadline,
        fut: impl std::future::Future<Output = T> + Send + 'static,
    ) -> Option<T> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        drop(self.guard.runtime.spawn(async move {
            let _ = tx.send(fut.await);
        }));
        let wait = deadline
            .instant()
            .saturating_duration_since(tokio::time::Instant::now())
            + Duration::from_millis(200);
        rx.recv_timeout(wait).ok()
    }

    /// The current counts (consistent snapshot).
    pub fn report(&self) -> FlushReport {
        self.shared().lock().report()
    }

    /// Whether `OTEL_SDK_DISABLED` switched the transport off: spans are counted in
    /// [`FlushReport::disabled`] and never sent.
    pub fn is_disabled(&self) -> bool {
        self.shared().disabled
    }

    /// The warnings of the `OTEL_BSP_*` resolution (each also logged once).
    pub fn warnings(&self) -> &[ConfigWarning] {
        &self.shared().warnings
    }

    /// Events lost so far because a consumer's channel was full.
    pub fn events_lost(&self) -> u64 {
        self.shared().events.events_lost()
    }

    /// A new async stream of diagnostic events (bounded by `event_capacity`; overflow is
    /// counted in `events_lost`). It ends after shutdown.
    pub fn events(&self) -> EventStream {
        self.shared().events.subscribe()
    }
}

/// Counts `n` spans submitted after shutdown began as dropped, reports them (outside the
/// lock) and gives the error `submit` returns.
fn drop_after_shutdown(shared: &Shared, mut st: MutexGuard<'_, State>, n: u64) -> SubmitError {
    st.drop_submitted(n);
    let total_dropped = st.dropped;
    drop(st);
    if n > 0 {
        shared.events.emit(ExportEvent::Dropped {
            count: n,
            reason: DropReason::AfterShutdown,
            total_dropped,
        });
    }
    SubmitError::Shutdown { dropped: n }
}

/// Counts spans submitted to a disabled exporter (after shutdown they are refused as
/// usual).
fn submit_disabled(
    shared: &Shared,
    spans: impl IntoIterator<Item = Span>,
) -> Result<SubmitOutcome, SubmitError> {
    let n = spans.into_iter().count() as u64;
    let mut st = shared.lock();
    if st.shutting_down {
        st.drop_submitted(n);
        return Err(SubmitError::Shutdown { dropped: n });
    }
    st.submitted += n;
    st.disabled += n;
    Ok(SubmitOutcome {
        disabled: n,
        ..SubmitOutcome::default()
    })
}

fn prepare(
    spans: impl IntoIterator<Item = Span>,
) -> Vec<(opentelemetry_proto::tonic::trace::v1::Span, usize)> {
    spans
        .into_iter()
        .map(|s| {
            let p = into_proto_span(s);
            let len = encoded_span_len(&p);
            (p, len)
        })
        .collect()
}

fn reason_of(r: Rejection) -> DropReason {
    match r {
        Rejection::Spans => DropReason::QueueFull,
        Rejection::Bytes => DropReason::QueueBytesFull,
        Rejection::TooLarge => DropReason::TooLarge,
    }
}

fn add_reason(v: &mut Vec<(DropReason, u64)>, reason: DropReason) {
    match v.iter_mut().find(|(r, _)| *r == reason) {
        Some((_, n)) => *n += 1,
        None => v.push((reason, 1)),
    }
}

async fn flush_inner(shared: &Shared, deadline: Deadline) -> FlushReport {
    let target = {
        let mut st = shared.lock();
        let t = st.next_seq();
        st.flush_target = st.flush_target.max(t);
        t
    };
    shared.wake.notify_one();
    loop {
        let notified = shared.settled.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        {
            let st = shared.lock();
            if st.low_water() >= target || st.worker_done {
                return st.report();
            }
        }
        if tokio::time::timeout_at(deadline.instant(), notified)
            .await
            .is_err()
        {
            return shared.lock().report();
        }
    }
}

async fn shutdown_inner(shared: &Shared, deadline: Deadline) -> Result<FlushReport, ShutdownError> {
    if shared.shutdown_called.swap(true, Ordering::SeqCst) {
        return Err(ShutdownError::AlreadyShutdown);
    }
    {
        let mut st = shared.lock();
        st.shutting_down = true;
        st.at_shutdown = Some(st.report());
    }
    shared.wake.notify_one();
    shared.space.notify_waiters();
    let result = loop {
        let notified = shared.settled.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        {
            let st = shared.lock();
            if st.worker_done {
                let report = st.report();
                let base = st.at_shutdown.unwrap_or_default();
                let clean = report.failed == base.failed
                    && report.dropped == base.dropped
                    && report.pending == 0;
                break if clean {
                    Ok(report)
                } else {
                    Err(ShutdownError::ExportFailed {
                        report,
                        last_error: if st.last_error_at_shutdown {
                            st.last_error.clone()
                        } else {
                            None
                        },
                    })
                };
            }
        }
        if tokio::time::timeout_at(deadline.instant(), notified)
            .await
            .is_err()
        {
            let (report, abandoned, total) = {
                let mut st = shared.lock();
                let report = st.report();
                let n = st.abandon();
                (report, n, st.dropped)
            };
            shared.wake.notify_one();
            if abandoned > 0 {
                shared.events.emit(ExportEvent::Dropped {
                    count: abandoned,
                    reason: DropReason::ShutdownDeadline,
                    total_dropped: total,
                });
            }
            break Err(ShutdownError::DeadlineExceeded { report });
        }
    };
    let final_report = shared.lock().report();
    shared.events.emit(ExportEvent::Shutdown {
        report: final_report,
        ok: result.is_ok(),
    });
    shared.events.close_subscribers();
    result
}
