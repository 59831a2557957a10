//! A traced WebSocket client (tracewire-ws): connects to a URL, sends a few messages inside
//! a client span and prints the trace ids of the replies.
//!
//! `cargo run --example ws_client -- ws://127.0.0.1:PORT/` (start `ws_echo` first).

use opentelemetry::trace::{TraceContextExt, Tracer, TracerProvider as _};
use opentelemetry::Context;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracewire_ws::{connect, Message, Options};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args()
        .nth(1)
        .ok_or("usage: ws_client ws://HOST:PORT/")?;
    let provider = SdkTracerProvider::builder().build();
    let tracer = provider.tracer("ws_client");
    let span = tracer.start("ws_client.session");
    let cx = Context::current_with_span(span);
    println!("client trace {}", cx.span().span_context().trace_id());

    let options = Options::default().with_tracer_provider(provider.clone());
    let (mut ws, _response) = connect(url.as_str(), options).await?;
    let messages = [
        Message::text(r#"{"op":"subscribe","channel":"ticks"}"#),
        Message::text("plain text"),
        Message::binary(vec![0u8, 159, 146, 150]),
    ];
    for message in messages {
        ws.send(&cx, message.clone()).await?;
        match tokio::time::timeout(std::time::Duration::from_secs(10), ws.recv()).await {
            Ok(Some(Ok(reply))) => println!(
                "reply ({} bytes, same payload: {}) trace {} envelope {}",
                reply.message().len(),
                reply.message() == &message,
                reply.context().span().span_context().trace_id(),
                reply.envelope().as_str(),
            ),
            Ok(Some(Err(e))) => println!("error: {e}"),
            Ok(None) => break,
            Err(_) => println!("no reply within 10 s"),
        }
    }
    ws.close(None).await?;
    cx.span().end();
    provider.shutdown()?;
    Ok(())
}
