//! `OtlpHttpExporter` driven through the shared table of `OTEL_*` cases
//! (`tracewire_test_support::otel_env`), with the variables injected (the process
//! environment is never read or changed), against a real local OTLP receiver.

use tracewire_otlp::export::OtlpHttpExporter;
use tracewire_otlp::span::{Span, SpanId, SpanKind, TraceId};
use tracewire_test_support::otel_env::{base_url, CASES, DEAD_ENDPOINT};
use tracewire_test_support::Receiver;

const SPAN: &str = "env-table-span";

fn span() -> Span {
    Span::new(
        TraceId::from_u128(0x0af7651916cd43dd8448eb211c80319c),
        SpanId::from_u64(0xb7ad6b7169203331),
        SPAN,
        SpanKind::Server,
        1_700_000_000_000_000_000,
        1_700_000_000_250_000_000,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exporter_follows_the_env_table_with_injected_variables() {
    let mut failures = Vec::new();
    for case in CASES {
        let rx = Receiver::start().await;
        case.script(&rx);
        let base = base_url(&rx);
        // The endpoint set in code points nowhere: the variables must beat it.
        let exporter = OtlpHttpExporter::builder()
            .with_endpoint(DEAD_ENDPOINT)
            .with_env_vars(case.vars_for(&base))
            .build()
            .expect("the table's variables never fail a build");
        let report = exporter.export_report(&[span()]).await;
        let warnings: Vec<String> = exporter.warnings().iter().map(|w| w.to_string()).collect();
        let mut problems = case.check(&base, &rx.requests(), &warnings, SPAN);
        if let Some(ms) = case.expect.timeout_ms {
            if exporter.config().timeout != std::time::Duration::from_millis(ms) {
                problems.push(format!(
                    "timeout {:?}, want {ms} ms",
                    exporter.config().timeout
                ));
            }
        }
        if case.expect.exported {
            if !report.is_success() || report.outcome.sent != 1 {
                problems.push(format!("export failed: {report:?}"));
            }
        } else if !(report.is_success()
            && report.outcome.disabled == 1
            && report.outcome.sent == 0
            && exporter.is_disabled())
        {
            problems.push(format!(
                "disabled export must succeed sending nothing: {report:?}"
            ));
        }
        if !problems.is_empty() {
            failures.push(format!("{}: {problems:#?}", case.name));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[tokio::test]
async fn a_disabled_batch_exporter_counts_spans_as_disabled_and_shuts_down_ok() {
    let exporter = OtlpHttpExporter::builder()
        .with_env_vars([("OTEL_SDK_DISABLED", "true")])
        .build()
        .expect("build");
    let batch = tracewire_otlp::BatchExporter::builder(exporter)
        .with_env_vars(Vec::<(String, String)>::new())
        .build()
        .expect("batch");
    assert!(batch.is_disabled());
    let outcome = batch.submit([span(), span()]).expect("submit");
    assert_eq!((outcome.accepted, outcome.disabled), (0, 2));
    let report = batch
        .shutdown(std::time::Duration::from_secs(5))
        .await
        .expect("a disabled exporter shuts down cleanly");
    assert_eq!((report.submitted, report.disabled, report.sent), (2, 2, 0));
    assert!(report.is_consistent());
}

#[tokio::test]
async fn batch_settings_come_from_injected_bsp_variables_over_code() {
    let rx = Receiver::start().await;
    let exporter = OtlpHttpExporter::builder()
        .with_env_vars(Vec::<(String, String)>::new())
        .with_endpoint(rx.endpoint())
        .build()
        .expect("build");
    let batch = tracewire_otlp::BatchExporter::builder(exporter)
        .with_max_queue_spans(1000)
        .with_env_vars([
            ("OTEL_BSP_MAX_QUEUE_SIZE", "2"),
            ("OTEL_BSP_SCHEDULE_DELAY", "later"),
        ])
        .build()
        .expect("batch");
    let warnings: Vec<String> = batch.warnings().iter().map(|w| w.to_string()).collect();
    assert_eq!(
        warnings,
        ["OTEL_BSP_SCHEDULE_DELAY=\"later\": not a whole number of milliseconds; using 5000 ms (the default)"]
    );
    // The variable's queue of 2 beats the code's 1000: the third span is dropped.
    let outcome = batch.submit([span(), span(), span()]).expect("submit");
    assert_eq!((outcome.accepted, outcome.dropped), (2, 1));
    let report = batch
        .shutdown(std::time::Duration::from_secs(10))
        .await
        .expect("drained");
    assert_eq!(report.sent, 2);
}
