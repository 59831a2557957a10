//! The exporter's builder: the OTLP settings resolve through [`crate::config`] (so the
//! exporter reads `OTEL_*` exactly as `init_tracer`, the collector and the CLI do); retry,
//! request size, scope and HTTP client are the exporter's own.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::header::HeaderMap;

use super::client::HttpClient;
use super::error::BuildError;
use super::retry::RetryPolicy;
pub use crate::config::{Compression, Protocol, DEFAULT_TIMEOUT};
use crate::config::{ConfigWarning, Env, OtlpConfig, ResolvedConfig};
use crate::resource::{Resource, Scope};

/// Default endpoint when nothing is configured.
pub const DEFAULT_ENDPOINT: &str = crate::config::DEFAULT_HTTP_TRACES_ENDPOINT;
/// Default cap of one uncompressed request body.
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 4 << 20;

/// The effective settings of a built exporter.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ExporterConfig {
    /// Full URL the requests go to.
    pub endpoint: http::Uri,
    /// Body encoding.
    pub protocol: Protocol,
    /// Body compression.
    pub compression: Compression,
    /// Extra request headers.
    pub headers: HeaderMap,
    /// Per-attempt timeout.
    pub timeout: Duration,
    /// Retry policy.
    pub retry: RetryPolicy,
    /// Cap of one uncompressed request body.
    pub max_request_bytes: usize,
    /// `OTEL_SDK_DISABLED`: exports send nothing and succeed.
    pub sdk_disabled: bool,
}

/// Builder of [`OtlpHttpExporter`](super::OtlpHttpExporter); every setting is optional.
/// `OTEL_*` variables beat the settings made here (see [`crate::config`]).
#[derive(Clone, Default)]
pub struct OtlpHttpExporterBuilder {
    pub(crate) config: OtlpConfig,
    pub(crate) resolved: Option<ResolvedConfig>,
    pub(crate) retry: Option<RetryPolicy>,
    pub(crate) max_request_bytes: Option<usize>,
    pub(crate) scope: Option<Scope>,
    pub(crate) client: Option<Arc<dyn HttpClient>>,
}

impl fmt::Debug for OtlpHttpExporterBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtlpHttpExporterBuilder")
            .field("config", &self.config)
            .field("resolved", &self.resolved.is_some())
            .field("retry", &self.retry)
            .field("max_request_bytes", &self.max_request_bytes)
            .finish_non_exhaustive()
    }
}

impl OtlpHttpExporterBuilder {
    /// The full traces URL, used as-is (no `/v1/traces` appended).
    #[must_use]
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.config = self.config.with_endpoint(endpoint);
        self
    }

    /// `http/protobuf` (default) or `http/json`.
    #[must_use]
    pub fn with_protocol(mut self, protocol: Protocol) -> Self {
        self.config = self.config.with_protocol(protocol);
        self
    }

    /// Body compression.
    #[must_use]
    pub fn with_compression(mut self, compression: Compression) -> Self {
        self.config = self.config.with_compression(compression);
        self
    }

    /// Adds a request header (a headers variable, when set, replaces all of them).
    #[must_use]
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.config = self.config.with_header(name, value);
        self
    }

    /// Per-attempt timeout.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.config = self.config.with_timeout(timeout);
        self
    }

    /// Retry policy.
    #[must_use]
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = Some(retry);
        self
    }

    /// Cap of one uncompressed request body; larger batches are split.
    #[must_use]
    pub fn with_max_request_bytes(mut self, bytes: usize) -> Self {
        self.max_request_bytes = Some(bytes);
        self
    }

    /// Resource attributes set in code, merged over the environment's
    /// (`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`); the code's win.
    #[must_use]
    pub fn with_resource(mut self, resource: Resource) -> Self {
        self.config = self.config.with_resource(resource);
        self
    }

    /// The instrumentation scope of exported spans (default: `tracewire-otlp` at its version).
    #[must_use]
    pub fn with_scope(mut self, scope: Scope) -> Self {
        self.scope = Some(scope);
        self
    }

    /// A custom HTTP client (default: [`ReqwestClient`](super::ReqwestClient)).
    #[must_use]
    pub fn with_http_client(mut self, client: impl HttpClient) -> Self {
        self.client = Some(Arc::new(client));
        self
    }

    /// Reads configuration from these variables instead of the process environment
    /// (for tests and embedders that keep configuration elsewhere).
    #[must_use]
    pub fn with_env_vars<K: Into<String>, V: Into<String>>(
        mut self,
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.config = self.config.with_env(Env::from_vars(vars));
        self
    }

    /// Replaces the OTLP settings (code values, variable source, precedence) with `config`.
    #[must_use]
    pub fn with_config(mut self, config: OtlpConfig) -> Self {
        self.config = config;
        self
    }

    /// Uses settings already resolved (by `init_tracer`, the collector or the CLI), so
    /// the variables are not read, nor warned about, a second time.
    #[must_use]
    pub fn with_resolved(mut self, resolved: ResolvedConfig) -> Self {
        self.resolved = Some(resolved);
        self
    }

    /// Resolves the settings (or takes the resolved ones) into the exporter's.
    pub(crate) fn resolve(
        &self,
    ) -> Result<(ExporterConfig, Resource, Vec<ConfigWarning>), BuildError> {
        let resolved = match &self.resolved {
            Some(r) => r.clone(),
            None => self.config.resolve()?,
        };
        if !resolved.protocol.is_http() {
            return Err(BuildError::UnsupportedProtocol(
                resolved.protocol.as_str().to_owned(),
            ));
        }
        let endpoint: http::Uri =
            resolved
                .traces_endpoint
                .parse()
                .map_err(|e: http::uri::InvalidUri| {
                    BuildError::Config(crate::config::ConfigError::InvalidEndpoint {
                        endpoint: resolved.traces_endpoint.clone(),
                        reason: e.to_string(),
                    })
                })?;
        let config = ExporterConfig {
            endpoint,
            protocol: resolved.protocol,
            compression: resolved.compression,
            headers: resolved.headers,
            timeout: resolved.timeout,
            retry: self.retry.unwrap_or_default(),
            max_request_bytes: self
                .max_request_bytes
                .unwrap_or(DEFAULT_MAX_REQUEST_BYTES)
                .max(1),
            sdk_disabled: resolved.sdk_disabled,
        };
        Ok((config, resolved.resource, resolved.warnings))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(b: OtlpHttpExporterBuilder) -> ExporterConfig {
        match b.resolve() {
            Ok(c) => c.0,
            Err(e) => panic!("resolve failed: {e}"),
        }
    }

    fn with_env(pairs: &[(&str, &str)]) -> OtlpHttpExporterBuilder {
        OtlpHttpExporterBuilder::default().with_env_vars(pairs.iter().copied())
    }

    #[test]
    fn exporter_takes_the_resolved_settings_and_its_own() {
        let c = cfg(with_env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318/base"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "700"),
        ])
        .with_endpoint("http://code:1/x")
        .with_max_request_bytes(0));
        assert_eq!(c.endpoint, "http://c:4318/base/v1/traces");
        assert_eq!(c.protocol, Protocol::HttpJson);
        assert_eq!(c.timeout, Duration::from_millis(700));
        assert_eq!(c.max_request_bytes, 1);
        assert!(!c.sdk_disabled);
    }

    #[test]
    fn grpc_is_refused_by_the_http_exporter() {
        let err = with_env(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")])
            .resolve()
            .err();
        assert!(
            matches!(err, Some(BuildError::UnsupportedProtocol(_))),
            "{err:?}"
        );
        let text = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(text.contains("`grpc` feature"), "{text}");
    }

    #[test]
    fn invalid_code_settings_fail_the_build() {
        for b in [
            with_env(&[]).with_endpoint("ftp://x/"),
            with_env(&[]).with_header("Content-Type", "x"),
            with_env(&[]).with_header("bad name", "x"),
        ] {
            assert!(matches!(b.resolve(), Err(BuildError::Config(_))));
        }
    }
}
