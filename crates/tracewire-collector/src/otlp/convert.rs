//! Received OTLP spans (`tracewire-otlp`'s model) → [`CompletedSpan`]: attribute values
//! become their text, the resource's `service.name` is copied onto each span.

use std::collections::BTreeMap;
use std::time::Duration;

use tracewire_otlp::proto::ReceivedSpans;
use tracewire_otlp::span::{Span, SpanKind as OtlpKind};

use crate::model::{CompletedSpan, Status, StatusCode, Timestamp, WireKind, WireTraceId};

/// Why a span in our model cannot become a collector span.
pub(crate) const TIME_REJECTION: &str = "end time before start time or out of range";

fn kind(k: OtlpKind) -> WireKind {
    match k {
        OtlpKind::Server => WireKind::Server,
        OtlpKind::Client => WireKind::Client,
        OtlpKind::Producer => WireKind::Producer,
        OtlpKind::Consumer => WireKind::Consumer,
        _ => WireKind::Internal,
    }
}

/// Converts one span; `service_name` (from the resource) is copied into the attrs unless
/// the span has its own. `None` when its times are out of order or out of range.
pub(crate) fn completed_span(span: Span, service_name: Option<&str>) -> Option<CompletedSpan> {
    let start = i64::try_from(span.start_time_unix_nano).ok()?;
    let end = i64::try_from(span.end_time_unix_nano).ok()?;
    if end < start {
        return None;
    }
    let mut attrs: BTreeMap<String, String> = span
        .attributes
        .into_iter()
        .map(|kv| {
            let text = kv.value.to_string();
            (kv.key, text)
        })
        .collect();
    if let Some(service) = service_name {
        attrs
            .entry("service.name".to_owned())
            .or_insert_with(|| service.to_owned());
    }
    // OTLP allows a message only on errors: any other message is dropped.
    let status = match span.status.code {
        StatusCode::Error => span.status,
        StatusCode::Ok => Status::ok(),
        _ => Status::default(),
    };
    Some(CompletedSpan {
        trace_id: WireTraceId::W3c(span.trace_id),
        span_id: span.span_id,
        parent_id: span.parent_span_id,
        name: span.name,
        kind: kind(span.kind),
        start: Timestamp::from_unix_nanos(start),
        end: Timestamp::from_unix_nanos(end),
        duration: Duration::from_nanos(end.abs_diff(start)),
        attrs,
        status,
        seq: 0,
    })
}

/// Every received span as a collector span, with the count of those rejected (by the
/// OTLP mapping or for their times) and the first reason.
pub(crate) fn completed_spans(
    received: ReceivedSpans,
) -> (Vec<CompletedSpan>, u64, Option<&'static str>) {
    let mut rejected = received.rejected;
    let mut first_error: Option<&'static str> = received.first_rejection.map(|r| r.as_str());
    let mut out = Vec::with_capacity(received.span_count());
    for group in received.groups {
        let service = group.resource.get("service.name").map(ToString::to_string);
        for span in group.spans {
            match completed_span(span, service.as_deref()) {
                Some(s) => out.push(s),
                None => {
                    rejected += 1;
                    first_error.get_or_insert(TIME_REJECTION);
                }
            }
        }
    }
    (out, rejected, first_error)
}
