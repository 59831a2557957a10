//! Subprotocol negotiation and handshake propagation over loopback
//! (`docs/wire-formats.md#websocket-handshake`: every row of its table),
//! with raw tokio-tungstenite peers standing in for plain, Go-style and JS-style ends.
#![allow(clippy::result_large_err)] // tungstenite's handshake callback signature

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::common::*;
use futures_util::SinkExt;
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::TraceContextExt;
use opentelemetry::Context;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tracewire_ws::{
    accept, connect, wrap, EnvelopeKind, Error, Message, Negotiation, Options, TracedWebSocket,
};
use tungstenite::handshake::server::{Request, Response};
use tungstenite::protocol::Role;

fn strict(apps: &[&str]) -> Options {
    Options::default()
        .with_negotiation(Negotiation::Strict)
        .with_subprotocols(apps.iter().copied())
}

/// A traced server on its own listener; returns the url and the server socket's future.
async fn traced_server(
    opts: Options,
) -> (String, tokio::task::JoinHandle<TracedWebSocket<TcpStream>>) {
    let (l, url) = listener().await;
    let h = tokio::spawn(async move {
        let (tcp, _) = l.accept().await.unwrap();
        accept(tcp, opts).await.unwrap()
    });
    (url, h)
}

/// A raw server that answers with `choose(offer)` and counts handshakes.
async fn raw_server(
    choose: fn(&[String]) -> Option<String>,
    count: Arc<AtomicUsize>,
) -> (String, tokio::task::JoinHandle<WebSocketStream<TcpStream>>) {
    raw_server_n(choose, count, 1).await
}

/// Like `raw_server`, returning the socket of the `n`-th handshake.
async fn raw_server_n(
    choose: fn(&[String]) -> Option<String>,
    count: Arc<AtomicUsize>,
    n: usize,
) -> (String, tokio::task::JoinHandle<WebSocketStream<TcpStream>>) {
    let (l, url) = listener().await;
    let h = tokio::spawn(async move {
        loop {
            let (tcp, _) = l.accept().await.unwrap();
            count.fetch_add(1, Ordering::SeqCst);
            let cb = move |req: &Request, mut resp: Response| {
                let offer: Vec<String> = req
                    .headers()
                    .get_all("sec-websocket-protocol")
                    .iter()
                    .flat_map(|v| v.to_str().unwrap().split(',').map(|t| t.trim().to_owned()))
                    .collect();
                if let Some(p) = choose(&offer) {
                    resp.headers_mut()
                        .insert("sec-websocket-protocol", p.parse().unwrap());
                }
                Ok(resp)
            };
            if let Ok(ws) = tokio_tungstenite::accept_hdr_async(tcp, cb).await {
                if count.load(Ordering::SeqCst) >= n {
                    return ws;
                }
            }
        }
    });
    (url, h)
}

/// A Go/JS-style client: writes the upgrade by hand and accepts whatever protocol comes
/// back (as gorilla does). Returns the socket and the reply header.
async fn manual_client(
    url: &str,
    protocols: &str,
    extra: &[(&str, &str)],
) -> (WebSocketStream<TcpStream>, Option<String>) {
    let addr = url.trim_start_matches("ws://").trim_end_matches('/');
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let mut req = format!(
        "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    );
    if !protocols.is_empty() {
        req.push_str(&format!("Sec-WebSocket-Protocol: {protocols}\r\n"));
    }
    for (k, v) in extra {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    tcp.write_all(req.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        assert!(head.len() < 8192, "response head too long");
        let mut b = [0u8; 1];
        let n = tokio::time::timeout(TIMEOUT, tcp.read(&mut b))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(n, 1, "server closed during handshake");
        head.push(b[0]);
    }
    let head = String::from_utf8(head).unwrap();
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    let reply = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("sec-websocket-protocol")
            .then(|| v.trim().to_owned())
    });
    (
        WebSocketStream::from_raw_socket(tcp, Role::Client, None).await,
        reply,
    )
}

async fn check_enveloped_pair(
    c: &mut TracedWebSocket<tokio_tungstenite::MaybeTlsStream<TcpStream>>,
    s: &mut TracedWebSocket<TcpStream>,
) {
    c.send(&Context::new(), Message::text("hi")).await.unwrap();
    let r = recv(s).await.unwrap();
    assert_eq!(r.message(), &Message::text("hi"));
    assert_ne!(r.envelope(), EnvelopeKind::None);
}

#[tokio::test]
async fn composite_offer_to_our_server_enables_the_envelope() {
    let (url, server) = traced_server(strict(&["json"])).await;
    let (mut c, resp) = connect(url.as_str(), strict(&["json"])).await.unwrap();
    let mut s = server.await.unwrap();
    assert_eq!(resp.headers()["sec-websocket-protocol"], "otel-ws+json");
    assert!(c.is_enveloped() && s.is_enveloped());
    assert!(c.is_otel_negotiated() && s.is_otel_negotiated());
    assert_eq!(
        (c.subprotocol(), s.subprotocol()),
        (Some("json"), Some("json"))
    );
    // Negotiated otel-ws with no format set: OtelWs on the wire.
    check_enveloped_pair(&mut c, &mut s).await;
}

#[tokio::test]
async fn composite_offer_to_gorilla_style_server_enables_the_envelope() {
    let count = Arc::new(AtomicUsize::new(0));
    let (url, server) =
        raw_server(|o| o.iter().find(|t| *t == "otel-ws+json").cloned(), count).await;
    let (mut c, _) = connect(url.as_str(), strict(&["json"])).await.unwrap();
    let mut raw = server.await.unwrap();
    assert!(c.is_enveloped());
    assert_eq!(c.subprotocol(), Some("json"));
    c.send(&Context::new(), Message::text("[1]")).await.unwrap();
    let wire = raw_next(&mut raw).await.into_text().unwrap();
    assert!(
        wire.starts_with(r#"{"header":{"#) && wire.ends_with(r#""data":[1]}"#),
        "{wire}"
    );
}

#[tokio::test]
async fn plain_server_choosing_the_app_protocol_gives_pass_through() {
    let count = Arc::new(AtomicUsize::new(0));
    let (url, server) = raw_server(|o| o.iter().find(|t| *t == "json").cloned(), count).await;
    let (mut c, resp) = connect(url.as_str(), strict(&["json"])).await.unwrap();
    let mut raw = server.await.unwrap();
    assert_eq!(resp.headers()["sec-websocket-protocol"], "json");
    assert!(!c.is_enveloped() && !c.is_otel_negotiated());
    assert_eq!(c.subprotocol(), Some("json"));
    c.send(&Context::new(), Message::text(r#"{"a":1}"#))
        .await
        .unwrap();
    assert_eq!(raw_next(&mut raw).await, Message::text(r#"{"a":1}"#));
    let looks_like_envelope = format!(r#"{{"header":{{"traceparent":"{TP}"}},"data":1}}"#);
    raw.send(Message::text(looks_like_envelope.clone()))
        .await
        .unwrap();
    let r = recv(&mut c).await.unwrap();
    assert_eq!(
        r.message(),
        &Message::text(looks_like_envelope),
        "no detection when pass-through"
    );
}

#[tokio::test]
async fn bare_otel_ws_offer_is_confirmed_with_the_envelope() {
    let (url, server) = traced_server(strict(&[])).await;
    let (mut c, resp) = connect(url.as_str(), strict(&[])).await.unwrap();
    let mut s = server.await.unwrap();
    assert_eq!(resp.headers()["sec-websocket-protocol"], "otel-ws");
    assert!(c.is_enveloped() && s.is_enveloped());
    assert_eq!((c.subprotocol(), s.subprotocol()), (None, None));
    check_enveloped_pair(&mut c, &mut s).await;

    // otel-ws JS offers bare otel-ws.
    let (url, server) = traced_server(strict(&[])).await;
    let (_raw, reply) = manual_client(&url, "otel-ws", &[]).await;
    let s = server.await.unwrap();
    assert_eq!(reply.as_deref(), Some("otel-ws"));
    assert!(s.is_enveloped() && s.is_otel_negotiated());
}

#[tokio::test]
async fn plain_server_selecting_nothing_makes_the_client_retry_once_without_the_header() {
    let count = Arc::new(AtomicUsize::new(0));
    let (url, server) = raw_server_n(|_| None, count.clone(), 2).await;
    let (mut c, resp) = connect(url.as_str(), strict(&[])).await.unwrap();
    let mut raw = server.await.unwrap();
    assert_eq!(count.load(Ordering::SeqCst), 2, "exactly one retry");
    assert!(resp.headers().get("sec-websocket-protocol").is_none());
    assert!(!c.is_enveloped() && c.subprotocol().is_none());
    c.send(&Context::new(), Message::text("plain"))
        .await
        .unwrap();
    assert_eq!(raw_next(&mut raw).await, Message::text("plain"));

    let count = Arc::new(AtomicUsize::new(0));
    let (url, _server) = raw_server(|_| None, count.clone()).await;
    let err = connect(
        url.as_str(),
        strict(&[]).with_retry_without_subprotocols(false),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::WebSocket(tungstenite::Error::Protocol(
                tungstenite::error::ProtocolError::SecWebSocketSubProtocolError(
                    tungstenite::error::SubProtocolError::NoSubProtocol
                )
            ))
        ),
        "{err:?}"
    );
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn gorilla_offer_is_pass_through_under_strict_and_enveloped_under_gorilla_compat() {
    // Strict: the app protocol wins, pass-through on both sides.
    let (url, server) = traced_server(strict(&["json"])).await;
    let (mut raw, reply) = manual_client(&url, "otel-ws, json", &[]).await;
    let mut s = server.await.unwrap();
    assert_eq!(reply.as_deref(), Some("json"));
    assert!(!s.is_enveloped() && !s.is_otel_negotiated());
    assert_eq!(s.subprotocol(), Some("json"));
    s.send(&Context::new(), Message::text("x")).await.unwrap();
    assert_eq!(raw_next(&mut raw).await, Message::text("x"));

    // GorillaCompat: otel-ws+json with the envelope.
    let opts = Options::default()
        .with_negotiation(Negotiation::GorillaCompat)
        .with_subprotocols(["json"]);
    let (url, server) = traced_server(opts).await;
    let (mut raw, reply) = manual_client(&url, "otel-ws, json", &[]).await;
    let mut s = server.await.unwrap();
    assert_eq!(reply.as_deref(), Some("otel-ws+json"));
    assert!(s.is_enveloped() && s.is_otel_negotiated());
    assert_eq!(s.subprotocol(), Some("json"));
    s.send(&Context::new(), Message::text("x")).await.unwrap();
    let wire = raw_next(&mut raw).await.into_text().unwrap();
    assert!(
        wire.starts_with(r#"{"header":"#) && wire.ends_with(r#""data":"x"}"#),
        "{wire}"
    );
}

#[tokio::test]
async fn plain_app_offer_is_pass_through() {
    let (url, server) = traced_server(strict(&["json"])).await;
    let (mut raw, reply) = manual_client(&url, "json", &[]).await;
    let mut s = server.await.unwrap();
    assert_eq!(reply.as_deref(), Some("json"));
    assert!(!s.is_enveloped());
    raw.send(Message::text(format!(r#"{{"traceparent":"{TP}"}}"#)))
        .await
        .unwrap();
    let r = recv(&mut s).await.unwrap();
    assert_eq!(r.envelope(), EnvelopeKind::None);
    assert_eq!(
        r.message(),
        &Message::text(format!(r#"{{"traceparent":"{TP}"}}"#))
    );
}

#[tokio::test]
async fn disabled_server_never_confirms_otel_ws_and_wrap_without_token_is_pass_through() {
    let (url, server) = traced_server(strict(&["json"]).with_enabled(false)).await;
    let (_raw, reply) = manual_client(&url, "otel-ws+json, otel-ws, json", &[]).await;
    let s = server.await.unwrap();
    assert_eq!(reply.as_deref(), Some("json"));
    assert!(!s.is_enveloped() && !s.is_otel_negotiated());

    let (l, url) = listener().await;
    let srv = tokio::spawn(async move {
        tokio_tungstenite::accept_async(l.accept().await.unwrap().0)
            .await
            .unwrap()
    });
    let tcp = TcpStream::connect(url.trim_start_matches("ws://").trim_end_matches('/'))
        .await
        .unwrap();
    let (raw_client, _) = tokio_tungstenite::client_async(url.as_str(), tcp)
        .await
        .unwrap();
    let _srv = srv.await.unwrap();
    let w = wrap(raw_client, strict(&[]));
    assert!(!w.is_enveloped());
    let w2 = wrap(
        w.into_inner(),
        strict(&[]).with_negotiated_subprotocol(Some("otel-ws+json".into())),
    );
    assert!(w2.is_enveloped());
    assert_eq!(w2.subprotocol(), Some("json"));
    let w3 = wrap(w2.into_inner(), Options::default());
    assert!(w3.is_enveloped(), "Off: envelope on");
}

#[tokio::test]
async fn upgrade_request_carries_the_current_context_to_the_servers_connection_context() {
    let spans = Spans::new();
    let root = spans.root("client-op");
    let trace = root.span().span_context().trace_id();
    // The upgrade request carries the current traceparent.
    let seen = Arc::new(Mutex::new(None::<String>));
    let (l, url) = listener().await;
    let seen2 = seen.clone();
    let srv = tokio::spawn(async move {
        let (tcp, _) = l.accept().await.unwrap();
        tokio_tungstenite::accept_hdr_async(tcp, move |req: &Request, resp: Response| {
            *seen2.lock().unwrap() = req
                .headers()
                .get("traceparent")
                .map(|v| v.to_str().unwrap().to_owned());
            Ok(resp)
        })
        .await
        .unwrap()
    });
    let _c = connect(url.as_str(), spans.options())
        .with_context(root.clone())
        .await
        .unwrap();
    srv.await.unwrap();
    let tp = seen
        .lock()
        .unwrap()
        .clone()
        .expect("traceparent on the upgrade");
    assert!(tp.contains(&trace.to_string()), "{tp}");

    // An app-set traceparent is kept.
    let (l, url) = listener().await;
    let seen3 = Arc::new(Mutex::new(None::<String>));
    let seen4 = seen3.clone();
    let srv = tokio::spawn(async move {
        let (tcp, _) = l.accept().await.unwrap();
        tokio_tungstenite::accept_hdr_async(tcp, move |req: &Request, resp: Response| {
            *seen4.lock().unwrap() = req
                .headers()
                .get("traceparent")
                .map(|v| v.to_str().unwrap().to_owned());
            Ok(resp)
        })
        .await
        .unwrap()
    });
    let mut req =
        tungstenite::client::IntoClientRequest::into_client_request(url.as_str()).unwrap();
    req.headers_mut().insert("traceparent", TP.parse().unwrap());
    let _c = connect(req, spans.options())
        .with_context(root.clone())
        .await
        .unwrap();
    srv.await.unwrap();
    assert_eq!(seen3.lock().unwrap().as_deref(), Some(TP));

    // The server's connection context holds it as remote; pass-through spans link to it.
    let (url, server) = traced_server(
        spans
            .options()
            .with_negotiation(Negotiation::Strict)
            .with_subprotocols(["json"]),
    )
    .await;
    let (mut raw, _) = manual_client(&url, "json", &[("traceparent", TP)]).await;
    let mut s = server.await.unwrap();
    let conn = s.connection_context().span().span_context().clone();
    assert!(conn.is_valid() && conn.is_remote());
    assert_eq!(conn.span_id().to_string(), "00f067aa0ba902b7");
    spans.exporter.reset();
    raw.send(Message::text("plain")).await.unwrap();
    recv(&mut s).await.unwrap();
    let rs = &spans.named("websocket.receive")[0];
    assert_eq!(rs.links.links.len(), 1);
    assert_eq!(
        rs.links.links[0].span_context.span_id().to_string(),
        "00f067aa0ba902b7"
    );
    assert_ne!(
        rs.span_context.trace_id().to_string(),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );

    // Absent headers: an empty connection context.
    let (url, server) = traced_server(spans.options()).await;
    let (_raw, _) = manual_client(&url, "", &[]).await;
    let s = server.await.unwrap();
    assert!(!s.connection_context().span().span_context().is_valid());
    let _ = TcpListener::bind("127.0.0.1:0").await.unwrap();
}

#[tokio::test]
async fn explicit_format_wins_over_the_negotiated_default() {
    let count = Arc::new(AtomicUsize::new(0));
    let (url, server) = raw_server(|o| o.iter().find(|t| *t == "otel-ws").cloned(), count).await;
    let opts = strict(&[]).with_format(tracewire_ws::Format::Seed);
    let (mut c, _) = connect(url.as_str(), opts).await.unwrap();
    let mut raw = server.await.unwrap();
    assert!(c.is_otel_negotiated());
    c.send(&Context::new(), Message::text("[1]")).await.unwrap();
    let wire = raw_next(&mut raw).await.into_text().unwrap();
    assert!(
        wire.starts_with(r#"{"headers":{"#),
        "explicit Seed wins: {wire}"
    );
}

#[tokio::test]
async fn trace_passthrough_false_skips_pass_through_spans() {
    let spans = Spans::new();
    let (url, server) = traced_server(spans.options().with_trace_passthrough(false)).await;
    let (mut raw, _) = manual_client(&url, "", &[]).await;
    let mut s = server.await.unwrap();
    raw.send(Message::text("plain")).await.unwrap();
    assert_eq!(
        recv(&mut s).await.unwrap().message(),
        &Message::text("plain")
    );
    raw.send(Message::text(format!(
        r#"{{"header":{{"traceparent":"{TP}"}},"data":1}}"#
    )))
    .await
    .unwrap();
    recv(&mut s).await.unwrap();
    let receives = spans.named("websocket.receive");
    assert_eq!(receives.len(), 1, "only the enveloped message is traced");
}

#[tokio::test]
async fn accept_with_keeps_the_callbacks_subprotocol() {
    for (chosen, enveloped) in [("otel-ws+json", true), ("json", false)] {
        let (l, url) = listener().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = l.accept().await.unwrap();
            let cb = move |_: &Request, mut resp: Response| {
                resp.headers_mut()
                    .insert("sec-websocket-protocol", chosen.parse().unwrap());
                Ok(resp)
            };
            tracewire_ws::accept_with(tcp, strict(&["json"]), cb)
                .await
                .unwrap()
        });
        let (_raw, reply) = manual_client(&url, "otel-ws+json, json", &[]).await;
        let s = server.await.unwrap();
        assert_eq!(reply.as_deref(), Some(chosen));
        assert_eq!(s.is_enveloped(), enveloped, "{chosen}");
        assert_eq!(s.subprotocol(), Some("json"));
    }
}
