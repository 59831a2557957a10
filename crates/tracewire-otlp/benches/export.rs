//! Export throughput (spans/s): `BatchExporter` + `OtlpHttpExporter` next to
//! opentelemetry-otlp's HTTP exporter behind the SDK's `BatchSpanProcessor`, with the same
//! spans, the same local receiver (hyper on 127.0.0.1, decoding every request with
//! opentelemetry-proto), the same batch size (512) and queue (no drops at this load), one
//! export in flight, and HTTP/protobuf without compression on both sides.
//!
//! One iteration submits `SPANS` spans and waits until all are exported (flush).
//!
//! Run: `cargo bench -p tracewire-otlp --bench export -- --warm-up-time 1 --measurement-time 3`

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::trace::{BatchConfigBuilder, BatchSpanProcessor, SpanData, SpanProcessor};
use tracewire_otlp::batch::{BatchExporter, Overflow};
use tracewire_otlp::export::OtlpHttpExporter;
use tracewire_otlp::resource::Resource;
use tracewire_otlp::resource::Scope;
use tracewire_otlp::sdk::to_span_data;
use tracewire_otlp::span::Span;

const SPANS: usize = 10_000;
const BATCH: usize = 512;
const QUEUE: usize = 2 * SPANS;

fn export_throughput(c: &mut Criterion) {
    // The receiver runs on its own runtime threads, shared by both contenders.
    let receiver_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("receiver runtime");
    let rx = receiver_rt.block_on(tracewire_test_support::Receiver::start());
    rx.set_record(false);
    let endpoint = rx.endpoint();

    let spans: Vec<Span> = tracewire_test_support::spans::spans(SPANS);
    let span_data: Vec<SpanData> = spans
        .iter()
        .map(|s| to_span_data(s, &Scope::default()))
        .collect();

    let mut group = c.benchmark_group("export");
    group.throughput(Throughput::Elements(SPANS as u64));
    group.sample_size(10);

    // tracewire: BatchExporter + OtlpHttpExporter on a Tokio runtime.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let batch = rt.block_on(async {
        let exporter = OtlpHttpExporter::builder()
            .with_endpoint(endpoint.clone())
            .with_resource(Resource::empty().with_attribute("service.name", "promptkit"))
            .build()
            .expect("exporter");
        BatchExporter::builder(exporter)
            .with_max_queue_spans(QUEUE)
            .with_max_batch_spans(BATCH)
            .with_overflow(Overflow::DropNewest)
            .build()
            .expect("batch")
    });
    group.bench_function("tracewire_batch_otlp_http", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let input = spans.clone();
                let start = Instant::now();
                let report = rt.block_on(async {
                    let outcome = batch.submit(input).expect("submit");
                    assert_eq!(outcome.dropped, 0, "no drops at this load");
                    batch.flush(Duration::from_secs(60)).await
                });
                total += start.elapsed();
                assert_eq!((report.pending, report.dropped, report.failed), (0, 0, 0));
            }
            total
        })
    });

    // opentelemetry-otlp HTTP (blocking reqwest, as the thread-based processor needs)
    // behind the SDK's BatchSpanProcessor.
    let client = reqwest::blocking::Client::new();
    let otel_exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(endpoint.clone())
        .with_http_client(client)
        .build()
        .expect("otlp exporter");
    let processor = BatchSpanProcessor::builder(otel_exporter)
        .with_batch_config(
            BatchConfigBuilder::default()
                .with_max_queue_size(QUEUE)
                .with_max_export_batch_size(BATCH)
                .build(),
        )
        .build();
    group.bench_function("otel_sdk_bsp_otlp_http", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let input = span_data.clone();
                let start = Instant::now();
                for s in input {
                    processor.on_end(s);
                }
                processor.force_flush().expect("force_flush");
                total += start.elapsed();
            }
            total
        })
    });
    group.finish();

    let _ = processor.shutdown();
    let report = rt.block_on(batch.shutdown(Duration::from_secs(30)));
    if let Ok(r) = report {
        assert_eq!((r.dropped, r.failed), (0, 0));
    }
    eprintln!("receiver decoded {} spans in total", rx.spans_received());
}

criterion_group!(benches, export_throughput);
criterion_main!(benches);
