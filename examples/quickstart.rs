//! Quickstart: one trace crossing the places ordinary HTTP middleware does not reach.
//!
//! Everything runs in this process on 127.0.0.1:
//! 1. a client span calls an HTTP service (reqwest → `TraceContextLayer`),
//! 2. the handler puts its context on a queued event's metadata map, and a worker task
//!    continues the trace from it.
//!
//! Run with `cargo run --example quickstart`. It prints the trace id and, for each hop,
//! the parent span id that arrived on the wire.

use std::collections::HashMap;
use std::convert::Infallible;
use std::error::Error;
use std::net::SocketAddr;

use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use opentelemetry::trace::{
    FutureExt as _, SpanKind, TraceContextExt, Tracer, TracerProvider as _,
};
use opentelemetry::Context;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tower::{Layer as _, ServiceExt as _};
use tracewire_context::otel::{context_with, trace_context};
use tracewire_context::reqwest::RequestBuilderExt as _;
use tracewire_context::tower::TraceContextLayer;
use tracewire_context::TraceContext;

/// A queued event: a body plus string metadata, as on SQS, Kafka headers or a job table.
#[derive(Debug)]
struct Event {
    body: String,
    metadata: HashMap<String, String>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let provider = SdkTracerProvider::builder().build();
    let tracer = provider.tracer("quickstart");

    // The queue and its worker: continue the trace from the event's metadata.
    let (queue_tx, mut queue_rx) = mpsc::channel::<Event>(16);
    let worker_tracer = tracer.clone();
    let worker = tokio::spawn(async move {
        let event = queue_rx.recv().await?;
        let incoming = TraceContext::extract(&event.metadata);
        let parent = context_with(&Context::new(), &incoming);
        let span = worker_tracer
            .span_builder("process order")
            .with_kind(SpanKind::Consumer)
            .start_with_context(&worker_tracer, &parent);
        let cx = parent.with_span(span);
        println!(
            "queue hop   trace {}  parent {}  body {:?}",
            fmt_opt(incoming.trace_id()),
            fmt_opt(incoming.parent_id()),
            event.body
        );
        cx.span().end();
        Some(incoming)
    });

    // The HTTP service, behind the tower layer that extracts the caller's context.
    let addr = serve_http(tracer.clone(), queue_tx).await?;

    // The client: a root span, and a request carrying its context.
    let root = tracer
        .span_builder("quickstart")
        .with_kind(SpanKind::Client)
        .start(&tracer);
    let cx = Context::new().with_span(root);
    let trace_id = cx.span().span_context().trace_id();
    println!(
        "trace {trace_id:032x}  root span {}",
        cx.span().span_context().span_id()
    );
    let response = reqwest::Client::new()
        .post(format!("http://{addr}/orders"))
        .trace_context(&trace_context(&cx))
        .body("one coffee")
        .send()
        .with_context(cx.clone())
        .await?;
    println!("http reply  status {}", response.status());

    let continued = worker.await?.ok_or("the worker received no event")?;
    cx.span().end();
    let same = continued.trace_id().map(|t| t.to_bytes()) == Some(trace_id.to_bytes());
    println!("every hop on trace {trace_id:032x}: {same}");
    provider.shutdown()?;
    if same {
        Ok(())
    } else {
        Err("the trace was lost on the way".into())
    }
}

/// Serves one HTTP/1 connection at a time on 127.0.0.1 with `TraceContextLayer`; the
/// handler opens a server span and enqueues an event carrying its context.
async fn serve_http(
    tracer: SdkTracer,
    queue: mpsc::Sender<Event>,
) -> Result<SocketAddr, Box<dyn Error>> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let service =
        TraceContextLayer::new().layer(tower::service_fn(move |request: Request<Incoming>| {
            let tracer = tracer.clone();
            let queue = queue.clone();
            async move {
                let incoming = request
                    .extensions()
                    .get::<TraceContext>()
                    .cloned()
                    .unwrap_or_default();
                println!(
                    "http hop    trace {}  parent {}",
                    fmt_opt(incoming.trace_id()),
                    fmt_opt(incoming.parent_id())
                );
                // The layer runs this future inside the caller's context.
                let span = tracer
                    .span_builder("POST /orders")
                    .with_kind(SpanKind::Server)
                    .start(&tracer);
                let cx = Context::current().with_span(span);
                let mut metadata = HashMap::new();
                trace_context(&cx).inject(&mut metadata);
                let sent = queue
                    .send(Event {
                        body: "brew one coffee".to_owned(),
                        metadata,
                    })
                    .await;
                cx.span().end();
                let status = if sent.is_ok() { 202 } else { 503 };
                let mut response = Response::new(Full::new(bytes::Bytes::new()));
                *response.status_mut() = http::StatusCode::from_u16(status).unwrap_or_default();
                Ok::<_, Infallible>(response)
            }
        }));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let service = service.clone();
            tokio::spawn(async move {
                let hyper_service =
                    hyper::service::service_fn(move |request| service.clone().oneshot(request));
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), hyper_service)
                    .await;
            });
        }
    });
    Ok(addr)
}

fn fmt_opt<T: std::fmt::Display>(value: Option<T>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| v.to_string())
}
