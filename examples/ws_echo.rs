//! A traced WebSocket echo server (tracewire-ws).
//!
//! `cargo run --example ws_echo -- [--addr 127.0.0.1:PORT] [--format seed|otel-ws|auto]
//! [--negotiation off|strict|gorilla-compat]`
//!
//! Every data message is echoed with the same payload and opcode, sent in the received
//! context, so the reply continues the sender's trace with a new parent id. One line is
//! logged per message with its trace id. With `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) set, `init_tracer` exports spans over OTLP with
//! everything else from the `OTEL_*` variables (protocol, headers, gzip, sampler,
//! propagators; see docs/configuration.md); otherwise a local SDK provider records them.

use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tokio::net::TcpListener;
use tracewire_ws::{accept, Format, Negotiation, Options, TracerInit};

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn parse_format(s: &str) -> Result<Format, String> {
    match s {
        "seed" => Ok(Format::Seed),
        "otel-ws" => Ok(Format::OtelWs),
        "auto" => Ok(Format::Auto),
        other => Err(format!("unknown --format {other} (seed|otel-ws|auto)")),
    }
}

fn parse_negotiation(s: &str) -> Result<Negotiation, String> {
    match s {
        "off" => Ok(Negotiation::Off),
        "strict" => Ok(Negotiation::Strict),
        "gorilla-compat" => Ok(Negotiation::GorillaCompat),
        other => Err(format!(
            "unknown --negotiation {other} (off|strict|gorilla-compat)"
        )),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let addr = arg(&args, "--addr").unwrap_or_else(|| "127.0.0.1:0".to_owned());
    let mut options = Options::default();
    if let Some(f) = arg(&args, "--format") {
        options = options.with_format(parse_format(&f)?);
    }
    if let Some(n) = arg(&args, "--negotiation") {
        options = options.with_negotiation(parse_negotiation(&n)?);
    }
    // OTLP when configured, else a local provider so spans (and trace ids) are real.
    let configured = [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    ]
    .iter()
    .any(|v| std::env::var_os(v).is_some());
    let _guard = if configured {
        let mut init = TracerInit::new();
        // Attributes set in code beat OTEL_SERVICE_NAME: name the service only when the
        // environment does not.
        if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
            init = init.with_attributes([opentelemetry::KeyValue::new("service.name", "ws_echo")]);
        }
        let guard = init.install()?;
        for w in guard.warnings() {
            eprintln!("ws_echo: warning: {w}");
        }
        Some(guard)
    } else {
        options = options.with_tracer_provider(SdkTracerProvider::builder().build());
        None
    };

    let listener = TcpListener::bind(&addr).await?;
    println!("listening on ws://{}", listener.local_addr()?);
    loop {
        let (tcp, peer) = listener.accept().await?;
        let options = options.clone();
        tokio::spawn(async move {
            let mut ws = match accept(tcp, options).await {
                Ok(ws) => ws,
                Err(e) => return eprintln!("{peer}: handshake failed: {e}"),
            };
            while let Some(item) = ws.recv().await {
                match item {
                    Ok(received) => {
                        let envelope = received.envelope();
                        let (cx, message) = received.into_parts();
                        if !(message.is_text() || message.is_binary()) {
                            continue;
                        }
                        let trace = cx.span().span_context().trace_id();
                        println!(
                            "{peer}: {} bytes, envelope {}, trace {trace}",
                            message.len(),
                            envelope.as_str()
                        );
                        if let Err(e) = ws.send(&cx, message).await {
                            return eprintln!("{peer}: send failed: {e}");
                        }
                    }
                    Err(e) if e.is_message_level() => eprintln!("{peer}: skipped a message: {e}"),
                    Err(e) => return eprintln!("{peer}: connection ended: {e}"),
                }
            }
        });
    }
}
