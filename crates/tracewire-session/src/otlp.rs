//! Mapping of the span model to OTLP (spec §5): the proto request, its two wire encodings
//! (protobuf via prost, OTLP/JSON via opentelemetry-proto's serde) and the
//! `opentelemetry_sdk` [`SpanData`] view.
//!
//! Nothing here writes protobuf or OTLP JSON by hand: both encodings come from the
//! `opentelemetry-proto` message types.

use std::borrow::Cow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{
    SpanContext, SpanId as OtelSpanId, SpanKind as OtelSpanKind, Status as OtelStatus, TraceFlags,
    TraceId as OtelTraceId, TraceState,
};
use opentelemetry::InstrumentationScope;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    any_value, AnyValue, ArrayValue, InstrumentationScope as ProtoScope, KeyValue as ProtoKeyValue,
    KeyValueList,
};
use opentelemetry_proto::tonic::trace::v1::{
    span::Event as ProtoEvent, ResourceSpans, ScopeSpans, Span as ProtoSpan, Status as ProtoStatus,
};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
use prost::Message;

use crate::resource::Resource;
use crate::span::{Attributes, KeyValue, Span, SpanKind, StatusCode, Value, IS_REMOTE};

/// Name of this crate's instrumentation scope.
pub const SCOPE_NAME: &str = "tracewire-session";

/// The instrumentation scope written on exported spans.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Scope {
    /// Scope name.
    pub name: String,
    /// Scope version.
    pub version: String,
}

impl Scope {
    /// A scope with any name and version.
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            version: version.into(),
        }
    }

    /// `tracewire-session` at this crate's version (the default).
    pub fn tracewire() -> Self {
        Self::new(SCOPE_NAME, env!("CARGO_PKG_VERSION"))
    }

    /// `promptkit-telemetry` / `1.0.0`, as PromptKit's batch converter writes it.
    pub fn promptkit() -> Self {
        Self::new("promptkit-telemetry", "1.0.0")
    }

    /// The proto instrumentation scope.
    pub fn to_proto(&self) -> ProtoScope {
        ProtoScope {
            name: self.name.clone(),
            version: self.version.clone(),
            attributes: Vec::new(),
            dropped_attributes_count: 0,
        }
    }

    /// The OpenTelemetry API instrumentation scope.
    pub fn to_otel(&self) -> InstrumentationScope {
        InstrumentationScope::builder(self.name.clone())
            .with_version(self.version.clone())
            .build()
    }
}

impl Default for Scope {
    fn default() -> Self {
        Self::tracewire()
    }
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
            resource: Some(resource.to_proto()),
            scope_spans: vec![ScopeSpans {
                scope: Some(scope.to_proto()),
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
        Value::String(s) => any_value::Value::StringValue(s.clone()),
        Value::Bool(b) => any_value::Value::BoolValue(*b),
        Value::Int(i) => any_value::Value::IntValue(*i),
        Value::Double(d) if d.is_finite() => any_value::Value::DoubleValue(*d),
        Value::Double(d) => any_value::Value::StringValue(non_finite_text(*d).to_owned()),
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

fn non_finite_text(d: f64) -> &'static str {
    if d.is_nan() {
        "NaN"
    } else if d > 0.0 {
        "Infinity"
    } else {
        "-Infinity"
    }
}

/// Converts a value to the OpenTelemetry API value: scalars map directly, homogeneous arrays
/// of scalars to `opentelemetry::Array`, anything else (mixed arrays, `KvList`, `Bytes`) to
/// the OTLP/JSON text of its `AnyValue`.
pub fn to_otel_value(value: &Value) -> opentelemetry::Value {
    use opentelemetry::{Array, StringValue};
    match value {
        Value::String(s) => opentelemetry::Value::String(s.clone().into()),
        Value::Bool(b) => opentelemetry::Value::Bool(*b),
        Value::Int(i) => opentelemetry::Value::I64(*i),
        Value::Double(d) if d.is_finite() => opentelemetry::Value::F64(*d),
        Value::Double(d) => opentelemetry::Value::String(non_finite_text(*d).into()),
        Value::Array(items) => {
            let homogeneous = match items.first() {
                None => Some(Array::String(Vec::new())),
                Some(Value::Bool(_)) => items
                    .iter()
                    .map(Value::as_bool)
                    .collect::<Option<Vec<_>>>()
                    .map(Array::Bool),
                Some(Value::Int(_)) => items
                    .iter()
                    .map(Value::as_i64)
                    .collect::<Option<Vec<_>>>()
                    .map(Array::I64),
                Some(Value::Double(_)) => items
                    .iter()
                    .map(|v| v.as_f64().filter(|d| d.is_finite()))
                    .collect::<Option<Vec<_>>>()
                    .map(Array::F64),
                Some(Value::String(_)) => items
                    .iter()
                    .map(|v| v.as_str().map(|s| StringValue::from(s.to_owned())))
                    .collect::<Option<Vec<_>>>()
                    .map(Array::String),
                Some(_) => None,
            };
            homogeneous.map_or_else(|| json_text(value), opentelemetry::Value::Array)
        }
        Value::Bytes(_) | Value::KvList(_) => json_text(value),
    }
}

fn json_text(value: &Value) -> opentelemetry::Value {
    // Serialising a proto AnyValue cannot fail (no maps with non-string keys, and
    // non-finite doubles were already turned into strings); fall back to Display anyway.
    let text = serde_json::to_string(&to_any_value(value)).unwrap_or_else(|_| value.to_string());
    opentelemetry::Value::String(text.into())
}

/// Converts a span to the `opentelemetry_sdk` [`SpanData`] (for SDK exporters and
/// processors), under the given instrumentation scope.
pub fn to_span_data(span: &Span, scope: &Scope) -> SpanData {
    let trace_state = span.trace_state.parse::<TraceState>().unwrap_or_default();
    let span_context = SpanContext::new(
        OtelTraceId::from_bytes(span.trace_id.to_bytes()),
        OtelSpanId::from_bytes(span.span_id.to_bytes()),
        TraceFlags::new(span.trace_flags()),
        false,
        trace_state,
    );
    let mut events = SpanEvents::default();
    events.events = span
        .events
        .iter()
        .map(|e| {
            opentelemetry::trace::Event::new(
                e.name.clone(),
                unix_nanos_to_system_time(e.time_unix_nano),
                to_otel_attributes(&e.attributes),
                0,
            )
        })
        .collect();
    SpanData {
        span_context,
        parent_span_id: span.parent_span_id.map_or(OtelSpanId::INVALID, |p| {
            OtelSpanId::from_bytes(p.to_bytes())
        }),
        parent_span_is_remote: span.flags & IS_REMOTE != 0,
        span_kind: match span.kind {
            SpanKind::Server => OtelSpanKind::Server,
            SpanKind::Client => OtelSpanKind::Client,
            SpanKind::Producer => OtelSpanKind::Producer,
            SpanKind::Consumer => OtelSpanKind::Consumer,
            SpanKind::Unspecified | SpanKind::Internal => OtelSpanKind::Internal,
        },
        name: Cow::Owned(span.name.clone()),
        start_time: unix_nanos_to_system_time(span.start_time_unix_nano),
        end_time: unix_nanos_to_system_time(span.end_time_unix_nano),
        attributes: to_otel_attributes(&span.attributes),
        dropped_attributes_count: 0,
        events,
        links: SpanLinks::default(),
        status: match span.status.code {
            StatusCode::Unset => OtelStatus::Unset,
            StatusCode::Ok => OtelStatus::Ok,
            StatusCode::Error => OtelStatus::error(span.status.message.clone()),
        },
        instrumentation_scope: scope.to_otel(),
    }
}

fn to_otel_attributes(attrs: &Attributes) -> Vec<opentelemetry::KeyValue> {
    attrs
        .iter()
        .map(|kv| opentelemetry::KeyValue::new(kv.key.clone(), to_otel_value(&kv.value)))
        .collect()
}

fn unix_nanos_to_system_time(nanos: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(nanos)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::span::{SpanEvent, Status, HAS_IS_REMOTE};
    use tracewire_context::{SpanId, TraceId};

    fn sample() -> Span {
        let mut s = Span::new(
            TraceId::from_u128(0x0af7651916cd43dd8448eb211c80319c),
            SpanId::from_u64(0xb7ad6b7169203331),
            "provider.openai",
            SpanKind::Client,
            1_000,
            2_000,
        );
        s.parent_span_id = Some(SpanId::from_u64(1));
        s.flags = 0x01 | HAS_IS_REMOTE | IS_REMOTE;
        s.attributes.insert("gen_ai.usage.input_tokens", 100i64);
        s.attributes.insert("provider.cost", 0.5f64);
        s.attributes.insert("nan", f64::NAN);
        s.events.push(SpanEvent::new("gen_ai.user.message", 1_500));
        s.status = Status::error("boom");
        s
    }

    #[test]
    fn otlp_proto_mapping() {
        let req = to_request(&[sample()], &Resource::promptkit(), &Scope::promptkit());
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

    #[test]
    fn span_data_mapping() {
        let d = to_span_data(&sample(), &Scope::default());
        assert!(d.parent_span_is_remote);
        assert!(d.span_context.is_sampled());
        assert!(!d.span_context.is_remote());
        assert_eq!(d.span_kind, OtelSpanKind::Client);
        assert_eq!(d.events.len(), 1);
        let mut s = sample();
        s.parent_span_id = None;
        s.kind = SpanKind::Unspecified;
        let d = to_span_data(&s, &Scope::default());
        assert_eq!(d.parent_span_id, OtelSpanId::INVALID);
        assert_eq!(d.span_kind, OtelSpanKind::Internal);
    }

    #[test]
    fn otel_value_arrays() {
        let v = to_otel_value(&Value::Array(vec![Value::from("a"), Value::from("b")]));
        assert!(matches!(
            v,
            opentelemetry::Value::Array(opentelemetry::Array::String(_))
        ));
        let v = to_otel_value(&Value::Array(vec![Value::from("a"), Value::Int(1)]));
        assert!(matches!(v, opentelemetry::Value::String(_)));
    }
}
