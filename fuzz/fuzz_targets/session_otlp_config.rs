//! Fuzzes the exporter's configuration parsers (tracewire-session §6/§8): the
//! `k=v,k2=v2` lists of `OTEL_RESOURCE_ATTRIBUTES` / `OTEL_EXPORTER_OTLP_HEADERS`, endpoint,
//! timeout, protocol and compression variables, and `Retry-After`. None may panic.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tracewire_otlp::export::{
    parse_retry_after, OtlpHttpExporter, OtlpHttpExporterBuilder, ReqwestClient,
};
use tracewire_otlp::resource::Resource;

/// One HTTP client for every input: building a client loads the system's TLS roots, which
/// would cost ~10 ms per `build()` and starve the fuzzer.
fn builder() -> OtlpHttpExporterBuilder {
    static CLIENT: OnceLock<ReqwestClient> = OnceLock::new();
    OtlpHttpExporter::builder().with_http_client(CLIENT.get_or_init(ReqwestClient::new).clone())
}

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = http::HeaderValue::from_bytes(data) {
        let _ = parse_retry_after(&v);
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = Resource::from_lookup(|k| {
        (k == "OTEL_RESOURCE_ATTRIBUTES" || k == "OTEL_SERVICE_NAME").then(|| text.to_owned())
    });
    for var in [
        "OTEL_EXPORTER_OTLP_HEADERS",
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TIMEOUT",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "OTEL_EXPORTER_OTLP_COMPRESSION",
    ] {
        let _ = builder().with_env_vars([(var, text)]).build();
    }
    let _ = builder().with_endpoint(text).build();
    let _ = builder().with_header(text, text).build();
});
