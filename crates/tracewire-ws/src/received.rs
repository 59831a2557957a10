//! What `recv` returns: the application's message and the context that continues the
//! sender's trace.

use opentelemetry::trace::SpanContext;
use opentelemetry::Context;
use tungstenite::Message;

use crate::envelope::EnvelopeKind;

/// A received message, unwrapped, with its trace context ([docs/websocket.md#receive-span](https://github.com/tracewire/tracewire/blob/main/docs/websocket.md#receive-span)).
#[derive(Debug, Clone)]
pub struct Received {
    context: Context,
    message: Message,
    envelope: EnvelopeKind,
    remote: Option<SpanContext>,
}

impl Received {
    pub(crate) fn new(
        context: Context,
        message: Message,
        envelope: EnvelopeKind,
        remote: Option<SpanContext>,
    ) -> Self {
        Received {
            context,
            message,
            envelope,
            remote,
        }
    }

    pub(crate) fn plain(context: Context, message: Message) -> Self {
        Self::new(context, message, EnvelopeKind::None, None)
    }

    /// The context to handle the message in: the receive span is active in it (or the
    /// sender's span context when no spans are recorded), plus extracted baggage.
    pub fn context(&self) -> &Context {
        &self.context
    }

    /// The application's message, with the opcode it was sent with.
    pub fn message(&self) -> &Message {
        &self.message
    }

    /// Which envelope the message came in.
    pub fn envelope(&self) -> EnvelopeKind {
        self.envelope
    }

    /// The sender's valid span context, if the message carried one.
    pub fn remote_span_context(&self) -> Option<&SpanContext> {
        self.remote.as_ref()
    }

    /// Splits into context and message.
    pub fn into_parts(self) -> (Context, Message) {
        (self.context, self.message)
    }
}
