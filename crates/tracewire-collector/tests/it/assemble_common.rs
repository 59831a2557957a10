//! Shared helpers for the assembler tests (included with `#[path]`, not a test itself).
#![allow(dead_code, unreachable_pub)]

use std::time::{Duration, Instant};

use tracewire_collector::assemble::{Assembler, Output};
use tracewire_collector::model::{
    CompletedSpan, IngestEvent, SpanEnd, SpanId, SpanStart, Timestamp, Trace, WireKind, WireTraceId,
};

/// Wall-clock origin of the tests (2025-06-01T01:00:00Z) in ns.
pub const T0_NS: i64 = 1_748_739_600_000_000_000;

/// Milliseconds as a `Duration`.
pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The wall-clock time `ms_offset` ms after `T0_NS`.
pub fn wall(ms_offset: i64) -> Timestamp {
    Timestamp(T0_NS + ms_offset * 1_000_000)
}

/// A start event of span `span` in short trace `trace`.
pub fn start(trace: u64, span: u64, parent: Option<u64>, name: &str, at_ms: i64) -> IngestEvent {
    IngestEvent::Start(
        SpanStart::new(
            WireTraceId::Short(trace),
            SpanId::from_u64(span),
            name,
            WireKind::Function,
            wall(at_ms),
        )
        .with_parent(parent.map(SpanId::from_u64)),
    )
}

/// An end event (wall time only, unset status).
pub fn end(trace: u64, span: u64, at_ms: i64) -> IngestEvent {
    IngestEvent::End(SpanEnd::new(
        WireTraceId::Short(trace),
        SpanId::from_u64(span),
        wall(at_ms),
    ))
}

/// Drains outputs into (flat spans, trees).
pub fn drain(asm: &mut Assembler) -> (Vec<CompletedSpan>, Vec<Trace>) {
    let mut spans = Vec::new();
    let mut traces = Vec::new();
    for out in asm.drain_outputs() {
        match out {
            Output::Span(s) => spans.push(std::sync::Arc::unwrap_or_clone(s)),
            Output::Trace(t) => traces.push(t),
        }
    }
    (spans, traces)
}

/// The tree as `depth name` lines (pre-order), for structural assertions.
pub fn shape(trace: &Trace) -> Vec<String> {
    trace
        .root
        .iter()
        .map(|(d, n)| format!("{}{}", "  ".repeat(d), n.span.name))
        .collect()
}

/// A monotonic origin for the injected clock.
pub fn base() -> Instant {
    Instant::now()
}
