//! The OpenTelemetry bridge: conversions to `SpanContext` and `Context`, and strict
//! `TextMapPropagator`s.
//!
//! The SDK's propagators accept malformed traceparents (short ids, wrong version lengths,
//! signed hex), clear the random flag and read only the first tracestate header; these
//! use this crate's parsers instead, so what they accept is exactly what W3C and AWS allow.
//!
//! ```
//! use std::collections::HashMap;
//! use opentelemetry::propagation::TextMapPropagator;
//! use opentelemetry::trace::TraceContextExt;
//! use tracewire_context::otel::CompositePropagator;
//!
//! let propagator = CompositePropagator::w3c_with_baggage();
//! let mut headers = HashMap::new();
//! headers.insert("traceparent".to_owned(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned());
//! let cx = propagator.extract(&headers);
//! assert!(cx.span().span_context().is_remote());
//!
//! // Version 00 with data after the flags is invalid: nothing is extracted.
//! headers.insert("traceparent".to_owned(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-".to_owned());
//! assert!(!propagator.extract(&headers).span().span_context().is_valid());
//! ```

use std::fmt;

use opentelemetry::baggage::{BaggageExt, KeyValueMetadata};
use opentelemetry::propagation::{
    text_map_propagator::FieldIter, Extractor as OtelExtractor, Injector as OtelInjector,
    TextMapPropagator,
};
use opentelemetry::trace::{
    SpanContext, TraceContextExt, TraceFlags as OtelTraceFlags, TraceState as OtelTraceState,
};
use opentelemetry::Context;

use crate::carrier::{Extractor, Injector};
use crate::{
    header, Baggage, BaggageMember, BaggageProperty, SpanId, TraceContext, TraceFlags, TraceId,
    TraceState, Traceparent, XRayField, XRayHeader, XRaySampled,
};

/// Reads an OpenTelemetry extractor through this crate's carrier trait.
struct OtelCarrier<'a>(&'a dyn OtelExtractor);

impl Extractor for OtelCarrier<'_> {
    fn get_all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0.get_all(key).unwrap_or_default().into_iter()
    }
}

/// Writes into an OpenTelemetry injector through this crate's carrier trait.
struct OtelSink<'a>(&'a mut dyn OtelInjector);

impl Injector for OtelSink<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.set(key, value);
    }
}

/// OpenTelemetry's `TraceState` implements the Level 1 key grammar, so it cannot hold some
/// Level 2 keys (`a@b@c`, a system part over 14 chars). It gets every member it can hold,
/// in order; the full strict tracestate travels beside it in the `Context`
/// ([`StrictTraceState`]) so the strict propagators re-inject it unchanged.
fn to_otel_state(ts: &TraceState) -> OtelTraceState {
    if ts.is_empty() {
        return OtelTraceState::NONE;
    }
    let representable = ts
        .iter()
        .filter(|member| OtelTraceState::from_key_value([*member]).is_ok());
    OtelTraceState::from_key_value(representable).unwrap_or(OtelTraceState::NONE)
}

/// The strict tracestate received for a trace, kept in the `Context` beside the
/// OpenTelemetry span context, which may hold only part of it.
#[derive(Debug, Clone)]
struct StrictTraceState {
    trace_id: TraceId,
    state: TraceState,
}

/// The tracestate to propagate for `sc` in `cx`: the strict one stored for the same trace
/// if the span's (OpenTelemetry) view of it is unchanged, else the span's own.
fn tracestate_for(cx: &Context, sc: &SpanContext) -> TraceState {
    let span_view = from_otel_state(sc.trace_state());
    match cx.get::<StrictTraceState>() {
        Some(stored)
            if stored.trace_id.to_bytes() == sc.trace_id().to_bytes()
                && from_otel_state(&to_otel_state(&stored.state)) == span_view =>
        {
            stored.state.clone()
        }
        _ => span_view,
    }
}

/// `cx` with `tp`/`ts` as its remote parent, keeping the strict tracestate beside it.
fn with_remote_parent(cx: &Context, tp: &Traceparent, ts: TraceState) -> Context {
    let cx = cx.with_remote_span_context(span_context(tp, &ts, true));
    if ts.is_empty() {
        return cx;
    }
    cx.with_value(StrictTraceState {
        trace_id: tp.trace_id,
        state: ts,
    })
}

fn from_otel_state(ts: &OtelTraceState) -> TraceState {
    TraceState::parse(&ts.header()).unwrap_or_default()
}

fn span_context(tp: &Traceparent, ts: &TraceState, remote: bool) -> SpanContext {
    SpanContext::new(
        opentelemetry::trace::TraceId::from_bytes(tp.trace_id.to_bytes()),
        opentelemetry::trace::SpanId::from_bytes(tp.parent_id.to_bytes()),
        OtelTraceFlags::new(tp.flags.propagated().bits()),
        remote,
        to_otel_state(ts),
    )
}

fn traceparent_of(sc: &SpanContext) -> Traceparent {
    Traceparent::new(
        TraceId::from_bytes(sc.trace_id().to_bytes()),
        SpanId::from_bytes(sc.span_id().to_bytes()),
        TraceFlags::from_bits(sc.trace_flags().to_u8()).propagated(),
    )
}

impl TraceContext {
    /// The W3C view as a remote OpenTelemetry `SpanContext` (flags: sampled and random).
    pub fn to_span_context(&self) -> Option<SpanContext> {
        self.effective_traceparent()
            .map(|tp| span_context(&tp, &self.tracestate, true))
    }

    /// The context that continues `span_context` (empty when it is invalid).
    pub fn from_span_context(span_context: &SpanContext) -> Self {
        if !span_context.is_valid() {
            return Self::default();
        }
        let mut cx = Self::from_traceparent(traceparent_of(span_context));
        cx.tracestate = from_otel_state(span_context.trace_state());
        cx
    }
}

fn to_otel_baggage(b: &Baggage) -> opentelemetry::baggage::Baggage {
    b.iter()
        .map(|m| {
            let metadata = m
                .properties
                .iter()
                .map(|p| match &p.value {
                    Some(v) => format!("{}={v}", p.key),
                    None => p.key.clone(),
                })
                .collect::<Vec<_>>()
                .join(";");
            KeyValueMetadata::new(m.key.clone(), m.value.clone(), metadata)
        })
        .collect()
}

fn from_otel_baggage(b: &opentelemetry::baggage::Baggage) -> Baggage {
    let mut members: Vec<BaggageMember> = b
        .iter()
        .map(|(key, (value, metadata))| BaggageMember {
            key: key.as_str().to_owned(),
            value: value.as_str().to_owned(),
            properties: metadata
                .as_str()
                .split(';')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(|p| match p.split_once('=') {
                    Some((k, v)) => BaggageProperty {
                        key: k.trim().to_owned(),
                        value: Some(v.trim().to_owned()),
                    },
                    None => BaggageProperty {
                        key: p.to_owned(),
                        value: None,
                    },
                })
                .collect(),
        })
        .collect();
    // OpenTelemetry's baggage is unordered; sort for deterministic headers.
    members.sort_by(|a, b| a.key.cmp(&b.key));
    members.into_iter().collect()
}

/// The preserved X-Ray fields (`Self`, `Lineage`, custom), carried in a `Context`.
#[derive(Debug, Clone)]
struct XRayFields(Vec<XRayField>);

/// `cx` continuing `tc`: its span context becomes the remote parent, its baggage the
/// context's baggage, and `tc` itself is stored so [`trace_context`] can read X-Ray
/// fields back.
pub fn context_with(cx: &Context, tc: &TraceContext) -> Context {
    let mut out = match tc.effective_traceparent() {
        Some(tp) => with_remote_parent(cx, &tp, tc.tracestate.clone()),
        None => cx.clone(),
    };
    if !tc.baggage.is_empty() {
        out = out.with_baggage(to_otel_baggage(&tc.baggage));
    }
    if let Some(x) = &tc.xray {
        out = out.with_value(XRayFields(x.fields.clone()));
    }
    out.with_value(tc.clone())
}

/// The context to propagate from `cx`: its active span (local or remote) as the parent,
/// its baggage, and X-Ray fields stored by [`context_with`].
pub fn trace_context(cx: &Context) -> TraceContext {
    let mut tc = cx.get::<TraceContext>().cloned().unwrap_or_default();
    let span = cx.span();
    let sc = span.span_context();
    if sc.is_valid() {
        tc.traceparent = Some(traceparent_of(sc));
        tc.tracestate = tracestate_for(cx, sc);
    }
    let baggage = cx.baggage();
    if !baggage.is_empty() {
        tc.baggage = from_otel_baggage(baggage);
    }
    tc
}

/// Strict W3C Trace Context propagator (`traceparent` + `tracestate`).
#[derive(Debug, Clone, Default)]
pub struct W3cPropagator {
    _private: (),
}

impl W3cPropagator {
    /// A new propagator.
    pub fn new() -> Self {
        Self::default()
    }
}

fn w3c_fields() -> &'static [String] {
    static FIELDS: std::sync::OnceLock<[String; 2]> = std::sync::OnceLock::new();
    FIELDS.get_or_init(|| {
        [
            header::TRACEPARENT.to_owned(),
            header::TRACESTATE.to_owned(),
        ]
    })
}

impl TextMapPropagator for W3cPropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn OtelInjector) {
        let span = cx.span();
        let sc = span.span_context();
        if !sc.is_valid() {
            return;
        }
        let mut tc = TraceContext::from_traceparent(traceparent_of(sc));
        tc.tracestate = tracestate_for(cx, sc);
        tc.inject(&mut OtelSink(injector));
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn OtelExtractor) -> Context {
        let carrier = OtelCarrier(extractor);
        let mut values = carrier.get_all(header::TRACEPARENT);
        let (Some(value), None) = (values.next(), values.next()) else {
            return cx.clone();
        };
        let Ok(tp) = Traceparent::parse(value) else {
            return cx.clone();
        };
        let ts = TraceState::parse_headers(carrier.get_all(header::TRACESTATE)).unwrap_or_default();
        with_remote_parent(cx, &tp, ts)
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(w3c_fields())
    }
}

/// W3C Baggage propagator with percent-encoding and the 64-member / 8192-byte limits.
#[derive(Debug, Clone, Default)]
pub struct BaggagePropagator {
    _private: (),
}

impl BaggagePropagator {
    /// A new propagator.
    pub fn new() -> Self {
        Self::default()
    }
}

fn baggage_fields() -> &'static [String] {
    static FIELDS: std::sync::OnceLock<[String; 1]> = std::sync::OnceLock::new();
    FIELDS.get_or_init(|| [header::BAGGAGE.to_owned()])
}

impl TextMapPropagator for BaggagePropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn OtelInjector) {
        let baggage = cx.baggage();
        if baggage.is_empty() {
            return;
        }
        let value = from_otel_baggage(baggage).header();
        if !value.is_empty() {
            injector.set(header::BAGGAGE, value);
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn OtelExtractor) -> Context {
        let carrier = OtelCarrier(extractor);
        let (baggage, _) = Baggage::parse_reporting(carrier.get_all(header::BAGGAGE));
        if baggage.is_empty() {
            return cx.clone();
        }
        cx.with_baggage(to_otel_baggage(&baggage))
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(baggage_fields())
    }
}

/// AWS X-Ray propagator (`X-Amzn-Trace-Id`): checks the Root version and exact field
/// lengths, keeps the trace id of a header without `Parent`, and re-emits `Self`,
/// `Lineage` and custom fields.
#[derive(Debug, Clone, Default)]
pub struct XRayPropagator {
    _private: (),
}

impl XRayPropagator {
    /// A new propagator.
    pub fn new() -> Self {
        Self::default()
    }
}

fn xray_fields() -> &'static [String] {
    static FIELDS: std::sync::OnceLock<[String; 1]> = std::sync::OnceLock::new();
    FIELDS.get_or_init(|| [header::X_AMZN_TRACE_ID.to_owned()])
}

impl TextMapPropagator for XRayPropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn OtelInjector) {
        let span = cx.span();
        let sc = span.span_context();
        if !sc.is_valid() {
            return;
        }
        let header = XRayHeader {
            trace_id: TraceId::from_bytes(sc.trace_id().to_bytes()),
            parent: Some(SpanId::from_bytes(sc.span_id().to_bytes())),
            sampled: if sc.is_sampled() {
                XRaySampled::Sampled
            } else {
                XRaySampled::NotSampled
            },
            fields: cx
                .get::<XRayFields>()
                .map(|f| f.0.clone())
                .unwrap_or_default(),
        };
        injector.set(header::X_AMZN_TRACE_ID, header.to_string());
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn OtelExtractor) -> Context {
        let carrier = OtelCarrier(extractor);
        let mut values = carrier.get_all(header::X_AMZN_TRACE_ID);
        let (Some(value), None) = (values.next(), values.next()) else {
            return cx.clone();
        };
        let Ok(xray) = XRayHeader::parse(value) else {
            return cx.clone();
        };
        let fields = XRayFields(xray.fields.clone());
        match TraceContext::from_xray(xray).to_span_context() {
            Some(sc) => cx.with_remote_span_context(sc).with_value(fields),
            None => cx.clone(),
        }
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(xray_fields())
    }
}

/// Runs several propagators in order: each injects; each extracts on top of the
/// previous result (so a later valid traceparent replaces an earlier one).
pub struct CompositePropagator {
    propagators: Vec<Box<dyn TextMapPropagator + Send + Sync>>,
    fields: Vec<String>,
}

impl CompositePropagator {
    /// Combines `propagators`, in order.
    pub fn new(propagators: Vec<Box<dyn TextMapPropagator + Send + Sync>>) -> Self {
        let mut fields: Vec<String> = Vec::new();
        for p in &propagators {
            for f in p.fields() {
                if !fields.iter().any(|x| x == f) {
                    fields.push(f.to_owned());
                }
            }
        }
        Self {
            propagators,
            fields,
        }
    }

    /// W3C Trace Context and W3C Baggage: the default of the tracewire crates.
    pub fn w3c_with_baggage() -> Self {
        Self::new(vec![
            Box::new(W3cPropagator::new()),
            Box::new(BaggagePropagator::new()),
        ])
    }

    /// X-Ray, then W3C Trace Context and Baggage (so a valid traceparent wins).
    pub fn all() -> Self {
        Self::new(vec![
            Box::new(XRayPropagator::new()),
            Box::new(W3cPropagator::new()),
            Box::new(BaggagePropagator::new()),
        ])
    }
}

impl fmt::Debug for CompositePropagator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompositePropagator")
            .field("fields", &self.fields)
            .finish()
    }
}

impl TextMapPropagator for CompositePropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn OtelInjector) {
        for p in &self.propagators {
            p.inject_context(cx, injector);
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn OtelExtractor) -> Context {
        self.propagators
            .iter()
            .fold(cx.clone(), |cx, p| p.extract_with_context(&cx, extractor))
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(&self.fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03";

    fn headers(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn w3c_round_trip_keeps_random_flag() {
        let p = W3cPropagator::new();
        let cx = p.extract(&headers(&[("traceparent", TP), ("tracestate", "a=1,b=2")]));
        let sc = cx.span().span_context().clone();
        assert!(sc.is_remote());
        assert_eq!(sc.trace_flags().to_u8(), 0x03);
        let mut out = HashMap::new();
        p.inject_context(&cx, &mut out);
        assert_eq!(out["traceparent"], TP);
        assert_eq!(out["tracestate"], "a=1,b=2");
    }

    #[test]
    fn w3c_rejects_what_the_sdk_accepts() {
        let p = W3cPropagator::new();
        for bad in [
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
            "0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-1-2-01",
        ] {
            let cx = p.extract(&headers(&[("traceparent", bad)]));
            assert!(!cx.span().span_context().is_valid(), "{bad}");
        }
    }

    #[test]
    fn level_2_tracestate_survives_the_otel_context() {
        let p = W3cPropagator::new();
        let cx = p.extract(&headers(&[
            ("traceparent", TP),
            ("tracestate", "congo=x,a@b@c=1,t@abcdefghijklmnopq=2"),
        ]));
        // OpenTelemetry holds what its Level 1 grammar allows…
        assert_eq!(cx.span().span_context().trace_state().header(), "congo=x");
        // …and the strict propagator re-injects the whole received tracestate.
        let mut out = HashMap::new();
        p.inject_context(&cx, &mut out);
        assert_eq!(out["tracestate"], "congo=x,a@b@c=1,t@abcdefghijklmnopq=2");
        assert_eq!(
            trace_context(&cx).tracestate.header(),
            "congo=x,a@b@c=1,t@abcdefghijklmnopq=2"
        );
    }

    #[test]
    fn a_changed_span_tracestate_wins_over_the_stored_one() {
        let p = W3cPropagator::new();
        let cx = p.extract(&headers(&[
            ("traceparent", TP),
            ("tracestate", "congo=x,a@b@c=1"),
        ]));
        let sc = cx.span().span_context().clone();
        let updated = SpanContext::new(
            sc.trace_id(),
            sc.span_id(),
            sc.trace_flags(),
            true,
            sc.trace_state().insert("mine", "1").unwrap(),
        );
        let cx = cx.with_remote_span_context(updated);
        let mut out = HashMap::new();
        p.inject_context(&cx, &mut out);
        assert_eq!(out["tracestate"], "mine=1,congo=x");
    }

    #[test]
    fn baggage_round_trip() {
        let p = BaggagePropagator::new();
        let cx = p.extract(&headers(&[("baggage", "b=2;prop=x, a=%20one")]));
        assert_eq!(
            cx.baggage().get("a").map(|v| v.as_str().to_owned()),
            Some(" one".into())
        );
        let mut out = HashMap::new();
        p.inject_context(&cx, &mut out);
        assert_eq!(out["baggage"], "a=%20one,b=2;prop=x");
    }

    #[test]
    fn xray_root_only_keeps_trace_id_and_fields() {
        let p = XRayPropagator::new();
        let cx = p.extract(&headers(&[(
            "x-amzn-trace-id",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1;Lineage=a:1",
        )]));
        let sc = cx.span().span_context().clone();
        assert_eq!(
            format!("{:032x}", sc.trace_id()),
            "5759e988bd862e3fe1be46a994272793"
        );
        assert!(sc.is_sampled());
        let mut out = HashMap::new();
        p.inject_context(&cx, &mut out);
        assert!(
            out["x-amzn-trace-id"].starts_with("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=")
        );
        assert!(out["x-amzn-trace-id"].ends_with(";Sampled=1;Lineage=a:1"));
    }

    #[test]
    fn composite_all_prefers_traceparent() {
        let p = CompositePropagator::all();
        let cx = p.extract(&headers(&[
            ("traceparent", TP),
            (
                "x-amzn-trace-id",
                "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
            ),
        ]));
        assert_eq!(
            format!("{:032x}", cx.span().span_context().trace_id()),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        let fields: Vec<&str> = p.fields().collect();
        assert_eq!(
            fields,
            ["x-amzn-trace-id", "traceparent", "tracestate", "baggage"]
        );
    }

    #[test]
    fn context_helpers_round_trip() {
        let tc = TraceContext::extract(&headers(&[
            ("traceparent", TP),
            ("baggage", "k=v"),
            ("x-amzn-trace-id", "Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent=00f067aa0ba902b7;Sampled=1;Lineage=l:1"),
        ]));
        let cx = context_with(&Context::new(), &tc);
        assert!(cx.span().span_context().is_remote());
        let back = trace_context(&cx);
        assert_eq!(
            back.traceparent,
            tc.traceparent.map(|t| Traceparent {
                flags: t.flags.propagated(),
                ..t
            })
        );
        assert_eq!(back.baggage.get("k"), Some("v"));
        assert_eq!(back.xray.unwrap().field("Lineage"), Some("l:1"));
        let sc = tc.to_span_context().unwrap();
        assert_eq!(
            TraceContext::from_span_context(&sc).trace_id(),
            tc.trace_id()
        );
    }
}
