//! The assembler task: owns the [`Assembler`] (no shared lock on span state), drives its
//! timers, and hands each output to the flat outputs and tree outputs with non-blocking
//! operations only.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{broadcast, mpsc};

use super::batch_pool::BatchPool;
use super::journal::JournalSink;
use super::view_server::{Line, ViewHub};
use crate::assemble::{Assembler, AssemblyStats, Output};
use crate::model::{CompletedSpan, IngestEvent, Trace, WireTraceId};
use crate::wire::encode_view_line;

/// Most messages handled between two output dispatches.
const MAX_MSGS_PER_ROUND: usize = 64;
/// Longest sleep between timer checks when nothing is due.
const MAX_IDLE_SLEEP: Duration = Duration::from_millis(500);

/// A message to the assembler task.
#[derive(Debug)]
pub(crate) enum Msg {
    /// Decoded events from one read of one connection.
    Events(Vec<IngestEvent>),
    /// Spans that arrived complete (`ingest_completed`, OTLP).
    Completed(Vec<CompletedSpan>),
}

/// The retained trees as the handles see them (latest revision each, oldest first).
#[derive(Debug, Default)]
pub(crate) struct RetainedMirror {
    by_stamp: BTreeMap<u64, Arc<Trace>>,
    stamp_of: HashMap<WireTraceId, u64>,
    next_stamp: u64,
}

impl RetainedMirror {
    fn insert(&mut self, trace: Arc<Trace>, cap: usize) {
        if let Some(old) = self.stamp_of.remove(&trace.trace_id) {
            self.by_stamp.remove(&old);
        }
        self.next_stamp += 1;
        self.stamp_of.insert(trace.trace_id, self.next_stamp);
        self.by_stamp.insert(self.next_stamp, trace);
        while self.by_stamp.len() > cap.max(1) {
            if let Some((_, t)) = self.by_stamp.pop_first() {
                self.stamp_of.remove(&t.trace_id);
            }
        }
    }

    pub(crate) fn snapshot(&self) -> Vec<Trace> {
        self.by_stamp.values().map(|t| Trace::clone(t)).collect()
    }

    pub(crate) fn get(&self, id: &WireTraceId) -> Option<Trace> {
        let stamp = self.stamp_of.get(id)?;
        self.by_stamp.get(stamp).map(|t| Trace::clone(t))
    }
}

/// Where the assembler's outputs go.
#[derive(Debug)]
pub(crate) struct Outputs {
    pub(crate) spans: broadcast::Sender<Arc<CompletedSpan>>,
    pub(crate) traces: broadcast::Sender<Arc<Trace>>,
    pub(crate) hub: Option<Arc<ViewHub>>,
    pub(crate) journal: Option<JournalSink>,
    pub(crate) retained: Arc<Mutex<RetainedMirror>>,
    pub(crate) stats: Arc<Mutex<AssemblyStats>>,
    /// Where drained event batches go back to the ingest connections.
    pub(crate) batches: Arc<BatchPool>,
}

impl Outputs {
    fn dispatch(&self, asm: &mut Assembler, lines: &mut Vec<Line>, encode_buf: &mut Vec<u8>) {
        let cap = asm.limits().max_retained_traces;
        let need_lines = self.hub.is_some() || self.journal.is_some();
        // Checked once per round: with no span subscriber the span is just dropped.
        let span_rx = self.spans.receiver_count() > 0;
        lines.clear();
        for out in asm.drain_outputs() {
            match out {
                Output::Span(span) => {
                    if need_lines {
                        encode_buf.clear();
                        encode_view_line(&span, encode_buf);
                        let line: Line = Arc::from(encode_buf.as_slice());
                        if let Some(j) = &self.journal {
                            j.offer(&line);
                        }
                        lines.push(line);
                    }
                    if span_rx {
                        // A receiver that left meanwhile is not an error here.
                        let _ = self.spans.send(span);
                    }
                }
                Output::Trace(trace) => {
                    let trace = Arc::new(trace);
                    self.retained
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(Arc::clone(&trace), cap);
                    let _ = self.traces.send(trace);
                }
            }
        }
        if let Some(hub) = &self.hub {
            hub.publish(lines);
        }
        *self.stats.lock().unwrap_or_else(|p| p.into_inner()) = asm.stats();
    }
}

fn handle(asm: &mut Assembler, msg: Msg, now: Instant, batches: &BatchPool) {
    match msg {
        Msg::Events(mut events) => {
            for ev in events.drain(..) {
                asm.push_event(ev, now);
            }
            batches.give(events);
        }
        Msg::Completed(spans) => {
            for span in spans {
                asm.push_completed(span, now);
            }
        }
    }
}

/// Runs until every sender of `rx` is dropped, then emits every open trace (shutdown),
/// dispatches the last outputs and returns (dropping the broadcast senders, so
/// subscribers get the rest and then `Closed`).
pub(crate) async fn run(mut asm: Assembler, mut rx: mpsc::Receiver<Msg>, outputs: Outputs) {
    let mut lines = Vec::new();
    let mut encode_buf = Vec::with_capacity(512);
    loop {
        let now = Instant::now();
        let wake = asm
            .next_deadline()
            .map(|d| d.max(now + Duration::from_millis(1)))
            .unwrap_or(now + MAX_IDLE_SLEEP)
            .min(now + MAX_IDLE_SLEEP);
        tokio::select! {
            biased;
            msg = rx.recv() => match msg {
                Some(msg) => {
                    let now = Instant::now();
                    handle(&mut asm, msg, now, &outputs.batches);
                    for _ in 1..MAX_MSGS_PER_ROUND {
                        match rx.try_recv() {
                            Ok(msg) => handle(&mut asm, msg, now, &outputs.batches),
                            Err(_) => break,
                        }
                    }
                }
                None => break,
            },
            _ = tokio::time::sleep_until(tokio::time::Instant::from_std(wake)) => {
                asm.tick(Instant::now());
            }
        }
        outputs.dispatch(&mut asm, &mut lines, &mut encode_buf);
    }
    asm.shutdown(Instant::now());
    outputs.dispatch(&mut asm, &mut lines, &mut encode_buf);
    if let Some(hub) = &outputs.hub {
        hub.close();
    }
}
