//! `TraceContextLayer` (feature `tower`) in front of a real hyper server on 127.0.0.1,
//! driven by a real reqwest client.
//!
//! The handler reports, as JSON, what it saw: the `TraceContext` request extension and
//! the current OpenTelemetry span context both inside `call` and after an `.await` in
//! the response future.
#![cfg(all(feature = "tower", feature = "reqwest"))]

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use opentelemetry::trace::TraceContextExt as _;
use serde_json::{json, Value};
use tower::Layer as _;
use tracewire_context::tower::TraceContextLayer;
use tracewire_context::TraceContext;

const TRACE_ID: &str = "0af7651916cd43dd8448eb211c80319c";
const PARENT_ID: &str = "b7ad6b7169203331";
const TRACEPARENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

/// What the OpenTelemetry context says at some point in the handler.
fn current_span() -> Value {
    let cx = opentelemetry::Context::current();
    let span = cx.span();
    let sc = span.span_context();
    if !sc.is_valid() {
        return Value::Null;
    }
    json!({
        "trace_id": sc.trace_id().to_string(),
        "span_id": sc.span_id().to_string(),
        "sampled": sc.is_sampled(),
        "remote": sc.is_remote(),
        "tracestate": sc.trace_state().header(),
    })
}

async fn handler_report(request: http::Request<Incoming>, in_call: Value) -> Value {
    let extension = request.extensions().get::<TraceContext>().map(|tc| {
        json!({
            "traceparent": tc.traceparent.map(|tp| tp.to_string()),
            "tracestate": tc.tracestate.header(),
            "baggage": tc.baggage.header(),
            "xray": tc.xray.as_ref().map(|x| x.to_string()),
            "rejections": tc.rejections().iter().map(|r| r.header).collect::<Vec<_>>(),
        })
    });
    // Yield to the runtime and come back: the context must still be current.
    tokio::time::sleep(Duration::from_millis(5)).await;
    tokio::task::yield_now().await;
    json!({
        "extension": extension,
        "in_call": in_call,
        "after_await": current_span(),
    })
}

/// A server with the layer in front of the reporting handler; returns its base URL and
/// the layer (for its rejection counter).
async fn start() -> (String, TraceContextLayer) {
    let layer = TraceContextLayer::new();
    let service = layer.layer(tower::service_fn(|request: http::Request<Incoming>| {
        // This closure runs inside `Service::call`.
        let in_call = current_span();
        async move {
            let report = handler_report(request, in_call).await;
            Ok::<_, Infallible>(crate::support::json_response(&report))
        }
    }));
    let addr = crate::support::serve(service).await;
    (format!("http://{addr}/"), layer)
}

#[tokio::test]
async fn layer_extracts_into_extensions_and_runs_handler_in_remote_parent_context() {
    let (url, layer) = start().await;
    let report = crate::support::send_json(
        crate::support::client()
            .get(&url)
            .header("traceparent", TRACEPARENT)
            .header("tracestate", "congo=t61rcWkgMzE")
            .header("tracestate", "rojo=00f067aa0ba902b7")
            .header("baggage", "userId=alice,isProduction=false"),
    )
    .await;

    let extension = &report["extension"];
    assert_eq!(extension["traceparent"], TRACEPARENT);
    assert_eq!(
        extension["tracestate"], "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7",
        "both tracestate headers combined in order"
    );
    assert_eq!(extension["baggage"], "userId=alice,isProduction=false");
    assert_eq!(extension["rejections"], json!([]));

    let expected = json!({
        "trace_id": TRACE_ID,
        "span_id": PARENT_ID,
        "sampled": true,
        "remote": true,
        "tracestate": "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7",
    });
    assert_eq!(report["in_call"], expected, "context current inside call");
    assert_eq!(
        report["after_await"], expected,
        "context current across awaits"
    );
    assert_eq!(layer.rejected_requests(), 0);
}

#[tokio::test]
async fn layer_is_a_no_op_without_trace_headers() {
    let (url, layer) = start().await;
    let report =
        crate::support::send_json(crate::support::client().get(&url).header("x-other", "1")).await;
    assert_eq!(report["extension"], Value::Null, "no extension added");
    assert_eq!(report["in_call"], Value::Null, "no span context made up");
    assert_eq!(report["after_await"], Value::Null);
    assert_eq!(layer.rejected_requests(), 0);
}

#[tokio::test]
async fn layer_counts_invalid_headers_exposes_rejections_and_still_serves() {
    let (url, layer) = start().await;
    // Uppercase hex: invalid traceparent, so the tracestate must be discarded too.
    let report = crate::support::send_json(
        crate::support::client()
            .get(&url)
            .header(
                "traceparent",
                "00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01",
            )
            .header("tracestate", "congo=t61rcWkgMzE"),
    )
    .await;
    let extension = &report["extension"];
    assert_eq!(extension["traceparent"], Value::Null);
    assert_eq!(
        extension["tracestate"], "",
        "tracestate discarded with its traceparent"
    );
    assert_eq!(extension["rejections"], json!(["traceparent"]));
    assert_eq!(
        report["in_call"],
        Value::Null,
        "an invalid parent starts no context"
    );
    assert_eq!(report["after_await"], Value::Null);
    assert_eq!(layer.rejected_requests(), 1);

    // A second bad request is counted again; a good one is not.
    let _ = crate::support::send_json(
        crate::support::client()
            .get(&url)
            .header("traceparent", "00-1-2-01"),
    )
    .await;
    let _ = crate::support::send_json(
        crate::support::client()
            .get(&url)
            .header("traceparent", TRACEPARENT),
    )
    .await;
    assert_eq!(layer.rejected_requests(), 2);
}

#[tokio::test]
async fn layer_continues_an_xray_only_request_in_the_derived_w3c_context() {
    let (url, _layer) = start().await;
    let report = crate::support::send_json(crate::support::client().get(&url).header(
        "X-Amzn-Trace-Id",
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
    ))
    .await;
    assert_eq!(
        report["extension"]["xray"],
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    );
    assert_eq!(report["extension"]["traceparent"], Value::Null);
    let expected = json!({
        "trace_id": "5759e988bd862e3fe1be46a994272793",
        "span_id": "53995c3f42cd8ad8",
        "sampled": true,
        "remote": true,
        "tracestate": "",
    });
    assert_eq!(report["in_call"], expected);
    assert_eq!(report["after_await"], expected);
}

#[tokio::test]
async fn layer_leaves_the_ambient_context_alone_after_the_request() {
    let (url, _layer) = start().await;
    let _ = crate::support::send_json(
        crate::support::client()
            .get(&url)
            .header("traceparent", TRACEPARENT),
    )
    .await;
    // The test task itself never entered the request's context.
    assert_eq!(current_span(), Value::Null);
}

/// The layer works on any `Service<http::Request<B>>`, also without a network.
#[tokio::test]
async fn layer_wraps_an_in_process_service() {
    use tower::ServiceExt as _;
    let service = TraceContextLayer::new().layer(tower::service_fn(
        |request: http::Request<()>| async move {
            let tc = request.extensions().get::<TraceContext>().cloned();
            Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::from(
                tc.and_then(|tc| tc.traceparent)
                    .map(|tp| tp.parent_id.to_string())
                    .unwrap_or_default(),
            ))))
        },
    ));
    let request = http::Request::builder()
        .header("traceparent", TRACEPARENT)
        .body(())
        .expect("request");
    let response = tokio::time::timeout(crate::support::STEP_TIMEOUT, service.oneshot(request))
        .await
        .expect("timed out")
        .expect("infallible");
    use http_body_util::BodyExt as _;
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    assert_eq!(&body[..], PARENT_ID.as_bytes());
}

/// The whole path through the bridges: the layer extracts, the handler calls a downstream
/// service with `with_current_trace_context()`, and the downstream receives the same trace
/// (the remote span as parent, no local span in between), the full strict tracestate
/// (Level 2 keys included, which OpenTelemetry's own `TraceState` cannot hold) and the
/// baggage.
#[tokio::test]
async fn handler_forwards_the_incoming_context_downstream_with_current_trace_context() {
    use tracewire_context::reqwest::RequestBuilderExt as _;

    let downstream = crate::support::serve(tower::service_fn(
        |request: http::Request<Incoming>| async move {
            let header = |name: &str| {
                request
                    .headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            let seen = json!({
                "traceparent": header("traceparent"),
                "tracestate": header("tracestate"),
                "baggage": header("baggage"),
            });
            Ok::<_, Infallible>(crate::support::json_response(&seen))
        },
    ))
    .await;
    let downstream_url = format!("http://{downstream}/");
    let front = crate::support::serve(TraceContextLayer::new().layer(tower::service_fn(
        move |_request: http::Request<Incoming>| {
            let url = downstream_url.clone();
            async move {
                // Runs inside the request's OpenTelemetry context.
                let seen = crate::support::send_json(
                    crate::support::client()
                        .get(&url)
                        .with_current_trace_context(),
                )
                .await;
                Ok::<_, Infallible>(crate::support::json_response(&seen))
            }
        },
    )))
    .await;

    let seen = crate::support::send_json(
        crate::support::client()
            .get(format!("http://{front}/"))
            .header("traceparent", TRACEPARENT)
            .header("tracestate", "congo=x,a@b@c=1")
            .header("baggage", "userId=alice"),
    )
    .await;
    assert_eq!(seen["traceparent"], TRACEPARENT);
    assert_eq!(seen["tracestate"], "congo=x,a@b@c=1");
    assert_eq!(seen["baggage"], "userId=alice");
}
