//! Load test: 100 concurrent emitter connections and a stalled viewer; zero completed spans
//! lost and ingest unaffected. Size by env: `TRACEWIRE_LOAD_CONNS` (default 100) x
//! `TRACEWIRE_LOAD_SPANS` spans each (default 1000; the full run uses 10000):
//!
//! ```text
//! TRACEWIRE_LOAD_SPANS=10000 cargo test --release -p tracewire-collector --all-features \
//!     --test it load_emitters -- --nocapture
//! ```
#![cfg(all(feature = "emitter", feature = "server"))]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::UnixStream;
use tracewire_collector::assemble::Limits;
use tracewire_collector::emitter::Emitter;
use tracewire_collector::model::WireKind;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_many_emitters_and_a_stalled_viewer_lose_no_completed_span() {
    let conns = env_u64("TRACEWIRE_LOAD_CONNS", 100);
    let per_conn = env_u64("TRACEWIRE_LOAD_SPANS", 1000).max(10) / 10 * 10;
    let total = conns * per_conn;
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("load.jsonl");
    let mut limits = Limits::default();
    limits.grace = Duration::from_millis(50);
    limits.subscriber_capacity = usize::try_from(total).unwrap();
    let r = crate::common::start_with(limits, true, Some(journal)).await;

    // The stalled viewer: connected, never reads.
    let stalled = UnixStream::connect(r.view.as_ref().unwrap()).await.unwrap();
    crate::common::wait_for("viewer", || r.collector.stats().gauges.viewers_active == 1).await;
    // A subscriber counting every completed span.
    let mut sub = r.collector.subscribe_spans();
    let seen = Arc::new(AtomicU64::new(0));
    let seen2 = Arc::clone(&seen);
    let counter = tokio::spawn(async move {
        while let Ok(_span) = sub.recv().await {
            seen2.fetch_add(1, Ordering::Relaxed);
        }
    });

    let started = Instant::now();
    let path = r.ingest.clone();
    let producers = tokio::task::spawn_blocking(move || {
        let threads: Vec<_> = (0..conns)
            .map(|_| {
                let path = path.clone();
                std::thread::spawn(move || {
                    // A generous write deadline: on 2 shared cores a debug-build collector
                    // can stall a writer for over the default 1 s (counted as write_failed).
                    let em = Emitter::builder()
                        .with_socket_path(&path)
                        .with_write_timeout(Duration::from_secs(60))
                        .build();
                    // Traces of 10 spans: a root and 9 children; flush every 50 traces so
                    // the emitter's own queue never overflows (this test is about the collector).
                    for t in 0..per_conn / 10 {
                        let root = em.enter("request", WireKind::Http, None);
                        let ctx = root.ids();
                        for _ in 0..9 {
                            let child = em.enter("step", WireKind::Function, Some(&ctx));
                            child.end([("k", "v")], None);
                        }
                        drop(root);
                        if t % 50 == 49 {
                            em.flush(Instant::now() + Duration::from_secs(60)).unwrap();
                        }
                    }
                    em.shutdown(Instant::now() + Duration::from_secs(60))
                        .unwrap();
                    em.stats()
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().unwrap())
            .collect::<Vec<_>>()
    });
    let stats = tokio::time::timeout(Duration::from_secs(600), producers)
        .await
        .expect("producers finish")
        .unwrap();
    for s in &stats {
        assert_eq!(s.dropped, 0);
        assert_eq!(s.write_failed, 0);
        assert_eq!(s.sent, per_conn * 2);
    }
    for _ in 0..60_000 {
        if r.collector.stats().assembly.completed == total {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let elapsed = started.elapsed();
    let st = r.collector.stats();
    eprintln!(
        "load: {conns} connections x {per_conn} spans = {total} spans ({} events) in {:.2?}: {:.0} events/s; viewers_slow_dropped={}",
        total * 2,
        elapsed,
        (total * 2) as f64 / elapsed.as_secs_f64(),
        st.outputs.viewers_slow_dropped
    );
    assert_eq!(st.ingest.counts.starts, total);
    assert_eq!(st.ingest.counts.ends, total);
    assert_eq!(st.ingest.counts.rejected(), 0);
    assert_eq!(st.assembly.paired, total);
    assert_eq!(st.assembly.completed, total);
    assert_eq!(st.assembly.pending_now, 0);
    assert_eq!(st.assembly.early_ends_now, 0);
    assert_eq!(st.ingest.connections_accepted, conns);
    drop(stalled);
    let report = r.stop().await;
    counter.await.unwrap();
    assert_eq!(
        seen.load(Ordering::Relaxed),
        total,
        "every completed span reached the subscriber"
    );
    assert_eq!(report.stats.outputs.subscriber_missed, 0);
    // The journal is a bounded output too: under overload it drops, but never silently.
    let o = &report.stats.outputs;
    eprintln!(
        "load: journal_written={} journal_dropped={} unfinished={:?}",
        o.journal_written, o.journal_dropped, report.unfinished
    );
    assert_eq!(
        o.journal_written + o.journal_dropped,
        total,
        "every span journaled or counted"
    );
    assert_eq!(report.stats.assembly.traces_emitted, total / 10);
    assert!(report.stats.assembly.conservation_holds());
    if total * 250 > 8 * 1024 * 1024 {
        // Enough data to fill the socket buffer and the 4096-line queue.
        assert_eq!(
            report.stats.outputs.viewers_slow_dropped, 1,
            "the stalled viewer was dropped"
        );
    }
}
