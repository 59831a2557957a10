//! Parsing one OTLP/HTTP export request body into completed spans (the receiver's parser,
//! public so it can be fuzzed and reused).

use std::io::Read;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

use super::convert::{normalise_json_enums, spans_from_request};
use super::receiver::MAX_BODY_BYTES;
use crate::model::CompletedSpan;

/// The encoding of an OTLP/HTTP body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OtlpFormat {
    /// `application/x-protobuf`.
    Protobuf,
    /// `application/json` (OTLP/JSON: hex ids, nanos as string or number, enum names or ints).
    Json,
}

/// Why a body is not an export request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OtlpParseError {
    /// The gzip stream is corrupt.
    #[error("invalid gzip body")]
    Gzip,
    /// The decompressed body is over 16 MiB.
    #[error("decompressed body over 16 MiB")]
    TooLarge,
    /// Not a protobuf `ExportTraceServiceRequest`.
    #[error("invalid protobuf ExportTraceServiceRequest")]
    Protobuf,
    /// Not JSON.
    #[error("invalid JSON")]
    Json,
    /// JSON, but not an OTLP/JSON `ExportTraceServiceRequest`.
    #[error("invalid OTLP/JSON ExportTraceServiceRequest")]
    OtlpJson,
}

/// The spans of one request: the valid ones (`seq` 0, `service.name` copied from the
/// resource into attrs) and how many were rejected.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct ParsedRequest {
    /// Valid spans.
    pub spans: Vec<CompletedSpan>,
    /// Invalid spans (bad ids or times), as reported in `partial_success.rejected_spans`.
    pub rejected: u64,
    /// Why the first rejected span was rejected.
    pub first_error: Option<&'static str>,
}

fn gunzip(body: &[u8]) -> Result<Vec<u8>, OtlpParseError> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(body)
        .take(MAX_BODY_BYTES as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|_| OtlpParseError::Gzip)?;
    if out.len() > MAX_BODY_BYTES {
        return Err(OtlpParseError::TooLarge);
    }
    Ok(out)
}

/// Decodes a (possibly gzip-compressed) OTLP/HTTP traces body. Never panics.
pub fn parse_export_request(
    format: OtlpFormat,
    body: &[u8],
    gzip: bool,
) -> Result<ParsedRequest, OtlpParseError> {
    let unzipped;
    let body = if gzip {
        unzipped = gunzip(body)?;
        unzipped.as_slice()
    } else {
        body
    };
    let request = match format {
        OtlpFormat::Protobuf => {
            ExportTraceServiceRequest::decode(body).map_err(|_| OtlpParseError::Protobuf)?
        }
        OtlpFormat::Json => {
            let mut v: serde_json::Value =
                serde_json::from_slice(body).map_err(|_| OtlpParseError::Json)?;
            normalise_json_enums(&mut v);
            serde_json::from_value(v).map_err(|_| OtlpParseError::OtlpJson)?
        }
    };
    let (spans, bad) = spans_from_request(&request);
    Ok(ParsedRequest {
        spans,
        rejected: bad.len() as u64,
        first_error: bad.first().map(|r| r.message()),
    })
}
