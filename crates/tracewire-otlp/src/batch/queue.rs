//! The bounded queue and the counters, kept under one lock so every snapshot satisfies
//! `submitted = sent + dropped + failed + pending + disabled`.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::SystemTime;

use opentelemetry_proto::tonic::trace::v1::Span as ProtoSpan;

use super::report::FlushReport;
use crate::export::ExportError;

/// A span waiting for export, with its encoded size (computed once at submit).
#[derive(Debug)]
pub(crate) struct QueuedSpan {
    pub(crate) seq: u64,
    pub(crate) bytes: usize,
    pub(crate) span: ProtoSpan,
}

/// A batch cut from the queue.
#[derive(Debug)]
pub(crate) struct Batch {
    pub(crate) id: u64,
    pub(crate) spans: Vec<ProtoSpan>,
}

/// Limits the queue enforces.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) max_queue_spans: usize,
    pub(crate) max_queue_bytes: usize,
    pub(crate) max_batch_spans: usize,
    pub(crate) max_request_bytes: usize,
}

/// Where a span could not be queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rejection {
    Spans,
    Bytes,
    TooLarge,
}

/// Everything guarded by the exporter's lock.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) limits: Limits,
    queue: VecDeque<QueuedSpan>,
    queued_bytes: usize,
    next_seq: u64,
    next_batch: u64,
    /// In-flight batches: id → (first seq, span count).
    in_flight: BTreeMap<u64, (u64, usize)>,
    pub(crate) submitted: u64,
    pub(crate) sent: u64,
    pub(crate) dropped: u64,
    pub(crate) failed: u64,
    pub(crate) rejected: u64,
    pub(crate) disabled: u64,
    /// Export everything with seq below this now, regardless of the delay.
    pub(crate) flush_target: u64,
    pub(crate) shutting_down: bool,
    /// A `submit_wait` caller waits for room: cut batches without waiting for the delay.
    pub(crate) waiting_for_room: bool,
    pub(crate) abandoned: bool,
    pub(crate) worker_done: bool,
    /// Counters when shutdown started (for "did the final drain succeed").
    pub(crate) at_shutdown: Option<FlushReport>,
    pub(crate) last_error: Option<Arc<ExportError>>,
    pub(crate) last_error_at_shutdown: bool,
    /// Status-report window bookkeeping.
    pub(crate) window_start: SystemTime,
    pub(crate) window_base: FlushReport,
}

impl State {
    pub(crate) fn new(limits: Limits) -> Self {
        Self {
            limits,
            queue: VecDeque::new(),
            queued_bytes: 0,
            next_seq: 0,
            next_batch: 0,
            in_flight: BTreeMap::new(),
            submitted: 0,
            sent: 0,
            dropped: 0,
            failed: 0,
            rejected: 0,
            disabled: 0,
            flush_target: 0,
            shutting_down: false,
            waiting_for_room: false,
            abandoned: false,
            worker_done: false,
            at_shutdown: None,
            last_error: None,
            last_error_at_shutdown: false,
            window_start: SystemTime::now(),
            window_base: FlushReport::default(),
        }
    }

    pub(crate) fn queued_len(&self) -> usize {
        self.queue.len()
    }

    pub(crate) fn in_flight_spans(&self) -> usize {
        self.in_flight.values().map(|(_, n)| n).sum()
    }

    pub(crate) fn report(&self) -> FlushReport {
        FlushReport {
            submitted: self.submitted,
            sent: self.sent,
            dropped: self.dropped,
            failed: self.failed,
            rejected: self.rejected,
            pending: (self.queue.len() + self.in_flight_spans()) as u64,
            disabled: self.disabled,
        }
    }

    /// Checks whether a span of `bytes` can be queued now.
    pub(crate) fn check_room(&self, bytes: usize) -> Result<(), Rejection> {
        if bytes > self.limits.max_queue_bytes || bytes > self.limits.max_request_bytes {
            return Err(Rejection::TooLarge);
        }
        if self.queue.len() >= self.limits.max_queue_spans {
            return Err(Rejection::Spans);
        }
        if self.queued_bytes + bytes > self.limits.max_queue_bytes {
            return Err(Rejection::Bytes);
        }
        Ok(())
    }

    /// Queues a span that passed [`State::check_room`] and counts it as submitted.
    pub(crate) fn push(&mut self, span: ProtoSpan, bytes: usize) {
        self.submitted += 1;
        self.queued_bytes += bytes;
        self.queue.push_back(QueuedSpan {
            seq: self.next_seq,
            bytes,
            span,
        });
        self.next_seq += 1;
    }

    /// Counts spans submitted and dropped without queueing them.
    pub(crate) fn drop_submitted(&mut self, count: u64) {
        self.submitted += count;
        self.dropped += count;
    }

    /// The sequence number the next queued span will get; a flush waits for everything below.
    pub(crate) fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// The lowest sequence number not yet settled.
    pub(crate) fn low_water(&self) -> u64 {
        let queued = self.queue.front().map(|q| q.seq);
        let flying = self.in_flight.values().map(|(first, _)| *first).min();
        match (queued, flying) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => self.next_seq,
        }
    }

    /// Whether a batch should be cut now (the delay is decided by the caller).
    pub(crate) fn wants_cut(&self, delay_elapsed: bool) -> bool {
        let Some(front) = self.queue.front() else {
            return false;
        };
        self.shutting_down
            || self.waiting_for_room
            || delay_elapsed
            || front.seq < self.flush_target
            || self.queue.len() >= self.limits.max_batch_spans.min(self.limits.max_queue_spans)
            || self.queued_bytes >= self.limits.max_request_bytes
    }

    /// Cuts the next batch: up to `max_batch_spans` spans whose bodies fit the request
    /// limit (at least one span).
    pub(crate) fn cut(&mut self) -> Option<Batch> {
        let first_seq = self.queue.front()?.seq;
        let mut spans = Vec::with_capacity(self.queue.len().min(self.limits.max_batch_spans));
        let mut bytes = 0usize;
        while let Some(front) = self.queue.front() {
            // Field tag + length prefix of each span inside ScopeSpans, plus envelope slack.
            let framed = front.bytes + 6;
            if !spans.is_empty()
                && (spans.len() >= self.limits.max_batch_spans
                    || bytes + framed + 256 > self.limits.max_request_bytes)
            {
                break;
            }
            let Some(q) = self.queue.pop_front() else {
                break;
            };
            self.queued_bytes -= q.bytes;
            bytes += framed;
            spans.push(q.span);
        }
        let id = self.next_batch;
        self.next_batch += 1;
        self.in_flight.insert(id, (first_seq, spans.len()));
        Some(Batch { id, spans })
    }

    /// Removes a settled batch; `None` when it had been abandoned at the shutdown deadline.
    pub(crate) fn settle(&mut self, id: u64) -> Option<usize> {
        self.in_flight.remove(&id).map(|(_, n)| n)
    }

    /// At the shutdown deadline: everything queued or in flight becomes dropped.
    pub(crate) fn abandon(&mut self) -> u64 {
        let count = (self.queue.len() + self.in_flight_spans()) as u64;
        self.queue.clear();
        self.queued_bytes = 0;
        self.in_flight.clear();
        self.dropped += count;
        self.abandoned = true;
        count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            max_queue_spans: 10,
            max_queue_bytes: 1000,
            max_batch_spans: 4,
            max_request_bytes: 10_000,
        }
    }

    #[test]
    fn invariant_and_cutting() {
        let mut s = State::new(limits());
        for _ in 0..10 {
            assert_eq!(s.check_room(50), Ok(()));
            s.push(ProtoSpan::default(), 50);
        }
        assert_eq!(s.check_room(50), Err(Rejection::Spans));
        s.drop_submitted(2);
        assert!(s.report().is_consistent());
        let b = s.cut().map(|b| (b.id, b.spans.len()));
        assert_eq!(b, Some((0, 4)));
        assert_eq!(s.low_water(), 0);
        assert!(s.report().is_consistent());
        assert_eq!(s.settle(0), Some(4));
        s.sent += 4;
        assert_eq!(s.low_water(), 4);
        assert!(s.report().is_consistent());
        assert_eq!(s.abandon(), 6);
        assert!(s.report().is_consistent());
        assert_eq!(s.report().pending, 0);
    }

    #[test]
    fn byte_bound_and_too_large() {
        let mut s = State::new(limits());
        s.push(ProtoSpan::default(), 900);
        assert_eq!(s.check_room(200), Err(Rejection::Bytes));
        assert_eq!(s.check_room(2000), Err(Rejection::TooLarge));
    }
}
