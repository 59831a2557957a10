//! Fuzzes the one OTLP configuration (`tracewire_otlp::config`): every `OTEL_*` variable it
//! reads, alone and all at once, and the same text given in code; `Retry-After` headers.
//! Nothing may panic, and a variable's value either resolves or yields a warning that
//! names that variable.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracewire_otlp::config::{Env, OtlpConfig};
use tracewire_otlp::__fuzz::parse_retry_after;
use tracewire_otlp::resource::Resource;

const VARIABLES: [&str; 21] = [
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
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_SDK_DISABLED",
    "OTEL_PROPAGATORS",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
    "OTEL_BSP_SCHEDULE_DELAY",
    "OTEL_BSP_EXPORT_TIMEOUT",
    "OTEL_BSP_MAX_QUEUE_SIZE",
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
    "OTEL_BSP_MAX_CONCURRENT_EXPORTS",
];

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = http::HeaderValue::from_bytes(data) {
        let _ = parse_retry_after(&v);
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for var in VARIABLES {
        if let Ok(resolved) = OtlpConfig::new().with_env_vars([(var, text)]).resolve() {
            for warning in &resolved.warnings {
                assert_eq!(warning.variable(), var, "a warning names its variable");
            }
        }
    }
    let _ = OtlpConfig::new()
        .with_env_vars(VARIABLES.map(|var| (var, text)))
        .resolve();
    let _ = Resource::from_env_source(&Env::from_vars([("OTEL_RESOURCE_ATTRIBUTES", text)]));
    let _ = OtlpConfig::new()
        .with_env_vars::<&str, &str>([])
        .with_endpoint(text)
        .with_header(text, text)
        .resolve();
});
