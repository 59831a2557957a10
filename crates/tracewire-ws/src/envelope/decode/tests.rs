use super::*;
use crate::envelope::{encode, Fields, Format};

const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const MAX: usize = 1 << 20;

fn text(s: &str) -> Message {
    Message::text(s.to_owned())
}

fn ok(m: &Message) -> Decoded<'_> {
    decode(m, MAX).unwrap_or_else(|e| panic!("{m:?}: {e}"))
}

fn reason(m: &Message) -> (EnvelopeKind, Malformed) {
    match decode(m, MAX) {
        Err(Error::MalformedEnvelope { format, reason }) => (format, reason),
        other => panic!("{m:?}: expected MalformedEnvelope, got {other:?}"),
    }
}

fn ptr(m: &Message) -> *const u8 {
    match m {
        Message::Text(t) => t.as_str().as_ptr(),
        Message::Binary(b) => b.as_ptr(),
        _ => std::ptr::null(),
    }
}

#[test]
fn passthrough_keeps_the_same_bytes() {
    let mut inputs: Vec<Message> = [
        "not json",
        "[1,2]",
        "42",
        "\"s\"",
        "{}",
        "{\"x\":1}",
        "{\"headers\":{}}",
        "{\"header\":{},\"data\":1,\"id\":2}",
        "{\"tracestate\":\"a=b\",\"x\":1}",
        "{\"headers\":{},\"payload\":\"\",\"x\":1}",
        "{\"traceparent\":1}",
        "{broken",
        "{} trailing",
        "",
    ]
    .iter()
    .map(|s| text(s))
    .collect();
    inputs.push(Message::binary(vec![b'{', 0xff, 0xfe, b'}']));
    inputs.push(Message::binary(vec![0x80, 0x00, 0xc3]));
    inputs.push(Message::Ping(Bytes::from_static(b"{}")));
    for m in &inputs {
        let d = ok(m);
        assert_eq!(d.kind(), EnvelopeKind::None, "{m:?}");
        assert!(d.fields().is_empty());
        assert_eq!(d.message(), m);
        assert_eq!(ptr(d.message()), ptr(m), "{m:?} was copied");
    }
}

#[test]
fn seed_vectors_decode() {
    let m = text(&format!(
        r#"{{"headers":{{"baggage":"user.id=42","traceparent":"{TP}","tracestate":"vendor=opaque"}},"payload":"aGVsbG8="}}"#
    ));
    let d = ok(&m);
    assert_eq!(d.kind(), EnvelopeKind::Seed);
    assert_eq!(d.message(), &text("hello"));
    assert_eq!(d.fields().get("baggage"), Some("user.id=42"));
    assert_eq!(d.fields().get("traceparent"), Some(TP));

    let null = Message::binary(
        format!(r#"{{"payload":null, "headers":{{"traceparent":"{TP}"}}}}"#).into_bytes(),
    );
    let d = ok(&null);
    assert_eq!(d.kind(), EnvelopeKind::Seed);
    assert_eq!(d.message(), &Message::binary(Vec::new()));

    let unpadded = text(r#"{"headers":{},"payload":"aGVsbG8"}"#);
    assert_eq!(ok(&unpadded).message(), &text("hello"));
    let escaped = Message::binary(&br#"{"headers":{},"payload":"a\/8="}"#[..]);
    assert_eq!(ok(&escaped).message(), &Message::binary(vec![0x6b, 0xff]));
}

#[test]
fn malformed_envelopes_name_the_reason() {
    use EnvelopeKind::{OtelWs, Seed};
    let cases: Vec<(Message, (EnvelopeKind, Malformed))> = vec![
        (
            text(r#"{"headers":{},"payload":"@@"}"#),
            (Seed, Malformed::Base64),
        ),
        (
            text(r#"{"headers":{},"payload":"aGVsbG8_"}"#),
            (Seed, Malformed::Base64),
        ),
        (
            text(r#"{"headers":{},"payload":"aGVs bG8="}"#),
            (Seed, Malformed::Base64),
        ),
        (
            text(r#"{"headers":{},"payload":123}"#),
            (Seed, Malformed::PayloadType),
        ),
        (
            text(r#"{"headers":[],"payload":""}"#),
            (Seed, Malformed::Headers),
        ),
        (
            text(r#"{"headers":{"a":1},"payload":""}"#),
            (Seed, Malformed::Headers),
        ),
        (
            text(r#"{"header":"x","data":1}"#),
            (OtelWs, Malformed::Headers),
        ),
        (
            text(r#"{"header":{},"data":"\ud800"}"#),
            (OtelWs, Malformed::Escape),
        ),
        (
            text(r#"{"header":{},"data":1,"data":2}"#),
            (OtelWs, Malformed::DuplicateKey),
        ),
        (
            text(r#"{"headers":{},"payload":"","headers":{}}"#),
            (Seed, Malformed::DuplicateKey),
        ),
        // "/w==" decodes to 0xff: not UTF-8 in a Text frame.
        (
            text(r#"{"headers":{},"payload":"/w=="}"#),
            (Seed, Malformed::Utf8),
        ),
    ];
    for (m, want) in &cases {
        assert_eq!(reason(m), *want, "{m:?}");
    }
    // The same Seed payload in a Binary frame is fine.
    let bin = Message::binary(&br#"{"headers":{},"payload":"/w=="}"#[..]);
    assert_eq!(ok(&bin).message(), &Message::binary(vec![0xff]));
}

#[test]
fn otel_ws_data_is_raw_or_unescaped() {
    let cases = [
        (
            r#"{"header":{},"data":{"b":1, "a":[1,2]}}"#,
            r#"{"b":1, "a":[1,2]}"#,
        ),
        (r#"{"header":{},"data":"hello"}"#, "hello"),
        (r#"{"header":{},"data":"\"hello\""}"#, r#""hello""#),
        (r#"{"header":{},"data":""}"#, ""),
        (r#"{"header":{},"data":1e400}"#, "1e400"),
        (r#"{"data" : [ 1 ] , "header" : { }}"#, "[ 1 ]"),
        (
            r#"{"header":{},"data":{"x":"\u003c"}}"#,
            r#"{"x":"\u003c"}"#,
        ),
        (r#"{"header":{},"data":"a\u2028b"}"#, "a\u{2028}b"),
    ];
    for (wire, payload) in cases {
        let m = text(wire);
        let d = ok(&m);
        assert_eq!(d.kind(), EnvelopeKind::OtelWs, "{wire}");
        assert_eq!(d.message(), &text(payload), "{wire}");
    }
}

#[test]
fn otel_ws_unescaped_data_is_a_sub_slice() {
    let m = Message::binary(&br#"{"header":{},"data":{"k":"v"}}"#[..]);
    let d = ok(&m);
    assert_eq!(d.message(), &Message::binary(&br#"{"k":"v"}"#[..]));
    assert_eq!(ptr(d.message()), unsafe_free_offset(&m, 20));
}

fn unsafe_free_offset(m: &Message, n: usize) -> *const u8 {
    ptr(m).wrapping_add(n)
}

#[test]
fn legacy_flat_strips_trace_members() {
    let cases = [
        (
            format!(r#"{{"traceparent":"{TP}","tracestate":"a=b","a":1,"b":{{"c":[2]}}}}"#),
            r#"{"a":1,"b":{"c":[2]}}"#,
        ),
        (format!(r#"{{"traceparent":"{TP}"}}"#), "{}"),
        (
            format!(r#"{{"traceparent":"{TP}","data":{{"x":1}}}}"#),
            r#"{"data":{"x":1}}"#,
        ),
        (
            format!(r#"{{ "a" : 1 , "traceparent" : "{TP}" , "k\"e:y" : [ 1 ] }}"#),
            r#"{"a":1,"k\"e:y":[ 1 ]}"#,
        ),
    ];
    for (wire, payload) in &cases {
        let m = text(wire);
        let d = ok(&m);
        assert_eq!(d.kind(), EnvelopeKind::LegacyFlat, "{wire}");
        assert_eq!(d.message(), &text(payload), "{wire}");
        assert_eq!(d.fields().get("traceparent"), Some(TP));
    }
    let m = text(&format!(
        r#"{{"traceparent":"{TP}","tracestate":"a=b","a":1}}"#
    ));
    let d = ok(&m);
    assert_eq!(d.fields().get("tracestate"), Some("a=b"));
}

#[test]
fn oversized_object_is_an_error_other_text_passes() {
    let big = format!(r#"{{"headers":{{}},"payload":"{}"}}"#, "A".repeat(100));
    assert!(matches!(
        decode(&text(&big), 50),
        Err(Error::EnvelopeTooLarge { max: 50, .. })
    ));
    let plain = "x".repeat(100);
    let m = text(&plain);
    assert_eq!(decode(&m, 50).unwrap().kind(), EnvelopeKind::None);
}

fn round_trip(format: Format, m: &Message) {
    let mut fields = Fields::new();
    fields.insert("traceparent", TP.into());
    let wire = encode(format, m, &fields, usize::MAX).unwrap();
    assert_eq!(
        std::mem::discriminant(&wire),
        std::mem::discriminant(m),
        "opcode changed"
    );
    let d = decode(&wire, usize::MAX).unwrap();
    assert_ne!(d.kind(), EnvelopeKind::None, "{format:?} {m:?}");
    assert_eq!(d.message(), m, "{format:?} {wire:?}");
    assert_eq!(d.fields().get("traceparent"), Some(TP));
}

#[test]
fn every_format_round_trips_exactly() {
    let deep_ok = format!("{}{}", "[".repeat(126), "]".repeat(126));
    let deep_no = format!("{}{}", "[".repeat(127), "]".repeat(127));
    let texts = [
        "hello",
        "\"hello\"",
        " {\"a\":1}",
        "{\"a\":1",
        "\"\"",
        "",
        "\u{1}\u{1f}\t",
        "\u{2028}",
        "😀",
        "{\"b\":1, \"a\":[1,2]}",
        "\"\\u003c\"",
        "1e400",
        "-0",
        "null",
        "true",
        &deep_ok,
        &deep_no,
    ];
    for format in [Format::Seed, Format::OtelWs, Format::Auto] {
        for t in texts {
            round_trip(format, &text(t));
            round_trip(format, &Message::binary(t.as_bytes().to_vec()));
        }
        round_trip(format, &Message::binary(vec![0xff, 0x00, 0x80]));
    }
}

#[test]
fn otel_ws_embeds_json_and_strings_other_text() {
    let f = Fields::new();
    let wire = |s: &str| {
        encode(Format::OtelWs, &text(s), &f, usize::MAX)
            .unwrap()
            .into_text()
            .unwrap()
    };
    assert_eq!(wire("null"), r#"{"header":{},"data":null}"#);
    assert_eq!(wire("\"hi\""), r#"{"header":{},"data":"\"hi\""}"#);
    assert_eq!(wire(""), r#"{"header":{},"data":""}"#);
    let deep = format!("{}{}", "[".repeat(127), "]".repeat(127));
    assert!(wire(&deep).starts_with(r#"{"header":{},"data":"[[["#));
    // Binary: UTF-8 goes as OtelWs, the rest falls back to Seed.
    let bin = encode(
        Format::OtelWs,
        &Message::binary(&b"[1]"[..]),
        &f,
        usize::MAX,
    )
    .unwrap();
    assert_eq!(bin, Message::binary(&br#"{"header":{},"data":[1]}"#[..]));
    let raw = encode(Format::OtelWs, &Message::binary(vec![0xff]), &f, usize::MAX).unwrap();
    assert_eq!(
        raw,
        Message::binary(&br#"{"headers":{},"payload":"/w=="}"#[..])
    );
    let auto = encode(Format::Auto, &Message::binary(&b"[1]"[..]), &f, usize::MAX).unwrap();
    assert_eq!(
        auto,
        Message::binary(&br#"{"headers":{},"payload":"WzFd"}"#[..])
    );
}

mod props {
    use super::super::{otel_ws_fast, Scan};
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn encoder_output_takes_the_otel_ws_fast_path() {
        let mut f = Fields::new();
        f.insert("traceparent", TP.into());
        for payload in [r#"{"op":"sub"}"#, "plain text", "[1, 2]", ""] {
            let wire = encode(Format::OtelWs, &Message::text(payload), &f, MAX).unwrap();
            assert!(otel_ws_fast(wire.to_text().unwrap()).is_some(), "{wire:?}");
        }
    }

    fn any_format() -> impl Strategy<Value = Format> {
        prop_oneof![Just(Format::Seed), Just(Format::OtelWs), Just(Format::Auto)]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256), max in 0usize..512) {
            let _ = decode(&Message::binary(bytes.clone()), max);
            if let Ok(s) = String::from_utf8(bytes) {
                let _ = decode(&Message::text(s), max);
            }
        }

        #[test]
        fn otel_ws_fast_path_agrees_with_serde(
            header in prop_oneof![
                Just(String::from("{}")),
                Just(String::from(r#"{"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}"#)),
                r#"[{}\[\]":,a-z0-9\\ ]{0,24}"#,
            ],
            data in r#"[{}\[\]":,a-z0-9\\ ]{0,48}"#,
            tail in prop_oneof![Just(""), Just(" "), Just("}"), Just(",")],
        ) {
            let text = format!("{{\"header\":{header},\"data\":{data}}}{tail}");
            let fast = otel_ws_fast(&text);
            let scan = serde_json::from_str::<Scan<'_>>(&text).ok();
            if let Some((h, d)) = fast {
                let scan = scan.expect("serde accepts what the fast path accepts");
                prop_assert_eq!(scan.kind(), EnvelopeKind::OtelWs);
                prop_assert_eq!(scan.header.value.map(|v| v.get()), Some(h));
                prop_assert_eq!(scan.data.value.map(|v| v.get()), Some(d));
            } else if tail.is_empty() {
                // The canonical layout with valid values always takes the fast path.
                prop_assert!(scan.is_none_or(|s| s.kind() != EnvelopeKind::OtelWs
                    || s.header.value.map(|v| v.get()) != Some(header.as_str())
                    || s.data.value.map(|v| v.get()) != Some(data.as_str())), "{}", text);
            }
        }

        #[test]
        fn json_like_text_never_panics(s in r#"[{}\[\]":,a-z0-9\\ ]{0,64}"#) {
            let _ = decode(&Message::text(format!("{{\"header\":{{}},\"data\":{s}}}")), MAX);
            let _ = decode(&Message::text(format!("{{\"traceparent\":\"x\",{s}")), MAX);
            let _ = decode(&Message::text(s), MAX);
        }

        #[test]
        fn text_round_trips(s in any::<String>(), format in any_format()) {
            round_trip(format, &Message::text(s));
        }

        #[test]
        fn json_round_trips(v in json_value(), format in any_format()) {
            round_trip(format, &Message::text(v));
        }

        #[test]
        fn binary_round_trips(b in proptest::collection::vec(any::<u8>(), 0..512), format in any_format()) {
            round_trip(format, &Message::binary(b));
        }
    }

    fn json_value() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            Just("null".to_owned()),
            Just("true".to_owned()),
            any::<i64>().prop_map(|n| n.to_string()),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(|f| format!("{f:e}")),
            any::<String>().prop_map(|s| serde_json::to_string(&s).unwrap_or_default()),
        ];
        leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4)
                    .prop_map(|v| format!("[{}]", v.join(", "))),
                proptest::collection::vec(("[a-z\"]{0,4}", inner), 0..4).prop_map(|v| {
                    let members: Vec<String> = v
                        .into_iter()
                        .map(|(k, v)| {
                            format!("{}:{v}", serde_json::to_string(&k).unwrap_or_default())
                        })
                        .collect();
                    format!("{{{}}}", members.join(","))
                }),
            ]
        })
    }
}
