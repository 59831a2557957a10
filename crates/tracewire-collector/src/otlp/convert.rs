//! OTLP proto spans ↔ [`CompletedSpan`] (spec §8).

use std::collections::BTreeMap;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::{span, status, Span};

use crate::model::{CompletedSpan, SpanId, SpanKind, Status, StatusCode, Timestamp, TraceId};

/// Why one OTLP span was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SpanRejection {
    TraceId,
    SpanId,
    ParentId,
    Time,
}

impl SpanRejection {
    pub(crate) fn message(self) -> &'static str {
        match self {
            SpanRejection::TraceId => "trace_id must be 16 non-zero bytes",
            SpanRejection::SpanId => "span_id must be 8 non-zero bytes",
            SpanRejection::ParentId => "parent_span_id must be empty or 8 bytes",
            SpanRejection::Time => "end time before start time or out of range",
        }
    }
}

/// An OTLP attribute value as text: scalars as themselves, arrays and maps as JSON, bytes
/// as lowercase hex.
pub(crate) fn any_value_text(v: &AnyValue) -> String {
    match &v.value {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        Some(any_value::Value::BytesValue(b)) => b.iter().map(|x| format!("{x:02x}")).collect(),
        Some(_) => any_value_json(v).to_string(),
        None => String::new(),
    }
}

fn any_value_json(v: &AnyValue) -> serde_json::Value {
    use serde_json::Value as J;
    match &v.value {
        Some(any_value::Value::StringValue(s)) => J::String(s.clone()),
        Some(any_value::Value::BoolValue(b)) => J::Bool(*b),
        Some(any_value::Value::IntValue(i)) => J::from(*i),
        Some(any_value::Value::DoubleValue(d)) => J::from(*d),
        Some(any_value::Value::BytesValue(b)) => {
            J::String(b.iter().map(|x| format!("{x:02x}")).collect())
        }
        Some(any_value::Value::ArrayValue(a)) => {
            J::Array(a.values.iter().map(any_value_json).collect())
        }
        Some(any_value::Value::KvlistValue(kv)) => J::Object(
            kv.values
                .iter()
                .map(|kv| {
                    (
                        kv.key.clone(),
                        kv.value.as_ref().map(any_value_json).unwrap_or(J::Null),
                    )
                })
                .collect(),
        ),
        // Dictionary-encoded strings (profiles only) and future variants.
        Some(_) | None => J::Null,
    }
}

fn attrs_into(out: &mut BTreeMap<String, String>, kvs: &[KeyValue]) {
    for kv in kvs {
        if let Some(v) = &kv.value {
            out.insert(kv.key.clone(), any_value_text(v));
        }
    }
}

fn kind(k: i32) -> SpanKind {
    match span::SpanKind::try_from(k) {
        Ok(span::SpanKind::Server) => SpanKind::Server,
        Ok(span::SpanKind::Client) => SpanKind::Client,
        Ok(span::SpanKind::Producer) => SpanKind::Producer,
        Ok(span::SpanKind::Consumer) => SpanKind::Consumer,
        _ => SpanKind::Internal,
    }
}

/// Converts one proto span; `service_name` (from the resource) is copied into the attrs
/// unless the span has its own.
pub(crate) fn span_from_proto(
    s: &Span,
    service_name: Option<&str>,
) -> Result<CompletedSpan, SpanRejection> {
    let trace_bytes: [u8; 16] = s
        .trace_id
        .as_slice()
        .try_into()
        .map_err(|_| SpanRejection::TraceId)?;
    let trace_id = u128::from_be_bytes(trace_bytes);
    if trace_id == 0 {
        return Err(SpanRejection::TraceId);
    }
    let span_bytes: [u8; 8] = s
        .span_id
        .as_slice()
        .try_into()
        .map_err(|_| SpanRejection::SpanId)?;
    let span_id = u64::from_be_bytes(span_bytes);
    if span_id == 0 {
        return Err(SpanRejection::SpanId);
    }
    let parent_id = match s.parent_span_id.len() {
        0 => None,
        8 => {
            let mut b = [0u8; 8];
            b.copy_from_slice(&s.parent_span_id);
            Some(u64::from_be_bytes(b)).filter(|&p| p != 0).map(SpanId)
        }
        _ => return Err(SpanRejection::ParentId),
    };
    let start = i64::try_from(s.start_time_unix_nano).map_err(|_| SpanRejection::Time)?;
    let end = i64::try_from(s.end_time_unix_nano).map_err(|_| SpanRejection::Time)?;
    if end < start {
        return Err(SpanRejection::Time);
    }
    let mut attrs = BTreeMap::new();
    attrs_into(&mut attrs, &s.attributes);
    if let Some(service) = service_name {
        attrs
            .entry("service.name".to_owned())
            .or_insert_with(|| service.to_owned());
    }
    let status = match &s.status {
        Some(st) => match status::StatusCode::try_from(st.code) {
            Ok(status::StatusCode::Error) => Status {
                code: StatusCode::Error,
                message: (!st.message.is_empty()).then(|| st.message.clone()),
            },
            Ok(status::StatusCode::Ok) => Status {
                code: StatusCode::Ok,
                message: None,
            },
            _ => Status::default(),
        },
        None => Status::default(),
    };
    Ok(CompletedSpan {
        trace_id: TraceId::W3c(trace_id),
        span_id: SpanId(span_id),
        parent_id,
        name: s.name.clone(),
        kind: kind(s.kind),
        start: Timestamp::from_unix_nanos(start),
        end: Timestamp::from_unix_nanos(end),
        duration: Duration::from_nanos((end - start) as u64),
        attrs,
        status,
        seq: 0,
    })
}

/// Every span of a request: the good ones and, per rejected span, why.
pub(crate) fn spans_from_request(
    req: &ExportTraceServiceRequest,
) -> (Vec<CompletedSpan>, Vec<SpanRejection>) {
    let mut good = Vec::new();
    let mut bad = Vec::new();
    for rs in &req.resource_spans {
        let service = rs.resource.as_ref().and_then(|r| {
            r.attributes
                .iter()
                .find(|kv| kv.key == "service.name")
                .and_then(|kv| kv.value.as_ref())
                .map(any_value_text)
        });
        for ss in &rs.scope_spans {
            for s in &ss.spans {
                match span_from_proto(s, service.as_deref()) {
                    Ok(span) => good.push(span),
                    Err(r) => bad.push(r),
                }
            }
        }
    }
    (good, bad)
}

/// Rewrites OTLP/JSON enum names (`"SPAN_KIND_SERVER"`, `"STATUS_CODE_ERROR"`) into the
/// integers the proto types deserialize.
pub(crate) fn normalise_json_enums(v: &mut serde_json::Value) {
    use serde_json::Value as J;
    match v {
        J::Object(map) => {
            if let Some(J::String(name)) = map.get("kind") {
                if let Some(k) = span::SpanKind::from_str_name(name) {
                    map.insert("kind".into(), J::from(k as i32));
                }
            }
            if let Some(J::String(name)) = map.get("code") {
                if let Some(c) = status::StatusCode::from_str_name(name) {
                    map.insert("code".into(), J::from(c as i32));
                }
            }
            for (_, child) in map.iter_mut() {
                normalise_json_enums(child);
            }
        }
        J::Array(items) => items.iter_mut().for_each(normalise_json_enums),
        _ => {}
    }
}
