//! Exporter settings and their sources (spec §6 precedence table): programmatic settings
//! beat per-signal `OTEL_EXPORTER_OTLP_TRACES_*` variables, which beat the generic
//! `OTEL_EXPORTER_OTLP_*` ones; empty values count as unset.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::header::{HeaderMap, HeaderName, HeaderValue};

use super::client::HttpClient;
use super::error::BuildError;
use super::retry::RetryPolicy;
use crate::resource::Scope;
use crate::resource::{parse_key_value_list, Resource};

/// Default endpoint when nothing is configured.
pub const DEFAULT_ENDPOINT: &str = "http://localhost:4318/v1/traces";
/// Default per-attempt timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default cap of one uncompressed request body.
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 4 << 20;

const RESERVED_HEADERS: [&str; 3] = ["content-type", "content-encoding", "content-length"];

/// OTLP transport encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Protocol {
    /// `http/protobuf`: binary protobuf bodies (the default).
    #[default]
    HttpProtobuf,
    /// `http/json`: OTLP/JSON bodies.
    HttpJson,
    /// `grpc`: not supported by this exporter; building fails with `UnsupportedProtocol`.
    Grpc,
}

impl Protocol {
    /// The `OTEL_EXPORTER_OTLP_PROTOCOL` spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::HttpProtobuf => "http/protobuf",
            Protocol::HttpJson => "http/json",
            Protocol::Grpc => "grpc",
        }
    }

    /// Parses the `OTEL_EXPORTER_OTLP_PROTOCOL` spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "http/protobuf" => Some(Protocol::HttpProtobuf),
            "http/json" => Some(Protocol::HttpJson),
            "grpc" => Some(Protocol::Grpc),
            _ => None,
        }
    }

    /// The request `Content-Type`.
    pub fn content_type(self) -> &'static str {
        match self {
            Protocol::HttpJson => "application/json",
            _ => "application/x-protobuf",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Request body compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Compression {
    /// Uncompressed (the default).
    #[default]
    None,
    /// gzip (`Content-Encoding: gzip`); needs the `gzip` feature.
    Gzip,
}

impl Compression {
    /// Parses `gzip` / `none`.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "gzip" => Some(Compression::Gzip),
            "none" => Some(Compression::None),
            _ => None,
        }
    }
}

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
    /// Extra request headers (env and programmatic, merged).
    pub headers: HeaderMap,
    /// Per-attempt timeout.
    pub timeout: Duration,
    /// Retry policy.
    pub retry: RetryPolicy,
    /// Cap of one uncompressed request body.
    pub max_request_bytes: usize,
}

/// Where environment variables are read from.
#[derive(Clone, Default)]
enum EnvSource {
    #[default]
    Process,
    Map(Arc<HashMap<String, String>>),
}

impl EnvSource {
    fn get(&self, key: &str) -> Option<String> {
        let v = match self {
            EnvSource::Process => std::env::var(key).ok(),
            EnvSource::Map(m) => m.get(key).cloned(),
        };
        v.filter(|v| !v.trim().is_empty())
    }
}

/// Builder of [`OtlpHttpExporter`](super::OtlpHttpExporter); every setting is optional and
/// the environment fills the rest.
#[derive(Clone, Default)]
pub struct OtlpHttpExporterBuilder {
    pub(crate) endpoint: Option<String>,
    pub(crate) protocol: Option<Protocol>,
    pub(crate) compression: Option<Compression>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) retry: Option<RetryPolicy>,
    pub(crate) max_request_bytes: Option<usize>,
    pub(crate) resource: Option<Resource>,
    pub(crate) scope: Option<Scope>,
    pub(crate) client: Option<Arc<dyn HttpClient>>,
    env: EnvSource,
}

impl fmt::Debug for OtlpHttpExporterBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtlpHttpExporterBuilder")
            .field("endpoint", &self.endpoint)
            .field("protocol", &self.protocol)
            .field("compression", &self.compression)
            .field(
                "headers",
                &self.headers.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .field("max_request_bytes", &self.max_request_bytes)
            .finish_non_exhaustive()
    }
}

impl OtlpHttpExporterBuilder {
    /// The full traces URL, used verbatim (no `/v1/traces` appended).
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// `http/protobuf` (default) or `http/json`.
    pub fn with_protocol(mut self, protocol: Protocol) -> Self {
        self.protocol = Some(protocol);
        self
    }

    /// Body compression.
    pub fn with_compression(mut self, compression: Compression) -> Self {
        self.compression = Some(compression);
        self
    }

    /// Adds a request header; it beats the same key from the environment.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Per-attempt timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = Some(retry);
        self
    }

    /// Cap of one uncompressed request body; larger batches are split.
    pub fn with_max_request_bytes(mut self, bytes: usize) -> Self {
        self.max_request_bytes = Some(bytes);
        self
    }

    /// The resource sent with every request (default: [`Resource::from_env`]).
    pub fn with_resource(mut self, resource: Resource) -> Self {
        self.resource = Some(resource);
        self
    }

    /// The instrumentation scope of exported spans (default: `tracewire-otlp` at its version).
    pub fn with_scope(mut self, scope: Scope) -> Self {
        self.scope = Some(scope);
        self
    }

    /// A custom HTTP client (default: [`ReqwestClient`](super::ReqwestClient)).
    pub fn with_http_client(mut self, client: impl HttpClient) -> Self {
        self.client = Some(Arc::new(client));
        self
    }

    /// Reads configuration from these variables instead of the process environment
    /// (for tests and embedders that keep configuration elsewhere).
    pub fn with_env_vars<K: Into<String>, V: Into<String>>(
        mut self,
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.env = EnvSource::Map(Arc::new(
            vars.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        ));
        self
    }

    /// Resolves the precedence table into the effective settings.
    pub(crate) fn resolve(&self) -> Result<ExporterConfig, BuildError> {
        let env = &self.env;
        let endpoint_text = match &self.endpoint {
            Some(e) => e.clone(),
            None => match env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
                Some(e) => e.trim().to_owned(),
                None => match env.get("OTEL_EXPORTER_OTLP_ENDPOINT") {
                    Some(base) => format!("{}/v1/traces", base.trim().trim_end_matches('/')),
                    None => DEFAULT_ENDPOINT.to_owned(),
                },
            },
        };
        let endpoint = parse_endpoint(&endpoint_text)?;

        let protocol = match self.protocol {
            Some(p) => p,
            None => env_setting(env, "PROTOCOL", Protocol::parse).unwrap_or_default(),
        };
        if protocol == Protocol::Grpc {
            return Err(BuildError::UnsupportedProtocol(
                protocol.as_str().to_owned(),
            ));
        }

        let compression = match self.compression {
            Some(c) => c,
            None => {
                let c = env_setting(env, "COMPRESSION", Compression::parse).unwrap_or_default();
                if c == Compression::Gzip && !cfg!(feature = "gzip") {
                    tracing::warn!(target: "tracewire_otlp::export", "gzip requested by the environment but the `gzip` feature is off; sending uncompressed");
                    Compression::None
                } else {
                    c
                }
            }
        };
        if compression == Compression::Gzip && !cfg!(feature = "gzip") {
            return Err(BuildError::Client(
                "gzip compression needs the `gzip` feature".into(),
            ));
        }

        let timeout = match self.timeout {
            Some(t) => t,
            None => env_setting(env, "TIMEOUT", |s| {
                s.trim().parse::<u64>().ok().map(Duration::from_millis)
            })
            .unwrap_or(DEFAULT_TIMEOUT),
        };

        let mut headers = HeaderMap::new();
        for var in [
            "OTEL_EXPORTER_OTLP_HEADERS",
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
        ] {
            if let Some(raw) = env.get(var) {
                apply_env_headers(&mut headers, var, &raw);
            }
        }
        for (name, value) in &self.headers {
            let (n, v) = header_pair(name, value)?;
            if RESERVED_HEADERS.contains(&n.as_str()) {
                return Err(BuildError::ReservedHeader(name.clone()));
            }
            headers.insert(n, v);
        }

        Ok(ExporterConfig {
            endpoint,
            protocol,
            compression,
            headers,
            timeout,
            retry: self.retry.unwrap_or_default(),
            max_request_bytes: self
                .max_request_bytes
                .unwrap_or(DEFAULT_MAX_REQUEST_BYTES)
                .max(1),
        })
    }
}

/// Reads `OTEL_EXPORTER_OTLP_TRACES_<name>`, else `OTEL_EXPORTER_OTLP_<name>`; a value that
/// does not parse is ignored with a warning (and the next source is tried).
fn env_setting<T>(env: &EnvSource, name: &str, parse: impl Fn(&str) -> Option<T>) -> Option<T> {
    for var in [
        format!("OTEL_EXPORTER_OTLP_TRACES_{name}"),
        format!("OTEL_EXPORTER_OTLP_{name}"),
    ] {
        if let Some(raw) = env.get(&var) {
            match parse(&raw) {
                Some(v) => return Some(v),
                None => {
                    tracing::warn!(target: "tracewire_otlp::export", variable = %var, value = %raw, "ignoring unparseable value")
                }
            }
        }
    }
    None
}

fn apply_env_headers(headers: &mut HeaderMap, var: &str, raw: &str) {
    let parsed = parse_key_value_list(raw)
        .map_err(|e| e.to_string())
        .and_then(|pairs| {
            pairs
                .into_iter()
                .map(|(k, v)| header_pair(&k, &v).map_err(|e| e.to_string()))
                .collect::<Result<Vec<_>, _>>()
        });
    match parsed {
        Ok(pairs) => {
            for (n, v) in pairs {
                if RESERVED_HEADERS.contains(&n.as_str()) {
                    tracing::warn!(target: "tracewire_otlp::export", variable = %var, header = %n, "ignoring reserved header from the environment");
                    continue;
                }
                headers.insert(n, v);
            }
        }
        Err(error) => {
            tracing::warn!(target: "tracewire_otlp::export", variable = %var, %error, "ignoring malformed headers variable")
        }
    }
}

fn header_pair(name: &str, value: &str) -> Result<(HeaderName, HeaderValue), BuildError> {
    let n =
        HeaderName::from_bytes(name.trim().as_bytes()).map_err(|e| BuildError::InvalidHeader {
            name: name.to_owned(),
            reason: e.to_string(),
        })?;
    let v = HeaderValue::from_str(value.trim()).map_err(|e| BuildError::InvalidHeader {
        name: name.to_owned(),
        reason: e.to_string(),
    })?;
    Ok((n, v))
}

fn parse_endpoint(text: &str) -> Result<http::Uri, BuildError> {
    let invalid = |reason: &str| BuildError::InvalidEndpoint {
        endpoint: text.to_owned(),
        reason: reason.to_owned(),
    };
    let uri: http::Uri = text
        .parse()
        .map_err(|e: http::uri::InvalidUri| invalid(&e.to_string()))?;
    match uri.scheme_str() {
        Some("http") | Some("https") => {}
        Some(other) => return Err(invalid(&format!("scheme {other:?} is not http or https"))),
        None => return Err(invalid("not an absolute URL")),
    }
    if uri.authority().is_none_or(|a| a.host().is_empty()) {
        return Err(invalid("missing host"));
    }
    Ok(uri)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(b: OtlpHttpExporterBuilder) -> ExporterConfig {
        match b.resolve() {
            Ok(c) => c,
            Err(e) => panic!("resolve failed: {e}"),
        }
    }

    fn with_env(pairs: &[(&str, &str)]) -> OtlpHttpExporterBuilder {
        OtlpHttpExporterBuilder::default().with_env_vars(pairs.iter().copied())
    }

    #[test]
    fn endpoint_rows() {
        assert_eq!(cfg(with_env(&[])).endpoint, DEFAULT_ENDPOINT);
        assert_eq!(
            cfg(with_env(&[(
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "http://c:4318/"
            )]))
            .endpoint,
            "http://c:4318/v1/traces"
        );
        assert_eq!(
            cfg(with_env(&[(
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "http://c:4318"
            )]))
            .endpoint,
            "http://c:4318/v1/traces"
        );
        assert_eq!(
            cfg(with_env(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
                ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://t:1/custom"),
            ]))
            .endpoint,
            "http://t:1/custom"
        );
        assert_eq!(
            cfg(
                with_env(&[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://t:1/custom")])
                    .with_endpoint("http://p:2/x")
            )
            .endpoint,
            "http://p:2/x"
        );
        // Empty = unset.
        assert_eq!(
            cfg(with_env(&[
                ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", ""),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:1")
            ]))
            .endpoint,
            "http://c:1/v1/traces"
        );
        assert!(matches!(
            with_env(&[]).with_endpoint("ftp://x/").resolve(),
            Err(BuildError::InvalidEndpoint { .. })
        ));
        assert!(matches!(
            with_env(&[]).with_endpoint("not a url").resolve(),
            Err(BuildError::InvalidEndpoint { .. })
        ));
    }

    #[test]
    fn protocol_compression_timeout_rows() {
        let c = cfg(with_env(&[]));
        assert_eq!(
            (c.protocol, c.compression, c.timeout),
            (Protocol::HttpProtobuf, Compression::None, DEFAULT_TIMEOUT)
        );
        let c = cfg(with_env(&[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "none"),
            ("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "gzip"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "1000"),
            ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "2500"),
        ]));
        assert_eq!(c.protocol, Protocol::HttpJson);
        assert_eq!(c.compression, Compression::Gzip);
        assert_eq!(c.timeout, Duration::from_millis(2500));
        let c = cfg(with_env(&[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "700"),
        ]));
        assert_eq!(
            (c.protocol, c.compression, c.timeout),
            (
                Protocol::HttpJson,
                Compression::Gzip,
                Duration::from_millis(700)
            )
        );
        // Unparseable values are ignored (falls back to the next source / default).
        let c = cfg(with_env(&[
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "carrier-pigeon"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "ten"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "brotli"),
        ]));
        assert_eq!(
            (c.protocol, c.compression, c.timeout),
            (Protocol::HttpJson, Compression::None, DEFAULT_TIMEOUT)
        );
        // Programmatic wins.
        let c = cfg(with_env(&[
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json"),
            ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "5"),
        ])
        .with_protocol(Protocol::HttpProtobuf)
        .with_compression(Compression::None)
        .with_timeout(Duration::from_secs(3)));
        assert_eq!(
            (c.protocol, c.compression, c.timeout),
            (
                Protocol::HttpProtobuf,
                Compression::None,
                Duration::from_secs(3)
            )
        );
        assert!(matches!(
            with_env(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]).resolve(),
            Err(BuildError::UnsupportedProtocol(_))
        ));
    }

    #[test]
    fn header_rows() {
        let c = cfg(with_env(&[
            ("OTEL_EXPORTER_OTLP_HEADERS", "a=generic, b = x%20y ,c=1"),
            (
                "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
                "a=traces,content-type=text/plain",
            ),
        ])
        .with_header("c", "code"));
        assert_eq!(
            c.headers.get("a").map(|v| v.as_bytes()),
            Some(&b"traces"[..])
        );
        assert_eq!(c.headers.get("b").map(|v| v.as_bytes()), Some(&b"x y"[..]));
        assert_eq!(c.headers.get("c").map(|v| v.as_bytes()), Some(&b"code"[..]));
        assert!(c.headers.get("content-type").is_none());
        // Malformed list ignored whole.
        let c = cfg(with_env(&[("OTEL_EXPORTER_OTLP_HEADERS", "good=1,bad")]));
        assert!(c.headers.is_empty());
        assert!(matches!(
            with_env(&[]).with_header("Content-Type", "x").resolve(),
            Err(BuildError::ReservedHeader(_))
        ));
        assert!(matches!(
            with_env(&[]).with_header("bad name", "x").resolve(),
            Err(BuildError::InvalidHeader { .. })
        ));
    }
}
