//! The W3C trace-context test service, so the official W3C test suite
//! (<https://github.com/w3c/trace-context/tree/main/test>) can be run against
//! `tracewire-context`. The protocol is described in
//! [docs/conformance.md#w3c-test-service](https://github.com/tracewire/tracewire/blob/main/docs/conformance.md#w3c-test-service).
//!
//! Protocol: on `POST /test` with a JSON array of `{"url": …, "arguments": …}`, the
//! service extracts the trace context of the request (through
//! [`TraceContextLayer`]), and for each element, **before replying**, POSTs the
//! element's `arguments` as the JSON body to the element's `url` with a propagated
//! `traceparent`/`tracestate` carrying a fresh parent id per call (through
//! [`RequestBuilderExt::with_trace_context`]); then it answers 200. A request without a
//! valid `traceparent` starts a new trace (and, as W3C requires, does not propagate
//! its `tracestate`).
//!
//! [`RequestBuilderExt::with_trace_context`]: tracewire_context::reqwest::RequestBuilderExt::with_trace_context
//!
//! Used by the `w3c_service` example binary and by `examples/tests/w3c_service.rs`.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tower::{Layer as _, ServiceExt as _};
use tracewire_context::reqwest::RequestBuilderExt as _;
use tracewire_context::tower::TraceContextLayer;
use tracewire_context::{SpanId, TraceContext, TraceFlags, TraceId, Traceparent};

/// Where the service listens when `--addr` is not given (the suite's default).
pub const DEFAULT_ADDR: &str = "127.0.0.1:5055";
/// Largest `/test` request body accepted; the suite sends a few hundred bytes.
pub const MAX_BODY_BYTES: usize = 1 << 20;
/// Each callback request gives up after this long.
pub const CALLBACK_TIMEOUT: Duration = Duration::from_secs(10);

/// Counters of what the service did, shared by every connection.
#[derive(Debug, Default)]
pub struct Stats {
    requests: AtomicU64,
    callbacks_sent: AtomicU64,
    callbacks_failed: AtomicU64,
    bad_requests: AtomicU64,
}

impl Stats {
    /// `/test` requests handled (any outcome).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
    /// Callbacks that got an HTTP response.
    pub fn callbacks_sent(&self) -> u64 {
        self.callbacks_sent.load(Ordering::Relaxed)
    }
    /// Callbacks that could not be delivered (connection error or timeout).
    pub fn callbacks_failed(&self) -> u64 {
        self.callbacks_failed.load(Ordering::Relaxed)
    }
    /// Requests refused: wrong method or path, unreadable body, or not the JSON array
    /// of the protocol.
    pub fn bad_requests(&self) -> u64 {
        self.bad_requests.load(Ordering::Relaxed)
    }
}

/// The context to send on one callback: a child of the incoming trace with a fresh
/// parent id, or — when the request had no usable trace parent — a new trace (random
/// trace id, `random` flag set) that carries no `tracestate`.
pub fn outgoing_context(incoming: &TraceContext) -> TraceContext {
    if incoming.effective_traceparent().is_some() {
        return incoming.child_random();
    }
    let mut fresh = TraceContext::new();
    fresh.traceparent = Some(Traceparent::new(
        TraceId::random(),
        SpanId::random(),
        TraceFlags::RANDOM,
    ));
    fresh.baggage = incoming.baggage.clone();
    fresh
}

/// Serves the protocol on `listener` until `shutdown` completes, counting into
/// `stats`. Connections already accepted finish on their own.
pub async fn serve(
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
    stats: Arc<Stats>,
) -> io::Result<()> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(CALLBACK_TIMEOUT)
        .build()
        .map_err(io::Error::other)?;
    let layer = TraceContextLayer::new();
    let service = layer.layer(tower::service_fn(move |request: Request<Incoming>| {
        let client = client.clone();
        let stats = Arc::clone(&stats);
        async move { Ok::<_, Infallible>(handle(request, &client, &stats).await) }
    }));
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            () = &mut shutdown => return Ok(()),
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // A failed accept (e.g. too many open files) is reported and retried.
                Err(error) => {
                    eprintln!("w3c_service: accept failed: {error}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let service = service.clone();
        tokio::spawn(async move {
            let hyper_service =
                hyper::service::service_fn(move |request| service.clone().oneshot(request));
            if let Err(error) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), hyper_service)
                .await
            {
                eprintln!("w3c_service: connection error: {error}");
            }
        });
    }
}

/// Binds `addr` (port 0 picks a free port) and returns the listener with the address
/// actually bound.
pub async fn bind(addr: SocketAddr) -> io::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    Ok((listener, local))
}

fn respond(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response
}

async fn handle(
    request: Request<Incoming>,
    client: &reqwest::Client,
    stats: &Stats,
) -> Response<Full<Bytes>> {
    stats.requests.fetch_add(1, Ordering::Relaxed);
    if request.method() != Method::POST || request.uri().path() != "/test" {
        stats.bad_requests.fetch_add(1, Ordering::Relaxed);
        return respond(StatusCode::NOT_FOUND, "only POST /test\n");
    }
    let incoming = request
        .extensions()
        .get::<TraceContext>()
        .cloned()
        .unwrap_or_default();
    let body = match Limited::new(request.into_body(), MAX_BODY_BYTES)
        .collect()
        .await
    {
        Ok(body) => body.to_bytes(),
        Err(error) => {
            stats.bad_requests.fetch_add(1, Ordering::Relaxed);
            return respond(
                StatusCode::BAD_REQUEST,
                format!("unreadable body: {error}\n"),
            );
        }
    };
    let calls = match parse_calls(&body) {
        Ok(calls) => calls,
        Err(reason) => {
            stats.bad_requests.fetch_add(1, Ordering::Relaxed);
            return respond(StatusCode::BAD_REQUEST, format!("{reason}\n"));
        }
    };
    let mut failures = Vec::new();
    for (url, arguments) in calls {
        let body = arguments.to_string();
        let sent = client
            .post(&url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .with_trace_context(&outgoing_context(&incoming))
            .body(body)
            .send()
            .await;
        match sent {
            Ok(_) => {
                stats.callbacks_sent.fetch_add(1, Ordering::Relaxed);
            }
            Err(error) => {
                stats.callbacks_failed.fetch_add(1, Ordering::Relaxed);
                failures.push(format!("{url}: {error}"));
            }
        }
    }
    if failures.is_empty() {
        respond(StatusCode::OK, "")
    } else {
        eprintln!("w3c_service: callbacks failed: {failures:?}");
        respond(
            StatusCode::BAD_GATEWAY,
            format!("callbacks failed: {}\n", failures.join("; ")),
        )
    }
}

/// Decodes the protocol's `[{"url": …, "arguments": …}, …]`.
fn parse_calls(body: &[u8]) -> Result<Vec<(String, serde_json::Value)>, String> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("body is not JSON: {e}"))?;
    let items = value
        .as_array()
        .ok_or_else(|| "body is not a JSON array".to_owned())?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let url = item
                .get("url")
                .and_then(serde_json::Value::as_str)
                .ok_or_else(|| format!("element {i} has no string \"url\""))?;
            let arguments = item
                .get("arguments")
                .cloned()
                .unwrap_or(serde_json::Value::Null);
            Ok((url.to_owned(), arguments))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_calls_reads_the_protocol_and_rejects_other_shapes() {
        let calls = parse_calls(br#"[{"url":"http://127.0.0.1:1/a","arguments":[1,{"b":2}]}]"#)
            .expect("valid");
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].0, "http://127.0.0.1:1/a");
        assert_eq!(calls[0].1, serde_json::json!([1, {"b": 2}]));
        assert!(parse_calls(b"{}").is_err());
        assert!(parse_calls(b"[{\"arguments\":1}]").is_err());
        assert!(parse_calls(b"not json").is_err());
    }

    #[test]
    fn outgoing_context_continues_or_starts_a_trace() {
        let mut headers = std::collections::HashMap::new();
        headers.insert(
            "traceparent".to_owned(),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned(),
        );
        headers.insert("tracestate".to_owned(), "a=1".to_owned());
        let incoming = TraceContext::extract(&headers);
        let a = outgoing_context(&incoming);
        let b = outgoing_context(&incoming);
        let (ta, tb) = (a.traceparent.expect("a"), b.traceparent.expect("b"));
        assert_eq!(ta.trace_id, tb.trace_id);
        assert_ne!(ta.parent_id, tb.parent_id, "fresh parent id per call");
        assert_eq!(a.tracestate.header(), "a=1");

        let fresh = outgoing_context(&TraceContext::default());
        let tp = fresh.traceparent.expect("new trace");
        assert!(tp.trace_id.is_valid() && tp.parent_id.is_valid());
        assert!(fresh.tracestate.is_empty());
    }
}
