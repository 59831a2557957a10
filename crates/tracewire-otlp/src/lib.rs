//! The OTLP span model of tracewire, its mapping to `opentelemetry-proto` and the
//! OpenTelemetry SDK, and a batching OTLP/HTTP exporter that never drops spans silently.
//!
//! - [`span`]: [`Span`], [`Attributes`], [`Value`],
//!   shaped like the OTLP `Span` message with typed ids from `tracewire-context`;
//! - [`config`]: the one OTLP configuration: `OTEL_*` variables, code and defaults
//!   resolved into the effective settings, with a warning for every ignored value;
//! - [`backoff`]: [`Backoff`], the one delay sequence (initial, multiplier, cap, jitter)
//!   behind every retry loop of the workspace, sans-IO;
//! - [`rfc3339`]: the one RFC3339Nano formatter of the workspace (Go's text of a time);
//! - [`resource`]: who produced the spans ([`Resource`], [`Scope`](resource::Scope));
//! - [`proto`]: the mapping to and from `opentelemetry-proto` (the only module whose API
//!   names `opentelemetry-proto` types);
//! - [`export`]: [`OtlpHttpExporter`], OTLP/HTTP with protobuf or JSON bodies, optional
//!   gzip, the standard `OTEL_EXPORTER_OTLP_*` configuration and OTLP's retry rules;
//! - [`batch`]: [`BatchExporter`], a queue bounded by spans and bytes whose counts always
//!   satisfy `submitted = sent + dropped + failed + pending + disabled`;
//! - [`init`] (feature `init`): `init_tracer`, the global OpenTelemetry set-up (SDK tracer
//!   provider, sampler, batch processor and propagators) from the same configuration.
//!
//! ```
//! use std::time::Duration;
//! use tracewire_otlp::{BatchExporter, OtlpHttpExporter, Overflow, RetryPolicy, Span};
//! use tracewire_otlp::span::{SpanId, SpanKind, TraceId};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let exporter = OtlpHttpExporter::builder()
//!     .with_endpoint("http://127.0.0.1:9/v1/traces") // nothing listens there
//!     .with_retry(RetryPolicy::disabled())
//!     .build()?;
//! let batch = BatchExporter::builder(exporter).with_overflow(Overflow::Wait).build()?;
//!
//! let span = Span::new(
//!     TraceId::from_u128(0x0af7651916cd43dd8448eb211c80319c),
//!     SpanId::from_u64(0xb7ad6b7169203331),
//!     "checkout",
//!     SpanKind::Server,
//!     1_700_000_000_000_000_000,
//!     1_700_000_000_250_000_000,
//! );
//! batch.submit_wait([span]).await?;
//!
//! // Nothing listens, so the span is not sent: shutdown says so instead of `Ok`.
//! let result = batch.shutdown(Duration::from_secs(5)).await;
//! assert!(result.is_err());
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod backoff;
#[cfg(feature = "export")]
pub mod batch;
pub mod config;
#[cfg(feature = "export")]
pub mod export;
#[cfg(feature = "init")]
pub mod init;
#[cfg(feature = "proto")]
pub mod proto;
pub mod resource;
pub mod rfc3339;
#[cfg(feature = "sdk")]
pub mod sdk;
pub mod span;

pub use backoff::{Backoff, BackoffState};
#[cfg(feature = "export")]
pub use batch::{BatchExporter, ExportEvent, FlushReport, Overflow, ShutdownError};
pub use config::{OtlpConfig, ResolvedConfig};
#[cfg(feature = "export")]
pub use export::{ExportError, ExportOutcome, OtlpHttpExporter, Protocol, RetryPolicy};
pub use resource::Resource;
pub use span::{Attributes, KeyValue, Span, SpanEvent, SpanKind, Status, StatusCode, Value};

/// Internals reached by the fuzz targets in `fuzz/` (feature `fuzzing`). Not a stable API:
/// anything here may change or go away in any release.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod __fuzz {
    #[cfg(feature = "export")]
    pub use crate::export::retry::parse_retry_after;
}

/// The README's examples, compiled as doctests.
#[cfg(all(doctest, feature = "export"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
