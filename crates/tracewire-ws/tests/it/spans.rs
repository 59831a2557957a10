//! Spans and propagation over real loopback WebSockets (`docs/websocket.md`).
#![allow(clippy::result_large_err)] // tungstenite's handshake callback signature

use std::collections::HashMap;

use crate::common::*;
use futures_util::{SinkExt, StreamExt};
use opentelemetry::baggage::BaggageExt;
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer};
use opentelemetry::{global, Context, KeyValue, Value};
use tokio::net::TcpStream;
use tracewire_ws::{client, EnvelopeKind, Message, Options, SpanPolicy, TracedWebSocket};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::CloseFrame;

fn wire_parent_id(wire: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(wire).unwrap();
    let tp = v["headers"]["traceparent"]
        .as_str()
        .or(v["header"]["traceparent"].as_str())
        .unwrap();
    tp.split('-').nth(2).unwrap().to_owned()
}

#[tokio::test]
async fn echo_round_trip_keeps_one_trace_with_each_receive_under_the_peers_send() {
    let spans = Spans::new();
    let (mut c, mut s) = traced_pair(spans.options(), spans.options()).await;
    let root = spans.root("client-op");
    c.send(&root, Message::text("ping")).await.unwrap();
    let got = recv(&mut s).await.unwrap();
    s.send(got.context(), got.message().clone()).await.unwrap();
    let back = recv(&mut c).await.unwrap();
    assert_eq!(back.message(), &Message::text("ping"));

    let sends = spans.named("websocket.send");
    let recvs = spans.named("websocket.receive");
    assert_eq!((sends.len(), recvs.len()), (2, 2));
    let trace = root.span().span_context().trace_id();
    for s in sends.iter().chain(&recvs) {
        assert_eq!(s.span_context.trace_id(), trace, "{}", s.name);
    }
    // recv spans finish in order: server receive, then client receive.
    assert_eq!(recvs[0].parent_span_id, sends[0].span_context.span_id());
    assert_eq!(recvs[1].parent_span_id, sends[1].span_context.span_id());
    assert_eq!(
        sends[0].parent_span_id,
        root.span().span_context().span_id()
    );
    assert_eq!(sends[1].parent_span_id, recvs[0].span_context.span_id());
    assert_eq!(
        back.context().span().span_context().span_id(),
        recvs[1].span_context.span_id()
    );
}

#[tokio::test]
async fn wire_traceparent_names_the_send_span() {
    let spans = Spans::new();
    for format in [tracewire_ws::Format::Seed, tracewire_ws::Format::OtelWs] {
        spans.exporter.reset();
        let (mut c, mut raw) = traced_client_raw_server(spans.options().with_format(format)).await;
        c.send(&spans.root("op"), Message::text("{}"))
            .await
            .unwrap();
        let wire = raw_next(&mut raw).await.into_text().unwrap();
        let send = &spans.named("websocket.send")[0];
        assert_eq!(
            wire_parent_id(&wire),
            send.span_context.span_id().to_string()
        );
    }
}

#[tokio::test]
async fn send_and_receive_spans_have_their_names_kinds_scope_and_attributes() {
    let spans = Spans::new();
    let (mut c, mut s) = traced_pair(spans.options(), spans.options()).await;
    let port = match c.get_ref().get_ref().peer_addr() {
        Ok(a) => i64::from(a.port()),
        Err(e) => panic!("{e}"),
    };
    c.send(&Context::new(), Message::binary(vec![7u8; 10]))
        .await
        .unwrap();
    let r = recv(&mut s).await.unwrap();
    assert_eq!(r.envelope(), EnvelopeKind::Seed);
    let all = spans.finished();
    assert_eq!(all.len(), 2, "a one-way message makes exactly 2 spans");
    let send = &spans.named("websocket.send")[0];
    let recv_span = &spans.named("websocket.receive")[0];
    assert_eq!(send.span_kind, SpanKind::Producer);
    assert_eq!(recv_span.span_kind, SpanKind::Consumer);
    let common = [
        "messaging.message.body.size",
        "messaging.operation.type",
        "messaging.system",
        "server.address",
        "server.port",
        "websocket.message.type",
    ];
    assert_eq!(attr_keys(send), common);
    let mut with_env: Vec<&str> = common.to_vec();
    with_env.push("websocket.envelope");
    with_env.sort();
    assert_eq!(attr_keys(recv_span), with_env);
    assert_eq!(
        attr(send, "messaging.system"),
        Some(&Value::from("websocket"))
    );
    assert_eq!(
        attr(send, "messaging.operation.type"),
        Some(&Value::from("send"))
    );
    assert_eq!(
        attr(recv_span, "messaging.operation.type"),
        Some(&Value::from("receive"))
    );
    assert_eq!(attr(send, "websocket.message.type"), Some(&Value::I64(2)));
    assert_eq!(
        attr(send, "messaging.message.body.size"),
        Some(&Value::I64(10))
    );
    assert_eq!(
        attr(recv_span, "messaging.message.body.size"),
        Some(&Value::I64(10))
    );
    assert_eq!(
        attr(recv_span, "websocket.envelope"),
        Some(&Value::from("seed"))
    );
    assert_eq!(
        attr(send, "server.address"),
        Some(&Value::from("127.0.0.1"))
    );
    assert_eq!(attr(send, "server.port"), Some(&Value::I64(port)));
    assert_eq!(attr(recv_span, "server.port"), Some(&Value::I64(port)));
    for sp in [send, recv_span] {
        assert_eq!(sp.instrumentation_scope.name(), "tracewire-ws");
        assert_eq!(
            sp.instrumentation_scope.version(),
            Some(env!("CARGO_PKG_VERSION"))
        );
    }
}

#[tokio::test]
async fn span_policy_parent_link_and_parent_and_link() {
    for policy in [
        SpanPolicy::Parent,
        SpanPolicy::Link,
        SpanPolicy::ParentAndLink,
    ] {
        let spans = Spans::new();
        let (mut c, mut s) =
            traced_pair(spans.options(), spans.options().with_span_policy(policy)).await;
        c.send(&spans.root("op"), Message::text("x")).await.unwrap();
        recv(&mut s).await.unwrap();
        let send = &spans.named("websocket.send")[0];
        let rs = &spans.named("websocket.receive")[0];
        let links = &rs.links.links;
        match policy {
            SpanPolicy::Parent => {
                assert!(links.is_empty());
                assert_eq!(rs.parent_span_id, send.span_context.span_id());
            }
            SpanPolicy::Link => {
                assert_ne!(rs.span_context.trace_id(), send.span_context.trace_id());
                assert_eq!(links.len(), 1);
                assert_eq!(links[0].span_context.span_id(), send.span_context.span_id());
            }
            _ => {
                assert_eq!(rs.parent_span_id, send.span_context.span_id());
                assert_eq!(links.len(), 1);
                assert_eq!(links[0].span_context.span_id(), send.span_context.span_id());
            }
        }
    }
}

#[tokio::test]
async fn without_provider_the_callers_context_is_injected_and_no_span_recorded() {
    let caller = Spans::new();
    let root = caller
        .root("op")
        .with_baggage(vec![KeyValue::new("user.id", "42")]);
    let caller_sc = root.span().span_context().clone();
    // Neither side has a provider (the OTel global default is a no-op).
    let (mut c, mut s) = traced_pair(Options::default(), Options::default()).await;
    c.send(&root, Message::text("x")).await.unwrap();
    let r = recv(&mut s).await.unwrap();
    let remote = r.remote_span_context().expect("remote context");
    assert_eq!(remote.span_id(), caller_sc.span_id());
    assert_eq!(remote.trace_id(), caller_sc.trace_id());
    let active = r.context().span().span_context().clone();
    assert_eq!(active.span_id(), caller_sc.span_id());
    assert_eq!(
        r.context()
            .baggage()
            .get("user.id")
            .map(|v| v.as_str().to_owned()),
        Some("42".into())
    );
    // Only the caller's own root span exists (and it was never ended): no ws spans at all.
    assert!(caller.finished().is_empty());
}

#[tokio::test]
async fn echo_server_without_provider_continues_each_callers_trace() {
    // The server's tracer is the global no-op: after its first span, later messages take
    // the no-op shortcut, which must still carry each received context into the reply.
    let spans = Spans::new();
    let (mut c, mut s) = traced_pair(spans.options(), Options::default()).await;
    for i in 0..3 {
        let root = spans.root("client-op");
        c.send(&root, Message::text(format!("m{i}"))).await.unwrap();
        let got = recv(&mut s).await.unwrap();
        s.send(got.context(), got.message().clone()).await.unwrap();
        let back = recv(&mut c).await.unwrap();
        let send_span = spans
            .named("websocket.send")
            .pop()
            .expect("client send span");
        let remote = back
            .remote_span_context()
            .expect("the reply carries a context");
        assert_eq!(
            remote.trace_id(),
            root.span().span_context().trace_id(),
            "m{i}"
        );
        assert_eq!(remote.span_id(), send_span.span_context.span_id(), "m{i}");
    }
    // Only the client's spans exist: three sends and three receives.
    assert_eq!(spans.named("websocket.send").len(), 3);
    assert_eq!(spans.named("websocket.receive").len(), 3);
}

#[tokio::test]
async fn control_frames_pass_untraced_and_only_abnormal_close_records_an_error_span() {
    let spans = Spans::new();
    let (mut c, mut raw) = traced_client_raw_server(spans.options()).await;
    c.send(&Context::new(), Message::Ping(b"p1".to_vec().into()))
        .await
        .unwrap();
    assert_eq!(
        raw_next(&mut raw).await,
        Message::Ping(b"p1".to_vec().into())
    );
    raw.send(Message::Pong(b"q".to_vec().into())).await.unwrap();
    let r = recv(&mut c).await.unwrap();
    assert_eq!(r.message(), &Message::Pong(b"q".to_vec().into()));
    assert_eq!(r.envelope(), EnvelopeKind::None);
    assert!(spans.finished().is_empty(), "control frames make no spans");

    for (frame, error_spans) in [
        (
            Some(CloseFrame {
                code: CloseCode::Normal,
                reason: "".into(),
            }),
            0,
        ),
        (
            Some(CloseFrame {
                code: CloseCode::Away,
                reason: "".into(),
            }),
            0,
        ),
        (None, 0),
        (
            Some(CloseFrame {
                code: CloseCode::Error,
                reason: "boom".into(),
            }),
            1,
        ),
    ] {
        spans.exporter.reset();
        let (mut c, mut raw) = traced_client_raw_server(spans.options()).await;
        raw.close(frame.clone()).await.unwrap();
        // Let the raw side finish the closing handshake and drop the connection.
        tokio::spawn(async move { while let Some(Ok(_)) = raw.next().await {} });
        let r = recv(&mut c).await.unwrap();
        assert_eq!(r.message(), &Message::Close(frame.clone()));
        // The stream then ends without recording anything.
        assert!(tokio::time::timeout(TIMEOUT, c.recv())
            .await
            .unwrap()
            .is_none());
        let got = spans.finished();
        assert_eq!(got.len(), error_spans, "{frame:?}");
        if let Some(sp) = got.first() {
            assert!(matches!(sp.status, Status::Error { .. }));
            assert_eq!(attr(sp, "websocket.close.code"), Some(&Value::I64(1011)));
        }
    }

    // A transport (protocol) error records one Error span.
    spans.exporter.reset();
    let (mut c, mut raw) = traced_client_raw_server(spans.options()).await;
    use tokio::io::AsyncWriteExt;
    raw.get_mut().write_all(&[0xF1, 0x00]).await.unwrap(); // RSV bits set: protocol error
    raw.get_mut().flush().await.unwrap();
    let err = recv(&mut c).await.unwrap_err();
    assert!(matches!(err, tracewire_ws::Error::WebSocket(_)), "{err:?}");
    let got = spans.finished();
    assert_eq!(got.len(), 1);
    assert!(matches!(got[0].status, Status::Error { .. }));
}

async fn split_both_ways(
    client_ws: TracedWebSocket<TcpStream>,
    server_ws: TracedWebSocket<TcpStream>,
    spans: &Spans,
) {
    const N: usize = 10_000;
    let client_root = spans.root("client");
    let server_root = spans.root("server");
    let client_trace = client_root.span().span_context().trace_id();
    let server_trace = server_root.span().span_context().trace_id();
    let (mut csink, mut cstream) = client_ws.split();
    let (mut ssink, mut sstream) = server_ws.split();
    // Client: Sink<Message> with the current context.
    let a = tokio::spawn(
        async move {
            for i in 0..N {
                SinkExt::<Message>::send(&mut csink, Message::text(i.to_string()))
                    .await
                    .unwrap();
            }
            csink
        }
        .with_context(client_root),
    );
    // Server: Sink<(Context, Message)>.
    let b = tokio::spawn(async move {
        for i in 0..N {
            SinkExt::<(Context, Message)>::send(
                &mut ssink,
                (
                    server_root.clone(),
                    Message::binary(i.to_string().into_bytes()),
                ),
            )
            .await
            .unwrap();
        }
        ssink
    });
    let c = tokio::spawn(async move {
        for i in 0..N {
            let r = cstream.next().await.unwrap().unwrap();
            assert_eq!(r.message(), &Message::binary(i.to_string().into_bytes()));
            assert_eq!(r.remote_span_context().unwrap().trace_id(), server_trace);
        }
        cstream
    });
    let d = tokio::spawn(async move {
        for i in 0..N {
            let r = sstream.next().await.unwrap().unwrap();
            assert_eq!(r.message(), &Message::text(i.to_string()));
            assert_eq!(r.remote_span_context().unwrap().trace_id(), client_trace);
        }
        sstream
    });
    let all = tokio::time::timeout(std::time::Duration::from_secs(120), async {
        tokio::join!(a, b, c, d)
    })
    .await
    .expect("10 000 messages each way in time");
    let (csink, ssink, cstream, sstream) = (
        all.0.unwrap(),
        all.1.unwrap(),
        all.2.unwrap(),
        all.3.unwrap(),
    );
    let client = TracedWebSocket::reunite(csink, cstream).expect("same socket");
    let server = TracedWebSocket::reunite(ssink, sstream).expect("same socket");
    assert!(client.is_enveloped() && server.is_enveloped());
    assert_eq!(spans.named("websocket.send").len(), 2 * N);
    assert_eq!(spans.named("websocket.receive").len(), 2 * N);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_halves_carry_ten_thousand_messages_each_way_in_order() {
    let spans = Spans::new();
    let (c, s) = traced_pair(spans.options(), spans.options()).await;
    split_both_ways(c, s, &spans).await;
}

#[tokio::test]
async fn reunite_rejects_halves_of_different_sockets() {
    let (c1, _s1) = traced_pair(Options::default(), Options::default()).await;
    let (c2, _s2) = traced_pair(Options::default(), Options::default()).await;
    let (sink1, _stream1) = c1.split();
    let (_sink2, stream2) = c2.split();
    assert!(TracedWebSocket::reunite(sink1, stream2).is_err());
}

#[tokio::test]
async fn per_connection_options_leave_globals_untouched_and_disabled_is_raw() {
    let spans = Spans::new();
    let custom = tracewire_context::otel::CompositePropagator::w3c_with_baggage();
    let (mut c, mut s) =
        traced_pair(spans.options().with_propagator(custom), spans.options()).await;
    c.send(&spans.root("op"), Message::text("x")).await.unwrap();
    recv(&mut s).await.unwrap();
    // The global provider is still the no-op and the global propagator injects nothing.
    let span = global::tracer("probe").start("probe");
    assert!(!opentelemetry::trace::Span::is_recording(&span));
    let mut carrier = HashMap::new();
    global::get_text_map_propagator(|p| p.inject_context(&spans.root("op"), &mut carrier));
    assert!(
        carrier.is_empty(),
        "global propagator was replaced: {carrier:?}"
    );

    // enabled(false): raw bytes, no spans, no handshake headers.
    spans.exporter.reset();
    let (l, url) = listener().await;
    let seen = std::sync::Arc::new(std::sync::Mutex::new(None));
    let seen2 = seen.clone();
    let server = tokio::spawn(async move {
        let (tcp, _) = l.accept().await.unwrap();
        tokio_tungstenite::accept_hdr_async(
            tcp,
            move |req: &tungstenite::handshake::server::Request, resp| {
                *seen2.lock().unwrap() = Some(req.headers().contains_key("traceparent"));
                Ok(resp)
            },
        )
        .await
        .unwrap()
    });
    let tcp = TcpStream::connect(url.trim_start_matches("ws://").trim_end_matches('/'))
        .await
        .unwrap();
    let (mut c, _) = client(url.as_str(), tcp, spans.options().with_enabled(false))
        .with_context(spans.root("op"))
        .await
        .unwrap();
    let mut raw = server.await.unwrap();
    assert_eq!(
        *seen.lock().unwrap(),
        Some(false),
        "no traceparent on the upgrade request"
    );
    c.send(&spans.root("op2"), Message::text(r#"{"a":1}"#))
        .await
        .unwrap();
    assert_eq!(raw_next(&mut raw).await, Message::text(r#"{"a":1}"#));
    raw.send(Message::text(format!(
        r#"{{"header":{{"traceparent":"{TP}"}},"data":1}}"#
    )))
    .await
    .unwrap();
    let r = recv(&mut c).await.unwrap();
    assert_eq!(r.envelope(), EnvelopeKind::None);
    assert_eq!(
        r.message(),
        &Message::text(format!(r#"{{"header":{{"traceparent":"{TP}"}},"data":1}}"#))
    );
    assert!(spans
        .finished()
        .iter()
        .all(|s| !s.name.starts_with("websocket.")));
    assert!(!c.is_enveloped());
}
