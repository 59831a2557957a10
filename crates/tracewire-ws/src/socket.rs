//! `TracedWebSocket`: the traced wrapper around a tokio-tungstenite `WebSocketStream`,
//! with its `Stream` and `Sink` implementations and the split halves.

use std::fmt;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{ready, Context as TaskContext, Poll};

use futures_util::stream::{FusedStream, SplitSink, SplitStream};
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use opentelemetry::Context;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::WebSocketStream;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::CloseFrame;
use tungstenite::Message;

use crate::error::Error;
use crate::received::Received;
use crate::state::ConnState;

/// A WebSocket whose data frames carry trace context ([docs/websocket.md#send-span](https://github.com/tracewire/tracewire/blob/main/docs/websocket.md#send-span) and
/// [docs/websocket.md#receive-span](https://github.com/tracewire/tracewire/blob/main/docs/websocket.md#receive-span)).
///
/// `send` wraps data frames in the envelope inside a `websocket.send` span; `recv`
/// unwraps them and returns a [`Received`] whose context continues the sender's trace.
/// Ping, Pong, Close and raw frames pass through untouched. Frames written through
/// [`get_mut`](Self::get_mut) or [`into_inner`](Self::into_inner) bypass tracing.
pub struct TracedWebSocket<S> {
    inner: WebSocketStream<S>,
    state: Arc<ConnState>,
    terminated: bool,
}

impl<S> fmt::Debug for TracedWebSocket<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TracedWebSocket")
            .field("state", &self.state)
            .field("terminated", &self.terminated)
            .finish_non_exhaustive()
    }
}

impl<S> TracedWebSocket<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    pub(crate) fn from_parts(inner: WebSocketStream<S>, state: Arc<ConnState>) -> Self {
        TracedWebSocket {
            inner,
            state,
            terminated: false,
        }
    }

    /// Sends `message` as a child of `cx`: data frames get a `websocket.send` span (ended
    /// once the frame is written and flushed) and, when enveloped, the envelope. Shadows
    /// `SinkExt::send`; for the current context call `SinkExt::send(&mut ws, msg)`.
    pub async fn send(&mut self, cx: &Context, message: Message) -> Result<(), Error> {
        send_traced(&self.state, &mut self.inner, cx, message).await
    }

    /// Receives the next message (`None`: the stream ended), with the semantics of
    /// `StreamExt::next` on the raw stream.
    pub async fn recv(&mut self) -> Option<Result<Received, Error>> {
        StreamExt::next(self).await
    }

    /// Sends a Close frame and flushes.
    pub async fn close(&mut self, frame: Option<CloseFrame>) -> Result<(), Error> {
        self.inner.close(frame).await.map_err(Error::from)
    }

    /// Splits into a traced sink and a traced stream (not `Clone`; feed one writer task
    /// from many producers through a channel).
    pub fn split(self) -> (TracedSink<S>, TracedStream<S>) {
        let (sink, stream) = StreamExt::split(self.inner);
        (
            TracedSink {
                inner: sink,
                state: Arc::clone(&self.state),
            },
            TracedStream {
                inner: stream,
                state: self.state,
                terminated: self.terminated,
            },
        )
    }

    /// Puts split halves back together; fails (returning them) if they are not from the
    /// same socket.
    pub fn reunite(sink: TracedSink<S>, stream: TracedStream<S>) -> Result<Self, ReuniteError<S>> {
        let state = Arc::clone(&stream.state);
        let terminated = stream.terminated;
        match stream.inner.reunite(sink.inner) {
            Ok(inner) => Ok(TracedWebSocket {
                inner,
                state,
                terminated,
            }),
            Err(futures_util::stream::ReuniteError(si, st)) => Err(ReuniteError(
                TracedSink {
                    inner: si,
                    state: sink.state,
                },
                TracedStream {
                    inner: st,
                    state: stream.state,
                    terminated,
                },
            )),
        }
    }

    /// The raw stream (frames sent through it bypass tracing).
    pub fn get_ref(&self) -> &WebSocketStream<S> {
        &self.inner
    }

    /// The raw stream, mutably (frames sent through it bypass tracing).
    pub fn get_mut(&mut self) -> &mut WebSocketStream<S> {
        &mut self.inner
    }

    /// Unwraps the raw stream.
    pub fn into_inner(self) -> WebSocketStream<S> {
        self.inner
    }
}

impl<S> TracedWebSocket<S> {
    /// `true` when data frames are wrapped and detected on this connection.
    pub fn is_enveloped(&self) -> bool {
        self.state.enveloped
    }

    /// `true` when the handshake confirmed an `otel-ws` subprotocol token.
    pub fn is_otel_negotiated(&self) -> bool {
        self.state.otel
    }

    /// The application subprotocol, without the `otel-ws+` prefix (`None` for bare
    /// `otel-ws` or none).
    pub fn subprotocol(&self) -> Option<&str> {
        self.state.app.as_deref()
    }

    /// The context extracted from the upgrade request (server side; empty otherwise).
    pub fn connection_context(&self) -> &Context {
        &self.state.connection_context
    }
}

impl<S> Stream for TracedWebSocket<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    type Item = Result<Received, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let item = ready!(poll_traced(
            &this.state,
            &mut this.inner,
            &mut this.terminated,
            cx
        ));
        if let Some(Err(Error::MessageTooLong { .. })) = &item {
            if this.state.close_on_capacity {
                send_close_1009(Pin::new(&mut this.inner), cx);
            }
        }
        Poll::Ready(item)
    }
}

impl<S> FusedStream for TracedWebSocket<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    fn is_terminated(&self) -> bool {
        self.terminated
    }
}

/// `Sink<(Context, Message)>`: the same as `Sink<Message>`, except that the message is
/// wrapped with the given context instead of `Context::current()`.
macro_rules! context_sink {
    ($ty:ident) => {
        impl<S> Sink<(Context, Message)> for $ty<S>
        where
            S: AsyncRead + AsyncWrite + Unpin,
        {
            type Error = Error;

            fn poll_ready(
                self: Pin<&mut Self>,
                cx: &mut TaskContext<'_>,
            ) -> Poll<Result<(), Error>> {
                Sink::<Message>::poll_ready(self, cx)
            }

            /// Wraps with the given context; the send span ends when the frame is queued.
            fn start_send(
                self: Pin<&mut Self>,
                (parent, item): (Context, Message),
            ) -> Result<(), Error> {
                let this = self.get_mut();
                start_send_traced(&this.state, &mut this.inner, &parent, item)
            }

            fn poll_flush(
                self: Pin<&mut Self>,
                cx: &mut TaskContext<'_>,
            ) -> Poll<Result<(), Error>> {
                Sink::<Message>::poll_flush(self, cx)
            }

            fn poll_close(
                self: Pin<&mut Self>,
                cx: &mut TaskContext<'_>,
            ) -> Poll<Result<(), Error>> {
                Sink::<Message>::poll_close(self, cx)
            }
        }
    };
}

impl<S> Sink<Message> for TracedWebSocket<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Result<(), Error>> {
        Pin::new(&mut self.get_mut().inner)
            .poll_ready(cx)
            .map_err(Error::from)
    }

    /// Wraps with `Context::current()`; the send span ends when the frame is queued.
    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), Error> {
        let this = self.get_mut();
        start_send_traced(&this.state, &mut this.inner, &Context::current(), item)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Result<(), Error>> {
        Pin::new(&mut self.get_mut().inner)
            .poll_flush(cx)
            .map_err(Error::from)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Result<(), Error>> {
        Pin::new(&mut self.get_mut().inner)
            .poll_close(cx)
            .map_err(Error::from)
    }
}

context_sink!(TracedWebSocket);

/// The sending half of a split [`TracedWebSocket`].
pub struct TracedSink<S> {
    inner: SplitSink<WebSocketStream<S>, Message>,
    state: Arc<ConnState>,
}

impl<S> fmt::Debug for TracedSink<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TracedSink")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl<S> TracedSink<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    /// Sends `message` as a child of `cx` (see [`TracedWebSocket::send`]).
    pub async fn send(&mut self, cx: &Context, message: Message) -> Result<(), Error> {
        std::future::poll_fn(|tcx| self.poll_pending_close(tcx)).await;
        send_traced(&self.state, &mut self.inner, cx, message).await
    }

    /// Sends a Close frame and flushes.
    pub async fn close(&mut self, frame: Option<CloseFrame>) -> Result<(), Error> {
        self.inner
            .send(Message::Close(frame))
            .await
            .map_err(Error::from)
    }

    /// Sends the Close 1009 the stream half asked for, best-effort.
    fn poll_pending_close(&mut self, cx: &mut TaskContext<'_>) -> Poll<()> {
        if self.state.close_1009_pending.load(Ordering::Relaxed) {
            if ready!(Pin::new(&mut self.inner).poll_ready(cx)).is_ok() {
                let _ = Pin::new(&mut self.inner).start_send(close_1009());
            }
            self.state
                .close_1009_pending
                .store(false, Ordering::Relaxed);
        }
        Poll::Ready(())
    }
}

impl<S> Sink<Message> for TracedSink<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        ready!(this.poll_pending_close(cx));
        Pin::new(&mut this.inner)
            .poll_ready(cx)
            .map_err(Error::from)
    }

    /// Wraps with `Context::current()`; the send span ends when the frame is queued.
    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), Error> {
        let this = self.get_mut();
        start_send_traced(&this.state, &mut this.inner, &Context::current(), item)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Result<(), Error>> {
        Pin::new(&mut self.get_mut().inner)
            .poll_flush(cx)
            .map_err(Error::from)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Result<(), Error>> {
        Pin::new(&mut self.get_mut().inner)
            .poll_close(cx)
            .map_err(Error::from)
    }
}

context_sink!(TracedSink);

/// The receiving half of a split [`TracedWebSocket`]. With `close_on_capacity`, an
/// oversize message makes the [`TracedSink`] send Close 1009 before its next frame.
pub struct TracedStream<S> {
    inner: SplitStream<WebSocketStream<S>>,
    state: Arc<ConnState>,
    terminated: bool,
}

impl<S> fmt::Debug for TracedStream<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TracedStream")
            .field("state", &self.state)
            .field("terminated", &self.terminated)
            .finish_non_exhaustive()
    }
}

impl<S> TracedStream<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    /// Receives the next message (see [`TracedWebSocket::recv`]).
    pub async fn recv(&mut self) -> Option<Result<Received, Error>> {
        StreamExt::next(self).await
    }
}

impl<S> Stream for TracedStream<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    type Item = Result<Received, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let item = ready!(poll_traced(
            &this.state,
            &mut this.inner,
            &mut this.terminated,
            cx
        ));
        if let Some(Err(Error::MessageTooLong { .. })) = &item {
            if this.state.close_on_capacity {
                this.state.close_1009_pending.store(true, Ordering::Relaxed);
            }
        }
        Poll::Ready(item)
    }
}

impl<S> FusedStream for TracedStream<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    fn is_terminated(&self) -> bool {
        self.terminated
    }
}

/// Halves of different sockets given to [`TracedWebSocket::reunite`].
pub struct ReuniteError<S>(pub TracedSink<S>, pub TracedStream<S>);

impl<S> fmt::Debug for ReuniteError<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReuniteError(..)")
    }
}

impl<S> fmt::Display for ReuniteError<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("tried to reunite halves of different WebSockets")
    }
}

impl<S> std::error::Error for ReuniteError<S> {}

fn poll_traced<St>(
    state: &ConnState,
    inner: &mut St,
    terminated: &mut bool,
    cx: &mut TaskContext<'_>,
) -> Poll<Option<Result<Received, Error>>>
where
    St: Stream<Item = Result<Message, tungstenite::Error>> + Unpin,
{
    if *terminated {
        return Poll::Ready(None);
    }
    match ready!(Pin::new(inner).poll_next(cx)) {
        None => {
            *terminated = true;
            Poll::Ready(None)
        }
        Some(Ok(message)) => Poll::Ready(Some(state.on_message(message))),
        Some(Err(e)) => {
            let err = Error::from(e);
            if state.enabled {
                state.record_error(&err);
            }
            Poll::Ready(Some(Err(err)))
        }
    }
}

fn close_1009() -> Message {
    Message::Close(Some(CloseFrame {
        code: CloseCode::Size,
        reason: "message too big".into(),
    }))
}

/// Best effort: queue Close 1009 and try to flush it; failures are ignored.
fn send_close_1009<Si>(mut sink: Pin<&mut Si>, cx: &mut TaskContext<'_>)
where
    Si: Sink<Message>,
{
    if let Poll::Ready(Ok(())) = sink.as_mut().poll_ready(cx) {
        if sink.as_mut().start_send(close_1009()).is_ok() {
            let _ = sink.as_mut().poll_flush(cx);
        }
    }
}

fn start_send_traced<Si>(
    state: &ConnState,
    sink: &mut Si,
    parent: &Context,
    message: Message,
) -> Result<(), Error>
where
    Si: Sink<Message, Error = tungstenite::Error> + Unpin,
{
    let (wire, span) = state.prepare_send(parent, &message)?;
    let result = Pin::new(sink)
        .start_send(wire)
        .map_err(|e| Error::from_ws(e, Some(message)));
    state.finish_send(span, &result);
    result
}

async fn send_traced<Si>(
    state: &ConnState,
    sink: &mut Si,
    parent: &Context,
    message: Message,
) -> Result<(), Error>
where
    Si: Sink<Message, Error = tungstenite::Error> + Unpin,
{
    let (wire, span) = state.prepare_send(parent, &message)?;
    let result = SinkExt::send(sink, wire)
        .await
        .map_err(|e| Error::from_ws(e, Some(message)));
    state.finish_send(span, &result);
    result
}
