//! Two apps sending spans to a collector started in-process on a temporary socket:
//! one instrumented with `opentelemetry` + `TracewireSpanExporter`, one using the raw
//! `Emitter`. The assembled trees are printed at the end.
//!
//! ```text
//! cargo run -p tracewire-examples --example collector_emit
//! ```

use std::time::{Duration, Instant};

use opentelemetry::trace::{
    SpanKind as OtelKind, Status, TraceContextExt, Tracer, TracerProvider as _,
};
use opentelemetry::KeyValue;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tokio_util::sync::CancellationToken;
use tracewire_collector::emitter::Emitter;
use tracewire_collector::otel::TracewireSpanExporter;
use tracewire_collector::render::{render_tree, RenderOptions};
use tracewire_collector::server::Collector;
use tracewire_collector::{Limits, Status as SpanStatus, WireKind};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // 1. A collector on a temporary socket (short grace so the demo ends quickly).
    let dir = std::env::temp_dir().join(format!("tracewire-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let socket = dir.join("ingest.sock");
    let mut limits = Limits::default();
    limits.grace = Duration::from_millis(50);
    let bound = Collector::builder()
        .with_socket_path(&socket)
        .with_limits(limits)
        .bind()
        .await?;
    let collector = bound.handle();
    let stop = CancellationToken::new();
    let server = tokio::spawn(bound.serve_with_token(stop.clone()));

    // 2. An OpenTelemetry app: SimpleSpanProcessor + TracewireSpanExporter (no batching delay).
    let exporter = TracewireSpanExporter::new(Emitter::builder().with_socket_path(&socket).build());
    let provider = SdkTracerProvider::builder()
        .with_resource(
            Resource::builder_empty()
                .with_service_name("users-api")
                .build(),
        )
        .with_simple_exporter(exporter)
        .build();
    let tracer = provider.tracer("collector_emit");
    tracer.in_span("GET /users", |cx| {
        let _child = tracer
            .span_builder("SELECT users")
            .with_kind(OtelKind::Client)
            .with_attributes([KeyValue::new("db.query.text", "SELECT * FROM users")])
            .start_with_context(&tracer, &cx);
        cx.span().set_status(Status::Ok);
    });
    provider.shutdown()?;

    // 3. A raw Emitter app: go-trace style spans with a failing child.
    let emitter = Emitter::builder().with_socket_path(&socket).build();
    let root = emitter.enter("POST /orders", WireKind::Http, None);
    let auth = emitter.enter("AuthCheck", WireKind::Function, Some(&root.ids()));
    auth.end([("user", "42")], None);
    let sql = emitter.enter("SQL Query", WireKind::Sql, Some(&root.ids()));
    sql.end(
        [("query", "INSERT INTO orders")],
        Some(SpanStatus::error("deadlock detected")),
    );
    root.end(
        [("method", "POST"), ("path", "/orders"), ("status", "500")],
        None,
    );
    emitter.shutdown(Instant::now() + Duration::from_secs(5))?;

    // 4. Wait for both trees, stop the collector and print what it assembled.
    for _ in 0..200 {
        if collector.snapshot().len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.cancel();
    let report = server.await??;
    for trace in collector.snapshot() {
        print!("{}", render_tree(&trace, &RenderOptions::plain()));
    }
    println!(
        "{} spans, {} traces, {} rejected lines",
        report.stats.assembly.completed,
        report.stats.assembly.traces_emitted,
        report.stats.ingest.counts.rejected()
    );
    std::fs::remove_dir_all(&dir).ok();
    Ok(())
}
