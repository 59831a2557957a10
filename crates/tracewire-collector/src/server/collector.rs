//! [`Collector`]: builder, `bind`, `serve`, and the cloneable handle; what they guarantee
//! is `docs/collector.md`.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::assembler_task::{self, Msg, Outputs, RetainedMirror};
use super::batch_pool::BatchPool;
use super::ingest::{accept_ingest, IngestContext};
use super::journal::{open_journal, start_journal};
use super::stats::{ConnRegistry, Gauges, OutputCounters, Stats};
use super::subscribe::{CallbackHandle, SpanSubscription, TraceSubscription};
use super::view_server::{accept_viewers, ViewHub};
use crate::assemble::{Assembler, AssemblyStats, Limits};
use crate::model::{CompletedSpan, Trace, WireTraceId};
use crate::paths::{self, BindError, SocketFileGuard};

/// Capacity (in batches) of the channel from connections to the assembler task.
const ASSEMBLER_CHANNEL: usize = 1024;
/// Capacity (in lines) of the journal queue.
const JOURNAL_QUEUE: usize = 65_536;
/// How long shutdown waits for viewers, the journal and the forwarder to finish.
pub(crate) const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(5);

/// State shared by every [`Collector`] handle and the server tasks.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) limits: Limits,
    pub(crate) registry: Arc<ConnRegistry>,
    pub(crate) counters: Arc<OutputCounters>,
    pub(crate) assembly: Arc<Mutex<AssemblyStats>>,
    pub(crate) retained: Arc<Mutex<RetainedMirror>>,
    pub(crate) span_tx: Mutex<Option<broadcast::Sender<Arc<CompletedSpan>>>>,
    pub(crate) trace_tx: Mutex<Option<broadcast::Sender<Arc<Trace>>>>,
    pub(crate) msg_tx: Mutex<Option<mpsc::Sender<Msg>>>,
    pub(crate) runtime: tokio::runtime::Handle,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A handle to a running (or bound) collector: subscriptions, callbacks, snapshots,
/// stats. Cheap to clone; `Send + Sync`.
#[derive(Debug, Clone)]
pub struct Collector {
    pub(crate) shared: Arc<Shared>,
}

/// Configures a collector; see [`Collector::builder`].
#[derive(Debug, Default)]
pub struct CollectorBuilder {
    socket_path: Option<PathBuf>,
    view_socket_path: Option<PathBuf>,
    extra_view_socket_path: Option<PathBuf>,
    limits: Limits,
    journal: Option<PathBuf>,
    #[cfg(feature = "otlp")]
    pub(crate) otlp: crate::otlp::OtlpConfig,
}

impl Collector {
    /// A builder with every default: the ingest path from the environment or the runtime
    /// directory ([`paths::resolve_socket_path`]), no view server, no journal, no OTLP and
    /// [`Limits::default()`].
    pub fn builder() -> CollectorBuilder {
        CollectorBuilder::default()
    }

    /// Every completed span, flat, as soon as it completes (bounded broadcast of
    /// `subscriber_capacity`; a slow subscriber gets `Lagged(n)`).
    pub fn subscribe_spans(&self) -> SpanSubscription {
        let missed = Arc::clone(&self.shared.counters.subscriber_missed);
        let rx = match &*lock(&self.shared.span_tx) {
            Some(tx) => tx.subscribe(),
            None => broadcast::channel(1).1,
        };
        SpanSubscription::new(rx, missed)
    }

    /// Every emitted trace revision (bounded broadcast, as `subscribe_spans`).
    pub fn subscribe_traces(&self) -> TraceSubscription {
        let missed = Arc::clone(&self.shared.counters.subscriber_missed);
        let rx = match &*lock(&self.shared.trace_tx) {
            Some(tx) => tx.subscribe(),
            None => broadcast::channel(1).1,
        };
        TraceSubscription::new(rx, missed)
    }

    /// Runs `f` for each completed span on a dedicated task (never on the ingest path).
    /// Dropping the handle unregisters it; a panic unregisters it and counts
    /// `callback_panics`.
    pub fn on_span_complete<F>(&self, f: F) -> CallbackHandle
    where
        F: Fn(&CompletedSpan) + Send + Sync + 'static,
    {
        self.subscribe_spans().spawn_callback(
            &self.shared.runtime,
            f,
            Arc::clone(&self.shared.counters.callback_panics),
        )
    }

    /// Runs `f` for each emitted trace revision, as [`on_span_complete`](Self::on_span_complete).
    pub fn on_trace_complete<F>(&self, f: F) -> CallbackHandle
    where
        F: Fn(&Trace) + Send + Sync + 'static,
    {
        self.subscribe_traces().spawn_callback(
            &self.shared.runtime,
            f,
            Arc::clone(&self.shared.counters.callback_panics),
        )
    }

    /// Deep copies of the retained trees (latest revision each), oldest first.
    pub fn snapshot(&self) -> Vec<Trace> {
        lock(&self.shared.retained).snapshot()
    }

    /// A deep copy of the latest retained revision of one trace.
    pub fn trace(&self, id: &WireTraceId) -> Option<Trace> {
        lock(&self.shared.retained).get(id)
    }

    /// Hands a span that arrived complete to the assembler (its `seq` is reassigned).
    /// Never blocks: when the assembler's queue is full the span is dropped and counted
    /// in `outputs.completed_dropped`; use [`ingest_completed_batch`](Self::ingest_completed_batch)
    /// to wait instead.
    pub fn ingest_completed(&self, span: CompletedSpan) {
        let tx = lock(&self.shared.msg_tx).clone();
        let ok = match tx {
            Some(tx) => tx.try_send(Msg::Completed(vec![span])).is_ok(),
            None => false,
        };
        if !ok {
            self.shared
                .counters
                .completed_dropped
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Hands complete spans to the assembler, waiting for room (back-pressure). Returns
    /// `false` (and counts them in `completed_dropped`) if the collector has shut down.
    pub async fn ingest_completed_batch(&self, spans: Vec<CompletedSpan>) -> bool {
        if spans.is_empty() {
            return true;
        }
        let n = spans.len() as u64;
        let tx = lock(&self.shared.msg_tx).clone();
        let ok = match tx {
            Some(tx) => tx.send(Msg::Completed(spans)).await.is_ok(),
            None => false,
        };
        if !ok {
            self.shared
                .counters
                .completed_dropped
                .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        }
        ok
    }

    /// Every counter and gauge.
    pub fn stats(&self) -> Stats {
        let (ingest, connections) = self.shared.registry.snapshot();
        let outputs = self.shared.counters.snapshot();
        Stats {
            gauges: Gauges {
                connections_active: connections.len() as u64,
                viewers_active: self
                    .shared
                    .counters
                    .viewers_active
                    .load(std::sync::atomic::Ordering::Relaxed),
            },
            ingest,
            connections,
            assembly: *lock(&self.shared.assembly),
            outputs,
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.shared.limits
    }
}

impl CollectorBuilder {
    /// The ingest socket. Default: `TRACEWIRE_SOCKET`, else `GOTRACE_SOCKET`, else
    /// `<runtime dir>/ingest.sock`.
    #[must_use]
    pub fn with_socket_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.socket_path = Some(path.into());
        self
    }

    /// The view socket; `None` (the default) runs no view server. The CLI passes
    /// `<runtime dir>/view-<pid>.sock`.
    #[must_use]
    pub fn with_view_socket_path(mut self, path: Option<PathBuf>) -> Self {
        self.view_socket_path = path;
        self
    }

    /// A second path for the same view server (the CLI's `--go-trace-view` binds
    /// `${TMPDIR:-/tmp}/go-trace-view-<pid>.sock` so go-trace's viewer discovers it).
    #[must_use]
    pub fn with_extra_view_socket_path(mut self, path: Option<PathBuf>) -> Self {
        self.extra_view_socket_path = path;
        self
    }

    /// Bounds, timers and queue sizes.
    #[must_use]
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Appends every completed span as a view line to this file (0600, `O_APPEND`).
    #[must_use]
    pub fn with_journal(mut self, path: impl Into<PathBuf>) -> Self {
        self.journal = Some(path.into());
        self
    }

    /// Binds every socket (and opens the journal) so errors surface before anything
    /// runs. Must be called inside a tokio runtime.
    pub async fn bind(self) -> Result<BoundCollector, BindError> {
        let socket_path = paths::resolve_socket_path(self.socket_path.as_deref())?;
        let mut view_paths = Vec::new();
        if let Some(p) = self.view_socket_path.clone() {
            view_paths.push(p);
        }
        if let Some(p) = self.extra_view_socket_path.clone() {
            view_paths.push(p);
        }
        // Every length first, before any filesystem change.
        paths::check_path_len(&socket_path)?;
        for p in &view_paths {
            paths::check_path_len(p)?;
        }
        paths::prepare_parent(&socket_path)?;
        for p in &view_paths {
            paths::prepare_parent(p)?;
        }
        let (ingest_std, ingest_guard) = paths::bind_socket(&socket_path)?;
        let ingest = to_tokio(ingest_std, &socket_path)?;
        let mut views = Vec::new();
        for p in &view_paths {
            let (l, g) = paths::bind_socket(p)?;
            views.push((to_tokio(l, p)?, g));
        }
        let journal = match &self.journal {
            Some(p) => Some(open_journal(p).map_err(|source| BindError::Io {
                path: p.clone(),
                source,
            })?),
            None => None,
        };
        #[cfg(feature = "otlp")]
        let otlp = crate::otlp::bind(&self.otlp).await?;

        let limits = self.limits;
        let (span_tx, _) = broadcast::channel(limits.subscriber_capacity.max(1));
        let (trace_tx, _) = broadcast::channel(limits.subscriber_capacity.max(1));
        let (msg_tx, msg_rx) = mpsc::channel(ASSEMBLER_CHANNEL);
        let shared = Arc::new(Shared {
            limits,
            registry: Arc::new(ConnRegistry::default()),
            counters: Arc::new(OutputCounters::default()),
            assembly: Arc::new(Mutex::new(AssemblyStats::default())),
            retained: Arc::new(Mutex::new(RetainedMirror::default())),
            span_tx: Mutex::new(Some(span_tx)),
            trace_tx: Mutex::new(Some(trace_tx)),
            msg_tx: Mutex::new(Some(msg_tx)),
            runtime: tokio::runtime::Handle::current(),
        });
        Ok(BoundCollector {
            collector: Collector { shared },
            socket_path,
            ingest,
            ingest_guard,
            views,
            view_paths,
            journal,
            msg_rx,
            #[cfg(feature = "otlp")]
            otlp,
        })
    }
}

fn to_tokio(
    listener: std::os::unix::net::UnixListener,
    path: &Path,
) -> Result<tokio::net::UnixListener, BindError> {
    let io = |source| BindError::Io {
        path: path.to_path_buf(),
        source,
    };
    listener.set_nonblocking(true).map_err(io)?;
    tokio::net::UnixListener::from_std(listener).map_err(io)
}

/// A collector whose sockets are bound but not yet served.
#[derive(Debug)]
pub struct BoundCollector {
    collector: Collector,
    socket_path: PathBuf,
    ingest: tokio::net::UnixListener,
    ingest_guard: SocketFileGuard,
    views: Vec<(tokio::net::UnixListener, SocketFileGuard)>,
    view_paths: Vec<PathBuf>,
    journal: Option<std::fs::File>,
    msg_rx: mpsc::Receiver<Msg>,
    #[cfg(feature = "otlp")]
    otlp: crate::otlp::BoundOtlp,
}

/// What `serve` returns after a graceful shutdown.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServeReport {
    /// The final counters.
    pub stats: Stats,
    /// Outputs that did not finish within the shutdown deadline (e.g. `"journal"`).
    pub unfinished: Vec<&'static str>,
}

/// Why serving failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// A server task panicked.
    #[error("collector task failed: {0}")]
    Task(String),
}

impl BoundCollector {
    /// A handle (subscriptions made before `serve` see every span).
    pub fn handle(&self) -> Collector {
        self.collector.clone()
    }

    /// The bound ingest socket.
    pub fn socket_path(&self) -> &Path {
        &self.socket_path
    }

    /// The bound view socket, if any.
    pub fn view_socket_path(&self) -> Option<&Path> {
        self.view_paths.first().map(PathBuf::as_path)
    }

    /// The bound OTLP/HTTP receiver address, if any.
    #[cfg(feature = "otlp")]
    pub fn otlp_http_addr(&self) -> Option<std::net::SocketAddr> {
        self.otlp.local_addr()
    }

    /// Serves until `shutdown` completes, then shuts down gracefully.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<ServeReport, ServeError> {
        let token = CancellationToken::new();
        let serving = self.serve_with_token(token.clone());
        tokio::pin!(serving);
        tokio::select! {
            r = &mut serving => return r,
            _ = shutdown => token.cancel(),
        }
        serving.await
    }

    /// Serves until `token` is cancelled: stops accepting, ends the connections, emits
    /// every open trace, closes subscriptions, drains viewers and the journal (and the
    /// forwarder) within 5 s, and removes the socket files if still ours.
    pub async fn serve_with_token(
        self,
        token: CancellationToken,
    ) -> Result<ServeReport, ServeError> {
        let BoundCollector {
            collector,
            socket_path: _,
            ingest,
            mut ingest_guard,
            views,
            view_paths: _,
            journal,
            msg_rx,
            #[cfg(feature = "otlp")]
            otlp,
        } = self;
        let shared = Arc::clone(&collector.shared);
        let limits = shared.limits.clone();
        let output_tasks = TaskTracker::new();
        let view_tasks = TaskTracker::new();
        let conn_tasks = TaskTracker::new();

        let hub = if views.is_empty() {
            None
        } else {
            Some(Arc::new(ViewHub::new(
                limits.backlog,
                limits.viewer_queue,
                Arc::clone(&shared.counters),
            )))
        };
        let journal = journal.map(|file| {
            start_journal(
                file,
                JOURNAL_QUEUE,
                Arc::clone(&shared.counters),
                &output_tasks,
            )
        });
        let span_tx = lock(&shared.span_tx).clone();
        let trace_tx = lock(&shared.trace_tx).clone();
        let (Some(span_tx), Some(trace_tx)) = (span_tx, trace_tx) else {
            return Err(ServeError::Task("collector already served".into()));
        };
        #[cfg(feature = "otlp")]
        let otlp_running = otlp.start(&collector, &output_tasks, token.clone());

        let batches = Arc::new(BatchPool::default());
        let outputs = Outputs {
            spans: span_tx,
            traces: trace_tx,
            hub: hub.clone(),
            journal,
            retained: Arc::clone(&shared.retained),
            stats: Arc::clone(&shared.assembly),
            batches: Arc::clone(&batches),
        };
        let assembler = Assembler::new(limits.clone());
        let assembler_task = tokio::spawn(assembler_task::run(assembler, msg_rx, outputs));

        let accept_cancel = CancellationToken::new();
        let conn_cancel = CancellationToken::new();
        let mut view_guards = Vec::new();
        for (listener, guard) in views {
            view_guards.push(guard);
            if let Some(hub) = &hub {
                view_tasks.spawn(accept_viewers(
                    listener,
                    Arc::clone(hub),
                    accept_cancel.clone(),
                    view_tasks.clone(),
                ));
            }
        }
        let Some(msg_tx) = lock(&shared.msg_tx).clone() else {
            return Err(ServeError::Task("collector already served".into()));
        };
        let ctx = IngestContext {
            registry: Arc::clone(&shared.registry),
            tx: msg_tx,
            batches,
            max_line_bytes: limits.max_line_bytes,
            max_connections: limits.max_connections,
        };
        let accept = tokio::spawn(accept_ingest(
            ingest,
            ctx,
            accept_cancel.clone(),
            conn_cancel.clone(),
            conn_tasks.clone(),
        ));

        token.cancelled().await;

        // 1. Stop accepting; end the connections (events already read are delivered).
        accept_cancel.cancel();
        let mut failure = None;
        if let Err(e) = accept.await {
            failure = Some(e.to_string());
        }
        conn_cancel.cancel();
        conn_tasks.close();
        conn_tasks.wait().await;
        // 2. No more senders: the assembler emits every open trace and closes outputs.
        lock(&shared.msg_tx).take();
        #[cfg(feature = "otlp")]
        otlp_running.stop_receiver().await;
        lock(&shared.msg_tx).take();
        if let Err(e) = assembler_task.await {
            failure = Some(e.to_string());
        }
        lock(&shared.span_tx).take();
        lock(&shared.trace_tx).take();
        // 3. Viewers, journal, forwarder: finish within the deadline.
        let mut unfinished = Vec::new();
        view_tasks.close();
        if tokio::time::timeout(SHUTDOWN_DEADLINE, view_tasks.wait())
            .await
            .is_err()
        {
            unfinished.push("viewers");
        }
        output_tasks.close();
        if tokio::time::timeout(SHUTDOWN_DEADLINE, output_tasks.wait())
            .await
            .is_err()
        {
            unfinished.push("journal/forwarder");
        }
        ingest_guard.remove();
        for mut g in view_guards {
            g.remove();
        }
        if let Some(f) = failure {
            return Err(ServeError::Task(f));
        }
        Ok(ServeReport {
            stats: collector.stats(),
            unfinished,
        })
    }
}
