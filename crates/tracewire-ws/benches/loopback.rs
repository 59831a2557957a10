//! Client and echo server over 127.0.0.1 (spec §7): raw tokio-tungstenite vs traced (no-op
//! provider; SDK provider with a no-op exporter and always-on sampling), Seed and OtelWs,
//! at 64 B, 1 KiB and 64 KiB. Criterion reports messages/s with 64 in flight; p50/p99
//! ping-pong latency is printed first. Both ends are traced in the traced variants.

use std::future::Future;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider, SpanData, SpanExporter};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;
use tracewire_ws::{Format, Message, Options};

const WINDOW: u64 = 64;
const SIZES: [usize; 3] = [64, 1024, 64 * 1024];

#[derive(Debug)]
struct NoopExporter;

impl SpanExporter for NoopExporter {
    fn export(&self, batch: Vec<SpanData>) -> impl Future<Output = OTelSdkResult> + Send {
        drop(batch);
        async { Ok(()) }
    }
}

fn sdk_provider() -> SdkTracerProvider {
    SdkTracerProvider::builder()
        .with_sampler(Sampler::AlwaysOn)
        .with_batch_exporter(NoopExporter)
        .build()
}

fn json(n: usize) -> Message {
    Message::text(format!(
        r#"{{"data":"{}"}}"#,
        "a".repeat(n.saturating_sub(12))
    ))
}

#[derive(Clone, Copy, Debug)]
enum Variant {
    Raw,
    Noop(Format),
    Sdk(Format),
}

impl Variant {
    fn name(self) -> String {
        match self {
            Variant::Raw => "raw".into(),
            Variant::Noop(f) => format!("traced-noop-{f:?}"),
            Variant::Sdk(f) => format!("traced-sdk-{f:?}"),
        }
    }

    fn options(self, provider: &SdkTracerProvider) -> Options {
        match self {
            Variant::Raw => Options::default().enabled(false),
            Variant::Noop(f) => Options::default().format(f),
            Variant::Sdk(f) => Options::default()
                .format(f)
                .tracer_provider(provider.clone()),
        }
    }
}

/// Sends `n` messages keeping at most `WINDOW` in flight, receiving every echo.
async fn pump<T, R, E>(ws: &mut T, msg: &Message, n: u64) -> Duration
where
    T: Sink<Message> + Stream<Item = Result<R, E>> + Unpin,
{
    let start = Instant::now();
    let (mut sent, mut received) = (0u64, 0u64);
    while received < n {
        while sent < n && sent - received < WINDOW {
            if ws.feed(msg.clone()).await.is_err() {
                return start.elapsed();
            }
            sent += 1;
        }
        if ws.flush().await.is_err() {
            return start.elapsed();
        }
        match ws.next().await {
            Some(Ok(_)) => received += 1,
            _ => return start.elapsed(),
        }
    }
    start.elapsed()
}

/// Ping-pong latencies (one in flight).
async fn latencies<T, R, E>(ws: &mut T, msg: &Message, n: usize) -> Vec<Duration>
where
    T: Sink<Message> + Stream<Item = Result<R, E>> + Unpin,
{
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        if ws.send(msg.clone()).await.is_err() {
            break;
        }
        if !matches!(ws.next().await, Some(Ok(_))) {
            break;
        }
        out.push(t.elapsed());
    }
    out
}

enum Client {
    Raw(Box<tokio_tungstenite::WebSocketStream<TcpStream>>),
    Traced(Box<tracewire_ws::TracedWebSocket<TcpStream>>),
}

/// Starts a traced (or raw) echo server and connects a client of the same variant.
async fn setup(variant: Variant, provider: &SdkTracerProvider) -> Client {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server_opts = variant.options(provider);
    tokio::spawn(async move {
        let Ok((tcp, _)) = listener.accept().await else {
            return;
        };
        let _ = tcp.set_nodelay(true);
        let Ok(mut ws) = tracewire_ws::accept(tcp, server_opts).await else {
            return;
        };
        while let Some(Ok(r)) = ws.recv().await {
            let (cx, m) = r.into_parts();
            if !(m.is_text() || m.is_binary()) {
                continue;
            }
            if ws.send(&cx, m).await.is_err() {
                return;
            }
        }
    });
    let tcp = TcpStream::connect(addr).await.expect("connect");
    tcp.set_nodelay(true).expect("nodelay");
    let url = format!("ws://{addr}/");
    match variant {
        Variant::Raw => Client::Raw(Box::new(
            tokio_tungstenite::client_async(url, tcp)
                .await
                .expect("handshake")
                .0,
        )),
        _ => Client::Traced(Box::new(
            tracewire_ws::client(url, tcp, variant.options(provider))
                .await
                .expect("handshake")
                .0,
        )),
    }
}

fn variants() -> [Variant; 5] {
    [
        Variant::Raw,
        Variant::Noop(Format::Seed),
        Variant::Noop(Format::OtelWs),
        Variant::Sdk(Format::Seed),
        Variant::Sdk(Format::OtelWs),
    ]
}

fn print_latencies(rt: &Runtime, provider: &SdkTracerProvider) {
    println!("ping-pong latency (p50 / p99, 1000 round trips)");
    for size in SIZES {
        for v in variants() {
            let msg = json(size);
            let mut l = rt.block_on(async {
                match setup(v, provider).await {
                    Client::Raw(mut ws) => latencies(&mut *ws, &msg, 1000).await,
                    Client::Traced(mut ws) => latencies(&mut *ws, &msg, 1000).await,
                }
            });
            l.sort();
            if l.is_empty() {
                continue;
            }
            let p = |q: f64| l[((l.len() as f64 * q) as usize).min(l.len() - 1)];
            println!("  {size} B {}: {:?} / {:?}", v.name(), p(0.50), p(0.99));
        }
    }
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let provider = sdk_provider();
    print_latencies(&rt, &provider);
    for size in SIZES {
        let mut group = c.benchmark_group(format!("loopback-json-{size}B"));
        group.throughput(Throughput::Elements(1));
        for v in variants() {
            let msg = json(size);
            let mut client = rt.block_on(setup(v, &provider));
            group.bench_function(BenchmarkId::from_parameter(v.name()), |b| {
                b.iter_custom(|iters| {
                    rt.block_on(async {
                        match &mut client {
                            Client::Raw(ws) => pump(&mut **ws, &msg, iters).await,
                            Client::Traced(ws) => pump(&mut **ws, &msg, iters).await,
                        }
                    })
                })
            });
        }
        group.finish();
    }
    let _ = provider.shutdown();
}

criterion_group!(benches, bench);
criterion_main!(benches);
