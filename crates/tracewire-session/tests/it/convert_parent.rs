//! Parent linking (`docs/sessions.md#parent-linking`) with tracewire-context's TraceContext.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::convert_support::*;
use serde_json::json;
use tracewire_context::{header, TraceContext};
use tracewire_otlp::span::{HAS_IS_REMOTE, IS_REMOTE};
use tracewire_session::convert::{
    key_span_id, session_trace_id, Conversion, ConvertOptions, Converter, ParentOutcome,
};
use tracewire_session::event::SessionEvent;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::Layer;

fn events() -> Vec<SessionEvent> {
    vec![
        ev(1, "pipeline.started", 0, "run-1", json!({})),
        ev(
            2,
            "provider.call.started",
            1,
            "run-1",
            json!({"Provider": "openai"}),
        ),
        ev(
            3,
            "provider.call.completed",
            2,
            "run-1",
            json!({"Provider": "openai"}),
        ),
        ev(4, "pipeline.completed", 3, "run-1", json!({})),
    ]
}

fn context(headers: &[(&str, &str)]) -> TraceContext {
    let carrier: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    TraceContext::extract(&carrier)
}

/// Counts WARN events of target `tracewire_session::parent`.
struct CountWarnings(Arc<AtomicUsize>);

impl<S: tracing::Subscriber> Layer<S> for CountWarnings {
    fn on_event(&self, event: &tracing::Event<'_>, _cx: Context<'_, S>) {
        let meta = event.metadata();
        if meta.target() == "tracewire_session::parent" && *meta.level() == tracing::Level::WARN {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// Converts under `cx`, returning the conversion and the number of parent warnings.
fn convert(cx: &TraceContext) -> (Conversion, usize) {
    let count = Arc::new(AtomicUsize::new(0));
    let subscriber = tracing_subscriber::registry().with(CountWarnings(count.clone()));
    let out = tracing::subscriber::with_default(subscriber, || {
        Converter::new(ConvertOptions::default()).convert_session_with_parent(
            "session-1",
            &events(),
            cx,
        )
    });
    (out, count.load(Ordering::SeqCst))
}

#[test]
fn w3c_parent_sets_trace_root_parent_flags_and_tracestate() {
    let cx = context(&[
        (
            header::TRACEPARENT,
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        ),
        (header::TRACESTATE, "congo=t61rcWkgMzE"),
    ]);
    let (out, warnings) = convert(&cx);
    assert_eq!(out.parent, ParentOutcome::W3c);
    assert_eq!(warnings, 0);
    for s in &out.spans {
        assert_eq!(s.trace_id.to_string(), "0af7651916cd43dd8448eb211c80319c");
        assert_eq!(s.trace_state, "congo=t61rcWkgMzE");
        assert_eq!(s.trace_flags(), 1);
    }
    let root = &out.spans[0];
    assert_eq!(
        root.parent_span_id.map(|p| p.to_string()).as_deref(),
        Some("b7ad6b7169203331")
    );
    assert_eq!(root.flags, 0x01 | HAS_IS_REMOTE | IS_REMOTE);
    // Span ids are still the session's (docs/sessions.md#span-ids); children are not remote.
    assert_eq!(root.span_id, key_span_id("session-1:root"));
    assert_eq!(out.spans[1].span_id, key_span_id("run-1:pipeline"));
    assert_eq!(out.spans[1].flags, 0x01 | HAS_IS_REMOTE);
}

#[test]
fn w3c_parent_keeps_only_sampled_and_random_bits() {
    let cx = context(&[(
        header::TRACEPARENT,
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-ff",
    )]);
    let (out, _) = convert(&cx);
    assert_eq!(out.spans[0].trace_flags(), 0x03);
    let cx = context(&[(
        header::TRACEPARENT,
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00",
    )]);
    let (out, _) = convert(&cx);
    assert_eq!(out.spans[0].trace_flags(), 0x00);
}

#[test]
fn xray_parent_sets_trace_and_root_parent() {
    let cx = context(&[(
        header::X_AMZN_TRACE_ID,
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
    )]);
    let (out, warnings) = convert(&cx);
    assert_eq!(
        out.parent,
        ParentOutcome::XRay {
            rejected_traceparent: None
        }
    );
    assert_eq!(warnings, 0);
    assert_eq!(
        out.spans[0].trace_id.to_string(),
        "5759e988bd862e3fe1be46a994272793"
    );
    assert_eq!(
        out.spans[0]
            .parent_span_id
            .map(|p| p.to_string())
            .as_deref(),
        Some("53995c3f42cd8ad8")
    );
    assert_eq!(out.spans[0].trace_flags(), 1);
    assert!(out.spans[0].parent_is_remote());
}

#[test]
fn root_only_xray_keeps_its_trace_id_without_parent() {
    let cx = context(&[(
        header::X_AMZN_TRACE_ID,
        "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0",
    )]);
    let (out, _) = convert(&cx);
    assert!(matches!(out.parent, ParentOutcome::XRay { .. }));
    assert_eq!(
        out.spans[0].trace_id.to_string(),
        "5759e988bd862e3fe1be46a994272793"
    );
    assert_eq!(out.spans[0].parent_span_id, None);
    assert!(!out.spans[0].parent_is_remote());
    assert_eq!(out.spans[0].trace_flags(), 0);
}

#[test]
fn invalid_traceparent_beside_valid_xray_reports_the_rejection() {
    let cx = context(&[
        (
            header::TRACEPARENT,
            "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
        ),
        (
            header::X_AMZN_TRACE_ID,
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        ),
    ]);
    let (out, warnings) = convert(&cx);
    match &out.parent {
        ParentOutcome::XRay {
            rejected_traceparent: Some(r),
        } => assert_eq!(r.header, header::TRACEPARENT),
        other => panic!("unexpected outcome {other:?}"),
    }
    assert_eq!(warnings, 1);
}

#[test]
fn invalid_traceparent_falls_back_with_exactly_one_warning() {
    let cx = context(&[(header::TRACEPARENT, "00-not-a-valid-traceparent-01")]);
    let (out, warnings) = convert(&cx);
    match &out.parent {
        ParentOutcome::Fallback(r) => assert_eq!(r.header, header::TRACEPARENT),
        other => panic!("unexpected outcome {other:?}"),
    }
    assert_eq!(warnings, 1);
    assert_eq!(out.spans[0].trace_id, session_trace_id("session-1"));
    assert_eq!(out.spans[0].parent_span_id, None);
    assert_eq!(out.spans[0].trace_flags(), 0x01);
}

#[test]
fn empty_context_is_no_parent() {
    let (out, warnings) = convert(&TraceContext::new());
    assert_eq!(out.parent, ParentOutcome::NoParent);
    assert_eq!(warnings, 0);
    let plain = Converter::new(ConvertOptions::default()).convert_session("session-1", &events());
    assert_eq!(out.spans, plain.spans);
}
