//! # tracewire-ws
//!
//! Trace context inside WebSocket messages for tokio-tungstenite, wire-compatible with the
//! Go package otelwebsocket v0.1.0 and its successors otel-gorilla-ws (Go) and otel-ws (JS).
//!
//! [`TracedWebSocket`] wraps a `WebSocketStream`: [`send`](TracedWebSocket::send) puts the
//! W3C `traceparent` (and `tracestate`, baggage) into a small JSON envelope in the body of
//! each data frame, inside a `websocket.send` PRODUCER span; [`recv`](TracedWebSocket::recv)
//! unwraps it, records a `websocket.receive` CONSUMER span and hands back the payload with a
//! [`Context`](opentelemetry::Context) that continues the sender's trace. Messages that are
//! not envelopes pass through byte-for-byte. Between two copies of this crate every payload
//! arrives with exactly the sender's bytes and opcode, in every [`Format`].
//!
//! Nothing here touches the OpenTelemetry globals unless you call `init_tracer` (feature
//! `otlp`): connections use [`Options::with_tracer_provider`] or the global provider, and the
//! strict W3C + Baggage propagator of `tracewire-context`.
//!
//! ```
//! use futures_util::StreamExt as _;
//! use opentelemetry::Context;
//! use tokio::net::TcpListener;
//! use tracewire_ws::{accept, client, Message, Options};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! let listener = TcpListener::bind("127.0.0.1:0").await?;
//! let addr = listener.local_addr()?;
//! // A traced echo server: reply with the received payload, in the received context.
//! let server = tokio::spawn(async move {
//!     let (tcp, _) = listener.accept().await?;
//!     let mut ws = accept(tcp, Options::default()).await?;
//!     while let Some(received) = ws.recv().await {
//!         let (cx, message) = received?.into_parts();
//!         if message.is_close() { break; }
//!         ws.send(&cx, message).await?;
//!     }
//!     Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
//! });
//!
//! let tcp = tokio::net::TcpStream::connect(addr).await?;
//! let (mut ws, _response) = client(format!("ws://{addr}/"), tcp, Options::default()).await?;
//! ws.send(&Context::current(), Message::text(r#"{"op":"ping"}"#)).await?;
//! let reply = ws.next().await.expect("a reply")?;
//! assert_eq!(reply.message(), &Message::text(r#"{"op":"ping"}"#));
//! ws.close(None).await?;
//! server.await??;
//! # Ok(())
//! # }
//! ```
//!
//! ## Features
//!
//! - `connect` (default): [`connect`] over TCP. The default features are the WebSocket
//!   wrapper alone: no exporter, no HTTP client.
//! - `native-tls`, `rustls-tls-native-roots`, `rustls-tls-webpki-roots`: TLS for `wss://`.
//! - `otlp` (opt-in): `init_tracer` / `TracerInit` / `shutdown_tracer` and
//!   `Options::with_implicit_init`, re-exported from tracewire-otlp: OTLP/HTTP (protobuf or
//!   JSON, gzip), sampler, batch processor and propagators from the `OTEL_*` variables
//!   (`docs/configuration.md`).
//! - `grpc`: OTLP/gRPC for `init_tracer` (pulls tonic through opentelemetry-otlp).

#![cfg_attr(docsrs, feature(doc_cfg))]

mod connect;
pub mod envelope;
mod error;
mod handshake;
#[cfg(feature = "otlp")]
mod init;
mod negotiation;
mod options;
mod received;
mod socket;
mod state;
#[cfg(feature = "connect")]
mod tls;
mod tracer;

#[cfg(feature = "connect")]
pub use connect::connect;
pub use connect::{accept, accept_with, client, wrap};
pub use envelope::{EnvelopeKind, Format, Malformed};
pub use error::Error;
#[cfg(feature = "otlp")]
pub use init::{
    init_tracer, init_tracer_with_provider, shutdown_tracer, InitError, OtlpConfig, TracerGuard,
    TracerInit, DEFAULT_SHUTDOWN_TIMEOUT,
};
pub use negotiation::{Negotiation, OTEL_WS};
pub use options::{Options, SpanPolicy};
pub use received::Received;
pub use socket::{ReuniteError, TracedSink, TracedStream, TracedWebSocket};
pub use tungstenite::protocol::{CloseFrame, WebSocketConfig};
pub use tungstenite::Message;

/// The README's examples, compiled as doctests.
#[cfg(all(doctest, feature = "otlp", feature = "connect"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
