//! The mapping between our span model and the OpenTelemetry SDK: [`to_span_data`] for SDK
//! exporters and processors, [`from_span_data`] for spans the SDK recorded, and the API
//! forms of values, resources and scopes.

use std::borrow::Cow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{
    SpanContext, SpanId as OtelSpanId, SpanKind as OtelSpanKind, Status as OtelStatus, TraceFlags,
    TraceId as OtelTraceId, TraceState,
};
use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
use tracewire_context::{SpanId, TraceId};

use crate::resource::{Resource, Scope};
use crate::span::{
    Attributes, KeyValue, Span, SpanEvent, SpanKind, Status, StatusCode, Value, HAS_IS_REMOTE,
    IS_REMOTE,
};

impl Resource {
    /// The `opentelemetry_sdk` resource with the same attributes.
    pub fn to_sdk(&self) -> opentelemetry_sdk::Resource {
        opentelemetry_sdk::Resource::builder_empty()
            .with_attributes(
                self.attributes().iter().map(|kv| {
                    opentelemetry::KeyValue::new(kv.key.clone(), to_otel_value(&kv.value))
                }),
            )
            .build()
    }
}

impl crate::config::Sampler {
    /// The `opentelemetry_sdk` sampler of the same name and ratio.
    pub fn to_sdk(&self) -> opentelemetry_sdk::trace::Sampler {
        use crate::config::Sampler as S;
        use opentelemetry_sdk::trace::Sampler as Sdk;
        match *self {
            S::AlwaysOn => Sdk::AlwaysOn,
            S::AlwaysOff => Sdk::AlwaysOff,
            S::TraceIdRatio(r) => Sdk::TraceIdRatioBased(r),
            S::ParentBasedAlwaysOn => Sdk::ParentBased(Box::new(Sdk::AlwaysOn)),
            S::ParentBasedAlwaysOff => Sdk::ParentBased(Box::new(Sdk::AlwaysOff)),
            S::ParentBasedTraceIdRatio(r) => Sdk::ParentBased(Box::new(Sdk::TraceIdRatioBased(r))),
        }
    }
}

impl Scope {
    /// The OpenTelemetry API instrumentation scope.
    pub fn to_sdk(&self) -> InstrumentationScope {
        InstrumentationScope::builder(self.name.clone())
            .with_version(self.version.clone())
            .build()
    }
}

/// Converts a value to the OpenTelemetry API value: scalars map directly, homogeneous arrays
/// of scalars to `opentelemetry::Array`, anything else (mixed arrays, `KvList`, `Bytes`) to
/// its text (see `Value`'s `Display`).
pub fn to_otel_value(value: &Value) -> opentelemetry::Value {
    use opentelemetry::{Array, StringValue};
    match value {
        Value::String(s) => opentelemetry::Value::String(s.clone().into()),
        Value::Bool(b) => opentelemetry::Value::Bool(*b),
        Value::Int(i) => opentelemetry::Value::I64(*i),
        Value::Double(d) if d.is_finite() => opentelemetry::Value::F64(*d),
        Value::Double(d) => opentelemetry::Value::String(crate::span::non_finite_text(*d).into()),
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
            homogeneous.map_or_else(|| text(value), opentelemetry::Value::Array)
        }
        Value::Bytes(_) | Value::KvList(_) | Value::Empty => text(value),
    }
}

/// Values the API has no form for travel as their text (see `Value`'s `Display`).
fn text(value: &Value) -> opentelemetry::Value {
    opentelemetry::Value::String(value.to_string().into())
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
        instrumentation_scope: scope.to_sdk(),
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

/// Converts a span the SDK recorded into our model. Links and the instrumentation scope
/// are not part of [`Span`] and are left out; values map back as [`from_otel_value`] says.
pub fn from_span_data(data: &SpanData) -> Span {
    let cx = &data.span_context;
    let mut span = Span::new(
        TraceId::from_bytes(cx.trace_id().to_bytes()),
        SpanId::from_bytes(cx.span_id().to_bytes()),
        data.name.clone().into_owned(),
        match data.span_kind {
            OtelSpanKind::Server => SpanKind::Server,
            OtelSpanKind::Client => SpanKind::Client,
            OtelSpanKind::Producer => SpanKind::Producer,
            OtelSpanKind::Consumer => SpanKind::Consumer,
            OtelSpanKind::Internal => SpanKind::Internal,
        },
        system_time_to_unix_nanos(data.start_time),
        system_time_to_unix_nanos(data.end_time),
    );
    if data.parent_span_id != OtelSpanId::INVALID {
        span.parent_span_id = Some(SpanId::from_bytes(data.parent_span_id.to_bytes()));
    }
    span.trace_state = cx.trace_state().header();
    span.flags = u32::from(cx.trace_flags().to_u8()) | HAS_IS_REMOTE;
    if data.parent_span_is_remote {
        span.flags |= IS_REMOTE;
    }
    span.attributes = from_otel_attributes(&data.attributes);
    span.events = data
        .events
        .iter()
        .map(|e| {
            let mut event = SpanEvent::new(
                e.name.clone().into_owned(),
                system_time_to_unix_nanos(e.timestamp),
            );
            event.attributes = from_otel_attributes(&e.attributes);
            event
        })
        .collect();
    span.status = match &data.status {
        OtelStatus::Unset => Status::unset(),
        OtelStatus::Ok => Status::ok(),
        OtelStatus::Error { description } => Status::error(description.clone().into_owned()),
    };
    span
}

/// Converts an OpenTelemetry API value: scalars and arrays map to their [`Value`] forms.
pub fn from_otel_value(value: &opentelemetry::Value) -> Value {
    use opentelemetry::Array;
    match value {
        opentelemetry::Value::Bool(b) => Value::Bool(*b),
        opentelemetry::Value::I64(i) => Value::Int(*i),
        opentelemetry::Value::F64(d) => Value::Double(*d),
        opentelemetry::Value::String(s) => Value::String(s.as_str().to_owned()),
        opentelemetry::Value::Array(Array::Bool(v)) => {
            Value::Array(v.iter().map(|b| Value::Bool(*b)).collect())
        }
        opentelemetry::Value::Array(Array::I64(v)) => {
            Value::Array(v.iter().map(|i| Value::Int(*i)).collect())
        }
        opentelemetry::Value::Array(Array::F64(v)) => {
            Value::Array(v.iter().map(|d| Value::Double(*d)).collect())
        }
        opentelemetry::Value::Array(Array::String(v)) => Value::Array(
            v.iter()
                .map(|s| Value::String(s.as_str().to_owned()))
                .collect(),
        ),
        // Variants added to the API later arrive as their text.
        other => Value::String(other.to_string()),
    }
}

fn from_otel_attributes(attrs: &[opentelemetry::KeyValue]) -> Attributes {
    attrs
        .iter()
        .map(|kv| KeyValue::new(kv.key.as_str().to_owned(), from_otel_value(&kv.value)))
        .collect()
}

fn system_time_to_unix_nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Span {
        crate::span::sample_span()
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

    #[test]
    fn span_data_round_trips_through_the_sdk_form() {
        let span = sample();
        assert_eq!(
            from_span_data(&to_span_data(&span, &Scope::default())),
            span
        );
        let mut root = sample();
        root.parent_span_id = None;
        root.flags = 0x01 | HAS_IS_REMOTE;
        assert_eq!(
            from_span_data(&to_span_data(&root, &Scope::default())),
            root
        );
    }
}
