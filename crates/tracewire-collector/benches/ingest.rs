//! Ingest throughput over a real Unix socket, next to the raw limit measured in the same
//! run, and the collector's peak RSS with 1 M incomplete spans (default limits).
//!
//! ```text
//! cargo bench -p tracewire-collector --bench ingest
//! TRACEWIRE_BENCH_SPANS=500000 cargo bench -p tracewire-collector --bench ingest
//! ```
//!
//! - raw: a reader that reads the same bytes from the same kind of socket and discards them;
//! - collector: `Collector` on a 2-worker tokio runtime; timed until the assembler has paired
//!   every span (so decode, pairing, seq, tree assembly and fan-out are all included);
//! - rss: a child process of this binary starts a collector with `Limits::default()`, sends
//!   1 M span starts that never end, and reports its peak RSS (`VmHWM`).

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use tracewire_collector::server::Collector;
use tracewire_collector::Limits;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// go-trace-shaped lines: each span is a start then an end (16-hex ids, zone offsets).
fn lines(spans: u64, ends: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(spans as usize * 300);
    for i in 0..spans {
        let trace = (i / 10) + 1;
        let span = i + 1;
        let parent = if i % 10 == 0 {
            String::new()
        } else {
            format!(",\"parent_id\":\"{:016x}\"", (i / 10) * 10 + 1)
        };
        let _ = writeln!(
            out,
            "{{\"type\":0,\"span_id\":\"{span:016x}\",\"trace_id\":\"{trace:016x}\"{parent},\"name\":\"SQL Query\",\"kind\":2,\"time\":\"2025-06-01T10:00:00.123456789+09:00\"}}"
        );
        if ends {
            let _ = writeln!(
                out,
                "{{\"type\":1,\"span_id\":\"{span:016x}\",\"trace_id\":\"{trace:016x}\",\"name\":\"\",\"kind\":0,\"time\":\"2025-06-01T10:00:00.125+09:00\",\"attrs\":{{\"query\":\"SELECT 1\",\"rows\":\"1\"}}}}"
            );
        }
    }
    out
}

fn write_all(path: &std::path::Path, data: &[u8]) {
    let mut s = UnixStream::connect(path).expect("connect");
    for chunk in data.chunks(64 * 1024) {
        s.write_all(chunk).expect("write");
    }
}

/// Events/s of a reader that discards what it reads.
fn raw(data: &[u8], events: u64) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("raw.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let total = data.len();
    let reader = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = vec![0u8; 64 * 1024];
        let mut got = 0;
        while got < total {
            let n = s.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            got += n;
        }
    });
    let start = Instant::now();
    write_all(&path, data);
    reader.join().unwrap();
    events as f64 / start.elapsed().as_secs_f64()
}

/// Splits `data` into `n` parts at line boundaries.
fn split_lines(data: &[u8], n: usize) -> Vec<&[u8]> {
    let mut parts = Vec::with_capacity(n);
    let mut rest = data;
    for i in (1..=n).rev() {
        if i == 1 {
            parts.push(rest);
            break;
        }
        let target = rest.len() / i;
        let cut = rest[target..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |p| target + p + 1);
        parts.push(&rest[..cut]);
        rest = &rest[cut..];
    }
    parts
}

/// CPU time used by this whole process so far (all threads, user + system), from
/// `/proc/self/stat` (clock ticks of 10 ms): a load-independent measure of the work done.
fn process_cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the `(comm)`; utime and stime are fields 14 and 15 of the whole line.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    let ticks = f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
    ticks as f64 / 100.0
}

/// Events/s through the collector over `conns` connections, until every span is paired,
/// and the process CPU time per event (µs) over the same interval (writer threads included).
fn collector(rt: &tokio::runtime::Runtime, data: &[u8], spans: u64, conns: usize) -> (f64, f64) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.sock");
    let mut limits = Limits::default();
    limits.max_buffered_traces = 1_000_000;
    let bound = rt
        .block_on(
            Collector::builder()
                .with_socket_path(&path)
                .with_limits(limits)
                .bind(),
        )
        .unwrap();
    let c = bound.handle();
    let token = CancellationToken::new();
    let server = rt.spawn(bound.serve_with_token(token.clone()));
    let cpu0 = process_cpu_secs();
    let start = Instant::now();
    std::thread::scope(|scope| {
        for part in split_lines(data, conns) {
            let path = &path;
            scope.spawn(move || write_all(path, part));
        }
    });
    while c.stats().assembly.paired < spans {
        std::thread::sleep(Duration::from_micros(500));
        assert!(
            start.elapsed() < Duration::from_secs(600),
            "collector stalled"
        );
    }
    let rate = (spans * 2) as f64 / start.elapsed().as_secs_f64();
    let cpu_us = (process_cpu_secs() - cpu0) * 1e6 / (spans * 2) as f64;
    token.cancel();
    rt.block_on(server).unwrap().unwrap();
    (rate, cpu_us)
}

/// Events/s of the sans-IO stages on the same bytes: split + decode, then + assembler.
fn stages(data: &[u8], events: u64) -> (f64, f64) {
    use tracewire_collector::{decode_ingest_line, Assembler, LineEvent, LineSplitter};
    let start = Instant::now();
    let mut n = 0u64;
    let mut splitter = LineSplitter::new(1 << 20);
    for chunk in data.chunks(64 * 1024) {
        splitter.push(chunk, |ev| {
            if let LineEvent::Line(l) = ev {
                n += u64::from(decode_ingest_line(l).is_ok());
            }
        });
    }
    assert_eq!(n, events);
    let decode = events as f64 / start.elapsed().as_secs_f64();
    let mut limits = Limits::default();
    limits.max_buffered_traces = 1_000_000;
    let mut asm = Assembler::new(limits);
    let now = std::time::Instant::now();
    let start = Instant::now();
    let mut splitter = LineSplitter::new(1 << 20);
    for chunk in data.chunks(64 * 1024) {
        splitter.push(chunk, |ev| {
            if let LineEvent::Line(l) = ev {
                if let Ok(e) = decode_ingest_line(l) {
                    asm.push_event(e, now);
                }
            }
        });
        asm.drain_outputs().for_each(drop);
    }
    let both = events as f64 / start.elapsed().as_secs_f64();
    (decode, both)
}

fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Child mode: peak RSS with 1 M incomplete spans and default limits.
fn rss_child() {
    let spans = env_u64("TRACEWIRE_BENCH_RSS_SPANS", 1_000_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rss.sock");
    let bound = rt
        .block_on(Collector::builder().with_socket_path(&path).bind())
        .unwrap();
    let c = bound.handle();
    let token = CancellationToken::new();
    let server = rt.spawn(bound.serve_with_token(token.clone()));
    let before = vm_hwm_kib();
    // Generated in slices so the generator's own buffer stays small.
    let mut s = UnixStream::connect(&path).unwrap();
    let slice = 10_000;
    let mut sent = 0;
    while sent < spans {
        let n = slice.min(spans - sent);
        let mut buf = Vec::with_capacity(n as usize * 200);
        for i in sent..sent + n {
            let _ = writeln!(
                buf,
                "{{\"type\":0,\"span_id\":\"{:016x}\",\"trace_id\":\"{:032x}\",\"name\":\"never ends\",\"kind\":0,\"time\":\"2025-06-01T10:00:00Z\"}}",
                i + 1,
                i / 10 + 1
            );
        }
        s.write_all(&buf).unwrap();
        sent += n;
    }
    drop(s);
    while c.stats().assembly.starts < spans {
        std::thread::sleep(Duration::from_millis(5));
    }
    let st = c.stats();
    println!(
        "rss: {spans} incomplete spans, default limits: peak RSS {:.1} MiB (baseline {:.1} MiB); pending_now={} pending_evicted={}",
        vm_hwm_kib() as f64 / 1024.0,
        before as f64 / 1024.0,
        st.assembly.pending_now,
        st.assembly.pending_evicted
    );
    token.cancel();
    rt.block_on(server).unwrap().unwrap();
}

fn main() {
    if std::env::var_os("TRACEWIRE_BENCH_RSS_CHILD").is_some() {
        rss_child();
        return;
    }
    // `cargo bench` passes `--bench`; `cargo test --benches` runs a tiny smoke size.
    let smoke = !std::env::args().any(|a| a == "--bench");
    let spans = if smoke {
        2_000
    } else {
        env_u64("TRACEWIRE_BENCH_SPANS", 500_000)
    };
    let rounds = if smoke {
        1
    } else {
        env_u64("TRACEWIRE_BENCH_ROUNDS", 3)
    };
    let events = spans * 2;
    let data = lines(spans, true);
    println!(
        "ingest: {spans} spans = {events} events, {:.1} MiB of go-trace lines, {rounds} rounds (best of)",
        data.len() as f64 / (1024.0 * 1024.0)
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (decode, both) = stages(&data, events);
    println!("ingest: sans-IO split+decode     {:>12.0} events/s", decode);
    println!("ingest: sans-IO decode+assemble  {:>12.0} events/s", both);
    let conns = env_u64("TRACEWIRE_BENCH_CONNS", 4) as usize;
    let (mut best_raw, mut best_col, mut best_multi) = (0f64, 0f64, 0f64);
    let (mut cpu_col, mut cpu_multi) = (f64::MAX, f64::MAX);
    for _ in 0..rounds {
        best_raw = best_raw.max(raw(&data, events));
        let (rate, cpu) = collector(&rt, &data, spans, 1);
        best_col = best_col.max(rate);
        cpu_col = cpu_col.min(cpu);
        let (rate, cpu) = collector(&rt, &data, spans, conns);
        best_multi = best_multi.max(rate);
        cpu_multi = cpu_multi.min(cpu);
    }
    println!(
        "ingest: raw socket read+discard  {:>12.0} events/s",
        best_raw
    );
    println!(
        "ingest: collector, 1 connection  {:>12.0} events/s",
        best_col
    );
    println!(
        "ingest: collector, {conns} connections {:>11.0} events/s",
        best_multi
    );
    println!(
        "ingest: collector / raw          {:>12.3}",
        best_col / best_raw
    );
    println!(
        "ingest: process CPU per event    {:>9.3} µs (1 connection), {:.3} µs ({conns} connections)",
        cpu_col, cpu_multi
    );
    if smoke {
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(exe)
        .env("TRACEWIRE_BENCH_RSS_CHILD", "1")
        .output()
        .unwrap();
    print!("{}", String::from_utf8_lossy(&out.stdout));
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
}
