//! Property test of the assembler (`docs/collector.md#conservation`,
//! `docs/collector.md#bounds-and-eviction`): random interleavings with duplicates, losses,
//! out-of-order ends and clock jumps keep both conservation equations and every bound, and
//! each eviction shows up in its counter.

use std::collections::HashSet;
use std::time::Duration;

use crate::assemble_common::*;
use proptest::prelude::*;
use tracewire_collector::assemble::{Assembler, AssemblyStats, Limits, Output};
use tracewire_collector::model::{CompletedSpan, IngestEvent, SpanId, WireKind, WireTraceId};

#[derive(Debug, Clone)]
enum Op {
    Start {
        trace: u64,
        span: u64,
        parent: Option<u64>,
        wall: i64,
    },
    End {
        trace: u64,
        span: u64,
        wall: i64,
        duration_ns: Option<u64>,
    },
    Completed {
        trace: u64,
        span: u64,
        parent: Option<u64>,
    },
    Advance(u64),
    Tick,
}

fn op() -> impl Strategy<Value = Op> {
    let trace = 1u64..6;
    let span = 1u64..8;
    let parent = prop::option::of(1u64..8);
    // Wall clocks jump around freely (skew, jumps backwards).
    let wall = -100_000i64..100_000;
    prop_oneof![
        4 => (trace.clone(), span.clone(), parent.clone(), wall.clone())
            .prop_map(|(trace, span, parent, wall)| Op::Start { trace, span, parent, wall }),
        4 => (trace.clone(), span.clone(), wall, prop::option::of(0u64..10_000_000))
            .prop_map(|(trace, span, wall, duration_ns)| Op::End { trace, span, wall, duration_ns }),
        1 => (trace, span, parent).prop_map(|(trace, span, parent)| Op::Completed { trace, span, parent }),
        // Monotonic clock: small steps and big jumps past every timer.
        2 => prop_oneof![0u64..50, 0u64..2_000, Just(60_000u64), Just(700_000u64)].prop_map(Op::Advance),
        1 => Just(Op::Tick),
    ]
}

fn small_limits() -> Limits {
    let mut l = Limits::default();
    l.pending_ttl = Duration::from_millis(3_000);
    l.early_end_ttl = Duration::from_millis(200);
    l.grace = Duration::from_millis(100);
    l.idle_timeout = Duration::from_millis(1_000);
    l.max_pending_spans = 6;
    l.max_buffered_traces = 3;
    l.max_spans_per_trace = 5;
    l.max_retained_traces = 2;
    l
}

fn check(st: &AssemblyStats, prev: &AssemblyStats, l: &Limits) -> Result<(), TestCaseError> {
    prop_assert!(st.conservation_holds(), "conservation broken: {st:?}");
    prop_assert!(st.pending_now + st.early_ends_now <= l.max_pending_spans as u64);
    prop_assert!(st.buffered_traces <= l.max_buffered_traces as u64);
    prop_assert!(st.retained_traces <= l.max_retained_traces as u64);
    prop_assert_eq!(st.completed, st.paired + st.completed_ingested);
    // Counters never go backwards.
    for (a, b) in [
        (st.starts, prev.starts),
        (st.ends, prev.ends),
        (st.paired, prev.paired),
        (st.duplicate_start, prev.duplicate_start),
        (st.pending_expired, prev.pending_expired),
        (st.pending_evicted, prev.pending_evicted),
        (st.orphan_ends, prev.orphan_ends),
        (st.forced_flushes, prev.forced_flushes),
        (st.over_trace_limit, prev.over_trace_limit),
        (st.retained_evicted, prev.retained_evicted),
    ] {
        prop_assert!(a >= b);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn conservation_and_bounds_hold_under_random_interleavings(ops in prop::collection::vec(op(), 1..250)) {
        let limits = small_limits();
        let mut asm = Assembler::new(limits.clone());
        let mut now = base();
        let mut prev = asm.stats();
        let mut next_seq = 1u64;
        let mut in_trees: HashSet<u64> = HashSet::new();
        for op in ops {
            let before = asm.stats();
            match op {
                Op::Start { trace, span, parent, wall: w } => {
                    asm.push_event(start(trace, span, parent.filter(|&p| p != span), "s", w), now);
                    prop_assert_eq!(asm.stats().starts, before.starts + 1);
                }
                Op::End { trace, span, wall: w, duration_ns } => {
                    let IngestEvent::End(mut e) = end(trace, span, w) else { unreachable!() };
                    e.duration_ns = duration_ns;
                    asm.push_event(IngestEvent::End(e), now);
                    prop_assert_eq!(asm.stats().ends, before.ends + 1);
                }
                Op::Completed { trace, span, parent } => {
                    let span = CompletedSpan::new(
                        WireTraceId::Short(trace),
                        SpanId::from_u64(1000 + span),
                        "otlp",
                        WireKind::Server,
                        wall(0),
                        wall(1),
                    )
                    .with_parent(parent.map(SpanId::from_u64));
                    asm.push_completed(span, now);
                    prop_assert_eq!(asm.stats().completed_ingested, before.completed_ingested + 1);
                }
                Op::Advance(ms_step) => now += Duration::from_millis(ms_step),
                Op::Tick => asm.tick(now),
            }
            let st = asm.stats();
            check(&st, &prev, &limits)?;
            // Eviction of a pending entry is always visible in a counter.
            let held_before = before.pending_now + before.early_ends_now;
            let held_after = st.pending_now + st.early_ends_now;
            if held_after < held_before {
                let accounted = (st.paired - before.paired)
                    + (st.pending_expired - before.pending_expired)
                    + (st.pending_evicted - before.pending_evicted)
                    + (st.orphan_ends - before.orphan_ends)
                    + (st.duplicate_start - before.duplicate_start);
                prop_assert!(accounted >= held_before - held_after);
            }
            for out in asm.drain_outputs() {
                match out {
                    Output::Span(s) => {
                        prop_assert_eq!(s.seq, next_seq, "seq is gapless");
                        next_seq += 1;
                    }
                    Output::Trace(t) => {
                        prop_assert!(t.revision >= 1);
                        prop_assert!(t.span_count() <= limits.max_spans_per_trace);
                        let mut seen = HashSet::new();
                        for (_, n) in t.root.iter() {
                            prop_assert_eq!(n.span.trace_id, t.trace_id);
                            if !n.is_synthetic() {
                                prop_assert!(seen.insert(n.span.seq), "a span appears once per tree");
                                in_trees.insert(n.span.seq);
                            }
                        }
                        prop_assert_eq!(t.partial, t.root.is_synthetic());
                    }
                }
            }
            prev = st;
        }
        asm.shutdown(now);
        for out in asm.drain_outputs() {
            if let Output::Trace(t) = out {
                in_trees.extend(t.root.iter().filter(|(_, n)| !n.is_synthetic()).map(|(_, n)| n.span.seq));
            }
        }
        let st = asm.stats();
        check(&st, &prev, &limits)?;
        // Every completed span reached a tree, except those counted over the per-trace limit.
        prop_assert_eq!(next_seq - 1, st.completed);
        prop_assert_eq!(st.completed - in_trees.len() as u64, st.over_trace_limit);
        prop_assert_eq!(st.buffered_traces, 0);
        prop_assert!(asm.snapshot().len() <= limits.max_retained_traces + limits.max_buffered_traces);
    }
}
