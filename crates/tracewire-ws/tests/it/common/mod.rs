//! Shared helpers of the integration tests: loopback pairs and in-memory spans.
#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::time::Duration;

use opentelemetry::trace::{SpanKind, TraceContextExt, Tracer, TracerProvider as _};
use opentelemetry::{Context, KeyValue, Value};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tracewire_ws::{accept, client, Options, TracedWebSocket};

pub const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// A provider recording into memory, synchronously.
#[derive(Clone, Debug)]
pub struct Spans {
    pub provider: SdkTracerProvider,
    pub exporter: InMemorySpanExporter,
}

impl Spans {
    pub fn new() -> Self {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        Spans { provider, exporter }
    }

    pub fn finished(&self) -> Vec<SpanData> {
        self.exporter.get_finished_spans().expect("in-memory spans")
    }

    pub fn named(&self, name: &str) -> Vec<SpanData> {
        self.finished()
            .into_iter()
            .filter(|s| s.name == name)
            .collect()
    }

    /// A context with a fresh sampled local span of this provider active.
    pub fn root(&self, name: &'static str) -> Context {
        let tracer = self.provider.tracer("test");
        let span = tracer
            .span_builder(name)
            .with_kind(SpanKind::Internal)
            .start(&tracer);
        Context::current_with_span(span)
    }

    pub fn options(&self) -> Options {
        Options::default().with_tracer_provider(self.provider.clone())
    }
}

pub fn attr<'a>(span: &'a SpanData, key: &str) -> Option<&'a Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}

pub fn attr_keys(span: &SpanData) -> Vec<String> {
    let mut keys: Vec<String> = span
        .attributes
        .iter()
        .map(|kv: &KeyValue| kv.key.as_str().to_owned())
        .collect();
    keys.sort();
    keys
}

pub async fn listener() -> (TcpListener, String) {
    let l = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = l.local_addr().expect("local addr");
    (l, format!("ws://{addr}/"))
}

/// A client end and a server end over loopback TCP, each made from its TCP stream by its
/// closure (the client's also gets the `ws://` URL); both handshakes run within [`TIMEOUT`].
pub async fn pair<C, S, CF, SF>(
    client_end: impl FnOnce(String, TcpStream) -> CF,
    server_end: impl FnOnce(TcpStream) -> SF,
) -> (C, S)
where
    CF: Future<Output = C>,
    SF: Future<Output = S>,
{
    let (l, url) = listener().await;
    let server = async move {
        let (tcp, _) = l.accept().await.expect("accept");
        server_end(tcp).await
    };
    let cli = async move {
        let tcp = TcpStream::connect(url.trim_start_matches("ws://").trim_end_matches('/'))
            .await
            .expect("connect");
        client_end(url, tcp).await
    };
    tokio::time::timeout(TIMEOUT, async { tokio::join!(cli, server) })
        .await
        .expect("handshake in time")
}

/// A traced client and a traced server over loopback TCP.
pub async fn traced_pair(
    client_opts: Options,
    server_opts: Options,
) -> (TracedWebSocket<TcpStream>, TracedWebSocket<TcpStream>) {
    pair(
        |url, tcp| async move {
            client(url.as_str(), tcp, client_opts)
                .await
                .expect("client handshake")
                .0
        },
        |tcp| async move { accept(tcp, server_opts).await.expect("server handshake") },
    )
    .await
}

/// A traced client and a raw tokio-tungstenite server.
pub async fn traced_client_raw_server(
    client_opts: Options,
) -> (TracedWebSocket<TcpStream>, WebSocketStream<TcpStream>) {
    pair(
        |url, tcp| async move {
            client(url.as_str(), tcp, client_opts)
                .await
                .expect("client handshake")
                .0
        },
        |tcp| async move {
            tokio_tungstenite::accept_async(tcp)
                .await
                .expect("raw handshake")
        },
    )
    .await
}

/// A raw tokio-tungstenite client and a traced server.
pub async fn raw_client_traced_server(
    server_opts: Options,
) -> (WebSocketStream<TcpStream>, TracedWebSocket<TcpStream>) {
    pair(
        |url, tcp| async move {
            tokio_tungstenite::client_async(url.as_str(), tcp)
                .await
                .expect("raw client handshake")
                .0
        },
        |tcp| async move { accept(tcp, server_opts).await.expect("server handshake") },
    )
    .await
}

/// `recv` with a timeout, expecting a message.
pub async fn recv<S>(
    ws: &mut TracedWebSocket<S>,
) -> Result<tracewire_ws::Received, tracewire_ws::Error>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    tokio::time::timeout(TIMEOUT, ws.recv())
        .await
        .expect("recv in time")
        .expect("stream open")
}

/// The raw next message with a timeout.
pub async fn raw_next(ws: &mut WebSocketStream<TcpStream>) -> tungstenite::Message {
    use futures_util::StreamExt;
    tokio::time::timeout(TIMEOUT, ws.next())
        .await
        .expect("raw next in time")
        .expect("raw stream open")
        .expect("raw message")
}

pub fn trace_id_of(cx: &Context) -> String {
    cx.span().span_context().trace_id().to_string()
}
