//! The mapping between our span model and `opentelemetry-proto`, in both directions: the
//! export request and its two wire encodings (protobuf via prost, OTLP/JSON via
//! opentelemetry-proto's serde), and the decoding of received requests.
//!
//! This is the only module of the workspace whose public API names `opentelemetry-proto`
//! types, so that a new `opentelemetry-proto` release changes one module: elsewhere they
//! are wrapped (an [`Export`](crate::export::Export) transport receives
//! [`PreparedSpans`](crate::export::PreparedSpans), opened with [`from_prepared`]), and the
//! other crates use `opentelemetry-proto` only in their tests and benchmarks. Nothing here
//! writes protobuf or OTLP/JSON by hand.

mod receive;

pub use receive::{
    decode_request, encode_response, from_any_value, span_from_proto, spans_from_request,
    DecodeError, Encoding, ReceivedSpans, SpanGroup, SpanRejection,
};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    any_value, AnyValue, ArrayValue, InstrumentationScope as ProtoScope, KeyValue as ProtoKeyValue,
    KeyValueList,
};
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
use opentelemetry_proto::tonic::trace::v1::{
    span::Event as ProtoEvent, ResourceSpans, ScopeSpans, Span as ProtoSpan, Status as ProtoStatus,
};
use prost::Message;

use crate::resource::{Resource, Scope};
use crate::span::{Attributes, KeyValue, Span, StatusCode, Value};

/// The OTLP proto resource of `resource` (attributes sorted by key).
pub fn resource_to_proto(resource: &Resource) -> ProtoResource {
    ProtoResource {
        attributes: to_proto_attributes(resource.attributes()),
        dropped_attributes_count: 0,
        entity_refs: Vec::new(),
    }
}

/// The proto instrumentation scope of `scope`.
pub fn scope_to_proto(scope: &Scope) -> ProtoScope {
    ProtoScope {
        name: scope.name.clone(),
        version: scope.version.clone(),
        attributes: Vec::new(),
        dropped_attributes_count: 0,
    }
}

/// Wraps proto span messages as the [`PreparedSpans`](crate::export::PreparedSpans) an
/// [`Export`](crate::export::Export) transport receives (e.g. to drive a transport in a
/// test).
#[cfg(feature = "export")]
pub fn to_prepared(spans: Vec<ProtoSpan>) -> crate::export::PreparedSpans {
    crate::export::PreparedSpans::from_proto(spans)
}

/// The proto span messages of a batch handed to an
/// [`Export`](crate::export::Export) transport, in order.
#[cfg(feature = "export")]
pub fn from_prepared(spans: crate::export::PreparedSpans) -> Vec<ProtoSpan> {
    spans.into_proto()
}

/// Builds the OTLP export request: one `ResourceSpans` (resource attributes sorted) with one
/// `ScopeSpans` holding `spans` in order.
pub fn to_request(spans: &[Span], resource: &Resource, scope: &Scope) -> ExportTraceServiceRequest {
    request_from_proto_spans(spans.iter().map(to_proto_span).collect(), resource, scope)
}

/// Wraps already-converted proto spans in a request (used by the exporter, which converts
/// each span once and then packs batches).
pub(crate) fn request_from_proto_spans(
    spans: Vec<ProtoSpan>,
    resource: &Resource,
    scope: &Scope,
) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(resource_to_proto(resource)),
            scope_spans: vec![ScopeSpans {
                scope: Some(scope_to_proto(scope)),
                spans,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

/// Encodes a request as protobuf (the `http/protobuf` body).
pub fn encode_protobuf(request: &ExportTraceServiceRequest) -> Vec<u8> {
    request.encode_to_vec()
}

/// Encodes a request as compact OTLP/JSON (the `http/json` body), via opentelemetry-proto's
/// serde: hex ids, `*UnixNano` and `intValue` as decimal strings, `kind` as an integer.
pub fn encode_json(request: &ExportTraceServiceRequest) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(request)
}

/// Converts one span to its proto message.
pub fn to_proto_span(span: &Span) -> ProtoSpan {
    into_proto_span(span.clone())
}

/// Converts one span to its proto message, moving its strings.
pub fn into_proto_span(span: Span) -> ProtoSpan {
    ProtoSpan {
        trace_id: span.trace_id.to_bytes().to_vec(),
        span_id: span.span_id.to_bytes().to_vec(),
        trace_state: span.trace_state,
        parent_span_id: span
            .parent_span_id
            .map(|p| p.to_bytes().to_vec())
            .unwrap_or_default(),
        flags: span.flags,
        name: span.name,
        kind: span.kind.as_i32(),
        start_time_unix_nano: span.start_time_unix_nano,
        end_time_unix_nano: span.end_time_unix_nano,
        attributes: into_proto_attributes(span.attributes),
        dropped_attributes_count: 0,
        events: span
            .events
            .into_iter()
            .map(|e| ProtoEvent {
                time_unix_nano: e.time_unix_nano,
                name: e.name,
                attributes: into_proto_attributes(e.attributes),
                dropped_attributes_count: 0,
            })
            .collect(),
        dropped_events_count: 0,
        links: Vec::new(),
        dropped_links_count: 0,
        status: match span.status.code {
            StatusCode::Unset => None,
            StatusCode::Ok => Some(ProtoStatus {
                message: String::new(),
                code: 1,
            }),
            StatusCode::Error => Some(ProtoStatus {
                message: span.status.message,
                code: 2,
            }),
        },
    }
}

/// The protobuf size of one span inside a request (its `encoded_len`); the batch queue
/// accounts bytes with it.
pub fn encoded_span_len(span: &ProtoSpan) -> usize {
    span.encoded_len()
}

pub(crate) fn to_proto_attributes(attrs: &Attributes) -> Vec<ProtoKeyValue> {
    attrs.iter().map(to_proto_key_value).collect()
}

fn into_proto_attributes(attrs: Attributes) -> Vec<ProtoKeyValue> {
    attrs
        .into_iter()
        .map(|kv| ProtoKeyValue {
            value: Some(into_any_value(kv.value)),
            key: kv.key,
            key_strindex: 0,
        })
        .collect()
}

fn into_any_value(value: Value) -> AnyValue {
    match value {
        Value::String(s) => AnyValue {
            value: Some(any_value::Value::StringValue(s)),
        },
        Value::Bytes(b) => AnyValue {
            value: Some(any_value::Value::BytesValue(b)),
        },
        other => to_any_value(&other),
    }
}

fn to_proto_key_value(kv: &KeyValue) -> ProtoKeyValue {
    ProtoKeyValue {
        key: kv.key.clone(),
        value: Some(to_any_value(&kv.value)),
        key_strindex: 0,
    }
}

/// Converts a value to OTLP's `AnyValue`. Non-finite doubles become the strings `NaN`,
/// `Infinity` and `-Infinity`, so protobuf and JSON carry the same thing.
pub fn to_any_value(value: &Value) -> AnyValue {
    let v = match value {
        Value::Empty => return AnyValue { value: None },
        Value::String(s) => any_value::Value::StringValue(s.clone()),
        Value::Bool(b) => any_value::Value::BoolValue(*b),
        Value::Int(i) => any_value::Value::IntValue(*i),
        Value::Double(d) if d.is_finite() => any_value::Value::DoubleValue(*d),
        Value::Double(d) => {
            any_value::Value::StringValue(crate::span::non_finite_text(*d).to_owned())
        }
        Value::Bytes(b) => any_value::Value::BytesValue(b.clone()),
        Value::Array(items) => any_value::Value::ArrayValue(ArrayValue {
            values: items.iter().map(to_any_value).collect(),
        }),
        Value::KvList(kvs) => any_value::Value::KvlistValue(KeyValueList {
            values: kvs.iter().map(to_proto_key_value).collect(),
        }),
    };
    AnyValue { value: Some(v) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Span {
        let mut s = crate::span::sample_span();
        s.attributes.insert("nan", f64::NAN);
        s
    }

    #[test]
    fn otlp_proto_mapping() {
        let req = to_request(
            &[sample()],
            &Resource::empty().with_attribute("service.name", "svc"),
            &Scope::new("promptkit-telemetry", "1.0.0"),
        );
        let rs = &req.resource_spans[0];
        let ss = &rs.scope_spans[0];
        assert_eq!(
            ss.scope.as_ref().map(|s| s.name.as_str()),
            Some("promptkit-telemetry")
        );
        let p = &ss.spans[0];
        assert_eq!(p.trace_id.len(), 16);
        assert_eq!(p.parent_span_id, 1u64.to_be_bytes().to_vec());
        assert_eq!(p.kind, 3);
        assert_eq!(p.status.as_ref().map(|s| s.code), Some(2));
        let nan = p
            .attributes
            .iter()
            .find(|kv| kv.key == "nan")
            .and_then(|kv| kv.value.clone());
        assert_eq!(
            nan.and_then(|v| v.value),
            Some(any_value::Value::StringValue("NaN".into()))
        );
    }

    #[test]
    fn otlp_json_uses_strings_for_int64() {
        let req = to_request(&[sample()], &Resource::empty(), &Scope::default());
        let json = String::from_utf8(encode_json(&req).unwrap_or_default()).unwrap_or_default();
        assert!(json.contains("\"startTimeUnixNano\":\"1000\""), "{json}");
        assert!(json.contains("\"intValue\":\"100\""), "{json}");
        assert!(json.contains("0af7651916cd43dd8448eb211c80319c"), "{json}");
        // Deterministic.
        assert_eq!(encode_json(&req).ok(), encode_json(&req).ok());
    }
}
