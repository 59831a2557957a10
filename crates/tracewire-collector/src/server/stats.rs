//! Collector statistics (`docs/collector.md#counters`): per-connection and global ingest counters,
//! assembly counters, output counters and gauges, all monotonic except the gauges.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use serde::Serialize;

use crate::assemble::AssemblyStats;
use crate::wire::IngestCounts;

/// Counters of one ingest connection.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct ConnStats {
    /// Collector-wide connection number, from 1.
    pub id: u64,
    /// The peer's process id, when the OS reports it.
    pub peer_pid: Option<i32>,
    /// When the connection was accepted (ns since the Unix epoch).
    pub connected_since_unix_ns: u64,
    /// Line counters of this connection.
    #[serde(flatten)]
    pub counts: IngestCounts,
}

/// Counters of the outputs (subscribers, callbacks, viewers, journal, forwarder, OTLP).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct OutputStats {
    /// Items subscribers missed (sum of every `Lagged(n)`).
    pub subscriber_missed: u64,
    /// Callbacks unregistered because they panicked.
    pub callback_panics: u64,
    /// Viewers accepted so far.
    pub viewers_connected: u64,
    /// Viewers disconnected because their queue filled or a write timed out.
    pub viewers_slow_dropped: u64,
    /// Viewers that hung up or whose write failed.
    pub viewers_closed: u64,
    /// Spans appended to the journal.
    pub journal_written: u64,
    /// Spans not journaled because its queue was full.
    pub journal_dropped: u64,
    /// Journal write errors (each loses the lines of that write).
    pub journal_errors: u64,
    /// Spans given to `ingest_completed` but dropped because the assembler queue was full.
    pub completed_dropped: u64,
    /// Spans handed to the OTLP forwarder.
    pub forward_enqueued: u64,
    /// Spans the forwarder's subscription missed (lag).
    pub forward_lagged: u64,
    /// Spans the forwarder's exporter dropped (queue full).
    pub forward_dropped: u64,
    /// Spans exported successfully by the forwarder.
    pub forward_exported: u64,
    /// Spans whose export failed.
    pub forward_failed: u64,
    /// Spans accepted by the OTLP receiver.
    pub otlp_accepted: u64,
    /// Spans rejected by the OTLP receiver.
    pub otlp_rejected: u64,
}

/// Current values (not monotonic).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Gauges {
    /// Open ingest connections.
    pub connections_active: u64,
    /// Connected viewers.
    pub viewers_active: u64,
}

/// Everything the collector counts; `Clone` + `Serialize`, fields named as in
/// [docs/collector.md#counters](https://github.com/tracewire/tracewire/blob/main/docs/collector.md#counters).
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Stats {
    /// Global ingest counters: closed connections folded in, plus the open ones.
    pub ingest: IngestTotals,
    /// Each open connection.
    pub connections: Vec<ConnStats>,
    /// Assembler counters (pairing, traces, bounds).
    pub assembly: AssemblyStats,
    /// Output counters.
    pub outputs: OutputStats,
    /// Gauges.
    pub gauges: Gauges,
}

/// Global ingest counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct IngestTotals {
    /// Line counters summed over all connections.
    #[serde(flatten)]
    pub counts: IngestCounts,
    /// Connections accepted.
    pub connections_accepted: u64,
    /// Connections closed at once because `max_connections` were open.
    pub connections_rejected: u64,
}

/// The atomic output counters shared by the tasks.
#[derive(Debug, Default)]
pub(crate) struct OutputCounters {
    pub(crate) subscriber_missed: Arc<AtomicU64>,
    pub(crate) callback_panics: Arc<AtomicU64>,
    pub(crate) viewers_connected: AtomicU64,
    pub(crate) viewers_slow_dropped: AtomicU64,
    pub(crate) viewers_closed: AtomicU64,
    pub(crate) viewers_active: AtomicU64,
    pub(crate) journal_written: AtomicU64,
    pub(crate) journal_dropped: AtomicU64,
    pub(crate) journal_errors: AtomicU64,
    pub(crate) completed_dropped: AtomicU64,
    pub(crate) forward_enqueued: AtomicU64,
    pub(crate) forward_lagged: AtomicU64,
    pub(crate) forward_dropped: AtomicU64,
    pub(crate) forward_exported: AtomicU64,
    pub(crate) forward_failed: AtomicU64,
    pub(crate) otlp_accepted: AtomicU64,
    pub(crate) otlp_rejected: AtomicU64,
}

impl OutputCounters {
    pub(crate) fn snapshot(&self) -> OutputStats {
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        OutputStats {
            subscriber_missed: l(&self.subscriber_missed),
            callback_panics: l(&self.callback_panics),
            viewers_connected: l(&self.viewers_connected),
            viewers_slow_dropped: l(&self.viewers_slow_dropped),
            viewers_closed: l(&self.viewers_closed),
            journal_written: l(&self.journal_written),
            journal_dropped: l(&self.journal_dropped),
            journal_errors: l(&self.journal_errors),
            completed_dropped: l(&self.completed_dropped),
            forward_enqueued: l(&self.forward_enqueued),
            forward_lagged: l(&self.forward_lagged),
            forward_dropped: l(&self.forward_dropped),
            forward_exported: l(&self.forward_exported),
            forward_failed: l(&self.forward_failed),
            otlp_accepted: l(&self.otlp_accepted),
            otlp_rejected: l(&self.otlp_rejected),
        }
    }
}

/// One open connection's live counters (updated once per read chunk).
#[derive(Debug)]
pub(crate) struct ConnEntry {
    pub(crate) peer_pid: Option<i32>,
    pub(crate) connected_since_unix_ns: u64,
    pub(crate) counts: IngestCounts,
}

#[derive(Debug, Default)]
struct Registry {
    open: BTreeMap<u64, ConnEntry>,
    closed_totals: IngestCounts,
    next_id: u64,
    accepted: u64,
    rejected: u64,
}

/// Per-connection counters and the folded totals of closed connections. Folding and
/// forgetting happen under one lock, so a `stats()` read never counts a line twice.
#[derive(Debug, Default)]
pub(crate) struct ConnRegistry {
    inner: Mutex<Registry>,
}

impl ConnRegistry {
    fn lock(&self) -> MutexGuard<'_, Registry> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a new connection; returns its id.
    pub(crate) fn open(&self, peer_pid: Option<i32>) -> u64 {
        let since = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        let mut r = self.lock();
        r.next_id += 1;
        r.accepted += 1;
        let id = r.next_id;
        r.open.insert(
            id,
            ConnEntry {
                peer_pid,
                connected_since_unix_ns: since,
                counts: IngestCounts::default(),
            },
        );
        id
    }

    /// Counts a connection refused by `max_connections`.
    pub(crate) fn reject(&self) {
        self.lock().rejected += 1;
    }

    /// Publishes a connection's current counters.
    pub(crate) fn update(&self, id: u64, counts: &IngestCounts) {
        if let Some(e) = self.lock().open.get_mut(&id) {
            e.counts = *counts;
        }
    }

    /// Folds a closed connection into the totals and forgets it.
    pub(crate) fn close(&self, id: u64, counts: &IngestCounts) {
        let mut r = self.lock();
        r.open.remove(&id);
        r.closed_totals.add(counts);
    }

    /// Number of open connections.
    pub(crate) fn active(&self) -> usize {
        self.lock().open.len()
    }

    /// Global totals and each open connection.
    pub(crate) fn snapshot(&self) -> (IngestTotals, Vec<ConnStats>) {
        let r = self.lock();
        let mut counts = r.closed_totals;
        let mut conns = Vec::with_capacity(r.open.len());
        for (id, e) in &r.open {
            counts.add(&e.counts);
            conns.push(ConnStats {
                id: *id,
                peer_pid: e.peer_pid,
                connected_since_unix_ns: e.connected_since_unix_ns,
                counts: e.counts,
            });
        }
        (
            IngestTotals {
                counts,
                connections_accepted: r.accepted,
                connections_rejected: r.rejected,
            },
            conns,
        )
    }
}
