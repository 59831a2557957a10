//! The emitter (`docs/collector.md#emitter`): `emit` never blocks with no collector; the
//! emitter connects once one appears and reconnects after a restart; drop counts are exact
//! for both policies; a late `flush` returns `Timeout`.
#![cfg(feature = "emitter")]

use std::io::{BufRead, BufReader};
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::time::{Duration, Instant};

use tracewire_collector::emitter::{Backoff, DropPolicy, Emitter, FlushError};
use tracewire_collector::model::{
    IngestEvent, SpanId, SpanStart, Timestamp, WireKind, WireTraceId,
};
use tracewire_collector::wire::decode_ingest_line;

fn fast_backoff() -> Backoff {
    Backoff::new(Duration::from_millis(5), Duration::from_millis(40)).with_jitter(0.5)
}

fn start_event(i: u64) -> IngestEvent {
    IngestEvent::Start(SpanStart::new(
        WireTraceId::Short(i + 1),
        SpanId::from_u64(i + 1),
        format!("op{i}"),
        WireKind::Function,
        Timestamp::from_unix_nanos(1_700_000_000_000_000_000),
    ))
}

/// Accepts one connection and reads `n` lines (bounded by time); returns the span names.
fn read_names(listener: &UnixListener, n: usize) -> Vec<String> {
    let (stream, _) = listener.accept().expect("emitter connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut reader = BufReader::new(stream);
    let mut names = Vec::new();
    let mut line = String::new();
    while names.len() < n {
        line.clear();
        let got = reader.read_line(&mut line).expect("line in time");
        assert!(got > 0, "EOF after {} lines", names.len());
        match decode_ingest_line(line.trim_end().as_bytes()).expect("valid ingest line") {
            IngestEvent::Start(s) => names.push(s.name),
            IngestEvent::End(_) => panic!("unexpected end"),
        }
    }
    names
}

fn emitter(path: &Path, cap: usize, drop_policy: DropPolicy) -> Emitter {
    Emitter::builder()
        .with_socket_path(path)
        .with_queue_capacity(cap)
        .with_drop_policy(drop_policy)
        .with_backoff(fast_backoff())
        .build()
}

fn exact_drops(drop_policy: DropPolicy) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.sock");
    let em = emitter(&path, 100, drop_policy);
    // No collector: emit never blocks (20 000 calls complete) and drops exactly the excess.
    let started = Instant::now();
    for i in 0..20_000 {
        em.emit(&start_event(i));
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "emit did not block"
    );
    let st = em.stats();
    assert_eq!(st.queued, 20_000);
    assert_eq!(st.dropped, 19_900);
    assert_eq!(st.sent, 0);
    assert!(!st.connected);
    // A collector appears: the 100 kept lines arrive.
    let listener = UnixListener::bind(&path).unwrap();
    let names = read_names(&listener, 100);
    em.flush(Instant::now() + Duration::from_secs(10))
        .expect("flushed");
    let st = em.stats();
    assert_eq!(st.sent, 100);
    assert_eq!(st.dropped, 19_900);
    assert!(st.connected);
    em.shutdown(Instant::now() + Duration::from_secs(5))
        .unwrap();
    names
}

#[test]
fn drop_oldest_keeps_the_newest_lines_with_exact_counts() {
    let names = exact_drops(DropPolicy::DropOldest);
    let expected: Vec<String> = (19_900..20_000).map(|i| format!("op{i}")).collect();
    assert_eq!(names, expected);
}

#[test]
fn drop_newest_keeps_the_oldest_lines_with_exact_counts() {
    let names = exact_drops(DropPolicy::DropNewest);
    let expected: Vec<String> = (0..100).map(|i| format!("op{i}")).collect();
    assert_eq!(names, expected);
}

#[test]
fn emitter_reconnects_after_a_collector_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.sock");
    let em = emitter(&path, 1000, DropPolicy::DropOldest);
    let first = UnixListener::bind(&path).unwrap();
    for i in 0..10 {
        em.emit(&start_event(i));
    }
    assert_eq!(read_names(&first, 10).len(), 10);
    em.flush(Instant::now() + Duration::from_secs(10)).unwrap();
    // The collector goes away (its connection closes) and comes back on the same path.
    drop(first);
    std::fs::remove_file(&path).unwrap();
    for i in 10..20 {
        em.emit(&start_event(i));
    }
    std::thread::sleep(Duration::from_millis(50));
    let second = UnixListener::bind(&path).unwrap();
    let names = read_names(&second, 10);
    assert_eq!(
        names,
        (10..20).map(|i| format!("op{i}")).collect::<Vec<_>>()
    );
    em.flush(Instant::now() + Duration::from_secs(10)).unwrap();
    let st = em.stats();
    assert_eq!(st.reconnects, 1);
    assert_eq!(st.sent, 20);
    assert_eq!(
        st.write_failed, 0,
        "a closed peer is noticed before writing"
    );
}

#[test]
fn late_flush_returns_timeout_with_pending_count() {
    let dir = tempfile::tempdir().unwrap();
    let em = emitter(&dir.path().join("none.sock"), 100, DropPolicy::DropOldest);
    for i in 0..10 {
        em.emit(&start_event(i));
    }
    assert_eq!(
        em.flush(Instant::now() + Duration::from_millis(50)),
        Err(FlushError::Timeout { pending: 10 })
    );
    // Shutdown cannot flush either: Timeout, and the lines are counted as dropped.
    assert_eq!(
        em.shutdown(Instant::now() + Duration::from_millis(50)),
        Err(FlushError::Timeout { pending: 10 })
    );
    let st = em.stats();
    assert_eq!(st.dropped, 10);
    assert_eq!(st.sent, 0);
    // After shutdown nothing is accepted (counted as dropped).
    em.emit(&start_event(99));
    assert_eq!(em.stats().dropped, 11);
}

#[test]
fn disabled_emitter_without_env_is_a_no_op() {
    let mut env = tracewire_test_support::EnvGuard::lock();
    env.remove("TRACEWIRE_SOCKET");
    env.remove("GOTRACE_SOCKET");
    let em = Emitter::from_env();
    assert!(!em.is_enabled());
    em.emit(&start_event(1));
    let span = em.enter("x", WireKind::Http, None);
    drop(span);
    assert_eq!(em.stats().queued, 0);
    assert!(em.flush(Instant::now()).is_ok());
}

#[test]
fn enter_and_end_send_a_start_then_an_end_with_duration() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let em = emitter(&path, 100, DropPolicy::DropOldest);
    let root = em.enter("GET /", WireKind::Http, None);
    let child = em.enter("db", WireKind::Sql, Some(&root.ids()));
    let (root_ctx, child_ctx) = (root.ids(), child.ids());
    child.end([("query", "SELECT 1")], None);
    drop(root);
    em.shutdown(Instant::now() + Duration::from_secs(5))
        .unwrap();
    let (stream, _) = listener.accept().unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let events: Vec<IngestEvent> = BufReader::new(stream)
        .lines()
        .map(|l| decode_ingest_line(l.unwrap().as_bytes()).unwrap())
        .collect();
    assert_eq!(events.len(), 4);
    assert!(matches!(root_ctx.trace_id, WireTraceId::W3c(_)));
    match (&events[0], &events[1], &events[2], &events[3]) {
        (
            IngestEvent::Start(a),
            IngestEvent::Start(b),
            IngestEvent::End(c),
            IngestEvent::End(d),
        ) => {
            assert_eq!(a.span_id, root_ctx.span_id);
            assert_eq!(a.parent_id, None);
            assert_eq!(b.parent_id, Some(root_ctx.span_id));
            assert_eq!(b.trace_id, root_ctx.trace_id);
            assert_eq!(c.span_id, child_ctx.span_id);
            assert_eq!(c.attrs.get("query").map(String::as_str), Some("SELECT 1"));
            assert!(c.duration_ns.is_some());
            assert_eq!(d.span_id, root_ctx.span_id);
        }
        other => panic!("unexpected order {other:?}"),
    }
}
