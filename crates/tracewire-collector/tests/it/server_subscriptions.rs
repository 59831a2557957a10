//! Subscriptions (`docs/collector.md#subscriptions`: snapshots, `Lagged(n)`, callbacks) and
//! the server's ingest over a real Unix socket: trees, stats, max_connections, oversize
//! lines.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::common::*;
use tokio::io::AsyncWriteExt;
use tracewire_collector::assemble::Limits;
use tracewire_collector::server::RecvError;

fn fast_limits() -> Limits {
    let mut l = Limits::default();
    l.grace = Duration::from_millis(50);
    l
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_trace_lines_over_a_socket_become_a_tree_and_stats() {
    let r = start(fast_limits(), false).await;
    let mut traces = r.collector.subscribe_traces();
    let t = "3a7bd3e2360a3d29";
    let mut data = String::new();
    data.push_str(&start_line(t, "9f86d081884c7d65", None, "GET /users", 0));
    data.push_str(&start_line(
        t,
        "00000000000000a1",
        Some("9f86d081884c7d65"),
        "SQL",
        1,
    ));
    data.push_str("not json\n\r\n");
    data.push_str(&end_line(t, "00000000000000a1", 2));
    // The last line has no `\n`.
    data.push_str(end_line(t, "9f86d081884c7d65", 3).trim_end());
    send(&r.ingest, &data).await;
    let trace = tokio::time::timeout(Duration::from_secs(10), traces.recv())
        .await
        .expect("trace in time")
        .expect("trace");
    assert_eq!(trace.trace_id.to_string(), t);
    assert_eq!(trace.revision, 1);
    assert!(!trace.partial);
    assert_eq!(trace.root.span.name, "GET /users");
    assert_eq!(trace.root.children.len(), 1);
    assert_eq!(trace.root.children[0].span.name, "SQL");
    wait_for("connection folded", || {
        r.collector.stats().gauges.connections_active == 0
    })
    .await;
    let stats = r.collector.stats();
    assert_eq!(stats.ingest.counts.starts, 2);
    assert_eq!(stats.ingest.counts.ends, 2);
    assert_eq!(stats.ingest.counts.malformed, 1);
    assert_eq!(stats.ingest.counts.blank, 1);
    assert_eq!(stats.ingest.counts.bytes, data.len() as u64);
    assert_eq!(stats.assembly.paired, 2);
    let report = r.stop().await;
    assert_eq!(report.stats.ingest.connections_accepted, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_line_is_skipped_and_the_connection_stays_open() {
    let mut limits = fast_limits();
    limits.max_line_bytes = 300;
    let r = start(limits, false).await;
    let mut spans = r.collector.subscribe_spans();
    let mut s = tokio::net::UnixStream::connect(&r.ingest).await.unwrap();
    s.write_all(format!("{{\"x\":\"{}\"}}\n", "a".repeat(5000)).as_bytes())
        .await
        .unwrap();
    s.write_all(root_spans(0, 1).as_bytes()).await.unwrap();
    let span = tokio::time::timeout(Duration::from_secs(10), spans.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(span.seq, 1);
    let st = r.collector.stats();
    assert_eq!(st.connections.len(), 1, "the connection is still open");
    assert_eq!(st.connections[0].counts.oversize, 1);
    assert_eq!(st.connections[0].counts.starts, 1);
    drop(s);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extra_connections_over_max_connections_are_closed_and_counted() {
    let mut limits = fast_limits();
    limits.max_connections = 1;
    let r = start(limits, false).await;
    let first = tokio::net::UnixStream::connect(&r.ingest).await.unwrap();
    wait_for("first registered", || {
        r.collector.stats().gauges.connections_active == 1
    })
    .await;
    let mut second = tokio::net::UnixStream::connect(&r.ingest).await.unwrap();
    let mut buf = [0u8; 8];
    let n = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::io::AsyncReadExt::read(&mut second, &mut buf),
    )
    .await
    .expect("closed in time")
    .unwrap_or(0);
    assert_eq!(n, 0, "the extra connection is closed at once");
    assert_eq!(r.collector.stats().ingest.connections_rejected, 1);
    drop(first);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_is_a_deep_copy() {
    let r = start(fast_limits(), false).await;
    let mut traces = r.collector.subscribe_traces();
    send(&r.ingest, &root_spans(0, 3)).await;
    for _ in 0..3 {
        tokio::time::timeout(Duration::from_secs(10), traces.recv())
            .await
            .unwrap()
            .unwrap();
    }
    let mut snap = r.collector.snapshot();
    assert_eq!(snap.len(), 3);
    let ids: Vec<_> = snap.iter().map(|t| t.trace_id).collect();
    std::sync::Arc::make_mut(&mut snap[0].root.span).name = "changed".into();
    snap[0].root.children.clear();
    let again = r.collector.snapshot();
    assert_eq!(again[0].root.span.name, "op");
    assert_eq!(again.iter().map(|t| t.trace_id).collect::<Vec<_>>(), ids);
    let one = r.collector.trace(&ids[1]).expect("retained");
    assert_eq!(one.trace_id, ids[1]);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_never_reading_subscriber_gets_exact_lagged_n_and_ingest_is_unaffected() {
    let mut limits = fast_limits();
    limits.subscriber_capacity = 16;
    let r = start(limits, false).await;
    let mut stalled = r.collector.subscribe_spans();
    let mut reader = r.collector.subscribe_spans();
    let total = 500u64;
    let reading = tokio::spawn(async move {
        let mut seqs = Vec::new();
        while (seqs.len() as u64) < total {
            match tokio::time::timeout(Duration::from_secs(10), reader.recv()).await {
                Ok(Ok(s)) => seqs.push(s.seq),
                Ok(Err(RecvError::Lagged(n))) => panic!("reader lagged {n}"),
                other => panic!("reader ended: {other:?}"),
            }
            // Keep up without ever falling 16 behind: yield often.
        }
        seqs
    });
    // Send in small chunks so the reading subscriber can keep up.
    for chunk in 0..50 {
        send(&r.ingest, &root_spans(chunk * 10, 10)).await;
        wait_for("chunk completed", || {
            r.collector.stats().assembly.completed >= (chunk + 1) * 10
        })
        .await;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let seqs = tokio::time::timeout(Duration::from_secs(20), reading)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        seqs,
        (1..=total).collect::<Vec<_>>(),
        "ingest delivered everything"
    );
    assert_eq!(r.collector.stats().assembly.completed, total);
    // The stalled subscriber missed exactly total - capacity, then resumes at the oldest kept.
    match stalled.recv().await {
        Err(RecvError::Lagged(n)) => assert_eq!(n, total - 16),
        other => panic!("expected Lagged, got {other:?}"),
    }
    let next = stalled.recv().await.expect("resumes");
    assert_eq!(next.seq, total - 16 + 1);
    assert_eq!(r.collector.stats().outputs.subscriber_missed, total - 16);
    let report = r.stop().await;
    // After shutdown: the rest, then Closed.
    let mut rest = 0;
    loop {
        match stalled.recv().await {
            Ok(_) => rest += 1,
            Err(RecvError::Closed) => break,
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(rest, 15);
    assert_eq!(report.stats.assembly.completed, total);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_callback_is_unregistered_and_counted() {
    let r = start(fast_limits(), false).await;
    let seen = Arc::new(AtomicU64::new(0));
    let s2 = Arc::clone(&seen);
    let counting = r.collector.on_span_complete(move |_| {
        s2.fetch_add(1, Ordering::SeqCst);
    });
    let calls = Arc::new(AtomicU64::new(0));
    let c2 = Arc::clone(&calls);
    let panicking = r.collector.on_span_complete(move |_| {
        c2.fetch_add(1, Ordering::SeqCst);
        panic!("callback bug");
    });
    let traces_seen = Arc::new(AtomicU64::new(0));
    let t2 = Arc::clone(&traces_seen);
    let _trace_cb = r.collector.on_trace_complete(move |t| {
        assert_eq!(t.revision, 1);
        t2.fetch_add(1, Ordering::SeqCst);
    });
    send(&r.ingest, &root_spans(0, 3)).await;
    wait_for("counting callback", || seen.load(Ordering::SeqCst) == 3).await;
    wait_for("panic counted", || {
        r.collector.stats().outputs.callback_panics == 1
    })
    .await;
    wait_for("trace callback", || traces_seen.load(Ordering::SeqCst) == 3).await;
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "unregistered after its panic"
    );
    assert!(!panicking.is_active());
    assert!(counting.is_active());
    drop(counting);
    send(&r.ingest, &root_spans(3, 1)).await;
    wait_for("4th span", || r.collector.stats().assembly.completed == 4).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        seen.load(Ordering::SeqCst),
        3,
        "dropping the handle unregisters"
    );
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_completed_reassigns_seq_and_serve_stops_on_its_future() {
    let dir = tempfile::tempdir().unwrap();
    let bound = tracewire_collector::server::Collector::builder()
        .with_socket_path(dir.path().join("in.sock"))
        .with_limits(fast_limits())
        .bind()
        .await
        .unwrap();
    let c = bound.handle();
    let mut spans = c.subscribe_spans();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(bound.serve(async {
        let _ = stop_rx.await;
    }));
    let span = tracewire_collector::CompletedSpan::new(
        tracewire_collector::WireTraceId::w3c(7),
        tracewire_collector::SpanId::from_u64(9),
        "from otlp",
        tracewire_collector::WireKind::Server,
        tracewire_collector::Timestamp::from_unix_nanos(1_000),
        tracewire_collector::Timestamp::from_unix_nanos(2_000),
    )
    .with_seq(999);
    c.ingest_completed(span);
    let got = tokio::time::timeout(Duration::from_secs(10), spans.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.seq, 1, "seq reassigned");
    assert_eq!(got.name, "from otlp");
    stop_tx.send(()).unwrap();
    let report = tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(report.stats.assembly.completed_ingested, 1);
    assert_eq!(report.stats.outputs.completed_dropped, 0);
    // After shutdown, a completed span cannot be delivered: counted, never silent.
    c.ingest_completed(got);
    assert_eq!(c.stats().outputs.completed_dropped, 1);
}
