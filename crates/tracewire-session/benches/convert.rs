//! Conversion throughput (events/s) next to plain `serde_json` parsing of the same file,
//! in one run (goal: reading + converting ≥ 0.5 × parsing).
//!
//! `cargo bench -p tracewire-session --bench convert -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tracewire_session::convert::{ConvertOptions, Converter};
use tracewire_session::event::group_by_session;
use tracewire_session::read::{read_jsonl, ReadOptions};

/// The shipped sample recording, repeated as 100 sessions (3 800 events).
fn recording() -> String {
    let sample = include_str!("../../../examples/data/session.jsonl");
    let mut out = String::with_capacity(sample.len() * 101);
    for k in 0..100 {
        out.push_str(&sample.replace("demo-session", &format!("demo-session-{k}")));
    }
    out
}

fn bench(c: &mut Criterion) {
    let text = recording();
    let events = text.lines().count() as u64;
    let converter = Converter::new(ConvertOptions::default());
    let mut group = c.benchmark_group("session_file");
    group.throughput(Throughput::Elements(events));

    group.bench_function("serde_json_parse", |b| {
        b.iter(|| {
            for line in text.lines() {
                let v: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
                black_box(v);
            }
        })
    });

    group.bench_function("read_and_convert", |b| {
        b.iter(|| {
            let events = read_jsonl(text.as_bytes(), ReadOptions::default()).filter_map(Result::ok);
            let mut spans = 0;
            for (id, events) in group_by_session(events) {
                spans += converter.convert_session(&id, &events).spans.len();
            }
            black_box(spans)
        })
    });

    group.bench_function("read_only", |b| {
        b.iter(|| black_box(read_jsonl(text.as_bytes(), ReadOptions::default()).count()))
    });

    let sessions = group_by_session(
        read_jsonl(text.as_bytes(), ReadOptions::default()).filter_map(Result::ok),
    );
    group.bench_function("convert_only", |b| {
        b.iter(|| {
            let mut spans = 0;
            for (id, events) in &sessions {
                spans += converter.convert_session(id, events).spans.len();
            }
            black_box(spans)
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
