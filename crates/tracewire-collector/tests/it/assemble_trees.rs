//! Trace lifecycle and tree building (`docs/collector.md#trace-lifecycle`,
//! `docs/collector.md#tree-building`) and the trace bounds
//! (`docs/collector.md#bounds-and-eviction`).

use std::time::Duration;

use crate::assemble_common::*;
use tracewire_collector::assemble::{Assembler, Limits, SYNTHETIC_ROOT_NAME};
use tracewire_collector::model::{WireKind, WireTraceId, SYNTHETIC_SPAN_ID};

#[test]
fn children_before_root_give_one_revision_after_grace_with_sorted_siblings() {
    let limits = Limits::default();
    let mut asm = Assembler::new(limits.clone());
    let t = base();
    // Root starts first, children complete before it. Siblings: same start for b and c
    // (tie broken by end), d and e equal start and end (tie broken by span id).
    asm.push_event(start(1, 1, None, "root", 0), t);
    for (id, name, s, e) in [
        (0x50, "e", 5, 8),
        (0x40, "d", 5, 8),
        (0x30, "c", 1, 4),
        (0x20, "b", 1, 3),
    ] {
        asm.push_event(start(1, id, Some(1), name, s), t);
        asm.push_event(end(1, id, e), t);
    }
    let root_done = t + ms(10);
    asm.push_event(end(1, 1, 10), root_done);
    let (spans, traces) = drain(&mut asm);
    assert_eq!(spans.len(), 5, "flat spans are delivered at once");
    assert!(traces.is_empty());
    asm.tick(root_done + limits.grace - Duration::from_nanos(1));
    assert!(drain(&mut asm).1.is_empty(), "nothing before grace expires");
    asm.tick(root_done + limits.grace);
    let (_, traces) = drain(&mut asm);
    assert_eq!(traces.len(), 1);
    let tr = &traces[0];
    assert_eq!((tr.revision, tr.partial), (1, false));
    assert_eq!(shape(tr), ["root", "  b", "  c", "  d", "  e"]);
    asm.tick(root_done + limits.grace * 10);
    assert!(drain(&mut asm).1.is_empty(), "exactly one emission");
}

#[test]
fn child_within_grace_is_in_rev1_and_a_late_child_gives_rev2_with_the_whole_tree() {
    let limits = Limits::default();
    let mut asm = Assembler::new(limits.clone());
    let t = base();
    asm.push_event(start(1, 1, None, "root", 0), t);
    asm.push_event(start(1, 2, Some(1), "in-grace", 1), t);
    asm.push_event(start(1, 3, Some(1), "late", 2), t);
    asm.push_event(end(1, 1, 10), t);
    asm.push_event(end(1, 2, 5), t + limits.grace / 2);
    asm.tick(t + limits.grace);
    let (_, traces) = drain(&mut asm);
    assert_eq!(traces.len(), 1);
    assert_eq!(traces[0].revision, 1);
    assert_eq!(shape(&traces[0]), ["root", "  in-grace"]);

    let late = t + limits.grace + ms(100);
    asm.push_event(end(1, 3, 30), late);
    assert!(
        drain(&mut asm).1.is_empty(),
        "late spans coalesce for a grace period"
    );
    asm.tick(late + limits.grace);
    let (_, traces) = drain(&mut asm);
    assert_eq!(traces.len(), 1);
    assert_eq!(traces[0].revision, 2);
    assert!(!traces[0].partial);
    assert_eq!(shape(&traces[0]), ["root", "  in-grace", "  late"]);
    // The snapshot holds the latest revision.
    let snap = asm.snapshot();
    assert_eq!(snap.len(), 1);
    assert_eq!(snap[0].revision, 2);
    assert_eq!(
        asm.trace(&WireTraceId::Short(1)).map(|t| t.span_count()),
        Some(3)
    );
}

#[test]
fn root_that_never_completes_is_flushed_partial_when_idle_then_complete_in_the_next_revision() {
    let limits = Limits::default();
    let mut asm = Assembler::new(limits.clone());
    let t = base();
    asm.push_event(start(1, 1, None, "root", 0), t);
    asm.push_event(start(1, 2, Some(1), "child", 1), t);
    asm.push_event(start(1, 3, Some(2), "grandchild", 2), t);
    asm.push_event(start(1, 4, Some(1), "second", 6), t);
    asm.push_event(end(1, 3, 3), t);
    asm.push_event(end(1, 2, 5), t);
    asm.push_event(end(1, 4, 9), t);
    let last_event = t + ms(1);
    asm.push_event(start(1, 5, Some(1), "still running", 10), last_event);
    asm.tick(last_event + limits.idle_timeout - Duration::from_nanos(1));
    assert!(
        drain(&mut asm).1.is_empty(),
        "any event postpones the idle flush"
    );
    asm.tick(last_event + limits.idle_timeout);
    let (_, traces) = drain(&mut asm);
    assert_eq!(traces.len(), 1);
    let tr = &traces[0];
    assert!(tr.partial);
    assert!(tr.root.is_synthetic());
    assert_eq!(tr.root.span.span_id, SYNTHETIC_SPAN_ID);
    assert_eq!(tr.root.span.name, SYNTHETIC_ROOT_NAME);
    assert_eq!(tr.root.span.kind, WireKind::Internal);
    assert_eq!(tr.root.span.start, wall(1));
    assert_eq!(tr.root.span.end, wall(9));
    assert_eq!(
        shape(tr),
        ["(partial trace)", "  child", "    grandchild", "  second"]
    );
    let st = asm.stats();
    assert_eq!(st.partial_flushes, 1);
    assert_eq!(st.pending_now, 2, "pending starts stay pending");

    let later = last_event + limits.idle_timeout + ms(5);
    asm.push_event(end(1, 1, 20), later);
    asm.push_event(end(1, 5, 15), later);
    asm.tick(later + limits.grace);
    let (_, traces) = drain(&mut asm);
    assert_eq!(traces.len(), 1);
    let tr = &traces[0];
    assert_eq!((tr.revision, tr.partial), (2, false));
    assert_eq!(
        shape(tr),
        [
            "root",
            "  child",
            "    grandchild",
            "  second",
            "  still running"
        ]
    );
}

#[test]
fn several_parentless_spans_and_orphans_go_under_a_synthetic_root() {
    let limits = Limits::default();
    let mut asm = Assembler::new(limits.clone());
    let t = base();
    asm.push_event(start(1, 1, None, "root-a", 0), t);
    asm.push_event(end(1, 1, 10), t);
    asm.push_event(start(1, 2, None, "root-b", 5), t);
    asm.push_event(end(1, 2, 6), t);
    asm.push_event(start(1, 3, Some(99), "orphan", 1), t);
    asm.push_event(end(1, 3, 2), t);
    asm.tick(t + limits.grace);
    let (_, traces) = drain(&mut asm);
    assert_eq!(traces.len(), 1);
    assert!(traces[0].partial);
    assert_eq!(
        shape(&traces[0]),
        ["(partial trace)", "  root-a", "  orphan", "  root-b"]
    );
}

#[test]
fn shutdown_emits_every_open_and_closing_trace() {
    let mut asm = Assembler::default();
    let t = base();
    asm.push_event(start(1, 1, None, "closing", 0), t);
    asm.push_event(end(1, 1, 1), t);
    asm.push_event(start(2, 2, Some(9), "open", 0), t);
    asm.push_event(end(2, 2, 1), t);
    asm.shutdown(t + ms(1));
    let (_, traces) = drain(&mut asm);
    assert_eq!(traces.len(), 2);
    assert_eq!(asm.stats().buffered_traces, 0);
}

#[test]
fn max_buffered_traces_forces_least_recently_active_flush() {
    let mut limits = Limits::default();
    limits.max_buffered_traces = 2;
    let mut asm = Assembler::new(limits);
    let t = base();
    for (i, trace) in [1u64, 2].into_iter().enumerate() {
        asm.push_event(start(trace, 10, Some(1), "c", 0), t + ms(i as u64));
        asm.push_event(end(trace, 10, 1), t + ms(i as u64));
    }
    // Activity on trace 1 makes trace 2 the least recently active.
    asm.push_event(start(1, 11, Some(1), "c2", 0), t + ms(5));
    asm.push_event(start(3, 10, Some(1), "c", 0), t + ms(6));
    asm.push_event(end(3, 10, 1), t + ms(6));
    let (_, traces) = drain(&mut asm);
    assert_eq!(traces.len(), 1);
    assert_eq!(traces[0].trace_id, WireTraceId::Short(2));
    assert!(traces[0].partial);
    let st = asm.stats();
    assert_eq!((st.forced_flushes, st.buffered_traces), (1, 2));
}

#[test]
fn max_spans_per_trace_delivers_flat_but_does_not_attach() {
    let mut limits = Limits::default();
    limits.max_spans_per_trace = 2;
    let mut asm = Assembler::new(limits.clone());
    let t = base();
    for id in 1..=3u64 {
        asm.push_event(
            start(1, id, if id == 1 { None } else { Some(1) }, "s", 0),
            t,
        );
        asm.push_event(end(1, id, 1), t);
    }
    asm.tick(t + limits.grace);
    let (spans, traces) = drain(&mut asm);
    assert_eq!(spans.len(), 3);
    assert_eq!(traces[0].span_count(), 2);
    assert_eq!(asm.stats().over_trace_limit, 1);
}

#[test]
fn retained_ring_evicts_oldest_and_late_span_opens_fresh_trace() {
    let mut limits = Limits::default();
    limits.max_retained_traces = 2;
    let mut asm = Assembler::new(limits.clone());
    let t = base();
    for trace in 1..=3u64 {
        asm.push_event(start(trace, 1, None, "root", 0), t);
        asm.push_event(end(trace, 1, 1), t);
    }
    asm.tick(t + limits.grace);
    let (_, traces) = drain(&mut asm);
    assert_eq!(traces.len(), 3);
    let st = asm.stats();
    assert_eq!((st.retained_evicted, st.retained_traces), (1, 2));
    assert!(asm.trace(&WireTraceId::Short(1)).is_none());
    let ids: Vec<WireTraceId> = asm.snapshot().iter().map(|t| t.trace_id).collect();
    assert_eq!(ids, [WireTraceId::Short(2), WireTraceId::Short(3)]);

    let late = t + limits.grace + ms(1);
    asm.push_event(start(1, 2, Some(1), "late child", 0), late);
    asm.push_event(end(1, 2, 1), late);
    // The fresh trace has no root: it is open, so it is flushed when idle.
    asm.tick(late + limits.idle_timeout);
    let (_, traces) = drain(&mut asm);
    let fresh = traces
        .iter()
        .find(|t| t.trace_id == WireTraceId::Short(1))
        .unwrap();
    assert_eq!(fresh.revision, 2, "revisions keep increasing for consumers");
    assert!(fresh.partial);
    assert_eq!(asm.stats().late_after_eviction, 1);
}

#[test]
fn parent_cycles_never_lose_spans() {
    let mut asm = Assembler::default();
    let t = base();
    asm.push_event(start(1, 1, Some(2), "a", 0), t);
    asm.push_event(start(1, 2, Some(1), "b", 1), t);
    asm.push_event(start(1, 3, Some(3), "self", 2), t);
    for id in 1..=3 {
        asm.push_event(end(1, id, 5), t);
    }
    asm.shutdown(t);
    let (_, traces) = drain(&mut asm);
    assert_eq!(traces[0].span_count(), 3);
    assert!(traces[0].partial);
}

#[test]
fn next_deadline_is_never_late() {
    let limits = Limits::default();
    let mut asm = Assembler::new(limits.clone());
    let t = base();
    assert_eq!(asm.next_deadline(), None);
    asm.push_event(start(1, 1, None, "root", 0), t);
    assert_eq!(asm.next_deadline(), Some(t + limits.pending_ttl));
    asm.push_event(end(1, 1, 1), t + ms(3));
    assert_eq!(asm.next_deadline(), Some(t + ms(3) + limits.grace));
}

#[test]
fn late_span_whose_trace_is_evicted_while_making_room_opens_a_fresh_trace() {
    let mut limits = Limits::default();
    limits.max_buffered_traces = 1;
    limits.max_retained_traces = 1;
    let mut asm = Assembler::new(limits.clone());
    let t = base();
    asm.push_event(start(1, 1, None, "root A", 0), t);
    asm.push_event(end(1, 1, 1), t);
    asm.tick(t + limits.grace);
    // Trace B is open (buffered); A is retained.
    asm.push_event(start(2, 5, Some(4), "B child", 0), t + limits.grace);
    asm.push_event(end(2, 5, 1), t + limits.grace);
    drain(&mut asm);
    // A late span for A needs buffer room: B is forced out, which evicts A from the ring.
    let late = t + limits.grace + ms(1);
    asm.push_event(start(1, 2, Some(1), "late A", 0), late);
    asm.push_event(end(1, 2, 1), late);
    let st = asm.stats();
    assert_eq!(st.forced_flushes, 1);
    assert_eq!(st.retained_evicted, 1);
    assert_eq!(st.late_after_eviction, 1);
    assert_eq!(st.over_trace_limit, 0);
    asm.shutdown(late);
    let (_, traces) = drain(&mut asm);
    let a = traces
        .iter()
        .rfind(|t| t.trace_id == WireTraceId::Short(1))
        .unwrap();
    assert_eq!(shape(a), ["(partial trace)", "  late A"]);
    assert_eq!(a.revision, 2);
}
