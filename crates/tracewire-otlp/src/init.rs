//! Global OpenTelemetry set-up (feature `init`): `init_tracer` installs an SDK tracer
//! provider exporting through this crate's [`OtlpHttpExporter`] (OTLP/HTTP, protobuf or
//! JSON, gzip, headers, timeout) or, with the `grpc` feature, opentelemetry-otlp's gRPC
//! exporter; the sampler, the batch processor and the global propagator come from the
//! same resolved configuration ([`crate::config`]).
//!
//! With `OTEL_SDK_DISABLED=true` nothing is installed and the guard is a no-op: `Ok`,
//! nothing exported, nothing fails.
//!
//! Skip `init_tracer` if the application configures OpenTelemetry itself: providers set
//! by others cannot be detected and would be replaced.

use std::sync::mpsc;
use std::sync::Mutex;
use std::time::Duration;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::{global, KeyValue};
use opentelemetry_sdk::trace::{BatchConfigBuilder, BatchSpanProcessor, SdkTracerProvider};
use tracewire_context::otel::{
    BaggagePropagator, CompositePropagator, W3cPropagator, XRayPropagator,
};

use crate::config::{
    log_warnings, ConfigError, ConfigWarning, OtlpConfig, Propagator, Protocol, ResolvedConfig,
};
use crate::export::{OtlpHttpExporter, RetryPolicy};
use crate::resource::Resource;
use crate::sdk::from_otel_value;

/// Why global set-up or shutdown failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InitError {
    /// This crate already installed a provider; call `shutdown_tracer()` first.
    #[error("tracer already initialized by tracewire; call shutdown_tracer() first")]
    AlreadyInitialized,
    /// A setting made in code is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The configuration asks for OTLP/gRPC but the `grpc` feature is off.
    #[error("OTLP protocol grpc (endpoint {endpoint}) needs the `grpc` feature of tracewire-otlp (or tracewire-ws); enable it, or use http/protobuf or http/json")]
    GrpcUnavailable {
        /// The resolved endpoint.
        endpoint: String,
    },
    /// OTLP/gRPC export needs a multi-thread Tokio runtime.
    #[error("OTLP/gRPC export needs a multi-thread Tokio runtime")]
    Runtime,
    /// The exporter could not be built.
    #[error("OTLP exporter: {0}")]
    Exporter(String),
    /// Flush or shutdown failed or timed out.
    #[error("tracer shutdown: {0}")]
    Shutdown(String),
}

/// Default bound of the guard's flush + shutdown.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// The provider this crate installed, with a generation to tell guards apart.
struct Installed {
    provider: SdkTracerProvider,
    generation: u64,
}

static INSTALLED: Mutex<Option<Installed>> = Mutex::new(None);
static GENERATION: Mutex<u64> = Mutex::new(0);

/// Flushes and shuts down the installed provider when dropped (bounded by a timeout, also
/// on a current-thread runtime). Prefer [`TracerGuard::shutdown`] to see failures.
#[must_use = "dropping the guard shuts the tracer down"]
#[derive(Debug)]
pub struct TracerGuard {
    /// `None`: nothing was installed (`OTEL_SDK_DISABLED`).
    generation: Option<u64>,
    timeout: Duration,
    warnings: Vec<ConfigWarning>,
}

impl TracerGuard {
    /// Sets the bound of flush + shutdown (default 5 s).
    #[must_use = "dropping the returned guard shuts the tracer down"]
    pub fn with_shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Whether `OTEL_SDK_DISABLED` made this a no-op guard (nothing installed).
    pub fn is_disabled(&self) -> bool {
        self.generation.is_none()
    }

    /// The configuration warnings of the set-up (each also logged once).
    pub fn warnings(&self) -> &[ConfigWarning] {
        &self.warnings
    }

    /// Flushes, shuts down and resets the globals, reporting failures.
    pub fn shutdown(mut self) -> Result<(), InitError> {
        match self.generation.take() {
            Some(g) => shutdown_generation(Some(g), self.timeout),
            None => Ok(()),
        }
    }
}

impl Drop for TracerGuard {
    fn drop(&mut self) {
        if let Some(g) = self.generation.take() {
            if let Err(e) = shutdown_generation(Some(g), self.timeout) {
                tracing::warn!(target: "tracewire_otlp::init", error = %e, "tracer shutdown failed");
            }
        }
    }
}

/// Builder of the global set-up; [`init_tracer`] is `TracerInit::new().install()`.
#[derive(Debug, Clone, Default)]
pub struct TracerInit {
    config: OtlpConfig,
    attributes: Vec<KeyValue>,
}

impl TracerInit {
    /// Everything from `OTEL_*` variables and defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// The OTLP settings made in code, the variable source and the precedence.
    #[must_use]
    pub fn with_config(mut self, config: OtlpConfig) -> Self {
        self.config = config;
        self
    }

    /// The full traces URL set in code; `OTEL_EXPORTER_OTLP_*ENDPOINT` beat it.
    #[must_use]
    pub fn with_endpoint(mut self, url: impl Into<String>) -> Self {
        self.config = self.config.with_endpoint(url);
        self
    }

    /// Resource attributes set in code; they win over `OTEL_SERVICE_NAME` and
    /// `OTEL_RESOURCE_ATTRIBUTES` (as the resource specification asks).
    #[must_use]
    pub fn with_attributes(mut self, attributes: impl IntoIterator<Item = KeyValue>) -> Self {
        self.attributes.extend(attributes);
        self
    }

    /// Resolves the configuration and installs the provider and the propagator globally.
    pub fn install(self) -> Result<TracerGuard, InitError> {
        let mut installed = lock_installed();
        if installed.is_some() {
            return Err(InitError::AlreadyInitialized);
        }
        let mut config = self.config;
        if !self.attributes.is_empty() {
            let base = config.resource.take().unwrap_or_else(Resource::empty);
            let resource = self.attributes.iter().fold(base, |r, kv| {
                r.with_attribute(kv.key.as_str().to_owned(), from_otel_value(&kv.value))
            });
            config = config.with_resource(resource);
        }
        let resolved = config.resolve()?;
        let mut warnings = resolved.warnings.clone();
        if resolved.sdk_disabled {
            return Ok(TracerGuard {
                generation: None,
                timeout: DEFAULT_SHUTDOWN_TIMEOUT,
                warnings,
            });
        }
        if resolved.batch.max_concurrent_exports > 1 {
            let w = ConfigWarning::new(
                "OTEL_BSP_MAX_CONCURRENT_EXPORTS",
                resolved.batch.max_concurrent_exports.to_string(),
                "ignored by init_tracer: the SDK's batch processor exports one batch at a time",
            );
            log_warnings(std::slice::from_ref(&w));
            warnings.push(w);
        }
        let provider = build_provider(&resolved)?;
        Ok(install(
            &mut installed,
            provider,
            propagator(&resolved.propagators),
            warnings,
        ))
    }
}

/// Installs a tracer provider exporting over OTLP, a sampler, a batch processor and the
/// propagators, all from the `OTEL_*` variables (see `docs/configuration.md`).
pub fn init_tracer() -> Result<TracerGuard, InitError> {
    TracerInit::new().install()
}

/// Installs `provider` and the strict W3C Trace Context + Baggage propagator globally:
/// the test hook. No variable is read.
pub fn init_tracer_with_provider(provider: SdkTracerProvider) -> Result<TracerGuard, InitError> {
    let mut installed = lock_installed();
    if installed.is_some() {
        return Err(InitError::AlreadyInitialized);
    }
    Ok(install(
        &mut installed,
        provider,
        propagator(&Propagator::DEFAULT),
        Vec::new(),
    ))
}

/// Flushes and shuts down the provider this crate installed (`Ok` if none), resets the
/// global provider and propagator to no-ops and allows `init_tracer` again.
pub fn shutdown_tracer() -> Result<(), InitError> {
    shutdown_generation(None, DEFAULT_SHUTDOWN_TIMEOUT)
}

/// The strict propagators of `tracewire-context` in the order given (an empty list
/// propagates nothing), as `OTEL_PROPAGATORS` lists them.
pub fn propagator(list: &[Propagator]) -> CompositePropagator {
    CompositePropagator::new(
        list.iter()
            .map(|p| -> Box<dyn TextMapPropagator + Send + Sync> {
                match p {
                    Propagator::TraceContext => Box::new(W3cPropagator::new()),
                    Propagator::Baggage => Box::new(BaggagePropagator::new()),
                    Propagator::XRay => Box::new(XRayPropagator::new()),
                }
            })
            .collect(),
    )
}

fn build_provider(resolved: &ResolvedConfig) -> Result<SdkTracerProvider, InitError> {
    let batch = &resolved.batch;
    // BatchConfigBuilder::default() reads OTEL_BSP_* itself; every value it reads is set
    // again here from the resolved configuration, so ours win.
    let batch_config = BatchConfigBuilder::default()
        .with_max_queue_size(batch.max_queue_size)
        .with_scheduled_delay(batch.scheduled_delay)
        .with_max_export_batch_size(batch.max_export_batch_size)
        .build();
    let processor = if resolved.protocol == Protocol::Grpc {
        BatchSpanProcessor::builder(grpc_exporter(resolved)?)
            .with_batch_config(batch_config)
            .build()
    } else {
        // OTEL_BSP_EXPORT_TIMEOUT bounds one export, retries included: the retry window.
        let mut retry = RetryPolicy::default();
        if let Some(window) = batch.export_timeout {
            retry.window = window;
        }
        let exporter = OtlpHttpExporter::builder()
            .with_resolved(resolved.clone())
            .with_retry(retry)
            .build()
            .map_err(|e| InitError::Exporter(e.to_string()))?;
        BatchSpanProcessor::builder(exporter)
            .with_batch_config(batch_config)
            .build()
    };
    Ok(provider_with(processor, resolved))
}

fn provider_with(processor: BatchSpanProcessor, resolved: &ResolvedConfig) -> SdkTracerProvider {
    SdkTracerProvider::builder()
        .with_span_processor(processor)
        .with_sampler(resolved.sampler.to_sdk())
        .with_resource(resolved.resource.to_sdk())
        .build()
}

#[cfg(feature = "grpc")]
fn grpc_exporter(resolved: &ResolvedConfig) -> Result<opentelemetry_otlp::SpanExporter, InitError> {
    use opentelemetry_otlp::tonic_types::metadata::MetadataMap;
    use opentelemetry_otlp::{WithExportConfig, WithTonicConfig};
    let multi_thread = tokio::runtime::Handle::try_current()
        .map(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread)
        .unwrap_or(false);
    if !multi_thread {
        return Err(InitError::Runtime);
    }
    let mut builder = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(resolved.traces_endpoint.clone())
        .with_timeout(resolved.timeout)
        .with_metadata(MetadataMap::from_headers(resolved.headers.clone()));
    if resolved.compression == crate::config::Compression::Gzip {
        builder = builder.with_compression(opentelemetry_otlp::Compression::Gzip);
    }
    if resolved.traces_endpoint.starts_with("https://") {
        builder = grpc_tls(builder)?;
    }
    builder
        .build()
        .map_err(|e| InitError::Exporter(e.to_string()))
}

/// TLS for an `https` gRPC endpoint: tonic with the crypto provider of the enabled TLS
/// feature, verifying against the platform's trust store.
#[cfg(all(
    feature = "grpc",
    any(feature = "rustls-ring", feature = "rustls-aws-lc")
))]
fn grpc_tls(
    builder: opentelemetry_otlp::SpanExporterBuilder<opentelemetry_otlp::TonicExporterBuilderSet>,
) -> Result<
    opentelemetry_otlp::SpanExporterBuilder<opentelemetry_otlp::TonicExporterBuilderSet>,
    InitError,
> {
    use opentelemetry_otlp::tonic_types::transport::ClientTlsConfig;
    use opentelemetry_otlp::WithTonicConfig;
    Ok(builder.with_tls_config(ClientTlsConfig::new().with_native_roots()))
}

/// Without a rustls feature there is no TLS for gRPC: an error that says which to enable.
#[cfg(all(
    feature = "grpc",
    not(any(feature = "rustls-ring", feature = "rustls-aws-lc"))
))]
fn grpc_tls(
    _builder: opentelemetry_otlp::SpanExporterBuilder<opentelemetry_otlp::TonicExporterBuilderSet>,
) -> Result<
    opentelemetry_otlp::SpanExporterBuilder<opentelemetry_otlp::TonicExporterBuilderSet>,
    InitError,
> {
    Err(InitError::Exporter(
        "an https gRPC endpoint needs the rustls-ring or rustls-aws-lc feature of tracewire-otlp"
            .into(),
    ))
}

/// Without the `grpc` feature: an error that names it.
#[cfg(not(feature = "grpc"))]
fn grpc_exporter(resolved: &ResolvedConfig) -> Result<OtlpHttpExporter, InitError> {
    Err(InitError::GrpcUnavailable {
        endpoint: resolved.traces_endpoint.clone(),
    })
}

fn lock_installed() -> std::sync::MutexGuard<'static, Option<Installed>> {
    INSTALLED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn install(
    slot: &mut Option<Installed>,
    provider: SdkTracerProvider,
    propagator: CompositePropagator,
    warnings: Vec<ConfigWarning>,
) -> TracerGuard {
    let generation = {
        let mut g = GENERATION.lock().unwrap_or_else(|p| p.into_inner());
        *g += 1;
        *g
    };
    global::set_tracer_provider(provider.clone());
    global::set_text_map_propagator(propagator);
    *slot = Some(Installed {
        provider,
        generation,
    });
    TracerGuard {
        generation: Some(generation),
        timeout: DEFAULT_SHUTDOWN_TIMEOUT,
        warnings,
    }
}

/// Shuts down the installed provider if it is `generation` (any when `None`).
fn shutdown_generation(generation: Option<u64>, timeout: Duration) -> Result<(), InitError> {
    let installed = {
        let mut slot = lock_installed();
        match (&*slot, generation) {
            (Some(i), Some(g)) if i.generation != g => return Ok(()),
            (None, _) => return Ok(()),
            _ => slot.take(),
        }
    };
    global::set_tracer_provider(opentelemetry::trace::noop::NoopTracerProvider::new());
    global::set_text_map_propagator(opentelemetry::propagation::TextMapCompositePropagator::new(
        Vec::new(),
    ));
    match installed {
        Some(i) => flush_and_shutdown(i.provider, timeout),
        None => Ok(()),
    }
}

/// Runs flush + shutdown on a helper thread and waits at most `timeout`, so it returns in
/// time on any runtime (the SDK's flush blocks its caller).
fn flush_and_shutdown(provider: SdkTracerProvider, timeout: Duration) -> Result<(), InitError> {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("tracewire-shutdown".into())
        .spawn(move || {
            let flushed = provider.force_flush();
            let shut = provider.shutdown_with_timeout(timeout);
            let _ = tx.send(flushed.and(shut));
        })
        .map_err(|e| InitError::Shutdown(e.to_string()))?;
    match rx.recv_timeout(timeout) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(InitError::Shutdown(e.to_string())),
        Err(_) => Err(InitError::Shutdown(format!(
            "flush and shutdown did not finish within {timeout:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn propagator_fields_follow_the_list_order() {
        let p = propagator(&[Propagator::XRay, Propagator::TraceContext]);
        let fields: Vec<&str> = p.fields().collect();
        assert_eq!(fields, ["x-amzn-trace-id", "traceparent", "tracestate"]);
        assert_eq!(propagator(&[]).fields().count(), 0);
    }
}
