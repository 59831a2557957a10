//! Constructors: `connect`, `client`, `accept`, `accept_with`, `wrap`. How each one settles
//! the envelope is in `docs/wire-formats.md#subprotocol-negotiation`.

use std::sync::{Arc, Mutex};

use http::header::SEC_WEBSOCKET_PROTOCOL;
use opentelemetry::Context;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::WebSocketStream;
use tungstenite::client::IntoClientRequest;
use tungstenite::handshake::client::{Request, Response};
use tungstenite::handshake::server::{
    Callback, ErrorResponse, NoCallback, Request as ServerRequest, Response as ServerResponse,
};

use crate::error::Error;
use crate::handshake::{
    offered_tokens, peer_of_host, peer_of_uri, selected_token, set_tokens, Headers, KeepExisting,
};
use crate::negotiation::{
    client_offer, client_outcome, parse_token, server_select, Negotiation, Outcome,
};
use crate::options::Options;
use crate::socket::TracedWebSocket;
use crate::state::{ConnState, Handshake, Prop};

/// Connects over TCP (or TLS with a TLS feature), like Go's `Dial`.
///
/// Uses `connect_async_tls_with_config` with `options.websocket_config` and the TLS stack
/// the features choose (`docs/websocket.md#tls`); the upgrade request
/// carries `Context::current()` (set it with `opentelemetry::context::FutureExt::with_context`)
/// unless `handshake_propagation(false)`.
#[cfg(feature = "connect")]
pub async fn connect<R>(
    request: R,
    options: Options,
) -> Result<
    (
        TracedWebSocket<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
        Response,
    ),
    Error,
>
where
    R: IntoClientRequest + Unpin,
{
    implicit_init(&options);
    let plan = ClientPlan::new(request.into_client_request()?, &options);
    let config = options.websocket_config;
    let connector = crate::tls::connector()?;
    match crate::tls::connect_async(plan.request.clone(), config, connector.clone()).await {
        Ok((ws, response)) => Ok(plan.finish(ws, response, &options)),
        Err(e) if plan.may_retry(&e, &options) => {
            let (ws, response) = crate::tls::connect_async(plan.without_offer(), config, connector)
                .await
                .map_err(Error::from)?;
            Ok(plan.finish_passthrough(ws, response, &options))
        }
        Err(e) => Err(Error::from(e)),
    }
}

/// The client handshake over any stream (e.g. a `UnixStream`). There is no retry without
/// subprotocols here: the stream is consumed by the first attempt.
pub async fn client<R, S>(
    request: R,
    stream: S,
    options: Options,
) -> Result<(TracedWebSocket<S>, Response), Error>
where
    R: IntoClientRequest + Unpin,
    S: AsyncRead + AsyncWrite + Unpin,
{
    implicit_init(&options);
    let plan = ClientPlan::new(request.into_client_request()?, &options);
    let (ws, response) = tokio_tungstenite::client_async_with_config(
        plan.request.clone(),
        stream,
        options.websocket_config,
    )
    .await
    .map_err(Error::from)?;
    Ok(plan.finish(ws, response, &options))
}

/// Accepts an upgrade on `stream` (the server side, like Go's `Upgrader`).
pub async fn accept<S>(stream: S, options: Options) -> Result<TracedWebSocket<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    accept_with(stream, options, NoCallback).await
}

/// Accepts an upgrade, running tungstenite's `callback` (or a closure) first. A
/// `Sec-WebSocket-Protocol` the callback sets is kept; with negotiation on it enables the
/// envelope only if it is an offered otel-ws token.
pub async fn accept_with<S, C>(
    stream: S,
    options: Options,
    callback: C,
) -> Result<TracedWebSocket<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    C: Callback + Unpin,
{
    implicit_init(&options);
    let slot: Arc<Mutex<Option<Handshake>>> = Arc::new(Mutex::new(None));
    let server = ServerSide {
        user: callback,
        options: options.clone(),
        slot: Arc::clone(&slot),
    };
    let ws =
        tokio_tungstenite::accept_hdr_async_with_config(stream, server, options.websocket_config)
            .await
            .map_err(Error::from)?;
    let handshake = slot
        .lock()
        .ok()
        .and_then(|mut s| s.take())
        .unwrap_or_default();
    Ok(TracedWebSocket::from_parts(
        ws,
        ConnState::new(&options, handshake),
    ))
}

/// Wraps an already-upgraded stream (like Go's `NewConn`). The envelope is on under
/// `Negotiation::Off`; otherwise only if `options.with_negotiated_subprotocol(..)` names an
/// otel-ws token (`wrap` cannot see the handshake and never forces the envelope).
pub fn wrap<S>(stream: WebSocketStream<S>, options: Options) -> TracedWebSocket<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    implicit_init(&options);
    let negotiated = options.negotiated_subprotocol.as_deref();
    let outcome = if options.negotiation == Negotiation::Off {
        Outcome {
            enveloped: true,
            otel: false,
            app: negotiated.map(str::to_owned),
        }
    } else {
        client_outcome(negotiated)
    };
    let handshake = Handshake {
        outcome,
        ..Handshake::default()
    };
    TracedWebSocket::from_parts(stream, ConnState::new(&options, handshake))
}

/// What a client sends and how it reads the reply.
struct ClientPlan {
    request: Request,
    negotiating: bool,
    /// The `Sec-WebSocket-Protocol` header was added only for a bare `otel-ws` (retry case).
    #[cfg_attr(not(feature = "connect"), allow(dead_code))]
    only_otel_offer: bool,
}

impl ClientPlan {
    fn new(mut request: Request, options: &Options) -> Self {
        let negotiating = options.enabled && options.negotiation != Negotiation::Off;
        let mut only_otel_offer = false;
        if options.enabled && options.handshake_propagation {
            Prop::from_options(options).inject(
                &Context::current(),
                &mut KeepExisting(request.headers_mut()),
            );
        }
        if !request.headers().contains_key(SEC_WEBSOCKET_PROTOCOL) {
            if negotiating {
                only_otel_offer = options.subprotocols.is_empty();
                set_tokens(request.headers_mut(), &client_offer(&options.subprotocols));
            } else if !options.subprotocols.is_empty() {
                set_tokens(request.headers_mut(), &options.subprotocols);
            }
        }
        ClientPlan {
            request,
            negotiating,
            only_otel_offer,
        }
    }

    #[cfg(feature = "connect")]
    fn may_retry(&self, err: &tungstenite::Error, options: &Options) -> bool {
        use tungstenite::error::{ProtocolError, SubProtocolError};
        self.only_otel_offer
            && options.retry_without_subprotocols
            && matches!(
                err,
                tungstenite::Error::Protocol(ProtocolError::SecWebSocketSubProtocolError(
                    SubProtocolError::NoSubProtocol
                ))
            )
    }

    #[cfg(feature = "connect")]
    fn without_offer(&self) -> Request {
        let mut request = self.request.clone();
        request.headers_mut().remove(SEC_WEBSOCKET_PROTOCOL);
        request
    }

    fn finish<S>(
        &self,
        ws: WebSocketStream<S>,
        response: Response,
        options: &Options,
    ) -> (TracedWebSocket<S>, Response)
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let reply = selected_token(response.headers());
        let outcome = if self.negotiating {
            client_outcome(reply.as_deref())
        } else {
            Outcome {
                enveloped: true,
                otel: false,
                app: reply,
            }
        };
        self.build(ws, response, options, outcome)
    }

    #[cfg(feature = "connect")]
    fn finish_passthrough<S>(
        &self,
        ws: WebSocketStream<S>,
        response: Response,
        options: &Options,
    ) -> (TracedWebSocket<S>, Response)
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        self.build(ws, response, options, Outcome::default())
    }

    fn build<S>(
        &self,
        ws: WebSocketStream<S>,
        response: Response,
        options: &Options,
        outcome: Outcome,
    ) -> (TracedWebSocket<S>, Response)
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let handshake = Handshake {
            outcome,
            peer: peer_of_uri(self.request.uri()),
            connection_context: Context::new(),
        };
        (
            TracedWebSocket::from_parts(ws, ConnState::new(options, handshake)),
            response,
        )
    }
}

/// The server's handshake callback: the user's callback, then propagation and negotiation.
struct ServerSide<C> {
    user: C,
    options: Options,
    slot: Arc<Mutex<Option<Handshake>>>,
}

impl<C: Callback> Callback for ServerSide<C> {
    fn on_request(
        self,
        request: &ServerRequest,
        response: ServerResponse,
    ) -> Result<ServerResponse, ErrorResponse> {
        let mut response = self.user.on_request(request, response)?;
        let options = &self.options;
        let connection_context = if options.enabled && options.handshake_propagation {
            Prop::from_options(options).extract(&Context::new(), &Headers(request.headers()))
        } else {
            Context::new()
        };
        let offer = offered_tokens(request.headers());
        let negotiating = options.enabled && options.negotiation != Negotiation::Off;
        let outcome = match selected_token(response.headers()) {
            // The callback chose: keep its answer.
            Some(chosen) => match parse_token(&chosen) {
                (true, app) if negotiating && offer.contains(&chosen.as_str()) => Outcome {
                    enveloped: true,
                    otel: true,
                    app: app.map(str::to_owned),
                },
                _ => Outcome {
                    enveloped: options.enabled && !negotiating,
                    otel: false,
                    app: Some(chosen),
                },
            },
            None => {
                let choice = server_select(
                    options.negotiation,
                    options.enabled,
                    &offer,
                    &options.subprotocols,
                );
                if let Some(reply) = &choice.reply {
                    set_tokens(response.headers_mut(), std::slice::from_ref(reply));
                }
                choice.outcome
            }
        };
        if let Ok(mut slot) = self.slot.lock() {
            *slot = Some(Handshake {
                outcome,
                peer: peer_of_host(request.headers()),
                connection_context,
            });
        }
        Ok(response)
    }
}

#[cfg(feature = "otlp")]
fn implicit_init(options: &Options) {
    if options.implicit_init && options.tracer_provider.is_none() && options.enabled {
        crate::init::implicit_init_once();
    }
}

#[cfg(not(feature = "otlp"))]
fn implicit_init(options: &Options) {
    static WARNED: std::sync::Once = std::sync::Once::new();
    if options.implicit_init && options.tracer_provider.is_none() && options.enabled {
        WARNED.call_once(|| {
            tracing::warn!(
                "tracewire-ws: Options::with_implicit_init(true) needs the `otlp` feature; no tracer was set up"
            );
        });
    }
}
