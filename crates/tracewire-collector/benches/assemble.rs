//! In-memory throughput of the collector's CPU path, in events/s (no sockets).
//!
//! - `decode`: ingest line decoding alone (go-trace lines with attrs on ends);
//! - `split_decode`: the line splitter over one buffer plus decoding (what a connection
//!   task does per read);
//! - `decode_assemble`: decoding plus the `Assembler` (pairing, seq, trees, grace via ticks)
//!   — the single-task bottleneck of the collector;
//! - `assemble`: the `Assembler` alone on pre-decoded events.
//!
//! Run with short settings on the shared machine:
//! `cargo bench -p tracewire-collector --bench assemble -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use tracewire_collector::assemble::{Assembler, Limits};
use tracewire_collector::lines::{LineEvent, LineSplitter};
use tracewire_collector::model::{
    IngestEvent, SpanEnd, SpanId, SpanStart, Timestamp, WireKind, WireTraceId,
};
use tracewire_collector::wire::{decode_ingest_line, encode_ingest_line};

const TRACES: u64 = 1_000;
const SPANS_PER_TRACE: u64 = 10;

/// go-trace-shaped lines: per trace a root and 9 children, starts then ends (children end
/// before the root), the ends carrying the usual http/sql attrs.
fn lines() -> Vec<Vec<u8>> {
    let base = 1_748_739_600_000_000_000i64;
    let mut out = Vec::new();
    for t in 0..TRACES {
        let trace_id = WireTraceId::Short(0x1000_0000_0000_0000 | (t + 1));
        let root = SpanId::from_u64(0x2000_0000_0000_0000 | (t << 8));
        let mut events = Vec::new();
        let mut ends = Vec::new();
        for s in 0..SPANS_PER_TRACE {
            let span_id = SpanId::from_u64(root.to_u64() | s);
            let kind = if s == 0 {
                WireKind::Http
            } else {
                WireKind::Sql
            };
            let start = Timestamp(base + (t * 1_000 + s) as i64 * 1_000);
            let name = if s == 0 { "GET /users" } else { "SQL Query" };
            events.push(IngestEvent::Start(
                SpanStart::new(trace_id, span_id, name, kind, start)
                    .with_parent((s > 0).then_some(root)),
            ));
            let attrs = if s == 0 {
                [("method", "GET"), ("path", "/users"), ("status", "200")].as_slice()
            } else {
                [
                    ("query", "SELECT id, name FROM users WHERE id = $1"),
                    ("rows", "1"),
                ]
                .as_slice()
            };
            ends.push(IngestEvent::End(
                SpanEnd::new(trace_id, span_id, Timestamp(start.0 + 250_000))
                    .with_attrs(attrs.iter().copied()),
            ));
        }
        ends.reverse();
        events.extend(ends);
        for ev in events {
            let mut line = Vec::new();
            encode_ingest_line(&ev, &mut line);
            out.push(line);
        }
    }
    out
}

fn assemble_all(events: impl Iterator<Item = IngestEvent>, t0: Instant) -> u64 {
    let mut asm = Assembler::new(Limits::default());
    let mut now = t0;
    let mut outputs = 0u64;
    for (i, ev) in events.enumerate() {
        if i % 64 == 0 {
            // 50 µs of injected time per event: most graces expire during the run.
            now += Duration::from_micros(64 * 50);
            asm.tick(now);
        }
        asm.push_event(ev, now);
        outputs += asm.drain_outputs().count() as u64;
    }
    asm.shutdown(now);
    outputs + asm.drain_outputs().count() as u64
}

fn bench(c: &mut Criterion) {
    let lines = lines();
    let events = lines.len() as u64;
    let stream: Vec<u8> = lines.concat();
    let decoded: Vec<IngestEvent> = lines
        .iter()
        .map(|l| decode_ingest_line(&l[..l.len() - 1]).expect("bench lines are valid"))
        .collect();
    let mut g = c.benchmark_group("collector");
    g.throughput(Throughput::Elements(events));

    g.bench_function("decode", |b| {
        b.iter(|| {
            for l in &lines {
                black_box(decode_ingest_line(black_box(&l[..l.len() - 1])).is_ok());
            }
        })
    });
    g.bench_function("split_decode", |b| {
        b.iter(|| {
            let mut ok = 0u64;
            let mut splitter = LineSplitter::new(1 << 20);
            for chunk in stream.chunks(64 * 1024) {
                splitter.push(chunk, |ev| {
                    if let LineEvent::Line(l) = ev {
                        ok += u64::from(decode_ingest_line(l).is_ok());
                    }
                });
            }
            black_box(ok)
        })
    });
    g.bench_function("decode_assemble", |b| {
        b.iter(|| {
            let t0 = Instant::now();
            let evs = lines
                .iter()
                .filter_map(|l| decode_ingest_line(&l[..l.len() - 1]).ok());
            black_box(assemble_all(evs, t0))
        })
    });
    g.bench_function("assemble", |b| {
        b.iter_batched(
            || decoded.clone(),
            |evs| black_box(assemble_all(evs.into_iter(), Instant::now())),
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
