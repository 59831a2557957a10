//! Ingest line decoding (`docs/wire-formats.md#collector-ingest-lines`): the documented
//! examples and go-trace's own lines, every rejection and its order, ids, times, framing.

use std::collections::BTreeMap;

use proptest::prelude::*;
use tracewire_collector::lines::{LineEvent, LineSplitter};
use tracewire_collector::model::{
    IngestEvent, SpanEnd, SpanId, SpanStart, Status, StatusCode, Timestamp, WireKind, WireTraceId,
};
use tracewire_collector::wire::{
    decode_ingest_line, encode_ingest_line, IngestCounts, LineRejection,
};

const START: &str = r#"{"type":0,"span_id":"9f86d081884c7d65","trace_id":"3a7bd3e2360a3d29","name":"GET /users","kind":1,"time":"2025-06-01T10:00:00.123456789+09:00"}"#;
const END: &str = r#"{"type":1,"span_id":"9f86d081884c7d65","trace_id":"3a7bd3e2360a3d29","name":"","kind":0,"time":"2025-06-01T10:00:00.13+09:00","attrs":{"method":"GET","path":"/users","status":"200"}}"#;
const EXT_END: &str = r#"{"type":"span_end","span_id":"00f067aa0ba902b7","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","time":"2025-06-01T01:00:00.2Z","duration_ns":1834211,"status":{"code":"error","message":"timeout"}}"#;

fn start(line: &str) -> SpanStart {
    match decode_ingest_line(line.as_bytes()) {
        Ok(IngestEvent::Start(s)) => s,
        other => panic!("expected a start from {line}: {other:?}"),
    }
}

fn end(line: &str) -> SpanEnd {
    match decode_ingest_line(line.as_bytes()) {
        Ok(IngestEvent::End(e)) => e,
        other => panic!("expected an end from {line}: {other:?}"),
    }
}

fn rejection(line: &str) -> LineRejection {
    match decode_ingest_line(line.as_bytes()) {
        Err(r) => r,
        Ok(ev) => panic!("expected a rejection for {line}, got {ev:?}"),
    }
}

fn ts(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(s).unwrap()
}

/// The three example lines of `docs/wire-formats.md#collector-ingest-lines`.
#[test]
fn the_documented_example_lines_decode() {
    let s = start(START);
    assert_eq!(s.span_id, SpanId::from_u64(0x9f86d081884c7d65));
    assert_eq!(s.trace_id, WireTraceId::Short(0x3a7bd3e2360a3d29));
    assert_eq!(s.parent_id, None);
    assert_eq!(s.name, "GET /users");
    assert_eq!(s.kind, WireKind::Http);
    assert_eq!(s.time, ts("2025-06-01T01:00:00.123456789Z"));
    assert!(s.attrs.is_empty());

    let e = end(END);
    assert_eq!(e.name, "");
    assert_eq!(e.time, ts("2025-06-01T01:00:00.13Z"));
    assert_eq!(e.attrs.get("status").map(String::as_str), Some("200"));
    assert_eq!(e.attrs.len(), 3);
    assert_eq!(e.duration_ns, None);
    assert_eq!(e.status, Status::default());

    let x = end(EXT_END);
    assert_eq!(
        x.trace_id,
        WireTraceId::w3c(0x4bf92f3577b34da6a3ce929d0e0e4736)
    );
    assert_eq!(x.duration_ns, Some(1_834_211));
    assert_eq!(x.status, Status::error("timeout"));
}

/// Lines exactly as go-trace's `json.Marshal` writes them: root and child starts, ends with
/// attrs (keys sorted, `<>&` escaped as `\u003c…`), local zones with trimmed fractions.
#[test]
fn golden_go_trace_lines_decode() {
    let golden = [
        r#"{"type":0,"span_id":"a1b2c3d4e5f60718","trace_id":"0badc0ffee0ddf00","name":"GET /hello","kind":1,"time":"2025-06-01T10:00:00.5+02:00"}"#,
        r#"{"type":0,"span_id":"1112131415161718","trace_id":"0badc0ffee0ddf00","parent_id":"a1b2c3d4e5f60718","name":"Greet","kind":0,"time":"2025-06-01T10:00:00.500012-07:00"}"#,
        r#"{"type":0,"span_id":"2122232425262728","trace_id":"0badc0ffee0ddf00","parent_id":"1112131415161718","name":"SQL Query","kind":2,"time":"2025-06-01T08:00:00.50002Z"}"#,
        r#"{"type":1,"span_id":"2122232425262728","trace_id":"0badc0ffee0ddf00","name":"","kind":0,"time":"2025-06-01T08:00:00.5001Z","attrs":{"error":"","query":"SELECT * FROM t WHERE a \u003c 3 \u0026\u0026 b \u003e 1","rows":"3"}}"#,
        r#"{"type":1,"span_id":"1112131415161718","trace_id":"0badc0ffee0ddf00","name":"","kind":0,"time":"2025-06-01T10:00:00.6-07:00"}"#,
        r#"{"type":1,"span_id":"a1b2c3d4e5f60718","trace_id":"0badc0ffee0ddf00","name":"","kind":0,"time":"2025-06-01T10:00:01+02:00","attrs":{"method":"GET","path":"/hello","status":"200"}}"#,
    ];
    let events: Vec<IngestEvent> = golden
        .iter()
        .map(|l| decode_ingest_line(l.as_bytes()).unwrap())
        .collect();
    let IngestEvent::Start(root) = &events[0] else {
        panic!()
    };
    assert_eq!(root.time, ts("2025-06-01T08:00:00.5Z"));
    let IngestEvent::Start(child) = &events[1] else {
        panic!()
    };
    assert_eq!(child.parent_id, Some(SpanId::from_u64(0xa1b2c3d4e5f60718)));
    assert_eq!(child.time, ts("2025-06-01T17:00:00.500012Z"));
    let IngestEvent::Start(sql) = &events[2] else {
        panic!()
    };
    assert_eq!(sql.kind, WireKind::Sql);
    let IngestEvent::End(sql_end) = &events[3] else {
        panic!()
    };
    assert_eq!(
        sql_end.attrs["query"],
        "SELECT * FROM t WHERE a < 3 && b > 1"
    );
    assert_eq!(sql_end.attrs["error"], "");
    let IngestEvent::End(root_end) = &events[5] else {
        panic!()
    };
    assert_eq!(root_end.time, ts("2025-06-01T08:00:01Z"));
}

#[test]
fn missing_type_invalid_type_and_invalid_kind_are_rejected() {
    let no_type = r#"{"span_id":"9f86d081884c7d65","trace_id":"3a7bd3e2360a3d29","name":"x","time":"2025-06-01T10:00:00Z"}"#;
    assert_eq!(rejection(no_type), LineRejection::MissingType);
    let type2 = START.replace(r#""type":0"#, r#""type":2"#);
    assert_eq!(rejection(&type2), LineRejection::InvalidType);
    let type_str = START.replace(r#""type":0"#, r#""type":"span_middle""#);
    assert_eq!(rejection(&type_str), LineRejection::InvalidType);
    let kind_x = START.replace(r#""kind":1"#, r#""kind":"x""#);
    assert_eq!(rejection(&kind_x), LineRejection::InvalidKind);
    for bad in ["256", "-1", "1.5"] {
        let l = START.replace(r#""kind":1"#, &format!(r#""kind":{bad}"#));
        assert_eq!(rejection(&l), LineRejection::InvalidKind, "{bad}");
    }
    let other = START.replace(r#""kind":1"#, r#""kind":200"#);
    assert_eq!(start(&other).kind, WireKind::Other(200));
}

#[test]
fn only_the_first_applicable_rejection_is_counted() {
    // Everything wrong at once: the first applicable counter wins, in the order oversize,
    // malformed, missing_type, invalid_type, invalid_id, invalid_kind, invalid_time.
    let all_bad = r#"{"type":7,"span_id":"zz","trace_id":"","kind":"x","time":"never"}"#;
    assert_eq!(rejection(all_bad), LineRejection::InvalidType);
    let ids_kind_time = r#"{"type":0,"span_id":"zz","kind":"x","time":"never"}"#;
    assert_eq!(rejection(ids_kind_time), LineRejection::InvalidId);
    let kind_time = r#"{"type":0,"span_id":"9f86d081884c7d65","trace_id":"3a7bd3e2360a3d29","kind":"x","time":"never"}"#;
    assert_eq!(rejection(kind_time), LineRejection::InvalidKind);
    let time_only =
        r#"{"type":0,"span_id":"9f86d081884c7d65","trace_id":"3a7bd3e2360a3d29","kind":2}"#;
    assert_eq!(rejection(time_only), LineRejection::InvalidTime);
    // A type error on a known key is malformed even when the type is missing.
    assert_eq!(rejection(r#"{"attrs":5}"#), LineRejection::Malformed);
    assert_eq!(
        rejection(r#"{"type":0,"attrs":5}"#),
        LineRejection::Malformed
    );
}

#[test]
fn malformed_lines() {
    for bad in [
        "not json",
        "[1,2]",
        "\"str\"",
        "{",
        r#"{"type":0,"type":1}"#,
        r#"{"x":1,"x":2,"type":0}"#,
        r#"{"type":0,"attrs":{"a":[1]}}"#,
        r#"{"type":0,"attrs":{"a":{"b":"c"}}}"#,
        r#"{"type":0,"attrs":{"a":"1","a":"2"}}"#,
        r#"{"type":true}"#,
        r#"{"type":0,"span_id":5}"#,
        r#"{"type":0,"name":null}"#,
        r#"{"type":1,"duration_ns":-5}"#,
        r#"{"type":1,"status":"broken"}"#,
        r#"{} trailing"#,
    ] {
        assert_eq!(rejection(bad), LineRejection::Malformed, "{bad}");
    }
    assert_eq!(
        decode_ingest_line(b"{\"type\":0,\"name\":\"\xff\"}"),
        Err(LineRejection::Malformed)
    );
}

#[test]
fn unknown_keys_root_parent_forms_null_attrs_and_string_forms_are_accepted() {
    let unknown = START.replace('}', r#","extra":{"deep":[1,2]},"pid":42}"#);
    assert_eq!(start(&unknown), start(START));
    for parent in ["", r#","parent_id":"""#, r#","parent_id":null"#] {
        let l = START.replace('}', &format!("{parent}}}"));
        assert_eq!(start(&l).parent_id, None, "{parent}");
    }
    let null_attrs = END.replace(
        r#""attrs":{"method":"GET","path":"/users","status":"200"}"#,
        r#""attrs":null"#,
    );
    assert!(end(&null_attrs).attrs.is_empty());
    let str_type = START.replace(r#""type":0"#, r#""type":"span_start""#);
    assert_eq!(start(&str_type), start(START));
    let str_kind = START.replace(r#""kind":1"#, r#""kind":"http""#);
    assert_eq!(start(&str_kind), start(START));
    let names = [
        "function", "http", "sql", "internal", "server", "client", "producer", "consumer",
    ];
    for (i, name) in names.iter().enumerate() {
        let by_int = START.replace(r#""kind":1"#, &format!(r#""kind":{i}"#));
        let by_name = START.replace(r#""kind":1"#, &format!(r#""kind":"{name}""#));
        assert_eq!(start(&by_int).kind, start(&by_name).kind);
    }
    let end_str = END.replace(r#""type":1"#, r#""type":"span_end""#);
    assert_eq!(end(&end_str), end(END));
    // Attrs on starts too; scalar values kept as JSON text; null values dropped.
    let typed = START.replace(
        '}',
        r#","attrs":{"n":42,"f":1.5,"neg":-3,"b":true,"gone":null,"s":"x"}}"#,
    );
    let attrs = start(&typed).attrs;
    let expected: BTreeMap<String, String> = [
        ("n", "42"),
        ("f", "1.5"),
        ("neg", "-3"),
        ("b", "true"),
        ("s", "x"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(attrs, expected);
}

#[test]
fn ids_keep_their_width_are_lowercased_and_bad_ones_are_invalid_id() {
    let upper = START
        .replace("9f86d081884c7d65", "9F86D081884C7D65")
        .replace("3a7bd3e2360a3d29", "3A7BD3E2360A3D29");
    let s = start(&upper);
    assert_eq!(s.span_id.to_string(), "9f86d081884c7d65");
    assert_eq!(s.trace_id.to_string(), "3a7bd3e2360a3d29");
    let w3c = START.replace("3a7bd3e2360a3d29", "4BF92F3577B34DA6A3CE929D0E0E4736");
    assert_eq!(
        start(&w3c).trace_id.to_string(),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    let short_zero_padded = START.replace("3a7bd3e2360a3d29", "00000000000000000000000000000029");
    assert_eq!(
        start(&short_zero_padded).trace_id.to_string(),
        "00000000000000000000000000000029"
    );

    let tid = "3a7bd3e2360a3d29";
    for bad in [
        &tid[..15],
        "3a7bd3e2360a3d29a",
        "4bf92f3577b34da6a3ce929d0e0e473",
        "4bf92f3577b34da6a3ce929d0e0e47361",
        "3a7bd3e2360a3d2g",
        "0000000000000000",
        "00000000000000000000000000000000",
    ] {
        let l = START.replace(tid, bad);
        assert_eq!(rejection(&l), LineRejection::InvalidId, "trace id {bad}");
    }
    let sid = "9f86d081884c7d65";
    for bad in [
        &sid[..15],
        "9f86d081884c7d650",
        "9f86d081884c7d6x",
        "0000000000000000",
        "4bf92f3577b34da6a3ce929d0e0e4736",
    ] {
        let l = START.replace(sid, bad);
        assert_eq!(rejection(&l), LineRejection::InvalidId, "span id {bad}");
        let p = START.replace('}', &format!(r#","parent_id":"{bad}"}}"#));
        assert_eq!(rejection(&p), LineRejection::InvalidId, "parent id {bad}");
    }
    let no_span = START.replace(r#""span_id":"9f86d081884c7d65","#, "");
    assert_eq!(rejection(&no_span), LineRejection::InvalidId);
}

#[test]
fn rfc3339_times_parse_exactly_and_other_forms_are_invalid_time() {
    let with_time = |t: &str| START.replace("2025-06-01T10:00:00.123456789+09:00", t);
    let cases = [
        ("2025-06-01T01:00:00Z", 1_748_739_600_000_000_000i64),
        ("2025-06-01T01:00:00z", 1_748_739_600_000_000_000),
        ("2025-06-01t01:00:00Z", 1_748_739_600_000_000_000),
        ("2025-06-01T01:00:00.123456789Z", 1_748_739_600_123_456_789),
        (
            "2025-06-01T10:00:00.123456789+09:00",
            1_748_739_600_123_456_789,
        ),
        ("2025-05-31T20:30:00.1-04:30", 1_748_739_600_100_000_000),
    ];
    for (t, ns) in cases {
        assert_eq!(start(&with_time(t)).time, Timestamp(ns), "{t}");
    }
    for bad in [
        "2025-06-01T01:00:00.1234567890Z",
        "2025-06-01T01:00:00",
        "2025-06-01T01:00:60Z",
        "2025-06-01T01:00:00+25:00",
        "1748739600",
        "9999-12-31T23:59:59Z",
    ] {
        assert_eq!(
            rejection(&with_time(bad)),
            LineRejection::InvalidTime,
            "{bad}"
        );
    }
    let no_time = START.replace(r#","time":"2025-06-01T10:00:00.123456789+09:00""#, "");
    assert_eq!(rejection(&no_time), LineRejection::InvalidTime);
}

/// Runs a byte stream through the splitter and decoder as a connection does.
fn ingest(max: usize, chunks: &[&[u8]]) -> (IngestCounts, Vec<IngestEvent>) {
    let mut splitter = LineSplitter::new(max);
    let mut counts = IngestCounts::default();
    let mut events = Vec::new();
    let mut on_line = |ev: LineEvent<'_>| match ev {
        LineEvent::Blank => counts.blank += 1,
        LineEvent::Oversize { .. } => counts.record_rejection(LineRejection::Oversize),
        LineEvent::Line(l) => {
            let r = decode_ingest_line(l);
            counts.record(&r);
            if let Ok(ev) = r {
                events.push(ev);
            }
        }
    };
    for c in chunks {
        splitter.push(c, &mut on_line);
    }
    splitter.finish(&mut on_line);
    (counts, events)
}

#[test]
fn line_of_exactly_max_bytes_is_accepted_one_more_is_skipped() {
    let base = START.len();
    // Pad with an unknown key so the line has an exact length.
    let padded = |len: usize| {
        let pad = len - base - r#","p":"""#.len();
        START.replace('}', &format!(r#","p":"{}"}}"#, "x".repeat(pad)))
    };
    let max = 4096;
    let exact = padded(max);
    let over = padded(max + 1);
    assert_eq!(exact.len(), max);
    let stream = format!("{over}\n{exact}\n{END}\n");
    let (counts, events) = ingest(max, &[stream.as_bytes()]);
    assert_eq!(counts.oversize, 1);
    assert_eq!(counts.starts, 1);
    assert_eq!(counts.ends, 1);
    assert_eq!(events.len(), 2);
    // Same with tiny chunks and CRLF.
    let crlf = stream.replace('\n', "\r\n");
    let chunks: Vec<&[u8]> = crlf.as_bytes().chunks(7).collect();
    let (counts, _) = ingest(max, &chunks);
    assert_eq!((counts.oversize, counts.starts, counts.ends), (1, 1, 1));
}

#[test]
fn malformed_line_mid_stream_crlf_blank_lines_and_last_line_at_eof() {
    let stream = format!("{START}\r\n\r\n{{oops\n   \n{END}");
    let (counts, events) = ingest(1 << 20, &[stream.as_bytes()]);
    assert_eq!(counts.malformed, 1);
    assert_eq!(counts.blank, 2);
    assert_eq!(counts.starts, 1);
    assert_eq!(counts.ends, 1, "the last line ended by EOF is processed");
    assert_eq!(counts.lines, 3);
    assert_eq!(events.len(), 2);
}

#[test]
fn encode_writes_go_trace_shape_with_int_type_and_kind() {
    let s = start(START);
    let mut out = Vec::new();
    encode_ingest_line(&IngestEvent::Start(s.clone()), &mut out);
    assert_eq!(
        String::from_utf8(out.clone()).unwrap(),
        "{\"type\":0,\"span_id\":\"9f86d081884c7d65\",\"trace_id\":\"3a7bd3e2360a3d29\",\"name\":\"GET /users\",\"kind\":1,\"time\":\"2025-06-01T01:00:00.123456789Z\"}\n"
    );
    let x = end(EXT_END);
    let mut out = Vec::new();
    encode_ingest_line(&IngestEvent::End(x.clone()), &mut out);
    assert_eq!(
        String::from_utf8(out.clone()).unwrap(),
        "{\"type\":1,\"span_id\":\"00f067aa0ba902b7\",\"trace_id\":\"4bf92f3577b34da6a3ce929d0e0e4736\",\"name\":\"\",\"kind\":0,\"time\":\"2025-06-01T01:00:00.2Z\",\"duration_ns\":1834211,\"status\":{\"code\":\"error\",\"message\":\"timeout\"}}\n"
    );
    assert_eq!(end(std::str::from_utf8(&out).unwrap().trim_end()), x);
}

fn arb_event() -> impl Strategy<Value = IngestEvent> {
    let tid = prop_oneof![
        (1u64..).prop_map(WireTraceId::Short),
        (1u128..).prop_map(WireTraceId::w3c)
    ];
    let attrs = prop::collection::btree_map("[a-z\\\\\"\u{e9}<]{0,6}", "\\PC{0,8}", 0..4);
    let time = (-9_000_000_000_000_000_000i64..9_000_000_000_000_000_000).prop_map(Timestamp);
    let status = prop_oneof![
        Just(Status::default()),
        Just(Status {
            code: StatusCode::Ok,
            message: String::new()
        }),
        "\\PC{0,10}".prop_map(Status::error),
        "\\PC{0,10}".prop_map(|m| Status {
            code: StatusCode::Unset,
            message: m
        }),
    ];
    prop_oneof![
        (
            tid.clone(),
            1u64..,
            prop::option::of(1u64..),
            "\\PC{0,12}",
            any::<u8>(),
            time.clone(),
            attrs.clone()
        )
            .prop_map(|(trace_id, s, p, name, k, time, attrs)| IngestEvent::Start(
                SpanStart::new(
                    trace_id,
                    SpanId::from_u64(s),
                    name,
                    WireKind::from_u8(k),
                    time
                )
                .with_parent(p.map(SpanId::from_u64))
                .with_attrs(attrs)
            )),
        (
            tid,
            1u64..,
            "\\PC{0,12}",
            time,
            attrs,
            prop::option::of(any::<u64>()),
            status
        )
            .prop_map(|(trace_id, s, name, time, attrs, duration_ns, status)| {
                IngestEvent::End(
                    SpanEnd::new(trace_id, SpanId::from_u64(s), time)
                        .with_name(name)
                        .with_attrs(attrs)
                        .with_duration_ns(duration_ns)
                        .with_status(status),
                )
            }),
    ]
}

proptest! {
    #[test]
    fn encode_then_decode_is_identity(ev in arb_event()) {
        let mut out = Vec::new();
        encode_ingest_line(&ev, &mut out);
        prop_assert_eq!(out.last(), Some(&b'\n'));
        prop_assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1);
        let back = decode_ingest_line(&out[..out.len() - 1]);
        prop_assert_eq!(back, Ok(ev));
    }

    #[test]
    fn rfc3339_with_any_offset_parses_to_the_same_instant(
        ns in -9_000_000_000_000_000_000i64..9_000_000_000_000_000_000,
        offset_min in -1439i64..=1439,
        lower in any::<bool>(),
    ) {
        let local = Timestamp(ns + offset_min * 60_000_000_000).to_rfc3339_nano();
        let sign = if offset_min < 0 { '-' } else { '+' };
        let zone = format!("{sign}{:02}:{:02}", offset_min.abs() / 60, offset_min.abs() % 60);
        let mut text = format!("{}{zone}", local.trim_end_matches('Z'));
        if lower {
            text = text.replace('T', "t");
        }
        prop_assert_eq!(Timestamp::parse_rfc3339(&text), Ok(Timestamp(ns)));
        prop_assert_eq!(Timestamp::parse_rfc3339(&Timestamp(ns).to_rfc3339_nano()), Ok(Timestamp(ns)));
    }

    #[test]
    fn decoder_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = decode_ingest_line(&bytes);
    }

    #[test]
    fn decoder_never_panics_on_mutated_lines(pos in 0usize..180, byte in any::<u8>()) {
        let mut line = START.as_bytes().to_vec();
        let p = pos % line.len();
        line[p] = byte;
        let _ = decode_ingest_line(&line);
    }
}
