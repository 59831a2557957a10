//! The pluggable HTTP client of [`OtlpHttpExporter`](super::OtlpHttpExporter)
//! (`docs/exporter.md#requests`).
//!
//! The exporter only needs "send this request, give me the response": a dyn-compatible
//! trait keeps reqwest optional and lets tests and embedders bring their own client.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;

/// A boxed, `Send` future, as returned by dyn-compatible async traits.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Sends one HTTP request and returns the full response.
///
/// Implementations should map connection failures to [`TransportErrorKind::Connect`] and
/// timeouts to [`TransportErrorKind::Timeout`]: those are retried, other errors are not.
pub trait HttpClient: Send + Sync + fmt::Debug + 'static {
    /// Sends `req` and returns the response with its (possibly truncated) body.
    fn send(
        &self,
        req: http::Request<Bytes>,
    ) -> BoxFuture<'_, Result<http::Response<Bytes>, TransportError>>;
}

/// What kind of transport failure happened; decides whether it is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// The connection could not be established (retried).
    Connect,
    /// The attempt timed out (retried).
    Timeout,
    /// Anything else (not retried).
    Other,
}

impl fmt::Display for TransportErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransportErrorKind::Connect => "connect",
            TransportErrorKind::Timeout => "timeout",
            TransportErrorKind::Other => "transport",
        })
    }
}

/// A request that produced no HTTP response.
#[derive(Debug, thiserror::Error)]
#[error("{kind} error: {source}")]
#[non_exhaustive]
pub struct TransportError {
    /// Classification used by the retry policy.
    pub kind: TransportErrorKind,
    /// The underlying error.
    pub source: Box<dyn std::error::Error + Send + Sync + 'static>,
}

impl TransportError {
    /// Wraps an error with its kind.
    pub fn new(
        kind: TransportErrorKind,
        source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Self {
        Self {
            kind,
            source: source.into(),
        }
    }

    /// Whether the retry policy may retry after this error.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.kind,
            TransportErrorKind::Connect | TransportErrorKind::Timeout
        )
    }
}

/// Largest response body read by [`ReqwestClient`]; the rest is discarded.
pub const MAX_RESPONSE_BODY: usize = 4 << 20;

/// The default client: async `reqwest`, reading response bodies up to 4 MiB, with the TLS
/// stack the crate features choose (see [`ReqwestClient::try_new`]).
#[cfg(feature = "reqwest")]
#[derive(Debug, Clone)]
pub struct ReqwestClient {
    client: reqwest::Client,
}

#[cfg(feature = "reqwest")]
impl ReqwestClient {
    /// A client with the TLS stack the features choose: `native-tls` (the platform's
    /// library) over `rustls-aws-lc` over `rustls-ring` when several are on; rustls
    /// verifies certificates against the platform's trust store. With none of them the
    /// client speaks plain `http://` only, and an `https://` endpoint fails when exporting
    /// with an error naming the features.
    pub fn try_new() -> Result<Self, TransportError> {
        let client = tls::client_builder()?
            .build()
            .map_err(|e| TransportError::new(TransportErrorKind::Other, e))?;
        Ok(Self { client })
    }

    /// Wraps an already-configured `reqwest::Client` (proxies, TLS roots, …).
    pub fn from_client(client: reqwest::Client) -> Self {
        Self { client }
    }
}

/// The reqwest builder with the TLS backend of the enabled features.
#[cfg(feature = "reqwest")]
mod tls {
    use super::TransportError;

    #[cfg(feature = "native-tls")]
    pub(super) fn client_builder() -> Result<reqwest::ClientBuilder, TransportError> {
        Ok(reqwest::Client::builder().tls_backend_native())
    }

    #[cfg(all(feature = "rustls-aws-lc", not(feature = "native-tls")))]
    pub(super) fn client_builder() -> Result<reqwest::ClientBuilder, TransportError> {
        Ok(reqwest::Client::builder().tls_backend_rustls())
    }

    /// rustls with ring, given to reqwest explicitly: when another crate of the program
    /// also enables aws-lc-rs, rustls would otherwise have no single default provider.
    /// reqwest is built without a provider of its own here, so every other reqwest client
    /// of the program needs a process-default one: ring becomes it when none is set.
    #[cfg(all(
        feature = "rustls-ring",
        not(any(feature = "native-tls", feature = "rustls-aws-lc"))
    ))]
    pub(super) fn client_builder() -> Result<reqwest::ClientBuilder, TransportError> {
        use rustls_platform_verifier::BuilderVerifierExt as _;
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            // Losing a race with another installer is fine: a default is then set.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .and_then(|b| b.with_platform_verifier())
            .map_err(|e| TransportError::new(super::TransportErrorKind::Other, e))?
            .with_no_client_auth();
        Ok(reqwest::Client::builder().tls_backend_preconfigured(config))
    }

    #[cfg(not(any(
        feature = "native-tls",
        feature = "rustls-aws-lc",
        feature = "rustls-ring"
    )))]
    pub(super) fn client_builder() -> Result<reqwest::ClientBuilder, TransportError> {
        Ok(reqwest::Client::builder())
    }
}

/// Whether this build can speak `https://` through [`ReqwestClient`].
#[cfg(feature = "reqwest")]
pub(crate) const TLS_ENABLED: bool = cfg!(any(
    feature = "native-tls",
    feature = "rustls-aws-lc",
    feature = "rustls-ring"
));

#[cfg(feature = "reqwest")]
fn classify(err: reqwest::Error) -> TransportError {
    let kind = if err.is_timeout() {
        TransportErrorKind::Timeout
    } else if err.is_connect() {
        TransportErrorKind::Connect
    } else {
        TransportErrorKind::Other
    };
    TransportError::new(kind, err)
}

#[cfg(feature = "reqwest")]
impl HttpClient for ReqwestClient {
    fn send(
        &self,
        req: http::Request<Bytes>,
    ) -> BoxFuture<'_, Result<http::Response<Bytes>, TransportError>> {
        Box::pin(async move {
            let req = reqwest::Request::try_from(req).map_err(classify)?;
            let mut resp = self.client.execute(req).await.map_err(classify)?;
            let mut builder = http::Response::builder()
                .status(resp.status())
                .version(resp.version());
            if let Some(headers) = builder.headers_mut() {
                *headers = resp.headers().clone();
            }
            let mut body = Vec::new();
            while let Some(chunk) = resp.chunk().await.map_err(classify)? {
                let room = MAX_RESPONSE_BODY.saturating_sub(body.len());
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if body.len() >= MAX_RESPONSE_BODY {
                    break;
                }
            }
            builder
                .body(Bytes::from(body))
                .map_err(|e| TransportError::new(TransportErrorKind::Other, e))
        })
    }
}
