//! Per-connection configuration (`docs/websocket.md#options`). Nothing here reads the environment or
//! writes the OpenTelemetry globals.

use std::fmt;
use std::sync::Arc;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{Span, Tracer, TracerProvider};
use tungstenite::protocol::WebSocketConfig;

use crate::envelope::{Format, DEFAULT_MAX_ENVELOPE_SIZE};
use crate::negotiation::Negotiation;
use crate::tracer::ProvideTracer;

/// How a receive span relates to the sender's span ([docs/websocket.md#receive-span](https://github.com/tracewire/tracewire/blob/main/docs/websocket.md#receive-span)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum SpanPolicy {
    /// Child of the sender's send span, also linked to it (as otel-gorilla-ws).
    #[default]
    ParentAndLink,
    /// Child of the sender's send span, no link.
    Parent,
    /// A new trace linked to the sender: for long-lived sockets and batch consumers.
    Link,
}

/// The propagator a connection injects and extracts with.
#[derive(Clone)]
pub(crate) enum PropagatorChoice {
    /// The core crate's strict W3C TraceContext + Baggage propagator.
    Default,
    /// A caller-supplied propagator.
    Custom(Arc<dyn TextMapPropagator + Send + Sync>),
    /// The OpenTelemetry global propagator, read on every use.
    Global,
}

/// Per-connection options: cheap to clone, `Options::default()` plus builder methods.
#[derive(Clone)]
pub struct Options {
    pub(crate) tracer_provider: Option<Arc<dyn ProvideTracer>>,
    pub(crate) propagator: PropagatorChoice,
    pub(crate) format: Option<Format>,
    pub(crate) span_policy: SpanPolicy,
    pub(crate) enabled: bool,
    pub(crate) max_envelope_size: usize,
    pub(crate) negotiation: Negotiation,
    pub(crate) subprotocols: Vec<String>,
    pub(crate) negotiated_subprotocol: Option<String>,
    pub(crate) retry_without_subprotocols: bool,
    pub(crate) handshake_propagation: bool,
    pub(crate) trace_passthrough: bool,
    pub(crate) close_on_capacity: bool,
    pub(crate) websocket_config: Option<WebSocketConfig>,
    pub(crate) implicit_init: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            tracer_provider: None,
            propagator: PropagatorChoice::Default,
            format: None,
            span_policy: SpanPolicy::default(),
            enabled: true,
            max_envelope_size: DEFAULT_MAX_ENVELOPE_SIZE,
            negotiation: Negotiation::Off,
            subprotocols: Vec::new(),
            negotiated_subprotocol: None,
            retry_without_subprotocols: true,
            handshake_propagation: true,
            trace_passthrough: true,
            close_on_capacity: true,
            websocket_config: None,
            implicit_init: false,
        }
    }
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let propagator = match self.propagator {
            PropagatorChoice::Default => "default",
            PropagatorChoice::Custom(_) => "custom",
            PropagatorChoice::Global => "global",
        };
        f.debug_struct("Options")
            .field(
                "tracer_provider",
                &self.tracer_provider.as_ref().map(|_| "custom"),
            )
            .field("propagator", &propagator)
            .field("format", &self.format)
            .field("span_policy", &self.span_policy)
            .field("enabled", &self.enabled)
            .field("max_envelope_size", &self.max_envelope_size)
            .field("negotiation", &self.negotiation)
            .field("subprotocols", &self.subprotocols)
            .field("negotiated_subprotocol", &self.negotiated_subprotocol)
            .field(
                "retry_without_subprotocols",
                &self.retry_without_subprotocols,
            )
            .field("handshake_propagation", &self.handshake_propagation)
            .field("trace_passthrough", &self.trace_passthrough)
            .field("close_on_capacity", &self.close_on_capacity)
            .field("websocket_config", &self.websocket_config)
            .field("implicit_init", &self.implicit_init)
            .finish()
    }
}

impl Options {
    /// Options with every default (same as `Options::default()`).
    pub fn new() -> Self {
        Self::default()
    }

    /// Use this provider for the connection's spans instead of the global one; it is never
    /// installed globally.
    #[must_use]
    pub fn with_tracer_provider<P, T, S>(mut self, provider: P) -> Self
    where
        S: Span + Send + Sync + 'static,
        T: Tracer<Span = S> + Send + Sync + 'static,
        P: TracerProvider<Tracer = T> + Send + Sync + 'static,
    {
        self.tracer_provider = Some(Arc::new(provider));
        self
    }

    /// Inject and extract with `propagator` instead of the strict W3C + Baggage default.
    #[must_use]
    pub fn with_propagator<P>(mut self, propagator: P) -> Self
    where
        P: TextMapPropagator + Send + Sync + 'static,
    {
        self.propagator = PropagatorChoice::Custom(Arc::new(propagator));
        self
    }

    /// Use the OpenTelemetry global propagator, read on every message.
    #[must_use]
    pub fn with_global_propagator(mut self) -> Self {
        self.propagator = PropagatorChoice::Global;
        self
    }

    /// The envelope format written (unset: Seed, or OtelWs when otel-ws was negotiated).
    #[must_use]
    pub fn with_format(mut self, format: Format) -> Self {
        self.format = Some(format);
        self
    }

    /// How receive spans relate to the sender (default `ParentAndLink`).
    #[must_use]
    pub fn with_span_policy(mut self, policy: SpanPolicy) -> Self {
        self.span_policy = policy;
        self
    }

    /// `false` behaves exactly as raw tokio-tungstenite: no envelope, spans, tokens or
    /// handshake headers.
    #[must_use]
    pub fn with_enabled(mut self, enabled: bool) -> Self {
        self.enabled = enabled;
        self
    }

    /// Bound of encoded and received envelopes (default 64 MiB); keep it at most the
    /// peer's `max_message_size`.
    #[must_use]
    pub fn with_max_envelope_size(mut self, max: usize) -> Self {
        self.max_envelope_size = max;
        self
    }

    /// Subprotocol negotiation mode (default `Off`; see
    /// [docs/wire-formats.md#subprotocol-negotiation](https://github.com/tracewire/tracewire/blob/main/docs/wire-formats.md#subprotocol-negotiation)).
    #[must_use]
    pub fn with_negotiation(mut self, negotiation: Negotiation) -> Self {
        self.negotiation = negotiation;
        self
    }

    /// Application subprotocols offered (client) or supported (server), in preference order.
    #[must_use]
    pub fn with_subprotocols<I, P>(mut self, protocols: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<String>,
    {
        self.subprotocols = protocols.into_iter().map(Into::into).collect();
        self
    }

    /// For [`crate::wrap`] only: the subprotocol the handshake settled on.
    #[must_use]
    pub fn with_negotiated_subprotocol(mut self, protocol: Option<String>) -> Self {
        self.negotiated_subprotocol = protocol;
        self
    }

    /// Reconnect once without `Sec-WebSocket-Protocol` when a server ignores a bare
    /// `otel-ws` offer (default `true`).
    #[must_use]
    pub fn with_retry_without_subprotocols(mut self, retry: bool) -> Self {
        self.retry_without_subprotocols = retry;
        self
    }

    /// Put trace headers on the upgrade request (client) and read them (server); default
    /// `true`.
    #[must_use]
    pub fn with_handshake_propagation(mut self, on: bool) -> Self {
        self.handshake_propagation = on;
        self
    }

    /// Record receive spans for messages without an envelope (default `true`).
    #[must_use]
    pub fn with_trace_passthrough(mut self, on: bool) -> Self {
        self.trace_passthrough = on;
        self
    }

    /// Send Close 1009 before reporting a peer message over `max_message_size`
    /// (default `true`).
    #[must_use]
    pub fn with_close_on_capacity(mut self, on: bool) -> Self {
        self.close_on_capacity = on;
        self
    }

    /// tungstenite's configuration, passed through.
    #[must_use]
    pub fn with_websocket_config(mut self, config: WebSocketConfig) -> Self {
        self.websocket_config = Some(config);
        self
    }

    /// Let the first connection call `init_tracer()` (the `OTEL_*` configuration) when
    /// no `with_tracer_provider` is set (default `false`). Needs the `otlp` feature; without it
    /// the first such connection logs a warning that nothing was set up.
    #[must_use]
    pub fn with_implicit_init(mut self, on: bool) -> Self {
        self.implicit_init = on;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_documented_options_table() {
        let o = Options::default();
        assert!(o.tracer_provider.is_none());
        assert!(matches!(o.propagator, PropagatorChoice::Default));
        assert_eq!(o.format, None);
        assert_eq!(o.span_policy, SpanPolicy::ParentAndLink);
        assert!(o.enabled && o.retry_without_subprotocols && o.handshake_propagation);
        assert!(o.trace_passthrough && o.close_on_capacity && !o.implicit_init);
        assert_eq!(o.max_envelope_size, 64 << 20);
        assert_eq!(o.negotiation, Negotiation::Off);
        assert!(format!("{o:?}").contains("ParentAndLink"));
    }
}
