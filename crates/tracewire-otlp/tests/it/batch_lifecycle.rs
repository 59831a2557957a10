//! BatchExporter back-pressure, accounting and lifecycle (`docs/exporter.md#batch-exporter`,
//! `docs/exporter.md#accounting-invariant`, `docs/exporter.md#flush-and-shutdown`).

use std::time::Duration;

use rand::{RngExt as _, SeedableRng};
use tracewire_otlp::batch::{
    BatchExporter, BlockingError, DropReason, ExportEvent, Overflow, ShutdownError, SubmitError,
};
use tracewire_otlp::export::{OtlpHttpExporter, RetryPolicy};
use tracewire_test_support::spans::spans;
use tracewire_test_support::{Receiver, Reply};

fn otlp(rx: &Receiver) -> OtlpHttpExporter {
    OtlpHttpExporter::builder()
        .with_env_vars(Vec::<(String, String)>::new())
        .with_endpoint(rx.endpoint())
        .with_retry(
            RetryPolicy::default()
                .with_initial(Duration::from_millis(10))
                .with_max_backoff(Duration::from_millis(50))
                .with_window(Duration::from_millis(200)),
        )
        .with_timeout(Duration::from_secs(5))
        .build()
        .expect("build exporter")
}

fn no_env() -> Vec<(String, String)> {
    Vec::new()
}

#[tokio::test]
async fn drop_newest_counts_the_overflow_and_reports_it_once() {
    let rx = Receiver::start().await;
    let batch = BatchExporter::builder(otlp(&rx))
        .with_env_vars(no_env())
        .with_max_queue_spans(10)
        .with_max_batch_spans(512)
        .with_scheduled_delay(Duration::from_secs(3600))
        .with_default_handler(false)
        .build()
        .expect("build");
    let mut events = batch.events();
    let outcome = batch.submit(spans(12)).expect("submit");
    assert_eq!((outcome.accepted, outcome.dropped), (10, 2));
    let r = batch.report();
    assert_eq!((r.submitted, r.dropped), (12, 2));
    assert!(r.is_consistent());
    let report = batch
        .shutdown(Duration::from_secs(5))
        .await
        .expect("clean shutdown");
    assert_eq!((report.sent, report.dropped, report.pending), (10, 2, 0));
    let mut dropped_events = Vec::new();
    while let Some(e) = tokio::time::timeout(Duration::from_secs(5), events.recv())
        .await
        .ok()
        .flatten()
    {
        if let ExportEvent::Dropped {
            count,
            reason,
            total_dropped,
        } = e
        {
            dropped_events.push((count, reason, total_dropped));
        }
    }
    assert_eq!(dropped_events, vec![(2, DropReason::QueueFull, 2)]);
}

#[tokio::test]
async fn wait_overflow_drops_nothing() {
    let rx = Receiver::start().await;
    let batch = BatchExporter::builder(otlp(&rx))
        .with_env_vars(no_env())
        .with_max_queue_spans(10)
        .with_max_batch_spans(512)
        .with_scheduled_delay(Duration::from_secs(3600))
        .with_overflow(Overflow::Wait)
        .with_default_handler(false)
        .build()
        .expect("build");
    let outcome = tokio::time::timeout(Duration::from_secs(10), batch.submit_wait(spans(12)))
        .await
        .expect("submit_wait finishes")
        .expect("accepted");
    assert_eq!((outcome.accepted, outcome.dropped), (12, 0));
    let report = batch
        .shutdown(Duration::from_secs(5))
        .await
        .expect("clean shutdown");
    assert_eq!((report.sent, report.dropped, report.failed), (12, 0, 0));
    assert_eq!(rx.accepted_span_ids().len(), 12);
}

#[tokio::test]
async fn accounting_invariant_holds_after_every_flush() {
    let rx = Receiver::start().await;
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed);
    let replies: Vec<Reply> = (0..400)
        .map(|_| match rng.random_range(0..6) {
            0 => Reply::Status(500),
            1 => Reply::Status(503),
            2 => Reply::Partial {
                rejected: rng.random_range(1..3),
                message: "nope".into(),
            },
            _ => Reply::Ok,
        })
        .collect();
    rx.script(replies);
    let batch = BatchExporter::builder(otlp(&rx))
        .with_env_vars(no_env())
        .with_max_queue_spans(rng.random_range(20..200))
        .with_max_batch_spans(rng.random_range(1..50))
        .with_max_concurrent_exports(rng.random_range(1..4))
        .with_scheduled_delay(Duration::from_millis(rng.random_range(1..50)))
        .with_default_handler(false)
        .build()
        .expect("build");
    let mut previous = batch.report();
    for _ in 0..30 {
        for _ in 0..rng.random_range(1..5) {
            let n = rng.random_range(0..80);
            let _ = batch.submit(spans(n));
            let snapshot = batch.report();
            assert!(snapshot.is_consistent(), "{snapshot:?}");
        }
        let r = batch.flush(Duration::from_secs(10)).await;
        assert!(r.is_consistent(), "{r:?}");
        assert_eq!(
            r.pending, 0,
            "flush settles everything queued at call time: {r:?}"
        );
        let d = r.delta(&previous);
        assert_eq!(
            d.submitted + previous.pending,
            d.sent + d.dropped + d.failed + r.pending,
            "delta accounting: {d:?}"
        );
        assert!(r.rejected <= r.failed);
        previous = r;
    }
    let final_result = batch.shutdown(Duration::from_secs(10)).await;
    let r = match &final_result {
        Ok(r) => *r,
        Err(e) => *e.report().expect("report"),
    };
    assert!(r.is_consistent(), "{r:?}");
    assert_eq!(r.pending, 0);
}

#[tokio::test]
async fn shutdown_against_a_hanging_receiver_meets_its_deadline() {
    let rx = Receiver::start().await;
    rx.set_default(Reply::Hang);
    let batch = BatchExporter::builder(otlp(&rx))
        .with_env_vars(no_env())
        .with_scheduled_delay(Duration::from_millis(1))
        .with_default_handler(false)
        .build()
        .expect("build");
    batch.submit(spans(20)).expect("submit");
    // Let the export start and hang.
    for _ in 0..100 {
        if rx.request_count() > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let deadline = Duration::from_millis(300);
    let start = std::time::Instant::now();
    let result = batch.shutdown(deadline).await;
    let took = start.elapsed();
    assert!(
        took <= deadline + Duration::from_millis(50),
        "took {took:?}"
    );
    match result {
        Err(ShutdownError::DeadlineExceeded { report }) => {
            assert!(report.pending > 0, "{report:?}");
            assert!(report.is_consistent());
        }
        other => panic!("expected DeadlineExceeded, got {other:?}"),
    }
    let after = batch.report();
    assert_eq!(
        (after.pending, after.dropped),
        (0, 20),
        "cancelled spans count as dropped"
    );
    assert!(after.is_consistent());
}

#[tokio::test]
async fn shutdown_against_a_failing_receiver_is_never_ok() {
    let rx = Receiver::start().await;
    rx.set_default(Reply::Status(500));
    let batch = BatchExporter::builder(otlp(&rx))
        .with_env_vars(no_env())
        .with_scheduled_delay(Duration::from_secs(3600))
        .with_default_handler(false)
        .build()
        .expect("build");
    batch.submit(spans(5)).expect("submit");
    match batch.shutdown(Duration::from_secs(5)).await {
        Err(ShutdownError::ExportFailed { report, last_error }) => {
            assert_eq!((report.failed, report.sent, report.pending), (5, 0, 0));
            let msg = last_error.map(|e| e.to_string()).unwrap_or_default();
            assert!(msg.contains("500"), "{msg}");
        }
        other => panic!("expected ExportFailed, got {other:?}"),
    }
    assert!(matches!(
        batch.shutdown(Duration::from_secs(1)).await,
        Err(ShutdownError::AlreadyShutdown)
    ));
    assert_eq!(
        batch.submit(spans(3)),
        Err(SubmitError::Shutdown { dropped: 3 })
    );
    let r = batch.report();
    assert_eq!((r.submitted, r.dropped, r.failed), (8, 3, 5));
    assert!(r.is_consistent());
}

#[test]
fn current_thread_runtime_flush_and_shutdown_complete() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    rt.block_on(async {
        let rx = Receiver::start().await;
        let batch = BatchExporter::builder(otlp(&rx))
            .with_env_vars(no_env())
            .with_scheduled_delay(Duration::from_secs(3600))
            .with_default_handler(false)
            .build()
            .expect("build");
        batch.submit(spans(30)).expect("submit");
        let r = batch.flush(Duration::from_secs(5)).await;
        assert_eq!((r.sent, r.pending), (30, 0));
        // Blocking variants refuse to run inside a runtime.
        assert_eq!(
            batch.flush_blocking(Duration::from_secs(1)),
            Err(BlockingError::WouldBlockRuntime)
        );
        assert!(matches!(
            batch.shutdown_blocking(Duration::from_secs(1)),
            Err(ShutdownError::WouldBlockRuntime)
        ));
        batch.submit(spans(4)).expect("submit");
        let r = batch
            .shutdown(Duration::from_secs(5))
            .await
            .expect("clean shutdown");
        assert_eq!((r.sent, r.pending), (34, 0));
    });
}

#[test]
fn blocking_variants_work_outside_a_runtime() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("rt");
    let rx = rt.block_on(Receiver::start());
    let batch = rt.block_on(async {
        BatchExporter::builder(otlp(&rx))
            .with_env_vars(no_env())
            .with_scheduled_delay(Duration::from_secs(3600))
            .with_default_handler(false)
            .build()
            .expect("build")
    });
    batch.submit(spans(9)).expect("submit");
    let r = batch
        .flush_blocking(Duration::from_secs(5))
        .expect("not in a runtime");
    assert_eq!((r.sent, r.pending), (9, 0));
    let r = batch
        .shutdown_blocking(Duration::from_secs(5))
        .expect("clean shutdown");
    assert_eq!(r.sent, 9);
}

#[tokio::test]
async fn build_outside_runtime_is_an_error_and_bsp_variables_beat_builder_calls() {
    let rx = Receiver::start().await;
    let exp = otlp(&rx);
    let result = std::thread::spawn(move || BatchExporter::builder(exp).build().map(|_| ()))
        .join()
        .expect("join");
    assert!(matches!(
        result,
        Err(tracewire_otlp::batch::BatchBuildError::NoRuntime)
    ));

    // OTEL_BSP_MAX_QUEUE_SIZE sets the queue bound, over a builder call (variables beat
    // code, docs/configuration.md).
    let batch = BatchExporter::builder(otlp(&rx))
        .with_env_vars([
            ("OTEL_BSP_MAX_QUEUE_SIZE", "3"),
            ("OTEL_BSP_SCHEDULE_DELAY", "3600000"),
        ])
        .with_default_handler(false)
        .build()
        .expect("build");
    assert_eq!(batch.submit(spans(5)).expect("submit").dropped, 2);
    let batch2 = BatchExporter::builder(otlp(&rx))
        .with_env_vars([
            ("OTEL_BSP_MAX_QUEUE_SIZE", "3"),
            ("OTEL_BSP_SCHEDULE_DELAY", "3600000"),
        ])
        .with_max_queue_spans(4)
        .with_default_handler(false)
        .build()
        .expect("build");
    assert_eq!(batch2.submit(spans(5)).expect("submit").dropped, 2);
    let batch3 = BatchExporter::builder(otlp(&rx))
        .with_env_vars([("OTEL_BSP_SCHEDULE_DELAY", "3600000")])
        .with_max_queue_spans(4)
        .with_default_handler(false)
        .build()
        .expect("build");
    assert_eq!(batch3.submit(spans(5)).expect("submit").dropped, 1);
    let _ = batch3.shutdown(Duration::from_secs(5)).await;
    let _ = batch.shutdown(Duration::from_secs(5)).await;
    let _ = batch2.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn dropping_last_handle_shuts_down_in_background() {
    let rx = Receiver::start().await;
    let batch = BatchExporter::builder(otlp(&rx))
        .with_env_vars(no_env())
        .with_scheduled_delay(Duration::from_secs(3600))
        .with_default_handler(false)
        .build()
        .expect("build");
    batch.submit(spans(6)).expect("submit");
    let clone = batch.clone();
    drop(batch);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        rx.accepted_span_ids().len(),
        0,
        "a clone still holds the exporter"
    );
    drop(clone);
    for _ in 0..200 {
        if rx.accepted_span_ids().len() == 6 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(rx.accepted_span_ids().len(), 6);
}

#[tokio::test]
async fn partial_success_through_the_batch_counts_failed() {
    let rx = Receiver::start().await;
    rx.script([Reply::Partial {
        rejected: 3,
        message: "3 spans rejected".into(),
    }]);
    let batch = BatchExporter::builder(otlp(&rx))
        .with_env_vars(no_env())
        .with_scheduled_delay(Duration::from_secs(3600))
        .with_default_handler(false)
        .build()
        .expect("build");
    batch.submit(spans(10)).expect("submit");
    let r = batch.flush(Duration::from_secs(5)).await;
    assert_eq!((r.sent, r.failed, r.rejected, r.pending), (7, 3, 3, 0));
    assert!(r.is_consistent());
    assert!(
        matches!(
            batch.shutdown(Duration::from_secs(5)).await,
            Ok(report) if report.failed == 3
        ),
        "nothing failed during the final drain itself"
    );
}

#[tokio::test]
async fn bsp_export_timeout_env_sets_the_retry_window() {
    let rx = Receiver::start().await;
    rx.set_default(Reply::Status(503));
    // The exporter's own window is 60 s; OTEL_BSP_EXPORT_TIMEOUT=150 (ms) overrides it.
    let exporter = OtlpHttpExporter::builder()
        .with_env_vars(no_env())
        .with_endpoint(rx.endpoint())
        .with_retry(RetryPolicy::default().with_initial(Duration::from_millis(20)))
        .build()
        .expect("build exporter");
    let batch = BatchExporter::builder(exporter)
        .with_env_vars([
            ("OTEL_BSP_EXPORT_TIMEOUT", "150"),
            ("OTEL_BSP_SCHEDULE_DELAY", "3600000"),
        ])
        .with_default_handler(false)
        .build()
        .expect("build");
    batch.submit(spans(4)).expect("submit");
    let r = batch.flush(Duration::from_secs(10)).await;
    assert_eq!(
        (r.failed, r.pending),
        (4, 0),
        "gave up within the env window: {r:?}"
    );
    assert!(rx.request_count() >= 2, "retried inside the window");
    let _ = batch.shutdown(Duration::from_secs(1)).await;
}
