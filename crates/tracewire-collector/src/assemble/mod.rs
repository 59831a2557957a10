//! The sans-IO span assembler: pairs starts with ends, assigns `seq`, groups spans into
//! traces, emits trees after a grace window, re-emits revisions for late spans, flushes idle
//! partial traces, and keeps four hard memory bounds, counting every loss. Every rule is
//! stated in [docs/collector.md](https://github.com/tracewire/tracewire/blob/main/docs/collector.md).
//!
//! The [`Assembler`] never reads a clock or does I/O: the caller passes a monotonic `now`
//! to every call and drains [`Output`]s. Every rule is therefore testable without sleeps.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use tracewire_collector::assemble::{Assembler, Limits, Output};
//! use tracewire_collector::wire::decode_ingest_line;
//!
//! let mut asm = Assembler::new(Limits::default());
//! let t0 = Instant::now();
//! for line in [
//!     r#"{"type":0,"span_id":"9f86d081884c7d65","trace_id":"3a7bd3e2360a3d29","name":"GET /users","kind":1,"time":"2025-06-01T10:00:00Z"}"#,
//!     r#"{"type":1,"span_id":"9f86d081884c7d65","trace_id":"3a7bd3e2360a3d29","name":"","kind":0,"time":"2025-06-01T10:00:00.01Z"}"#,
//! ] {
//!     asm.push_event(decode_ingest_line(line.as_bytes()).unwrap(), t0);
//! }
//! // The completed span is delivered flat at once...
//! assert!(matches!(asm.pop_output(), Some(Output::Span(s)) if s.seq == 1));
//! // ...and the tree after the grace window.
//! asm.tick(t0 + Duration::from_millis(500));
//! let Some(Output::Trace(trace)) = asm.pop_output() else { panic!("no trace") };
//! assert_eq!((trace.revision, trace.partial), (1, false));
//! assert_eq!(trace.root.span.duration, Duration::from_millis(10));
//! let stats = asm.stats();
//! assert!(stats.conservation_holds());
//! ```

mod hash;
mod pending;
mod tree;

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::model::{CompletedSpan, IngestEvent, SpanEnd, SpanStart, Trace, WireTraceId};
use hash::IdHashBuilder;
use pending::{SpanKey, TimedBuffer};

pub use tree::{build_tree, SYNTHETIC_ROOT_NAME};

/// Every tunable bound and timer of the collector, with its default
/// ([docs/collector.md#bounds-and-eviction](https://github.com/tracewire/tracewire/blob/main/docs/collector.md#bounds-and-eviction)).
///
/// `#[non_exhaustive]`: start from `Limits::default()` and assign the fields you change.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Longest accepted ingest line in bytes, terminator excluded (1 MiB).
    pub max_line_bytes: usize,
    /// Concurrent ingest connections; extra ones are closed at once (1024).
    pub max_connections: usize,
    /// How long a start waits for its end (10 min).
    pub pending_ttl: Duration,
    /// How long an end waits for its start (5 s).
    pub early_end_ttl: Duration,
    /// Wait after a root completes before emitting the tree (500 ms).
    pub grace: Duration,
    /// An open trace without events this long is flushed as partial (30 s).
    pub idle_timeout: Duration,
    /// Pending starts plus early ends held at most (100,000).
    pub max_pending_spans: usize,
    /// Open plus closing traces held at most (10,000; at least 1 is used).
    pub max_buffered_traces: usize,
    /// Spans attached to one trace at most (10,000).
    pub max_spans_per_trace: usize,
    /// Emitted trees kept for late spans and snapshots (1,000).
    pub max_retained_traces: usize,
    /// Capacity of each span / trace subscription (4096).
    pub subscriber_capacity: usize,
    /// View lines replayed to a new viewer (1000).
    pub backlog: usize,
    /// Lines queued per viewer before it is disconnected (4096).
    pub viewer_queue: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_line_bytes: 1 << 20,
            max_connections: 1024,
            pending_ttl: Duration::from_secs(600),
            early_end_ttl: Duration::from_secs(5),
            grace: Duration::from_millis(500),
            idle_timeout: Duration::from_secs(30),
            max_pending_spans: 100_000,
            max_buffered_traces: 10_000,
            max_spans_per_trace: 10_000,
            max_retained_traces: 1_000,
            subscriber_capacity: 4096,
            backlog: 1000,
            viewer_queue: 4096,
        }
    }
}

/// Assembly counters (monotonic) and gauges (`*_now`, `buffered_traces`,
/// `retained_traces`), named as in
/// [docs/collector.md#conservation](https://github.com/tracewire/tracewire/blob/main/docs/collector.md#conservation).
///
/// At every quiescent point:
/// `starts = paired + pending_now + duplicate_start + pending_expired + pending_evicted` and
/// `ends = paired + early_ends_now + orphan_ends` (see [`conservation_holds`](Self::conservation_holds)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct AssemblyStats {
    /// Start events pushed.
    pub starts: u64,
    /// End events pushed.
    pub ends: u64,
    /// Starts paired with their end (spans completed from events).
    pub paired: u64,
    /// Starts replaced by a later start with the same key.
    pub duplicate_start: u64,
    /// Starts dropped after `pending_ttl`.
    pub pending_expired: u64,
    /// Starts evicted by `max_pending_spans`.
    pub pending_evicted: u64,
    /// Ends dropped without a start (TTL, eviction or replaced by a second early end).
    pub orphan_ends: u64,
    /// Spans whose wall-clock end was before their start (clamped to 0).
    pub clock_skew: u64,
    /// Completed spans delivered (the last `seq` assigned).
    pub completed: u64,
    /// Spans that arrived already complete (`push_completed`).
    pub completed_ingested: u64,
    /// Trees emitted (every revision counts).
    pub traces_emitted: u64,
    /// Open traces emitted as partial after `idle_timeout`.
    pub partial_flushes: u64,
    /// Traces emitted early to respect `max_buffered_traces`.
    pub forced_flushes: u64,
    /// Spans delivered flat but not attached (`max_spans_per_trace`).
    pub over_trace_limit: u64,
    /// Emitted trees dropped from the retained ring.
    pub retained_evicted: u64,
    /// Spans for a trace already evicted from the ring (they open a fresh trace).
    pub late_after_eviction: u64,
    /// Gauge: starts waiting for their end.
    pub pending_now: u64,
    /// Gauge: ends waiting for their start.
    pub early_ends_now: u64,
    /// Gauge: open plus closing traces.
    pub buffered_traces: u64,
    /// Gauge: emitted trees retained.
    pub retained_traces: u64,
}

impl AssemblyStats {
    /// True when both conservation equations hold
    /// ([docs/collector.md#conservation](https://github.com/tracewire/tracewire/blob/main/docs/collector.md#conservation)).
    pub fn conservation_holds(&self) -> bool {
        self.starts
            == self.paired
                + self.pending_now
                + self.duplicate_start
                + self.pending_expired
                + self.pending_evicted
            && self.ends == self.paired + self.early_ends_now + self.orphan_ends
    }
}

/// What the assembler hands to its outputs, in order.
#[derive(Debug, Clone)]
pub enum Output {
    /// A completed span (flat outputs: subscribers, view server, journal, forwarder),
    /// delivered as soon as it completes. Shared (not copied) with the trace's tree.
    Span(Arc<CompletedSpan>),
    /// An emitted tree; a later revision of the same trace id replaces earlier ones.
    Trace(Trace),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Collecting spans, no root yet.
    Open,
    /// A root completed (or a late span arrived); emitted when the grace of `gen` ends.
    Closing { gen: u64 },
    /// Emitted and retained.
    Emitted,
}

#[derive(Debug)]
struct TraceEntry {
    spans: Vec<Arc<CompletedSpan>>,
    state: State,
    revision: u32,
    /// Spans included in the last emission (the retained tree = spans[..emitted_len]).
    emitted_len: usize,
    last_activity: Instant,
    /// Key in `activity` while buffered.
    indexed_at: Option<Instant>,
    /// Position stamp in `retained` while emitted.
    retained_stamp: Option<u64>,
}

/// The span assembler; see the [module docs](self).
#[derive(Debug)]
pub struct Assembler {
    limits: Limits,
    now: Option<Instant>,
    stamp: u64,
    next_seq: u64,
    stats: AssemblyStats,
    pending: TimedBuffer<SpanStart>,
    early: TimedBuffer<SpanEnd>,
    traces: HashMap<WireTraceId, TraceEntry, IdHashBuilder>,
    /// Buffered traces by (indexed activity, id); keys may lag the real activity.
    activity: BTreeSet<(Instant, WireTraceId)>,
    /// Grace deadlines in order: (deadline, trace, closing generation).
    grace: VecDeque<(Instant, WireTraceId, u64)>,
    /// Emitted traces, oldest first: (trace, stamp); stale stamps are skipped.
    retained: VecDeque<(WireTraceId, u64)>,
    retained_count: usize,
    /// Recently evicted trace ids and their last revision.
    tombstones: HashMap<WireTraceId, u32, IdHashBuilder>,
    tombstone_order: VecDeque<WireTraceId>,
    outputs: VecDeque<Output>,
}

impl Default for Assembler {
    fn default() -> Self {
        Self::new(Limits::default())
    }
}

impl Assembler {
    /// An empty assembler with these limits.
    pub fn new(limits: Limits) -> Self {
        Assembler {
            limits,
            now: None,
            stamp: 0,
            next_seq: 1,
            stats: AssemblyStats::default(),
            pending: TimedBuffer::new(),
            early: TimedBuffer::new(),
            traces: HashMap::with_hasher(IdHashBuilder::new()),
            activity: BTreeSet::new(),
            grace: VecDeque::new(),
            retained: VecDeque::new(),
            retained_count: 0,
            tombstones: HashMap::with_hasher(IdHashBuilder::new()),
            tombstone_order: VecDeque::new(),
            outputs: VecDeque::new(),
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Counters and gauges.
    pub fn stats(&self) -> AssemblyStats {
        let mut s = self.stats;
        s.pending_now = self.pending.len() as u64;
        s.early_ends_now = self.early.len() as u64;
        s.buffered_traces = self.activity.len() as u64;
        s.retained_traces = self.retained_count as u64;
        s
    }

    /// The next output, oldest first. Outputs accumulate until taken, so drain them after
    /// every `push_*`, `tick` or `shutdown` call.
    pub fn pop_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// All outputs produced so far, oldest first.
    pub fn drain_outputs(&mut self) -> std::collections::vec_deque::Drain<'_, Output> {
        self.outputs.drain(..)
    }

    /// Pushes one decoded ingest event at monotonic time `now` (expiring timers due first).
    pub fn push_event(&mut self, event: IngestEvent, now: Instant) {
        let now = self.advance(now);
        self.touch(event.trace_id(), now);
        match event {
            IngestEvent::Start(start) => self.on_start(start, now),
            IngestEvent::End(end) => self.on_end(end, now),
        }
    }

    /// Pushes a span that arrived complete (e.g. over OTLP); its `seq` is reassigned.
    pub fn push_completed(&mut self, span: CompletedSpan, now: Instant) {
        let now = self.advance(now);
        self.touch(span.trace_id, now);
        self.stats.completed_ingested += 1;
        self.finish(span, now);
    }

    /// Runs the timers due at `now`: TTLs, grace ends and idle flushes.
    pub fn tick(&mut self, now: Instant) {
        self.advance(now);
    }

    /// Emits every open or closing trace at once (collector shutdown).
    pub fn shutdown(&mut self, now: Instant) {
        let now = self.advance(now);
        while let Some(id) = self.least_recently_active() {
            self.emit(id, now);
        }
    }

    /// The earliest instant at which [`tick`](Self::tick) may have work (it may be early,
    /// never late); `None` when nothing is waiting.
    pub fn next_deadline(&self) -> Option<Instant> {
        let l = &self.limits;
        [
            self.pending.oldest_hint().map(|t| t + l.pending_ttl),
            self.early.oldest_hint().map(|t| t + l.early_end_ttl),
            self.grace.front().map(|&(t, _, _)| t),
            self.activity.first().map(|&(t, _)| t + l.idle_timeout),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Deep copies of the retained trees (latest emitted revision each), oldest first.
    pub fn snapshot(&self) -> Vec<Trace> {
        let mut ids: Vec<(u64, WireTraceId)> = self
            .retained
            .iter()
            .filter(|(id, stamp)| {
                self.traces
                    .get(id)
                    .is_some_and(|e| e.retained_stamp == Some(*stamp))
            })
            .map(|&(id, stamp)| (stamp, id))
            .collect();
        // Re-opened traces (closing again after a late span) keep their last revision too.
        ids.extend(
            self.traces
                .iter()
                .filter(|(_, e)| e.revision > 0 && e.retained_stamp.is_none())
                .map(|(&id, _)| (u64::MAX, id)),
        );
        ids.sort();
        ids.into_iter()
            .filter_map(|(_, id)| self.trace(&id))
            .collect()
    }

    /// The latest emitted revision of a retained trace.
    pub fn trace(&self, id: &WireTraceId) -> Option<Trace> {
        let e = self.traces.get(id)?;
        if e.revision == 0 {
            return None;
        }
        let (root, partial) = build_tree(*id, &e.spans[..e.emitted_len.min(e.spans.len())]);
        Some(Trace {
            trace_id: *id,
            revision: e.revision,
            partial,
            root,
        })
    }

    // ----- internals -----

    fn next_stamp(&mut self) -> u64 {
        self.stamp += 1;
        self.stamp
    }

    /// Clamps `now` to be monotonic, then runs every timer due.
    fn advance(&mut self, now: Instant) -> Instant {
        let now = match self.now {
            Some(prev) if prev > now => prev,
            _ => now,
        };
        self.now = Some(now);
        self.expire_pending(now);
        self.expire_grace(now);
        self.expire_idle(now);
        now
    }

    fn expire_pending(&mut self, now: Instant) {
        // The front record (live or stale) is the oldest: nothing is due before it.
        let due = |hint: Option<Instant>, ttl| hint.is_some_and(|at| at + ttl <= now);
        if !due(self.pending.oldest_hint(), self.limits.pending_ttl)
            && !due(self.early.oldest_hint(), self.limits.early_end_ttl)
        {
            return;
        }
        while let Some((at, _)) = self.pending.oldest() {
            if at + self.limits.pending_ttl > now {
                break;
            }
            self.pending.pop_oldest();
            self.stats.pending_expired += 1;
        }
        while let Some((at, _)) = self.early.oldest() {
            if at + self.limits.early_end_ttl > now {
                break;
            }
            self.early.pop_oldest();
            self.stats.orphan_ends += 1;
        }
    }

    fn expire_grace(&mut self, now: Instant) {
        while let Some(&(deadline, id, gen)) = self.grace.front() {
            if deadline > now {
                break;
            }
            self.grace.pop_front();
            let live = self
                .traces
                .get(&id)
                .is_some_and(|e| e.state == State::Closing { gen });
            if live {
                self.emit(id, now);
            }
        }
    }

    fn expire_idle(&mut self, now: Instant) {
        // Index keys never exceed the real activity, so a fresh first key means none is due.
        if self
            .activity
            .first()
            .is_none_or(|&(at, _)| at + self.limits.idle_timeout > now)
        {
            return;
        }
        while let Some(id) = self.least_recently_active() {
            let Some(e) = self.traces.get(&id) else {
                break;
            };
            if e.last_activity + self.limits.idle_timeout > now {
                break;
            }
            if e.state == State::Open {
                self.stats.partial_flushes += 1;
            }
            self.emit(id, now);
        }
    }

    /// The buffered trace with the oldest activity (fixing lagging index keys on the way).
    fn least_recently_active(&mut self) -> Option<WireTraceId> {
        loop {
            let &(at, id) = self.activity.first()?;
            let Some(e) = self.traces.get_mut(&id) else {
                self.activity.remove(&(at, id));
                continue;
            };
            if e.last_activity == at {
                return Some(id);
            }
            self.activity.remove(&(at, id));
            self.activity.insert((e.last_activity, id));
            e.indexed_at = Some(e.last_activity);
        }
    }

    /// Records activity for a trace (any event counts, completed or not).
    fn touch(&mut self, id: WireTraceId, now: Instant) {
        if let Some(e) = self.traces.get_mut(&id) {
            e.last_activity = now;
        }
    }

    /// Makes `max_pending_spans` room for one more entry, evicting the oldest; returns false
    /// when nothing can be held (limit 0).
    fn make_pending_room(&mut self) -> bool {
        while self.pending.len() + self.early.len() >= self.limits.max_pending_spans {
            let start = self.pending.oldest();
            let end = self.early.oldest();
            let evict_start = match (start, end) {
                (Some(a), Some(b)) => (a.0, a.1) <= (b.0, b.1),
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => return false,
            };
            if evict_start {
                self.pending.pop_oldest();
                self.stats.pending_evicted += 1;
            } else {
                self.early.pop_oldest();
                self.stats.orphan_ends += 1;
            }
        }
        true
    }

    fn on_start(&mut self, start: SpanStart, now: Instant) {
        self.stats.starts += 1;
        let key: SpanKey = (start.trace_id, start.span_id);
        if let Some(end) = self.early.remove(&key) {
            self.pair(start, end, now);
            return;
        }
        let replacing = self.pending.remove(&key).is_some();
        if replacing {
            self.stats.duplicate_start += 1;
        } else if !self.make_pending_room() {
            self.stats.pending_evicted += 1;
            return;
        }
        let stamp = self.next_stamp();
        self.pending.insert(key, start, now, stamp);
    }

    fn on_end(&mut self, end: SpanEnd, now: Instant) {
        self.stats.ends += 1;
        let key: SpanKey = (end.trace_id, end.span_id);
        if let Some(start) = self.pending.remove(&key) {
            self.pair(start, end, now);
            return;
        }
        let replacing = self.early.remove(&key).is_some();
        if replacing {
            self.stats.orphan_ends += 1;
        } else if !self.make_pending_room() {
            self.stats.orphan_ends += 1;
            return;
        }
        let stamp = self.next_stamp();
        self.early.insert(key, end, now, stamp);
    }

    fn pair(&mut self, start: SpanStart, end: SpanEnd, now: Instant) {
        self.stats.paired += 1;
        let end_time = match end.duration_ns {
            Some(d) => start.time.saturating_add(Duration::from_nanos(d)),
            None => end.time,
        };
        let duration = match end_time.duration_since(start.time) {
            Some(d) => d,
            None => {
                self.stats.clock_skew += 1;
                Duration::ZERO
            }
        };
        // Start attrs under end attrs; avoid rebuilding a map when one side is empty.
        let attrs = if start.attrs.is_empty() {
            end.attrs
        } else {
            let mut attrs = start.attrs;
            attrs.extend(end.attrs);
            attrs
        };
        let span = CompletedSpan {
            trace_id: start.trace_id,
            span_id: start.span_id,
            parent_id: start.parent_id,
            name: if end.name.is_empty() {
                start.name
            } else {
                end.name
            },
            kind: start.kind,
            start: start.time,
            end: end_time.max(start.time),
            duration,
            attrs,
            status: end.status,
            seq: 0,
        };
        self.finish(span, now);
    }

    /// Assigns `seq`, delivers the span flat, then attaches it to its trace.
    fn finish(&mut self, mut span: CompletedSpan, now: Instant) {
        span.seq = self.next_seq;
        self.next_seq += 1;
        self.stats.completed += 1;
        let span = Arc::new(span);
        self.outputs.push_back(Output::Span(Arc::clone(&span)));
        self.attach(span, now);
    }

    fn attach(&mut self, span: Arc<CompletedSpan>, now: Instant) {
        let id = span.trace_id;
        let max_spans = self.limits.max_spans_per_trace;
        let len_and_state = |traces: &HashMap<WireTraceId, TraceEntry, IdHashBuilder>| {
            traces.get(&id).map(|e| (e.spans.len(), e.state))
        };
        if len_and_state(&self.traces).map_or(max_spans == 0, |(len, _)| len >= max_spans) {
            self.stats.over_trace_limit += 1;
            return;
        }
        let buffered = matches!(
            len_and_state(&self.traces),
            Some((_, State::Open | State::Closing { .. }))
        );
        if !buffered {
            // May emit another trace and thereby evict this one from the retained ring.
            self.make_buffer_room(now);
        }
        match len_and_state(&self.traces) {
            None => {
                let revision = match self.tombstones.remove(&id) {
                    Some(rev) => {
                        self.stats.late_after_eviction += 1;
                        rev
                    }
                    None => 0,
                };
                self.traces.insert(
                    id,
                    TraceEntry {
                        spans: Vec::new(),
                        state: State::Open,
                        revision,
                        emitted_len: 0,
                        last_activity: now,
                        indexed_at: Some(now),
                        retained_stamp: None,
                    },
                );
                self.activity.insert((now, id));
            }
            Some((_, State::Emitted)) => {
                let gen = self.next_stamp();
                if let Some(e) = self.traces.get_mut(&id) {
                    e.state = State::Closing { gen };
                    e.last_activity = now;
                    e.indexed_at = Some(now);
                    if e.retained_stamp.take().is_some() {
                        self.retained_count -= 1;
                    }
                }
                self.activity.insert((now, id));
                self.grace.push_back((now + self.limits.grace, id, gen));
            }
            Some(_) => {}
        }
        let is_root = span.parent_id.is_none();
        let gen = self.next_stamp();
        let Some(e) = self.traces.get_mut(&id) else {
            return;
        };
        e.spans.push(span);
        if is_root && e.state == State::Open {
            e.state = State::Closing { gen };
            self.grace.push_back((now + self.limits.grace, id, gen));
        }
    }

    /// Emits least recently active traces until one more can be buffered.
    fn make_buffer_room(&mut self, now: Instant) {
        while self.activity.len() >= self.limits.max_buffered_traces.max(1) {
            let Some(id) = self.least_recently_active() else {
                return;
            };
            self.stats.forced_flushes += 1;
            self.emit(id, now);
        }
    }

    /// Emits the whole tree of a buffered trace as its next revision and retains it.
    fn emit(&mut self, id: WireTraceId, _now: Instant) {
        let stamp = self.next_stamp();
        let Some(e) = self.traces.get_mut(&id) else {
            return;
        };
        if let Some(at) = e.indexed_at.take() {
            self.activity.remove(&(at, id));
        }
        e.state = State::Emitted;
        e.revision = e.revision.saturating_add(1);
        e.emitted_len = e.spans.len();
        let (root, partial) = build_tree(id, &e.spans);
        let revision = e.revision;
        if e.retained_stamp.replace(stamp).is_none() {
            self.retained_count += 1;
        }
        self.retained.push_back((id, stamp));
        self.stats.traces_emitted += 1;
        self.outputs.push_back(Output::Trace(Trace {
            trace_id: id,
            revision,
            partial,
            root,
        }));
        self.evict_retained();
    }

    fn evict_retained(&mut self) {
        while self.retained_count > self.limits.max_retained_traces {
            let Some((id, stamp)) = self.retained.pop_front() else {
                return;
            };
            let live = self
                .traces
                .get(&id)
                .is_some_and(|e| e.retained_stamp == Some(stamp));
            if !live {
                continue;
            }
            if let Some(e) = self.traces.remove(&id) {
                self.retained_count -= 1;
                self.stats.retained_evicted += 1;
                self.remember_evicted(id, e.revision);
            }
        }
        if self.retained.len() > 2 * self.retained_count + 64 {
            let traces = &self.traces;
            self.retained.retain(|(id, stamp)| {
                traces
                    .get(id)
                    .is_some_and(|e| e.retained_stamp == Some(*stamp))
            });
        }
    }

    fn remember_evicted(&mut self, id: WireTraceId, revision: u32) {
        let cap = self.limits.max_retained_traces.max(1);
        if self.tombstones.insert(id, revision).is_none() {
            self.tombstone_order.push_back(id);
        }
        while self.tombstone_order.len() > cap {
            if let Some(old) = self.tombstone_order.pop_front() {
                self.tombstones.remove(&old);
            }
        }
        // Keep the order list free of ids already revived.
        if self.tombstone_order.len() > 2 * self.tombstones.len() + 64 {
            let live: HashSet<WireTraceId> = self.tombstones.keys().copied().collect();
            self.tombstone_order.retain(|t| live.contains(t));
        }
    }
}
