//! `OtlpHttpExporter`: OTLP/HTTP with protobuf or JSON bodies, optional gzip, the
//! `OTEL_*` configuration of [`crate::config`], OTLP retry rules, `partial_success`
//! reporting and size-limited request splitting.
//!
//! It exports this crate's [`Span`]s directly ([`OtlpHttpExporter::export`]), serves as the
//! transport of [`BatchExporter`](crate::batch::BatchExporter) (through [`Export`]), and
//! plugs into `opentelemetry_sdk` as a [`SpanExporter`](opentelemetry_sdk::trace::SpanExporter).

mod client;
mod config;
mod encode;
mod error;
mod prepared;
pub(crate) mod retry;
mod sdk;
mod send;

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use opentelemetry_proto::tonic::common::v1::InstrumentationScope as ProtoScope;
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
use opentelemetry_proto::tonic::trace::v1::Span as ProtoSpan;

#[cfg(feature = "reqwest")]
pub use client::ReqwestClient;
pub use client::{BoxFuture, HttpClient, TransportError, TransportErrorKind, MAX_RESPONSE_BODY};
pub use config::{
    Compression, ExporterConfig, OtlpHttpExporterBuilder, Protocol, DEFAULT_ENDPOINT,
    DEFAULT_MAX_REQUEST_BYTES, DEFAULT_TIMEOUT,
};
pub use error::{BuildError, ExportError};
pub use prepared::PreparedSpans;
pub use retry::{RetryPolicy, RetryState};

use crate::config::ConfigWarning;
use crate::proto::{resource_to_proto, scope_to_proto, to_proto_span};
use crate::span::Span;
use encode::SpanBatch;

/// What one successful export call achieved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExportOutcome {
    /// Spans the receiver accepted.
    pub sent: u64,
    /// Spans the receiver rejected through `partial_success` (counted as failed).
    pub rejected: u64,
    /// The receiver's `partial_success.error_message`, when it rejected spans.
    pub rejection_message: Option<String>,
    /// HTTP requests (parts) that were answered with success.
    pub requests: u32,
    /// HTTP attempts made, retries included.
    pub attempts: u32,
    /// Body bytes sent (as on the wire, after compression), retries included.
    pub bytes: u64,
    /// Spans not sent because `OTEL_SDK_DISABLED` is true (not a failure).
    pub disabled: u64,
}

/// The full result of exporting a batch, part by part: nothing is lost between the
/// categories, `sent + rejected + dropped + failed + disabled` equals the spans given.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct ExportReport {
    /// Counters of what was sent.
    pub outcome: ExportOutcome,
    /// Spans never attempted: too large on their own, or not encodable.
    pub dropped: u64,
    /// Spans attempted and not accepted (retries exhausted, non-retryable status).
    /// Rejected spans are in `outcome.rejected`, not here.
    pub failed: u64,
    /// The final error of every part that did not succeed, in order.
    pub errors: Vec<ExportError>,
}

impl ExportReport {
    /// Whether every span was accepted.
    pub fn is_success(&self) -> bool {
        self.errors.is_empty()
            && self.dropped == 0
            && self.failed == 0
            && self.outcome.rejected == 0
    }

    fn absorb_outcome(&mut self, other: &ExportOutcome) {
        self.outcome.sent += other.sent;
        self.outcome.rejected += other.rejected;
        self.outcome.requests += other.requests;
        self.outcome.attempts += other.attempts;
        self.outcome.bytes += other.bytes;
        self.outcome.disabled += other.disabled;
        if other.rejection_message.is_some() {
            self.outcome
                .rejection_message
                .clone_from(&other.rejection_message);
        }
    }
}

/// Receives the errors of attempts that will be retried (the final error of a part is in
/// the [`ExportReport`]).
pub trait AttemptObserver: Send + Sync {
    /// Called once per failed attempt that is followed by another attempt; `spans` is the
    /// number of spans in the request.
    fn on_retry(&self, error: ExportError, spans: usize);
}

/// Per-call options of [`Export::export_batch`].
#[derive(Clone, Copy, Default)]
#[non_exhaustive]
pub struct ExportContext<'a> {
    /// Overrides the retry policy's window (e.g. from `OTEL_BSP_EXPORT_TIMEOUT`).
    pub retry_window: Option<Duration>,
    /// Observer of retried attempts.
    pub observer: Option<&'a dyn AttemptObserver>,
}

impl fmt::Debug for ExportContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExportContext")
            .field("retry_window", &self.retry_window)
            .field("observer", &self.observer.is_some())
            .finish()
    }
}

impl<'a> ExportContext<'a> {
    /// Sets the retry-window override.
    #[must_use]
    pub fn with_retry_window(mut self, window: Option<Duration>) -> Self {
        self.retry_window = window;
        self
    }

    /// Sets the observer of retried attempts.
    #[must_use]
    pub fn with_observer(mut self, observer: &'a dyn AttemptObserver) -> Self {
        self.observer = Some(observer);
        self
    }
}

/// A transport the [`BatchExporter`](crate::batch::BatchExporter) can drive.
///
/// Spans arrive as [`PreparedSpans`] because the batch queue converts each span to its wire
/// message once, at submit (it needs the encoded size for its byte bound); a transport
/// takes the messages out with [`proto::from_prepared`](crate::proto::from_prepared).
pub trait Export: Send + Sync + 'static {
    /// Exports the spans; must account for every one of them in the report.
    fn export_batch<'a>(
        &'a self,
        spans: PreparedSpans,
        ctx: ExportContext<'a>,
    ) -> BoxFuture<'a, ExportReport>;

    /// Largest uncompressed request body; the batcher cuts batches below it.
    fn max_request_bytes(&self) -> usize {
        usize::MAX
    }

    /// Whether the transport is switched off (`OTEL_SDK_DISABLED`): the batcher then
    /// counts spans as disabled instead of queueing them.
    fn is_disabled(&self) -> bool {
        false
    }
}

/// Exports spans to an OTLP/HTTP endpoint. Cheap to clone (shared state).
#[derive(Clone)]
pub struct OtlpHttpExporter {
    inner: Arc<Inner>,
    /// Resource given by the SDK through `set_resource` (SDK path only).
    sdk_resource: Option<ProtoResource>,
}

pub(crate) struct Inner {
    config: ExporterConfig,
    warnings: Vec<ConfigWarning>,
    resource: ProtoResource,
    scope: ProtoScope,
    client: Arc<dyn HttpClient>,
    user_agent: http::HeaderValue,
    shutdown: AtomicBool,
    runtime: sdk::RuntimeHost,
}

impl fmt::Debug for OtlpHttpExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtlpHttpExporter")
            .field("endpoint", &self.inner.config.endpoint)
            .field("protocol", &self.inner.config.protocol)
            .field("compression", &self.inner.config.compression)
            .field("client", &self.inner.client)
            .finish_non_exhaustive()
    }
}

impl OtlpHttpExporter {
    /// A builder; every setting is optional and the environment fills the rest.
    pub fn builder() -> OtlpHttpExporterBuilder {
        OtlpHttpExporterBuilder::default()
    }

    pub(crate) fn from_builder(builder: OtlpHttpExporterBuilder) -> Result<Self, BuildError> {
        let (config, resource, warnings) = builder.resolve()?;
        let client: Arc<dyn HttpClient> = match builder.client.clone() {
            Some(c) => c,
            None => default_client(config.endpoint.scheme_str() == Some("https"))?,
        };
        let resource = resource_to_proto(&resource);
        let scope = scope_to_proto(&builder.scope.clone().unwrap_or_default());
        let user_agent =
            http::HeaderValue::from_static(concat!("tracewire-otlp/", env!("CARGO_PKG_VERSION")));
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                warnings,
                resource,
                scope,
                client,
                user_agent,
                shutdown: AtomicBool::new(false),
                runtime: sdk::RuntimeHost::capture(),
            }),
            sdk_resource: None,
        })
    }

    /// The effective settings.
    pub fn config(&self) -> &ExporterConfig {
        &self.inner.config
    }

    /// The configuration warnings of this exporter's build (ignored or invalid `OTEL_*`
    /// values; each was also logged once).
    pub fn warnings(&self) -> &[ConfigWarning] {
        &self.inner.warnings
    }

    /// Whether `OTEL_SDK_DISABLED` switched this exporter off: exports send nothing and
    /// report the spans in [`ExportOutcome::disabled`].
    pub fn is_disabled(&self) -> bool {
        self.inner.config.sdk_disabled
    }

    /// Exports spans; `Ok` only when every span was accepted. An empty slice sends no
    /// request. When a part fails the others are still sent; use
    /// [`export_report`](Self::export_report) for the per-category counts.
    pub async fn export(&self, spans: &[Span]) -> Result<ExportOutcome, ExportError> {
        let mut report = self.export_report(spans).await;
        if report.errors.is_empty() {
            Ok(report.outcome)
        } else {
            Err(report.errors.swap_remove(0))
        }
    }

    /// Exports spans and reports every span's fate.
    pub async fn export_report(&self, spans: &[Span]) -> ExportReport {
        let proto: Vec<ProtoSpan> = spans.iter().map(to_proto_span).collect();
        self.export_proto(proto, ExportContext::default()).await
    }

    async fn export_proto(&self, spans: Vec<ProtoSpan>, ctx: ExportContext<'_>) -> ExportReport {
        let batch = SpanBatch::single_scope(self.inner.scope.clone(), spans);
        self.inner
            .send_batch(&self.inner.resource, batch, ctx)
            .await
    }

    /// Marks the exporter shut down: later exports fail with [`ExportError::Shutdown`].
    pub fn shutdown(&self) {
        self.inner.shutdown.store(true, Ordering::SeqCst);
    }
}

impl OtlpHttpExporterBuilder {
    /// Builds the exporter. Captures the current Tokio runtime handle, if any, for exports
    /// driven from outside a runtime (the SDK's batch thread).
    pub fn build(self) -> Result<OtlpHttpExporter, BuildError> {
        OtlpHttpExporter::from_builder(self)
    }
}

impl Export for OtlpHttpExporter {
    fn export_batch<'a>(
        &'a self,
        spans: PreparedSpans,
        ctx: ExportContext<'a>,
    ) -> BoxFuture<'a, ExportReport> {
        Box::pin(self.export_proto(spans.into_proto(), ctx))
    }

    fn max_request_bytes(&self) -> usize {
        self.inner.config.max_request_bytes
    }

    fn is_disabled(&self) -> bool {
        self.inner.config.sdk_disabled
    }
}

/// The reqwest client; an `https` endpoint needs one of the TLS features.
#[cfg(feature = "reqwest")]
fn default_client(https: bool) -> Result<Arc<dyn HttpClient>, BuildError> {
    if https && !client::TLS_ENABLED {
        return Err(BuildError::Client(
            "an https endpoint needs a TLS feature of tracewire-otlp: rustls-aws-lc (default), rustls-ring or native-tls".into(),
        ));
    }
    ReqwestClient::try_new()
        .map(|c| Arc::new(c) as Arc<dyn HttpClient>)
        .map_err(|e| BuildError::Client(e.to_string()))
}

#[cfg(not(feature = "reqwest"))]
fn default_client(_https: bool) -> Result<Arc<dyn HttpClient>, BuildError> {
    Err(BuildError::Client(
        "no HTTP client: enable the `reqwest` feature or call with_http_client".into(),
    ))
}
