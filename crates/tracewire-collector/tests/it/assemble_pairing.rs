//! Pairing rules (`docs/collector.md#pairing`): exact durations, `duration_ns`, clock skew,
//! attribute merge, pairing per trace, early ends and their TTL, duplicate starts, the
//! pending bound and `seq`.

use std::time::Duration;

use crate::assemble_common::*;
use tracewire_collector::assemble::{Assembler, Limits};
use tracewire_collector::model::{IngestEvent, Status, StatusCode};
use tracewire_collector::wire::decode_ingest_line;

#[test]
fn start_and_end_ten_ms_apart_give_exactly_ten_ms() {
    let mut asm = Assembler::default();
    let now = base();
    let s = r#"{"type":0,"span_id":"9f86d081884c7d65","trace_id":"3a7bd3e2360a3d29","name":"q","kind":2,"time":"2025-06-01T10:00:00.123456789+09:00"}"#;
    let e = r#"{"type":1,"span_id":"9f86d081884c7d65","trace_id":"3a7bd3e2360a3d29","name":"","kind":0,"time":"2025-06-01T01:00:00.133456789Z"}"#;
    asm.push_event(decode_ingest_line(s.as_bytes()).unwrap(), now);
    asm.push_event(decode_ingest_line(e.as_bytes()).unwrap(), now);
    let (spans, _) = drain(&mut asm);
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].duration, Duration::from_millis(10));
    assert_eq!(spans[0].duration.as_nanos(), 10_000_000);
    assert_eq!(
        spans[0].end.as_unix_nanos() - spans[0].start.as_unix_nanos(),
        10_000_000
    );
    assert_eq!(spans[0].seq, 1);
}

#[test]
fn duration_ns_overrides_wall_time() {
    let mut asm = Assembler::default();
    let now = base();
    asm.push_event(start(1, 1, None, "root", 0), now);
    let IngestEvent::End(mut e) = end(1, 1, -500) else {
        unreachable!()
    };
    e.duration_ns = Some(1_834_211);
    asm.push_event(IngestEvent::End(e), now);
    let (spans, _) = drain(&mut asm);
    assert_eq!(spans[0].duration, Duration::from_nanos(1_834_211));
    assert_eq!(spans[0].end.as_unix_nanos(), T0_NS + 1_834_211);
    assert_eq!(asm.stats().clock_skew, 0);
}

#[test]
fn negative_wall_duration_is_clamped_and_counted() {
    let mut asm = Assembler::default();
    let now = base();
    asm.push_event(start(1, 1, None, "root", 100), now);
    asm.push_event(end(1, 1, 40), now);
    let (spans, _) = drain(&mut asm);
    assert_eq!(spans[0].duration, Duration::ZERO);
    assert_eq!(spans[0].end, spans[0].start);
    assert_eq!(asm.stats().clock_skew, 1);
}

#[test]
fn end_attrs_win_over_start_attrs_and_end_name_and_status_apply() {
    let mut asm = Assembler::default();
    let now = base();
    let IngestEvent::Start(mut s) = start(1, 1, None, "before", 0) else {
        unreachable!()
    };
    s.attrs.insert("a".into(), "start".into());
    s.attrs.insert("keep".into(), "1".into());
    let IngestEvent::End(mut e) = end(1, 1, 5) else {
        unreachable!()
    };
    e.attrs.insert("a".into(), "end".into());
    e.attrs.insert("new".into(), "2".into());
    e.name = "after".into();
    e.status = Status::error("boom");
    asm.push_event(IngestEvent::Start(s), now);
    asm.push_event(IngestEvent::End(e), now);
    let (spans, _) = drain(&mut asm);
    let span = &spans[0];
    assert_eq!(span.name, "after");
    assert_eq!(span.attrs["a"], "end");
    assert_eq!(span.attrs["keep"], "1");
    assert_eq!(span.attrs["new"], "2");
    assert_eq!(span.status.code, StatusCode::Error);
    assert!(span.is_error());
}

#[test]
fn equal_span_ids_in_two_traces_pair_independently() {
    let mut asm = Assembler::default();
    let now = base();
    asm.push_event(start(1, 7, None, "in-1", 0), now);
    asm.push_event(start(2, 7, None, "in-2", 0), now);
    // An end with another trace id completes nothing.
    asm.push_event(end(3, 7, 5), now);
    assert!(drain(&mut asm).0.is_empty());
    asm.push_event(end(2, 7, 20), now);
    asm.push_event(end(1, 7, 10), now);
    let (spans, _) = drain(&mut asm);
    let got: Vec<(&str, Duration)> = spans
        .iter()
        .map(|s| (s.name.as_str(), s.duration))
        .collect();
    assert_eq!(got, [("in-2", ms(20)), ("in-1", ms(10))]);
    let st = asm.stats();
    assert_eq!((st.paired, st.early_ends_now, st.pending_now), (2, 1, 0));
    assert!(st.conservation_holds());
}

#[test]
fn end_before_start_within_early_end_ttl_completes() {
    let mut asm = Assembler::default();
    let t = base();
    asm.push_event(end(1, 1, 10), t);
    asm.push_event(
        start(1, 1, None, "late start", 0),
        t + Duration::from_millis(4_999),
    );
    let (spans, _) = drain(&mut asm);
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].duration, ms(10));
    assert_eq!(asm.stats().orphan_ends, 0);
}

#[test]
fn end_after_early_end_ttl_is_orphaned_and_start_stays_pending_until_pending_ttl() {
    let limits = Limits::default();
    let mut asm = Assembler::new(limits.clone());
    let t = base();
    asm.push_event(end(1, 1, 10), t);
    let t_start = t + limits.early_end_ttl;
    asm.push_event(start(1, 1, None, "late start", 0), t_start);
    assert!(drain(&mut asm).0.is_empty());
    let st = asm.stats();
    assert_eq!((st.orphan_ends, st.pending_now, st.paired), (1, 1, 0));
    assert!(st.conservation_holds());

    asm.tick(t_start + limits.pending_ttl - Duration::from_nanos(1));
    assert_eq!(asm.stats().pending_now, 1);
    asm.tick(t_start + limits.pending_ttl);
    let st = asm.stats();
    assert_eq!((st.pending_now, st.pending_expired), (0, 1));
    assert!(st.conservation_holds());
}

#[test]
fn duplicate_start_replaces_and_is_counted() {
    let mut asm = Assembler::default();
    let t = base();
    asm.push_event(start(1, 1, None, "first", 0), t);
    asm.push_event(start(1, 1, None, "second", 1), t);
    asm.push_event(end(1, 1, 11), t);
    let (spans, _) = drain(&mut asm);
    assert_eq!(spans[0].name, "second");
    assert_eq!(spans[0].duration, ms(10));
    let st = asm.stats();
    assert_eq!((st.duplicate_start, st.paired), (1, 1));
    assert!(st.conservation_holds());
}

#[test]
fn pending_bound_evicts_oldest_of_starts_and_ends() {
    let mut limits = Limits::default();
    limits.max_pending_spans = 3;
    let mut asm = Assembler::new(limits);
    let t = base();
    asm.push_event(start(1, 1, None, "a", 0), t);
    asm.push_event(end(1, 2, 0), t + ms(1));
    asm.push_event(start(1, 3, None, "c", 0), t + ms(2));
    asm.push_event(start(1, 4, None, "d", 0), t + ms(3)); // evicts start 1
    asm.push_event(start(1, 5, None, "e", 0), t + ms(4)); // evicts end 2
    let st = asm.stats();
    assert_eq!((st.pending_evicted, st.orphan_ends), (1, 1));
    assert_eq!(st.pending_now + st.early_ends_now, 3);
    assert!(st.conservation_holds());
    // The evicted start no longer pairs: its end waits as an early end.
    asm.push_event(end(1, 1, 5), t + ms(5));
    assert!(drain(&mut asm).0.is_empty());
}

#[test]
fn seq_is_gapless_from_one_including_push_completed() {
    let mut asm = Assembler::default();
    let t = base();
    for i in 1..=5u64 {
        asm.push_event(start(1, i, Some(100), "c", 0), t);
        asm.push_event(end(1, i, 1), t);
    }
    let (spans, _) = drain(&mut asm);
    let mut ingested = spans[0].clone();
    ingested.seq = 999;
    ingested.span_id = tracewire_collector::model::SpanId::from_u64(77);
    asm.push_completed(ingested, t);
    let (more, _) = drain(&mut asm);
    let seqs: Vec<u64> = spans.iter().chain(&more).map(|s| s.seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5, 6]);
    assert_eq!(asm.stats().completed_ingested, 1);
}
