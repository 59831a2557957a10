//! Client and echo server over 127.0.0.1 (`docs/benchmarks.md#websocket-performance-targets`): raw tokio-tungstenite vs traced (no-op
//! provider; SDK provider with a no-op exporter and always-on sampling, behind the SDK's
//! simple processor — `traced-sdk-*` — and its batch processor — `traced-sdk-batch-*`),
//! Seed and OtelWs, at 64 B, 1 KiB and 64 KiB. `raw-with-sdk-spans` is the floor for the
//! SDK variants: raw plus the same SDK spans, without envelope or propagation. Criterion reports messages/s with 64 in flight; p50/p99
//! ping-pong latency is printed first. Both ends are traced in the traced variants.
//!
//! `TRACEWIRE_WS_COST=<filter>` (e.g. `1024B` or `sdk-OtelWs`; empty = all) skips criterion
//! and runs the load-robust comparison of [`cost`]: raw and the matching variants
//! interleaved over several rounds, with medians of messages/s, of CPU time per echoed
//! message and of each round's traced/raw ratio. A single variant can also be run under
//! `valgrind --tool=callgrind` this way.

use std::future::Future;
use std::time::{Duration, Instant};

use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider, SpanData, SpanExporter};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;
use tracewire_ws::{Format, Message, Options};

#[path = "support/span_floor.rs"]
mod span_floor;
use span_floor::SpannedRaw;

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

/// The SDK providers of one end: always-on sampling and a no-op exporter, behind the
/// SDK's simple processor (the exporter is called as each span ends: the cost of the spans
/// themselves) or its batch processor (spans queued to a worker thread).
#[derive(Clone)]
struct EndProviders {
    simple: SdkTracerProvider,
    batch: SdkTracerProvider,
}

/// Client and server have their own providers, as two services would: one provider
/// shared by both ends would add contention on its locks and reference counts between
/// the two threads that no deployment has.
#[derive(Clone)]
struct Providers {
    client: EndProviders,
    server: EndProviders,
}

impl EndProviders {
    fn new() -> Self {
        let builder = || SdkTracerProvider::builder().with_sampler(Sampler::AlwaysOn);
        EndProviders {
            simple: builder().with_simple_exporter(NoopExporter).build(),
            batch: builder().with_batch_exporter(NoopExporter).build(),
        }
    }
}

impl Providers {
    fn new() -> Self {
        Providers {
            client: EndProviders::new(),
            server: EndProviders::new(),
        }
    }

    fn shutdown(&self) {
        for end in [&self.client, &self.server] {
            let _ = end.simple.shutdown();
            let _ = end.batch.shutdown();
        }
    }
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
    SdkBatch(Format),
    /// Raw plus the SDK spans tracewire-ws records, no envelope (see `span_floor`).
    SpanFloor,
}

impl Variant {
    fn name(self) -> String {
        match self {
            Variant::Raw => "raw".into(),
            Variant::Noop(f) => format!("traced-noop-{f:?}"),
            Variant::Sdk(f) => format!("traced-sdk-{f:?}"),
            Variant::SdkBatch(f) => format!("traced-sdk-batch-{f:?}"),
            Variant::SpanFloor => "raw-with-sdk-spans".into(),
        }
    }

    fn options(self, providers: &EndProviders) -> Options {
        match self {
            Variant::Raw | Variant::SpanFloor => Options::default().with_enabled(false),
            Variant::Noop(f) => Options::default().with_format(f),
            Variant::Sdk(f) => Options::default()
                .with_format(f)
                .with_tracer_provider(providers.simple.clone()),
            Variant::SdkBatch(f) => Options::default()
                .with_format(f)
                .with_tracer_provider(providers.batch.clone()),
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

/// Runs `$body` with `$ws` bound to the client socket, whatever its variant (the pump
/// functions are generic over the socket type).
macro_rules! with_client {
    ($client:expr, |$ws:ident| $body:expr) => {
        match $client {
            Client::Raw($ws) => $body,
            Client::Traced($ws) => $body,
            Client::Floor($ws) => $body,
        }
    };
}

/// The bench's runtime: two workers, as the machine has two cores.
fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

enum Client {
    Raw(Box<tokio_tungstenite::WebSocketStream<TcpStream>>),
    Traced(Box<tracewire_ws::TracedWebSocket<TcpStream>>),
    Floor(Box<SpannedRaw<TcpStream>>),
}

/// Echoes every data frame back on a raw (or span-floor) server socket.
async fn raw_echo<T, E>(ws: &mut T)
where
    T: Sink<Message> + Stream<Item = Result<Message, E>> + Unpin,
{
    while let Some(Ok(m)) = ws.next().await {
        if (m.is_text() || m.is_binary()) && ws.send(m).await.is_err() {
            return;
        }
    }
}

/// Starts an echo server of `variant` (raw: plain tokio-tungstenite) and connects a client
/// of the same variant.
async fn setup(variant: Variant, provider: &Providers) -> Client {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server_opts = variant.options(&provider.server);
    let server_provider = provider.server.simple.clone();
    tokio::spawn(async move {
        let Ok((tcp, _)) = listener.accept().await else {
            return;
        };
        let _ = tcp.set_nodelay(true);
        if matches!(variant, Variant::Raw | Variant::SpanFloor) {
            let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else {
                return;
            };
            if matches!(variant, Variant::Raw) {
                raw_echo(&mut ws).await;
            } else {
                raw_echo(&mut SpannedRaw::new(ws, &server_provider, None)).await;
            }
            return;
        }
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
    if !matches!(variant, Variant::Raw | Variant::SpanFloor) {
        let (ws, _) = tracewire_ws::client(url, tcp, variant.options(&provider.client))
            .await
            .expect("handshake");
        return Client::Traced(Box::new(ws));
    }
    let (ws, _) = tokio_tungstenite::client_async(url, tcp)
        .await
        .expect("handshake");
    if matches!(variant, Variant::Raw) {
        return Client::Raw(Box::new(ws));
    }
    let peer = Some(("127.0.0.1", addr.port()));
    Client::Floor(Box::new(SpannedRaw::new(ws, &provider.client.simple, peer)))
}

fn variants() -> [Variant; 7] {
    [
        Variant::Raw,
        Variant::SpanFloor,
        Variant::Noop(Format::Seed),
        Variant::Noop(Format::OtelWs),
        Variant::Sdk(Format::Seed),
        Variant::Sdk(Format::OtelWs),
        Variant::SdkBatch(Format::OtelWs),
    ]
}

fn print_latencies(rt: &Runtime, provider: &Providers) {
    println!("ping-pong latency (p50 / p99, 1000 round trips)");
    for size in SIZES {
        for v in variants() {
            let msg = json(size);
            let mut l = rt.block_on(async {
                let mut client = setup(v, provider).await;
                with_client!(&mut client, |ws| latencies(&mut **ws, &msg, 1000).await)
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
    let rt = runtime();
    let provider = Providers::new();
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
                        with_client!(&mut client, |ws| pump(&mut **ws, &msg, iters).await)
                    })
                })
            });
        }
        group.finish();
    }
    provider.shutdown();
}

/// CPU time of this process's live threads, from `/proc/self/task/*/schedstat`
/// (nanosecond resolution; the runtime's threads live through the whole measurement).
fn process_cpu() -> Option<Duration> {
    let mut total = 0u64;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let stat = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
        total += stat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(Duration::from_nanos(total))
}

/// Pumps `n` messages: (wall time, process CPU time).
async fn measure<T, R, E>(ws: &mut T, msg: &Message, n: u64) -> (Duration, Option<Duration>)
where
    T: Sink<Message> + Stream<Item = Result<R, E>> + Unpin,
{
    let cpu0 = process_cpu();
    let wall = pump(ws, msg, n).await;
    let cpu = process_cpu().zip(cpu0).map(|(b, a)| b.saturating_sub(a));
    (wall, cpu)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// The load-robust figures: every matching variant of a size is set up once, then all are
/// pumped in turn for `TRACEWIRE_WS_COST_ROUNDS` rounds (default 7), so a burst of load
/// from elsewhere hits all of them alike. Reported: median messages/s, median CPU time
/// per echoed message, and the median over rounds of each round's traced/raw ratios.
fn cost(filter: &str) {
    let env = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let n = env("TRACEWIRE_WS_COST_N", 20_000);
    let rounds = env("TRACEWIRE_WS_COST_ROUNDS", 7);
    let rt = runtime();
    let provider = Providers::new();
    println!(
        "{rounds} interleaved rounds of {n} messages per variant: median messages/s, median CPU \
         time per echoed message (both ends), median of the rounds' ratios to raw"
    );
    for size in SIZES {
        let msg = json(size);
        let mut clients: Vec<(Variant, Client)> = variants()
            .into_iter()
            .filter(|v| {
                matches!(v, Variant::Raw) || format!("{size}B/{}", v.name()).contains(filter)
            })
            .map(|v| (v, rt.block_on(setup(v, &provider))))
            .collect();
        if clients.len() < 2 {
            continue;
        }
        // Per variant, per round: (messages/s, CPU µs per message).
        let mut results = vec![Vec::new(); clients.len()];
        for round in 0..=rounds {
            for (i, (_, client)) in clients.iter_mut().enumerate() {
                let (wall, cpu) = rt.block_on(async {
                    with_client!(client, |ws| measure(&mut **ws, &msg, n).await)
                });
                // Round 0 warms up.
                if round > 0 {
                    let per = cpu.map_or(f64::NAN, |c| c.as_secs_f64() * 1e6 / n as f64);
                    results[i].push((n as f64 / wall.as_secs_f64(), per));
                }
            }
        }
        for (i, (v, _)) in clients.iter().enumerate() {
            let ratio = |f: fn(&(f64, f64), &(f64, f64)) -> f64| {
                median(
                    results[i]
                        .iter()
                        .zip(&results[0])
                        .map(|(t, r)| f(t, r))
                        .collect(),
                )
            };
            println!(
                "  {size}B/{}: {:.1} k msg/s, {:.2} µs CPU/msg, ratio to raw: {:.3} by msg/s, {:.3} by CPU",
                v.name(),
                median(results[i].iter().map(|r| r.0).collect()) / 1e3,
                median(results[i].iter().map(|r| r.1).collect()),
                ratio(|t, r| t.0 / r.0),
                ratio(|t, r| r.1 / t.1),
            );
        }
    }
    provider.shutdown();
}

criterion_group!(benches, bench);

fn main() {
    if let Ok(filter) = std::env::var("TRACEWIRE_WS_COST") {
        cost(&filter);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
