//! Tower middleware that continues the caller's trace on the server side.
//!
//! [`TraceContextLayer`] wraps any `tower::Service<http::Request<B>>`. For each request
//! it [extracts](crate::TraceContext::extract) the trace headers (`traceparent`,
//! `tracestate`, `baggage`, `X-Amzn-Trace-Id`), stores the [`TraceContext`] in the
//! request extensions so the handler can read it, and runs the inner service — both its
//! `call` and the returned future — inside the matching OpenTelemetry [`Context`]
//! (built with [`otel::context_with`](crate::otel::context_with)), so spans the
//! handler starts become children of the remote caller's span.
//!
//! When a request carries no trace header at all the layer changes nothing: no
//! extension is added and the inner service runs in the ambient context.
//!
//! Headers that are present but invalid are not swallowed: the extracted
//! [`TraceContext`] (with its [`rejections`](crate::TraceContext::rejections)) is still
//! put in the extensions, and the layer counts such requests
//! ([`TraceContextLayer::rejected_requests`]).
//!
//! ```
//! use std::convert::Infallible;
//! use tower::{Layer as _, ServiceExt as _};
//! use tracewire_context::tower::TraceContextLayer;
//! use tracewire_context::TraceContext;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let layer = TraceContextLayer::new();
//! let service = layer.layer(tower::service_fn(|request: http::Request<()>| async move {
//!     // The handler reads the caller's context from the extensions.
//!     let incoming = request.extensions().get::<TraceContext>().cloned().unwrap_or_default();
//!     Ok::<_, Infallible>(incoming.trace_id().map(|id| id.to_string()))
//! }));
//! let request = http::Request::builder()
//!     .header("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
//!     .body(())
//!     .unwrap();
//! let trace_id = service.oneshot(request).await.unwrap();
//! assert_eq!(trace_id.as_deref(), Some("4bf92f3577b34da6a3ce929d0e0e4736"));
//! assert_eq!(layer.rejected_requests(), 0);
//! # });
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use opentelemetry::context::{FutureExt as _, WithContext};
use opentelemetry::Context;
use tower_layer::Layer;
use tower_service::Service;

use crate::TraceContext;

/// Layer producing [`TraceContextService`]s: put it in front of an HTTP handler to
/// continue incoming traces.
///
/// Clones share one rejection counter, so the count covers every service the layer
/// (or any clone of it) produced.
#[derive(Debug, Clone, Default)]
pub struct TraceContextLayer {
    rejected: Arc<AtomicU64>,
}

impl TraceContextLayer {
    /// A layer with its rejection counter at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many requests so far carried at least one trace header that was present
    /// but invalid (the header was ignored; the request still went through).
    pub fn rejected_requests(&self) -> u64 {
        self.rejected.load(Ordering::Relaxed)
    }
}

impl<S> Layer<S> for TraceContextLayer {
    type Service = TraceContextService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TraceContextService {
            inner,
            rejected: Arc::clone(&self.rejected),
        }
    }
}

/// Service made by [`TraceContextLayer`]: extracts the trace context of each request
/// and runs the wrapped service inside it.
#[derive(Debug, Clone)]
pub struct TraceContextService<S> {
    inner: S,
    rejected: Arc<AtomicU64>,
}

impl<S> TraceContextService<S> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, B> Service<http::Request<B>> for TraceContextService<S>
where
    S: Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    /// The inner future, polled with the request's OpenTelemetry context as current.
    type Future = WithContext<S::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let ambient = Context::current();
        let extracted = TraceContext::extract(request.headers());
        let present = !extracted.is_empty();
        if !extracted.rejections().is_empty() {
            self.rejected.fetch_add(1, Ordering::Relaxed);
        } else if !present {
            // No trace header at all: leave the request and the context untouched.
            return self.inner.call(request).with_context(ambient);
        }
        let otel_cx = if present {
            crate::otel::context_with(&ambient, &extracted)
        } else {
            ambient
        };
        request.extensions_mut().insert(extracted);
        let future = {
            let _guard = otel_cx.clone().attach();
            self.inner.call(request)
        };
        future.with_context(otel_cx)
    }
}
