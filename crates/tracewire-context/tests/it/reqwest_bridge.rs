//! `RequestBuilderExt` (feature `reqwest`): a real reqwest client sends to a real hyper
//! server on 127.0.0.1 that echoes the headers it received.
#![cfg(feature = "reqwest")]

use std::convert::Infallible;

use hyper::body::Incoming;
use opentelemetry::trace::{
    SpanContext, SpanId as OtelSpanId, TraceContextExt as _, TraceFlags as OtelFlags,
    TraceId as OtelTraceId, TraceState as OtelTraceState,
};
use serde_json::Value;
use tracewire_context::reqwest::RequestBuilderExt as _;
use tracewire_context::{SpanId, TraceContext};

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const TRACE_HEADERS: [&str; 4] = ["traceparent", "tracestate", "baggage", "x-amzn-trace-id"];

/// Starts the echo server and returns its URL.
async fn echo_server() -> String {
    let service = tower::service_fn(|request: http::Request<Incoming>| async move {
        let headers: Vec<Value> = request
            .headers()
            .iter()
            .map(|(name, value)| {
                Value::from(vec![
                    name.as_str().to_owned(),
                    value.to_str().unwrap_or("<non-ascii>").to_owned(),
                ])
            })
            .collect();
        Ok::<_, Infallible>(crate::support::json_response(&Value::from(headers)))
    });
    let addr = crate::support::serve(service).await;
    format!("http://{addr}/echo")
}

/// The trace headers the server received, as (name, value) in arrival order.
fn trace_headers(echo: &Value) -> Vec<(String, String)> {
    echo.as_array()
        .expect("array")
        .iter()
        .filter_map(|pair| {
            let name = pair[0].as_str()?.to_owned();
            let value = pair[1].as_str()?.to_owned();
            TRACE_HEADERS
                .contains(&name.as_str())
                .then_some((name, value))
        })
        .collect()
}

fn full_context() -> TraceContext {
    let mut headers = std::collections::HashMap::new();
    headers.insert("traceparent".to_owned(), TRACEPARENT.to_owned());
    headers.insert(
        "tracestate".to_owned(),
        "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE".to_owned(),
    );
    headers.insert("baggage".to_owned(), "userId=al%20ice;p=1,b=2".to_owned());
    headers.insert(
        "X-Amzn-Trace-Id".to_owned(),
        "Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent=00f067aa0ba902b7;Sampled=1;Lineage=a87bd80c:1|68fd508a:5"
            .to_owned(),
    );
    let context = TraceContext::extract(&headers);
    assert!(
        context.rejections().is_empty(),
        "{:?}",
        context.rejections()
    );
    context
}

#[tokio::test]
async fn trace_context_sends_every_present_header_once() {
    let url = echo_server().await;
    let child = full_context().child(SpanId::from_u64(0x1122_3344_5566_7788));
    let echo = crate::support::send_json(
        crate::support::client()
            .get(&url)
            .with_trace_context(&child),
    )
    .await;
    let received = trace_headers(&echo);

    let mut expected = std::collections::BTreeMap::new();
    child.inject(&mut expected);
    let mut received_sorted = received.clone();
    received_sorted.sort();
    let expected: Vec<(String, String)> = expected
        .into_iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect();
    assert_eq!(received_sorted, expected);
    assert!(received.contains(&(
        "traceparent".to_owned(),
        "00-4bf92f3577b34da6a3ce929d0e0e4736-1122334455667788-01".to_owned()
    )));
    assert!(received.contains(&(
        "tracestate".to_owned(),
        "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE".to_owned()
    )));

    // The server side reads back the same context.
    let mut map = http::HeaderMap::new();
    for (name, value) in &received {
        map.append(
            http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
            http::HeaderValue::from_str(value).expect("value"),
        );
    }
    let back = TraceContext::extract(&map);
    assert_eq!(back.traceparent, child.traceparent);
    assert_eq!(back.tracestate, child.tracestate);
    assert_eq!(back.baggage, child.baggage);
    assert_eq!(back.baggage.get("userId"), Some("al ice"));
    // X-Ray is re-derived from the W3C view on injection: same trace, the child's
    // parent id, the preserved fields.
    let xray = back.xray.expect("X-Ray header sent");
    let tp = child.traceparent.expect("child traceparent");
    assert_eq!(xray.trace_id, tp.trace_id);
    assert_eq!(xray.parent, Some(tp.parent_id));
    assert_eq!(xray.field("Lineage"), Some("a87bd80c:1|68fd508a:5"));
}

#[tokio::test]
async fn trace_context_replaces_headers_already_on_the_builder() {
    let url = echo_server().await;
    let context = full_context();
    let echo = crate::support::send_json(
        crate::support::client()
            .get(&url)
            .header(
                "traceparent",
                "00-ffffffffffffffffffffffffffffffff-ffffffffffffffff-00",
            )
            .header("tracestate", "stale=1")
            .with_trace_context(&context),
    )
    .await;
    let received = trace_headers(&echo);
    let traceparents: Vec<_> = received
        .iter()
        .filter(|(n, _)| n == "traceparent")
        .collect();
    assert_eq!(traceparents.len(), 1, "{received:?}");
    assert_eq!(traceparents[0].1, TRACEPARENT);
    let tracestates: Vec<_> = received.iter().filter(|(n, _)| n == "tracestate").collect();
    assert_eq!(tracestates.len(), 1, "{received:?}");
    assert_eq!(tracestates[0].1, "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
}

#[tokio::test]
async fn empty_trace_context_writes_no_header() {
    let url = echo_server().await;
    let echo = crate::support::send_json(
        crate::support::client()
            .get(&url)
            .header("tracestate", "kept=1")
            .with_trace_context(&TraceContext::default()),
    )
    .await;
    assert_eq!(
        trace_headers(&echo),
        vec![("tracestate".to_owned(), "kept=1".to_owned())],
        "nothing written, nothing removed"
    );
}

#[tokio::test]
async fn current_trace_context_sends_the_active_opentelemetry_span() {
    let url = echo_server().await;
    let state = OtelTraceState::from_key_value([("vendor", "v1"), ("other", "o2")])
        .expect("valid tracestate");
    let span_context = SpanContext::new(
        OtelTraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").expect("hex"),
        OtelSpanId::from_hex("a2fb4a1d1a96d312").expect("hex"),
        OtelFlags::SAMPLED,
        false,
        state,
    );
    let request = {
        let _guard = opentelemetry::Context::current()
            .with_remote_span_context(span_context)
            .attach();
        crate::support::client()
            .get(&url)
            .with_current_trace_context()
    };
    let received = trace_headers(&crate::support::send_json(request).await);
    assert!(
        received.contains(&(
            "traceparent".to_owned(),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-a2fb4a1d1a96d312-01".to_owned()
        )),
        "{received:?}"
    );
    assert!(
        received.contains(&("tracestate".to_owned(), "vendor=v1,other=o2".to_owned())),
        "{received:?}"
    );
}

#[tokio::test]
async fn current_trace_context_without_a_span_writes_nothing() {
    let url = echo_server().await;
    let echo = crate::support::send_json(
        crate::support::client()
            .get(&url)
            .with_current_trace_context(),
    )
    .await;
    assert_eq!(trace_headers(&echo), Vec::<(String, String)>::new());
}
