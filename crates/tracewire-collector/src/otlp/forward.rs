//! The OTLP forwarder: feeds from a span subscription into tracewire-otlp's batching
//! OTLP/HTTP exporter, whose enqueue never blocks. One exporter per `service.name` (the
//! resource is per exporter), up to a bound. Endpoint, protocol, headers, compression,
//! timeout, resource attributes and `OTEL_BSP_*` come from the resolved configuration.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tracewire_otlp::batch::{BatchExporter, Deadline, FlushReport};
use tracewire_otlp::config::{OtlpConfig as OtelConfig, ResolvedConfig};
use tracewire_otlp::export::OtlpHttpExporter;
use tracewire_otlp::resource::Scope;
use tracewire_otlp::span::{Span as OtlpSpan, SpanKind as OtlpKind, Status as OtlpStatus};

use crate::model::{CompletedSpan, StatusCode, WireKind};
use crate::server::{Collector, RecvError, SpanSubscription};

/// Most distinct `service.name` values with their own exporter; further services share
/// the default one (their spans keep `service.name` as a span attribute).
const MAX_SERVICES: usize = 64;

/// How the forwarder is configured (resolved at bind).
#[derive(Debug, Clone)]
pub(crate) struct ForwardConfig {
    /// Settings made in code, the variable source and the precedence.
    pub(crate) config: OtelConfig,
    /// Settings resolved already (the CLI's), used instead of `config`.
    pub(crate) resolved: Option<ResolvedConfig>,
    /// `service.name` for spans without one.
    pub(crate) service_name: String,
}

/// A forwarder ready to start.
#[derive(Debug, Clone)]
pub(crate) struct Forwarding {
    pub(crate) resolved: ResolvedConfig,
    pub(crate) service_name: String,
}

/// The traces URL of a `--forward` value: a bare base URL (no path) gets `/v1/traces`;
/// a URL with a path is used as-is.
pub fn traces_url(url: &str) -> String {
    match url.parse::<http::Uri>() {
        Ok(uri) if uri.path() == "/" || uri.path().is_empty() => {
            format!("{}/v1/traces", url.trim_end_matches('/'))
        }
        _ => url.to_owned(),
    }
}

/// Our span kinds in OTLP terms: function → INTERNAL, http → SERVER, sql → CLIENT, the
/// rest 1:1.
pub(crate) fn otlp_kind(kind: WireKind) -> OtlpKind {
    match kind {
        WireKind::Function | WireKind::Internal | WireKind::Other(_) => OtlpKind::Internal,
        WireKind::Http | WireKind::Server => OtlpKind::Server,
        WireKind::Sql | WireKind::Client => OtlpKind::Client,
        WireKind::Producer => OtlpKind::Producer,
        WireKind::Consumer => OtlpKind::Consumer,
    }
}

/// Converts a completed span into the exporter's span: 16-hex trace ids are left-padded
/// to 32 hex, error spans get `STATUS_CODE_ERROR`, and semantic attribute copies are added.
pub(crate) fn to_otlp_span(span: &CompletedSpan) -> OtlpSpan {
    let nanos = |t: crate::model::Timestamp| u64::try_from(t.as_unix_nanos()).unwrap_or(0);
    let mut out = OtlpSpan::new(
        span.trace_id.to_trace_id(),
        span.span_id,
        span.name.clone(),
        otlp_kind(span.kind),
        nanos(span.start),
        nanos(span.end),
    );
    out.parent_span_id = span.parent_id;
    for (k, v) in &span.attrs {
        out.attributes.insert(k.clone(), v.clone());
    }
    let copies = [
        ("method", "http.request.method"),
        ("path", "url.path"),
        ("query", "db.query.text"),
    ];
    for (from, to) in copies {
        if let Some(v) = span.attrs.get(from) {
            if !span.attrs.contains_key(to) {
                out.attributes.insert(to, v.clone());
            }
        }
    }
    if let Some(code) = span.attrs.get("status").and_then(|s| s.parse::<i64>().ok()) {
        if !span.attrs.contains_key("http.response.status_code") {
            out.attributes.insert("http.response.status_code", code);
        }
    }
    out.status = if span.is_error() {
        OtlpStatus::error(span.error_message().unwrap_or_default())
    } else if span.status.code == StatusCode::Ok {
        OtlpStatus::ok()
    } else {
        OtlpStatus::unset()
    };
    out
}

struct Exporters {
    config: Forwarding,
    by_service: HashMap<String, BatchExporter>,
}

impl Exporters {
    fn build(&self, service: &str) -> Option<BatchExporter> {
        let mut resolved = self.config.resolved.clone();
        resolved.resource = resolved
            .resource
            .with_attribute("service.name", service.to_owned());
        let batch = resolved.batch;
        let exporter = OtlpHttpExporter::builder()
            .with_resolved(resolved)
            .with_scope(Scope::new("tracewire-collector", env!("CARGO_PKG_VERSION")))
            .build();
        let exporter = match exporter {
            Ok(e) => e,
            Err(error) => {
                tracing::warn!(target: "tracewire_collector::otlp", %error, "cannot build the forwarding exporter");
                return None;
            }
        };
        match BatchExporter::builder(exporter)
            .with_settings(batch)
            .with_default_handler(false)
            .build()
        {
            Ok(b) => Some(b),
            Err(error) => {
                tracing::warn!(target: "tracewire_collector::otlp", %error, "cannot start the forwarding batch exporter");
                None
            }
        }
    }

    fn get(&mut self, service: &str) -> Option<&BatchExporter> {
        if !self.by_service.contains_key(service) {
            let key = if self.by_service.len() >= MAX_SERVICES {
                self.config.service_name.clone()
            } else {
                service.to_owned()
            };
            if !self.by_service.contains_key(&key) {
                let e = self.build(&key)?;
                self.by_service.insert(key.clone(), e);
            }
            return self.by_service.get(&key);
        }
        self.by_service.get(service)
    }

    fn totals(&self) -> FlushReport {
        let mut t = FlushReport::default();
        for e in self.by_service.values() {
            let r = e.report();
            t.sent += r.sent;
            t.dropped += r.dropped;
            t.failed += r.failed;
        }
        t
    }
}

/// Runs the forwarder until the span subscription closes, then flushes every exporter
/// within the shutdown deadline.
pub(crate) async fn run(config: Forwarding, collector: Collector, mut sub: SpanSubscription) {
    let counters = Arc::clone(&collector.shared.counters);
    let mut exporters = Exporters {
        config,
        by_service: HashMap::new(),
    };
    // Spans whose exporter could not be built (a bad URL), counted as failed.
    let mut unbuildable = 0u64;
    let publish = |e: &Exporters, unbuildable: u64| {
        let t = e.totals();
        counters.forward_exported.store(t.sent, Ordering::Relaxed);
        counters
            .forward_failed
            .store(t.failed + unbuildable, Ordering::Relaxed);
        counters.forward_dropped.store(t.dropped, Ordering::Relaxed);
    };
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        let item = tokio::select! {
            item = sub.recv() => item,
            _ = tick.tick() => {
                publish(&exporters, unbuildable);
                continue;
            }
        };
        match item {
            Ok(span) => {
                let service = span
                    .attrs
                    .get("service.name")
                    .cloned()
                    .unwrap_or_else(|| exporters.config.service_name.clone());
                let otlp = to_otlp_span(&span);
                match exporters.get(&service) {
                    Some(e) => {
                        // Never blocks: spans that do not fit are dropped and counted.
                        let _ = e.submit([otlp]);
                        counters.forward_enqueued.fetch_add(1, Ordering::Relaxed);
                    }
                    None => unbuildable += 1,
                }
            }
            Err(RecvError::Lagged(n)) => {
                counters.forward_lagged.fetch_add(n, Ordering::Relaxed);
            }
            Err(RecvError::Closed) => break,
        }
    }
    let deadline = Deadline::after(crate::server::SHUTDOWN_DEADLINE);
    for e in exporters.by_service.values() {
        let _ = e.shutdown(deadline).await;
    }
    publish(&exporters, unbuildable);
}
