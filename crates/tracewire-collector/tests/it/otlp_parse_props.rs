//! Property tests of the OTLP receiver's parser: every span of a request is either accepted
//! (ids, times, kind, status and service.name preserved) or counted as rejected; protobuf and
//! JSON encodings of the same request parse to the same spans; arbitrary bytes never panic.
#![cfg(all(feature = "otlp", feature = "fuzzing"))]

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use proptest::prelude::*;
use prost::Message;
use tracewire_collector::__fuzz::parse_export_request;
use tracewire_collector::otlp::Encoding;
use tracewire_collector::WireTraceId;

fn span_strategy() -> impl Strategy<Value = Span> {
    (
        prop_oneof![Just(0u128), 1u128..u128::MAX],
        prop_oneof![Just(0u64), 1u64..u64::MAX],
        0u64..1 << 62,
        0u64..1_000_000_000,
        0i32..6,
        any::<bool>(),
    )
        .prop_map(|(t, s, start, dur, kind, backwards)| Span {
            trace_id: t.to_be_bytes().to_vec(),
            span_id: s.to_be_bytes().to_vec(),
            name: "op".into(),
            kind,
            start_time_unix_nano: start,
            end_time_unix_nano: if backwards && dur > 0 {
                start.saturating_sub(dur)
            } else {
                start + dur
            },
            ..Default::default()
        })
}

fn request(spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![KeyValue {
                    key: "service.name".into(),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::StringValue("svc".into())),
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn valid(s: &Span) -> bool {
    s.trace_id.iter().any(|&b| b != 0)
        && s.span_id.iter().any(|&b| b != 0)
        && s.end_time_unix_nano >= s.start_time_unix_nano
}

proptest! {
    #[test]
    fn every_span_is_accepted_or_counted(spans in proptest::collection::vec(span_strategy(), 0..40)) {
        let req = request(spans.clone());
        let parsed = parse_export_request(Encoding::Protobuf, &req.encode_to_vec(), false).unwrap();
        let expected: Vec<&Span> = spans.iter().filter(|s| valid(s)).collect();
        prop_assert_eq!(parsed.spans.len() + parsed.rejected as usize, spans.len());
        prop_assert_eq!(parsed.spans.len(), expected.len());
        for (got, want) in parsed.spans.iter().zip(expected) {
            let mut t = [0u8; 16];
            t.copy_from_slice(&want.trace_id);
            prop_assert_eq!(got.trace_id, WireTraceId::w3c(u128::from_be_bytes(t)));
            prop_assert_eq!(got.start.as_unix_nanos() as u64, want.start_time_unix_nano);
            prop_assert_eq!(got.duration.as_nanos() as u64, want.end_time_unix_nano - want.start_time_unix_nano);
            prop_assert_eq!(got.attrs.get("service.name").map(String::as_str), Some("svc"));
        }
        // The JSON encoding of the same request parses to the same spans.
        let json = serde_json::to_vec(&req).unwrap();
        let from_json = parse_export_request(Encoding::Json, &json, false).unwrap();
        prop_assert_eq!(from_json, parsed);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        for format in [Encoding::Protobuf, Encoding::Json] {
            for gzip in [false, true] {
                let _ = parse_export_request(format, &data, gzip);
            }
        }
    }
}
