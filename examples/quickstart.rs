//! Quickstart: one trace crossing the places ordinary HTTP middleware does not reach.
//!
//! Everything runs in this process, on 127.0.0.1 and a temporary Unix socket:
//! 1. a client span calls an HTTP service (reqwest → `TraceContextLayer`);
//! 2. the handler sends a WebSocket message to a traced echo server (`tracewire-ws`);
//! 3. it puts the context on a queued event's metadata map, and a worker task continues
//!    the trace from it;
//! 4. the worker converts a recorded agent session into spans under its own span
//!    (`tracewire-session`);
//! 5. every span goes to an in-process collector (`tracewire-collector`), and the
//!    assembled tree is printed at the end.
//!
//! With `OTEL_EXPORTER_OTLP_ENDPOINT` set, the same spans also go to that OTLP/HTTP
//! endpoint (an OpenTelemetry Collector, Jaeger, Tempo).
//!
//! Run with `cargo run --example quickstart`.

use std::collections::HashMap;
use std::convert::Infallible;
use std::error::Error;
use std::fs::File;
use std::io::BufReader;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use opentelemetry::trace::{SpanKind, TraceContextExt, Tracer, TracerProvider as _};
use opentelemetry::Context;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider, SpanExporter as _};
use opentelemetry_sdk::Resource as SdkResource;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tower::{Layer as _, ServiceExt as _};
use tracewire_collector::emitter::Emitter;
use tracewire_collector::otel::TracewireSpanExporter;
use tracewire_collector::server::Collector;
use tracewire_collector::{render_tree, Limits, RenderOptions};
use tracewire_context::otel::{context_with, trace_context};
use tracewire_context::reqwest::RequestBuilderExt as _;
use tracewire_context::tower::TraceContextLayer;
use tracewire_context::TraceContext;
use tracewire_otlp::sdk::to_span_data;
use tracewire_otlp::OtlpHttpExporter;
use tracewire_session::read::{read_jsonl, ReadOptions};
use tracewire_session::{ConvertOptions, Converter, Span};

type BoxError = Box<dyn Error + Send + Sync>;

/// A queued event: a body plus string metadata, as on SQS, Kafka headers or a job table.
#[derive(Debug)]
struct Event {
    body: String,
    metadata: HashMap<String, String>,
}

/// What the worker hands back: the context it continued and the session's spans.
#[derive(Debug)]
struct WorkerResult {
    incoming: TraceContext,
    session_spans: Vec<Span>,
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    // The collector every hop reports to, on a private temporary socket.
    let dir = std::env::temp_dir().join(format!("tracewire-quickstart-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let socket = dir.join("ingest.sock");
    let mut limits = Limits::default();
    limits.grace = Duration::from_millis(100);
    let bound = Collector::builder()
        .with_socket_path(&socket)
        .with_limits(limits)
        .bind()
        .await?;
    let collector = bound.handle();
    let stop = CancellationToken::new();
    let server = tokio::spawn(bound.serve_with_token(stop.clone()));

    // Spans go to the collector as they end, and to OTLP when an endpoint is configured.
    let otlp = otlp_from_env()?;
    let mut builder = SdkTracerProvider::builder()
        .with_resource(
            SdkResource::builder_empty()
                .with_service_name("quickstart")
                .build(),
        )
        .with_simple_exporter(TracewireSpanExporter::new(emitter(&socket)));
    if let Some(otlp) = &otlp {
        builder = builder.with_batch_exporter(otlp.clone());
    }
    let provider = builder.build();
    let tracer = provider.tracer("quickstart");

    let ws_addr = serve_ws_echo(provider.clone()).await?;
    let (queue_tx, queue_rx) = mpsc::channel::<Event>(16);
    let worker = tokio::spawn(work(tracer.clone(), queue_rx));
    let http_addr = serve_http(tracer.clone(), provider.clone(), ws_addr, queue_tx).await?;

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
        .post(format!("http://{http_addr}/orders"))
        .with_trace_context(&trace_context(&cx))
        .body("one coffee")
        .send()
        .await?;
    println!("http reply  status {}", response.status());
    let done = worker.await??;
    cx.span().end();

    // The session's spans were converted from a recording, not started live: hand them
    // to the collector (and OTLP) directly.
    let session_exporter = TracewireSpanExporter::new(emitter(&socket));
    let scope = tracewire_session::identity::scope();
    session_exporter
        .export(
            done.session_spans
                .iter()
                .map(|s| to_span_data(s, &scope))
                .collect(),
        )
        .await?;
    session_exporter.shutdown_with_timeout(Duration::from_secs(5))?;
    if let Some(otlp) = &otlp {
        let outcome = otlp.export(&done.session_spans).await?;
        println!("otlp        sent {} session spans", outcome.sent);
    }
    provider.shutdown()?;

    // 7 live spans (client, HTTP server, 2 sends + 2 receives on the WebSocket, worker)
    // plus the session's.
    let expected = 7 + done.session_spans.len();
    let tree = wait_for_tree(&collector, trace_id.to_bytes(), expected).await;
    stop.cancel();
    server.await??;
    std::fs::remove_dir_all(&dir).ok();

    let same = done.incoming.trace_id().map(|t| t.to_bytes()) == Some(trace_id.to_bytes());
    println!("every hop on trace {trace_id:032x}: {same}\n");
    match tree {
        Some(trace) => print!("{}", render_tree(&trace, &RenderOptions::plain())),
        None => return Err("the collector did not assemble the whole trace in time".into()),
    }
    if same {
        Ok(())
    } else {
        Err("the trace was lost on the way".into())
    }
}

/// An app-side emitter for the collector's socket.
fn emitter(socket: &Path) -> Emitter {
    Emitter::builder().with_socket_path(socket).build()
}

/// The OTLP/HTTP exporter, only when `OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT` is set.
fn otlp_from_env() -> Result<Option<OtlpHttpExporter>, BoxError> {
    let configured = [
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
    ]
    .iter()
    .any(|k| std::env::var(k).is_ok_and(|v| !v.is_empty()));
    if !configured {
        return Ok(None);
    }
    Ok(Some(OtlpHttpExporter::builder().build()?))
}

/// Waits (at most 5 s) until the collector holds the trace with `expected` spans.
async fn wait_for_tree(
    collector: &Collector,
    trace_id: [u8; 16],
    expected: usize,
) -> Option<tracewire_collector::Trace> {
    let id =
        tracewire_collector::WireTraceId::W3c(tracewire_context::TraceId::from_bytes(trace_id));
    for _ in 0..100 {
        if let Some(trace) = collector.trace(&id) {
            if trace.root.node_count() >= expected {
                return Some(trace);
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

/// A traced WebSocket echo server: each message goes back with the received context,
/// so the reply continues the sender's trace.
async fn serve_ws_echo(provider: SdkTracerProvider) -> Result<SocketAddr, BoxError> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let options = tracewire_ws::Options::default().with_tracer_provider(provider);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let Ok(mut ws) = tracewire_ws::accept(tcp, options.clone()).await else {
                continue;
            };
            tokio::spawn(async move {
                while let Some(Ok(received)) = ws.recv().await {
                    let (cx, message) = received.into_parts();
                    if message.is_close() || ws.send(&cx, message).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    Ok(addr)
}

/// The HTTP service behind `TraceContextLayer`: opens a server span, makes a WebSocket
/// round trip, and enqueues an event carrying the context.
async fn serve_http(
    tracer: SdkTracer,
    provider: SdkTracerProvider,
    ws_addr: SocketAddr,
    queue: mpsc::Sender<Event>,
) -> Result<SocketAddr, BoxError> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let service =
        TraceContextLayer::new().layer(tower::service_fn(move |request: Request<Incoming>| {
            let (tracer, provider, queue) = (tracer.clone(), provider.clone(), queue.clone());
            async move {
                let status = match handle_order(&request, &tracer, provider, ws_addr, &queue).await
                {
                    Ok(()) => 202,
                    Err(error) => {
                        eprintln!("handler failed: {error}");
                        500
                    }
                };
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

async fn handle_order(
    request: &Request<Incoming>,
    tracer: &SdkTracer,
    provider: SdkTracerProvider,
    ws_addr: SocketAddr,
    queue: &mpsc::Sender<Event>,
) -> Result<(), BoxError> {
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
        .start(tracer);
    let cx = Context::current().with_span(span);

    // WebSocket hop: the reply's context continues the trace through the echo server.
    let options = tracewire_ws::Options::default().with_tracer_provider(provider);
    let (mut ws, _) = tracewire_ws::connect(format!("ws://{ws_addr}/"), options).await?;
    ws.send(&cx, tracewire_ws::Message::text(r#"{"op":"brew"}"#))
        .await?;
    let reply = ws.recv().await.ok_or("websocket closed")??;
    println!(
        "ws hop      trace {}  parent {}  reply {:?}",
        fmt_opt(reply.remote_span_context().map(|s| s.trace_id())),
        fmt_opt(reply.remote_span_context().map(|s| s.span_id())),
        reply.message().to_text().unwrap_or_default()
    );
    ws.close(None).await?;

    // Queue hop: the event carries the context in its metadata.
    let mut metadata = HashMap::new();
    trace_context(&cx).inject(&mut metadata);
    queue
        .send(Event {
            body: "brew one coffee".to_owned(),
            metadata,
        })
        .await?;
    cx.span().end();
    Ok(())
}

/// The worker: continues the trace from the event, then converts the agent session it
/// "ran" into spans under its own span.
async fn work(
    tracer: SdkTracer,
    mut queue: mpsc::Receiver<Event>,
) -> Result<WorkerResult, BoxError> {
    let event = queue.recv().await.ok_or("the queue closed")?;
    let incoming = TraceContext::extract(&event.metadata);
    println!(
        "queue hop   trace {}  parent {}  body {:?}",
        fmt_opt(incoming.trace_id()),
        fmt_opt(incoming.parent_id()),
        event.body
    );
    let parent = context_with(&Context::new(), &incoming);
    let span = tracer
        .span_builder("process order")
        .with_kind(SpanKind::Consumer)
        .start_with_context(&tracer, &parent);
    let cx = parent.with_span(span);

    let session_spans = convert_session(&trace_context(&cx))?;
    println!(
        "session hop {} spans from examples/data/session.jsonl, under parent {}",
        session_spans.len(),
        cx.span().span_context().span_id()
    );
    cx.span().end();
    Ok(WorkerResult {
        incoming,
        session_spans,
    })
}

/// Converts the first session of the sample recording under `parent`.
fn convert_session(parent: &TraceContext) -> Result<Vec<Span>, BoxError> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/session.jsonl");
    let events: Vec<_> = read_jsonl(BufReader::new(File::open(&path)?), ReadOptions::default())
        .filter_map(Result::ok)
        .collect();
    let sessions = tracewire_session::event::group_by_session(events);
    let (id, events) = sessions
        .iter()
        .next()
        .ok_or("the sample recording has no session")?;
    let conversion =
        Converter::new(ConvertOptions::default()).convert_session_with_parent(id, events, parent);
    Ok(conversion.spans)
}

fn fmt_opt<T: std::fmt::Display>(value: Option<T>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| v.to_string())
}
