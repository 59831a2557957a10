//! The view server (`docs/collector.md#view-server`): backlog then live lines with no gap or
//! duplicate, a never-reading viewer dropped while the others and ingest keep going, and
//! `ViewClient`'s outcomes.

use std::io::Write;
use std::time::Duration;

use crate::common::*;
use tokio::io::AsyncReadExt;
use tokio_util::sync::CancellationToken;
use tracewire_collector::assemble::Limits;
use tracewire_collector::server::{ConnectError, ViewClient, ViewEnd};
use tracewire_collector::wire::decode_view_line;

fn limits() -> Limits {
    let mut l = Limits::default();
    l.grace = Duration::from_millis(20);
    l
}

/// Reads view lines from a raw socket, keeping partial lines between calls.
struct RawViewer {
    stream: tokio::net::UnixStream,
    buf: Vec<u8>,
}

impl RawViewer {
    async fn connect(path: &std::path::Path) -> Self {
        Self {
            stream: tokio::net::UnixStream::connect(path).await.unwrap(),
            buf: Vec::new(),
        }
    }

    /// The seqs of the next `n` spans (bounded by time).
    async fn seqs(&mut self, n: usize) -> Vec<u64> {
        let mut chunk = vec![0u8; 64 * 1024];
        let mut seqs = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            while seqs.len() < n {
                let Some(pos) = self.buf.iter().position(|&b| b == b'\n') else {
                    break;
                };
                let line: Vec<u8> = self.buf.drain(..=pos).collect();
                let span = decode_view_line(&line[..line.len() - 1]).expect("valid view line");
                seqs.push(span.seq);
            }
            if seqs.len() == n {
                return seqs;
            }
            let read = tokio::time::timeout_at(deadline, self.stream.read(&mut chunk))
                .await
                .expect("view lines in time")
                .expect("read");
            assert!(read > 0, "unexpected EOF after {} spans", seqs.len());
            self.buf.extend_from_slice(&chunk[..read]);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_viewer_gets_seq_501_to_1500_then_live_spans() {
    let r = start(limits(), true).await;
    send(&r.ingest, &root_spans(0, 1500)).await;
    wait_for("1500 spans", || {
        r.collector.stats().assembly.completed == 1500
    })
    .await;
    let mut viewer = RawViewer::connect(r.view.as_ref().unwrap()).await;
    let backlog = viewer.seqs(1000).await;
    assert_eq!(backlog, (501..=1500).collect::<Vec<_>>());
    send(&r.ingest, &root_spans(1500, 20)).await;
    let live = viewer.seqs(20).await;
    assert_eq!(live, (1501..=1520).collect::<Vec<_>>());
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewer_joining_during_ingest_sees_no_gap_and_no_duplicate() {
    let r = start(limits(), true).await;
    let ingest = r.ingest.clone();
    let sender = tokio::spawn(async move {
        for i in 0..40 {
            send(&ingest, &root_spans(i * 100, 100)).await;
        }
    });
    wait_for("some spans", || {
        r.collector.stats().assembly.completed >= 300
    })
    .await;
    let mut viewer = RawViewer::connect(r.view.as_ref().unwrap()).await;
    sender.await.unwrap();
    wait_for("all spans", || {
        r.collector.stats().assembly.completed == 4000
    })
    .await;
    // Whatever the first seq is, the rest follow without gap up to 4000.
    let first = viewer.seqs(1).await[0];
    let rest = viewer.seqs((4000 - first) as usize).await;
    assert_eq!(rest, (first + 1..=4000).collect::<Vec<_>>());
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_reading_viewer_is_disconnected_others_and_ingest_keep_going() {
    let mut l = limits();
    l.viewer_queue = 1024;
    l.backlog = 0;
    let r = start(l, true).await;
    let view = r.view.clone().unwrap();
    // The stalled viewer: connected, never reads.
    let stalled = tokio::net::UnixStream::connect(&view).await.unwrap();
    let good = ViewClient::connect(&view).await.unwrap();
    wait_for("2 viewers", || {
        r.collector.stats().gauges.viewers_active == 2
    })
    .await;
    let cancel = CancellationToken::new();
    let total = 20_000u64;
    let c2 = cancel.clone();
    let reader = tokio::spawn(async move {
        let mut n = 0u64;
        let mut last = 0u64;
        let summary = good
            .run(c2.clone(), |s| {
                assert_eq!(s.seq, last + 1, "no gap for the reading viewer");
                last = s.seq;
                n += 1;
                if n == total {
                    c2.cancel();
                }
            })
            .await
            .unwrap();
        (n, summary)
    });
    // Paced bursts of 200 spans: the reading viewer keeps up, the stalled one cannot.
    for i in 0..total / 200 {
        send(&r.ingest, &root_spans(i * 200, 200)).await;
        wait_for("burst", || {
            r.collector.stats().assembly.completed == (i + 1) * 200
        })
        .await;
    }
    let (n, summary) = tokio::time::timeout(Duration::from_secs(30), reader)
        .await
        .expect("reading viewer got everything in time")
        .unwrap();
    assert_eq!(n, total);
    assert_eq!(summary.end, ViewEnd::Cancelled);
    let st = r.collector.stats();
    assert_eq!(
        st.outputs.viewers_slow_dropped, 1,
        "only the stalled viewer"
    );
    assert_eq!(st.assembly.completed, total, "ingest unaffected");
    assert_eq!(st.ingest.counts.starts, total);
    drop(stalled);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn view_client_ok_on_server_eof_with_all_spans() {
    let r = start(limits(), true).await;
    send(&r.ingest, &root_spans(0, 5)).await;
    wait_for("5 spans", || r.collector.stats().assembly.completed == 5).await;
    let client = ViewClient::connect(r.view.as_ref().unwrap()).await.unwrap();
    let mut seqs = Vec::new();
    let run = tokio::spawn(async move {
        let summary = client
            .run(CancellationToken::new(), |s| seqs.push(s.seq))
            .await;
        (summary, seqs)
    });
    wait_for("viewer", || r.collector.stats().gauges.viewers_active == 1).await;
    r.stop().await;
    let (summary, seqs) = tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .unwrap()
        .unwrap();
    let summary = summary.expect("Ok on server EOF");
    assert_eq!(summary.end, ViewEnd::ServerClosed);
    assert_eq!(seqs, vec![1, 2, 3, 4, 5]);
}

#[tokio::test]
async fn view_client_ok_on_cancel_and_err_with_no_server() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("none.sock");
    assert!(matches!(
        ViewClient::connect(&missing).await,
        Err(ConnectError::NotFound(_))
    ));
    let stale = dir.path().join("stale.sock");
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    assert!(matches!(
        ViewClient::connect(&stale).await,
        Err(ConnectError::Refused(_))
    ));
    let live = dir.path().join("live.sock");
    let _listener = tokio::net::UnixListener::bind(&live).unwrap();
    let client = ViewClient::connect(&live).await.unwrap();
    let cancel = CancellationToken::new();
    cancel.cancel();
    let summary = client.run(cancel, |_| {}).await.expect("Ok on cancel");
    assert_eq!(summary.end, ViewEnd::Cancelled);
}

#[tokio::test]
async fn view_client_skips_and_counts_bad_and_long_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fake.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        // Ours, garbage, an over-long line, then go-trace's (no seq), last without `\n`.
        s.write_all(b"{\"id\":\"00000000000000a1\",\"trace_id\":\"00000000000000b1\",\"name\":\"a\",\"kind\":0,\"start_time\":\"2025-06-01T10:00:00Z\",\"end_time\":\"2025-06-01T10:00:01Z\",\"seq\":7,\"duration_ns\":1000000000,\"kind_name\":\"function\"}\n").unwrap();
        s.write_all(b"garbage\n").unwrap();
        s.write_all(format!("{{\"x\":\"{}\"}}\n", "y".repeat(4000)).as_bytes())
            .unwrap();
        s.write_all(b"{\"id\":\"00000000000000a2\",\"trace_id\":\"00000000000000b1\",\"parent_id\":\"00000000000000a1\",\"name\":\"b\",\"kind\":2,\"start_time\":\"2025-06-01T10:00:00.5Z\",\"end_time\":\"2025-06-01T10:00:00.75Z\"}").unwrap();
    });
    let client = ViewClient::connect(&path)
        .await
        .unwrap()
        .with_max_line_bytes(1000);
    let mut names = Vec::new();
    let summary = tokio::time::timeout(
        Duration::from_secs(10),
        client.run(CancellationToken::new(), |s| {
            names.push((s.name.clone(), s.duration))
        }),
    )
    .await
    .unwrap()
    .unwrap();
    server.join().unwrap();
    assert_eq!(summary.spans, 2);
    assert_eq!(summary.counts.malformed, 1);
    assert_eq!(summary.counts.oversize, 1);
    assert_eq!(names[0], ("a".to_string(), Duration::from_secs(1)));
    assert_eq!(names[1], ("b".to_string(), Duration::from_millis(250)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_whose_write_stays_blocked_past_the_5s_deadline_is_dropped() {
    let mut l = limits();
    // A queue far larger than the data: only the write deadline can drop this viewer.
    l.viewer_queue = 1_000_000;
    l.backlog = 0;
    let r = start(l, true).await;
    let stalled = tokio::net::UnixStream::connect(r.view.as_ref().unwrap())
        .await
        .unwrap();
    wait_for("viewer", || r.collector.stats().gauges.viewers_active == 1).await;
    send(&r.ingest, &root_spans(0, 20_000)).await;
    wait_for("ingest", || {
        r.collector.stats().assembly.completed == 20_000
    })
    .await;
    for _ in 0..200 {
        if r.collector.stats().gauges.viewers_active == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let st = r.collector.stats();
    assert_eq!(
        st.gauges.viewers_active, 0,
        "dropped after the write deadline"
    );
    assert_eq!(st.outputs.viewers_slow_dropped, 1);
    drop(stalled);
    r.stop().await;
}
