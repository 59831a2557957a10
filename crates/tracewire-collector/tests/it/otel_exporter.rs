//! `TracewireSpanExporter` (`docs/collector.md#emitter`) under `SimpleSpanProcessor` and
//! the thread-based `BatchSpanProcessor`, without tokio on the app side, delivers 32-hex
//! ids, kinds and status; a failed final flush makes `shutdown` return `Err`.
#![cfg(all(feature = "otel", feature = "server"))]

use std::path::PathBuf;
use std::time::Duration;

use opentelemetry::trace::{
    Span, SpanKind as OtelKind, Status as OtelStatus, TraceContextExt, Tracer, TracerProvider as _,
};
use opentelemetry::KeyValue;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanExporter};
use opentelemetry_sdk::Resource;
use tokio_util::sync::CancellationToken;
use tracewire_collector::assemble::Limits;
use tracewire_collector::emitter::Emitter;
use tracewire_collector::model::{StatusCode, Trace, WireKind, WireTraceId};
use tracewire_collector::otel::TracewireSpanExporter;
use tracewire_collector::server::Collector;

/// A collector on its own thread and runtime (the test thread has no tokio runtime).
struct BackgroundCollector {
    _dir: tempfile::TempDir,
    path: PathBuf,
    collector: Collector,
    token: CancellationToken,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl BackgroundCollector {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.sock");
        let (tx, rx) = std::sync::mpsc::channel();
        let token = CancellationToken::new();
        let t = token.clone();
        let p = path.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let mut limits = Limits::default();
                limits.grace = Duration::from_millis(20);
                let bound = Collector::builder()
                    .with_socket_path(&p)
                    .with_limits(limits)
                    .bind()
                    .await
                    .unwrap();
                tx.send(bound.handle()).unwrap();
                bound.serve_with_token(t).await.unwrap();
            });
        });
        let collector = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        Self {
            _dir: dir,
            path,
            collector,
            token,
            thread: Some(thread),
        }
    }

    fn wait_trace(&self, spans: usize) -> Trace {
        for _ in 0..1000 {
            if let Some(t) = self
                .collector
                .snapshot()
                .into_iter()
                .find(|t| t.span_count() == spans)
            {
                return t;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("no trace with {spans} spans");
    }
}

impl Drop for BackgroundCollector {
    fn drop(&mut self) {
        self.token.cancel();
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

fn emit_trace(provider: &SdkTracerProvider) -> opentelemetry::trace::TraceId {
    let tracer = provider.tracer("test");
    let root = tracer
        .span_builder("GET /users")
        .with_kind(OtelKind::Server)
        .start(&tracer);
    let trace_id = root.span_context().trace_id();
    let cx = opentelemetry::Context::current_with_span(root);
    {
        let mut child = tracer
            .span_builder("SELECT users")
            .with_kind(OtelKind::Client)
            .with_attributes([
                KeyValue::new("db.rows", 3i64),
                KeyValue::new(
                    "tags",
                    opentelemetry::Value::Array(
                        vec!["a", "b"]
                            .into_iter()
                            .map(opentelemetry::StringValue::from)
                            .collect::<Vec<_>>()
                            .into(),
                    ),
                ),
            ])
            .start_with_context(&tracer, &cx);
        child.set_status(OtelStatus::error("deadlock"));
        child.end();
    }
    cx.span().end();
    trace_id
}

fn check(trace: &Trace, otel_trace_id: opentelemetry::trace::TraceId) {
    let expected = u128::from_be_bytes(otel_trace_id.to_bytes());
    assert_eq!(trace.trace_id, WireTraceId::w3c(expected));
    assert_eq!(trace.trace_id.to_string().len(), 32);
    assert!(!trace.partial);
    assert_eq!(trace.root.span.name, "GET /users");
    assert_eq!(trace.root.span.kind, WireKind::Server);
    assert_eq!(
        trace
            .root
            .span
            .attrs
            .get("service.name")
            .map(String::as_str),
        Some("otel-test")
    );
    let child = &trace.root.children[0].span;
    assert_eq!(child.name, "SELECT users");
    assert_eq!(child.kind, WireKind::Client);
    assert_eq!(child.status.code, StatusCode::Error);
    assert_eq!(child.status.message, "deadlock");
    assert_eq!(child.attrs.get("db.rows").map(String::as_str), Some("3"));
    assert_eq!(
        child.attrs.get("tags").map(String::as_str),
        Some("[\"a\",\"b\"]")
    );
}

fn resource() -> Resource {
    Resource::builder_empty()
        .with_service_name("otel-test")
        .build()
}

#[test]
fn simple_span_processor_without_tokio_delivers_ids_kinds_status() {
    let c = BackgroundCollector::start();
    let exporter = TracewireSpanExporter::new(Emitter::builder().with_socket_path(&c.path).build());
    let provider = SdkTracerProvider::builder()
        .with_resource(resource())
        .with_simple_exporter(exporter)
        .build();
    let id = emit_trace(&provider);
    provider.force_flush().unwrap();
    provider.shutdown().unwrap();
    check(&c.wait_trace(2), id);
}

#[test]
fn thread_based_batch_span_processor_delivers_ids_kinds_status() {
    let c = BackgroundCollector::start();
    let exporter = TracewireSpanExporter::new(Emitter::builder().with_socket_path(&c.path).build());
    let provider = SdkTracerProvider::builder()
        .with_resource(resource())
        .with_batch_exporter(exporter)
        .build();
    let id = emit_trace(&provider);
    provider.shutdown().unwrap();
    check(&c.wait_trace(2), id);
}

#[test]
fn failed_final_flush_makes_shutdown_err() {
    let dir = tempfile::tempdir().unwrap();
    let exporter = TracewireSpanExporter::new(
        Emitter::builder()
            .with_socket_path(dir.path().join("none.sock"))
            .build(),
    );
    let provider = SdkTracerProvider::builder()
        .with_resource(resource())
        .with_simple_exporter(exporter)
        .build();
    emit_trace(&provider);
    // The two spans cannot be delivered: the final flush fails, so shutdown is Err.
    assert!(provider
        .shutdown_with_timeout(Duration::from_millis(100))
        .is_err());
    // With nothing queued, shutdown succeeds even without a collector.
    let idle = TracewireSpanExporter::new(
        Emitter::builder()
            .with_socket_path(dir.path().join("none.sock"))
            .build(),
    );
    assert!(idle
        .shutdown_with_timeout(Duration::from_millis(20))
        .is_ok());
}
