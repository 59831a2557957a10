//! The §6 settings table read from the real process environment (spec §10 item 19).
//! One test function, so no other test in this process races on the environment.

use std::time::Duration;

use tracewire_otlp::export::{Compression, OtlpHttpExporter, Protocol, DEFAULT_ENDPOINT};

const VARS: [&str; 10] = [
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    "OTEL_EXPORTER_OTLP_TIMEOUT",
    "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
    "OTEL_EXPORTER_OTLP_COMPRESSION",
    "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
];

fn set(pairs: &[(&str, &str)]) {
    for v in VARS {
        std::env::remove_var(v);
    }
    for (k, v) in pairs {
        std::env::set_var(k, v);
    }
}

fn build() -> tracewire_otlp::export::ExporterConfig {
    OtlpHttpExporter::builder()
        .build()
        .expect("build")
        .config()
        .clone()
}

#[tokio::test]
async fn b19_settings_table_from_process_env() {
    set(&[]);
    let c = build();
    assert_eq!(c.endpoint, DEFAULT_ENDPOINT);
    assert_eq!(
        (c.protocol, c.compression, c.timeout),
        (
            Protocol::HttpProtobuf,
            Compression::None,
            Duration::from_secs(10)
        )
    );

    // Generic endpoint gets /v1/traces, without a double slash; empty per-signal = unset.
    set(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/"),
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", ""),
    ]);
    assert_eq!(build().endpoint, "http://collector:4318/v1/traces");

    // Per-signal values beat generic ones, verbatim.
    set(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
        (
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "https://traces.example/custom",
        ),
        ("OTEL_EXPORTER_OTLP_HEADERS", "k=generic,a=1"),
        ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "k=traces"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "1000"),
        ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "2000"),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "none"),
        ("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "gzip"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json"),
    ]);
    let c = build();
    assert_eq!(c.endpoint, "https://traces.example/custom");
    assert_eq!(
        c.headers.get("k").map(|v| v.as_bytes()),
        Some(&b"traces"[..])
    );
    assert_eq!(c.headers.get("a").map(|v| v.as_bytes()), Some(&b"1"[..]));
    assert_eq!(c.timeout, Duration::from_millis(2000));
    assert_eq!(c.compression, Compression::Gzip);
    assert_eq!(c.protocol, Protocol::HttpJson);

    // Programmatic beats both.
    let c = OtlpHttpExporter::builder()
        .with_endpoint("http://code:1/x")
        .with_header("k", "code")
        .with_timeout(Duration::from_secs(3))
        .with_compression(Compression::None)
        .with_protocol(Protocol::HttpProtobuf)
        .build()
        .expect("build")
        .config()
        .clone();
    assert_eq!(c.endpoint, "http://code:1/x");
    assert_eq!(c.headers.get("k").map(|v| v.as_bytes()), Some(&b"code"[..]));
    assert_eq!(
        (c.protocol, c.compression, c.timeout),
        (
            Protocol::HttpProtobuf,
            Compression::None,
            Duration::from_secs(3)
        )
    );

    // A malformed headers variable is ignored whole; reserved headers from env are ignored.
    set(&[
        ("OTEL_EXPORTER_OTLP_HEADERS", "good=1,broken"),
        (
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
            "content-type=text/plain,x=%20y",
        ),
    ]);
    let c = build();
    assert!(c.headers.get("good").is_none());
    assert!(c.headers.get("content-type").is_none());
    assert_eq!(c.headers.get("x").map(|v| v.as_bytes()), Some(&b"y"[..]));

    // grpc is refused; a bad endpoint is an error.
    set(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]);
    assert!(matches!(
        OtlpHttpExporter::builder().build(),
        Err(tracewire_otlp::export::BuildError::UnsupportedProtocol(_))
    ));
    set(&[]);
    assert!(matches!(
        OtlpHttpExporter::builder()
            .with_endpoint("unix:///tmp/x")
            .build(),
        Err(tracewire_otlp::export::BuildError::InvalidEndpoint { .. })
    ));
    set(&[]);
}
