//! Helpers shared by the converter tests.
#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;

use serde_json::{json, Value as Json};
use tracewire_otlp::span::{Span, Value};
use tracewire_session::event::{RecordedTime, SessionEvent};
use tracewire_session::read::{self, read_jsonl, ReadOptions};

/// 2026-02-22T10:15:30Z in nanoseconds.
pub const BASE: u64 = 1_771_755_330_000_000_000;

pub fn ts(ms: u64) -> String {
    RecordedTime::from_unix_nanos(BASE + ms * 1_000_000)
        .text()
        .unwrap()
        .to_owned()
}

/// A PromptKit event of session `session-1`, parsed by the real reader.
pub fn ev(seq: u64, event_type: &str, ms: u64, run: &str, data: Json) -> SessionEvent {
    let line = json!({"seq": seq, "parent_id": null, "event": {
        "type": event_type, "timestamp": ts(ms), "run_id": run, "session_id": "session-1",
        "data": data}});
    read::parse_line(&line.to_string(), seq).unwrap()
}

pub fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

pub fn sample_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/data/session.jsonl")
}

pub fn read_file(path: &std::path::Path) -> Vec<SessionEvent> {
    let file = std::fs::File::open(path).unwrap();
    read_jsonl(
        std::io::BufReader::new(file),
        ReadOptions::default().with_strict(true),
    )
    .collect::<Result<Vec<_>, _>>()
    .unwrap()
}

pub fn fixture(name: &str) -> Vec<SessionEvent> {
    read_file(&fixture_path(name))
}

/// The only span with this name.
pub fn span<'a>(spans: &'a [Span], name: &str) -> &'a Span {
    let found: Vec<_> = spans.iter().filter(|s| s.name == name).collect();
    assert_eq!(
        found.len(),
        1,
        "expected one span named {name}, got {}",
        found.len()
    );
    found[0]
}

pub fn spans_named<'a>(spans: &'a [Span], name: &str) -> Vec<&'a Span> {
    spans.iter().filter(|s| s.name == name).collect()
}

pub fn attr<'a>(span: &'a Span, key: &str) -> Option<&'a Value> {
    span.attributes.get(key)
}

pub fn str_attr<'a>(span: &'a Span, key: &str) -> &'a str {
    attr(span, key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{}: no string attribute {key}", span.name))
}
