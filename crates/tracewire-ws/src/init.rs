//! Global set-up (feature `otlp`, spec §4.4): `init_tracer`, `init_tracer_with_provider`,
//! `shutdown_tracer` and the `TracerGuard`.
//!
//! Skip `init_tracer` if the application configures OpenTelemetry itself: providers set by
//! others cannot be detected and would be replaced.

use std::sync::mpsc;
use std::sync::{Mutex, Once};
use std::time::Duration;

use opentelemetry::{global, KeyValue};
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tracewire_context::otel::CompositePropagator;

mod endpoint;

pub use endpoint::{resolve_endpoint, Endpoint, Protocol};

/// Why global set-up or shutdown failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InitError {
    /// This crate already installed a provider; call `shutdown_tracer()` first.
    #[error("tracer already initialized by tracewire-ws; call shutdown_tracer() first")]
    AlreadyInitialized,
    /// The endpoint (or protocol variable) could not be used.
    #[error("invalid OTLP endpoint: {0}")]
    InvalidEndpoint(String),
    /// The endpoint resolved to gRPC but the `grpc` feature is off.
    #[error("OTLP endpoint {endpoint} resolved to gRPC, but tracewire-ws was built without the `grpc` feature; enable it or use OTLP/HTTP (http://…:4318)")]
    GrpcUnavailable {
        /// The resolved endpoint.
        endpoint: String,
    },
    /// gRPC export needs a multi-thread Tokio runtime.
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
    generation: u64,
    timeout: Duration,
}

impl TracerGuard {
    /// Sets the bound of flush + shutdown (default 5 s).
    pub fn with_shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Flushes, shuts down and resets the globals, reporting failures.
    pub fn shutdown(self) -> Result<(), InitError> {
        let result = shutdown_generation(Some(self.generation), self.timeout);
        std::mem::forget(self);
        result
    }
}

impl Drop for TracerGuard {
    fn drop(&mut self) {
        if let Err(e) = shutdown_generation(Some(self.generation), self.timeout) {
            tracing::warn!(error = %e, "tracewire-ws: tracer shutdown failed");
        }
    }
}

/// Builds an OTLP exporter, installs a batch provider and the strict W3C + Baggage
/// propagator globally (spec §4.4).
///
/// Endpoint: `endpoint` if non-empty, else `OTEL_EXPORTER_OTLP_ENDPOINT`, else
/// `localhost:4317` (see [`resolve_endpoint`]). The resource is the SDK default (honouring
/// `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`) with `attributes` on top.
pub fn init_tracer<I>(endpoint: Option<&str>, attributes: I) -> Result<TracerGuard, InitError>
where
    I: IntoIterator<Item = KeyValue>,
{
    let mut installed = lock_installed();
    if installed.is_some() {
        return Err(InitError::AlreadyInitialized);
    }
    let resolved = resolve_endpoint(endpoint, |k| std::env::var(k).ok())?;
    let exporter = build_exporter(&resolved)?;
    let resource = Resource::builder().with_attributes(attributes).build();
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build();
    Ok(install(&mut installed, provider))
}

/// Installs `provider` (and the propagator) globally: the test hook, like v0.1.0's
/// `WithTracerProviderOption`.
pub fn init_tracer_with_provider(provider: SdkTracerProvider) -> Result<TracerGuard, InitError> {
    let mut installed = lock_installed();
    if installed.is_some() {
        return Err(InitError::AlreadyInitialized);
    }
    Ok(install(&mut installed, provider))
}

/// Flushes and shuts down the provider this crate installed (`Ok` if none), resets the
/// global provider and propagator to no-ops and allows `init_tracer` again.
pub fn shutdown_tracer() -> Result<(), InitError> {
    shutdown_generation(None, DEFAULT_SHUTDOWN_TIMEOUT)
}

fn lock_installed() -> std::sync::MutexGuard<'static, Option<Installed>> {
    INSTALLED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn install(slot: &mut Option<Installed>, provider: SdkTracerProvider) -> TracerGuard {
    let generation = {
        let mut g = GENERATION.lock().unwrap_or_else(|p| p.into_inner());
        *g += 1;
        *g
    };
    global::set_tracer_provider(provider.clone());
    global::set_text_map_propagator(CompositePropagator::w3c_with_baggage());
    *slot = Some(Installed {
        provider,
        generation,
    });
    TracerGuard {
        generation,
        timeout: DEFAULT_SHUTDOWN_TIMEOUT,
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
/// time on any runtime (the batch exporter's blocking client cannot run on a Tokio thread).
fn flush_and_shutdown(provider: SdkTracerProvider, timeout: Duration) -> Result<(), InitError> {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("tracewire-ws-shutdown".into())
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

fn build_exporter(endpoint: &Endpoint) -> Result<opentelemetry_otlp::SpanExporter, InitError> {
    match endpoint.protocol {
        Protocol::HttpProtobuf => {
            use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
            let url = endpoint.url.clone();
            // The blocking reqwest client owns a runtime: build it off any Tokio thread.
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::builder()
                    .build()
                    .map_err(|e| InitError::Exporter(e.to_string()))?;
                opentelemetry_otlp::SpanExporter::builder()
                    .with_http()
                    .with_http_client(client)
                    .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                    .with_endpoint(url)
                    .build()
                    .map_err(|e| InitError::Exporter(e.to_string()))
            })
            .join()
            .map_err(|_| InitError::Exporter("exporter set-up thread panicked".into()))?
        }
        Protocol::Grpc => build_grpc(endpoint),
    }
}

#[cfg(feature = "grpc")]
fn build_grpc(endpoint: &Endpoint) -> Result<opentelemetry_otlp::SpanExporter, InitError> {
    use opentelemetry_otlp::WithExportConfig;
    let multi_thread = tokio::runtime::Handle::try_current()
        .map(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread)
        .unwrap_or(false);
    if !multi_thread {
        return Err(InitError::Runtime);
    }
    opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint.url.clone())
        .build()
        .map_err(|e| InitError::Exporter(e.to_string()))
}

#[cfg(not(feature = "grpc"))]
fn build_grpc(endpoint: &Endpoint) -> Result<opentelemetry_otlp::SpanExporter, InitError> {
    Err(InitError::GrpcUnavailable {
        endpoint: endpoint.url.clone(),
    })
}

static IMPLICIT: Once = Once::new();
static IMPLICIT_GUARD: Mutex<Option<TracerGuard>> = Mutex::new(None);

/// `init_tracer(None, [])` once per process for `implicit_init(true)`; its guard is kept
/// in a static (call `shutdown_tracer()` before exit). Failures are logged once.
pub(crate) fn implicit_init_once() {
    IMPLICIT.call_once(|| match init_tracer(None, []) {
        Ok(guard) => {
            if let Ok(mut slot) = IMPLICIT_GUARD.lock() {
                // Never dropped: shutdown happens through shutdown_tracer().
                std::mem::forget(slot.replace(guard));
            }
        }
        Err(e) => tracing::warn!(error = %e, "tracewire-ws: implicit init_tracer failed; connections stay untraced"),
    });
}
