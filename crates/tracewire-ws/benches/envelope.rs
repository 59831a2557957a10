//! Envelope encode/decode (`docs/benchmarks.md#websocket-performance-targets`): {Seed, OtelWs} × {JSON, text, binary} × {64 B, 1 KiB,
//! 64 KiB}; ns/op and MB/s from criterion, allocations/op from a counting allocator
//! (printed before the criterion runs).

use std::alloc::System;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rand::Rng as _;
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use tracewire_ws::envelope::{decode, encode, Fields};
use tracewire_ws::{Format, Message};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const SIZES: [usize; 3] = [64, 1024, 64 * 1024];
const MAX: usize = 64 << 20;

fn payload(kind: &str, n: usize) -> Message {
    match kind {
        "json" => {
            let pad = n.saturating_sub(12);
            Message::text(format!(r#"{{"data":"{}"}}"#, "a".repeat(pad)))
        }
        "text" => Message::text("lorem ipsum ".repeat(n / 12 + 1)[..n].to_owned()),
        _ => {
            let mut b = vec![0u8; n];
            rand::rng().fill_bytes(&mut b);
            b[0] = 0xff;
            Message::binary(b)
        }
    }
}

fn fields() -> Fields {
    let mut f = Fields::new();
    f.insert("traceparent", TP.into());
    f
}

fn allocs_per_op(mut f: impl FnMut()) -> f64 {
    const N: usize = 200;
    let region = Region::new(GLOBAL);
    for _ in 0..N {
        f();
    }
    region.change().allocations as f64 / N as f64
}

fn print_allocations() {
    println!("allocations/op (format, payload, size: encode / decode)");
    let f = fields();
    for format in [Format::Seed, Format::OtelWs] {
        for kind in ["json", "text", "binary"] {
            for n in SIZES {
                let msg = payload(kind, n);
                let wire = encode(format, &msg, &f, MAX).expect("encode");
                let enc = allocs_per_op(|| {
                    black_box(encode(format, black_box(&msg), &f, MAX).ok());
                });
                let dec = allocs_per_op(|| {
                    black_box(decode(black_box(&wire), MAX).ok());
                });
                println!("  {format:?} {kind} {n}: {enc:.1} / {dec:.1}");
            }
        }
    }
}

fn bench(c: &mut Criterion) {
    print_allocations();
    let f = fields();
    for format in [Format::Seed, Format::OtelWs] {
        let mut enc = c.benchmark_group(format!("encode/{format:?}"));
        for kind in ["json", "text", "binary"] {
            for n in SIZES {
                let msg = payload(kind, n);
                enc.throughput(Throughput::Bytes(n as u64));
                enc.bench_with_input(BenchmarkId::new(kind, n), &msg, |b, msg| {
                    b.iter(|| encode(format, black_box(msg), &f, MAX))
                });
            }
        }
        enc.finish();
        let mut dec = c.benchmark_group(format!("decode/{format:?}"));
        for kind in ["json", "text", "binary"] {
            for n in SIZES {
                let wire = encode(format, &payload(kind, n), &f, MAX).expect("encode");
                dec.throughput(Throughput::Bytes(n as u64));
                dec.bench_with_input(BenchmarkId::new(kind, n), &wire, |b, wire| {
                    b.iter(|| decode(black_box(wire), MAX).map(|d| d.kind()))
                });
            }
        }
        dec.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
