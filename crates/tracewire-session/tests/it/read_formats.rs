//! The JSONL reader and lossless round trips (`docs/wire-formats.md#recorded-sessions`).

use proptest::prelude::*;
use serde_json::Value;
use tracewire_session::event::{group_by_session, SourceFormat};
use tracewire_session::read::{read_all, read_jsonl, LineError, MalformedReason, ReadOptions};
use tracewire_session::write::{native_line, promptkit_line, write_native};

const PK_STARTED: &str = r#"{"seq":3,"parent_id":null,"event":{"type":"provider.call.started","timestamp":"2026-02-22T10:15:30.123456789Z","run_id":"run-1","session_id":"session-1","conversation_id":"conv-1","data_type":"*events.ProviderCallStartedData","data":{"Provider":"openai","Model":"gpt-4o","MessageCount":2,"ToolCount":1}}}"#;
const PK_FAILED_NEW: &str = r#"{"seq":9,"event":{"type":"tool.call.failed","timestamp":"2026-08-21T09:00:02.5+02:00","execution_id":"exec-7","sequence":9,"session_id":"s-42","conversation_id":"c-42","user_id":"u-1","data_type":"*events.ToolCallEventData","data":{"ToolName":"search","CallID":"call-9","Duration":250000000,"Error":{}}}}"#;
const NATIVE_STARTED: &str = r#"{"v":1,"seq":3,"parent_id":null,"type":"provider.call.started","timestamp":"2026-02-22T10:15:30.123456789Z","run_id":"run-1","session_id":"session-1","conversation_id":"conv-1","data_type":"*events.ProviderCallStartedData","data":{"provider":"openai","model":"gpt-4o","message_count":2,"tool_count":1}}"#;

fn read(
    text: &str,
    options: ReadOptions,
) -> Vec<Result<tracewire_session::event::SessionEvent, LineError>> {
    read_jsonl(text.as_bytes(), options).collect()
}

#[test]
fn run_id_and_execution_id_both_work() {
    let events: Vec<_> = read(
        &format!("{PK_STARTED}\n{PK_FAILED_NEW}\n"),
        ReadOptions::default(),
    )
    .into_iter()
    .collect::<Result<_, _>>()
    .unwrap();
    assert_eq!(events[0].run_key(), "run-1");
    assert_eq!(events[1].run_key(), "exec-7");
    assert_eq!(events[1].sequence, Some(9));
    assert_eq!(events[1].user_id.as_deref(), Some("u-1"));
    assert_eq!(events[0].format, SourceFormat::PromptKit);
}

#[test]
fn data_type_is_ignored_for_dispatch() {
    let line = PK_STARTED.replace("*events.ProviderCallStartedData", "*events.SomethingElse");
    let events: Vec<_> = read(&line, ReadOptions::default())
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let out =
        tracewire_session::convert::Converter::default().convert_session("session-1", &events);
    assert_eq!(out.spans[1].name, "provider.openai");
}

#[test]
fn unknown_types_are_events_not_errors() {
    let line = PK_STARTED.replace("provider.call.started", "media.uploaded");
    let items = read(
        &format!("{line}\n{line}\n"),
        ReadOptions::default().with_strict(true),
    );
    assert_eq!(items.len(), 2);
    let events: Vec<_> = items.into_iter().map(Result::unwrap).collect();
    let out =
        tracewire_session::convert::Converter::default().convert_session("session-1", &events);
    assert_eq!(out.stats.skipped_by_type.get("media.uploaded"), Some(&2));
}

#[test]
fn malformed_lines_are_counted_with_line_numbers() {
    let input = format!(
        "\u{feff}{PK_STARTED}\n\nnot json\n[1,2]\n{{\"event\":{{\"timestamp\":\"2026-01-01T00:00:00Z\"}}}}\n{}\n{{\"v\":2,\"type\":\"x\"}}\n{{\"foo\":1}}\n{NATIVE_STARTED}\n",
        PK_STARTED.replace("2026-02-22T10:15:30.123456789Z", "yesterday"),
    );
    let mut reader = read_jsonl(input.as_bytes(), ReadOptions::default());
    let events: Vec<_> = reader.by_ref().map(Result::unwrap).collect();
    assert_eq!(events.len(), 2);
    assert_eq!(events[1].line, 9);
    let stats = reader.stats();
    assert_eq!(stats.lines, 9);
    assert_eq!(stats.blank, 1);
    assert_eq!(stats.malformed, 6);
    let lines: Vec<_> = stats.first_malformed.iter().map(|m| m.line).collect();
    assert_eq!(lines, [3, 4, 5, 6, 7, 8]);
    assert!(matches!(
        stats.first_malformed[0].reason,
        MalformedReason::NotJson(_)
    ));
    assert_eq!(stats.first_malformed[1].reason, MalformedReason::NotObject);
    assert_eq!(
        stats.first_malformed[2].reason,
        MalformedReason::MissingType
    );
    assert!(matches!(
        stats.first_malformed[3].reason,
        MalformedReason::BadTimestamp(_)
    ));
    assert!(matches!(
        stats.first_malformed[4].reason,
        MalformedReason::UnsupportedVersion(_)
    ));
    assert_eq!(
        stats.first_malformed[5].reason,
        MalformedReason::UnknownFormat
    );
}

/// How the envelope itself is decoded: duplicate keys, wrong JSON types and the format
/// decision, in both formats.
#[test]
fn envelope_keys_are_decoded_strictly_in_both_formats() {
    use tracewire_session::read::parse_line;
    let reason = |line: &str| parse_line(line, 1).err();
    let pk = |inner: &str| format!(r#"{{"seq":1,"event":{{"type":"x",{inner}}}}}"#);
    let native = |rest: &str| format!(r#"{{"v":1,"type":"x",{rest}}}"#);

    // A duplicate key is malformed, at the top level and inside PromptKit's event.
    for line in [
        pk(r#""run_id":"a","run_id":"b""#),
        native(r#""run_id":"a","run_id":"b""#),
        r#"{"seq":1,"seq":2,"event":{"type":"x"}}"#.to_owned(),
        native(r#""v":1"#),
    ] {
        assert!(
            matches!(reason(&line), Some(MalformedReason::InvalidEnvelope(_))),
            "{line}: {:?}",
            reason(&line)
        );
    }
    // A wrong JSON type names its key.
    for (field, value) in [
        ("run_id", "1"),
        ("execution_id", "[]"),
        ("session_id", "{}"),
        ("conversation_id", "true"),
        ("user_id", "2.5"),
        ("data_type", "7"),
        ("sequence", r#""9""#),
    ] {
        let inner = format!(r#""{field}":{value}"#);
        for line in [pk(&inner), native(&inner)] {
            assert_eq!(
                reason(&line),
                Some(MalformedReason::BadEnvelopeField(field)),
                "{line}"
            );
        }
    }
    assert_eq!(
        reason(r#"{"seq":-1,"event":{"type":"x"}}"#),
        Some(MalformedReason::BadEnvelopeField("seq"))
    );
    for line in [r#"{"event":{"type":1}}"#, r#"{"v":1,"type":1}"#] {
        assert_eq!(reason(line), Some(MalformedReason::MissingType), "{line}");
    }
    assert!(matches!(
        reason(&native(r#""timestamp":5"#)),
        Some(MalformedReason::BadTimestamp(_))
    ));
    // Explicit nulls: an absent timestamp, a kept `parent_id`, an unsupported `v`.
    let e = parse_line(
        r#"{"v":1,"type":"x","timestamp":null,"parent_id":null,"data":null}"#,
        1,
    )
    .unwrap();
    assert_eq!(e.parent_id, Some(Value::Null));
    assert_eq!(e.data, Some(Value::Null));
    assert_eq!(
        reason(r#"{"v":null,"type":"x"}"#),
        Some(MalformedReason::UnsupportedVersion("null".into()))
    );
    // `event` that is not an object: native if there is a `v`, else neither format.
    let e = parse_line(r#"{"v":1,"event":[1,{"a":2}],"type":"x"}"#, 1).unwrap();
    assert_eq!(e.format, SourceFormat::Native);
    assert_eq!(
        reason(r#"{"event":"x","type":"x"}"#),
        Some(MalformedReason::UnknownFormat)
    );
    // PromptKit's event wins over `v`; top-level envelope keys of a PromptKit line are ignored.
    let e = parse_line(r#"{"v":9,"type":"top","event":{"type":"inner"}}"#, 1).unwrap();
    assert_eq!(
        (e.format, e.event_type.as_str()),
        (SourceFormat::PromptKit, "inner")
    );
}

#[test]
fn malformed_lines_are_errors_only_under_strict() {
    let input = format!("{PK_STARTED}\nnot json\n{PK_STARTED}\n");
    let lenient = read(&input, ReadOptions::default());
    assert_eq!(lenient.len(), 2);
    assert!(lenient.iter().all(Result::is_ok));
    let strict = read(&input, ReadOptions::default().with_strict(true));
    assert_eq!(strict.len(), 3);
    assert!(matches!(
        strict[1],
        Err(LineError::Malformed { line: 2, .. })
    ));
    assert!(read_all(input.as_bytes(), ReadOptions::default().with_strict(true)).is_err());
}

#[test]
fn only_first_ten_malformed_lines_are_kept() {
    let input = "x\n".repeat(25);
    let mut reader = read_jsonl(input.as_bytes(), ReadOptions::default());
    assert_eq!(reader.by_ref().count(), 0);
    assert_eq!(reader.stats().malformed, 25);
    assert_eq!(reader.stats().first_malformed.len(), 10);
}

#[test]
fn overlong_line_is_malformed_and_the_next_line_still_reads() {
    let long = format!("{{\"pad\":\"{}\"}}", "a".repeat(600));
    let input = format!("{long}\n{PK_STARTED}\n");
    let mut reader = read_jsonl(
        input.as_bytes(),
        ReadOptions::default().with_max_line_bytes(400),
    );
    let events: Vec<_> = reader.by_ref().map(Result::unwrap).collect();
    assert_eq!(events.len(), 1);
    assert_eq!(
        reader.stats().first_malformed[0].reason,
        MalformedReason::TooLong { limit: 400 }
    );
}

#[test]
fn native_round_trip_is_byte_identical() {
    let event = read(NATIVE_STARTED, ReadOptions::default())
        .pop()
        .unwrap()
        .unwrap();
    assert_eq!(event.format, SourceFormat::Native);
    assert_eq!(native_line(&event), NATIVE_STARTED);
    // The same event read from PromptKit form writes the same native line.
    let pk = read(PK_STARTED, ReadOptions::default())
        .pop()
        .unwrap()
        .unwrap();
    assert_eq!(native_line(&pk), NATIVE_STARTED);
}

#[test]
fn promptkit_native_promptkit_is_value_equal() {
    let extra = r#"{"seq":5,"parent_id":"p-7","event":{"type":"tool.call.completed","timestamp":"2026-08-21T09:00:02.500+02:00","execution_id":"exec-7","sequence":9,"session_id":"s-42","data_type":"*events.ToolCallEventData","data":{"ToolName":"search","CallID":"call-9","Duration":250000000,"Status":"success","Unknown":{"x":[1,2]},"extra":"literal"}}}"#;
    for line in [PK_STARTED, PK_FAILED_NEW, extra] {
        let event = read(line, ReadOptions::default()).pop().unwrap().unwrap();
        let native = native_line(&event);
        let back = read(&native, ReadOptions::default())
            .pop()
            .unwrap()
            .unwrap();
        let again = promptkit_line(&back);
        let want: Value = serde_json::from_str(line).unwrap();
        let got: Value = serde_json::from_str(&again).unwrap();
        assert_eq!(got, want, "native was {native}");
    }
    // `{}` errors, extra keys and the timestamp text are visible in the native form.
    let event = read(extra, ReadOptions::default()).pop().unwrap().unwrap();
    let native: Value = serde_json::from_str(&native_line(&event)).unwrap();
    assert_eq!(native["data"]["duration_ns"], 250000000);
    assert_eq!(native["data"]["extra"]["Unknown"]["x"][1], 2);
    assert_eq!(native["timestamp"], "2026-08-21T09:00:02.500+02:00");
    let failed = read(PK_FAILED_NEW, ReadOptions::default())
        .pop()
        .unwrap()
        .unwrap();
    let native: Value = serde_json::from_str(&native_line(&failed)).unwrap();
    assert_eq!(native["data"]["error"], serde_json::json!({}));
}

#[test]
fn group_by_session_keeps_order_per_session() {
    let input = format!("{PK_STARTED}\n{PK_FAILED_NEW}\n{PK_STARTED}\n");
    let events: Vec<_> = read(&input, ReadOptions::default())
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let groups = group_by_session(events);
    assert_eq!(groups.keys().collect::<Vec<_>>(), ["s-42", "session-1"]);
    let lines: Vec<_> = groups["session-1"].iter().map(|e| e.line).collect();
    assert_eq!(lines, [1, 3]);
}

#[test]
fn sample_recording_reads_without_malformed_lines_and_round_trips() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/data/session.jsonl"
    );
    let text = std::fs::read_to_string(path).unwrap();
    let (events, stats) =
        read_all(text.as_bytes(), ReadOptions::default().with_strict(true)).unwrap();
    assert_eq!(stats.malformed, 0);
    assert_eq!(events.len() as u64, stats.events);
    let mut native = Vec::new();
    write_native(&mut native, &events).unwrap();
    let (again, _) = read_all(native.as_slice(), ReadOptions::default().with_strict(true)).unwrap();
    for (a, b) in events.iter().zip(&again) {
        let pa: Value = serde_json::from_str(&promptkit_line(a)).unwrap();
        let pb: Value = serde_json::from_str(&promptkit_line(b)).unwrap();
        assert_eq!(pa, pb);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Arbitrary bytes never panic; every line is an event, blank or malformed.
    #[test]
    fn reading_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let mut reader = read_jsonl(bytes.as_slice(), ReadOptions::default().with_max_line_bytes(64));
        let n = reader.by_ref().count() as u64;
        let s = reader.stats();
        prop_assert_eq!(n, s.events);
        prop_assert_eq!(s.lines, s.events + s.blank + s.malformed);
    }

    /// A line parsed in place from the input's buffer and one assembled across refills of a
    /// small buffer read the same: same events, errors and counts (bytes, BOM, blank lines,
    /// over-long lines and a last line without newline included).
    #[test]
    fn small_input_buffers_read_the_same(
        lines in proptest::collection::vec(
            prop_oneof![
                Just(PK_STARTED.to_owned()),
                Just(PK_FAILED_NEW.to_owned()),
                Just(NATIVE_STARTED.to_owned()),
                Just("x".repeat(500)),
                "[ -~\t]{0,40}",
            ],
            0..8,
        ),
        bom in any::<bool>(),
        trailing_newline in any::<bool>(),
        capacity in 1usize..600,
        strict in any::<bool>(),
    ) {
        let mut text = if bom { "\u{feff}".to_owned() } else { String::new() };
        text.push_str(&lines.join("\n"));
        if trailing_newline {
            text.push('\n');
        }
        let options = ReadOptions::default().with_max_line_bytes(400).with_strict(strict);
        let read_with = |input: &mut dyn std::io::BufRead| {
            let mut reader = read_jsonl(input, options.clone());
            let items: Vec<_> = reader.by_ref().map(|r| r.map_err(|e| e.to_string())).collect();
            (items, reader.into_stats())
        };
        let whole = read_with(&mut text.as_bytes());
        let small = read_with(&mut std::io::BufReader::with_capacity(capacity, text.as_bytes()));
        prop_assert_eq!(&whole, &small);
        prop_assert_eq!(whole.1.bytes, text.len() as u64);
    }

    /// Mutated PromptKit lines never panic and, when read, round-trip through native form.
    #[test]
    fn promptkit_lines_round_trip(
        provider in "[a-z<>&\u{2028}]{0,8}",
        tokens in any::<i64>(),
        cost in any::<f64>().prop_filter("finite", |f| f.is_finite()),
        extra_key in "[A-Za-z]{1,6}",
        seq in any::<u64>(),
    ) {
        let line = serde_json::json!({"seq": seq, "parent_id": null, "event": {
            "type": "provider.call.completed", "timestamp": "2026-02-22T10:15:31.357456789Z",
            "run_id": "run-1", "session_id": "s",
            "data": {"Provider": provider, "InputTokens": tokens, "Cost": cost, extra_key.clone(): {"k": [1]}}}});
        let text = line.to_string();
        let event = read(&text, ReadOptions::default()).pop().unwrap().unwrap();
        let back = read(&native_line(&event), ReadOptions::default()).pop().unwrap().unwrap();
        let got: Value = serde_json::from_str(&promptkit_line(&back)).unwrap();
        prop_assert_eq!(got, line);
    }
}
