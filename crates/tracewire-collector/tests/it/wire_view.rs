//! View line encoding and decoding (`docs/wire-formats.md#collector-view-lines`).

use std::collections::HashMap;
use std::time::Duration;

use proptest::prelude::*;
use serde::Deserialize;
use tracewire_collector::model::{
    CompletedSpan, SpanId, Status, StatusCode, Timestamp, WireKind, WireTraceId,
};
use tracewire_collector::wire::{decode_view_line, encode_view_line, view_line, LineRejection};

fn sample() -> CompletedSpan {
    let start = Timestamp::parse_rfc3339("2025-06-01T10:00:00.123400+09:00").unwrap();
    CompletedSpan::new(
        WireTraceId::Short(0x3a7bd3e2360a3d29),
        SpanId::from_u64(0x9f86d081884c7d65),
        "SQL \"Query\" <x>",
        WireKind::Sql,
        start,
        start.saturating_add(Duration::from_nanos(2_876_600)),
    )
    .with_parent(Some(SpanId::from_u64(0x00f067aa0ba902b7)))
    .with_attrs([
        ("query", "SELECT 1"),
        ("error", "deadlock detected"),
        ("db", "main"),
    ])
    .with_status(Status::error("deadlock detected"))
    .with_seq(42)
}

#[test]
fn view_line_matches_the_golden_bytes() {
    let line = String::from_utf8(view_line(&sample())).unwrap();
    // Go's RFC3339Nano trims trailing zeros: .1262766 (not .126276600).
    let expected = concat!(
        r#"{"id":"9f86d081884c7d65","trace_id":"3a7bd3e2360a3d29","parent_id":"00f067aa0ba902b7","#,
        r#""name":"SQL \"Query\" <x>","kind":2,"start_time":"2025-06-01T01:00:00.1234Z","#,
        r#""end_time":"2025-06-01T01:00:00.1262766Z","#,
        r#""attrs":{"db":"main","error":"deadlock detected","query":"SELECT 1"},"#,
        r#""seq":42,"duration_ns":2876600,"kind_name":"sql","#,
        r#""status":{"code":"error","message":"deadlock detected"}}"#,
        "\n"
    );
    assert_eq!(line, expected);
}

#[test]
fn root_without_attrs_or_status_omits_those_keys() {
    let mut span = sample();
    span.parent_id = None;
    span.attrs.clear();
    span.status = Status::default();
    span.kind = WireKind::Other(9);
    span.start = Timestamp::parse_rfc3339("2025-06-01T01:00:00Z").unwrap();
    span.end = Timestamp::parse_rfc3339("2025-06-01T01:00:01Z").unwrap();
    span.duration = Duration::from_secs(1);
    let line = String::from_utf8(view_line(&span)).unwrap();
    assert_eq!(
        line,
        concat!(
            r#"{"id":"9f86d081884c7d65","trace_id":"3a7bd3e2360a3d29","name":"SQL \"Query\" <x>","#,
            r#""kind":9,"start_time":"2025-06-01T01:00:00Z","end_time":"2025-06-01T01:00:01Z","#,
            r#""seq":42,"duration_ns":1000000000,"kind_name":"unknown"}"#,
            "\n"
        )
    );
}

/// Mirrors go-trace's `Span` struct and its json tags (what its viewer decodes into).
#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct GoSpan {
    id: String,
    trace_id: String,
    #[serde(default)]
    parent_id: String,
    name: String,
    kind: i64,
    start_time: String,
    end_time: String,
    #[serde(default)]
    attrs: HashMap<String, String>,
    #[serde(default)]
    children: Vec<GoSpan>,
}

#[test]
fn view_line_decodes_with_go_traces_span_struct() {
    let line = view_line(&sample());
    let go: GoSpan = serde_json::from_slice(&line).unwrap();
    assert_eq!(go.id, "9f86d081884c7d65");
    assert_eq!(go.trace_id, "3a7bd3e2360a3d29");
    assert_eq!(go.parent_id, "00f067aa0ba902b7");
    assert_eq!(go.kind, 2);
    assert_eq!(go.start_time, "2025-06-01T01:00:00.1234Z");
    assert_eq!(go.attrs.len(), 3);
    assert!(go.children.is_empty());
    // Additive keys never collide with go-trace keys case-insensitively (Go's decoder
    // matches keys that way).
    let go_keys = [
        "id",
        "trace_id",
        "parent_id",
        "name",
        "kind",
        "start_time",
        "end_time",
        "attrs",
        "children",
    ];
    let value: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&line).unwrap();
    for key in value.keys() {
        let clashes = go_keys
            .iter()
            .filter(|g| g.eq_ignore_ascii_case(key) && *g != key)
            .count();
        assert_eq!(clashes, 0, "{key}");
    }
}

#[test]
fn decode_round_trips_ours_and_reads_go_trace_lines() {
    let span = sample();
    let line = view_line(&span);
    assert_eq!(decode_view_line(&line[..line.len() - 1]), Ok(span));

    // A go-trace view server line: no seq/duration/status, children allowed, local zone.
    let go = r#"{"id":"9f86d081884c7d65","trace_id":"3a7bd3e2360a3d29","name":"GET /hello","kind":1,"start_time":"2025-06-01T10:00:00.5+09:00","end_time":"2025-06-01T10:00:00.6+09:00","attrs":{"status":"200"},"children":null}"#;
    let s = decode_view_line(go.as_bytes()).unwrap();
    assert_eq!(s.seq, 0);
    assert_eq!(s.duration, Duration::from_millis(100));
    assert_eq!(s.kind, WireKind::Http);
    assert_eq!(s.parent_id, None);
    assert_eq!(s.status.code, StatusCode::Unset);

    assert_eq!(decode_view_line(b"{oops"), Err(LineRejection::Malformed));
    let bad_id = go.replace("9f86d081884c7d65", "xyz");
    assert_eq!(
        decode_view_line(bad_id.as_bytes()),
        Err(LineRejection::InvalidId)
    );
    let bad_time = go.replace("2025-06-01T10:00:00.5+09:00", "yesterday");
    assert_eq!(
        decode_view_line(bad_time.as_bytes()),
        Err(LineRejection::InvalidTime)
    );
}

proptest! {
    #[test]
    fn view_lines_round_trip(
        name in "\\PC{0,16}",
        kind in any::<u8>(),
        start in -9_000_000_000_000_000_000i64..9_000_000_000_000_000_000,
        dur in 0u64..1_000_000_000_000,
        attrs in prop::collection::btree_map("\\PC{0,6}", "\\PC{0,6}", 0..4),
        seq in any::<u64>(),
        parent in prop::option::of(1u64..),
        w3c in any::<bool>(),
        status in prop_oneof![
            Just(Status::default()),
            Just(Status { code: StatusCode::Ok, message: String::new() }),
            "\\PC{0,10}".prop_map(Status::error),
        ],
    ) {
        let start = Timestamp(start);
        let duration = Duration::from_nanos(dur);
        let span = CompletedSpan::new(
            if w3c { WireTraceId::w3c(u128::from(seq) + 1) } else { WireTraceId::Short(seq | 1) },
            SpanId::from_u64(seq | 1),
            name,
            WireKind::from_u8(kind),
            start,
            start.saturating_add(duration),
        )
        .with_parent(parent.map(SpanId::from_u64))
        .with_attrs(attrs)
        .with_status(status)
        .with_seq(seq);
        let mut out = Vec::new();
        encode_view_line(&span, &mut out);
        prop_assert_eq!(decode_view_line(&out[..out.len() - 1]), Ok(span));
    }
}
