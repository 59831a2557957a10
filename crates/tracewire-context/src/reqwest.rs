//! Client side of HTTP propagation: put a trace context on an outgoing
//! [`reqwest::RequestBuilder`].
//!
//! [`RequestBuilderExt::with_trace_context`] writes an explicit [`TraceContext`] (usually a
//! [`child`](TraceContext::child_random) of the incoming one);
//! [`RequestBuilderExt::with_current_trace_context`] writes the *current* OpenTelemetry
//! context (the active span and baggage), through the same strict formatters the
//! crate's propagators use. Headers already set on the builder under the same names are
//! replaced, never duplicated; headers that have nothing to carry are not written.
//!
//! ```no_run
//! use tracewire_context::reqwest::RequestBuilderExt as _;
//! use tracewire_context::TraceContext;
//!
//! # async fn send(incoming: &TraceContext) -> Result<(), reqwest::Error> {
//! let client = reqwest::Client::new();
//! client
//!     .post("http://127.0.0.1:8080/work")
//!     .with_trace_context(&incoming.child_random())
//!     .send()
//!     .await?;
//! # Ok(())
//! # }
//! ```

use crate::TraceContext;

/// Extension methods adding trace headers to a [`reqwest::RequestBuilder`].
///
/// Sealed: implemented only for `reqwest::RequestBuilder`.
pub trait RequestBuilderExt: sealed::Sealed {
    /// Sets the headers of `context` (`traceparent`, `tracestate`, `baggage`,
    /// `X-Amzn-Trace-Id` — those that are present) on the request.
    #[must_use]
    fn with_trace_context(self, context: &TraceContext) -> Self;

    /// Sets the headers describing the current OpenTelemetry context
    /// ([`opentelemetry::Context::current`]): its span becomes the parent of the
    /// remote side. Writes nothing when there is no valid span context or baggage.
    #[must_use]
    fn with_current_trace_context(self) -> Self;
}

impl RequestBuilderExt for reqwest::RequestBuilder {
    fn with_trace_context(self, context: &TraceContext) -> Self {
        let mut headers = http::HeaderMap::new();
        context.inject(&mut headers);
        if headers.is_empty() {
            return self;
        }
        // `headers` replaces values already present under the same names.
        self.headers(headers)
    }

    fn with_current_trace_context(self) -> Self {
        let current = crate::otel::trace_context(&opentelemetry::Context::current());
        self.with_trace_context(&current)
    }
}

mod sealed {
    /// Keeps [`super::RequestBuilderExt`] implementable only here.
    pub trait Sealed {}
    impl Sealed for reqwest::RequestBuilder {}
}
