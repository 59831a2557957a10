//! Wire formats over real loopback WebSockets (`docs/wire-formats.md#websocket-envelopes`).

use crate::common::*;
use futures_util::SinkExt;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::{
    SpanContext, SpanId, Status, TraceContextExt, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{Context, KeyValue};
use rand::Rng as _;
use tracewire_ws::{EnvelopeKind, Error, Format, Malformed, Message, Options};

fn tp_context() -> Context {
    let sc = SpanContext::new(
        TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
        SpanId::from_hex("00f067aa0ba902b7").unwrap(),
        TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    );
    Context::new().with_remote_span_context(sc)
}

fn binary_64k() -> Vec<u8> {
    let mut b = vec![0u8; 64 * 1024];
    rand::rng().fill_bytes(&mut b);
    b[0] = 0xff; // never valid UTF-8
    b
}

async fn round_trip_all(format: Option<Format>, messages: &[Message]) {
    let opts = |o: Options| match format {
        Some(f) => o.with_format(f),
        None => o,
    };
    let (mut c, mut s) = traced_pair(opts(Options::default()), opts(Options::default())).await;
    for m in messages {
        c.send(&tp_context(), m.clone()).await.expect("send");
        let r = recv(&mut s).await.expect("recv");
        assert_eq!(r.message(), m, "{format:?}");
        assert_ne!(r.envelope(), EnvelopeKind::None);
        let remote = r.remote_span_context().expect("remote context");
        assert_eq!(
            remote.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
    }
}

#[tokio::test]
async fn seed_round_trip_is_byte_identical() {
    let msgs = [
        Message::text("hello"),
        Message::text(r#"{"a":[1,2]}"#),
        Message::text(""),
        Message::binary(Vec::new()),
        Message::binary(binary_64k()),
    ];
    round_trip_all(None, &msgs).await;
    round_trip_all(Some(Format::Seed), &msgs).await;
}

#[tokio::test]
async fn seed_wire_is_exact_with_sorted_headers() {
    let (mut c, mut raw) = traced_client_raw_server(Options::default()).await;
    let cx = tp_context().with_baggage(vec![KeyValue::new("user.id", "42")]);
    c.send(&cx, Message::text("hello")).await.unwrap();
    assert_eq!(
        raw_next(&mut raw).await,
        Message::text(format!(
            r#"{{"headers":{{"baggage":"user.id=42","traceparent":"{TP}"}},"payload":"aGVsbG8="}}"#
        ))
    );
    c.send(&Context::new(), Message::binary(vec![1, 2, 3]))
        .await
        .unwrap();
    assert_eq!(
        raw_next(&mut raw).await,
        Message::binary(&br#"{"headers":{},"payload":"AQID"}"#[..])
    );
}

#[tokio::test]
async fn otel_ws_embeds_json_verbatim() {
    let deep126 = format!("{}{}", "[".repeat(126), "]".repeat(126));
    let deep127 = format!("{}{}", "[".repeat(127), "]".repeat(127));
    let (mut c, mut raw) =
        traced_client_raw_server(Options::default().with_format(Format::OtelWs)).await;
    for v in [
        r#"{"b":1, "a":[1,2]}"#,
        r#"{"x":"\u003c"}"#,
        r#""\u003c""#,
        "1e400",
        "-0",
        "null",
        "true",
        deep126.as_str(),
    ] {
        c.send(&tp_context(), Message::text(v)).await.unwrap();
        let expect = if v.starts_with('"') {
            // A JSON string literal is not embeddable: it travels as a string.
            format!(
                r#"{{"header":{{"traceparent":"{TP}"}},"data":{}}}"#,
                serde_json::to_string(v).unwrap()
            )
        } else {
            format!(r#"{{"header":{{"traceparent":"{TP}"}},"data":{v}}}"#)
        };
        assert_eq!(raw_next(&mut raw).await, Message::text(expect));
    }
    c.send(&tp_context(), Message::text(deep127.clone()))
        .await
        .unwrap();
    let wire = raw_next(&mut raw).await.into_text().unwrap();
    assert!(
        wire.contains(r#""data":"[[["#),
        "depth 127 must be a string: {}",
        &wire[..80]
    );
    round_trip_all(
        Some(Format::OtelWs),
        &[
            r#"{"b":1, "a":[1,2]}"#,
            r#""\u003c""#,
            "1e400",
            "-0",
            "null",
            "true",
            &deep126,
            &deep127,
        ]
        .map(Message::text),
    )
    .await;
}

#[tokio::test]
async fn otel_ws_text_travels_as_a_json_string() {
    let texts = [
        "hello",
        "\"hello\"",
        " {\"a\":1}",
        "{\"a\":1",
        "\"\"",
        "",
        "\u{0}\u{1}\u{1f}\n",
        "\u{2028}",
        "😀",
    ];
    let (mut c, mut raw) =
        traced_client_raw_server(Options::default().with_format(Format::OtelWs)).await;
    for t in texts {
        c.send(&tp_context(), Message::text(t)).await.unwrap();
        let expect = format!(
            r#"{{"header":{{"traceparent":"{TP}"}},"data":{}}}"#,
            serde_json::to_string(t).unwrap()
        );
        assert_eq!(raw_next(&mut raw).await, Message::text(expect), "{t:?}");
    }
    round_trip_all(Some(Format::OtelWs), &texts.map(Message::text)).await;
}

#[tokio::test]
async fn otel_ws_binary_goes_as_otel_ws_when_utf8_else_as_seed() {
    let (mut c, mut raw) =
        traced_client_raw_server(Options::default().with_format(Format::OtelWs)).await;
    c.send(&tp_context(), Message::binary(&b"[1,2]"[..]))
        .await
        .unwrap();
    assert_eq!(
        raw_next(&mut raw).await,
        Message::binary(
            format!(r#"{{"header":{{"traceparent":"{TP}"}},"data":[1,2]}}"#).into_bytes()
        )
    );
    c.send(&tp_context(), Message::binary(vec![0xff, 0x00]))
        .await
        .unwrap();
    assert_eq!(
        raw_next(&mut raw).await,
        Message::binary(
            format!(r#"{{"headers":{{"traceparent":"{TP}"}},"payload":"/wA="}}"#).into_bytes()
        )
    );
    round_trip_all(
        Some(Format::OtelWs),
        &[
            Message::binary(&b"[1,2]"[..]),
            Message::binary(&b"text"[..]),
            Message::binary(binary_64k()),
        ],
    )
    .await;
}

#[tokio::test]
async fn auto_sends_text_as_otel_ws_and_binary_as_seed() {
    let (mut c, mut raw) =
        traced_client_raw_server(Options::default().with_format(Format::Auto)).await;
    c.send(&tp_context(), Message::text("[1]")).await.unwrap();
    assert_eq!(
        raw_next(&mut raw).await,
        Message::text(format!(
            r#"{{"header":{{"traceparent":"{TP}"}},"data":[1]}}"#
        ))
    );
    c.send(&tp_context(), Message::binary(&b"[1]"[..]))
        .await
        .unwrap();
    assert_eq!(
        raw_next(&mut raw).await,
        Message::binary(
            format!(r#"{{"headers":{{"traceparent":"{TP}"}},"payload":"WzFd"}}"#).into_bytes()
        )
    );
    round_trip_all(
        Some(Format::Auto),
        &[Message::text("x"), Message::binary(binary_64k())],
    )
    .await;
}

#[tokio::test]
async fn passthrough_keeps_bytes_and_opcode() {
    let (mut raw, mut s) = raw_client_traced_server(Options::default()).await;
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
    ]
    .map(Message::text)
    .to_vec();
    inputs.push(Message::binary(vec![0xff, 0xfe, 0x00]));
    for m in &inputs {
        raw.send(m.clone()).await.unwrap();
        let r = recv(&mut s).await.expect("no error for pass-through");
        assert_eq!(r.message(), m);
        assert_eq!(r.envelope(), EnvelopeKind::None);
        assert!(r.remote_span_context().is_none());
    }
}

#[tokio::test]
async fn legacy_flat_form_is_unwrapped() {
    let (mut raw, mut s) = raw_client_traced_server(Options::default()).await;
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
    ];
    for (wire, payload) in cases {
        raw.send(Message::text(wire)).await.unwrap();
        let r = recv(&mut s).await.unwrap();
        assert_eq!(r.message(), &Message::text(payload));
        assert_eq!(r.envelope(), EnvelopeKind::LegacyFlat);
        assert_eq!(
            r.remote_span_context().map(|sc| sc.span_id().to_string()),
            Some("00f067aa0ba902b7".to_owned())
        );
    }
}

#[tokio::test]
async fn invalid_trace_fields_give_payload_without_context() {
    let bad = [
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
    ];
    let (mut raw, mut s) = raw_client_traced_server(Options::default()).await;
    for tp in bad {
        let wires = [
            (
                format!(r#"{{"headers":{{"traceparent":"{tp}"}},"payload":"aGk="}}"#),
                "hi",
                EnvelopeKind::Seed,
            ),
            (
                format!(r#"{{"header":{{"traceparent":"{tp}"}},"data":"hi"}}"#),
                "hi",
                EnvelopeKind::OtelWs,
            ),
            (
                format!(r#"{{"traceparent":"{tp}","a":1}}"#),
                r#"{"a":1}"#,
                EnvelopeKind::LegacyFlat,
            ),
        ];
        for (wire, payload, kind) in wires {
            raw.send(Message::text(wire)).await.unwrap();
            let r = recv(&mut s).await.expect("invalid fields are not an error");
            assert_eq!(r.message(), &Message::text(payload), "{tp}");
            assert_eq!(r.envelope(), kind);
            assert!(r.remote_span_context().is_none(), "{tp} gave a context");
        }
    }
    // A bad tracestate is dropped, the traceparent kept.
    raw.send(Message::text(format!(
        r#"{{"header":{{"traceparent":"{TP}","tracestate":"BAD KEY=1"}},"data":1}}"#
    )))
    .await
    .unwrap();
    let r = recv(&mut s).await.unwrap();
    let sc = r.remote_span_context().expect("traceparent kept");
    assert_eq!(sc.trace_state().header(), "");
    assert_eq!(r.message(), &Message::text("1"));
}

#[tokio::test]
async fn malformed_envelopes_are_errors_and_the_stream_continues() {
    let (mut raw, mut s) = raw_client_traced_server(Options::default()).await;
    let cases = [
        (
            Message::text(r#"{"headers":{},"payload":"@@"}"#),
            EnvelopeKind::Seed,
            Malformed::Base64,
        ),
        (
            Message::text(r#"{"headers":{},"payload":"aGk_"}"#),
            EnvelopeKind::Seed,
            Malformed::Base64,
        ),
        (
            Message::text(r#"{"headers":{},"payload":123}"#),
            EnvelopeKind::Seed,
            Malformed::PayloadType,
        ),
        (
            Message::text(r#"{"headers":[],"payload":""}"#),
            EnvelopeKind::Seed,
            Malformed::Headers,
        ),
        (
            Message::text(r#"{"header":"x","data":1}"#),
            EnvelopeKind::OtelWs,
            Malformed::Headers,
        ),
        (
            Message::text(r#"{"header":{},"data":"\ud800"}"#),
            EnvelopeKind::OtelWs,
            Malformed::Escape,
        ),
        (
            Message::text(r#"{"header":{},"header":{},"data":1}"#),
            EnvelopeKind::OtelWs,
            Malformed::DuplicateKey,
        ),
        (
            Message::text(r#"{"headers":{},"payload":"/w=="}"#),
            EnvelopeKind::Seed,
            Malformed::Utf8,
        ),
    ];
    for (m, format, reason) in cases {
        raw.send(m.clone()).await.unwrap();
        match recv(&mut s).await {
            Err(Error::MalformedEnvelope {
                format: f,
                reason: r,
            }) => {
                assert_eq!((f, r), (format, reason), "{m:?}")
            }
            other => panic!("{m:?}: {other:?}"),
        }
        raw.send(Message::text("next")).await.unwrap();
        assert_eq!(
            recv(&mut s).await.unwrap().message(),
            &Message::text("next")
        );
    }
}

#[tokio::test]
async fn envelope_limits_on_send_and_receive() {
    let spans = Spans::new();
    let (mut c, mut raw) =
        traced_client_raw_server(spans.options().with_max_envelope_size(128)).await;
    let err = c
        .send(&Context::new(), Message::text("x".repeat(100)))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::EnvelopeTooLarge { max: 128, .. }),
        "{err:?}"
    );
    assert!(err.is_message_level());
    c.send(&Context::new(), Message::text("ok")).await.unwrap();
    // Nothing was written for the oversized message: the next frame is the small one.
    let next = raw_next(&mut raw).await.into_text().unwrap();
    assert!(next.ends_with(r#""payload":"b2s="}"#), "{next}");
    let send_spans = spans.named("websocket.send");
    assert_eq!(send_spans.len(), 2);
    assert!(matches!(send_spans[0].status, Status::Error { .. }));
    assert!(!matches!(send_spans[1].status, Status::Error { .. }));

    let (mut raw, mut s) =
        raw_client_traced_server(Options::default().with_max_envelope_size(64)).await;
    let big_object = format!(r#"{{"headers":{{}},"payload":"{}"}}"#, "A".repeat(100));
    raw.send(Message::text(big_object)).await.unwrap();
    assert!(matches!(
        recv(&mut s).await,
        Err(Error::EnvelopeTooLarge { max: 64, .. })
    ));
    let big_text = "y".repeat(100);
    raw.send(Message::text(big_text.clone())).await.unwrap();
    let r = recv(&mut s).await.expect("non-object passes through");
    assert_eq!(r.message(), &Message::text(big_text));
}

#[tokio::test]
async fn client_and_accept_over_a_unix_stream() {
    let dir = std::env::temp_dir().join(format!("tracewire-ws-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ws.sock");
    let _ = std::fs::remove_file(&path);
    let listener = tokio::net::UnixListener::bind(&path).unwrap();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        tracewire_ws::accept(stream, Options::default())
            .await
            .unwrap()
    });
    let stream = tokio::net::UnixStream::connect(&path).await.unwrap();
    let (mut c, _) = tracewire_ws::client("ws://localhost/", stream, Options::default())
        .await
        .unwrap();
    let mut s = server.await.unwrap();
    c.send(&tp_context(), Message::binary(vec![0xff, 1]))
        .await
        .unwrap();
    let r = recv(&mut s).await.unwrap();
    assert_eq!(r.message(), &Message::binary(vec![0xff, 1]));
    assert!(r.remote_span_context().is_some());
    let _ = std::fs::remove_file(&path);
}
