//! The span floor of the loopback bench: raw tokio-tungstenite plus the SDK spans
//! tracewire-ws records (`docs/websocket.md#send-span`) — one `websocket.send` PRODUCER span per data frame sent, one
//! `websocket.receive` CONSUMER span per data frame received, with the same attributes as
//! tracewire-ws sets — but no envelope and no propagation. No instrumentation that
//! creates those spans through the SDK can run faster than this.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use futures_util::{Sink, Stream};
use opentelemetry::trace::{SpanBuilder, SpanKind, TraceContextExt, TracerProvider};
use opentelemetry::{Context, KeyValue, StringValue, Value};
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use tokio_tungstenite::WebSocketStream;
use tungstenite::{Error, Message};

/// A raw WebSocket whose data frames get SDK spans and nothing else.
pub(crate) struct SpannedRaw<S> {
    ws: WebSocketStream<S>,
    tracer: SdkTracer,
    base: Vec<KeyValue>,
}

impl<S> SpannedRaw<S> {
    /// Wraps `ws`; `peer` gives the `server.address` / `server.port` a client records.
    pub(crate) fn new(
        ws: WebSocketStream<S>,
        provider: &SdkTracerProvider,
        peer: Option<(&str, u16)>,
    ) -> Self {
        let mut base = vec![KeyValue::new("messaging.system", "websocket")];
        if let Some((address, port)) = peer {
            base.push(KeyValue::new(
                "server.address",
                Value::String(StringValue::from(Arc::<str>::from(address))),
            ));
            base.push(KeyValue::new("server.port", i64::from(port)));
        }
        SpannedRaw {
            ws,
            tracer: provider.tracer("span-floor"),
            base,
        }
    }

    /// Starts and ends one span for `message` (data frames only).
    fn span(&self, name: &'static str, kind: SpanKind, op: &'static str, message: &Message) {
        let (kind_attr, size) = match message {
            Message::Text(t) => (1, t.len()),
            Message::Binary(b) => (2, b.len()),
            _ => return,
        };
        let mut attrs = Vec::with_capacity(self.base.len() + 4);
        attrs.extend(self.base.iter().cloned());
        attrs.push(KeyValue::new("messaging.operation.type", op));
        attrs.push(KeyValue::new("websocket.message.type", kind_attr));
        attrs.push(KeyValue::new("messaging.message.body.size", size as i64));
        if op == "receive" {
            attrs.push(KeyValue::new("websocket.envelope", "none"));
        }
        let parent = Context::current();
        let span = SpanBuilder::from_name(name)
            .with_kind(kind)
            .with_attributes(attrs)
            .start_with_context(&self.tracer, &parent);
        let cx = parent.with_span(span);
        cx.span().end();
    }
}

impl<S> Sink<Message> for SpannedRaw<S>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Result<(), Error>> {
        Pin::new(&mut self.get_mut().ws).poll_ready(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), Error> {
        let this = self.get_mut();
        this.span("websocket.send", SpanKind::Producer, "send", &item);
        Pin::new(&mut this.ws).start_send(item)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Result<(), Error>> {
        Pin::new(&mut self.get_mut().ws).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Result<(), Error>> {
        Pin::new(&mut self.get_mut().ws).poll_close(cx)
    }
}

impl<S> Stream for SpannedRaw<S>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let next = Pin::new(&mut this.ws).poll_next(cx);
        if let Poll::Ready(Some(Ok(message))) = &next {
            this.span("websocket.receive", SpanKind::Consumer, "receive", message);
        }
        next
    }
}
