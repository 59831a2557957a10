//! Convert a recorded agent session and export it over OTLP/HTTP with the batching
//! exporter, then print exactly what happened.
//!
//! ```text
//! cargo run -p tracewire-examples --example session_export [FILE]
//! ```
//!
//! With `OTEL_EXPORTER_OTLP_ENDPOINT` (or `..._TRACES_ENDPOINT`) set, spans go there
//! (e.g. an OpenTelemetry Collector or Jaeger on :4318). Otherwise the example starts a
//! tiny OTLP receiver on 127.0.0.1 so it runs anywhere.

use std::convert::Infallible;
use std::fs::File;
use std::io::BufReader;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use tracewire_otlp::batch::{BatchExporter, ExportEvent, Overflow};
use tracewire_otlp::export::OtlpHttpExporter;
use tracewire_otlp::resource::Resource;
use tracewire_session::convert::{ConvertOptions, Converter};
use tracewire_session::event::group_by_session;
use tracewire_session::read::{read_jsonl, ReadOptions};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/data/session.jsonl").to_owned());

    // 1. Read and convert every session of the recording.
    let mut reader = read_jsonl(BufReader::new(File::open(&path)?), ReadOptions::default());
    let events: Vec<_> = reader.by_ref().filter_map(Result::ok).collect();
    println!(
        "read {} events ({} malformed lines skipped)",
        events.len(),
        reader.stats().malformed
    );
    let converter = Converter::new(ConvertOptions::default());
    let spans: Vec<_> = group_by_session(events)
        .iter()
        .flat_map(|(id, events)| converter.convert_session(id, events).spans)
        .collect();

    // 2. Where to send: the configured endpoint, else a local receiver.
    let configured = [
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
    ]
    .iter()
    .any(|k| std::env::var(k).is_ok_and(|v| !v.is_empty()));
    let mut builder = OtlpHttpExporter::builder().with_resource(
        tracewire_session::identity::with_pack_id(Resource::from_env(), "example-pack"),
    );
    let received = Arc::new(AtomicU64::new(0));
    if !configured {
        let endpoint = local_receiver(Arc::clone(&received)).await?;
        println!("no OTLP endpoint configured; using a local receiver at {endpoint}");
        builder = builder.with_endpoint(endpoint);
    }

    // 3. Batch, export, and watch the diagnostics.
    let batch = BatchExporter::builder(builder.build()?)
        .with_overflow(Overflow::Wait)
        .with_scheduled_delay(Duration::from_millis(200))
        .build()?;
    let mut events = batch.events();
    let watcher = tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            match event {
                ExportEvent::StatusReport(r) => println!(
                    "batch: sent={} failed={} queued={}",
                    r.sent, r.failed, r.queued
                ),
                ExportEvent::ExportError { error, retry, .. } => {
                    println!("attempt {} failed: {error}", retry.attempt)
                }
                ExportEvent::Dropped { count, reason, .. } => {
                    println!("dropped {count} ({reason})")
                }
                _ => {}
            }
        }
    });
    batch.submit_wait(spans).await?;
    let result = batch.shutdown(Duration::from_secs(30)).await;
    let _ = watcher.await;
    match result {
        Ok(r) => println!(
            "done: sent={} dropped={} failed={} pending={}",
            r.sent, r.dropped, r.failed, r.pending
        ),
        Err(e) => println!("export did not fully succeed: {e}"),
    }
    if !configured {
        println!(
            "the local receiver got {} request(s)",
            received.load(Ordering::SeqCst)
        );
    }
    Ok(())
}

/// A minimal OTLP/HTTP receiver that accepts everything (for running the example anywhere).
async fn local_receiver(requests: Arc<AtomicU64>) -> std::io::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let requests = Arc::clone(&requests);
            tokio::spawn(async move {
                let svc =
                    hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        let requests = Arc::clone(&requests);
                        async move {
                            let _ = req.into_body().collect().await;
                            requests.fetch_add(1, Ordering::SeqCst);
                            Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::new())))
                        }
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    Ok(format!("http://{addr}/v1/traces"))
}
