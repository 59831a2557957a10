//! Peer golden vectors (`docs/wire-formats.md#interoperability`): decode what the Go/JS peers write, and encode
//! byte-for-byte what they write for the same ids. Vectors: `tests/vectors/peers.json`.

use std::collections::HashMap;

use crate::common::*;
use base64::Engine as _;
use futures_util::SinkExt;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::Context;
use serde_json::Value;
use tracewire_context::otel::CompositePropagator;
use tracewire_ws::{Format, Message, Options};

fn vectors() -> Value {
    serde_json::from_str(include_str!("../vectors/peers.json")).expect("valid vector file")
}

fn payload(v: &Value, frame: &str) -> Message {
    let bytes = match (v.get("payload"), v.get("payload_base64")) {
        (Some(Value::String(s)), _) => s.clone().into_bytes(),
        (_, Some(Value::String(b))) => base64::engine::general_purpose::STANDARD.decode(b).unwrap(),
        _ => panic!("vector without payload: {v}"),
    };
    frame_of(frame, bytes)
}

fn frame_of(frame: &str, bytes: Vec<u8>) -> Message {
    match frame {
        "text" => Message::text(String::from_utf8(bytes).unwrap()),
        "binary" => Message::binary(bytes),
        other => panic!("unknown frame {other}"),
    }
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str()
        .unwrap_or_else(|| panic!("{k} missing in {v}"))
}

#[tokio::test]
async fn peer_vectors_decode_to_their_payload_opcode_and_ids() {
    let all = vectors();
    let (mut raw, mut server) = raw_client_traced_server(Options::default()).await;
    let list = all["decode"].as_array().unwrap();
    assert!(list.len() >= 11);
    for v in list {
        let name = s(v, "name");
        let frame = s(v, "frame");
        raw.send(frame_of(frame, s(v, "wire").as_bytes().to_vec()))
            .await
            .unwrap();
        let r = recv(&mut server)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(r.message(), &payload(v, frame), "{name}");
        assert_eq!(r.envelope().as_str(), s(v, "kind"), "{name}");
        let sc = r
            .remote_span_context()
            .unwrap_or_else(|| panic!("{name}: no context"));
        assert_eq!(sc.trace_id().to_string(), s(v, "trace_id"), "{name}");
        assert_eq!(sc.span_id().to_string(), s(v, "parent_id"), "{name}");
        if let Some(b) = v.get("baggage").and_then(Value::as_str) {
            let (k, val) = b.split_once('=').unwrap();
            let got = r.context().baggage().get(k).map(|x| x.as_str().to_owned());
            assert_eq!(got.as_deref(), Some(val), "{name}");
        }
    }
}

#[tokio::test]
async fn encoding_matches_peers_byte_for_byte() {
    let all = vectors();
    for v in all["encode"].as_array().unwrap() {
        let name = s(v, "name");
        let format = match s(v, "format") {
            "seed" => Format::Seed,
            "otel-ws" => Format::OtelWs,
            other => panic!("{other}"),
        };
        let mut carrier = HashMap::new();
        for k in ["traceparent", "tracestate", "baggage"] {
            if let Some(val) = v.get(k).and_then(Value::as_str) {
                carrier.insert(k.to_owned(), val.to_owned());
            }
        }
        let cx =
            CompositePropagator::w3c_with_baggage().extract_with_context(&Context::new(), &carrier);
        // No provider: the caller's span context is injected unchanged.
        let (mut c, mut raw) =
            traced_client_raw_server(Options::default().with_format(format)).await;
        let frame = s(v, "frame");
        c.send(&cx, payload(v, frame)).await.unwrap();
        assert_eq!(
            raw_next(&mut raw).await,
            frame_of(frame, s(v, "wire").as_bytes().to_vec()),
            "{name}"
        );
    }
}
