//! Client and echo server over 127.0.0.1 (spec §7): raw tokio-tungstenite vs traced (no-op
//! provider; SDK provider with a no-op exporter and always-on sampling), Seed and OtelWs,
//! at 64 B, 1 KiB and 64 KiB. Criterion reports messages/s with 64 in flight; p50/p99
//! ping-pong latency is printed first. Both ends are traced in the traced variants.
//!
//! `TRACEWIRE_WS_COST=<filter>` (e.g. `1024` or `sdk-OtelWs`; empty = all) skips criterion
//! and prints, per matching size and variant, messages/s and the process CPU time per
//! echoed message over `TRACEWIRE_WS_COST_N` messages (default 100 000). CPU time per
//! message depends much less on the machine's load than messages/s does, and a single
//! variant can be run under `perf stat -e instructions:u`.

use std::future::Future;
use std::time::{Duration, Instant};

use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
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

/// User + system CPU time of this process (all threads), from `/proc/self/stat`.
fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    // USER_HZ is 100 on every Linux configuration Rust supports.
    Some(Duration::from_millis((utime + stime) * 10))
}

/// Warms up with `n / 10` messages, then pumps `n`: (wall time, process CPU time).
async fn measure<T, R, E>(ws: &mut T, msg: &Message, n: u64) -> (Duration, Option<Duration>)
where
    T: Sink<Message> + Stream<Item = Result<R, E>> + Unpin,
{
    pump(ws, msg, n / 10).await;
    let cpu0 = process_cpu();
    let wall = pump(ws, msg, n).await;
    let cpu = process_cpu().zip(cpu0).map(|(b, a)| b.saturating_sub(a));
    (wall, cpu)
}

fn cost(filter: &str) {
    let n: u64 = std::env::var("TRACEWIRE_WS_COST_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let provider = sdk_provider();
    println!("{n} messages per variant: messages/s, CPU µs per echoed message (both ends)");
    for size in SIZES {
        let mut raw_cpu = None;
        for v in variants() {
            let name = format!("{size}B/{}", v.name());
            if !name.contains(filter) {
                continue;
            }
            let msg = json(size);
            let (wall, cpu) = rt.block_on(async {
                let client = setup(v, &provider).await;
                match client {
                    Client::Raw(mut ws) => measure(&mut *ws, &msg, n).await,
                    Client::Traced(mut ws) => measure(&mut *ws, &msg, n).await,
                }
            });
            let per = cpu.map(|c| c.as_secs_f64() * 1e6 / n as f64);
            if matches!(v, Variant::Raw) {
                raw_cpu = per;
            }
            let ratio = per
                .zip(raw_cpu)
                .map(|(p, r)| format!("  raw/this CPU {:.3}", r / p))
                .unwrap_or_default();
            println!(
                "  {name}: {:.1} k msg/s, {:.2} µs CPU/msg{ratio}",
                n as f64 / wall.as_secs_f64() / 1e3,
                per.unwrap_or(f64::NAN),
            );
        }
    }
    let _ = provider.shutdown();
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
