//! [`TracewireSpanExporter`] (feature `otel`,
//! [docs/collector.md#emitter](https://github.com/tracewire/tracewire/blob/main/docs/collector.md#emitter)):
//! an `opentelemetry_sdk` 0.33 `SpanExporter` that sends each finished span to a collector
//! through an [`Emitter`], so any `opentelemetry` or `tracing-opentelemetry` app can use
//! the local collector.
//!
//! `export` only enqueues and returns a ready future: it works under `SimpleSpanProcessor`
//! (recommended locally: no batch delay) and the thread-based `BatchSpanProcessor`,
//! without tokio.
//!
//! ```no_run
//! use opentelemetry::trace::{Tracer, TracerProvider as _};
//! use opentelemetry_sdk::trace::SdkTracerProvider;
//! use tracewire_collector::emitter::Emitter;
//! use tracewire_collector::otel::TracewireSpanExporter;
//!
//! let exporter = TracewireSpanExporter::new(Emitter::builder().with_socket_path("/tmp/t.sock").build());
//! let provider = SdkTracerProvider::builder().with_simple_exporter(exporter).build();
//! provider.tracer("app").in_span("work", |_cx| {});
//! provider.shutdown().ok();
//! ```

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use opentelemetry::trace::{SpanId as OtelSpanId, SpanKind as OtelKind, Status as OtelStatus};
use opentelemetry::{Key, Value};
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::resource::Resource;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use tracewire_otlp::sdk::from_otel_value;

use crate::emitter::Emitter;
use crate::model::{
    IngestEvent, SpanEnd, SpanId, SpanStart, Status, Timestamp, WireKind, WireTraceId,
};

/// How long `force_flush` waits.
pub const FORCE_FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// Sends OpenTelemetry spans to a tracewire (or go-trace) collector.
#[derive(Debug)]
pub struct TracewireSpanExporter {
    emitter: Emitter,
    service_name: Option<String>,
}

impl TracewireSpanExporter {
    /// Exports through `emitter` (use [`Emitter::from_env`] to follow `TRACEWIRE_SOCKET`).
    pub fn new(emitter: Emitter) -> Self {
        Self {
            emitter,
            service_name: None,
        }
    }

    /// The emitter, for its stats.
    pub fn emitter(&self) -> &Emitter {
        &self.emitter
    }
}

fn timestamp(t: SystemTime) -> Timestamp {
    let ns = match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_nanos()).unwrap_or(i64::MAX),
    };
    Timestamp::from_unix_nanos(ns)
}

fn kind(k: &OtelKind) -> WireKind {
    match k {
        OtelKind::Client => WireKind::Client,
        OtelKind::Server => WireKind::Server,
        OtelKind::Producer => WireKind::Producer,
        OtelKind::Consumer => WireKind::Consumer,
        OtelKind::Internal => WireKind::Internal,
    }
}

/// An attribute value as text: the workspace's one text form, `tracewire_otlp::Value`'s
/// `Display` (scalars as themselves, arrays as JSON).
pub(crate) fn value_text(v: &Value) -> String {
    from_otel_value(v).to_string()
}

fn status(s: &OtelStatus) -> Status {
    match s {
        OtelStatus::Unset => Status::default(),
        OtelStatus::Ok => Status::ok(),
        OtelStatus::Error { description } => Status::error(description.to_string()),
    }
}

/// The start and end events of one finished SDK span; `None` for an invalid context.
pub(crate) fn span_events(span: &SpanData, service_name: Option<&str>) -> Option<[IngestEvent; 2]> {
    let trace_id = u128::from_be_bytes(span.span_context.trace_id().to_bytes());
    let span_id = u64::from_be_bytes(span.span_context.span_id().to_bytes());
    if trace_id == 0 || span_id == 0 {
        return None;
    }
    let parent_id = (span.parent_span_id != OtelSpanId::INVALID)
        .then(|| SpanId::from_bytes(span.parent_span_id.to_bytes()));
    let mut attrs: BTreeMap<String, String> = span
        .attributes
        .iter()
        .map(|kv| (kv.key.as_str().to_owned(), value_text(&kv.value)))
        .collect();
    if let Some(service) = service_name {
        attrs
            .entry("service.name".to_owned())
            .or_insert_with(|| service.to_owned());
    }
    let start = timestamp(span.start_time);
    let end = timestamp(span.end_time);
    let duration_ns = span
        .end_time
        .duration_since(span.start_time)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    let trace_id = WireTraceId::w3c(trace_id);
    let span_id = SpanId::from_u64(span_id);
    Some([
        IngestEvent::Start(SpanStart {
            trace_id,
            span_id,
            parent_id,
            name: span.name.to_string(),
            kind: kind(&span.span_kind),
            time: start,
            attrs: BTreeMap::new(),
        }),
        IngestEvent::End(SpanEnd {
            trace_id,
            span_id,
            name: String::new(),
            time: end,
            attrs,
            duration_ns: Some(duration_ns),
            status: status(&span.status),
        }),
    ])
}

impl SpanExporter for TracewireSpanExporter {
    fn export(
        &self,
        batch: Vec<SpanData>,
    ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        for span in &batch {
            if let Some([start, end]) = span_events(span, self.service_name.as_deref()) {
                // Back to back: the end never precedes its start.
                self.emitter.emit(&start);
                self.emitter.emit(&end);
            }
        }
        std::future::ready(Ok(()))
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.emitter
            .flush(Instant::now() + FORCE_FLUSH_TIMEOUT)
            .map_err(|e| OTelSdkError::InternalFailure(e.to_string()))
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.emitter
            .shutdown(Instant::now() + timeout)
            .map_err(|e| OTelSdkError::InternalFailure(e.to_string()))
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.service_name = resource
            .get(&Key::from_static_str("service.name"))
            .map(|v| value_text(&v));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::{Array, StringValue};

    #[test]
    fn attribute_text_is_the_otlp_value_text() {
        assert_eq!(value_text(&Value::from("GET")), "GET");
        assert_eq!(value_text(&Value::I64(-3)), "-3");
        assert_eq!(value_text(&Value::F64(1.5)), "1.5");
        assert_eq!(value_text(&Value::F64(f64::NAN)), "NaN");
        assert_eq!(value_text(&Value::F64(f64::NEG_INFINITY)), "-Infinity");
        assert_eq!(value_text(&Value::Bool(true)), "true");
        assert_eq!(value_text(&Value::Array(Array::I64(vec![1, 2]))), "[1,2]");
        assert_eq!(
            value_text(&Value::Array(Array::F64(vec![0.5, f64::INFINITY]))),
            "[0.5,\"Infinity\"]"
        );
        assert_eq!(
            value_text(&Value::Array(Array::String(vec![StringValue::from(
                "a\"b"
            )]))),
            "[\"a\\\"b\"]"
        );
    }
}
