//! Diagnostics (`docs/exporter.md#diagnostics`): slow handlers never slow exports, lost
//! events are counted, one `ExportError` per failed attempt and one `StatusReport` per
//! batch.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tracewire_otlp::batch::{BatchExporter, ExportEvent, EVENT_THREAD_NAME};
use tracewire_otlp::export::{ExportError, OtlpHttpExporter, RetryPolicy};
use tracewire_test_support::spans::spans;
use tracewire_test_support::{Receiver, Reply};

fn otlp(rx: &Receiver) -> OtlpHttpExporter {
    OtlpHttpExporter::builder()
        .with_env_vars(Vec::<(String, String)>::new())
        .with_endpoint(rx.endpoint())
        .with_retry(
            RetryPolicy::default()
                .with_initial(Duration::from_millis(10))
                .with_window(Duration::from_secs(5)),
        )
        .build()
        .expect("build exporter")
}

#[tokio::test]
async fn slow_handler_does_not_slow_exports_and_lost_events_are_counted() {
    let rx = Receiver::start().await;
    let handled = Arc::new(AtomicUsize::new(0));
    let thread_name = Arc::new(std::sync::Mutex::new(String::new()));
    let (h, t) = (Arc::clone(&handled), Arc::clone(&thread_name));
    let batch = BatchExporter::builder(otlp(&rx))
        .with_env_vars(Vec::<(String, String)>::new())
        .with_max_batch_spans(10)
        .with_event_capacity(2)
        .with_default_handler(false)
        .with_event_handler(move |_e: &ExportEvent| {
            if let Ok(mut name) = t.lock() {
                *name = std::thread::current().name().unwrap_or_default().to_owned();
            }
            std::thread::sleep(Duration::from_secs(1));
            h.fetch_add(1, Ordering::SeqCst);
        })
        .build()
        .expect("build");
    // 200 spans in batches of 10: 20 status reports, far more than the handler can take.
    for chunk in spans(200).chunks(10) {
        batch.submit(chunk.to_vec()).expect("submit");
    }
    let r = batch.flush(Duration::from_secs(5)).await;
    assert_eq!(
        (r.sent, r.pending),
        (200, 0),
        "exports finished while the handler sleeps"
    );
    assert!(
        handled.load(Ordering::SeqCst) < 20,
        "20 batches exported while the handler (1 s per event) handled only a few events"
    );
    assert!(batch.events_lost() > 0, "overflow is counted");
    let name = thread_name.lock().map(|n| n.clone()).unwrap_or_default();
    assert!(name.is_empty() || name == EVENT_THREAD_NAME, "{name}");
    // The last status report carries the loss count too (seen by a fresh subscriber).
    let mut events = batch.events();
    batch.submit(spans(1)).expect("submit");
    batch.flush(Duration::from_secs(5)).await;
    let mut lost_in_report = None;
    while let Ok(Some(e)) = tokio::time::timeout(Duration::from_secs(2), events.recv()).await {
        if let ExportEvent::StatusReport(s) = e {
            lost_in_report = Some(s.events_lost);
            break;
        }
    }
    assert!(lost_in_report.unwrap_or(0) > 0);
    drop(batch.shutdown(Duration::from_secs(1)).await);
}

#[tokio::test]
async fn one_export_error_per_failed_attempt_and_one_status_report_per_batch() {
    let rx = Receiver::start().await;
    rx.script([
        Reply::Status(503),
        Reply::Status(503),
        Reply::Ok,
        Reply::Status(500),
    ]);
    let batch = BatchExporter::builder(otlp(&rx))
        .with_env_vars(Vec::<(String, String)>::new())
        .with_scheduled_delay(Duration::from_secs(3600))
        .with_default_handler(false)
        .build()
        .expect("build");
    let mut events = batch.events();
    batch.submit(spans(4)).expect("submit");
    let r1 = batch.flush(Duration::from_secs(5)).await;
    assert_eq!(r1.sent, 4);
    batch.submit(spans(3)).expect("submit");
    let r2 = batch.flush(Duration::from_secs(5)).await;
    assert_eq!(r2.failed, 3);
    let _ = batch.shutdown(Duration::from_secs(1)).await;

    let mut errors = Vec::new();
    let mut reports = Vec::new();
    while let Ok(Some(e)) = tokio::time::timeout(Duration::from_secs(2), events.recv()).await {
        match e {
            ExportEvent::ExportError {
                error,
                retry,
                spans,
            } => errors.push((error, retry, spans)),
            ExportEvent::StatusReport(s) => reports.push(s),
            _ => {}
        }
    }
    assert_eq!(errors.len(), 3, "two retried 503s and one final 500");
    assert!(errors[0].1.will_retry && errors[1].1.will_retry);
    assert_eq!((errors[0].1.attempt, errors[1].1.attempt), (1, 2));
    assert!(matches!(
        *errors[0].0,
        ExportError::Status { code: 503, .. }
    ));
    assert!(!errors[2].1.will_retry);
    assert!(matches!(
        *errors[2].0,
        ExportError::Status { code: 500, .. }
    ));
    assert_eq!((errors[0].2, errors[2].2), (4, 3));
    assert_eq!(reports.len(), 2, "one status report per batch");
    assert_eq!(
        (reports[0].sent, reports[0].failed, reports[0].total_sent),
        (4, 0, 4)
    );
    assert_eq!(
        (reports[1].sent, reports[1].failed, reports[1].total_failed),
        (0, 3, 3)
    );
    assert!(reports[1].window_start >= reports[0].window_end);
}
