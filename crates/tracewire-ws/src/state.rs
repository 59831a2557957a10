//! Per-connection state shared by a socket and its split halves: tracer, propagator,
//! envelope decision and the span logic of `docs/websocket.md` (send span, receive span,
//! control frames and close).

use std::borrow::Cow;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use opentelemetry::global;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{Link, SpanBuilder, SpanContext, SpanKind, Status, TraceContextExt};
use opentelemetry::{Context, InstrumentationScope, KeyValue, StringValue, Value};
use tracewire_context::otel::CompositePropagator;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::Message;

use crate::envelope::{self, EnvelopeKind, Fields, Format};
use crate::error::Error;
use crate::negotiation::Outcome;
use crate::options::{Options, PropagatorChoice, SpanPolicy};
use crate::received::Received;
use crate::tracer::{self, ConnTracer};

/// Instrumentation scope name of every span of this crate.
pub(crate) const SCOPE_NAME: &str = "tracewire-ws";

/// Where the peer is, for `server.address` / `server.port`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Peer {
    pub(crate) address: Option<String>,
    pub(crate) port: Option<u16>,
}

/// What the handshake settled.
#[derive(Debug, Clone, Default)]
pub(crate) struct Handshake {
    pub(crate) outcome: Outcome,
    pub(crate) peer: Peer,
    pub(crate) connection_context: Context,
}

/// The resolved propagator of a connection.
#[derive(Clone)]
pub(crate) enum Prop {
    Fixed(Arc<dyn TextMapPropagator + Send + Sync>),
    Global,
}

impl Prop {
    pub(crate) fn from_options(options: &Options) -> Self {
        match &options.propagator {
            PropagatorChoice::Default => {
                Prop::Fixed(Arc::new(CompositePropagator::w3c_with_baggage()))
            }
            PropagatorChoice::Custom(p) => Prop::Fixed(Arc::clone(p)),
            PropagatorChoice::Global => Prop::Global,
        }
    }

    pub(crate) fn inject(&self, cx: &Context, carrier: &mut dyn Injector) {
        match self {
            Prop::Fixed(p) => p.inject_context(cx, carrier),
            Prop::Global => global::get_text_map_propagator(|p| p.inject_context(cx, carrier)),
        }
    }

    pub(crate) fn extract(&self, cx: &Context, carrier: &dyn Extractor) -> Context {
        match self {
            Prop::Fixed(p) => p.extract_with_context(cx, carrier),
            Prop::Global => {
                global::get_text_map_propagator(|p| p.extract_with_context(cx, carrier))
            }
        }
    }
}

/// Immutable per-connection state (plus one flag), shared through an `Arc`.
pub(crate) struct ConnState {
    tracer: Option<ConnTracer>,
    propagator: Prop,
    pub(crate) format: Format,
    pub(crate) enabled: bool,
    pub(crate) enveloped: bool,
    pub(crate) otel: bool,
    pub(crate) app: Option<String>,
    policy: SpanPolicy,
    trace_passthrough: bool,
    pub(crate) max_envelope_size: usize,
    pub(crate) close_on_capacity: bool,
    pub(crate) connection_context: Context,
    base_attrs: Vec<KeyValue>,
    /// A capacity error was seen on a split stream; the sink sends Close 1009 next.
    pub(crate) close_1009_pending: AtomicBool,
}

impl std::fmt::Debug for ConnState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnState")
            .field("format", &self.format)
            .field("enabled", &self.enabled)
            .field("enveloped", &self.enveloped)
            .field("otel", &self.otel)
            .field("app", &self.app)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// A started send span and its context (the span is active in it).
pub(crate) struct SendSpan(Context);

impl ConnState {
    pub(crate) fn new(options: &Options, handshake: Handshake) -> Arc<Self> {
        let enabled = options.enabled;
        let tracer = enabled.then(|| resolve_tracer(options));
        let propagator = Prop::from_options(options);
        let outcome = handshake.outcome;
        let format = options.format.unwrap_or(if outcome.otel {
            Format::OtelWs
        } else {
            Format::Seed
        });
        let mut base_attrs = vec![KeyValue::new("messaging.system", "websocket")];
        if let Some(addr) = handshake.peer.address {
            base_attrs.push(KeyValue::new(
                "server.address",
                Value::String(StringValue::from(Arc::<str>::from(addr))),
            ));
        }
        if let Some(port) = handshake.peer.port {
            base_attrs.push(KeyValue::new("server.port", i64::from(port)));
        }
        if let Some(app) = &outcome.app {
            base_attrs.push(KeyValue::new(
                "websocket.subprotocol",
                Value::String(StringValue::from(Arc::<str>::from(app.as_str()))),
            ));
        }
        Arc::new(ConnState {
            tracer,
            propagator,
            format,
            enabled,
            enveloped: enabled && outcome.enveloped,
            otel: enabled && outcome.otel,
            app: outcome.app,
            policy: options.span_policy,
            trace_passthrough: options.trace_passthrough,
            max_envelope_size: options.max_envelope_size,
            close_on_capacity: options.close_on_capacity,
            connection_context: handshake.connection_context,
            base_attrs,
            close_1009_pending: AtomicBool::new(false),
        })
    }

    fn inject(&self, cx: &Context, carrier: &mut dyn Injector) {
        self.propagator.inject(cx, carrier);
    }

    fn extract(&self, cx: &Context, carrier: &dyn Extractor) -> Context {
        self.propagator.extract(cx, carrier)
    }

    fn attrs(
        &self,
        op: &'static str,
        message: &Message,
        size: usize,
        extra: usize,
    ) -> Vec<KeyValue> {
        let mut attrs = Vec::with_capacity(self.base_attrs.len() + 3 + extra);
        attrs.extend(self.base_attrs.iter().cloned());
        attrs.push(KeyValue::new("messaging.operation.type", op));
        if let Some(t) = message_type(message) {
            attrs.push(KeyValue::new("websocket.message.type", t));
            attrs.push(KeyValue::new("messaging.message.body.size", size as i64));
        }
        attrs
    }

    /// Opens the send span (data frames only), injects and wraps. On an envelope error the
    /// span is ended with status Error and the error returned.
    pub(crate) fn prepare_send(
        &self,
        parent: &Context,
        message: &Message,
    ) -> Result<(Message, Option<SendSpan>), Error> {
        let size = match message {
            Message::Text(t) => t.len(),
            Message::Binary(b) => b.len(),
            _ => return Ok((message.clone(), None)),
        };
        let Some(tracer) = &self.tracer else {
            return Ok((message.clone(), None));
        };
        let builder = || {
            SpanBuilder::from_name("websocket.send")
                .with_kind(SpanKind::Producer)
                .with_attributes(self.attrs("send", message, size, 0))
        };
        let cx = tracer.start(builder, parent, parent);
        if !self.enveloped {
            return Ok((message.clone(), Some(SendSpan(cx))));
        }
        let mut fields = Fields::new();
        self.inject(&cx, &mut fields);
        match envelope::encode(self.format, message, &fields, self.max_envelope_size) {
            Ok(wire) => Ok((wire, Some(SendSpan(cx)))),
            Err(err) => {
                end_with(&cx, Some(&err));
                Err(err)
            }
        }
    }

    /// Ends a send span, recording `result`'s error.
    pub(crate) fn finish_send(&self, span: Option<SendSpan>, result: &Result<(), Error>) {
        if let Some(SendSpan(cx)) = span {
            end_with(&cx, result.as_ref().err());
        }
    }

    /// Unwraps a received message and records its receive span.
    pub(crate) fn on_message(&self, message: Message) -> Result<Received, Error> {
        if !self.enabled {
            return Ok(Received::plain(Context::current(), message));
        }
        match &message {
            Message::Text(_) | Message::Binary(_) => {}
            Message::Close(Some(frame))
                if !matches!(frame.code, CloseCode::Normal | CloseCode::Away) =>
            {
                self.error_span(
                    &format!("connection closed by peer: {}", frame.code),
                    Some(u16::from(frame.code)),
                );
                return Ok(Received::plain(Context::current(), message));
            }
            _ => return Ok(Received::plain(Context::current(), message)),
        }
        let (message, kind, fields) = if self.enveloped {
            match envelope::decode(&message, self.max_envelope_size) {
                Ok(d) => {
                    let (message, kind, fields) = d.into_parts();
                    (message, kind, Some(fields))
                }
                Err(err) => {
                    self.record_error(&err);
                    return Err(err);
                }
            }
        } else {
            (message, EnvelopeKind::None, None)
        };
        let base = Context::current();
        let (extracted, remote) = match &fields {
            Some(f) if !f.is_empty() => {
                let extracted = self.extract(&base, f);
                let remote = remote_of(&extracted, &base);
                (extracted, remote)
            }
            // Nothing to extract: the context is unchanged, so there is no remote parent.
            _ => (base, None),
        };
        let Some(tracer) = &self.tracer else {
            return Ok(Received::new(extracted, message, kind, remote));
        };
        if remote.is_none() && kind == EnvelopeKind::None && !self.trace_passthrough {
            return Ok(Received::new(extracted, message, kind, remote));
        }
        let size = match &message {
            Message::Text(t) => t.len(),
            Message::Binary(b) => b.len(),
            _ => 0,
        };
        let builder = |link: Option<SpanContext>| {
            let mut attrs = self.attrs("receive", &message, size, 1);
            attrs.push(KeyValue::new("websocket.envelope", kind.as_str()));
            let builder = SpanBuilder::from_name("websocket.receive")
                .with_kind(SpanKind::Consumer)
                .with_attributes(attrs);
            match link {
                Some(sc) => builder.with_links(vec![Link::with_context(sc)]),
                None => builder,
            }
        };
        let cx = match (&remote, self.policy) {
            (Some(_), SpanPolicy::Parent) => tracer.start(|| builder(None), &extracted, &extracted),
            (Some(sc), SpanPolicy::ParentAndLink) => {
                tracer.start(|| builder(Some(sc.clone())), &extracted, &extracted)
            }
            (Some(sc), _) => {
                tracer.start(|| builder(Some(sc.clone())), &Context::new(), &extracted)
            }
            (None, _) => {
                let conn = self.connection_context.span();
                let link = Some(conn.span_context())
                    .filter(|sc| sc.is_valid())
                    .cloned();
                tracer.start(|| builder(link), &extracted, &extracted)
            }
        };
        cx.span().end();
        Ok(Received::new(cx, message, kind, remote))
    }

    /// Records one Error receive span for a failed receive (nothing for the stream's end).
    pub(crate) fn record_error(&self, err: &Error) {
        if err.is_stream_end() {
            return;
        }
        self.error_span(&err.to_string(), None);
    }

    fn error_span(&self, description: &str, close_code: Option<u16>) {
        let Some(tracer) = &self.tracer else { return };
        let mut attrs = Vec::with_capacity(self.base_attrs.len() + 2);
        attrs.extend(self.base_attrs.iter().cloned());
        attrs.push(KeyValue::new("messaging.operation.type", "receive"));
        if let Some(code) = close_code {
            attrs.push(KeyValue::new("websocket.close.code", i64::from(code)));
        }
        let builder = || {
            SpanBuilder::from_name("websocket.receive")
                .with_kind(SpanKind::Consumer)
                .with_attributes(attrs)
        };
        let parent = Context::current();
        let cx = tracer.start(builder, &parent, &parent);
        let span = cx.span();
        span.set_status(Status::error(description.to_owned()));
        span.end();
    }
}

fn resolve_tracer(options: &Options) -> ConnTracer {
    let scope = InstrumentationScope::builder(SCOPE_NAME)
        .with_version(env!("CARGO_PKG_VERSION"))
        .build();
    tracer::resolve(options.tracer_provider.as_deref(), scope)
}

fn message_type(message: &Message) -> Option<i64> {
    match message {
        Message::Text(_) => Some(1),
        Message::Binary(_) => Some(2),
        _ => None,
    }
}

/// The valid remote span context the propagator added to `base`, if any.
fn remote_of(extracted: &Context, base: &Context) -> Option<SpanContext> {
    let sc = extracted.span().span_context().clone();
    let unchanged = base.has_active_span() && *base.span().span_context() == sc;
    (sc.is_valid() && sc.is_remote() && !unchanged).then_some(sc)
}

fn end_with(cx: &Context, err: Option<&Error>) {
    let span = cx.span();
    if let Some(err) = err {
        span.record_error(err);
        span.set_status(Status::error(Cow::Owned(err.to_string())));
    }
    span.end();
}
