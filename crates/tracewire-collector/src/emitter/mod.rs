//! The app-side [`Emitter`] (feature `emitter`,
//! [docs/collector.md#emitter](https://github.com/tracewire/tracewire/blob/main/docs/collector.md#emitter)):
//! sends ingest lines
//! ([docs/wire-formats.md#collector-ingest-lines](https://github.com/tracewire/tracewire/blob/main/docs/wire-formats.md#collector-ingest-lines))
//! to a collector from any program, with no async runtime.
//!
//! `emit` never blocks the app and does no I/O: it encodes a line onto a bounded queue.
//! One background OS thread (`tracewire-emitter`) connects lazily, writes batches, and
//! reconnects with exponential backoff plus jitter. Every line is accounted for in
//! [`EmitterStats`].
//!
//! ```no_run
//! use std::time::{Duration, Instant};
//! use tracewire_collector::emitter::Emitter;
//! use tracewire_collector::model::WireKind;
//!
//! let emitter = Emitter::builder().with_socket_path("/tmp/tracewire-demo.sock").build();
//! let root = emitter.enter("GET /users", WireKind::Http, None);
//! let child = emitter.enter("SQL Query", WireKind::Sql, Some(&root.ids()));
//! child.end([("query", "SELECT 1")], None);
//! root.end([("status", "200")], None);
//! emitter.shutdown(Instant::now() + Duration::from_secs(1)).ok();
//! ```

mod queue;
mod span;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use span::{ActiveSpan, SpanIds};

use crate::model::IngestEvent;
use queue::Shared;

/// Default queue capacity in lines.
pub const DEFAULT_QUEUE_CAPACITY: usize = 8192;
/// Longest line (without `\n`) the emitter sends; longer ones are dropped as `oversize`.
pub const MAX_LINE_BYTES: usize = 1024 * 1024;

/// What to drop when the queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum DropPolicy {
    /// Drop the oldest queued line, keeping the newest data (default).
    #[default]
    DropOldest,
    /// Drop the line being emitted, keeping what is queued.
    DropNewest,
}

/// Width of the trace ids the emitter generates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum IdWidth {
    /// 128-bit W3C trace ids (32 hex; default).
    #[default]
    W3c,
    /// 64-bit trace ids (16 hex), identical in shape to go-trace's output.
    Short,
}

/// The workspace's one backoff (from `tracewire-otlp`), here the delays between
/// reconnect attempts.
pub use tracewire_otlp::backoff::Backoff;

/// The default reconnect backoff: 50 ms doubling to 5 s, each delay scaled by a random
/// factor in (0.5, 1.0] (jitter 0.5) so restarted collectors are not stampeded.
pub const DEFAULT_BACKOFF: Backoff =
    Backoff::new(Duration::from_millis(50), Duration::from_secs(5)).with_jitter(0.5);

/// Counters of an emitter, so nothing is lost silently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct EmitterStats {
    /// Lines accepted onto the queue (including those later dropped as the oldest).
    pub queued: u64,
    /// Lines written to the socket.
    pub sent: u64,
    /// Lines dropped by the overflow policy, after close, or left at shutdown.
    pub dropped: u64,
    /// Lines over 1 MiB, never queued.
    pub oversize: u64,
    /// Lines of a failed write (not retried, so never duplicated).
    pub write_failed: u64,
    /// Successful connects after the first one.
    pub reconnects: u64,
    /// Whether the writer currently holds a connection.
    pub connected: bool,
}

/// Why `flush` or `shutdown` did not finish.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FlushError {
    /// The deadline passed with `pending` lines (queued before the call) neither written
    /// nor dropped.
    #[error("flush timed out with {pending} lines still pending")]
    Timeout {
        /// Lines still pending.
        pending: u64,
    },
}

/// Builder of an [`Emitter`].
#[derive(Debug, Clone)]
pub struct EmitterBuilder {
    socket_path: Option<PathBuf>,
    queue_capacity: Option<usize>,
    drop_policy: DropPolicy,
    backoff: Backoff,
    write_timeout: Option<Duration>,
    id_width: IdWidth,
}

impl Default for EmitterBuilder {
    fn default() -> Self {
        Self {
            socket_path: None,
            queue_capacity: None,
            drop_policy: DropPolicy::default(),
            backoff: DEFAULT_BACKOFF,
            write_timeout: None,
            id_width: IdWidth::default(),
        }
    }
}

impl EmitterBuilder {
    /// The collector's ingest socket. Without it, `TRACEWIRE_SOCKET` then `GOTRACE_SOCKET`
    /// are used; with none of them the emitter is a disabled no-op.
    #[must_use]
    pub fn with_socket_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.socket_path = Some(path.into());
        self
    }

    /// Queue capacity in lines (default 8192).
    #[must_use]
    pub fn with_queue_capacity(mut self, lines: usize) -> Self {
        self.queue_capacity = Some(lines);
        self
    }

    /// What to drop when the queue is full (default [`DropPolicy::DropOldest`]).
    #[must_use]
    pub fn with_drop_policy(mut self, policy: DropPolicy) -> Self {
        self.drop_policy = policy;
        self
    }

    /// Reconnect backoff (default [`DEFAULT_BACKOFF`]: 50 ms doubling to 5 s, jitter 0.5).
    #[must_use]
    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Deadline of one socket write (default 1 s); a timed-out write counts as failed.
    #[must_use]
    pub fn with_write_timeout(mut self, timeout: Duration) -> Self {
        self.write_timeout = Some(timeout);
        self
    }

    /// Width of generated trace ids (default [`IdWidth::W3c`]).
    #[must_use]
    pub fn with_id_width(mut self, width: IdWidth) -> Self {
        self.id_width = width;
        self
    }

    /// Starts the emitter (and its thread, when a path is known).
    pub fn build(self) -> Emitter {
        let path = crate::paths::configured_socket_path(self.socket_path.as_deref());
        Emitter::start(
            path,
            self.queue_capacity.unwrap_or(DEFAULT_QUEUE_CAPACITY),
            self.drop_policy,
            self.backoff,
            self.write_timeout.unwrap_or(Duration::from_secs(1)),
            self.id_width,
        )
    }
}

/// Sends span events to a collector without blocking the app. Cheap to share behind an
/// `Arc`; all methods take `&self`.
#[derive(Debug)]
pub struct Emitter {
    shared: Option<Arc<Shared>>,
    thread: std::sync::Mutex<Option<JoinHandle<()>>>,
    path: Option<PathBuf>,
    id_width: IdWidth,
}

impl Emitter {
    /// A builder with every default.
    pub fn builder() -> EmitterBuilder {
        EmitterBuilder::default()
    }

    /// From `TRACEWIRE_SOCKET`, else `GOTRACE_SOCKET`; with neither set, a disabled no-op
    /// (safe in production).
    pub fn from_env() -> Self {
        Self::builder().build()
    }

    fn start(
        path: Option<PathBuf>,
        capacity: usize,
        drop_policy: DropPolicy,
        backoff: Backoff,
        write_timeout: Duration,
        id_width: IdWidth,
    ) -> Self {
        let Some(path) = path else {
            return Self {
                shared: None,
                thread: std::sync::Mutex::new(None),
                path: None,
                id_width,
            };
        };
        let shared = Arc::new(Shared::new(capacity, drop_policy, MAX_LINE_BYTES));
        let config = writer::WriterConfig {
            path: path.clone(),
            backoff,
            write_timeout,
        };
        let for_thread = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("tracewire-emitter".into())
            .spawn(move || writer::run(for_thread, config));
        match thread {
            Ok(handle) => Self {
                shared: Some(shared),
                thread: std::sync::Mutex::new(Some(handle)),
                path: Some(path),
                id_width,
            },
            // No thread could be started: behave as disabled rather than queue forever.
            Err(_) => Self {
                shared: None,
                thread: std::sync::Mutex::new(None),
                path: None,
                id_width,
            },
        }
    }

    /// Whether this emitter sends anywhere (false: no socket configured).
    pub fn is_enabled(&self) -> bool {
        self.shared.is_some()
    }

    /// The socket this emitter sends to.
    pub fn socket_path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The id width used by [`enter`](Self::enter).
    pub fn id_width(&self) -> IdWidth {
        self.id_width
    }

    /// Encodes `event` as one ingest line (int `type` and `kind`,
    /// [docs/wire-formats.md#collector-ingest-lines](https://github.com/tracewire/tracewire/blob/main/docs/wire-formats.md#collector-ingest-lines))
    /// onto the queue. Never blocks and does no I/O.
    pub fn emit(&self, event: &IngestEvent) {
        if let Some(shared) = &self.shared {
            let mut line = Vec::with_capacity(256);
            crate::wire::encode_ingest_line(event, &mut line);
            shared.offer(line);
        }
    }

    /// Waits until every line emitted before the call is written or dropped, or `deadline`.
    pub fn flush(&self, deadline: Instant) -> Result<(), FlushError> {
        match &self.shared {
            Some(shared) => shared
                .wait_done(deadline)
                .map_err(|pending| FlushError::Timeout { pending }),
            None => Ok(()),
        }
    }

    /// Stops accepting lines, flushes until `deadline`, closes the connection and joins the
    /// thread. Lines still queued at the deadline are dropped (counted) and `Timeout` is
    /// returned. Idempotent.
    pub fn shutdown(&self, deadline: Instant) -> Result<(), FlushError> {
        let Some(shared) = &self.shared else {
            return Ok(());
        };
        let result = {
            let mut st = shared.lock();
            st.closed = true;
            drop(st);
            shared
                .wait_done(deadline)
                .map_err(|pending| FlushError::Timeout { pending })
        };
        shared.lock().stop = true;
        shared.writer_wake.notify_all();
        let handle = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(handle) = handle {
            // A write in progress ends within `write_timeout`.
            let _ = handle.join();
        }
        result
    }

    /// Current counters.
    pub fn stats(&self) -> EmitterStats {
        self.shared.as_ref().map(|s| s.stats()).unwrap_or_default()
    }
}

impl Drop for Emitter {
    fn drop(&mut self) {
        // Signal the thread without waiting for it.
        if let Some(shared) = &self.shared {
            let mut st = shared.lock();
            st.closed = true;
            st.stop = true;
            drop(st);
            shared.writer_wake.notify_all();
        }
    }
}
