//! The OpenTelemetry bridge seen from outside (feature `otel`): the strict propagators
//! (which reject what the SDK's accept, see
//! `docs/conformance.md#known-gaps-of-other-implementations`) through
//! `opentelemetry_http`'s real `HeaderMap` carriers, and the `TraceContext` ↔
//! `SpanContext` conversions.
#![cfg(all(feature = "otel", feature = "http"))]

use http::{HeaderMap, HeaderValue};
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TraceContextExt as _;
use opentelemetry_http::{HeaderExtractor, HeaderInjector};
use tracewire_context::otel::{CompositePropagator, W3cPropagator, XRayPropagator};
use tracewire_context::{TraceContext, TraceState, Traceparent};

const TP: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(*name, HeaderValue::from_str(value).expect("header value"));
    }
    map
}

fn extract_w3c(pairs: &[(&'static str, &str)]) -> opentelemetry::Context {
    W3cPropagator::new().extract(&HeaderExtractor(&headers(pairs)))
}

#[test]
fn w3c_propagator_rejects_every_sdk_leniency() {
    let t = "0af7651916cd43dd8448eb211c80319c";
    let p = "b7ad6b7169203331";
    for bad in [
        format!("0-{t}-{p}-01"),
        format!("000-{t}-{p}-01"),
        format!("00-{}-{p}-01", &t[1..]),
        format!("00-{t}-{}-01", &p[1..]),
        format!("00-{t}-{p}-1"),
        format!("00-{t}-{p}-001"),
        format!("00-+{}-{p}-01", &t[1..]),
        "00-1-2-01".to_owned(),
    ] {
        let cx = extract_w3c(&[("traceparent", &bad), ("tracestate", "a=1")]);
        assert!(!cx.span().span_context().is_valid(), "{bad} accepted");
    }
}

#[test]
fn w3c_propagator_keeps_the_random_flag_and_combines_tracestate_headers() {
    let tp = TP.replace("-01", "-03");
    let cx = extract_w3c(&[
        ("traceparent", &tp),
        ("tracestate", "a=1"),
        ("tracestate", "b=2"),
    ]);
    let span = cx.span();
    let sc = span.span_context();
    assert_eq!(sc.trace_flags().to_u8(), 0x03, "random flag kept");
    assert_eq!(sc.trace_state().header(), "a=1,b=2");

    let mut out = HeaderMap::new();
    W3cPropagator::new().inject_context(&cx, &mut HeaderInjector(&mut out));
    assert_eq!(
        out.get("traceparent").map(|v| v.as_bytes()),
        Some(tp.as_bytes())
    );
    assert_eq!(
        out.get("tracestate").map(|v| v.as_bytes()),
        Some(&b"a=1,b=2"[..])
    );
}

#[test]
fn w3c_propagator_rejects_two_traceparent_headers_and_bad_tracestate() {
    let cx = extract_w3c(&[("traceparent", TP), ("traceparent", TP)]);
    assert!(!cx.span().span_context().is_valid());

    for bad in ["foo=,bar=3", "foo=a\u{7f}b", "Foo=1"] {
        let Ok(value) = HeaderValue::from_bytes(bad.as_bytes()) else {
            continue;
        };
        let mut map = headers(&[("traceparent", TP)]);
        map.append("tracestate", value);
        let cx = W3cPropagator::new().extract(&HeaderExtractor(&map));
        let span = cx.span();
        assert!(span.span_context().is_valid(), "parent kept");
        assert_eq!(
            span.span_context().trace_state().header(),
            "",
            "{bad:?} dropped whole"
        );
    }
}

#[test]
fn xray_propagator_keeps_the_trace_id_without_parent() {
    let map = headers(&[(
        "x-amzn-trace-id",
        "Root=1-5759e988-bd862e3fe1be46a994272793",
    )]);
    let cx = XRayPropagator::new().extract(&HeaderExtractor(&map));
    let span = cx.span();
    let sc = span.span_context();
    assert!(sc.is_valid());
    assert_eq!(
        sc.trace_id().to_string(),
        "5759e988bd862e3fe1be46a994272793"
    );
}

#[test]
fn composite_propagator_round_trips_through_header_maps() {
    let map = headers(&[
        ("traceparent", TP),
        ("tracestate", "congo=t61rcWkgMzE"),
        ("baggage", "userId=alice"),
    ]);
    let propagator = CompositePropagator::w3c_with_baggage();
    let cx = propagator.extract(&HeaderExtractor(&map));
    let mut out = HeaderMap::new();
    propagator.inject_context(&cx, &mut HeaderInjector(&mut out));
    assert_eq!(TraceContext::extract(&out), TraceContext::extract(&map));
}

/// Level 2 tracestate keys (several `@`, a long part after `@`) are valid here
/// (Level 2 key grammar, `docs/wire-formats.md#w3c-tracestate`) but refused by `opentelemetry::trace::TraceState`: the `SpanContext` gets
/// every entry OpenTelemetry can hold, never an empty tracestate because of them.
#[test]
fn to_span_context_keeps_every_entry_opentelemetry_can_hold() {
    let mut context = TraceContext::from_traceparent(Traceparent::parse(TP).expect("valid"));
    context.tracestate =
        TraceState::parse("congo=t61rcWkgMzE,a@b@c=1,t@abcdefghijklmnopq=2,rojo=2")
            .expect("valid L2");
    let sc = context.to_span_context().expect("span context");
    assert_eq!(sc.trace_state().header(), "congo=t61rcWkgMzE,rojo=2");
}

/// End to end through the strict W3C propagator: what it accepts on extract it injects
/// again, Level 2 keys included.
#[test]
fn w3c_propagator_reinjects_the_level_2_tracestate_it_accepted() {
    let cx = extract_w3c(&[("traceparent", TP), ("tracestate", "congo=x,a@b@c=1")]);
    let mut out = HeaderMap::new();
    W3cPropagator::new().inject_context(&cx, &mut HeaderInjector(&mut out));
    assert_eq!(
        out.get("tracestate").map(|v| v.as_bytes()),
        Some(&b"congo=x,a@b@c=1"[..])
    );
}

/// Level 1 entries (including `tenant@vendor`) all reach OpenTelemetry.
#[test]
fn to_span_context_keeps_level_1_tracestate_entries() {
    let mut context = TraceContext::from_traceparent(Traceparent::parse(TP).expect("valid"));
    context.tracestate = TraceState::parse("congo=t61rcWkgMzE,tenant@vendor=1").expect("valid");
    let sc = context.to_span_context().expect("span context");
    assert_eq!(
        sc.trace_state().header(),
        "congo=t61rcWkgMzE,tenant@vendor=1"
    );
    assert!(sc.is_remote());
}
