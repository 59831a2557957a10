//! Errors of building and running the exporter.

use super::client::TransportError;
use super::retry::RetryState;

/// Why an [`OtlpHttpExporter`](super::OtlpHttpExporter) could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A setting made in code is invalid (variables only ever warn).
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The protocol is not OTLP/HTTP (e.g. `grpc`).
    #[error("unsupported OTLP protocol {0:?}: OtlpHttpExporter speaks http/protobuf and http/json; OTLP/gRPC is available through init_tracer with the `grpc` feature")]
    UnsupportedProtocol(String),
    /// The HTTP client could not be created (or a needed feature is off).
    #[error("HTTP client: {0}")]
    Client(String),
}

/// Why spans were not (all) exported.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// The request body could not be encoded.
    #[error("encoding the request failed: {0}")]
    Encode(String),
    /// No HTTP response (connection, timeout, …).
    #[error("transport failure on attempt {}: {source}", retry.attempt)]
    Transport {
        /// The client's error.
        #[source]
        source: TransportError,
        /// Retry state after this attempt.
        retry: RetryState,
    },
    /// The receiver answered with a non-2xx status.
    #[error("receiver returned HTTP {code} on attempt {}: {body_excerpt}", retry.attempt)]
    Status {
        /// The HTTP status code.
        code: u16,
        /// Up to 1 KiB of the response body (lossy UTF-8).
        body_excerpt: String,
        /// Retry state after this attempt.
        retry: RetryState,
    },
    /// The last error was retryable, but the next attempt could not start within the window.
    #[error("retry window of {:?} exceeded after {} attempt(s): {last}", retry.window, retry.attempt)]
    RetryWindowExceeded {
        /// The last attempt's error.
        last: Box<ExportError>,
        /// Retry state after the last attempt.
        retry: RetryState,
    },
    /// One span alone encodes larger than `max_request_bytes`; it was dropped.
    #[error("a single span encodes to {bytes} bytes, over the {limit}-byte request limit")]
    SpanTooLarge {
        /// Encoded size of the span's request.
        bytes: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The exporter was shut down.
    #[error("the exporter is shut down")]
    Shutdown,
}

impl ExportError {
    /// The retry state, for errors that came from an attempt.
    pub fn retry_state(&self) -> Option<&RetryState> {
        match self {
            ExportError::Transport { retry, .. }
            | ExportError::Status { retry, .. }
            | ExportError::RetryWindowExceeded { retry, .. } => Some(retry),
            _ => None,
        }
    }
}

/// Cuts a response body to at most 1 KiB of lossy UTF-8 for error messages.
pub(crate) fn body_excerpt(body: &[u8]) -> String {
    const MAX: usize = 1024;
    let text = String::from_utf8_lossy(&body[..body.len().min(MAX)]).into_owned();
    if text.len() <= MAX {
        return text;
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}
