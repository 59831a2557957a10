//! `OtlpHttpExporter` as an `opentelemetry_sdk` exporter behind the SDK's thread-based
//! batch processor, with and without a Tokio runtime (`docs/exporter.md#opentelemetry-sdk`).

use std::time::Duration;

use opentelemetry::trace::{Tracer, TracerProvider as _};
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanExporter};
use tracewire_otlp::export::OtlpHttpExporter;
use tracewire_test_support::Receiver;

fn receiver_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime")
}

fn emit_and_flush(provider: &SdkTracerProvider, n: usize) {
    let tracer = provider.tracer("sdk-test");
    for i in 0..n {
        tracer.in_span(format!("op-{i}"), |_cx| {});
    }
    provider.force_flush().expect("force_flush succeeds");
}

fn wait_for(rx: &Receiver, spans: usize) -> usize {
    for _ in 0..200 {
        let n = rx.accepted_span_ids().len();
        if n >= spans {
            return n;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    rx.accepted_span_ids().len()
}

#[test]
fn sdk_batch_processor_exports_without_a_runtime() {
    let rt = receiver_runtime();
    let rx = rt.block_on(Receiver::start());
    // Built outside any runtime: exports run on the exporter's own runtime thread.
    assert!(tokio::runtime::Handle::try_current().is_err());
    let exporter = OtlpHttpExporter::builder()
        .with_env_vars(Vec::<(String, String)>::new())
        .with_endpoint(rx.endpoint())
        .build()
        .expect("build");
    let provider = SdkTracerProvider::builder()
        .with_resource(
            opentelemetry_sdk::Resource::builder_empty()
                .with_service_name("sdk-svc")
                .build(),
        )
        .with_batch_exporter(exporter)
        .build();
    emit_and_flush(&provider, 7);
    assert_eq!(wait_for(&rx, 7), 7);
    // The SDK's resource (set_resource) is the one sent.
    let reqs = rx.requests();
    let res = reqs[0]
        .request
        .as_ref()
        .and_then(|r| r.resource_spans[0].resource.clone())
        .expect("resource");
    assert!(res
        .attributes
        .iter()
        .any(|kv| kv.key == "service.name" && format!("{:?}", kv.value).contains("sdk-svc")));
    provider.shutdown().expect("shutdown");
    drop(rx);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_batch_processor_exports_inside_a_runtime() {
    let rx = Receiver::start().await;
    let exporter = OtlpHttpExporter::builder()
        .with_env_vars(Vec::<(String, String)>::new())
        .with_endpoint(rx.endpoint())
        .build()
        .expect("build");
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .build();
    let p = provider.clone();
    tokio::task::spawn_blocking(move || emit_and_flush(&p, 5))
        .await
        .expect("join");
    let mut n = 0;
    for _ in 0..200 {
        n = rx.accepted_span_ids().len();
        if n >= 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(n, 5);
    tokio::task::spawn_blocking(move || provider.shutdown())
        .await
        .expect("join")
        .expect("shutdown");
}

#[tokio::test]
async fn sdk_export_errors_become_internal_failure_then_already_shutdown() {
    let rx = Receiver::start().await;
    rx.set_default(tracewire_test_support::Reply::Status(500));
    let exporter = OtlpHttpExporter::builder()
        .with_env_vars(Vec::<(String, String)>::new())
        .with_endpoint(rx.endpoint())
        .build()
        .expect("build");
    let span = tracewire_otlp::sdk::to_span_data(
        &tracewire_test_support::spans::spans(1)[0],
        &Default::default(),
    );
    let err = SpanExporter::export(&exporter, vec![span.clone()]).await;
    assert!(
        matches!(err, Err(opentelemetry_sdk::error::OTelSdkError::InternalFailure(ref m)) if m.contains("500")),
        "{err:?}"
    );
    assert!(exporter.force_flush().is_ok());
    assert!(exporter
        .shutdown_with_timeout(Duration::from_secs(1))
        .is_ok());
    assert!(matches!(
        SpanExporter::export(&exporter, vec![span]).await,
        Err(opentelemetry_sdk::error::OTelSdkError::AlreadyShutdown)
    ));
}
