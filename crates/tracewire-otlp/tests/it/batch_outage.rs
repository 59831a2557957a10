//! Zero loss through a receiver outage (`docs/exporter.md#retry`,
//! `docs/exporter.md#accounting-invariant`): 503s or refused connections for 3 s, then
//! recovery; every span submitted during the outage arrives exactly once.

use std::collections::BTreeSet;
use std::time::Duration;

use tracewire_otlp::batch::{BatchExporter, Overflow};
use tracewire_otlp::export::{OtlpHttpExporter, RetryPolicy};
use tracewire_test_support::spans::{id_of, spans};
use tracewire_test_support::{Receiver, Reply};

const SPANS: usize = 1000;

fn batch_for(rx: &Receiver) -> BatchExporter {
    let exporter = OtlpHttpExporter::builder()
        .with_env_vars(Vec::<(String, String)>::new())
        .with_endpoint(rx.endpoint())
        .with_retry(
            RetryPolicy::default()
                .with_initial(Duration::from_millis(100))
                .with_max_backoff(Duration::from_millis(500)),
        )
        .build()
        .expect("build exporter");
    BatchExporter::builder(exporter)
        .with_env_vars(Vec::<(String, String)>::new())
        .with_max_batch_spans(100)
        .with_scheduled_delay(Duration::from_millis(50))
        .with_overflow(Overflow::Wait)
        .build()
        .expect("build batch")
}

async fn submit_during_outage(batch: &BatchExporter) {
    // Spread the submissions over the outage.
    for chunk in spans(SPANS).chunks(100) {
        batch.submit_wait(chunk.to_vec()).await.expect("accepted");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn assert_exactly_once(rx: &Receiver) {
    let ids = rx.accepted_span_ids();
    let unique: BTreeSet<_> = ids.iter().cloned().collect();
    assert_eq!(ids.len(), SPANS, "no duplicates");
    assert_eq!(
        unique,
        (0..SPANS).map(id_of).collect::<BTreeSet<_>>(),
        "no loss"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_loss_through_a_503_outage() {
    let rx = Receiver::start().await;
    rx.set_default(Reply::Status(503));
    let batch = batch_for(&rx);
    let outage = tokio::time::Instant::now();
    submit_during_outage(&batch).await;
    tokio::time::sleep_until(outage + Duration::from_secs(3)).await;
    rx.set_default(Reply::Ok);
    let report = batch
        .shutdown(Duration::from_secs(30))
        .await
        .expect("clean shutdown");
    assert_eq!(
        (report.sent, report.dropped, report.failed, report.pending),
        (SPANS as u64, 0, 0, 0)
    );
    assert!(
        rx.requests()
            .iter()
            .any(|r| r.reply.starts_with("status 503")),
        "the outage was seen"
    );
    assert_exactly_once(&rx);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_loss_through_refused_connections() {
    let rx = Receiver::start().await;
    rx.refuse().await;
    let batch = batch_for(&rx);
    let outage = tokio::time::Instant::now();
    submit_during_outage(&batch).await;
    tokio::time::sleep_until(outage + Duration::from_secs(3)).await;
    rx.resume().await;
    let report = batch
        .shutdown(Duration::from_secs(30))
        .await
        .expect("clean shutdown");
    assert_eq!(
        (report.sent, report.dropped, report.failed, report.pending),
        (SPANS as u64, 0, 0, 0)
    );
    assert_exactly_once(&rx);
}
